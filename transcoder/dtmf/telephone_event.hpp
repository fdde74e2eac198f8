// The RFC 4733 telephone-event payload: reading and writing the 4-octet
// event block, and the mapping between DTMF symbols and event codes.
//
// Used by the event receiver and sender (RTP side) and by the SIP INFO
// bodies (signalling side), so that every part of the SBC agrees on which
// character stands for which event. Pure functions; noexcept; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace sbc::transcoder::dtmf {

/// RFC 4733 2.3: the octets of one event block.
inline constexpr std::size_t event_payload_size = 4;

/// RFC 4733 2.5.1.3: the largest duration one segment's field holds; a
/// longer event goes on in a new segment whose timestamp is the previous
/// one's plus this.
inline constexpr std::uint32_t segment_span = 0xffff;

/// RFC 4733 2.3.4: the volume field has 6 bits (0 to -63 dBm0).
inline constexpr std::uint8_t max_volume = 63;

/// RFC 4733 3.2: the highest DTMF event code (16, flash).
inline constexpr std::uint8_t max_dtmf_event = 16;

/// The symbol this module uses for event 16 (flash, hook flash): it has no
/// key of its own, so '!' (as in several PBX dial strings) stands for it.
inline constexpr char flash_symbol = '!';

/// One event block (RFC 4733 2.3).
struct event_payload {
    std::uint8_t event = 0;      ///< event code (RFC 4733 3.2 for DTMF)
    bool end = false;            ///< E bit: the final packet(s) of the event
    std::uint8_t volume = 0;     ///< power level, 0..63 meaning 0..-63 dBm0
    std::uint16_t duration = 0;  ///< timestamp units since the event's start

    friend bool operator==(const event_payload&, const event_payload&) = default;
};

/// Reads a telephone-event payload. RFC 4733 2.5.1.5 lets a sender pack
/// several consecutive events into one packet, earlier (ended) ones first,
/// the RTP timestamp being the first one's start: the last block is the
/// newest event, so it is the one returned (it starts at the timestamp plus
/// the durations of the blocks before it; parse_event_block() reads each).
/// The R bit is reserved (2.3.3) and ignored. Returns nullopt for an empty
/// payload or a length that is not a multiple of 4 octets.
std::optional<event_payload> parse_event(std::span<const std::uint8_t> payload) noexcept;

/// The number of 4-octet blocks in `payload`, or 0 when its length is not a
/// positive multiple of 4.
std::size_t event_block_count(std::span<const std::uint8_t> payload) noexcept;

/// Reads block `index` (0 first) of a payload event_block_count() accepted.
/// Precondition: index < event_block_count(payload).
event_payload parse_event_block(std::span<const std::uint8_t> payload, std::size_t index) noexcept;

/// Writes `e` as one event block (R bit 0, volume masked to 6 bits).
/// Returns 4, or 0 when `out` has fewer than 4 octets.
std::size_t write_event(const event_payload& e, std::span<std::uint8_t> out) noexcept;

/// RFC 4733 3.2: '0'-'9' -> 0-9, '*' -> 10, '#' -> 11, 'A'-'D' (or
/// 'a'-'d') -> 12-15, flash_symbol -> 16. nullopt for anything else.
std::optional<std::uint8_t> event_of(char symbol) noexcept;

/// The inverse of event_of() (upper-case 'A'-'D'), or '\0' for a code that
/// is not a DTMF event.
char digit_of(std::uint8_t event) noexcept;

/// True for the 16 keys of a DTMF keypad ('0'-'9', '*', '#', 'A'-'D',
/// upper or lower case): the symbols a tone can carry (flash cannot).
bool is_dtmf_key(char symbol) noexcept;

}  // namespace sbc::transcoder::dtmf
