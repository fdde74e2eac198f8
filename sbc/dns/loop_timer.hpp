// A one-shot timer on the su_root, as RAII: armed with a delay and what to
// run, disarmed by cancel(), a new arm() or destruction. What the resolver's
// queries (their deadline) and the name_watch (refreshes and retries) wait
// with; control thread only.
#pragma once

#include <chrono>
#include <functional>

struct su_root_s;
typedef struct su_root_s su_root_t;
struct su_timer_s;
typedef struct su_timer_s su_timer_t;

namespace sbc::dns {

class loop_timer {
public:
    /// Throws std::runtime_error when sofia cannot make the timer.
    explicit loop_timer(su_root_t* root);
    ~loop_timer();
    loop_timer(const loop_timer&) = delete;
    loop_timer& operator=(const loop_timer&) = delete;

    /// Runs `fn` once, `delay` from now (0 or less: at the loop's next
    /// turn, never inside this call). Replaces what was armed before.
    void arm(std::chrono::milliseconds delay, std::function<void()> fn);
    void cancel() noexcept;
    bool armed() const noexcept { return static_cast<bool>(_fn); }

    /// Called by the loop's trampoline; not for other callers.
    void fire() noexcept;

private:
    su_timer_t* _timer;  ///< owned: su_timer_destroy in the destructor
    std::function<void()> _fn;
};

}  // namespace sbc::dns
