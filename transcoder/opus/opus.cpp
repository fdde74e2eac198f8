// Opus encoder and decoder over libopus, and the registry entry.
#include "transcoder/opus/opus.hpp"

#include <opus/opus.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "sbc/common/c_handle.hpp"

namespace sbc::transcoder {

namespace {

// RFC 7587 4.1: the RTP clock is 48 kHz whatever the rate of the audio.
constexpr std::uint32_t opus_clock_rate = 48000;
// The rates libopus encodes and decodes at directly (opus_encoder_create).
constexpr std::array<std::uint32_t, 5> opus_pcm_rates{8000, 12000, 16000, 24000, 48000};

// What the encoder leaves to the network: RFC 7587 3.4 lets a DTX sender
// skip packets; opus.h: an encoded packet of 2 octets or less "does not need
// to be transmitted".
constexpr int dtx_max_octets = 2;
// The loss rate the encoder spends FEC bits for when the receiver can use
// them; a guess for a managed VoIP network, as libopus has no measurement.
constexpr int fec_loss_percent = 5;
constexpr int complexity = 5;
// RFC 7587 7.1: maxaveragebitrate ranges from 6000 to 510000 bit/s.
constexpr std::uint32_t min_bitrate = 6000;
constexpr std::uint32_t max_bitrate = 510000;

using opus_encoder_handle = c_handle<OpusEncoder, opus_encoder_destroy>;
using opus_decoder_handle = c_handle<OpusDecoder, opus_decoder_destroy>;

int clamp_to_int(std::size_t n) noexcept {
    return static_cast<int>(std::min<std::size_t>(n, INT_MAX));
}

class opus_encoder final : public encoder {
public:
    opus_encoder(opus_encoder_handle enc, std::uint32_t rate, std::size_t samples)
        : _enc(std::move(enc)), _rate(rate), _samples(samples) {}

    std::uint32_t sample_rate() const noexcept override { return _rate; }
    std::size_t packet_samples() const noexcept override { return _samples; }

    int encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept override {
        if (pcm.size() != _samples) {
            return -1;
        }
        const opus_int32 n = opus_encode(_enc.get(), pcm.data(), static_cast<int>(_samples),
                                         out.data(), clamp_to_int(out.size()));
        if (n < 0) {
            return -1;
        }
        return n <= dtx_max_octets ? 0 : static_cast<int>(n);
    }

private:
    opus_encoder_handle _enc;
    std::uint32_t _rate;
    std::size_t _samples;
};

class opus_decoder final : public decoder {
public:
    opus_decoder(opus_decoder_handle dec, std::uint32_t rate) : _dec(std::move(dec)), _rate(rate) {}

    std::uint32_t sample_rate() const noexcept override { return _rate; }

    int decode(std::span<const std::uint8_t> payload,
               std::span<std::int16_t> pcm) noexcept override {
        if (payload.empty()) {
            return 0;  // nothing to play; libopus would conceal instead
        }
        // RFC 6716 3: the TOC and frame count give the duration; refuse a
        // packet that is malformed or longer than the room the caller has.
        const int len = clamp_to_int(payload.size());
        const int samples =
            opus_packet_get_nb_samples(payload.data(), len, static_cast<opus_int32>(_rate));
        if (samples <= 0 || static_cast<std::size_t>(samples) > pcm.size()) {
            return -1;
        }
        const int n = opus_decode(_dec.get(), payload.data(), len, pcm.data(), samples, 0);
        return n < 0 ? -1 : n;
    }

    int conceal(std::span<std::int16_t> pcm) noexcept override {
        // libopus extrapolates from its state (PLC); the span must be a
        // multiple of 2.5 ms, which every ptime is.
        if (pcm.empty()) {
            return 0;
        }
        const int n = opus_decode(_dec.get(), nullptr, 0, pcm.data(), clamp_to_int(pcm.size()), 0);
        return n < 0 ? -1 : n;
    }

