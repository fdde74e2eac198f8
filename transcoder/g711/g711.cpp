// G.711 mu-law and A-law: the conversions, the codec objects, the registry
// entries. Decoding is a 256-entry table; encoding finds the segment with one
// bit_width instead of the reference code's search loop. Both follow the
// rounding of ITU-T G.191's reference g711.c (the magnitude of a negative
// sample is taken as ~x, which makes the quantiser symmetric).
#include "transcoder/g711/g711.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "transcoder/plc/loss_concealer.hpp"

namespace sbc::transcoder {

namespace g711 {

namespace {

constexpr std::int16_t expand_ulaw(std::uint8_t code) noexcept {
    // G.711 Table 2: the octet is sent inverted; 3 bits of segment, 4 of
    // step; the output is the middle of the step, less the encoder's bias.
    const unsigned u = static_cast<std::uint8_t>(~code);
    const unsigned segment = (u >> 4) & 0x07;
    const int magnitude = static_cast<int>((((u & 0x0F) << 3) + 0x84) << segment) - 0x84;
    return static_cast<std::int16_t>((u & 0x80) != 0 ? -magnitude : magnitude);
}

constexpr std::int16_t expand_alaw(std::uint8_t code) noexcept {
    // G.711 Table 1: the even bits are sent inverted; segments 0 and 1 share
    // a step size, each later segment doubles it.
    const unsigned a = code ^ 0x55U;
    const unsigned segment = (a >> 4) & 0x07;
    unsigned magnitude = (a & 0x0F) << 4;
    if (segment == 0) {
        magnitude += 8;
    } else {
        magnitude = (magnitude + 0x108) << (segment - 1);
    }
    return static_cast<std::int16_t>((a & 0x80) != 0 ? static_cast<int>(magnitude)
                                                     : -static_cast<int>(magnitude));
}

template <std::int16_t (*Expand)(std::uint8_t) noexcept>
constexpr std::array<std::int16_t, 256> make_table() noexcept {
    std::array<std::int16_t, 256> table{};
    for (unsigned code = 0; code < 256; ++code) {
        table[code] = Expand(static_cast<std::uint8_t>(code));
    }
    return table;
}

constexpr auto ulaw_table = make_table<expand_ulaw>();
constexpr auto alaw_table = make_table<expand_alaw>();

// The quantisers below compute the same octet for every sample as ITU-T
// G.191's ulaw_compress()/alaw_compress(); tests/transcoder/codecs checks all
// 65536 inputs against a plain transcription of those.

inline std::uint8_t compress_ulaw(std::int16_t sample) noexcept {
    // 14-bit magnitude plus the bias of 33 that makes the segments line up
    // on powers of two: segment s holds [2^(s+5), 2^(s+6)).
    const unsigned magnitude = static_cast<std::uint16_t>(sample < 0 ? ~sample : sample);
    unsigned biased = (magnitude >> 2) + 33;
    if (biased > 0x1FFF) {
        biased = 0x1FFF;  // clip to the top of segment 7
    }
    const unsigned segment = static_cast<unsigned>(std::bit_width(biased)) - 6;
    const unsigned code = (segment << 4) | ((biased >> (segment + 1)) & 0x0F);
    // The octet goes out inverted, so a positive sample has its top bit set.
    return static_cast<std::uint8_t>(~(code | (sample < 0 ? 0x80U : 0U)));
}

inline std::uint8_t compress_alaw(std::int16_t sample) noexcept {
    // 11-bit magnitude; segment 0 spans [0, 16) with the step of segment 1,
    // segment s >= 1 holds [2^(s+3), 2^(s+4)).
    const unsigned magnitude = static_cast<std::uint16_t>(sample < 0 ? ~sample : sample) >> 4;
    const unsigned width = static_cast<unsigned>(std::bit_width(magnitude));
    const unsigned segment = width > 4 ? width - 4 : 0;
    const unsigned shift = segment > 1 ? segment : 1;
    const unsigned code = (segment << 4) | ((magnitude >> (shift - 1)) & 0x0F);
    return static_cast<std::uint8_t>((code | (sample >= 0 ? 0x80U : 0U)) ^ 0x55U);
}

}  // namespace

std::uint8_t linear_to_ulaw(std::int16_t sample) noexcept { return compress_ulaw(sample); }
std::int16_t ulaw_to_linear(std::uint8_t code) noexcept { return ulaw_table[code]; }
std::uint8_t linear_to_alaw(std::int16_t sample) noexcept { return compress_alaw(sample); }
std::int16_t alaw_to_linear(std::uint8_t code) noexcept { return alaw_table[code]; }

}  // namespace g711

namespace {

constexpr std::uint32_t g711_rate = 8000;
constexpr std::array<std::uint32_t, 1> g711_pcm_rates{g711_rate};

// Longer packets than this would not fit an Ethernet MTU (1 octet a sample).
constexpr unsigned g711_max_ptime_ms = 180;

template <std::uint8_t (*Compress)(std::int16_t) noexcept>
class g711_encoder final : public encoder {
public:
    explicit g711_encoder(std::size_t samples) : _samples(samples) {}

