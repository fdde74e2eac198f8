// The codec registry: lookup by rtpmap name and clock rate, what each entry
// declares, the encoder rate for a negotiated band, and every codec making
// an encoder and decoder at each of its PCM rates that round-trip a packet.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/transcoder/speech.hpp"
#include "transcoder/api/codec.hpp"
#include "transcoder/g711/g711.hpp"
#include "transcoder/g722/g722.hpp"
#include "transcoder/g729/g729.hpp"
#include "transcoder/opus/opus.hpp"

using namespace sbc::transcoder;

TEST_CASE("registry finds codecs by rtpmap name, case-insensitively", "[registry]") {
    CHECK(find_codec("pcmu", 8000) == &pcmu_codec);
    CHECK(find_codec("PCMU", 8000) == &pcmu_codec);
    CHECK(find_codec("PcMa", 8000) == &pcma_codec);
    CHECK(find_codec("G722", 8000) == &g722_codec);
    CHECK(find_codec("G729", 8000) == &g729_codec);
    CHECK(find_codec("g729", 8000) == &g729_codec);
    CHECK(find_codec("opus", 48000) == &opus_codec);
    CHECK(find_codec("OPUS", 48000) == &opus_codec);

    CHECK(find_codec("opus", 16000) == nullptr);  // RFC 7587 4.1: always 48000
    CHECK(find_codec("PCMU", 16000) == nullptr);
    CHECK(find_codec("G722", 16000) == nullptr);  // RFC 3551 4.5.2: always 8000
    CHECK(find_codec("iLBC", 8000) == nullptr);
    CHECK(find_codec("PCM", 8000) == nullptr);
    CHECK(find_codec("PCMUX", 8000) == nullptr);
    CHECK(find_codec("", 8000) == nullptr);
}

TEST_CASE("registry entries declare RFC 3551 and RFC 7587 values", "[registry]") {
    REQUIRE(registered_codecs().size() == 5);
    CHECK(pcmu_codec.static_payload_type == 0);
    CHECK(pcma_codec.static_payload_type == 8);
    CHECK(g722_codec.static_payload_type == 9);
    CHECK(g722_codec.clock_rate == 8000);  // RFC 3551 4.5.2, for 16 kHz audio
    CHECK(g729_codec.static_payload_type == 18);
    CHECK(opus_codec.static_payload_type == -1);
    CHECK(opus_codec.sdp_channels == 2);
    CHECK(opus_codec.clock_rate == 48000);
    CHECK(std::vector(opus_codec.pcm_rates.begin(), opus_codec.pcm_rates.end()) ==
          std::vector<std::uint32_t>{8000, 12000, 16000, 24000, 48000});
    for (const codec_info* c : registered_codecs()) {
        CHECK(!c->pcm_rates.empty());
        CHECK(c->make_encoder != nullptr);
        CHECK(c->make_decoder != nullptr);
    }
}

TEST_CASE("encoder_pcm_rate follows maxplaybackrate", "[registry]") {
    audio_format f;
    f.encoding = "opus";
    f.clock_rate = 48000;
    CHECK(encoder_pcm_rate(opus_codec, f) == 48000);
    f.max_playback_rate = 16000;
    CHECK(encoder_pcm_rate(opus_codec, f) == 16000);
    f.max_playback_rate = 8000;
    CHECK(encoder_pcm_rate(opus_codec, f) == 8000);
    f.max_playback_rate = 22050;
    CHECK(encoder_pcm_rate(opus_codec, f) == 24000);

    audio_format pcmu;
    pcmu.encoding = "PCMU";
    CHECK(encoder_pcm_rate(pcmu_codec, pcmu) == 8000);
}

TEST_CASE("decoder_pcm_rate gives the chain's rate where the decoder has it", "[registry]") {
    for (std::uint32_t rate : {8000u, 12000u, 16000u, 24000u, 48000u}) {
        CHECK(decoder_pcm_rate(opus_codec, rate) == rate);
        CHECK(decoder_pcm_rate(pcmu_codec, rate) == 8000);
        CHECK(decoder_pcm_rate(g729_codec, rate) == 8000);
    }
    // Several rates, none the chain's: the one above keeps the band.
    CHECK(decoder_pcm_rate(g722_codec, 12000) == 16000);
    CHECK(decoder_pcm_rate(g722_codec, 48000) == 16000);
}

TEST_CASE("every codec round-trips a packet at each of its PCM rates", "[registry]") {
    for (const codec_info* c : registered_codecs()) {
        for (std::uint32_t rate : c->pcm_rates) {
            INFO(std::string(c->encoding) << " at " << rate);
            audio_format f;
            f.encoding = std::string(c->encoding);
            f.clock_rate = c->clock_rate;
            f.channels = c->sdp_channels;
            auto enc = c->make_encoder(f, rate);
            auto dec = c->make_decoder(f, rate);
            REQUIRE(enc->sample_rate() == rate);
            REQUIRE(dec->sample_rate() == rate);
            REQUIRE(enc->packet_samples() == rate / 50);  // ptime 20

            const auto& signal = test::speech(rate);
            std::vector<std::uint8_t> payload(1500);
            std::vector<std::int16_t> pcm(enc->packet_samples());
            // A packet from the middle of the sentence.
            const auto in = std::span(signal).subspan(rate, enc->packet_samples());
            const int len = enc->encode(in, payload);
            REQUIRE(len > 0);
            REQUIRE(dec->decode(std::span(payload).first(static_cast<std::size_t>(len)), pcm) ==
                    static_cast<int>(pcm.size()));
            REQUIRE(dec->conceal(pcm) == static_cast<int>(pcm.size()));
        }
    }
}
