// G.711: the conversions against a plain transcription of ITU-T G.191's
// reference g711.c (every input), the codec objects against the same on
// real speech, the round trip's SNR, and the concealment.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "tests/transcoder/speech.hpp"
#include "transcoder/g711/g711.hpp"

using namespace sbc::transcoder;
using sbc::transcoder::test::snr_db;
using sbc::transcoder::test::speech;

namespace {

// ITU-T G.191 (STL) g711.c, ulaw_compress/ulaw_expand/alaw_compress/
// alaw_expand, one sample at a time, as written there.

std::uint8_t ref_ulaw_compress(std::int16_t x) {
    int absno = x < 0 ? ((~x) >> 2) + 33 : (x >> 2) + 33;
    if (absno > 0x1FFF) {
        absno = 0x1FFF;
    }
    int i = absno >> 6;
    int segno = 1;
    while (i != 0) {
        segno++;
        i >>= 1;
    }
    const int high_nibble = 0x0008 - segno;
    int low_nibble = (absno >> segno) & 0x000F;
    low_nibble = 0x000F - low_nibble;
    int out = (high_nibble << 4) | low_nibble;
    if (x >= 0) {
        out |= 0x0080;
    }
    return static_cast<std::uint8_t>(out);
}

std::int16_t ref_ulaw_expand(std::uint8_t code) {
    const int sign = code < 0x0080 ? -1 : 1;
    int mantissa = ~code;
    const int exponent = (mantissa >> 4) & 0x0007;
    const int segment = exponent + 1;
    mantissa &= 0x000F;
    const int step = 4 << segment;
    return static_cast<std::int16_t>(sign *
                                     ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33));
}

