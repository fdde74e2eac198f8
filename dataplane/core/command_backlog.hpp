// The control thread's side of a worker's command ring: commands the ring
// had no room for wait here, in order, and go in ahead of any newer one.
// Shared by both backends' engines; the control thread never waits for a
// worker, it retries on the next post() or flush() (poll()).
#pragma once

#include <deque>

namespace sbc::dataplane {

template <typename Command>
class command_backlog {
public:
    /// Sends `c` through `try_post` (false: the ring is full), behind
    /// whatever is waiting already.
    template <typename TryPost>
    void post(const Command& c, TryPost&& try_post) {
        flush(try_post);
        if (!_waiting.empty() || !try_post(c)) {
            _waiting.push_back(c);
        }
    }

    template <typename TryPost>
    void flush(TryPost&& try_post) {
        while (!_waiting.empty() && try_post(_waiting.front())) {
            _waiting.pop_front();
        }
    }

private:
    std::deque<Command> _waiting;
};

}  // namespace sbc::dataplane
