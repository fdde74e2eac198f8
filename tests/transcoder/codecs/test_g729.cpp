// G.729: the codec objects against bcg729 called directly on real speech,
// Annex B's SID frames and DTX only with annexb=yes, the payload framing
// of RFC 3551 4.5.6, and concealment.
// bcg729's headers declare C functions without extern "C" of their own.
extern "C" {
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "tests/transcoder/speech.hpp"
#include "transcoder/g729/g729.hpp"

using namespace sbc::transcoder;
using sbc::transcoder::test::speech;

namespace {

audio_format g729_format(bool annexb, unsigned ptime_ms = 20) {
    audio_format f;
    f.encoding = "G729";
    f.payload_type = 18;
    f.ptime_ms = ptime_ms;
    f.annexb = annexb;
    return f;
}

/// Speech, then two seconds of quiet background noise: what a phone
/// sends when its user stops talking.
std::vector<std::int16_t> speech_then_quiet() {
    std::vector<std::int16_t> s = speech(8000);
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0.0, 10.0);
    for (int i = 0; i < 16000; ++i) {
        s.push_back(static_cast<std::int16_t>(noise(rng)));
    }
    return s;
}

}  // namespace

TEST_CASE("G.729 equals bcg729 called directly on speech", "[g729]") {
    const auto& signal = speech(8000);
    const audio_format f = g729_format(false);
    auto enc = g729_codec.make_encoder(f, 8000);
    auto dec = g729_codec.make_decoder(f, 8000);
    REQUIRE(enc->sample_rate() == 8000);
    REQUIRE(enc->packet_samples() == 160);

    bcg729EncoderChannelContextStruct* ref_enc = initBcg729EncoderChannel(0);
    bcg729DecoderChannelContextStruct* ref_dec = initBcg729DecoderChannel();
    std::vector<std::uint8_t> payload(64);
    std::vector<std::int16_t> pcm(160);
    for (std::size_t at = 0; at + 160 <= signal.size(); at += 160) {
        const int n = enc->encode(std::span(signal).subspan(at, 160), payload);
        REQUIRE(n == 20);

        std::uint8_t ref_payload[20];
        std::uint8_t len = 0;
        bcg729Encoder(ref_enc, signal.data() + at, ref_payload, &len);
        REQUIRE(len == 10);
        bcg729Encoder(ref_enc, signal.data() + at + 80, ref_payload + 10, &len);
        REQUIRE(len == 10);
        REQUIRE(std::equal(ref_payload, ref_payload + 20, payload.begin()));

        REQUIRE(dec->decode(std::span(payload).first(20), pcm) == 160);
        std::int16_t ref_pcm[160];
        bcg729Decoder(ref_dec, ref_payload, 10, 0, 0, 0, ref_pcm);
        bcg729Decoder(ref_dec, ref_payload + 10, 10, 0, 0, 0, ref_pcm + 80);
        REQUIRE(std::equal(ref_pcm, ref_pcm + 160, pcm.begin()));
    }
    closeBcg729EncoderChannel(ref_enc);
    closeBcg729DecoderChannel(ref_dec);
}

TEST_CASE("G.729 annexb=no never sends SID frames or skips packets", "[g729]") {
    const auto signal = speech_then_quiet();
    auto enc = g729_codec.make_encoder(g729_format(false, 30), 8000);
    REQUIRE(enc->packet_samples() == 240);
    std::vector<std::uint8_t> payload(30);
    for (std::size_t at = 0; at + 240 <= signal.size(); at += 240) {
        REQUIRE(enc->encode(std::span(signal).subspan(at, 240), payload) == 30);
    }
}

