#include "sbc/service/notifier.hpp"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "sbc/common/log.hpp"

namespace sbc::service {

namespace {

constexpr log::logger service_log{"service"};

void watchdog_tick(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<notifier*>(arg)->on_watchdog_timer();
}

void status_tick(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<notifier*>(arg)->on_status_timer();
}

/// A periodic timer on `root` every `period` (at least 1 ms).
c_handle<su_timer_t, su_timer_destroy> make_timer(su_root_t* root,
                                                  std::chrono::milliseconds period) {
    const auto ms = static_cast<su_duration_t>(std::max<std::int64_t>(period.count(), 1));
    c_handle<su_timer_t, su_timer_destroy> t{su_timer_create(su_root_task(root), ms)};
    if (!t) {
        throw std::runtime_error("cannot create a timer for the service manager's notices");
    }
    return t;
}

/// A STATUS= value is one line: whatever status_fn returns, its line
/// breaks would start assignments of their own.
std::string one_line(std::string text) {
    for (auto& c : text) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    return text;
}

}  // namespace

notifier::notifier(su_root_t* root, status_fn status, std::chrono::milliseconds refresh)
    : _root(root), _status(std::move(status)), _refresh(refresh) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    _enabled = socket != nullptr && *socket != '\0';
    if (!_enabled) {
        return;
    }
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is ours.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        // sd_watchdog_enabled(3): send at half the timeout, so that one
        // late turn of the loop does not get sbcd killed.
        _watchdog_period = std::chrono::microseconds(usec / 2);
        _watchdog_timer = make_timer(
            root, std::chrono::duration_cast<std::chrono::milliseconds>(_watchdog_period));
        su_timer_run(_watchdog_timer.get(), watchdog_tick, this);
        service_log.info(
            "watchdog: a keep-alive every {} ms from the event loop",
            std::chrono::duration_cast<std::chrono::milliseconds>(_watchdog_period).count());
    }
}

void notifier::ready() {
    if (!_enabled) {
        return;
    }
    send("READY=1\nSTATUS=" + status_text());
    if (!_status_timer) {
        _status_timer = make_timer(_root, _refresh);
        su_timer_run(_status_timer.get(), status_tick, this);
    }
}

void notifier::refresh_status() {
    if (_enabled) {
        send("STATUS=" + status_text());
    }
}

void notifier::stopping(std::string_view why) {
    if (!_enabled) {
        return;
    }
    _status_timer.reset();
    auto text = status_text();
    if (!why.empty()) {
        text += "; ";
        text += why;
    }
    send("STOPPING=1\nSTATUS=" + one_line(std::move(text)));
}

void notifier::on_watchdog_timer() noexcept { send("WATCHDOG=1"); }

void notifier::on_status_timer() noexcept { refresh_status(); }

std::string notifier::status_text() noexcept {
    try {
        return one_line(_status ? _status() : std::string{});
    } catch (const std::exception& e) {
        return std::string("status unknown: ") + e.what();
    } catch (...) {
        return "status unknown";
    }
}

void notifier::send(const std::string& state) noexcept {
    const int r = sd_notify(0, state.c_str());
    if (r < 0 && !_send_failed_logged) {
        _send_failed_logged = true;
        const std::string_view first{state.data(), std::min(state.size(), state.find('\n'))};
        service_log.warn("cannot tell the service manager ({}): {}", first, std::strerror(-r));
    }
}

}  // namespace sbc::service
