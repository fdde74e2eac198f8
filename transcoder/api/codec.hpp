// The codec interface of the transcoder: what the data plane's codec chain
// (transcoder/chain) sees of a codec, and the registry the control plane
// asks which formats the SBC can transcode.
//
// Object graph: the control plane negotiates an audio_format per leg (from
// the rtpmap and fmtp lines of the SDP), asks the registry for the codec and
// creates its encoder and decoder (which allocate); it hands them to the
// worker that owns the stream inside a codec chain. From then on only that
// worker calls them, and no call allocates, locks or throws.
//
// Adding a codec touches one file (its encoder, decoder and codec_info) and
// one line of registration in transcoder/registry.cpp.
//
// Two rates, never to be confused: a format's RTP clock (the rtpmap's rate,
// what timestamps count) and the PCM rate its encoder and decoder work at
// (what sample counts count). They are equal for G.711 and G.729 only:
// G.722 samples at 16000 Hz on an 8000 Hz clock (RFC 3551 4.5.2), Opus runs
// at any of five rates on a 48000 Hz clock (RFC 7587 4.1). The codec chain
// converts between them in one place (transcoder/chain/rtp_clock.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sbc::transcoder {

/// One negotiated audio format: an rtpmap line and what its fmtp said.
struct audio_format {
    std::string encoding;  ///< as in the rtpmap: "PCMU", "G729", "opus"...
    /// The RTP clock, not the PCM rate (opus: always 48000, RFC 7587 4.1;
    /// G722: 8000 for 16 kHz audio, RFC 3551 4.5.2).
    std::uint32_t clock_rate = 8000;
    unsigned channels = 1;  ///< rtpmap channels (opus: always 2 in SDP)
    std::uint8_t payload_type = 0;
    unsigned ptime_ms = 20;  ///< audio per packet this leg sends and receives

    /// G.729 Annex B (VAD, DTX, SID frames): only with annexb=yes (RFC 4856
    /// 2.1.9 makes it the default when absent; the SBC offers annexb=no).
    bool annexb = false;

    // Opus (RFC 7587 7.1). What the receiver on this leg takes and the
    // sender on this leg produces; defaults are the RFC's.
    std::uint32_t max_playback_rate = 48000;       ///< maxplaybackrate: caps the encoder's band
    std::uint32_t sprop_max_capture_rate = 48000;  ///< sprop-maxcapturerate
    bool stereo = false;                           ///< the receiver prefers stereo
    bool use_inband_fec = false;                   ///< useinbandfec=1: the receiver can use FEC
    bool use_dtx = false;                          ///< usedtx=1: the receiver prefers DTX
    std::uint32_t max_average_bitrate = 0;         ///< maxaveragebitrate; 0: the encoder's choice
};

/// Turns one packet's payload into 16-bit PCM, mono, at sample_rate().
/// Owned by one codec chain; called on its worker only. noexcept throughout:
/// a malformed payload from the network returns -1 and is counted, never thrown.
class decoder {
public:
    virtual ~decoder() = default;

    /// The PCM rate this decoder produces (chosen when it was made).
    virtual std::uint32_t sample_rate() const noexcept = 0;

    /// Decodes `payload` into `pcm`. Returns the samples written, 0 for a
    /// payload that carries no audio to play (an Annex B SID frame updates
    /// the noise state and returns its comfort noise instead, if any), or -1
    /// when the payload is malformed or `pcm` is too small.
    virtual int decode(std::span<const std::uint8_t> payload,
                       std::span<std::int16_t> pcm) noexcept = 0;

    /// Packet-loss concealment: fills `pcm` (exactly the lost packet's
    /// duration) from the decoder's state. Returns the samples written or -1.
    virtual int conceal(std::span<std::int16_t> pcm) noexcept = 0;

    /// Recovers a lost packet from the in-band FEC (RFC 7587 3.3) that
    /// `next`, the packet after it, carries, filling `pcm` (the lost
    /// duration). Codecs without FEC conceal instead.
    virtual int recover(std::span<const std::uint8_t> next, std::span<std::int16_t> pcm) noexcept {
        (void)next;
        return conceal(pcm);
    }
};

/// Turns PCM (mono, at sample_rate()) into one packet's payload.
class encoder {
public:
    virtual ~encoder() = default;

    virtual std::uint32_t sample_rate() const noexcept = 0;

    /// The samples one packet takes: the format's ptime at sample_rate().
    virtual std::size_t packet_samples() const noexcept = 0;

    /// Encodes exactly packet_samples() samples into `out`. Returns the
    /// payload octets, 0 when there is nothing to send (discontinuous
    /// transmission: Annex B or Opus DTX during silence), or -1 on error.
    virtual int encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept = 0;
};

/// What the registry knows of one codec.
struct codec_info {
    std::string_view encoding;  ///< rtpmap encoding name, compared case-insensitively
    std::uint32_t clock_rate;   ///< RTP clock rate (not a PCM rate: see the top of this file)
    int static_payload_type;    ///< RFC 3551 static type, or -1 for a dynamic one
    unsigned sdp_channels;      ///< channels written in the rtpmap (opus: 2)
    /// The PCM rates its decoder and encoder can work at, lowest first:
    /// the chain picks one and resamples between the two ends if they differ.
    std::span<const std::uint32_t> pcm_rates;
    /// Make the encoder or decoder for `f` at PCM rate `pcm_rate` (one of
    /// pcm_rates). Control thread; may allocate; throws std::runtime_error
    /// naming what the library refused.
    std::unique_ptr<encoder> (*make_encoder)(const audio_format& f, std::uint32_t pcm_rate);
    std::unique_ptr<decoder> (*make_decoder)(const audio_format& f, std::uint32_t pcm_rate);
};

/// The codecs the SBC can transcode: PCMU, PCMA, G722, G729, opus. (telephone-event
/// and CN are not audio codecs: the chain maps them, see transcoder/chain.)
std::span<const codec_info* const> registered_codecs() noexcept;

/// The registry's entry for an rtpmap encoding name and clock rate, or null.
const codec_info* find_codec(std::string_view encoding, std::uint32_t clock_rate) noexcept;

/// The PCM rate at which a chain from `from` to `to` works best: the encoder
/// side's rate for the band negotiated (opus: from maxplaybackrate), which
/// the decoder produces directly where it can.
std::uint32_t encoder_pcm_rate(const codec_info& to, const audio_format& f) noexcept;

/// The PCM rate `from`'s decoder runs at in a chain working at `pcm_rate`:
/// that rate where the decoder has it, else the lowest above it (the
/// resampler then drops only what the chain has no band for), else the
/// highest below it.
std::uint32_t decoder_pcm_rate(const codec_info& from, std::uint32_t pcm_rate) noexcept;

}  // namespace sbc::transcoder
