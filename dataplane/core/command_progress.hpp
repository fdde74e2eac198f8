// How far a worker has got through its command ring, as the control thread
// sees it: the worker's quiescent state in the sense of DPDK's RCU library
// (rte_rcu_qsbr), with one reader per counter.
//
// The worker counts the commands it applies and, once per round of its loop
// (after the commands and the bursts, when it holds no pointer a command of
// the round replaced), publishes the count. A count the control thread reads
// means every command up to it is applied and the worker has let go of
// whatever those commands replaced: an SRTP context or a codec chain a
// re-key or a re-INVITE swapped out may then be freed (retire_list.hpp).
//
// The worker's side costs a plain increment per command and, in a round that
// applied any, one release store; no lock, no read-modify-write.
#pragma once

#include <atomic>
#include <cstdint>

namespace sbc::dataplane {

/// The number a command gets when it is posted: 1 for a worker's first
/// command, then one more for each (commands are applied in order).
using command_seq = std::uint64_t;

class command_progress {
public:
    /// Worker thread: one command applied.
    void applied() noexcept { ++_applied; }

    /// Worker thread, at a quiescent point of its loop (no pointer from
    /// before the round's commands is held any more): publishes the count.
    void quiescent() noexcept {
        if (_applied != _published_copy) {
            _published_copy = _applied;
            // Release: what the worker did before (dropping its pointers to
            // replaced objects) happens before the control thread's free.
            _published.store(_applied, std::memory_order_release);
        }
    }

    /// Control thread: the commands the worker has applied and let go of
    /// what they replaced, counted from 1.
    command_seq acknowledged() const noexcept { return _published.load(std::memory_order_acquire); }

private:
    // Worker thread only.
    command_seq _applied = 0;
    command_seq _published_copy = 0;
    // Written by the worker (quiescent), read by the control thread.
    alignas(64) std::atomic<command_seq> _published{0};
};

}  // namespace sbc::dataplane
