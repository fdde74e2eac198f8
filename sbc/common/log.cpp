#include "sbc/common/log.hpp"

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

void write(level l, std::string_view subsystem, std::string_view message) noexcept {
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
