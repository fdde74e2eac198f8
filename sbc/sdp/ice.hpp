// ICE in SDP as the SBC states it where it is an ICE-lite agent (RFC 8445
// 2.5, SDP grammar of RFC 8839): the credentials of one side and the SBC's
// host candidates, as attribute values the SDP writers put on a stream.
//
// A lite agent gathers only host candidates (RFC 8445 5.1.1.1), one per
// component: the SBC's media address and port on the leg. It sends no
// checks, so it has no use for the peer's candidates; the peer's
// credentials only name it in the USERNAME of the checks it sends.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sbc::sdp {

/// One side's a=ice-ufrag and a=ice-pwd (RFC 8839 5.4). The pwd is a key
/// (it keys MESSAGE-INTEGRITY, RFC 8489 9.1): never log it.
struct ice_attributes {
    std::string ufrag;
    std::string pwd;
    bool operator==(const ice_attributes&) const = default;
};

/// RFC 8445 5.1.2.1: priority = 2^24 * type preference + 2^8 * local
/// preference + (256 - component ID), with 126 for host candidates and the
/// highest local preference (65535), the SBC having one address per leg.
constexpr std::uint32_t host_candidate_priority(unsigned component) noexcept {
    return (std::uint32_t{126} << 24) | (std::uint32_t{65535} << 8) | (256U - component);
}

/// The value of one host a=candidate line (RFC 8839 5.1): foundation "1"
/// (both components share base and type, RFC 8445 5.1.1.3), the component,
/// UDP, its priority, `address` and `port`, "typ host".
std::string host_candidate(unsigned component, const std::string& address, std::uint16_t port);

/// A name and value of an attribute line ("" value: a flag attribute).
struct ice_line {
    const char* name;
    std::string value;
};

/// What the anchored stream carries: ice-ufrag, ice-pwd, and a candidate
/// for component 1 (RTP on `rtp_port`) and, unless `rtcp_muxed`, one for
/// component 2 (RTCP on the next port, where a=rtcp sends it).
std::vector<ice_line> ice_media_lines(const ice_attributes& local, const std::string& address,
                                      std::uint16_t rtp_port, bool rtcp_muxed);

/// Session level: a=ice-lite (RFC 8839 5.3) and a=ice-options:ice2 (RFC
/// 8445 10: an agent of RFC 8445 says so).
std::vector<ice_line> ice_session_lines();

/// Fresh credentials from `random` (a CSPRNG; false when it failed): a
/// ufrag of 8 ice-chars (48 bits, RFC 8445 5.3 asks 24) and a pwd of 24
/// (144 bits, RFC 8445 5.3 asks 128). nullopt when the generator failed.
using random_source = bool (*)(std::span<std::uint8_t>) noexcept;
std::optional<ice_attributes> make_ice_credentials(random_source random);

}  // namespace sbc::sdp
