#include "sbc/policy/router.hpp"

#include <date/tz.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>

#include <algorithm>
#include <tuple>
#include <utility>

namespace sbc::policy {

namespace {

// The address bytes of `ep` for cidr::contains.
const unsigned char* address_bytes(const dataplane::ip_endpoint& ep) {
    if (ep.family() == AF_INET) {
        return reinterpret_cast<const unsigned char*>(
            &reinterpret_cast<const sockaddr_in*>(ep.sockaddr_ptr())->sin_addr);
    }
    return reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in6*>(ep.sockaddr_ptr())->sin6_addr);
}

std::string hhmm(unsigned minutes) {
    return fmt::format("{:02}:{:02}", minutes / 60, minutes % 60);
}

// "09:00-17:00 Europe/Berlin"
std::string window_text(const config::time_window& w) {
    return fmt::format("{}-{} {}", hhmm(w.from_minute), hhmm(w.to_minute), w.timezone);
}

// "Wed 12:00", `now` read in `zone`.
std::string local_time(const date::time_zone* zone, std::chrono::system_clock::time_point now) {
    return date::format(
        "%a %H:%M",
        date::make_zoned(zone, std::chrono::time_point_cast<std::chrono::seconds>(now)));
}

// The verdict router::check builds as it goes: the first criterion that
// failed, or every one that held. Only `sbcctl route test` asks why; a call's
// routing (no `why`) builds no text.
class verdict {
public:
    explicit verdict(std::string* why) : _why(why) {}

    // Records the reason `reason()` gives, and says the rule does not match.
    template <typename Reason>
    bool fail(Reason&& reason) {
        if (_why != nullptr) {
            *_why = reason();
        }
        return false;
    }

    // Records a criterion that held.
    template <typename... Args>
    void hold(fmt::format_string<Args...> format, Args&&... args) {
        if (_why != nullptr) {
            _held.push_back(fmt::format(format, std::forward<Args>(args)...));
        }
    }

    // Says the rule matches, with every criterion that held.
    bool match() {
        if (_why != nullptr) {
            *_why = _held.empty() ? "no criteria: matches every call"
                                  : fmt::format("{}", fmt::join(_held, ", "));
        }
        return true;
    }

private:
    std::string* _why;
    std::vector<std::string> _held;
};

// from_interface and from_trunk: where the call came from.
bool check_origin(const config::route_config& r, const route_request& req, verdict& v) {
    if (r.from_interface) {
        if (*r.from_interface != req.interface) {
            return v.fail([&] {
                return fmt::format("from_interface {}: the call came in on {}", *r.from_interface,
                                   req.interface);
            });
        }
        v.hold("from_interface {}", *r.from_interface);
    }
    if (r.from_trunk) {
        if (*r.from_trunk != req.trunk) {
            return v.fail([&] {
                return fmt::format("from_trunk {}: the call came from {}", *r.from_trunk,
                                   req.trunk);
            });
        }
        v.hold("from_trunk {}", *r.from_trunk);
    }
    return true;
}

// One of ruri_user, from_user and to_user: `pattern` (compiled as `re`)
// against the call's `value`.
bool check_number(std::string_view key, const std::string& pattern, const std::regex& re,
                  std::string_view value, verdict& v) {
    if (!std::regex_search(value.begin(), value.end(), re)) {
        return v.fail(
            [&] { return fmt::format("{} '{}' does not match '{}'", key, pattern, value); });
    }
    v.hold("{} '{}' matched '{}'", key, pattern, value);
    return true;
}

// source: the call's source address in one of the rule's blocks.
bool check_source(const std::vector<config::cidr>& sources, const dataplane::ip_endpoint& source,
                  verdict& v) {
    const config::cidr* hit = nullptr;
    for (const auto& block : sources) {
        if (source.valid() && block.contains(source.family(), address_bytes(source))) {
            hit = &block;
            break;
        }
    }
    if (hit == nullptr) {
        return v.fail([&] {
            return fmt::format("source: {} is in none of the rule's blocks",
                               source.valid() ? source.address() : "(unknown)");
        });
    }
    v.hold("source {} in {}", source.address(), hit->text);
    return true;
}

}  // namespace

