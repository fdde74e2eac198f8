// The sending side of RFC 4733 telephone-events: the packet sequence that
// carries a digit into an RTP stream (a digit from SIP INFO, from a tone
// detected in the audio, or relayed from the other leg's events).
//
// Object graph: the codec chain of an outbound stream that negotiated
// telephone-event owns one sender. The chain ticks once per packet interval
// (its ptime) and asks next() for the packet of that interval; while
// busy(), it sends that packet instead of (or as well as) the audio, with
// the telephone-event payload type. The control thread queues digits only
// through the chain's command ring; start() and next() run on the worker
// that owns the stream, never allocate and never throw.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "transcoder/dtmf/telephone_event.hpp"

namespace sbc::transcoder::dtmf {

/// One telephone-event packet to send.
struct event_packet {
    std::array<std::uint8_t, event_payload_size> payload{};
    std::uint32_t rtp_timestamp = 0;  ///< the event's (segment's) start
    bool marker = false;              ///< RTP marker: the event's first packet
    bool end = false;                 ///< the E bit is set (one of the final packets)
};

class event_sender {
public:
    /// RFC 4733 2.5.1.4: the final packet is sent three times.
    static constexpr unsigned end_repeats = 3;
    /// The volume written in every packet (-10 dBm0, a usual DTMF level).
    static constexpr std::uint8_t default_volume = 10;
    /// Digits queued behind the one being sent.
    static constexpr std::size_t queue_capacity = 16;
    /// Longest digit sent; longer requests are cut to it.
    static constexpr std::uint32_t max_duration_ms = 60000;

    /// `clock_rate`: the telephone-event clock of the stream (8000, or 48000
    /// beside opus). `interval_ms`: the time between packets, the stream's
    /// ptime (RFC 4733 2.5.1.2 suggests 50 ms for updates; a chain that
    /// ticks every ptime uses its ptime). Both must be positive.
    event_sender(std::uint32_t clock_rate, unsigned interval_ms) noexcept;

    /// Queues `symbol` (event_of(): a DTMF key or flash) to last
    /// `duration_ms` (at least one interval). Returns false for an unknown
    /// symbol or a full queue.
    bool start(char symbol, std::uint32_t duration_ms) noexcept;

    /// One tick: the packet to send in this interval, or nullopt when there
    /// is nothing to send. `rtp_timestamp` is the timestamp the stream's
    /// packet of this interval carries; a digit starts at the tick after it
    /// was queued and takes that timestamp (RFC 4733 2.3: the event's start)
    /// for all its packets. Durations (RFC 4733 2.3.5) count from that start,
    /// in units of the clock rate: one interval in the first packet, growing
    /// by one per tick, the full duration in the final packet, which is sent
    /// end_repeats times on consecutive ticks. A digit longer than the
    /// duration field allows is sent in segments (RFC 4733 2.5.1.3).
    std::optional<event_packet> next(std::uint32_t rtp_timestamp) noexcept;

    /// True while a digit is being sent or waits in the queue.
    bool busy() const noexcept { return _active || _queued != 0; }

    /// Drops the digit in progress and the queue (a re-INVITE, hold).
    void clear() noexcept;

    std::uint32_t clock_rate() const noexcept { return _clock_rate; }
    std::uint32_t interval_samples() const noexcept { return _interval; }

private:
    struct pending {
        std::uint8_t event = 0;
        std::uint32_t duration = 0;  // timestamp units
    };

    event_packet make(bool end, std::uint16_t duration) const noexcept;

    std::uint32_t _clock_rate;
    std::uint32_t _interval;  // timestamp units per tick

    // The digit being sent.
    bool _active = false;
    std::uint8_t _event = 0;
    std::uint32_t _total = 0;          // its duration, timestamp units
    std::uint32_t _elapsed = 0;        // duration covered by the packets so far
    std::uint32_t _segment_ts = 0;     // current segment's timestamp
    std::uint32_t _segment_start = 0;  // elapsed at the segment's start
    bool _first = false;               // the next packet is the first
    unsigned _ends_sent = 0;

    std::array<pending, queue_capacity> _queue{};
    std::size_t _queue_head = 0;
    std::size_t _queued = 0;
};

}  // namespace sbc::transcoder::dtmf
