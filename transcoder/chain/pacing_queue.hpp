// The packets a codec chain has made but must not send yet: when one input
// packet gives several output packets (40 ms of G.729 in, two 20 ms PCMA
// packets out), only the first is due at once; sending the others with it
// would hand the receiver the jitter of the input's packet length (RFC 3550
// 6.4.1's interarrival jitter, and a jitter buffer sized for it). Each waits
// here with the time it is due and leaves, in order, when the worker asks.
//
// Object graph: a media_chain owns one (allocated with it, on the control
// thread); its owning worker alone holds and releases packets, which copies
// a few hundred octets and allocates nothing.
//
// Order: packets leave in the order they were held, never reordered by their
// due times (the caller keeps those non-decreasing), so sequence numbers and,
// since SRTP protects them when they leave, SRTP indexes go up in order
// (RFC 3711 3.3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

#include "transcoder/chain/packet_sink.hpp"

namespace sbc::transcoder {

/// A due time meaning "nothing waits".
inline constexpr std::int64_t no_due_ns = std::numeric_limits<std::int64_t>::max();

class pacing_queue {
public:
    /// 120 ms of input (the longest Opus packet) cut into 10 ms packets,
    /// and room for the events and the burst of a late network.
    static constexpr std::size_t default_slots = 24;

    /// Control thread (allocates once).
    explicit pacing_queue(std::size_t slots = default_slots)
        : _storage(std::make_unique<std::uint8_t[]>(slots * packet_sink::usable_octets)),
          _entries(std::make_unique<entry[]>(slots)),
          _slots(slots) {}

    std::size_t size() const noexcept { return _count; }
    std::size_t capacity() const noexcept { return _slots; }
    bool empty() const noexcept { return _count == 0; }
    bool full() const noexcept { return _count == _slots; }

    /// When the oldest packet is due, or no_due_ns when none waits.
    std::int64_t next_due_ns() const noexcept {
        return _count == 0 ? no_due_ns : _entries[_head].due_ns;
    }
    /// When the newest packet is due (no_due_ns when none waits): what a
    /// packet held after it must not precede.
    std::int64_t last_due_ns() const noexcept {
        return _count == 0 ? no_due_ns : _entries[(_head + _count - 1) % _slots].due_ns;
    }

    /// Copies `packet` (at most packet_sink::usable_octets) in behind the
    /// others, due at `due_ns`. False when full or too large.
    bool hold(std::span<const std::uint8_t> packet, std::int64_t due_ns) noexcept;

    /// Moves the packets due at `now_ns` or before into `sink`, oldest
    /// first, as long as it has slots. Returns how many.
    std::size_t release(std::int64_t now_ns, packet_sink& sink) noexcept;

    /// Moves the oldest packet into `sink` whatever its due time. False when
    /// none waits or the sink is full.
    bool release_oldest(packet_sink& sink) noexcept;

    /// Forgets every packet (they will not be sent). Returns how many.
    std::size_t clear() noexcept;

    /// Takes the packets `from` holds in behind this queue's own, as long as
    /// there is room (the rest stay in `from`). Returns how many moved.
    std::size_t take_from(pacing_queue& from) noexcept;

private:
    struct entry {
        std::int64_t due_ns = 0;
        std::uint32_t len = 0;
    };

    std::uint8_t* data_of(std::size_t i) noexcept {
        return _storage.get() + i * packet_sink::usable_octets;
    }
    void pop() noexcept {
        _head = (_head + 1) % _slots;
        --_count;
    }

    std::unique_ptr<std::uint8_t[]> _storage;
    std::unique_ptr<entry[]> _entries;
    std::size_t _slots;
    std::size_t _head = 0;
    std::size_t _count = 0;
};

}  // namespace sbc::transcoder
