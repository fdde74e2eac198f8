#include "sbc/common/log.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

namespace sbc::log {

namespace {
std::atomic<int> g_level{static_cast<int>(level::info)};
// Lines from data-plane set-up threads and the SIP thread must not interleave.
std::mutex g_write_mutex;

const char* level_name(level l) {
    switch (l) {
        case level::debug:
            return "DEBUG";
        case level::info:
            return "INFO";
        case level::warn:
            return "WARN";
        case level::error:
            return "ERROR";
    }
    return "?";
}
}  // namespace

void set_level(level l) noexcept { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }

level current_level() noexcept {
    return static_cast<level>(g_level.load(std::memory_order_relaxed));
}

namespace {
bool is_printable(unsigned char c) noexcept { return c >= 0x20 && c < 0x7f; }
}  // namespace

std::string printable(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    for (unsigned char c : text) {
        if (is_printable(c)) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

void write(level l, std::string_view subsystem, std::string_view message) noexcept {
    std::string escaped;
    if (std::find_if_not(message.begin(), message.end(), [](char c) {
            return is_printable(static_cast<unsigned char>(c));
        }) != message.end()) {
        try {
            escaped = printable(message);
            message = escaped;
        } catch (...) {
            message = "(a line that could not be escaped)";
        }
    }
    std::lock_guard lock(g_write_mutex);
    std::fprintf(stderr, "%s %.*s: %.*s\n", level_name(l), static_cast<int>(subsystem.size()),
                 subsystem.data(), static_cast<int>(message.size()), message.data());
    std::fflush(stderr);
}

bool rate_limit::allow() noexcept {
    auto now = std::chrono::steady_clock::now();
    if (now - _window_start >= _period) {
        _window_start = now;
        _in_window = 0;
    }
    if (_in_window < _burst) {
        ++_in_window;
        return true;
    }
    ++_suppressed;
    return false;
}

}  // namespace sbc::log
