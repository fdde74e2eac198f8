// The JSON form of a call detail record; see record.hpp.
#include "sbc/cdr/record.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sbc::cdr {

namespace {

// Keeps the keys in the documented order, which is the order a person reading
// the file expects (start, answer, end side by side).
using json = nlohmann::ordered_json;
using millis = std::chrono::milliseconds;

// The calendar arithmetic of <chrono> rather than gmtime_r: it cannot fail and
// takes no lock.
std::string rfc3339(std::chrono::sys_time<millis> t) {
    auto day = std::chrono::floor<std::chrono::days>(t);
    std::chrono::year_month_day ymd{day};
    std::chrono::hh_mm_ss hms{t - day};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                       hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                       hms.subseconds().count());
}

double seconds(millis span) {
    // n / 1000.0 is the double nearest to the decimal n/1000, so nlohmann's
    // shortest round-trip output prints at most three decimals.
    return static_cast<double>(std::max<millis::rep>(span.count(), 0)) / 1000.0;
}

json to_json(const numbers& n) {
    return json{
        {"ruri_user", n.ruri_user},
        {"from_user", n.from_user},
        {"to_user", n.to_user},
    };
}

json to_json(const leg_quality& q) {
    return json{
        {"rtp_expected", q.rtp_expected},
        {"rtp_lost", q.rtp_lost},
        {"loss_percent", q.loss_percent},
        {"jitter_ms", q.jitter_ms},
        {"rtt_ms", q.rtt_ms ? json(*q.rtt_ms) : json(nullptr)},
        {"mos", q.mos},
    };
}

json to_json(const leg_media& m) {
    return json{
        {"codec", m.codec},
        {"packets_received", m.packets_received},
        {"packets_sent", m.packets_sent},
        {"bytes_received", m.bytes_received},
        {"bytes_sent", m.bytes_sent},
        {"packets_dropped", m.packets_dropped},
        {"quality", m.quality ? to_json(*m.quality) : json(nullptr)},
    };
}

}  // namespace

std::string_view to_string(party p) noexcept {
    switch (p) {
        case party::none:
            return "none";
        case party::caller:
            return "caller";
        case party::callee:
            return "callee";
        case party::sbc:
            return "sbc";
    }
    return "unknown";
}

std::string to_json_line(const record& r) {
    auto start = std::chrono::floor<millis>(r.start);
    auto end = std::chrono::floor<millis>(r.end);
    std::optional<std::chrono::sys_time<millis>> answer;
    if (r.answer) {
        answer = std::chrono::floor<millis>(*r.answer);
    }
    json j{
        {"id", r.id},
        {"call_id", r.call_id},
        {"start", rfc3339(start)},
        {"answer", answer ? json(rfc3339(*answer)) : json(nullptr)},
        {"end", rfc3339(end)},
        {"setup_s", seconds(answer.value_or(end) - start)},
        {"duration_s", answer ? seconds(end - *answer) : 0.0},
        {"source", r.source},
        {"from_trunk", r.from_trunk},
        {"to_trunk", r.to_trunk},
        {"route", r.route},
        {"numbers",
         {
             {"received", to_json(r.received)},
             {"normalized", to_json(r.normalized)},
             {"sent", to_json(r.sent)},
         }},
        {"status", r.status},
        {"reason", r.reason},
        {"disconnected_by", to_string(r.disconnected_by)},
        {"disconnect_reason", r.disconnect_reason},
        {"media",
         {
             {"a", to_json(r.media_a)},
             {"b", to_json(r.media_b)},
         }},
        {"local_ringback", r.local_ringback},
    };
    // replace: peers' bytes that are not UTF-8 must not make dump() throw.
    // dump(-1) escapes control characters, so the line holds no newline.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace sbc::cdr