    std::uint32_t sample_rate() const noexcept override { return g711_rate; }
    std::size_t packet_samples() const noexcept override { return _samples; }

    int encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept override {
        if (pcm.size() != _samples || out.size() < _samples) {
            return -1;
        }
        for (std::size_t i = 0; i < _samples; ++i) {
            out[i] = Compress(pcm[i]);
        }
        return static_cast<int>(_samples);
    }

private:
    std::size_t _samples;
};

/// G.711 has no concealment of its own; spandsp's PLC (after G.711
/// Appendix I: pitch-period repetition, faded out, overlap-added into the
/// next good packet) keeps the history from every decoded packet.
class g711_decoder final : public decoder {
public:
    explicit g711_decoder(const std::array<std::int16_t, 256>& table) : _table(table) {}

    std::uint32_t sample_rate() const noexcept override { return g711_rate; }

    int decode(std::span<const std::uint8_t> payload,
               std::span<std::int16_t> pcm) noexcept override {
        if (payload.size() > pcm.size() || payload.size() > max_samples) {
            return -1;
        }
        for (std::size_t i = 0; i < payload.size(); ++i) {
            pcm[i] = _table[payload[i]];
        }
        const int n = static_cast<int>(payload.size());
        // Records the history and, after a loss, blends into the fill-in.
        _plc.received(pcm.first(payload.size()));
        return n;
    }

    int conceal(std::span<std::int16_t> pcm) noexcept override {
        if (pcm.size() > max_samples) {
            return -1;
        }
        return _plc.fill(pcm);
    }

private:
    // Bounds the int lengths spandsp takes; far beyond any real packet.
    static constexpr std::size_t max_samples = 1U << 16;

    const std::array<std::int16_t, 256>& _table;
    loss_concealer _plc;
};

std::size_t checked_packet_samples(const audio_format& f, std::uint32_t pcm_rate,
                                   const char* name) {
    if (pcm_rate != g711_rate) {
        throw std::runtime_error(std::string(name) + ": PCM rate " + std::to_string(pcm_rate) +
                                 " unsupported (only 8000)");
    }
    if (f.ptime_ms == 0 || f.ptime_ms > g711_max_ptime_ms) {
        throw std::runtime_error(std::string(name) + ": ptime " + std::to_string(f.ptime_ms) +
                                 " ms out of range (1.." + std::to_string(g711_max_ptime_ms) + ")");
    }
    return std::size_t{g711_rate} * f.ptime_ms / 1000;
}

std::unique_ptr<encoder> make_pcmu_encoder(const audio_format& f, std::uint32_t pcm_rate) {
    return std::make_unique<g711_encoder<g711::compress_ulaw>>(
        checked_packet_samples(f, pcm_rate, "PCMU"));
}

std::unique_ptr<decoder> make_pcmu_decoder(const audio_format& f, std::uint32_t pcm_rate) {
    checked_packet_samples(f, pcm_rate, "PCMU");
    return std::make_unique<g711_decoder>(g711::ulaw_table);
}

std::unique_ptr<encoder> make_pcma_encoder(const audio_format& f, std::uint32_t pcm_rate) {
    return std::make_unique<g711_encoder<g711::compress_alaw>>(
        checked_packet_samples(f, pcm_rate, "PCMA"));
}

std::unique_ptr<decoder> make_pcma_decoder(const audio_format& f, std::uint32_t pcm_rate) {
    checked_packet_samples(f, pcm_rate, "PCMA");
    return std::make_unique<g711_decoder>(g711::alaw_table);
}

}  // namespace

// RFC 3551 4.5.14 and Table 4: PCMU is type 0, PCMA type 8, both 8000 Hz mono.
constinit const codec_info pcmu_codec{
    .encoding = "PCMU",
    .clock_rate = g711_rate,
    .static_payload_type = 0,
    .sdp_channels = 1,
    .pcm_rates = g711_pcm_rates,
    .make_encoder = make_pcmu_encoder,
    .make_decoder = make_pcmu_decoder,
};

constinit const codec_info pcma_codec{
    .encoding = "PCMA",
    .clock_rate = g711_rate,
    .static_payload_type = 8,
    .sdp_channels = 1,
    .pcm_rates = g711_pcm_rates,
    .make_encoder = make_pcma_encoder,
    .make_decoder = make_pcma_decoder,
};

}  // namespace sbc::transcoder
