// G.711 (ITU-T G.711, 1988): the two 64 kbit/s log-PCM codecs every SIP
// peer speaks, PCMU (mu-law, RTP/AVP static payload type 0) and PCMA
// (A-law, static payload type 8), RFC 3551 4.5.14. One octet per sample at
// 8000 Hz, so a packet of any ptime is that many octets and needs no framing.
//
// The registry (transcoder/registry.cpp) lists pcmu_codec and pcma_codec;
// the per-sample conversions are exposed for the tests and for anything
// else that needs G.711 without a codec object (tones, prompts).
#pragma once

#include <cstdint>

#include "transcoder/api/codec.hpp"

namespace sbc::transcoder {

/// PCMU/8000, static payload type 0.
extern const codec_info pcmu_codec;
/// PCMA/8000, static payload type 8.
extern const codec_info pcma_codec;

namespace g711 {

/// A 16-bit linear sample to its mu-law octet (as transmitted: inverted).
std::uint8_t linear_to_ulaw(std::int16_t sample) noexcept;
/// A mu-law octet to its 16-bit linear value (G.711 Table 2a, scaled by 4).
std::int16_t ulaw_to_linear(std::uint8_t code) noexcept;
/// A 16-bit linear sample to its A-law octet (as transmitted: even bits inverted).
std::uint8_t linear_to_alaw(std::int16_t sample) noexcept;
/// An A-law octet to its 16-bit linear value (G.711 Table 1a, scaled by 8).
std::int16_t alaw_to_linear(std::uint8_t code) noexcept;

}  // namespace g711
}  // namespace sbc::transcoder