route_request make_request(const config::trunk_config& from, const call_numbers& numbers,
                           const dataplane::ip_endpoint& source,
                           std::chrono::system_clock::time_point now) {
    route_request r;
    r.interface = from.interface;
    r.trunk = from.name;
    r.ruri_user = numbers.ruri;
    r.from_user = numbers.from;
    r.to_user = numbers.to;
    r.source = source;
    r.now = now;
    return r;
}

bool in_blocks(const std::vector<config::cidr>& blocks, const dataplane::ip_endpoint& address) {
    if (!address.valid()) {
        return false;
    }
    const auto* bytes = address_bytes(address);
    return std::any_of(blocks.begin(), blocks.end(),
                       [&](const config::cidr& c) { return c.contains(address.family(), bytes); });
}

bool in_window(const config::time_window& w, const date::time_zone& zone,
               std::chrono::system_clock::time_point now) {
    const auto local = zone.to_local(std::chrono::time_point_cast<std::chrono::seconds>(now));
    const auto day = date::floor<date::days>(local);
    const unsigned today = date::weekday(day).iso_encoding() - 1;  // Monday 0
    const unsigned yesterday = (today + 6) % 7;
    const auto minute = static_cast<unsigned>(
        std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
    auto has = [&](unsigned d) { return (w.days >> d & 1U) != 0; };
    if (w.from_minute < w.to_minute) {
        return has(today) && minute >= w.from_minute && minute < w.to_minute;
    }
    // Across midnight: the window belongs to the day it starts on.
    return (has(today) && minute >= w.from_minute) || (has(yesterday) && minute < w.to_minute);
}

router::router(const config::config& cfg) {
    _rules.reserve(cfg.routes.size());
    for (const auto& r : cfg.routes) {
        compiled_rule c{&r, std::nullopt, std::nullopt, std::nullopt, {}};
        // The configuration loader has already compiled each of these once to validate it.
        for (auto [text, re] :
             {std::pair{&r.ruri_user, &c.ruri_user}, std::pair{&r.from_user, &c.from_user},
              std::pair{&r.to_user, &c.to_user}}) {
            if (*text) {
                re->emplace(**text, std::regex::ECMAScript);
            }
        }
        for (const auto& w : r.times) {
            c.times.push_back({&w, date::locate_zone(w.timezone)});
        }
        _rules.push_back(std::move(c));
    }
}

bool router::check(const compiled_rule& c, const route_request& req, std::string* why) {
    const auto& r = *c.rule;
    verdict v(why);
    if (!check_origin(r, req, v)) {
        return false;
    }
    for (auto [key, text, re, value] :
         {std::tuple{"ruri_user", &r.ruri_user, &c.ruri_user, req.ruri_user},
          std::tuple{"from_user", &r.from_user, &c.from_user, req.from_user},
          std::tuple{"to_user", &r.to_user, &c.to_user, req.to_user}}) {
        if (*re && !check_number(key, **text, **re, value, v)) {
            return false;
        }
    }
    if (!r.sources.empty() && !check_source(r.sources, req.source, v)) {
        return false;
    }
    if (!c.times.empty()) {
        auto hit = std::find_if(c.times.begin(), c.times.end(), [&](const compiled_window& t) {
            return in_window(*t.window, *t.zone, req.now);
        });
        if (hit == c.times.end()) {
            const auto& first = c.times.front();
            return v.fail([&] {
                return fmt::format("time: {} is outside the rule's windows (first: {})",
                                   local_time(first.zone, req.now), window_text(*first.window));
            });
        }
        v.hold("time {} in {}", local_time(hit->zone, req.now), window_text(*hit->window));
    }
    return v.match();
}

const config::route_config* router::match(const route_request& req) const {
    for (const auto& c : _rules) {
        if (check(c, req, nullptr)) {
            return c.rule;
        }
    }
    return nullptr;
}

std::vector<rule_verdict> router::explain(const route_request& req) const {
    std::vector<rule_verdict> out;
    for (const auto& c : _rules) {
        rule_verdict v;
        v.rule = c.rule->name;
        v.matched = check(c, req, &v.why);
        out.push_back(std::move(v));
        if (out.back().matched) {
            break;
        }
    }
    return out;
}

}  // namespace sbc::policy
