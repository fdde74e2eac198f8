// G.722 (ITU-T G.722, sub-band ADPCM, 7 kHz wideband) at 64 kbit/s through
// spandsp: RTP/AVP static payload type 9, RFC 3551 4.5.2.
//
// Its RTP clock is not its sampling rate. G.722 samples at 16000 Hz, but
// RFC 3551 4.5.2 keeps the 8000 Hz clock RFC 1890 gave it by mistake: the
// rtpmap says "G722/8000" and the timestamp advances by 160 per 20 ms, while
// the packet holds 320 samples in 160 octets (one octet per pair of 16 kHz
// samples). codec_info::clock_rate is that 8000; pcm_rates say what the
// encoder and decoder really work at, and the codec chain converts between
// the two (transcoder/chain/rtp_clock.hpp).
//
// PCM rates: 16000, the codec's own, and 8000, spandsp's narrowband mode:
// the decoder then gives the lower sub-band alone (0-4 kHz, what a G.711 or
// G.729 leg carries, without the QMF synthesis or a resampler), the encoder
// codes 8 kHz audio into the lower sub-band and leaves the upper one empty.
// Both ends of that mode are ordinary G.722 on the wire.
//
// Loss: G.722 has no concealment of its own in spandsp; the decoder runs
// spandsp's PLC (pitch-period repetition, faded out) at its PCM rate. That
// PLC is tuned for 8000 Hz (pitch periods of 5 to 15 ms); at 16000 Hz it
// looks for periods of 2.5 to 7.5 ms and fades out in 25 ms instead of 50,
// which still fills a lost 20 ms packet without a click or a hole.
//
// The registry (transcoder/registry.cpp) lists g722_codec.
#pragma once

#include "transcoder/api/codec.hpp"

namespace sbc::transcoder {

/// G722/8000 (16 kHz audio), static payload type 9.
extern const codec_info g722_codec;

}  // namespace sbc::transcoder
