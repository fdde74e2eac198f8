// The sessions of one worker whose codec chains hold packets for later
// (media_chain's Pacing), by when the earliest is due: a timing wheel of
// about 1 ms slots, threaded through the sessions themselves, so scheduling
// and removal allocate nothing and cost O(1), and the worker finds what is
// due without looking at every session. Both backends run it: the kernel
// worker sleeps in epoll until next_due_ns(), the dpdk worker compares it
// with the clock each round; then release() hands them the sessions due.
//
// Threads: owning worker only, like the relay_session it schedules.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "transcoder/chain/pacing_queue.hpp"

namespace sbc::dataplane {

/// The links a session carries for its worker's pacing_wheel.
template <typename Session>
struct pace_hook {
    Session* prev = nullptr;
    Session* next = nullptr;
    std::int64_t due_ns = 0;
    std::uint32_t slot = 0;
    bool linked = false;
};

/// `Session` has a pace_hook<Session> at `Hook`.
template <typename Session, pace_hook<Session> Session::*Hook>
class pacing_wheel {
public:
    /// A slot spans 2^20 ns (1.05 ms); the wheel 268 ms, past the longest
    /// wait a chain makes (120 ms of input). A later time waits in the last
    /// slot and is put back in its own as the wheel turns.
    static constexpr unsigned slot_shift = 20;
    static constexpr std::size_t slots = 256;

    /// Schedules `s` for `due_ns` (replacing what it was scheduled for),
    /// or takes it off the wheel when `due_ns` is transcoder::no_due_ns.
    void schedule(Session& s, std::int64_t due_ns) noexcept {
        auto& h = s.*Hook;
        if (due_ns == transcoder::no_due_ns) {
            unlink(s);
            return;
        }
        if (h.linked) {
            if (h.due_ns == due_ns) {
                return;
            }
            unlink(s);
        }
        if (_count == 0 && !_releasing) {
            // An empty wheel turns to the first time it is given.
            _cursor_tick = due_ns >> slot_shift;
            _cursor = static_cast<std::size_t>(_cursor_tick) % slots;
        }
        link_at(s, due_ns, _cursor_tick);
    }

    /// Before `s` is handed back to the control thread.
    void forget(Session& s) noexcept { unlink(s); }

    bool empty() const noexcept { return _count == 0; }
    std::size_t size() const noexcept { return _count; }

    /// The earliest due time on the wheel, or transcoder::no_due_ns. O(1),
    /// so a polling worker may ask every round. Never later than the true
    /// one; it may be earlier (a session taken off since, a wrap), which
    /// only wakes the worker for a release() that finds nothing due.
    std::int64_t next_due_ns() const noexcept {
        return _count == 0 ? transcoder::no_due_ns : _hint_ns;
    }

    /// Takes every session due at `now_ns` or before off the wheel and calls
    /// fire(session), which releases its packets and schedules it again if
    /// more wait.
    template <typename Fire>
    void release(std::int64_t now_ns, Fire&& fire) noexcept {
        turn(now_ns, fire);
        _hint_ns = earliest();
    }

private:
    std::int64_t earliest() const noexcept {
        if (_count == 0) {
            return transcoder::no_due_ns;
        }
        for (std::size_t i = 0; i < slots; ++i) {
            const Session* s = _slots[(_cursor + i) % slots];
            if (s == nullptr) {
                continue;
            }
            std::int64_t due = transcoder::no_due_ns;
            for (; s != nullptr; s = (s->*Hook).next) {
                due = std::min(due, (s->*Hook).due_ns);
            }
            return due;
        }
        return transcoder::no_due_ns;
    }

    template <typename Fire>
    void turn(std::int64_t now_ns, Fire& fire) noexcept {
        const std::int64_t now_tick = now_ns >> slot_shift;
        if (_count == 0) {
            _cursor_tick = now_tick;
            _cursor = static_cast<std::size_t>(now_tick) % slots;
            return;
        }
        // Each slot at most once, even after a long sleep.
        _cursor_tick = std::max(_cursor_tick, now_tick - static_cast<std::int64_t>(slots) + 1);
        _cursor = static_cast<std::size_t>(_cursor_tick) % slots;
        _releasing = true;
        for (;;) {
            // The slot's list is taken whole first, so what fire() schedules
            // (into this slot or any other) is not walked again now.
            Session* s = _slots[_cursor];
            _slots[_cursor] = nullptr;
            const bool past = _cursor_tick < now_tick;
            // What is not due yet waits in the next slot at least when this
            // one is left behind.
            const std::int64_t base = past ? _cursor_tick + 1 : _cursor_tick;
            while (s != nullptr) {
                Session* next = (s->*Hook).next;
                const std::int64_t due_ns = (s->*Hook).due_ns;
                s->*Hook = {};
                --_count;
                if (due_ns <= now_ns) {
                    // Schedules it again, in this slot at the earliest
                    // (walked by the next release, not this one).
                    fire(*s);
                } else {
                    link_at(*s, due_ns, base);
                }
                s = next;
            }
            if (!past) {
                break;
            }
            ++_cursor_tick;
            _cursor = static_cast<std::size_t>(_cursor_tick) % slots;
        }
        _releasing = false;
    }

    void link_at(Session& s, std::int64_t due_ns, std::int64_t base_tick) noexcept {
        const std::int64_t tick = std::clamp(due_ns >> slot_shift, base_tick,
                                             base_tick + static_cast<std::int64_t>(slots) - 1);
        auto& h = s.*Hook;
        h.due_ns = due_ns;
        h.slot = static_cast<std::uint32_t>(static_cast<std::size_t>(tick) % slots);
        h.prev = nullptr;
        h.next = _slots[h.slot];
        if (h.next != nullptr) {
            (h.next->*Hook).prev = &s;
        }
        _slots[h.slot] = &s;
        h.linked = true;
        ++_count;
        _hint_ns = std::min(_hint_ns, due_ns);
    }

    void unlink(Session& s) noexcept {
        auto& h = s.*Hook;
        if (!h.linked) {
            return;
        }
        if (h.prev != nullptr) {
            (h.prev->*Hook).next = h.next;
        } else {
            _slots[h.slot] = h.next;
        }
        if (h.next != nullptr) {
            (h.next->*Hook).prev = h.prev;
        }
        h = {};
        if (--_count == 0) {
            _hint_ns = transcoder::no_due_ns;
        }
    }

    std::array<Session*, slots> _slots{};
    std::int64_t _cursor_tick = 0;  // the earliest slot that may hold a session, as a tick
    std::size_t _cursor = 0;        // the same, as an index into _slots
    std::size_t _count = 0;
    std::int64_t _hint_ns = transcoder::no_due_ns;  // <= the earliest due time linked
    bool _releasing = false;  // within release(): the cursor stays where it is
};

}  // namespace sbc::dataplane
