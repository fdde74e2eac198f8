// The RTP fixed header as the codec chain reads and writes it (RFC 3550 5.1).
// The chain owns the header of what it sends (its own SSRC, sequence and
// timestamp), so it parses only what it needs of what arrives and writes a
// plain 12-octet header: no CSRC list, no extension, no padding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace sbc::transcoder {

struct rtp_view {
    bool marker = false;
    std::uint8_t payload_type = 0;
    std::uint16_t sequence = 0;
    std::uint32_t timestamp = 0;
    std::uint32_t ssrc = 0;
    std::span<const std::uint8_t> payload{};
};

constexpr std::size_t rtp_header_octets = 12;

/// Parses an RTP packet; nullopt when it is not version 2 or its lengths
/// (CSRC list, extension, padding) do not fit in `packet`.
inline std::optional<rtp_view> parse_rtp(std::span<const std::uint8_t> packet) noexcept {
    if (packet.size() < rtp_header_octets || (packet[0] >> 6) != 2) {
        return std::nullopt;
    }
    rtp_view v;
    v.marker = (packet[1] & 0x80) != 0;
    v.payload_type = packet[1] & 0x7f;
    v.sequence = static_cast<std::uint16_t>(packet[2] << 8 | packet[3]);
    v.timestamp = static_cast<std::uint32_t>(packet[4]) << 24 |
                  static_cast<std::uint32_t>(packet[5]) << 16 |
                  static_cast<std::uint32_t>(packet[6]) << 8 | packet[7];
    v.ssrc = static_cast<std::uint32_t>(packet[8]) << 24 |
             static_cast<std::uint32_t>(packet[9]) << 16 |
             static_cast<std::uint32_t>(packet[10]) << 8 | packet[11];
    std::size_t start = rtp_header_octets + 4u * (packet[0] & 0x0f);
    std::size_t end = packet.size();
    if ((packet[0] & 0x10) != 0) {
        // RFC 3550 5.3.1: a 4-octet extension header giving its length in words.
        if (start + 4 > end) {
            return std::nullopt;
        }
        start += 4 + 4u * static_cast<std::size_t>(packet[start + 2] << 8 | packet[start + 3]);
    }
    if ((packet[0] & 0x20) != 0) {
        // RFC 3550 5.1: the last octet counts the padding, itself included.
        const std::size_t pad = packet[end - 1];
        if (pad == 0 || pad > end) {
            return std::nullopt;
        }
        end -= pad;
    }
    if (start > end) {
        return std::nullopt;
    }
    v.payload = packet.subspan(start, end - start);
    return v;
}

/// Writes a 12-octet version-2 header at the start of `out` (which must hold it).
inline void write_rtp_header(std::span<std::uint8_t> out, bool marker, std::uint8_t pt,
                             std::uint16_t seq, std::uint32_t ts, std::uint32_t ssrc) noexcept {
    out[0] = 0x80;
    out[1] = static_cast<std::uint8_t>((marker ? 0x80 : 0) | (pt & 0x7f));
    out[2] = static_cast<std::uint8_t>(seq >> 8);
    out[3] = static_cast<std::uint8_t>(seq);
    out[4] = static_cast<std::uint8_t>(ts >> 24);
    out[5] = static_cast<std::uint8_t>(ts >> 16);
    out[6] = static_cast<std::uint8_t>(ts >> 8);
    out[7] = static_cast<std::uint8_t>(ts);
    out[8] = static_cast<std::uint8_t>(ssrc >> 24);
    out[9] = static_cast<std::uint8_t>(ssrc >> 16);
    out[10] = static_cast<std::uint8_t>(ssrc >> 8);
    out[11] = static_cast<std::uint8_t>(ssrc);
}

}  // namespace sbc::transcoder
