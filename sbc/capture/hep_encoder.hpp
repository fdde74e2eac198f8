// HEP version 3 (the Homer Encapsulation Protocol, also called EEP), the
// format capture servers (Homer's heplify-server, sngrep, OpenSIPS,
// Kamailio's sipcapture) take captured messages in: "HEP3", the packet's
// total length, then chunks of type-length-value, all big-endian. The
// generic chunks (vendor 0) are those of the HEP3 specification
// (sipcapture/HEP: "HEP3 Network Protocol Specification", generic chunk
// types); the encoder writes only those.
//
// encode_hep() appends one packet to a caller's buffer, so an exporter can
// keep one buffer and reuse it; decode_hep() reads one back, for the tests
// and a receiver, and refuses anything malformed without reading past the
// input. Plain functions, no I/O, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/common/result.hpp"

namespace sbc::capture {

/// Chunk 0x000b, the "protocol type" of the payload.
enum class hep_proto_type : std::uint8_t {
    sip = 0x01,
    rtcp = 0x05,  ///< RTCP as JSON (what rtpengine sends, PROTO_RTCP_JSON)
    /// A JSON media quality report. The HEP3 protocol type registry
    /// (sipcapture/HEP, "ProtocolType (0x0b)") has 0x22 "MOS full report
    /// [JSON]" and 0x23 "MOS short report [JSON]"; heplify-server stores every
    /// JSON report type it has no table of its own for (all but SIP, RTCP,
    /// DNS, ISUP and log) in hep_proto_35_default, 35 being 0x23, which
    /// Homer's UI shows among a call's QoS reports. 0x23 it is, as the
    /// registry's "short" report: one summary per leg, not a time series.
    /// rtpengine's type, 0x05, is not for this: it carries one RTCP packet
    /// translated to JSON, which Homer reads as such (SSRCs, report blocks).
    qos_report = 0x23,
};

/// Chunk 0x0002, the IP protocol the captured message travelled on.
enum class hep_ip_protocol : std::uint8_t { tcp = 6, udp = 17, sctp = 132 };

/// One captured message and where it went. The views must stay valid
/// during encode_hep().
struct hep_record {
    hep_proto_type type = hep_proto_type::sip;
    hep_ip_protocol ip_protocol = hep_ip_protocol::udp;
    /// Both of one family (IPv4 or IPv6); their ports are the chunks 7 and 8.
    dataplane::ip_endpoint src;
    dataplane::ip_endpoint dst;
    /// When it was captured: system clock, microseconds since the Unix epoch.
    std::int64_t wall_us = 0;
    std::uint32_t capture_id = 0;     ///< chunk 0x000c, the capture agent's ID
    std::string_view password;        ///< chunk 0x000e when not empty
    std::string_view correlation_id;  ///< chunk 0x0011 when not empty
    std::string_view payload;         ///< chunk 0x000f, as captured
};

/// The largest packet HEP3 can frame: its length field has 16 bits.
inline constexpr std::size_t hep_max_packet = 0xffff;

/// How many bytes encode_hep() would append for `r`; 0 when it cannot
/// encode it (see encode_hep()).
std::size_t hep_encoded_size(const hep_record& r) noexcept;

/// Appends one HEP3 packet to `out`. False, and `out` unchanged, when `r`
/// cannot be encoded: src or dst invalid, of different families, or a
/// packet longer than hep_max_packet (a huge TCP SIP message). Allocates
/// only through `out`'s growth.
bool encode_hep(const hep_record& r, std::string& out);

/// One packet read back. The views point into decode_hep()'s input.
struct hep_packet {
    int family = 0;                ///< AF_INET or AF_INET6 (chunk 1's 0x02 or 0x0a)
    std::uint8_t ip_protocol = 0;  ///< chunk 2 as sent (6, 17, 132, ...)
    dataplane::ip_endpoint src;
    dataplane::ip_endpoint dst;
    std::uint32_t seconds = 0;                       ///< chunk 9
    std::uint32_t microseconds = 0;                  ///< chunk 10
    std::uint8_t proto_type = 0;                     ///< chunk 11 as sent
    std::uint32_t capture_id = 0;                    ///< chunk 12
    std::optional<std::string_view> password;        ///< chunk 14
    std::optional<std::string_view> correlation_id;  ///< chunk 17
    std::string_view payload;                        ///< chunk 15
};

/// How long the HEP3 packet starting `stream` is, from its header, for a
/// receiver that cuts a TCP stream into packets: nothing until 6 bytes are
/// there; an error when they are not a HEP3 header or name a length under 6.
result<std::optional<std::size_t>> hep_frame_length(std::string_view stream);

/// Reads exactly one packet: `packet` must be all of it, no more. Refuses
/// (with the reason) a wrong magic or length, a chunk that overruns the
/// packet or has the wrong size for its type, a repeated chunk, an address
/// family other than IPv4/IPv6 or addresses not of that family, and a
/// packet that lacks any of chunks 1, 2, 3/4 or 5/6, 7, 8, 9, 10, 11, 12
/// and 15. Chunks of other vendors and unknown generic types are skipped.
result<hep_packet> decode_hep(std::string_view packet);

}  // namespace sbc::capture
