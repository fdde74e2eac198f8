// Opus (RFC 6716) through libopus, carried as RFC 7587 says: always
// "opus/48000/2" in the rtpmap, whatever the audio inside (4.1, 7), on a
// dynamic payload type. The SBC encodes mono (a receiver's stereo=1 is a
// preference; mono is always allowed, 3.4) at the PCM rate the chain picks
// from maxplaybackrate, and honours the receiver's useinbandfec, usedtx and
// maxaveragebitrate (7.1). The decoder gives mono at any of the rates and
// can rebuild a lost packet from the in-band FEC of the next one (3.3).
//
// The registry (transcoder/registry.cpp) lists opus_codec.
#pragma once

#include "transcoder/api/codec.hpp"

namespace sbc::transcoder {

/// opus/48000/2, dynamic payload type.
extern const codec_info opus_codec;

}  // namespace sbc::transcoder
