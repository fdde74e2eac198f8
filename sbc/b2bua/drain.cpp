// Draining a node; see drain.hpp.
#include "sbc/b2bua/drain.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

namespace sbc::b2bua {

namespace {

std::string iso_utc(drain_state::wall_clock::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(drain_state::wall_clock::to_time_t(t)));
}

}  // namespace

result<drain_request> parse_drain_request(const nlohmann::json& args) {
    drain_request r;
    if (!args.is_object()) {
        return make_error("drain: arguments must be a JSON object");
    }
    for (auto [key, flag] :
         {std::pair{"cancel", &r.cancel}, std::pair{"hand_over", &r.hand_over}}) {
        if (auto it = args.find(key); it != args.end() && !it->is_null()) {
            if (!it->is_boolean()) {
                return make_error(fmt::format("drain: \"{}\" must be true or false", key));
            }
            *flag = it->get<bool>();
        }
    }
    if (auto it = args.find("deadline"); it != args.end() && !it->is_null()) {
        if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
            it->get<std::int64_t>() > max_drain_deadline.count()) {
            return make_error(
                fmt::format("drain: \"deadline\" must be a number of seconds, 1 to {}",
                            max_drain_deadline.count()));
        }
        r.deadline = std::chrono::seconds(it->get<std::int64_t>());
    }
    if (r.cancel && (r.deadline || r.hand_over)) {
        return make_error("drain: cancel takes no deadline and no hand-over");
    }
    return r;
}

void drain_state::start(std::optional<std::chrono::seconds> deadline, clock::time_point now,
                        wall_clock::time_point wall) {
    if (!_since) {
        _since = started{now, wall};
    }
    if (deadline) {
        _deadline = now + *deadline;
        _deadline_wall = wall + *deadline;
    } else {
        _deadline.reset();
        _deadline_wall.reset();
    }
}

bool drain_state::cancel() {
    const bool was = active();
    _since.reset();
    _deadline.reset();
    _deadline_wall.reset();
    return was;
}

unsigned drain_state::retry_after(clock::time_point now) const {
    if (!_deadline) {
        return static_cast<unsigned>(retry_after_default.count());
    }
    // Rounded up: a peer told 0 would come straight back (RFC 3261 20.33
    // has the value in whole seconds).
    const auto left = std::chrono::ceil<std::chrono::seconds>(*_deadline - now);
    return static_cast<unsigned>(
        std::clamp(left, std::chrono::seconds(1), retry_after_cap).count());
}

drain_state::verdict drain_state::check(std::size_t calls_left, clock::time_point now) const {
    if (!active()) {
        return verdict::keep_running;
    }
    if (calls_left == 0) {
        return verdict::drained;
    }
    return _deadline && now >= *_deadline ? verdict::deadline : verdict::keep_running;
}

std::optional<api::drain_status> drain_state::status(std::size_t calls_left,
                                                     clock::time_point now) const {
    if (!_since) {
        return std::nullopt;
    }
    api::drain_status s;
    s.since = iso_utc(_since->wall);
    if (_deadline && _deadline_wall) {
        s.deadline = iso_utc(*_deadline_wall);
        s.seconds_left = std::max(0.0, std::chrono::duration<double>(*_deadline - now).count());
    }
    s.calls_left = calls_left;
    return s;
}

bool register_adds_bindings(const registrar::register_request& r) {
    // RFC 3261 10.2.2: "Contact: *" removes every binding (with any Expires
    // but 0 the registrar refuses it anyway); 10.2.4: no Contact at all
    // only asks for the bindings. Otherwise a Contact's own expires
    // parameter wins over the header (10.2.1.1), and only 0 removes.
    if (r.wildcard) {
        return false;
    }
    return std::any_of(r.contacts.begin(), r.contacts.end(), [&](const auto& c) {
        const auto value = c.expires ? c.expires : r.expires;
        return !value || *value != 0;
    });
}

}  // namespace sbc::b2bua
