// The event loop of an in-process SIP test: sofia's runtime (su_init, one
// su_root) that the test drives itself, turn by turn, until what it waits
// for has happened.
//
// No test sleeps: run_until() steps the loop until its condition holds. Its
// deadline only stops a test that would otherwise hang (a message that never
// comes); it is a failure, never something a test waits for.
#pragma once

#include <chrono>
#include <functional>

#include "sbc/sofia/runtime.hpp"

namespace sbc::test {

class sip_loop {
public:
    su_root_t* root() const noexcept { return _runtime.root(); }

    /// Steps the loop until `done()` is true; false when `deadline` passed
    /// first (the caller's REQUIRE reports it).
    bool run_until(const std::function<bool()>& done,
                   std::chrono::milliseconds deadline = std::chrono::seconds(10));

    /// Runs every callback that is ready now (timers due, sockets readable)
    /// without waiting for more.
    void drain();

private:
    sofia::runtime _runtime;
};

}  // namespace sbc::test