std::uint8_t ref_alaw_compress(std::int16_t x) {
    int ix = x < 0 ? (~x) >> 4 : x >> 4;
    if (ix > 15) {
        int iexp = 1;
        while (ix > 16 + 15) {
            ix >>= 1;
            iexp++;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if (x >= 0) {
        ix |= 0x0080;
    }
    return static_cast<std::uint8_t>(ix ^ 0x0055);
}

std::int16_t ref_alaw_expand(std::uint8_t code) {
    int ix = code ^ 0x0055;
    ix &= 0x007F;
    const int iexp = ix >> 4;
    int mant = ix & 0x000F;
    if (iexp > 0) {
        mant += 16;
    }
    mant = (mant << 4) + 0x0008;
    if (iexp > 1) {
        mant <<= iexp - 1;
    }
    return static_cast<std::int16_t>(code > 127 ? mant : -mant);
}

struct law {
    const codec_info& codec;
    std::uint8_t (*ref_compress)(std::int16_t);
    std::int16_t (*ref_expand)(std::uint8_t);
};

audio_format format(const char* name, unsigned ptime_ms = 20) {
    audio_format f;
    f.encoding = name;
    f.ptime_ms = ptime_ms;
    return f;
}

/// Encodes `signal` packet by packet, checks every octet against the
/// reference, decodes, checks every sample; returns the decoded signal.
std::vector<std::int16_t> round_trip(const law& l, const std::vector<std::int16_t>& signal) {
    const audio_format f = format(std::string(l.codec.encoding).c_str());
    auto enc = l.codec.make_encoder(f, 8000);
    auto dec = l.codec.make_decoder(f, 8000);
    REQUIRE(enc->packet_samples() == 160);
    std::vector<std::int16_t> decoded;
    std::vector<std::uint8_t> payload(160);
    std::vector<std::int16_t> pcm(160);
    for (std::size_t at = 0; at + 160 <= signal.size(); at += 160) {
        const std::span<const std::int16_t> in(signal.data() + at, 160);
        REQUIRE(enc->encode(in, payload) == 160);
        for (std::size_t i = 0; i < 160; ++i) {
            REQUIRE(payload[i] == l.ref_compress(in[i]));
        }
        REQUIRE(dec->decode(payload, pcm) == 160);
        for (std::size_t i = 0; i < 160; ++i) {
            REQUIRE(pcm[i] == l.ref_expand(payload[i]));
        }
        decoded.insert(decoded.end(), pcm.begin(), pcm.end());
    }
    return decoded;
}

}  // namespace

TEST_CASE("G.711 conversions equal ITU-T G.191's for every input", "[g711]") {
    for (int x = -32768; x <= 32767; ++x) {
        const auto s = static_cast<std::int16_t>(x);
        REQUIRE(int{g711::linear_to_ulaw(s)} == int{ref_ulaw_compress(s)});
        REQUIRE(int{g711::linear_to_alaw(s)} == int{ref_alaw_compress(s)});
    }
    for (int code = 0; code < 256; ++code) {
        const auto c = static_cast<std::uint8_t>(code);
        REQUIRE(g711::ulaw_to_linear(c) == ref_ulaw_expand(c));
        REQUIRE(g711::alaw_to_linear(c) == ref_alaw_expand(c));
    }
    // The well-known fixed points: silence is 0xFF (mu) and 0xD5 (A).
    CHECK(g711::linear_to_ulaw(0) == 0xFF);
    CHECK(g711::linear_to_alaw(0) == 0xD5);
    CHECK(g711::ulaw_to_linear(0x00) == -32124);
    CHECK(g711::alaw_to_linear(0xAA) == 32256);
}

// Measured on espeak-ng's speech (the sentence in speech.cpp, espeak-ng
// 1.51, resampled from 22050 Hz to 8000 Hz): PCMU 37.4 dB, PCMA 37.6 dB.
// The limit sits 3.4 dB below. G.711 is logarithmic, so its SNR stays near
// 38 dB over most of the level range rather than falling with the level.
TEST_CASE("PCMU and PCMA equal the reference on speech and keep its SNR", "[g711]") {
    const auto& signal = speech(8000);
    const law pcmu{pcmu_codec, ref_ulaw_compress, ref_ulaw_expand};
    const law pcma{pcma_codec, ref_alaw_compress, ref_alaw_expand};

    const double pcmu_snr = snr_db(signal, round_trip(pcmu, signal));
    const double pcma_snr = snr_db(signal, round_trip(pcma, signal));
    INFO("PCMU SNR " << pcmu_snr << " dB, PCMA SNR " << pcma_snr << " dB");
    CHECK(pcmu_snr > 34.0);
    CHECK(pcma_snr > 34.0);
}

TEST_CASE("G.711 decoder bounds, concealment and factory checks", "[g711]") {
    for (const codec_info* c : {&pcmu_codec, &pcma_codec}) {
        const audio_format f = format(std::string(c->encoding).c_str());
        auto dec = c->make_decoder(f, 8000);
        CHECK(dec->sample_rate() == 8000);

        std::vector<std::uint8_t> payload(160, 0x55);
        std::vector<std::int16_t> small(159);
        CHECK(dec->decode(payload, small) == -1);
        CHECK(dec->decode({}, small) == 0);

        // Concealment after speech repeats its pitch: not silence, and
        // exactly the span asked for.
        const auto& signal = speech(8000);
        auto enc = c->make_encoder(f, 8000);
        std::vector<std::int16_t> pcm(160);
        // Into the sentence, where the voice is.
        for (std::size_t at = 0; at < 160 * 40; at += 160) {
            REQUIRE(enc->encode(std::span(signal).subspan(at, 160), payload) == 160);
            REQUIRE(dec->decode(payload, pcm) == 160);
        }
        std::vector<std::int16_t> lost(240, 12345);
        REQUIRE(dec->conceal(lost) == 240);
        CHECK(test::energy(lost) > 0);
        CHECK(std::find(lost.begin(), lost.end(), std::int16_t{12345}) == lost.end());

        CHECK_THROWS_AS(c->make_encoder(f, 16000), std::runtime_error);
        CHECK_THROWS_AS(c->make_decoder(f, 48000), std::runtime_error);
        CHECK_THROWS_AS(c->make_encoder(format("PCMU", 0), 8000), std::runtime_error);

        auto enc30 = c->make_encoder(format("PCMU", 30), 8000);
        CHECK(enc30->packet_samples() == 240);
        std::vector<std::int16_t> short_pcm(160);
        CHECK(enc30->encode(short_pcm, payload) == -1);
    }
}
