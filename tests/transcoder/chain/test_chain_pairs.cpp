// Each codec pair through the chain against the same codec calls made
// directly: for real speech (espeak-ng), what the chain sends is, packet for
// packet, what decoding with the input codec, resampling where the rates
// differ and encoding with the output codec give. So the chain adds no
// processing of its own to the audio, only packets around it.
#include <catch2/catch.hpp>

#include "tests/transcoder/chain/chain_script.hpp"
#include "tests/transcoder/speech.hpp"
#include "transcoder/resample/resampler.hpp"

namespace sbc::transcoder {
namespace {

using test::format;

using payload_list = std::vector<std::vector<std::uint8_t>>;

/// The speech as `f`'s encoder packetizes it.
payload_list encode_speech(const audio_format& f) {
    const codec_info* info = find_codec(f.encoding, f.clock_rate);
    REQUIRE(info != nullptr);
    const auto rate = encoder_pcm_rate(*info, f);
    auto enc = info->make_encoder(f, rate);
    const auto& pcm = test::speech(rate);
    const std::size_t n = enc->packet_samples();
    payload_list out;
    for (std::size_t at = 0; at + n <= pcm.size(); at += n) {
        std::vector<std::uint8_t> p(1500);
        const int len = enc->encode({pcm.data() + at, n}, p);
        REQUIRE(len > 0);
        p.resize(static_cast<std::size_t>(len));
        out.push_back(std::move(p));
    }
    return out;
}

/// What the codecs give when called directly: decode, resample, encode.
payload_list direct(const audio_format& in, const audio_format& out, const payload_list& packets) {
    const codec_info* src = find_codec(in.encoding, in.clock_rate);
    const codec_info* dst = find_codec(out.encoding, out.clock_rate);
    const auto rate = encoder_pcm_rate(*dst, out);
    // The decoder works at the encoder's rate where it can (G.722 at 8000
    // for a G.711 leg), else above it, else below.
    const auto dec_rate = decoder_pcm_rate(*src, rate);
    auto dec = src->make_decoder(in, dec_rate);
    auto enc = dst->make_encoder(out, rate);
    std::unique_ptr<resampler> rs;
    if (dec_rate != rate) {
        rs = std::make_unique<resampler>(dec_rate, rate);
    }
    std::vector<std::int16_t> fifo;
    std::vector<std::int16_t> pcm(5760);
    std::vector<std::int16_t> up(5760);
    payload_list sent;
    for (const auto& p : packets) {
        const int n = dec->decode(p, pcm);
        REQUIRE(n > 0);
        if (rs) {
            const int m = rs->process({pcm.data(), static_cast<std::size_t>(n)}, up);
            REQUIRE(m >= 0);
            fifo.insert(fifo.end(), up.begin(), up.begin() + m);
        } else {
            fifo.insert(fifo.end(), pcm.begin(), pcm.begin() + n);
        }
        const std::size_t need = enc->packet_samples();
        while (fifo.size() >= need) {
            std::vector<std::uint8_t> q(1500);
            const int len = enc->encode({fifo.data(), need}, q);
            REQUIRE(len > 0);
            q.resize(static_cast<std::size_t>(len));
            sent.push_back(std::move(q));
            fifo.erase(fifo.begin(), fifo.begin() + static_cast<std::ptrdiff_t>(need));
        }
    }
    return sent;
}

void expect_same_as_direct(const audio_format& in, const audio_format& out) {
    const auto packets = encode_speech(in);
    REQUIRE(packets.size() > 100);
    chain_config cfg;
    cfg.in.audio = in;
    cfg.out.audio = out;
    cfg.origin = output_origin{0x77, 1, 0};
    test::chain_driver d(test::make_chain(cfg));
    const std::uint32_t ts_step = in.clock_rate / 1000 * in.ptime_ms;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        d.push(test::rtp(in.payload_type, static_cast<std::uint16_t>(i),
                         static_cast<std::uint32_t>(i * ts_step), packets[i], i == 0));
    }
    const auto expected = direct(in, out, packets);
    REQUIRE(d.out.size() == expected.size());
    // Ticks of the output's RTP clock, not samples: G.722's 20 ms is 160
    // ticks of 8000 Hz for 320 samples of 16000 Hz (RFC 3551 4.5.2).
    const std::uint32_t out_step = out.clock_rate / 1000 * out.ptime_ms;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("packet " << i);
        REQUIRE(d.out[i].payload == expected[i]);
        CHECK(d.out[i].header.payload_type == out.payload_type);
        CHECK(d.out[i].header.timestamp == out_step * i);
    }
    const auto s = d.chain->stats();
    CHECK(s.malformed == 0);
    CHECK(s.concealed == 0);
}

}  // namespace

TEST_CASE("PCMA <-> G.729") {
    expect_same_as_direct(format("PCMA", 8000, 8, 20), format("G729", 8000, 18, 20));
    expect_same_as_direct(format("G729", 8000, 18, 20), format("PCMA", 8000, 8, 20));
}

TEST_CASE("PCMU <-> Opus, narrow-, wide- and fullband") {
    for (std::uint32_t band : {8000u, 16000u, 48000u}) {
        INFO("maxplaybackrate " << band);
        expect_same_as_direct(format("PCMU", 8000, 0, 20), format("opus", 48000, 111, 20, band));
        expect_same_as_direct(format("opus", 48000, 111, 20, band), format("PCMU", 8000, 0, 20));
    }
}

TEST_CASE("Opus <-> G.729") {
    expect_same_as_direct(format("opus", 48000, 96, 20), format("G729", 8000, 18, 20));
    expect_same_as_direct(format("G729", 8000, 18, 20), format("opus", 48000, 96, 20, 16000));
}

TEST_CASE("G.722 <-> PCMU, PCMA, Opus and G.729") {
    const auto g722 = format("G722", 8000, 9, 20);
    expect_same_as_direct(g722, format("PCMU", 8000, 0, 20));
    expect_same_as_direct(format("PCMU", 8000, 0, 20), g722);
    expect_same_as_direct(g722, format("PCMA", 8000, 8, 20));
    expect_same_as_direct(format("PCMA", 8000, 8, 20), g722);
    expect_same_as_direct(g722, format("G729", 8000, 18, 20));
    expect_same_as_direct(format("G729", 8000, 18, 20), g722);
    for (std::uint32_t band : {8000u, 12000u, 16000u, 48000u}) {
        INFO("maxplaybackrate " << band);
        expect_same_as_direct(g722, format("opus", 48000, 111, 20, band));
        expect_same_as_direct(format("opus", 48000, 111, 20, band), g722);
    }
}

TEST_CASE("G.722 repacketized") {
    expect_same_as_direct(format("G722", 8000, 9, 30), format("PCMA", 8000, 8, 20));
    expect_same_as_direct(format("PCMU", 8000, 0, 20), format("G722", 8000, 9, 60));
    expect_same_as_direct(format("opus", 48000, 111, 60), format("G722", 8000, 9, 10));
}

TEST_CASE("PCMU <-> PCMA, and repacketized pairs") {
    expect_same_as_direct(format("PCMU", 8000, 0, 20), format("PCMA", 8000, 8, 20));
    expect_same_as_direct(format("PCMA", 8000, 8, 20), format("G729", 8000, 18, 40));
    expect_same_as_direct(format("opus", 48000, 111, 60), format("PCMA", 8000, 8, 20));
    expect_same_as_direct(format("PCMU", 8000, 0, 10), format("opus", 48000, 111, 60, 16000));
}

}  // namespace sbc::transcoder
