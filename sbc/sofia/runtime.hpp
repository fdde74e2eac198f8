// sofia-sip's process state and event loop as RAII: su_init/su_deinit, a
// su_home for long-lived allocations and the su_root every agent, timer and
// the control socket run on (DESIGN.md "Threads": the main thread).
#pragma once

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_wait.h>

namespace sbc::sofia {

class runtime {
public:
    /// Throws std::runtime_error when sofia cannot initialise.
    runtime();
    ~runtime();
    runtime(const runtime&) = delete;
    runtime& operator=(const runtime&) = delete;

    su_root_t* root() const noexcept { return _root; }
    su_home_t* home() noexcept { return _home; }

    /// Runs the loop until stop() (from a signal handler through su_root_break
    /// safe paths, or from a callback on this thread).
    void run() noexcept;
    void stop() noexcept;

private:
    su_home_t _home[1] = {};
    su_root_t* _root = nullptr;
};

}  // namespace sbc::sofia
