// Number normalization: a trunk's rewrite rules applied to the users of a
// request (request-URI, From, To, P-Asserted-Identity, Diversion).
//
// A carrier wants E.164 ("+4930123456"), a PBX sends national or extension
// formats ("030123456", "1234"): each trunk says, per direction, how its
// numbers map (conf/README.md, "normalize"). Inbound rules run on requests
// from the trunk before routing; outbound rules on requests to the trunk
// after it. For each field the first rule that applies to it and matches
// rewrites it; later rules are not tried.
#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/config/config.hpp"

namespace sbc::policy {

/// Users longer than this are not rewritten (nor matched by routes): the
/// regex engine's recursion grows with the input, and no number is this long.
inline constexpr std::size_t max_number_length = 128;

/// The numbers of a call, as one leg sees them.
struct call_numbers {
    std::string ruri;
    std::string from;
    std::string to;
    bool operator==(const call_numbers&) const = default;
};

class number_rewriter {
public:
    number_rewriter() = default;
    /// Compiles the rules (already validated by the configuration loader).
    explicit number_rewriter(const std::vector<config::rewrite_rule>& rules);

    /// `user` after the first rule for `field` that matches; unchanged when
    /// none does.
    std::string apply(config::number_field field, std::string_view user) const;
    call_numbers apply(const call_numbers& n) const;

    /// A header value with name-addrs ("\"A\" <sip:030123@h>;p=1, <tel:+4930>"):
    /// the user of each sip:, sips: or tel: URI rewritten as `field`.
    std::string apply_to_header(config::number_field field, std::string_view value) const;

    bool empty() const noexcept { return _rules.empty(); }

private:
    struct compiled {
        std::regex re;
        std::string replace;
        unsigned fields;
    };
    std::vector<compiled> _rules;
};

}  // namespace sbc::policy
