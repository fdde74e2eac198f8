// Route selection: where a new call goes, or that it is refused.
//
// The rules of the configuration are tried in order and the first that
// matches wins (conf/README.md, "routes"). A rule matches when each of its
// criteria holds: the source interface or trunk, regexes on the users of the
// request-URI, From and To (after the source trunk's inbound normalization),
// the caller's address, and a weekly time window in a time zone. Regexes and
// time zones are compiled once, when the router is built from a validated
// configuration, never per call. The clock is the caller's, so that tests
// and `sbcctl route test` can ask about any moment.
#pragma once

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/config/config.hpp"
#include "sbc/policy/number_rewriter.hpp"

namespace date {
class time_zone;
}

namespace sbc::policy {

/// What is known of a new call when it is routed.
struct route_request {
    std::string_view interface;  ///< the signaling interface it arrived on
    std::string_view trunk;      ///< the trunk whose peer sent it
    std::string_view ruri_user;  ///< user part of the request-URI, may be empty
    std::string_view from_user;
    std::string_view to_user;
    dataplane::ip_endpoint source;  ///< the caller's address; invalid: matches no source rule
    std::chrono::system_clock::time_point now;
};

/// The request for a call from `from` with these numbers (after its
/// inbound normalization; the request points into them, so they must
/// outlive it), from `source` at `now`.
route_request make_request(const config::trunk_config& from, const call_numbers& numbers,
                           const dataplane::ip_endpoint& source,
                           std::chrono::system_clock::time_point now);

/// Whether `address` lies in one of `blocks`; an invalid address in none.
bool in_blocks(const std::vector<config::cidr>& blocks, const dataplane::ip_endpoint& address);

/// One rule's verdict, for `sbcctl route test`.
struct rule_verdict {
    std::string rule;
    bool matched = false;
    /// Why: the first criterion that failed, or every criterion that held
    /// ("from_trunk pbx, ruri_user '^\+1' matched '+14155550100'").
    std::string why;
};

class router {
public:
    /// `cfg` must outlive the router (routes point into it).
    explicit router(const config::config& cfg);

    /// The first matching rule, or nullptr when none matches (the caller answers 404).
    const config::route_config* match(const route_request& req) const;

    /// The verdict of every rule up to and including the first that matches.
    std::vector<rule_verdict> explain(const route_request& req) const;

private:
    struct compiled_window {
        const config::time_window* window;
        const date::time_zone* zone;
    };
    struct compiled_rule {
        const config::route_config* rule;
        std::optional<std::regex> ruri_user;
        std::optional<std::regex> from_user;
        std::optional<std::regex> to_user;
        std::vector<compiled_window> times;
    };
    /// Whether `c` matches; with `why`, also says why (slower: builds text).
    static bool check(const compiled_rule& c, const route_request& req, std::string* why);
    std::vector<compiled_rule> _rules;
};

/// Whether `now` falls in `w`, read in `zone` (exposed for the unit tests).
bool in_window(const config::time_window& w, const date::time_zone& zone,
               std::chrono::system_clock::time_point now);

}  // namespace sbc::policy
