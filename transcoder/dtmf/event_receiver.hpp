// The receiving side of RFC 4733 telephone-events: turns the event packets
// of one RTP stream into digits, each reported once when it starts and once
// when it ends, whatever the sender's retransmissions, losses and reordering.
//
// Object graph: a codec chain (or a relay of events between two legs) owns
// one receiver per inbound stream that negotiated telephone-event, and feeds
// it the packets of that payload type, on the worker that owns the stream.
// Completed digits wait in a small fixed ring until the owner take()s them;
// nothing allocates after construction, nothing throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "transcoder/dtmf/telephone_event.hpp"

namespace sbc::transcoder::dtmf {

/// One completed digit.
struct digit {
    char symbol = '\0';                  ///< '0'-'9', '*', '#', 'A'-'D', flash_symbol
    std::uint32_t duration_samples = 0;  ///< in timestamp units of the stream's clock
    std::uint32_t rtp_timestamp = 0;     ///< the event's start (RFC 4733 2.3: the RTP timestamp)

    friend bool operator==(const digit&, const digit&) = default;
};

/// A digit that has just begun: a relay can start forwarding it, a chain
/// start playing its tone, before the end is known.
struct digit_start {
    char symbol = '\0';
    std::uint32_t rtp_timestamp = 0;

    friend bool operator==(const digit_start&, const digit_start&) = default;
};

/// What one packet did.
struct feed_result {
    std::optional<digit_start> started;  ///< this packet began a new digit
    unsigned ended = 0;                  ///< digits it completed, waiting in take()
};

/// Why packets were not used, and how digits ended. Counted, never logged.
struct receiver_counters {
    std::uint64_t malformed = 0;      ///< length not a positive multiple of 4
    std::uint64_t not_dtmf = 0;       ///< event codes above 16 (RFC 4733 3.2): ignored
    std::uint64_t stale = 0;          ///< packets of an event already ended, or older
    std::uint64_t end_missing = 0;    ///< digits closed by the next event or expire()
    std::uint64_t ring_overflow = 0;  ///< digits dropped: take() was not called in time
};

class event_receiver {
public:
    /// Completed digits the receiver holds before the owner take()s them.
    static constexpr std::size_t ring_capacity = 8;

    /// How far (timestamp units) before the newest event a packet counts as a
    /// late one rather than a sign that the sender's timestamps jumped back:
    /// four maximal segments (33 s at 8000 Hz, 5.4 s at 48000 Hz).
    static constexpr std::uint32_t stale_window = 4 * 0xffffu;

    /// Handles one telephone-event packet: its RTP timestamp, marker bit and
    /// payload. RFC 4733 2.5.2: the timestamp identifies the event, so
    ///  - updates and the (typically three, 2.5.1.4) end packets of one event
    ///    complete it once; later packets of it are ignored as stale;
    ///  - a newer timestamp while an event is open ends that event with the
    ///    last duration seen (its end packets were lost), then starts the new
    ///    one; a lost start packet is no problem, the marker is not required;
    ///  - a segment of a long event (2.5.1.3: same event, no marker, a
    ///    timestamp 0xFFFF after the previous segment's) extends the event;
    ///  - packets older than the newest event are ignored as stale, unless
    ///    far older (stale_window): then the sender's clock jumped, and the
    ///    packet starts a new event;
    ///  - several events packed in one packet (2.5.1.5, 2.5.2.4) are taken in
    ///    order, each starting where the one before it ended.
    feed_result feed(std::uint32_t rtp_timestamp, bool marker,
                     std::span<const std::uint8_t> payload) noexcept;

    /// Ends the open event with the last duration seen, for when its end
    /// packets never came. The caller decides when, from its clock: e.g. no
    /// update for three update intervals, or 200 ms. Returns true when an
    /// event was open and is now in take().
    bool expire() noexcept;

    /// The oldest completed digit, removing it; nullopt when there is none.
    std::optional<digit> take() noexcept;

    /// The digit in progress, if any.
    std::optional<digit_start> current() const noexcept;

    const receiver_counters& counters() const noexcept { return _counters; }

    /// Forgets every event (a new SSRC, a re-INVITE); keeps the counters.
    void reset() noexcept;

private:
    struct open_event {
        std::uint8_t event = 0;
        std::uint32_t start_ts = 0;        // the first segment's timestamp
        std::uint32_t segment_ts = 0;      // the current segment's (2.5.1.3)
        std::uint32_t before_segment = 0;  // duration of the segments before it
        std::uint16_t segment_duration = 0;
    };

    void handle_block(std::uint32_t ts, bool marker, const event_payload& e,
                      feed_result& result) noexcept;
    void close(feed_result* result) noexcept;
    void push(const digit& d) noexcept;

    std::optional<open_event> _open;
    // The newest segment timestamp seen, open or ended: packets at it that
    // are not the open event's, and packets shortly before it, are stale.
    std::optional<std::uint32_t> _newest_ts;

    std::array<digit, ring_capacity> _ring{};
    std::size_t _ring_head = 0;
    std::size_t _ring_size = 0;

    receiver_counters _counters;
};

}  // namespace sbc::transcoder::dtmf
