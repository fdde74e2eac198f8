// G.722 encoder and decoder over spandsp, and the registry entry.
#include "transcoder/g722/g722.hpp"

// spandsp's headers use the fixed-width types without including their header.
#include <cstdint>

#include <spandsp/telephony.h>
// telephony.h first: g722.h uses its SPAN_DECLARE.
#include <spandsp/g722.h>
// The state structs, which spandsp installs for callers that hold them
// (spandsp.h exposes them with SPANDSP_EXPOSE_INTERNAL_STRUCTURES): the
// decoder's loss handling copies the ADPCM state between them.
#include <spandsp/private/g722.h>
// telephony.h defines lrint and lrintf as macros in C++; they would break
// a <cmath> that comes after this file in a unity build.
#undef lrint
#undef lrintf

#include <algorithm>
#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "sbc/common/c_handle.hpp"
#include "transcoder/plc/loss_concealer.hpp"

namespace sbc::transcoder {

namespace {

// RFC 3551 4.5.2: the RTP clock is 8000 Hz though the codec samples at 16000.
constexpr std::uint32_t g722_clock_rate = 8000;
constexpr std::uint32_t wideband_rate = 16000;
constexpr std::uint32_t narrowband_rate = 8000;
constexpr std::array<std::uint32_t, 2> g722_pcm_rates{narrowband_rate, wideband_rate};

// ITU-T G.722 mode 1, the one RTP carries (RFC 3551 4.5.2: a stream of
// octets at 8000 a second): 64 kbit/s, whatever the PCM rate.
constexpr int g722_bit_rate = 64000;
constexpr std::size_t octets_per_ms = 8;
// Longer packets than this would not fit an Ethernet MTU.
constexpr unsigned g722_max_ptime_ms = 180;

using g722_encoder_handle = c_handle<g722_encode_state_t, g722_encode_free>;
using g722_decoder_handle = c_handle<g722_decode_state_t, g722_decode_free>;

int options_for(std::uint32_t pcm_rate) noexcept {
    // Unpacked: each octet one code word, the higher sub-band's bits most
    // significant, as RFC 3551 4.5.2 puts them in the packet. The 8 kHz
    // mode codes the lower sub-band only.
    return pcm_rate == narrowband_rate ? G722_SAMPLE_RATE_8000 : 0;
}

class g722_encoder final : public encoder {
public:
    g722_encoder(g722_encoder_handle ctx, std::uint32_t rate, unsigned ptime_ms)
        : _ctx(std::move(ctx)),
          _rate(rate),
          _samples(std::size_t{rate} * ptime_ms / 1000),
          _octets(octets_per_ms * ptime_ms) {}

    std::uint32_t sample_rate() const noexcept override { return _rate; }
    std::size_t packet_samples() const noexcept override { return _samples; }

    int encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept override {
        if (pcm.size() != _samples || out.size() < _octets) {
            return -1;
        }
        const int n = g722_encode(_ctx.get(), out.data(), pcm.data(), static_cast<int>(_samples));
        return n == static_cast<int>(_octets) ? n : -1;
    }

private:
    g722_encoder_handle _ctx;
    std::uint32_t _rate;
    std::size_t _samples;
    std::size_t _octets;
};

/// spandsp's PLC (as for G.711) keeps the history of every decoded packet
/// and fills a lost one from it; plc_rx blends the next packet's start
/// into the fill-in.
///
/// The ADPCM state is the harder part. The decoder's quantiser scales and
/// predictors are the encoder's own (G.722 runs blocks 2 to 4 of each
/// sub-band alike in both), kept in step by the codes; a lost packet leaves
/// the decoder's 20 ms behind, and the mismatch takes 100 ms and more to
/// leak away (the predictors forget 1/128 to 1/256 a sample), heard as
/// distortion after every loss. So the first fill-in of a loss is coded by
/// a scratch encoder that starts from the decoder's ADPCM state, and its
/// codes are decoded (the output discarded): the decoder's state then
/// follows what it played instead of what it last heard. Measured on
/// espeak-ng speech, one packet in 7 lost, against a decoder that lost
/// nothing (tests/transcoder/codecs/test_g722.cpp): 10, 14 and 16 dB SNR in
/// the three 20 ms after the first packet that follows the loss, against
/// 4.6, 4.4 and 5.6 dB without. Only the first 20 ms are coded: the fill-in
/// fades to silence, which would pull the quantiser scales down, and bursts
/// of two and three losses fared better keeping the state the first left.
class g722_decoder final : public decoder {
public:
    g722_decoder(g722_decoder_handle ctx, std::uint32_t rate)
        : _ctx(std::move(ctx)), _rate(rate), _samples_per_octet(rate / narrowband_rate) {}

    std::uint32_t sample_rate() const noexcept override { return _rate; }

