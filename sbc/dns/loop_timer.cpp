#include "sbc/dns/loop_timer.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <utility>

#include <sofia-sip/su_wait.h>

#include "sbc/common/log.hpp"

namespace sbc::dns {

namespace {

constexpr log::logger timer_log{"dns"};

// C trampoline: no logic, and nothing may escape into sofia's C frames.
void on_timer(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<loop_timer*>(arg)->fire();
}

}  // namespace

loop_timer::loop_timer(su_root_t* root)
    // The timer's own interval is never used: each arming gives its delay.
    : _timer(su_timer_create(su_root_task(root), 1000)) {
    if (_timer == nullptr) {
        throw std::runtime_error("dns: cannot create a timer on the event loop");
    }
}

loop_timer::~loop_timer() { su_timer_destroy(_timer); }

void loop_timer::arm(std::chrono::milliseconds delay, std::function<void()> fn) {
    su_timer_reset(_timer);
    _fn = std::move(fn);
    // su_duration_t is an int of milliseconds; settings::validate keeps
    // delays far below its limit, and the clamp keeps a bad one harmless.
    const auto ms = std::clamp<std::chrono::milliseconds::rep>(delay.count(), 0, 24 * 3600 * 1000);
    if (su_timer_set_interval(_timer, on_timer, this, static_cast<su_duration_t>(ms)) < 0) {
        _fn = nullptr;
        throw std::runtime_error("dns: cannot arm a timer on the event loop");
    }
}

void loop_timer::cancel() noexcept {
    su_timer_reset(_timer);
    _fn = nullptr;
}

void loop_timer::fire() noexcept {
    // Moved out first: `fn` may arm this timer again, or destroy its owner
    // (and this timer with it); nothing here is touched after it ran.
    auto fn = std::move(_fn);
    _fn = nullptr;
    try {
        if (fn) {
            fn();
        }
    } catch (const std::exception& e) {
        timer_log.error("a timer's handler failed: {}", e.what());
    }
}

}  // namespace sbc::dns
