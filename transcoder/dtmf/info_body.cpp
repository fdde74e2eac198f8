#include "transcoder/dtmf/info_body.hpp"

#include <cstdint>

#include "sbc/common/text.hpp"
#include "transcoder/dtmf/telephone_event.hpp"

namespace sbc::transcoder::dtmf {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// A decimal number of at most `max_digits` digits, nothing else.
std::optional<unsigned> parse_decimal(std::string_view s, std::size_t max_digits) noexcept {
    if (s.empty() || s.size() > max_digits) {
        return std::nullopt;
    }
    unsigned v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

// A signal as either body writes it: the symbol itself, or (for the keys
// whose symbols some senders avoid) its RFC 4733 event code 10-16.
std::optional<char> parse_signal(std::string_view s) noexcept {
    s = trim(s);
    if (s.size() == 1) {
        const char c = s.front();
        if (!event_of(c)) {
            return std::nullopt;
        }
        return digit_of(*event_of(c));  // 'a'-'d' -> 'A'-'D'
    }
    const auto code = parse_decimal(s, 2);
    if (!code || *code < 10 || *code > max_dtmf_event) {
        return std::nullopt;
    }
    return digit_of(static_cast<std::uint8_t>(*code));
}

std::optional<info_dtmf> parse_dtmf_relay(std::string_view body) noexcept {
    std::optional<char> signal;
    std::optional<unsigned> duration;
    while (!body.empty()) {
        const std::size_t eol = body.find('\n');
        std::string_view line = body.substr(0, eol);
        body = eol == std::string_view::npos ? std::string_view{} : body.substr(eol + 1);
        line = trim(line);
        if (line.empty()) {
            continue;
        }
        const std::size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            return std::nullopt;
        }
        const std::string_view key = trim(line.substr(0, eq));
        const std::string_view value = trim(line.substr(eq + 1));
        if (iequals(key, "signal")) {
            if (signal) {
                return std::nullopt;  // two digits in one body: which one?
            }
            signal = parse_signal(value);
            if (!signal) {
                return std::nullopt;
            }
        } else if (iequals(key, "duration")) {
            if (duration) {
                return std::nullopt;
            }
            duration = parse_decimal(value, 5);
            if (!duration || *duration > max_info_duration_ms) {
                return std::nullopt;
            }
        }
        // Other keys (some PBXes add their own) are ignored.
    }
    if (!signal) {
        return std::nullopt;
    }
    info_dtmf d;
    d.symbol = *signal;
    if (duration && *duration != 0) {
        d.duration_ms = *duration;
    }
    return d;
}

std::string signal_text(char symbol) {
    const auto event = event_of(symbol);
    if (!event) {
        return {};
    }
    if (*event == max_dtmf_event) {
        return "16";
    }
    return std::string(1, digit_of(*event));
}

}  // namespace

std::optional<info_dtmf> parse_info(std::string_view content_type, std::string_view body) noexcept {
    const std::string_view media = trim(content_type.substr(0, content_type.find(';')));
    if (iequals(media, dtmf_relay_content_type)) {
        return parse_dtmf_relay(body);
    }
    if (iequals(media, dtmf_content_type)) {
        const auto signal = parse_signal(body);
        if (!signal) {
            return std::nullopt;
        }
        return info_dtmf{*signal, default_info_duration_ms};
    }
    return std::nullopt;
}

std::string format_dtmf_relay(char symbol, unsigned duration_ms) {
    std::string signal = signal_text(symbol);
    if (signal.empty()) {
        return {};
    }
    return "Signal=" + signal + "\r\nDuration=" + std::to_string(duration_ms) + "\r\n";
}

std::string format_dtmf(char symbol) { return signal_text(symbol); }

}  // namespace sbc::transcoder::dtmf
