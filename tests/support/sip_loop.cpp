#include "tests/support/sip_loop.hpp"

#include <sofia-sip/su_wait.h>

namespace sbc::test {

bool sip_loop::run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) {
            return false;
        }
        // Waits at most 5 ms for an event; returns as soon as one is handled.
        su_root_step(root(), 5);
    }
    return true;
}

void sip_loop::drain() {
    // A zero timeout polls: each step handles what is ready and returns.
    for (int i = 0; i < 100; ++i) {
        su_root_step(root(), 0);
    }
}

}  // namespace sbc::test
