// The sessions of one worker whose media timeout is armed, and the scan that
// finds the ones that went quiet: a list threaded through the sessions
// themselves, so arming, disarming and removal allocate nothing and cost
// O(1) on the worker, and the scan runs at most every 100 ms, not per packet.
//
// Threads: owning worker only, like the relay_session it arms.
#pragma once

#include <cstdint>

namespace sbc::dataplane {

/// The links a session carries for its worker's timeout_watch.
template <typename Session>
struct watch_hook {
    Session* prev = nullptr;
    Session* next = nullptr;
    bool linked = false;
};

/// `Session` has a relay_session `relay` and a watch_hook<Session> at `Hook`.
template <typename Session, watch_hook<Session> Session::*Hook>
class timeout_watch {
public:
    static constexpr std::int64_t scan_interval_ns = 100'000'000;

    /// Arms `s`'s timeout (`after_ns` > 0) or disarms it (0).
    void arm(Session& s, std::int64_t after_ns, std::int64_t now_ns) noexcept {
        s.relay.arm_timeout(after_ns, now_ns);
        if (after_ns > 0) {
            link(s);
        } else {
            unlink(s);
        }
    }

    /// Before `s` is handed back to the control thread.
    void forget(Session& s) noexcept { unlink(s); }

    bool empty() const noexcept { return _head == nullptr; }

    /// Calls report(session) for each session whose timeout fired (it is
    /// then disarmed and unlinked); does nothing until the next scan is due.
    template <typename Report>
    void scan(std::int64_t now_ns, Report&& report) noexcept {
        if (now_ns < _next_scan_ns) {
            return;
        }
        _next_scan_ns = now_ns + scan_interval_ns;
        for (Session* s = _head; s != nullptr;) {
            Session* next = (s->*Hook).next;
            if (s->relay.check_timeout(now_ns)) {
                unlink(*s);
                report(*s);
            }
            s = next;
        }
    }

private:
    void link(Session& s) noexcept {
        auto& h = s.*Hook;
        if (h.linked) {
            return;
        }
        h.prev = nullptr;
        h.next = _head;
        if (_head != nullptr) {
            (_head->*Hook).prev = &s;
        }
        _head = &s;
        h.linked = true;
    }

    void unlink(Session& s) noexcept {
        auto& h = s.*Hook;
        if (!h.linked) {
            return;
        }
        if (h.prev != nullptr) {
            (h.prev->*Hook).next = h.next;
        } else {
            _head = h.next;
        }
        if (h.next != nullptr) {
            (h.next->*Hook).prev = h.prev;
        }
        h = {};
    }

    Session* _head = nullptr;
    std::int64_t _next_scan_ns = 0;
};

}  // namespace sbc::dataplane