    int recover(std::span<const std::uint8_t> next, std::span<std::int16_t> pcm) noexcept override {
        // RFC 7587 3.3 / RFC 6716 2.1.7: `next` may carry a low-bitrate copy
        // (LBRR) of the lost packet; decode_fec=1 decodes that copy for the
        // last frame of the span and conceals any earlier part. Without
        // FEC in `next`, libopus conceals. The caller decodes `next` itself
        // afterwards.
        if (next.empty()) {
            return conceal(pcm);
        }
        if (pcm.empty()) {
            return 0;
        }
        const int n = opus_decode(_dec.get(), next.data(), clamp_to_int(next.size()), pcm.data(),
                                  clamp_to_int(pcm.size()), 1);
        return n < 0 ? -1 : n;
    }

private:
    opus_decoder_handle _dec;
    std::uint32_t _rate;
};

void check_opus_rate(std::uint32_t pcm_rate) {
    if (std::find(opus_pcm_rates.begin(), opus_pcm_rates.end(), pcm_rate) == opus_pcm_rates.end()) {
        throw std::runtime_error("opus: PCM rate " + std::to_string(pcm_rate) +
                                 " unsupported (8000, 12000, 16000, 24000 or 48000)");
    }
}

int max_bandwidth(std::uint32_t max_playback_rate) noexcept {
    // RFC 7587 7.1: maxplaybackrate caps what is worth encoding; these are
    // the sampling rates of the Opus bandwidths (RFC 6716 2, Table 1).
    if (max_playback_rate <= 8000) {
        return OPUS_BANDWIDTH_NARROWBAND;
    }
    if (max_playback_rate <= 12000) {
        return OPUS_BANDWIDTH_MEDIUMBAND;
    }
    if (max_playback_rate <= 16000) {
        return OPUS_BANDWIDTH_WIDEBAND;
    }
    if (max_playback_rate <= 24000) {
        return OPUS_BANDWIDTH_SUPERWIDEBAND;
    }
    return OPUS_BANDWIDTH_FULLBAND;
}

void check_ctl(int result, const char* what) {
    if (result != OPUS_OK) {
        throw std::runtime_error(std::string("opus: the encoder refused ") + what + ": " +
                                 opus_strerror(result));
    }
}

std::unique_ptr<encoder> make_opus_encoder(const audio_format& f, std::uint32_t pcm_rate) {
    check_opus_rate(pcm_rate);
    // RFC 7587 7.1: ptime in ms; Opus frames are 2.5 to 60 ms and a packet
    // of 40 or 60 ms holds several 20 ms frames. 10 ms is the shortest
    // frame SILK takes, so it is the shortest worth negotiating.
    if (f.ptime_ms != 10 && f.ptime_ms != 20 && f.ptime_ms != 40 && f.ptime_ms != 60) {
        throw std::runtime_error("opus: ptime " + std::to_string(f.ptime_ms) +
                                 " ms unsupported (10, 20, 40 or 60)");
    }
    int err = OPUS_OK;
    // Mono: RFC 7587 3.4 lets a sender send mono to a receiver that prefers
    // stereo (stereo=1), and the SBC has only mono audio to send.
    opus_encoder_handle enc{
        opus_encoder_create(static_cast<opus_int32>(pcm_rate), 1, OPUS_APPLICATION_VOIP, &err)};
    if (err != OPUS_OK || !enc) {
        throw std::runtime_error(std::string("opus: opus_encoder_create refused: ") +
                                 opus_strerror(err));
    }
    OpusEncoder* e = enc.get();
    check_ctl(opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(complexity)), "complexity");
    check_ctl(opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(max_bandwidth(f.max_playback_rate))),
              "max bandwidth");
    if (f.use_inband_fec) {
        // RFC 7587 3.3: FEC only pays when the receiver decodes it.
        check_ctl(opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1)), "in-band FEC");
        check_ctl(opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(fec_loss_percent)), "loss rate");
    }
    if (f.use_dtx) {
        // RFC 7587 3.4 / 7.1 usedtx=1: the receiver prefers DTX.
        check_ctl(opus_encoder_ctl(e, OPUS_SET_DTX(1)), "DTX");
    }
    if (f.max_average_bitrate != 0) {
        // RFC 7587 7.1 maxaveragebitrate: the receiver's cap on our rate.
        const std::uint32_t bitrate = std::clamp(f.max_average_bitrate, min_bitrate, max_bitrate);
        check_ctl(opus_encoder_ctl(e, OPUS_SET_BITRATE(static_cast<opus_int32>(bitrate))),
                  "bitrate");
    }
    const std::size_t samples = std::size_t{pcm_rate} * f.ptime_ms / 1000;
    return std::make_unique<opus_encoder>(std::move(enc), pcm_rate, samples);
}

std::unique_ptr<decoder> make_opus_decoder(const audio_format& /*f*/, std::uint32_t pcm_rate) {
    // Whatever the sender's channels and bandwidth (sprop-stereo,
    // sprop-maxcapturerate), libopus decodes to the mono rate asked for.
    check_opus_rate(pcm_rate);
    int err = OPUS_OK;
    opus_decoder_handle dec{opus_decoder_create(static_cast<opus_int32>(pcm_rate), 1, &err)};
    if (err != OPUS_OK || !dec) {
        throw std::runtime_error(std::string("opus: opus_decoder_create refused: ") +
                                 opus_strerror(err));
    }
    return std::make_unique<opus_decoder>(std::move(dec), pcm_rate);
}

}  // namespace

// RFC 7587 7: "opus/48000/2" on a dynamic payload type.
constinit const codec_info opus_codec{
    .encoding = "opus",
    .clock_rate = opus_clock_rate,
    .static_payload_type = -1,
    .sdp_channels = 2,
    .pcm_rates = opus_pcm_rates,
    .make_encoder = make_opus_encoder,
    .make_decoder = make_opus_decoder,
};

}  // namespace sbc::transcoder
