// Decoding of the policy keys: routes, and each trunk's number
// normalization. Regexes and time zones are checked here, once, so that a
// running sbcd never meets one it cannot use.
#include "sbc/config/address.hpp"

#include "sbc/common/text.hpp"
#include "sbc/config/decode.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <regex>

namespace sbc::config::detail {

namespace {

// Long enough for any number plan; short enough that compiling it cannot
// exhaust the stack (libstdc++'s regex compiler recurses per group).
constexpr std::size_t max_regex_size = 1000;

constexpr std::string_view days_expected =
    "days: mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri, as a list or "
    "separated by commas";

std::optional<std::string> read_regex(problem_list& p, const located& at) {
    constexpr std::string_view what = "an ECMAScript regular expression";
    auto text = read_string(p, at, what);
    if (!text) {
        return std::nullopt;
    }
    if (text->size() > max_regex_size) {
        expected(p, at, fmt::format("{} of at most {} characters", what, max_regex_size));
        return std::nullopt;
    }
    try {
        std::regex compiled(*text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        expected(p, at, fmt::format("{} ({})", what, e.what()));
        return std::nullopt;
    }
    return text;
}

// One name or a list of names: "to_trunk: carrier" or "to_trunk: [a, b]".
std::vector<std::string> read_names(decoded& d, problem_list& p, const located& at) {
    std::vector<std::string> out;
    if (!at.node.IsSequence()) {
        if (auto name = read_name(d, p, at)) {
            out.push_back(*name);
        }
        return out;
    }
    for (const auto& e : read_list(p, at, "a trunk name or a list of trunk names", true)) {
        auto name = read_name(d, p, e);
        if (!name) {
            continue;
        }
        if (std::find(out.begin(), out.end(), *name) != out.end()) {
            expected(p, e, "each trunk once");
            continue;
        }
        out.push_back(*name);
    }
    return out;
}

std::optional<unsigned> day_index(std::string_view name) {
    static constexpr std::array<std::string_view, 7> days = {"mon", "tue", "wed", "thu",
                                                             "fri", "sat", "sun"};
    for (unsigned i = 0; i < days.size(); ++i) {
        if (iequals(name, days[i])) {
            return i;
        }
    }
    return std::nullopt;
}

// "mon", "mon-fri", "fri-mon" (wrapping over the weekend) into day bits.
std::optional<std::uint8_t> day_bits(std::string_view item) {
    while (!item.empty() && item.front() == ' ') {
        item.remove_prefix(1);
    }
    while (!item.empty() && item.back() == ' ') {
        item.remove_suffix(1);
    }
    const auto dash = item.find('-');
    auto first = day_index(item.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : day_index(item.substr(dash + 1));
    if (!first || !last) {
        return std::nullopt;
    }
    std::uint8_t bits = 0;
    for (unsigned d = *first;; d = (d + 1) % 7) {
        bits = static_cast<std::uint8_t>(bits | (1U << d));
        if (d == *last) {
            break;
        }
    }
    return bits;
}

std::optional<std::uint8_t> read_days(problem_list& p, const located& at) {
    std::vector<std::pair<std::string, located>> items;
    if (at.node.IsSequence()) {
        for (const auto& e : read_list(p, at, days_expected, true)) {
            if (auto text = read_string(p, e, days_expected)) {
                items.emplace_back(*text, e);
            }
        }
    } else if (auto text = read_string(p, at, days_expected)) {
        std::string_view rest = *text;
        while (true) {
            const auto comma = rest.find(',');
            items.emplace_back(std::string(rest.substr(0, comma)), at);
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
    }
    std::uint8_t bits = 0;
    bool ok = !items.empty();
    for (const auto& [text, where] : items) {
        auto b = day_bits(text);
        if (!b) {
            expected(p, where, days_expected);
            ok = false;
            continue;
        }
        bits = static_cast<std::uint8_t>(bits | *b);
    }
    return ok ? std::optional(bits) : std::nullopt;
}

// "HH:MM" from 00:00 to 23:59, and 24:00 where `allow_end_of_day`.
std::optional<unsigned> read_clock_time(problem_list& p, const located& at, bool allow_end_of_day) {
    const auto what = allow_end_of_day ? "a time of day HH:MM, 00:00 to 24:00"
                                       : "a time of day HH:MM, 00:00 to 23:59";
    auto text = read_string(p, at, what);
    if (!text) {
        return std::nullopt;
    }
    const auto& t = *text;
    auto digit = [&](std::size_t i) { return t[i] >= '0' && t[i] <= '9'; };
    if (t.size() != 5 || !digit(0) || !digit(1) || t[2] != ':' || !digit(3) || !digit(4)) {
        expected(p, at, what);
        return std::nullopt;
    }
    const unsigned hours = static_cast<unsigned>((t[0] - '0') * 10 + (t[1] - '0'));
    const unsigned minutes = static_cast<unsigned>((t[3] - '0') * 10 + (t[4] - '0'));
    const unsigned total = hours * 60 + minutes;
    if (minutes > 59 || total > (allow_end_of_day ? 1440U : 1439U)) {
        expected(p, at, what);
        return std::nullopt;
    }
    return total;
}

std::optional<time_window> read_time_window(problem_list& p, const located& at) {
    auto m = map_reader::open(p, at, {"days", "from", "to", "timezone"},
                              "a time window: a map with days, from, to and timezone");
    if (!m) {
        return std::nullopt;
    }
    time_window w;
    w.mark = to_source_mark(at.mark);
    bool ok = true;
    if (auto v = m->find("days")) {
        auto bits = read_days(p, *v);
        ok = ok && bits.has_value();
        w.days = bits.value_or(w.days);
    }
    std::optional<located> from_at = m->find("from");
    std::optional<located> to_at = m->find("to");
    if (from_at) {
        auto t = read_clock_time(p, *from_at, false);
        ok = ok && t.has_value();
        w.from_minute = t.value_or(w.from_minute);
    }
    if (to_at) {
        auto t = read_clock_time(p, *to_at, true);
        ok = ok && t.has_value();
        w.to_minute = t.value_or(w.to_minute);
    }
    if (ok && w.from_minute == w.to_minute) {
        const auto& where = to_at ? *to_at : (from_at ? *from_at : at);
        expected(p, where, "a window of some length (from and to are the same time)");
        ok = false;
    }
    if (auto v = m->find("timezone")) {
        constexpr std::string_view what = "an IANA time zone name such as Europe/Berlin or UTC";
        auto text = read_string(p, *v, what);
        if (text) {
            try {
                (void)date::locate_zone(*text);
                w.timezone = *text;
            } catch (const std::exception&) {
                expected(p, *v, fmt::format("{}, known to the system's tzdata", what));
                ok = false;
            }
        } else {
            ok = false;
        }
    }
    return ok ? std::optional(w) : std::nullopt;
}

std::vector<time_window> read_times(problem_list& p, const located& at) {
    std::vector<time_window> out;
    if (at.node.IsSequence()) {
        for (const auto& e : read_list(p, at, "a list of time windows", true)) {
            if (auto w = read_time_window(p, e)) {
                out.push_back(*w);
            }
        }
    } else if (auto w = read_time_window(p, at)) {
        out.push_back(*w);
    }
    return out;
}

// A reason phrase goes into a status line (RFC 3261 25.1): printable text,
// no CR or LF.
bool is_reason_phrase(std::string_view text) {
    return text.size() <= 128 && std::all_of(text.begin(), text.end(), [](char c) {
               return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
           });
}

std::optional<route_reject> read_reject(problem_list& p, const located& at) {
    constexpr std::string_view code_expected =
        "a final SIP status 400..699 (a redirect needs a Contact the SBC has not got)";
    route_reject r;
    if (!at.node.IsMap()) {
        auto code = read_number(p, at, 400, 699, code_expected);
        if (!code) {
            return std::nullopt;
        }
        r.code = static_cast<unsigned>(*code);
        return r;
    }
    auto m = map_reader::open(p, at, {"code", "reason"},
                              "a reject: a status code or a map with "
                              "code and reason");
    if (!m) {
        return std::nullopt;
    }
    if (auto v = m->require("code", code_expected)) {
        auto code = read_number(p, *v, 400, 699, code_expected);
        if (!code) {
            return std::nullopt;
        }
        r.code = static_cast<unsigned>(*code);
    } else {
        return std::nullopt;
    }
    if (auto v = m->find("reason")) {
        constexpr std::string_view what = "a reason phrase: printable text of at most 128 bytes";
        auto text = read_string(p, *v, what);
        if (!text || !is_reason_phrase(*text)) {
            if (text) {
                expected(p, *v, what);
            }
            return std::nullopt;
        }
        r.reason = *text;
    }
    return r;
}

std::optional<unsigned> read_fields(problem_list& p, const located& at) {
    constexpr std::string_view what = "a number field: ruri, from, to, pai or diversion";
    unsigned fields = 0;
    auto one = [&](const located& e) {
        auto text = read_string(p, e, what);
        if (!text) {
            return false;
        }
        for (auto f : {field_ruri, field_from, field_to, field_pai, field_diversion}) {
            if (*text == to_string(f)) {
                fields |= f;
                return true;
            }
        }
        expected(p, e, what);
        return false;
    };
    bool ok = true;
    if (at.node.IsSequence()) {
        for (const auto& e : read_list(p, at, "a list of number fields", true)) {
            ok = one(e) && ok;
        }
    } else {
        ok = one(at);
    }
    return ok && fields != 0 ? std::optional(fields) : std::nullopt;
}

// The replacement ends up in a URI's user part: only the characters RFC 3261
// 25.1 allows there unescaped, so that no rule can break a header.
bool is_user_text(std::string_view text) {
    constexpr std::string_view marks = "-_.!~*'()&=+$,;?/%#";
    return text.size() <= 256 && std::all_of(text.begin(), text.end(), [&](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      marks.find(c) != std::string_view::npos;
           });
}

std::vector<rewrite_rule> read_rewrites(problem_list& p, const located& at) {
    std::vector<rewrite_rule> out;
    for (const auto& e : read_list(p, at, "a list of rewrite rules", false)) {
        auto m = map_reader::open(p, e, {"match", "replace", "fields"},
                                  "a rewrite rule: a map with match, replace and fields");
        if (!m) {
            continue;
        }
        rewrite_rule r;
        r.mark = to_source_mark(e.mark);
        bool ok = true;
        if (auto v = m->require("match", "an ECMAScript regular expression")) {
            auto re = read_regex(p, *v);
            ok = re.has_value();
            r.match = re.value_or("");
        } else {
            ok = false;
        }
        constexpr std::string_view replace_expected =
            "a replacement of at most 256 characters allowed in a SIP URI's user part, with "
            "$1..$9 for the groups of match";
        if (auto v = m->require("replace", replace_expected)) {
            auto text = v->node.IsNull() ? std::optional<std::string>("")
                                         : read_string(p, *v, replace_expected);
            if (text && !is_user_text(*text)) {
                expected(p, *v, replace_expected);
                text.reset();
            }
            ok = ok && text.has_value();
            r.replace = text.value_or("");
        } else {
            ok = false;
        }
        if (auto v = m->find("fields")) {
            auto fields = read_fields(p, *v);
            ok = ok && fields.has_value();
            r.fields = fields.value_or(r.fields);
        }
        if (ok) {
            out.push_back(std::move(r));
        }
    }
    return out;
}

// A rate per second: "2", "0.5"; 0 is off.
std::optional<double> read_rate(problem_list& p, const located& at, double max) {
    const auto what = fmt::format("a rate per second from 0 to {} (0: no limit)", max);
    auto text = read_string(p, at, what);
    if (!text) {
        return std::nullopt;
    }
    double v = 0;
    const auto* end = text->data() + text->size();
    auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (ec != std::errc() || ptr != end || !(v >= 0) || v > max) {
        expected(p, at, what);
        return std::nullopt;
    }
    return v;
}

void decode_call_limits(problem_list& p, const located& at, call_limits& l) {
    auto m = map_reader::open(p, at, {"max_calls", "cps", "burst", "retry_after"},
                              "a map with max_calls, cps, burst and retry_after");
    if (!m) {
        return;
    }
    read_number_into(p, *m, "max_calls", 0, 1000000, "a number of calls 0..1000000 (0: no limit)",
                     l.max_calls);
    if (auto v = m->find("cps")) {
        l.cps = read_rate(p, *v, 10000).value_or(l.cps);
    }
    read_number_into(p, *m, "burst", 0, 100000,
                     "a number of calls 0..100000 (0: the rate rounded up)", l.burst);
    read_number_into(p, *m, "retry_after", 0, 3600, "a number of seconds 0..3600", l.retry_after);
}

}  // namespace

std::vector<cidr> read_sources(problem_list& p, const located& at) {
    std::vector<cidr> out;
    auto one = [&](const located& e) {
        auto text = read_string(p, e, "an address block: IP/PREFIX or an IP address");
        if (!text) {
            return;
        }
        auto block = parse_cidr(*text);
        if (!block) {
            rejected(p, e, block.error_message());
            return;
        }
        out.push_back(*block);
    };
    if (at.node.IsSequence()) {
        const auto entries = read_list(p, at, "a list of address blocks", true);
        for (const auto& e : entries) {
            one(e);
        }
        // The UDP socket filter's jumps are 8 bits wide (sbc/b2bua/source_filter.hpp).
        if (entries.size() > 60) {
            expected(p, at, "a list of at most 60 address blocks");
        }
    } else {
        one(at);
    }
    return out;
}

void decode_limits(problem_list& p, const located& at, trunk_limits& limits) {
    auto m =
        map_reader::open(p, at, {"inbound", "outbound"}, "a map with inbound and outbound limits");
    if (!m) {
        return;
    }
    if (auto v = m->find("inbound")) {
        decode_call_limits(p, *v, limits.inbound);
    }
    if (auto v = m->find("outbound")) {
        decode_call_limits(p, *v, limits.outbound);
    }
}

void decode_session_timer(problem_list& p, const located& at, session_timer_config& st) {
    auto m = map_reader::open(p, at, {"expires", "min_se"}, "a map with expires and min_se");
    if (!m) {
        return;
    }
    read_number_into(p, *m, "min_se", 1, 86400, "a number of seconds 1..86400", st.min_se);
    if (auto v = m->find("expires")) {
        auto n = read_number(p, *v, 0, 86400,
                             "a number of seconds 0..86400, not below min_se (0: none asked)");
        if (n && *n != 0 && *n < st.min_se) {
            expected(p, *v, fmt::format("a number of seconds not below min_se ({})", st.min_se));
        } else if (n) {
            st.expires = static_cast<unsigned>(*n);
        }
    }
}

void decode_flood(problem_list& p, const located& at, flood_config& flood) {
    auto m =
        map_reader::open(p, at, {"rate", "burst", "block"}, "a map with rate, burst and block");
    if (!m) {
        return;
    }
    if (auto v = m->find("rate")) {
        flood.rate = read_rate(p, *v, 100000).value_or(flood.rate);
    }
    read_number_into(p, *m, "burst", 0, 1000000,
                     "a number of requests 0..1000000 (0: twice the rate)", flood.burst);
    read_number_into(p, *m, "block", 1, 86400, "a number of seconds 1..86400", flood.block_seconds);
}

void decode_normalize(problem_list& p, const located& at, normalization& n) {
    auto m = map_reader::open(p, at, {"inbound", "outbound"},
                              "a map with inbound and outbound lists of rewrite rules");
    if (!m) {
        return;
    }
    if (auto v = m->find("inbound")) {
        n.inbound = read_rewrites(p, *v);
    }
    if (auto v = m->find("outbound")) {
        n.outbound = read_rewrites(p, *v);
    }
}

std::optional<cdr_config> decode_cdr(decoded& d, problem_list& p, const located& at) {
    auto m = map_reader::open(p, at, {"file", "max_bytes", "keep"},
                              "a map with file, max_bytes and keep");
    if (!m) {
        return std::nullopt;
    }
    cdr_config c;
    constexpr std::string_view what = "an absolute file path in an existing directory";
    if (auto v = m->require("file", what)) {
        auto text = read_string(p, *v, what);
        if (text && (text->empty() || text->front() != '/' || text->back() == '/' ||
                     text->find('\0') != std::string::npos)) {
            expected(p, *v, what);
            return std::nullopt;
        }
        if (!text) {
            return std::nullopt;
        }
        c.file = *text;
        d.marks[v->path] = v->mark;
    } else {
        return std::nullopt;
    }
    if (auto v = m->find("max_bytes")) {
        c.max_bytes =
            read_number(p, *v, 4096, std::uint64_t{1} << 40, "a size in bytes, 4096 or more")
                .value_or(c.max_bytes);
    }
    read_number_into(p, *m, "keep", 0, 1000, "a number of rotated files 0..1000", c.keep);
    return c;
}

namespace {

// Two keys of which at most one may be given: the problem is reported at
// whichever of the two comes later in the file.
void both_given(problem_list& p, const located& first, const located& second,
                std::string_view message) {
    const auto& later = position(second.mark) > position(first.mark) ? second : first;
    p.add(later.mark, later.path, message);
}

// from_trunk or from_interface: where the call comes from.
void decode_route_origin(decoded& d, problem_list& p, const map_reader& m, route_config& rc) {
    auto from_trunk = m.find("from_trunk");
    auto from_interface = m.find("from_interface");
    if (from_trunk) {
        rc.from_trunk = read_name(d, p, *from_trunk);
    }
    if (from_interface) {
        rc.from_interface = read_name(d, p, *from_interface);
    }
    if (from_trunk && from_interface) {
        // A trunk belongs to one interface, so both together would either say
        // the same thing twice or match nothing.
        both_given(p, *from_trunk, *from_interface,
                   "expected at most one of from_trunk and from_interface (got both)");
    }
}

// ruri_user, from_user, to_user, source and time: what else the call must match.
void decode_route_match(problem_list& p, const map_reader& m, route_config& rc) {
    for (auto [key, field] :
         {std::pair{"ruri_user", &rc.ruri_user}, std::pair{"from_user", &rc.from_user},
          std::pair{"to_user", &rc.to_user}}) {
        if (auto v = m.find(key)) {
            *field = read_regex(p, *v);
        }
    }
    if (auto v = m.find("source")) {
        rc.sources = read_sources(p, *v);
    }
    if (auto v = m.find("time")) {
        rc.times = read_times(p, *v);
    }
}

// to_trunk or reject, exactly one: where the call goes.
void decode_route_target(decoded& d, problem_list& p, const map_reader& m, route_config& rc) {
    auto to_trunk = m.find("to_trunk");
    auto reject = m.find("reject");
    if (to_trunk && reject) {
        both_given(p, *to_trunk, *reject, "expected one of to_trunk and reject (got both)");
    } else if (!to_trunk && !reject) {
        p.add(m.self().mark, m.self().path,
              "required key missing: to_trunk or reject (expected where the call goes: a trunk, "
              "a list of trunks, or a reject status)");
    }
    if (to_trunk) {
        rc.to_trunks = read_names(d, p, *to_trunk);
    }
    if (reject) {
        rc.reject = read_reject(p, *reject);
    }
}

}  // namespace

void decode_route(decoded& d, problem_list& p, const located& at, std::size_t index) {
    auto m = map_reader::open(p, at,
                              {"name", "from_trunk", "from_interface", "ruri_user", "from_user",
                               "to_user", "source", "time", "to_trunk", "reject"},
                              "a route: a map with to_trunk or reject and optional match keys");
    if (!m) {
        return;
    }
    route_config rc;
    rc.mark = to_source_mark(at.mark);
    rc.name = fmt::format("route-{}", index);
    if (auto v = m->find("name")) {
        rc.name = read_name(d, p, *v).value_or("");
    } else {
        d.marks[join_path(at.path, "name")] = at.mark;
    }
    decode_route_origin(d, p, *m, rc);
    decode_route_match(p, *m, rc);
    decode_route_target(d, p, *m, rc);
    d.route_paths.push_back(at.path);
    d.cfg.routes.push_back(std::move(rc));
}

}  // namespace sbc::config::detail
