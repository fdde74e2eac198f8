// Route selection: which trunk a new call goes to.
//
// The rules of the configuration are tried in order and the first that
// matches wins (conf/README.md, "routes"). Regexes are compiled once, when the
// router is built from a validated configuration, never per call.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/config/config.hpp"

namespace sbc::policy {

/// What is known of a new call when it is routed.
struct route_request {
    std::string_view interface;  ///< the signaling interface it arrived on
    std::string_view trunk;      ///< the trunk whose peer sent it
    std::string_view ruri_user;  ///< user part of the request-URI, may be empty
};

class router {
public:
    /// `cfg` must outlive the router (routes point into it).
    explicit router(const config::config& cfg);

    /// The first matching rule, or nullptr when none matches (the caller answers 404).
    const config::route_config* match(const route_request& req) const;

private:
    struct compiled_rule {
        const config::route_config* rule;
        std::optional<std::regex> ruri_user;
    };
    std::vector<compiled_rule> _rules;
};

}  // namespace sbc::policy
