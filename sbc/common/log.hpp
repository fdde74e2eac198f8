// Named loggers, one per subsystem (sip, sdp, media, conf, api, ...).
//
// Lines go to stderr (journald picks them up under systemd) as
// "LEVEL subsystem: message". Anything a remote peer can trigger goes through
// a rate_limit so a flood of bad packets cannot flood the log.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sbc::log {

enum class level : int { debug = 0, info = 1, warn = 2, error = 3 };

/// Process-wide threshold; lines below it are dropped. Set once at start-up.
void set_level(level l) noexcept;
level current_level() noexcept;
/// Writes one line. Bytes that are not printable ASCII (control characters,
/// line breaks, anything past 0x7e) are written as \xNN, so text a peer sent
/// can neither break a line in two nor put raw bytes into the log.
void write(level l, std::string_view subsystem, std::string_view message) noexcept;

/// `text` with every byte outside 0x20-0x7e written as \xNN (what write() prints).
std::string printable(std::string_view text);

class logger {
public:
    constexpr explicit logger(std::string_view name) : _name(name) {}

    template <typename... Args>
    void debug(fmt::format_string<Args...> f, Args&&... args) const {
        emit(level::debug, f, std::forward<Args>(args)...);
    }
    template <typename... Args>
    void info(fmt::format_string<Args...> f, Args&&... args) const {
        emit(level::info, f, std::forward<Args>(args)...);
    }
    template <typename... Args>
    void warn(fmt::format_string<Args...> f, Args&&... args) const {
        emit(level::warn, f, std::forward<Args>(args)...);
    }
    template <typename... Args>
    void error(fmt::format_string<Args...> f, Args&&... args) const {
        emit(level::error, f, std::forward<Args>(args)...);
    }

private:
    template <typename... Args>
    void emit(level l, fmt::format_string<Args...> f, Args&&... args) const {
        if (l < current_level()) {
            return;
        }
        write(l, _name, fmt::format(f, std::forward<Args>(args)...));
    }

    std::string_view _name;
};

/// Allows `burst` events per `period`; the rest are counted as suppressed and
/// reported with the next allowed line. Single-threaded use (the SIP thread).
class rate_limit {
public:
    explicit rate_limit(unsigned burst = 10,
                        std::chrono::milliseconds period = std::chrono::seconds(1))
        : _burst(burst), _period(period) {}

    /// True when the caller may log now; `suppressed()` tells how many were
    /// swallowed since the last allowed line.
    bool allow() noexcept;
    std::uint64_t take_suppressed() noexcept {
        auto n = _suppressed;
        _suppressed = 0;
        return n;
    }

private:
    unsigned _burst;
    std::chrono::milliseconds _period;
    std::chrono::steady_clock::time_point _window_start{};
    unsigned _in_window = 0;
    std::uint64_t _suppressed = 0;
};

}  // namespace sbc::log

namespace sbc {

/// The SIP signalling log, shared by every part that handles SIP (sofia/,
/// b2bua/, admission/).
inline constexpr log::logger sip_log{"sip"};

}  // namespace sbc
