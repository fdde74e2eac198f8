#include "sbc/policy/router.hpp"

#include <date/tz.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>

#include <algorithm>

namespace sbc::policy {

namespace {

bool search(const std::optional<std::regex>& re, std::string_view text) {
    return !re || std::regex_search(text.begin(), text.end(), *re);
}

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
    std::vector<std::string> held;
    // Only `sbcctl route test` asks why; a call's routing builds no text.
    auto fail = [&](auto&& reason) {
        if (why != nullptr) {
            *why = reason();
        }
        return false;
    };
    auto hold = [&](const char* format, const auto&... args) {
        if (why != nullptr) {
            held.push_back(fmt::format(fmt::runtime(format), args...));
        }
    };
    if (r.from_interface) {
        if (*r.from_interface != req.interface) {
            return fail([&] {
                return fmt::format("from_interface {}: the call came in on {}", *r.from_interface,
                                   req.interface);
            });
        }
        hold("from_interface {}", *r.from_interface);
    }
    if (r.from_trunk) {
        if (*r.from_trunk != req.trunk) {
            return fail([&] {
                return fmt::format("from_trunk {}: the call came from {}", *r.from_trunk,
                                   req.trunk);
            });
        }
        hold("from_trunk {}", *r.from_trunk);
    }
    for (auto [key, text, re, value] :
         {std::tuple{"ruri_user", &r.ruri_user, &c.ruri_user, req.ruri_user},
          std::tuple{"from_user", &r.from_user, &c.from_user, req.from_user},
          std::tuple{"to_user", &r.to_user, &c.to_user, req.to_user}}) {
        if (!*re) {
            continue;
        }
        if (!search(*re, value)) {
            return fail(
                [&] { return fmt::format("{} '{}' does not match '{}'", key, **text, value); });
        }
        hold("{} '{}' matched '{}'", key, **text, value);
    }
    if (!r.sources.empty()) {
        const config::cidr* hit = nullptr;
        for (const auto& block : r.sources) {
            if (req.source.valid() &&
                block.contains(req.source.family(), address_bytes(req.source))) {
                hit = &block;
                break;
            }
        }
        if (hit == nullptr) {
            return fail([&] {
                return fmt::format("source: {} is in none of the rule's blocks",
                                   req.source.valid() ? req.source.address() : "(unknown)");
            });
        }
        hold("source {} in {}", req.source.address(), hit->text);
    }
    if (!c.times.empty()) {
        const compiled_window* hit = nullptr;
        for (const auto& t : c.times) {
            if (in_window(*t.window, *t.zone, req.now)) {
                hit = &t;
                break;
            }
        }
        if (hit == nullptr) {
            const auto& first = *c.times.front().window;
            return fail([&] {
                return fmt::format(
                    "time: {} is outside the rule's windows (first: {}-{} {})",
                    date::format("%a %H:%M",
                                 date::make_zoned(
                                     c.times.front().zone,
                                     std::chrono::time_point_cast<std::chrono::seconds>(req.now))),
                    hhmm(first.from_minute), hhmm(first.to_minute), first.timezone);
            });
        }
        hold("time {} in {}-{} {}",
             date::format(
                 "%a %H:%M",
                 date::make_zoned(hit->zone,
                                  std::chrono::time_point_cast<std::chrono::seconds>(req.now))),
             hhmm(hit->window->from_minute), hhmm(hit->window->to_minute), hit->window->timezone);
    }
    if (why != nullptr) {
        *why = held.empty() ? "no criteria: matches every call"
                            : fmt::format("{}", fmt::join(held, ", "));
    }
    return true;
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