    int decode(std::span<const std::uint8_t> payload,
               std::span<std::int16_t> pcm) noexcept override {
        // Every octet is a valid code word at 64 kbit/s: only a payload
        // longer than the caller's room (or than any packet) is malformed.
        if (payload.size() > max_octets || payload.size() * _samples_per_octet > pcm.size()) {
            return -1;
        }
        if (payload.empty()) {
            return 0;
        }
        const int n =
            g722_decode(_ctx.get(), pcm.data(), payload.data(), static_cast<int>(payload.size()));
        if (n <= 0) {
            return -1;
        }
        _plc.received(pcm.first(static_cast<std::size_t>(n)));
        _in_loss = false;
        return n;
    }

    int conceal(std::span<std::int16_t> pcm) noexcept override {
        if (pcm.size() > max_octets * _samples_per_octet) {
            return -1;
        }
        const int n = _plc.fill(pcm);
        if (n > 0 && !_in_loss) {
            _in_loss = true;
            follow(pcm.first(static_cast<std::size_t>(n)));
        }
        return n;
    }

private:
    // Bounds the int lengths spandsp takes; far beyond any real packet.
    static constexpr std::size_t max_octets = 1U << 15;
    // What follow() codes of a fill-in: its first 20 ms (at 64 kbit/s,
    // whatever the PCM rate).
    static constexpr std::size_t follow_octets = 20 * octets_per_ms;

    /// Moves the ADPCM state on as if `played` had been received (see above).
    void follow(std::span<const std::int16_t> played) noexcept {
        const std::size_t octets = std::min(played.size() / _samples_per_octet, follow_octets);
        if (octets == 0) {
            return;
        }
        // Storage of our own: spandsp only clears and arms it. The scratch
        // encoder's band-split filter starts empty, which shapes only its
        // first few samples.
        g722_encode_init(&_scratch, g722_bit_rate, options_for(_rate));
        _scratch.band[0] = _ctx->band[0];
        _scratch.band[1] = _ctx->band[1];
        std::array<std::uint8_t, follow_octets> codes{};
        const int coded = g722_encode(&_scratch, codes.data(), played.data(),
                                      static_cast<int>(octets * _samples_per_octet));
        std::array<std::int16_t, follow_octets * 2> discarded{};
        if (coded > 0) {
            g722_decode(_ctx.get(), discarded.data(), codes.data(), coded);
        }
    }

    g722_decoder_handle _ctx;
    std::uint32_t _rate;
    std::size_t _samples_per_octet;
    loss_concealer _plc;
    g722_encode_state_t _scratch{};  // follow()'s encoder, re-armed each time
    bool _in_loss = false;           // conceal() filled in since the last packet
};

void check_g722_rate(std::uint32_t pcm_rate) {
    if (pcm_rate != wideband_rate && pcm_rate != narrowband_rate) {
        throw std::runtime_error("G.722: PCM rate " + std::to_string(pcm_rate) +
                                 " unsupported (16000, or 8000 for the lower sub-band alone)");
    }
}

std::unique_ptr<encoder> make_g722_encoder(const audio_format& f, std::uint32_t pcm_rate) {
    check_g722_rate(pcm_rate);
    if (f.ptime_ms == 0 || f.ptime_ms > g722_max_ptime_ms) {
        throw std::runtime_error("G.722: ptime " + std::to_string(f.ptime_ms) +
                                 " ms out of range (1.." + std::to_string(g722_max_ptime_ms) + ")");
    }
    g722_encoder_handle ctx{g722_encode_init(nullptr, g722_bit_rate, options_for(pcm_rate))};
    if (!ctx) {
        throw std::runtime_error("G.722: spandsp refused to create an encoder");
    }
    return std::make_unique<g722_encoder>(std::move(ctx), pcm_rate, f.ptime_ms);
}

std::unique_ptr<decoder> make_g722_decoder(const audio_format& /*f*/, std::uint32_t pcm_rate) {
    // The decoder takes packets of any length: each octet is 125 us.
    check_g722_rate(pcm_rate);
    g722_decoder_handle ctx{g722_decode_init(nullptr, g722_bit_rate, options_for(pcm_rate))};
    if (!ctx) {
        throw std::runtime_error("G.722: spandsp refused to create a decoder");
    }
    return std::make_unique<g722_decoder>(std::move(ctx), pcm_rate);
}

}  // namespace

// RFC 3551 4.5.2 and Table 4: G722, type 9, an 8000 Hz clock, mono.
constinit const codec_info g722_codec{
    .encoding = "G722",
    .clock_rate = g722_clock_rate,
    .static_payload_type = 9,
    .sdp_channels = 1,
    .pcm_rates = g722_pcm_rates,
    .make_encoder = make_g722_encoder,
    .make_decoder = make_g722_decoder,
};

}  // namespace sbc::transcoder
