// The pool of RTP/RTCP port pairs a media engine binds its sockets to.
//
// RFC 3550 11: RTP takes an even port and RTCP the next (odd) one, so the pool
// hands out even ports p in [port_min, port_max] with p + 1 <= port_max; an odd
// or too-tight bound just loses the pair it cuts through. Port 0 (which means
// "any" to bind()) is never handed out.
//
// Free pairs are kept in FIFO order: a released pair goes to the back, so a
// port is reused as late as possible and stray packets of an old call rarely
// reach a new one. When binding a pair fails because someone else holds it,
// the caller releases it (back of the queue) and allocates again, which gives
// the next pair; it retries at most free_pairs() times.
//
// reserve() takes a given pair (a session rebuilt on the ports another node
// had it on) without searching the queue: the pair is marked in use and its
// entry stays where it is, to be dropped by allocate() when it reaches the
// front. A slot is in the queue at most once, so the queue never outgrows
// the pool; a reserved pair released before its stale entry was dropped
// keeps that entry's place rather than going to the back.
//
// Thread: the control thread only. Pure bookkeeping (no sockets), and no
// allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace sbc::dataplane {

class port_pool {
public:
    port_pool(std::uint16_t port_min, std::uint16_t port_max);

    /// The RTP port of the free pair at the front of the queue, now in use;
    /// nullopt when every pair is in use.
    std::optional<std::uint16_t> allocate() noexcept;

    /// Takes the pair of RTP port `rtp` out of the free ones, as allocate()
    /// would have. False (and nothing changes) if `rtp` is not the RTP port
    /// of a pair of this pool or the pair is in use. O(1).
    bool reserve(std::uint16_t rtp) noexcept;

    /// Returns the pair of RTP port `rtp` to the back of the queue. False (and
    /// nothing changes) if `rtp` is not a pair of this pool or is already
    /// free, so a double release can never hand a pair out twice.
    bool release(std::uint16_t rtp) noexcept;

    bool in_use(std::uint16_t rtp) const noexcept;
    std::size_t free_pairs() const noexcept { return _free_count; }
    std::size_t capacity() const noexcept { return _in_use.size(); }
    /// The first and last RTP ports of the pool (meaningless when capacity() is 0).
    std::uint16_t first_rtp() const noexcept { return _first; }
    std::uint16_t last_rtp() const noexcept;

private:
    std::optional<std::size_t> slot_of(std::uint16_t rtp) const noexcept;

    std::uint16_t _first = 0;
    // Circular queue of pair slots (slot i is RTP port _first + 2 i): the
    // free ones, and reserved ones whose entries allocate() has not dropped yet.
    std::vector<std::uint16_t> _queue;
    std::size_t _queue_head = 0;
    std::size_t _queue_length = 0;
    std::size_t _free_count = 0;
    std::vector<bool> _in_use;  // per slot
    std::vector<bool> _queued;  // per slot: it has an entry in _queue
};

}  // namespace sbc::dataplane
