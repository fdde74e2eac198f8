#include "sbc/policy/router.hpp"

namespace sbc::policy {

router::router(const config::config& cfg) {
    _rules.reserve(cfg.routes.size());
    for (const auto& r : cfg.routes) {
        compiled_rule c{&r, std::nullopt};
        if (r.ruri_user) {
            // The configuration loader has already compiled this once to validate it.
            c.ruri_user.emplace(*r.ruri_user, std::regex::ECMAScript);
        }
        _rules.push_back(std::move(c));
    }
}

const config::route_config* router::match(const route_request& req) const {
    for (const auto& c : _rules) {
        const auto& r = *c.rule;
        if (r.from_interface && *r.from_interface != req.interface) {
            continue;
        }
        if (r.from_trunk && *r.from_trunk != req.trunk) {
            continue;
        }
        if (c.ruri_user &&
            !std::regex_search(req.ruri_user.begin(), req.ruri_user.end(), *c.ruri_user)) {
            continue;
        }
        return c.rule;
    }
    return nullptr;
}

}  // namespace sbc::policy