TEST_CASE("G.729 annexb=yes sends SID frames or nothing on silence", "[g729]") {
    const auto signal = speech_then_quiet();
    const audio_format f = g729_format(true);
    auto enc = g729_codec.make_encoder(f, 8000);
    auto dec = g729_codec.make_decoder(f, 8000);
    // The same VAD run directly: each packet's frames as bcg729 made them.
    bcg729EncoderChannelContextStruct* ref_enc = initBcg729EncoderChannel(1);

    int speech_packets = 0;
    int sid_packets = 0;
    int empty_packets = 0;
    int noise_sids = 0;
    std::vector<std::uint8_t> payload(20);
    std::vector<std::int16_t> pcm(160);
    const std::size_t quiet_from = speech(8000).size();
    for (std::size_t at = 0; at + 160 <= signal.size(); at += 160) {
        const int n = enc->encode(std::span(signal).subspan(at, 160), payload);
        REQUIRE(n >= 0);
        // RFC 3551 4.5.6: frames of 10, at most one SID of 2, and it last.
        REQUIRE((n % 10 == 0 || n % 10 == 2));

        std::uint8_t frames[2][10];
        std::uint8_t len[2] = {0, 0};
        bcg729Encoder(ref_enc, signal.data() + at, frames[0], &len[0]);
        bcg729Encoder(ref_enc, signal.data() + at + 80, frames[1], &len[1]);
        // What the packet must hold, from the frames bcg729 gave: the voice
        // frames in order, then the SID if nothing came after it.
        std::vector<std::uint8_t> expected;
        for (int i = 0; i < 2; ++i) {
            if (len[i] == 10) {
                expected.insert(expected.end(), frames[i], frames[i] + 10);
            }
        }
        if (len[1] == 2) {
            expected.insert(expected.end(), frames[1], frames[1] + 2);
        } else if (len[0] == 2 && len[1] == 0) {
            expected.insert(expected.end(), frames[0], frames[0] + 2);
        }
        REQUIRE(std::vector<std::uint8_t>(payload.begin(), payload.begin() + n) == expected);

        if (n == 0) {
            ++empty_packets;
            REQUIRE(dec->conceal(pcm) == 160);  // what a receiver does in DTX
            continue;
        }
        const int samples = dec->decode(std::span(payload).first(static_cast<std::size_t>(n)), pcm);
        REQUIRE(samples == (n / 10 + (n % 10 != 0 ? 1 : 0)) * 80);
        if (n == 2) {
            ++sid_packets;
            // Comfort noise: quiet, and not digital silence once the SID
            // describes the background noise (espeak-ng's pauses between
            // words are digital silence, and so is their comfort noise).
            const double cn = test::energy(std::span(pcm).first(80));
            CHECK(cn < 1000.0 * 1000.0);
            if (at >= quiet_from) {
                ++noise_sids;
                CHECK(cn > 0);
            }
        } else if (n == 20) {
            ++speech_packets;
        }
        if (at >= quiet_from + 8000) {
            CHECK(n <= 2);  // a second into the quiet, the VAD has closed
        }
    }
    closeBcg729EncoderChannel(ref_enc);
    INFO("speech " << speech_packets << ", SID " << sid_packets << " (" << noise_sids
                   << " in the noise), empty " << empty_packets);
    CHECK(speech_packets > 50);
    CHECK(sid_packets > 0);
    CHECK(noise_sids > 0);
    CHECK(empty_packets > 0);
}

TEST_CASE("G.729 decoder rejects malformed payloads and conceals", "[g729]") {
    auto dec = g729_codec.make_decoder(g729_format(false), 8000);
    std::vector<std::int16_t> pcm(240);
    const std::vector<std::uint8_t> seven(7, 0x5A);
    CHECK(dec->decode(seven, pcm) == -1);
    const std::vector<std::uint8_t> thirteen(13, 0x5A);
    CHECK(dec->decode(thirteen, pcm) == -1);
    const std::vector<std::uint8_t> thirty(30, 0x5A);
    std::vector<std::int16_t> small(239);
    CHECK(dec->decode(thirty, small) == -1);
    CHECK(dec->decode(thirty, pcm) == 240);
    // Two frames and a SID: 3 x 80 samples.
    const std::vector<std::uint8_t> twenty_two(22, 0x5A);
    CHECK(dec->decode(twenty_two, pcm) == 240);
    CHECK(dec->decode({}, pcm) == 0);

    // Concealment after speech: the whole span, and not silence.
    const auto& signal = speech(8000);
    auto enc = g729_codec.make_encoder(g729_format(false), 8000);
    std::vector<std::uint8_t> payload(20);
    for (std::size_t at = 0; at < 160 * 40; at += 160) {
        REQUIRE(enc->encode(std::span(signal).subspan(at, 160), payload) == 20);
        REQUIRE(dec->decode(payload, pcm) == 160);
    }
    std::vector<std::int16_t> lost(160, 12345);
    REQUIRE(dec->conceal(lost) == 160);
    CHECK(std::find(lost.begin(), lost.end(), std::int16_t{12345}) == lost.end());
    CHECK(test::energy(lost) > 0);
    // A span off the 10 ms grid is filled too.
    std::vector<std::int16_t> odd(200, 12345);
    REQUIRE(dec->conceal(odd) == 200);
    CHECK(std::find(odd.begin(), odd.end(), std::int16_t{12345}) == odd.end());

    CHECK_THROWS_AS(g729_codec.make_encoder(g729_format(false, 25), 8000), std::runtime_error);
    CHECK_THROWS_AS(g729_codec.make_encoder(g729_format(false), 16000), std::runtime_error);
}
