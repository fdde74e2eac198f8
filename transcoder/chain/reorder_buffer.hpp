// The codec chain's small reordering buffer. A packet that arrives ahead of
// the one the chain expects is held here (a copy: the backend's buffer goes
// back to the NIC or the socket at the end of the burst) until the missing
// one arrives, the buffer is full, or it has waited its hold time; only then
// is the gap declared lost and concealed. A relay forwards packets in any
// order and lets the receiver's jitter buffer sort them; a decoder cannot.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace sbc::transcoder {

class reorder_buffer {
public:
    static constexpr std::size_t depth = 4;
    /// Larger packets are not held (they are processed at once, out of order).
    static constexpr std::size_t max_packet = 1500;

    struct entry {
        bool used = false;
        std::uint16_t sequence = 0;
        std::int64_t arrived_ns = 0;
        std::size_t len = 0;
        std::array<std::uint8_t, max_packet> data{};
        std::span<const std::uint8_t> packet() const noexcept { return {data.data(), len}; }
    };

    /// Holds a copy of `packet`; false when it is full or the packet too large.
    /// A sequence number already held is a duplicate: kept once, true.
    bool hold(std::uint16_t sequence, std::span<const std::uint8_t> packet,
              std::int64_t now_ns) noexcept;

    /// The held packet closest after `expected` in sequence order (RFC 3550
    /// A.1: 16-bit sequence numbers compared modulo 2^16), or null.
    entry* earliest(std::uint16_t expected) noexcept;

    void release(entry& e) noexcept;

    std::size_t size() const noexcept { return _count; }
    bool full() const noexcept { return _count == depth; }
    /// When the longest-held packet arrived; meaningful only when size() > 0.
    std::int64_t oldest_arrival_ns() const noexcept;
    void clear() noexcept;

private:
    std::array<entry, depth> _entries{};
    std::size_t _count = 0;
};

}  // namespace sbc::transcoder
