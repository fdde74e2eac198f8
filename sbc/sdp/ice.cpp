// ice: the SBC's ICE-lite attributes (RFC 8839) and credentials (RFC 8445 5.3).
#include "sbc/sdp/ice.hpp"

#include <fmt/format.h>

#include <array>

namespace sbc::sdp {

namespace {

// RFC 8839 5.4: ice-char = ALPHA / DIGIT / "+" / "/": 64 of them, so one
// random byte's low six bits pick one without bias.
constexpr std::string_view ice_chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static_assert(ice_chars.size() == 64);

constexpr std::size_t ufrag_length = 8;
constexpr std::size_t pwd_length = 24;

}  // namespace

std::string host_candidate(unsigned component, const std::string& address, std::uint16_t port) {
    // RFC 8839 5.1: foundation SP component-id SP transport SP priority SP
    // connection-address SP port SP "typ" SP candidate-types
    return fmt::format("1 {} UDP {} {} {} typ host", component, host_candidate_priority(component),
                       address, port);
}

std::vector<ice_line> ice_media_lines(const ice_attributes& local, const std::string& address,
                                      std::uint16_t rtp_port, bool rtcp_muxed) {
    std::vector<ice_line> lines{{"ice-ufrag", local.ufrag},
                                {"ice-pwd", local.pwd},
                                {"candidate", host_candidate(1, address, rtp_port)}};
    // RFC 8839 5.1.1 (and RFC 5761 5.1.3): without multiplexing, RTCP is
    // component 2; a muxed stream has one component only.
    if (!rtcp_muxed && rtp_port < 65535) {
        lines.push_back(
            {"candidate", host_candidate(2, address, static_cast<std::uint16_t>(rtp_port + 1))});
    }
    return lines;
}

std::vector<ice_line> ice_session_lines() { return {{"ice-lite", ""}, {"ice-options", "ice2"}}; }

std::optional<ice_attributes> make_ice_credentials(random_source random) {
    std::array<std::uint8_t, ufrag_length + pwd_length> bytes{};
    if (random == nullptr || !random(bytes)) {
        return std::nullopt;
    }
    ice_attributes out;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        (i < ufrag_length ? out.ufrag : out.pwd).push_back(ice_chars[bytes[i] & 0x3f]);
    }
    bytes.fill(0);
    return out;
}

}  // namespace sbc::sdp
