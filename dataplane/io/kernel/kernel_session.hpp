// One media session as the kernel backend holds it: four bound UDP sockets
// (RTP and RTCP of sides a and b) and the shared relay state.
//
// Ownership: the engine (control thread) owns every kernel_session through a
// unique_ptr, from open_session() until the owning worker has acknowledged
// its removal (event session_removed, drained in poll()) or the worker has
// been joined. The worker only borrows it: its epoll set holds pointers to
// `refs`, and commands carry the session's address. So the object, its fds
// and its refs outlive every use the worker can make of them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/core/pacing_wheel.hpp"
#include "dataplane/core/relay.hpp"
#include "dataplane/core/retire_list.hpp"
#include "dataplane/core/timeout_watch.hpp"
#include "sbc/common/unique_fd.hpp"

namespace sbc::dataplane::kernel {

struct kernel_session;

/// What an epoll event's data.ptr points at: which socket of which session.
struct socket_ref {
    kernel_session* session = nullptr;
    side from = side::a;
    channel ch = channel::rtp;
};

constexpr std::size_t socket_index(side s, channel ch) noexcept { return index(s) * 2 + index(ch); }

struct kernel_session {
    explicit kernel_session(session_id sid, unsigned owner) : id(sid), worker(owner) {
        for (side s : {side::a, side::b}) {
            for (channel ch : {channel::rtp, channel::rtcp}) {
                refs[socket_index(s, ch)] = socket_ref{this, s, ch};
            }
        }
    }
    kernel_session(const kernel_session&) = delete;
    kernel_session& operator=(const kernel_session&) = delete;

    /// The descriptor the worker reads and sends on (see `active`).
    int fd(side s, channel ch) const noexcept { return active[socket_index(s, ch)]; }

    // Set before the session is handed to the worker; constant afterwards,
    // so both threads read them freely.
    const session_id id;
    const unsigned worker;
    // Control thread only: the RTP ports, and the sockets opened in
    // open_session() and closed only when the session is destroyed (see
    // Ownership above). A side move replaces a side's pair here, and the
    // pair it replaced goes to `retired`. The worker uses the descriptors
    // (its copies in `active`) while they are in its epoll set.
    session_ports ports;
    std::array<unique_fd, 4> fds;  // indexed by socket_index()
    // The worker's copy of the descriptors: set before the session is handed
    // over, then changed by the worker only (command move_side).
    std::array<int, 4> active{-1, -1, -1, -1};
    // Control thread only: a pair prepared for a side move, per side, and
    // the pairs moves replaced (closed with the session, so their ports are
    // never bound twice while the worker may still read them).
    struct parked_pair {
        std::uint16_t rtp_port = 0;
        unique_fd rtp;
        unique_fd rtcp;
    };
    std::array<std::optional<parked_pair>, 2> pending;
    std::vector<parked_pair> retired;
    std::array<socket_ref, 4> refs;  // indexed by socket_index(); constant
    // Forwarding state and counters; relay.hpp says which thread owns what.
    relay_session relay;
    // Control thread only: the SRTP contexts and codec chains the relay
    // points at now (or will, once the worker applies the command that
    // carries them). One a re-key or re-INVITE replaces goes to the
    // engine's retire_list, freed once the worker acknowledged the swap;
    // the current ones are destroyed with the session, after the worker
    // has let go of it.
    media_objects objects;
    // Owning worker only: set by remove_session, so events of the same epoll
    // round are skipped; and the link in its list of removals to acknowledge.
    bool removed = false;
    kernel_session* next_unacked = nullptr;
    watch_hook<kernel_session> timeout_hook;  // owning worker only
    pace_hook<kernel_session> pacing_hook;    // owning worker only
};

}  // namespace sbc::dataplane::kernel
