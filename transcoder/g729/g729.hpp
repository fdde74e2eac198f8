// G.729 (ITU-T G.729, CS-ACELP at 8 kbit/s) through bcg729: RTP/AVP static
// payload type 18, RFC 3551 4.5.6. A packet carries ptime/10 frames of
// 10 octets; with Annex B (annexb=yes, RFC 4856 2.1.9) the encoder runs its
// VAD and sends a 2-octet SID frame, always last in a packet, or nothing
// while the speaker is silent, and the decoder makes comfort noise from it.
//
// The registry (transcoder/registry.cpp) lists g729_codec.
#pragma once

#include "transcoder/api/codec.hpp"

namespace sbc::transcoder {

/// G729/8000, static payload type 18.
extern const codec_info g729_codec;

}  // namespace sbc::transcoder
