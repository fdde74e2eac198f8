// Where codec chains write the packets they produce: fixed slots owned by a
// worker, reused every burst, so a chain never allocates on the hot path.
//
// A transcoded stream does not send what it received: one packet in may give
// none (the output packet is not full yet) or several (a 60 ms packet
// repacketized into 20 ms ones). The worker's relay hands the sink to each
// chain, protects the produced packets in place (each slot keeps room for an
// SRTP trailer) and sends them; then it clears the sink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace sbc::transcoder {

struct produced_packet {
    std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
};

class packet_sink {
public:
    /// A slot holds an RTP header, the largest payload a chain writes (an
    /// Opus packet is at most 1275 octets, RFC 6716 3.4) and room to grow.
    static constexpr std::size_t slot_octets = 1536;
    /// What a chain may fill of a slot: the rest is left for SRTP's trailer.
    static constexpr std::size_t usable_octets = slot_octets - 64;

    /// Control thread (allocates once).
    explicit packet_sink(std::size_t slots)
        : _storage(std::make_unique<std::uint8_t[]>(slots * slot_octets)),
          _packets(std::make_unique<produced_packet[]>(slots)),
          _slots(slots) {}

    /// The next free slot (usable_octets long), or an empty span when all are taken.
    std::span<std::uint8_t> slot() noexcept {
        if (_count == _slots) {
            return {};
        }
        return {_storage.get() + _count * slot_octets, usable_octets};
    }

    /// Keeps the first `len` octets of the slot slot() returned as a packet.
    void commit(std::size_t len) noexcept {
        _packets[_count] =
            produced_packet{_storage.get() + _count * slot_octets, static_cast<std::uint32_t>(len)};
        ++_count;
    }

    std::span<const produced_packet> packets() const noexcept { return {_packets.get(), _count}; }
    std::size_t size() const noexcept { return _count; }
    std::size_t capacity() const noexcept { return _slots; }
    void clear() noexcept { _count = 0; }
    /// Gives back the slots of every packet from the `n`th on (a chain that
    /// holds them for later: pacing_queue).
    void truncate(std::size_t n) noexcept {
        if (n < _count) {
            _count = n;
        }
    }

private:
    std::unique_ptr<std::uint8_t[]> _storage;
    std::unique_ptr<produced_packet[]> _packets;
    std::size_t _slots;
    std::size_t _count = 0;
};

}  // namespace sbc::transcoder
