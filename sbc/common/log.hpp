// Named loggers, one per subsystem (sip, sdp, media, conf, api, ...).
//
// Lines go to stderr as "LEVEL subsystem: message". When stderr is the
// journal (systemd's JOURNAL_STREAM names it), each line is sent to journald
// instead, the same text as MESSAGE= with structured fields beside it: its
// PRIORITY, SBC_SUBSYSTEM, and the CALL, TRUNK and PEER of the log::context
// the line was written in (journalctl CALL=12). Anything a remote peer can
// trigger goes through a rate_limit so a flood of bad packets cannot flood
// the log.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

/// What the lines written on this thread are about, while it lives: the
/// call, trunk and peer whose SIP is being handled (the b2bua sets one where
/// a call's requests and responses come in). A field left empty is the
/// enclosing context's; destruction restores the enclosing context. Only on
/// the stack, on the thread that made it. The stderr lines do not show it.
class context {
public:
    explicit context(std::string call, std::string trunk = {}, std::string peer = {});
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    /// The innermost context of this thread; null outside any.
    static const context* current() noexcept;

    const std::string& call() const noexcept { return _call; }
    const std::string& trunk() const noexcept { return _trunk; }
    const std::string& peer() const noexcept { return _peer; }

private:
    std::string _call;
    std::string _trunk;
    std::string _peer;
    const context* _enclosing;
};

/// The journal entry (sd_journal_sendv's "FIELD=value" items) of a line:
/// MESSAGE (`line`: the text the stderr line has, already printable()),
/// PRIORITY (syslog's number, RFC 5424 6.2.1), SYSLOG_IDENTIFIER, SBC_SUBSYSTEM,
/// then CALL, TRUNK and PEER from `ctx` where known (printable() too).
std::vector<std::string> journal_fields(level l, std::string_view subsystem, std::string_view line,
                                        const context* ctx, std::string_view identifier = "sbcd");

/// Whether stderr, whose fstat(2) gives `dev` and `ino`, is the journal
/// stream JOURNAL_STREAM (`journal_stream`, "DEV:INODE"; null when unset)
/// names: systemd.exec(5)'s documented check, for a stderr redirected
/// elsewhere keeps the variable.
bool is_journal_stream(const char* journal_stream, unsigned long long dev,
                       unsigned long long ino) noexcept;

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
