// sbcd's side of systemd's service protocol (sd_notify(3), Type=notify):
// READY=1 once it serves, a STATUS= line kept fresh, WATCHDOG=1 keep-alives
// and STOPPING=1 when it shuts down.
//
// The keep-alives are sent by a timer on the su_root loop itself, at half
// the unit's WatchdogSec (sd_watchdog_enabled(3)): a loop that hangs stops
// them, and systemd kills and restarts sbcd (Restart=on-failure). A thread of
// their own would keep a hung daemon looking alive.
//
// Without NOTIFY_SOCKET (not run by systemd, or not as Type=notify) every
// call is a no-op and no timer is made. su_root thread only.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <sofia-sip/su_wait.h>

#include "sbc/common/c_handle.hpp"

namespace sbc::service {

class notifier {
public:
    /// The STATUS= text now (status_line.hpp); called on the loop.
    using status_fn = std::function<std::string()>;

    /// Starts the watchdog's keep-alives when the service manager asks for
    /// them (WATCHDOG_USEC, and WATCHDOG_PID naming this process when set).
    /// `status` is asked every `refresh` once ready() was sent. Throws
    /// std::runtime_error when sofia cannot make a timer.
    notifier(su_root_t* root, status_fn status,
             std::chrono::milliseconds refresh = std::chrono::seconds(5));
    notifier(const notifier&) = delete;
    notifier& operator=(const notifier&) = delete;

    /// Whether there is a service manager to tell (NOTIFY_SOCKET was set).
    bool enabled() const noexcept { return _enabled; }
    /// The keep-alives' period (half the watchdog's timeout); zero when
    /// there is no watchdog.
    std::chrono::microseconds watchdog_period() const noexcept { return _watchdog_period; }

    /// READY=1 with the first STATUS=, then STATUS= every `refresh`.
    void ready();
    /// STATUS= now (the refresh timer's work; also after a change that
    /// should not wait for it, such as the start of a drain).
    void refresh_status();
    /// STOPPING=1, with `why` after the status line; the refreshes stop.
    void stopping(std::string_view why);

    /// The timers' trampolines; not for other callers.
    void on_watchdog_timer() noexcept;
    void on_status_timer() noexcept;

private:
    /// Sends `state` (sd_notify's newline-separated assignments); a failure
    /// is logged once, for the service manager may simply be gone.
    void send(const std::string& state) noexcept;
    std::string status_text() noexcept;

    su_root_t* _root;
    status_fn _status;
    std::chrono::milliseconds _refresh;
    bool _enabled = false;
    bool _send_failed_logged = false;
    std::chrono::microseconds _watchdog_period{0};
    c_handle<su_timer_t, su_timer_destroy> _watchdog_timer;
    c_handle<su_timer_t, su_timer_destroy> _status_timer;
};

}  // namespace sbc::service
