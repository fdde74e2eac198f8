#include "sbc/common/log.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
// Without it sd_journal_sendv adds CODE_FILE/LINE/FUNC, which would name
// this writer for every line rather than where the line came from.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
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

/// syslog's severities (RFC 5424 6.2.1), which journald's PRIORITY takes.
int syslog_priority(level l) {
    switch (l) {
        case level::debug:
            return 7;
        case level::info:
            return 6;
        case level::warn:
            return 4;
        case level::error:
            return 3;
    }
    return 6;
}

thread_local const context* t_context = nullptr;

/// Decided once, at the first line: stderr does not move while sbcd runs.
bool stderr_is_journal() noexcept {
    static const bool journal = [] {
        struct stat st {};
        if (::fstat(STDERR_FILENO, &st) != 0) {
            return false;
        }
        return is_journal_stream(std::getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
    }();
    return journal;
}

/// Sends one line to journald; false when it could not be (the caller
/// writes it to stderr then, which reaches the journal as plain text).
bool send_to_journal(level l, std::string_view subsystem, std::string_view message) noexcept {
    try {
        const auto line = fmt::format("{} {}: {}", level_name(l), subsystem, message);
        const auto fields =
            journal_fields(l, subsystem, line, context::current(), program_invocation_short_name);
        std::vector<iovec> iov;
        iov.reserve(fields.size());
        for (const auto& f : fields) {
            iov.push_back({const_cast<char*>(f.data()), f.size()});
        }
        return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
    } catch (...) {
        return false;
    }
}
}  // namespace

context::context(std::string call, std::string trunk, std::string peer)
    : _call(std::move(call)),
      _trunk(std::move(trunk)),
      _peer(std::move(peer)),
      _enclosing(t_context) {
    if (_enclosing != nullptr) {
        if (_call.empty()) {
            _call = _enclosing->_call;
        }
        if (_trunk.empty()) {
            _trunk = _enclosing->_trunk;
        }
        if (_peer.empty()) {
            _peer = _enclosing->_peer;
        }
    }
    t_context = this;
}

context::~context() { t_context = _enclosing; }

const context* context::current() noexcept { return t_context; }

std::vector<std::string> journal_fields(level l, std::string_view subsystem, std::string_view line,
                                        const context* ctx, std::string_view identifier) {
    std::vector<std::string> fields;
    fields.reserve(7);
    fields.push_back(fmt::format("MESSAGE={}", line));
    fields.push_back(fmt::format("PRIORITY={}", syslog_priority(l)));
    fields.push_back(fmt::format("SYSLOG_IDENTIFIER={}", identifier));
    fields.push_back(fmt::format("SBC_SUBSYSTEM={}", printable(subsystem)));
    if (ctx != nullptr) {
        const std::pair<const char*, const std::string*> known[] = {
            {"CALL", &ctx->call()}, {"TRUNK", &ctx->trunk()}, {"PEER", &ctx->peer()}};
        for (const auto& [name, value] : known) {
            if (!value->empty()) {
                fields.push_back(fmt::format("{}={}", name, printable(*value)));
            }
        }
    }
    return fields;
}

bool is_journal_stream(const char* journal_stream, unsigned long long dev,
                       unsigned long long ino) noexcept {
    if (journal_stream == nullptr) {
        return false;
    }
    const std::string_view text{journal_stream};
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        return false;
    }
    unsigned long long want_dev = 0;
    unsigned long long want_ino = 0;
    const auto* end = text.data() + text.size();
    auto d = std::from_chars(text.data(), text.data() + colon, want_dev);
    auto i = std::from_chars(text.data() + colon + 1, end, want_ino);
    return d.ec == std::errc{} && d.ptr == text.data() + colon && i.ec == std::errc{} &&
           i.ptr == end && colon > 0 && want_dev == dev && want_ino == ino;
}

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
    if (stderr_is_journal() && send_to_journal(l, subsystem, message)) {
        return;
    }
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
