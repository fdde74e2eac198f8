#include "tools/sbcctl/sip_ladder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace sbc::ctl {
namespace {

constexpr std::size_t column_width = 24;

std::string field_of(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// What sbcd relays from SIP peers must not reach the terminal as control
/// characters.
std::string terminal_safe(std::string s) {
    for (char& ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u == 0x7f) {
            ch = '?';
        }
    }
    return s;
}

std::string clock_of(std::int64_t us) {
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    localtime_r(&secs, &tm);
    return fmt::format("{:02}:{:02}:{:02}.{:06}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                       static_cast<long>(us % 1'000'000));
}

std::size_t center(std::size_t column) { return column * column_width + column_width / 2; }

std::string header(const std::vector<std::string>& endpoints) {
    std::string line(endpoints.size() * column_width, ' ');
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
        auto name = endpoints[i].substr(0, column_width - 2);
        const std::size_t at = center(i) - std::min(center(i), name.size() / 2);
        line.replace(at, name.size(), name);
    }
    return line;
}

}  // namespace

std::string sip_ladder::render(const nlohmann::json& trace) {
    std::string out;
    auto messages = trace.find("messages");
    if (messages == trace.end() || !messages->is_array()) {
        return out;
    }
    const auto calls = trace.value("calls", nlohmann::json::object());
    for (const auto& m : *messages) {
        if (m.is_object()) {
            out += render_message(field_of(m, "call"), calls, m);
        }
    }
    return out;
}

std::string sip_ladder::render_message(const std::string& call, const nlohmann::json& calls,
                                       const nlohmann::json& m) {
    std::string out;
    auto& cols = _calls[call];
    const std::string tag = terminal_safe(fmt::format("[call {}] ", call));
    if (!cols.introduced) {
        cols.introduced = true;
        const auto info = calls.is_object() ? calls.value(call, nlohmann::json::object())
                                            : nlohmann::json::object();
        std::string trunks;
        if (auto t = info.find("trunks"); t != info.end() && t->is_array()) {
            for (const auto& name : *t) {
                if (name.is_string()) {
                    trunks += (trunks.empty() ? "" : ", ") + name.get<std::string>();
                }
            }
        }
        out += terminal_safe(fmt::format("{}from {} to {}, trunks {}", tag, field_of(info, "from"),
                                         field_of(info, "to"), trunks.empty() ? "-" : trunks)) +
               '\n';
    }
    const bool inbound = field_of(m, "dir") == "in";
    const auto local = terminal_safe(field_of(m, "local"));
    const auto remote = terminal_safe(field_of(m, "remote"));
    const auto& src = inbound ? remote : local;
    const auto& dst = inbound ? local : remote;
    const auto before = cols.endpoints.size();
    for (const auto* e : {&src, &dst}) {
        if (std::find(cols.endpoints.begin(), cols.endpoints.end(), *e) == cols.endpoints.end()) {
            cols.endpoints.push_back(*e);
        }
    }
    const std::string stamp_pad(15, ' ');
    if (cols.endpoints.size() != before) {
        out += tag + stamp_pad + ' ' + header(cols.endpoints) + '\n';
    }
    const auto index = [&](const std::string& e) {
        return static_cast<std::size_t>(std::find(cols.endpoints.begin(), cols.endpoints.end(), e) -
                                        cols.endpoints.begin());
    };
    const std::size_t from = center(index(src));
    const std::size_t to = center(index(dst));
    std::string line(cols.endpoints.size() * column_width, ' ');
    for (std::size_t i = 0; i < cols.endpoints.size(); ++i) {
        line[center(i)] = '|';
    }
    const std::size_t lo = std::min(from, to);
    const std::size_t hi = std::max(from, to);
    if (hi > lo + 2) {
        std::fill(line.begin() + static_cast<std::ptrdiff_t>(lo + 1),
                  line.begin() + static_cast<std::ptrdiff_t>(hi), '-');
        line[to > from ? hi - 1 : lo + 1] = to > from ? '>' : '<';
        auto label = terminal_safe(field_of(m, "summary"));
        const std::size_t room = hi - lo - 5;
        if (label.size() > room) {
            label.resize(room);
        }
        line.replace(lo + (hi - lo - label.size()) / 2, label.size(), label);
    }
    std::int64_t t_us = 0;
    if (auto t = m.find("t_us"); t != m.end() && t->is_number_integer()) {
        t_us = t->get<std::int64_t>();
    }
    // Trailing spaces carry nothing.
    line.erase(line.find_last_not_of(' ') + 1);
    out += fmt::format("{}{} {}  {}\n", tag, clock_of(t_us), line,
                       terminal_safe(field_of(m, "transport")));
    return out;
}

}  // namespace sbc::ctl
