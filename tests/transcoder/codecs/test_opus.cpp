// Opus: the codec objects against libopus called directly with the same
// settings on real speech, and the fmtp parameters of RFC 7587 7.1 each
// doing what the receiver asked: maxplaybackrate caps the band, usedtx
// stops packets in silence, useinbandfec lets a lost packet be recovered
// from the next; and ptime up to 60 ms.
#include <opus/opus.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "tests/transcoder/speech.hpp"
#include "transcoder/opus/opus.hpp"

using namespace sbc::transcoder;
using sbc::transcoder::test::snr_db;
using sbc::transcoder::test::speech;

namespace {

audio_format opus_format(unsigned ptime_ms = 20) {
    audio_format f;
    f.encoding = "opus";
    f.clock_rate = 48000;
    f.channels = 2;
    f.payload_type = 111;
    f.ptime_ms = ptime_ms;
    return f;
}

struct encoded {
    std::vector<std::vector<std::uint8_t>> packets;  // empty: not sent (DTX)
};

encoded encode_all(encoder& enc, const std::vector<std::int16_t>& signal) {
    encoded out;
    const std::size_t n = enc.packet_samples();
    std::vector<std::uint8_t> buf(1500);
    for (std::size_t at = 0; at + n <= signal.size(); at += n) {
        const int len = enc.encode(std::span(signal).subspan(at, n), buf);
        REQUIRE(len >= 0);
        out.packets.emplace_back(buf.begin(), buf.begin() + len);
    }
    return out;
}

/// The fraction of sent packets whose TOC names bandwidth `bw`.
double share_of_bandwidth(const encoded& e, int bw) {
    int sent = 0;
    int match = 0;
    for (const auto& p : e.packets) {
        if (!p.empty()) {
            ++sent;
            match += opus_packet_get_bandwidth(p.data()) == bw ? 1 : 0;
        }
    }
    return sent == 0 ? 0.0 : static_cast<double>(match) / sent;
}

int max_bandwidth_seen(const encoded& e) {
    int bw = 0;
    for (const auto& p : e.packets) {
        if (!p.empty()) {
            bw = std::max(bw, opus_packet_get_bandwidth(p.data()));
        }
    }
    return bw;
}

/// Our encoder and decoder, and libopus set up as the brief for this
/// module says, give the same octets and samples.
void check_against_libopus(const audio_format& f, std::uint32_t rate,
                           void (*configure)(OpusEncoder*)) {
    const auto& signal = speech(rate);
    auto enc = opus_codec.make_encoder(f, rate);
    auto dec = opus_codec.make_decoder(f, rate);
    REQUIRE(enc->sample_rate() == rate);
    REQUIRE(dec->sample_rate() == rate);
    const std::size_t n = std::size_t{rate} * f.ptime_ms / 1000;
    REQUIRE(enc->packet_samples() == n);

    int err = 0;
    OpusEncoder* ref_enc =
        opus_encoder_create(static_cast<opus_int32>(rate), 1, OPUS_APPLICATION_VOIP, &err);
    REQUIRE(err == OPUS_OK);
    configure(ref_enc);
    OpusDecoder* ref_dec = opus_decoder_create(static_cast<opus_int32>(rate), 1, &err);
    REQUIRE(err == OPUS_OK);

    std::vector<std::uint8_t> payload(1500);
    std::vector<std::uint8_t> ref_payload(1500);
    std::vector<std::int16_t> pcm(n);
    std::vector<std::int16_t> ref_pcm(n);
    int packets = 0;
    for (std::size_t at = 0; at + n <= signal.size(); at += n) {
        const int len = enc->encode(std::span(signal).subspan(at, n), payload);
        const int ref_len =
            opus_encode(ref_enc, signal.data() + at, static_cast<int>(n), ref_payload.data(), 1500);
        REQUIRE(ref_len > 0);
        if (ref_len <= 2) {
            // opus.h: a packet this short need not be sent; a receiver
            // conceals in its place.
            REQUIRE(len == 0);
            REQUIRE(dec->conceal(pcm) == static_cast<int>(n));
            REQUIRE(opus_decode(ref_dec, nullptr, 0, ref_pcm.data(), static_cast<int>(n), 0) ==
                    static_cast<int>(n));
            REQUIRE(pcm == ref_pcm);
            continue;
        }
        REQUIRE(len == ref_len);
        REQUIRE(std::equal(payload.begin(), payload.begin() + len, ref_payload.begin()));

        REQUIRE(dec->decode(std::span(payload).first(static_cast<std::size_t>(len)), pcm) ==
                static_cast<int>(n));
        REQUIRE(opus_decode(ref_dec, ref_payload.data(), ref_len, ref_pcm.data(),
                            static_cast<int>(n), 0) == static_cast<int>(n));
        REQUIRE(pcm == ref_pcm);
        ++packets;
    }
    CHECK(packets > 50);
    opus_encoder_destroy(ref_enc);
    opus_decoder_destroy(ref_dec);
}

}  // namespace

TEST_CASE("Opus equals libopus called directly on speech", "[opus]") {
    SECTION("defaults, 48000 Hz") {
        check_against_libopus(opus_format(), 48000, [](OpusEncoder* e) {
            opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(5));
            opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_FULLBAND));
        });
    }
    SECTION("maxplaybackrate=16000;useinbandfec=1;maxaveragebitrate=20000, 16000 Hz") {
        audio_format f = opus_format();
        f.max_playback_rate = 16000;
        f.use_inband_fec = true;
        f.max_average_bitrate = 20000;
        check_against_libopus(f, 16000, [](OpusEncoder* e) {
            opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(5));
            opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_WIDEBAND));
            opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(1));
            opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(5));
            opus_encoder_ctl(e, OPUS_SET_BITRATE(20000));
        });
    }
    SECTION("maxaveragebitrate below the minimum is clamped, 8000 Hz, 40 ms") {
        audio_format f = opus_format(40);
        f.max_playback_rate = 8000;
        f.max_average_bitrate = 1000;
        check_against_libopus(f, 8000, [](OpusEncoder* e) {
            opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(5));
            opus_encoder_ctl(e, OPUS_SET_MAX_BANDWIDTH(OPUS_BANDWIDTH_NARROWBAND));
            opus_encoder_ctl(e, OPUS_SET_BITRATE(6000));
        });
    }
}

TEST_CASE("Opus maxplaybackrate caps the encoded band", "[opus]") {
    const auto& signal = speech(48000);
    // The encoder runs at 48000 Hz in every case: the cap alone must
    // narrow the band the TOC announces (RFC 6716 3.1).
    audio_format f = opus_format();

    f.max_playback_rate = 8000;
    auto nb = encode_all(*opus_codec.make_encoder(f, 48000), signal);
    CHECK(max_bandwidth_seen(nb) == OPUS_BANDWIDTH_NARROWBAND);

    f.max_playback_rate = 16000;
    auto wb = encode_all(*opus_codec.make_encoder(f, 48000), signal);
    CHECK(max_bandwidth_seen(wb) == OPUS_BANDWIDTH_WIDEBAND);
    CHECK(share_of_bandwidth(wb, OPUS_BANDWIDTH_WIDEBAND) > 0.9);

    f.max_playback_rate = 48000;
    auto fb = encode_all(*opus_codec.make_encoder(f, 48000), signal);
    CHECK(max_bandwidth_seen(fb) == OPUS_BANDWIDTH_FULLBAND);
    CHECK(share_of_bandwidth(fb, OPUS_BANDWIDTH_FULLBAND) > 0.9);
}

TEST_CASE("Opus usedtx=1 stops sending in silence", "[opus]") {
    std::vector<std::int16_t> signal = speech(48000);
    signal.resize(signal.size() + 48000 * 2, 0);  // two seconds of silence
    audio_format f = opus_format();

    auto continuous = encode_all(*opus_codec.make_encoder(f, 48000), signal);
    CHECK(std::none_of(continuous.packets.begin(), continuous.packets.end(),
                       [](const auto& p) { return p.empty(); }));

    f.use_dtx = true;
    auto dtx = encode_all(*opus_codec.make_encoder(f, 48000), signal);
    const auto silent = std::span(dtx.packets).last(100);  // the two seconds
    const auto not_sent =
        std::count_if(silent.begin(), silent.end(), [](const auto& p) { return p.empty(); });
    INFO(not_sent << " of the last 100 packets not sent");
    // libopus sends a comfort-noise update every 400 ms and nothing between.
    CHECK(not_sent > 80);
}

/// Loses each 10th packet of speech in turn (in the voiced part) and
/// measures, against what a receiver without loss decodes, the noise energy
/// of recover() from the next packet and of conceal().
void check_fec(const audio_format& f, std::uint32_t rate) {
    const auto& signal = speech(rate);
    const auto e = encode_all(*opus_codec.make_encoder(f, rate), signal);
    const std::size_t n = rate / 50;

    auto clean_dec = opus_codec.make_decoder(f, rate);
    std::vector<std::int16_t> clean;
    std::vector<std::int16_t> pcm(n);
    for (const auto& p : e.packets) {
        REQUIRE(clean_dec->decode(p, pcm) == static_cast<int>(n));
        clean.insert(clean.end(), pcm.begin(), pcm.end());
    }

    double recovered_noise = 0;
    double concealed_noise = 0;
    int differs = 0;
    int lost_count = 0;
    for (std::size_t lost = 20; lost + 1 < e.packets.size(); lost += 10) {
        const std::span<const std::int16_t> truth(clean.data() + lost * n, n);
        if (test::energy(truth) < 1000.0 * 1000.0 / 100) {
            continue;  // a pause between words: nothing to compare
        }
        auto by_fec = opus_codec.make_decoder(f, rate);
        auto by_plc = opus_codec.make_decoder(f, rate);
        for (std::size_t i = 0; i < lost; ++i) {
            REQUIRE(by_fec->decode(e.packets[i], pcm) == static_cast<int>(n));
            REQUIRE(by_plc->decode(e.packets[i], pcm) == static_cast<int>(n));
        }
        std::vector<std::int16_t> recovered(n);
        std::vector<std::int16_t> concealed(n);
        REQUIRE(by_fec->recover(e.packets[lost + 1], recovered) == static_cast<int>(n));
        REQUIRE(by_plc->conceal(concealed) == static_cast<int>(n));
        differs += recovered != concealed ? 1 : 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double r = recovered[i] - truth[i];
            const double c = concealed[i] - truth[i];
            recovered_noise += r * r;
            concealed_noise += c * c;
        }
        ++lost_count;
        // The packet after the lost one decodes as usual.
        REQUIRE(by_fec->decode(e.packets[lost + 1], pcm) == static_cast<int>(n));
    }
    INFO(lost_count << " losses, " << differs << " recovered unlike concealment; noise energy "
                    << "recovered " << recovered_noise << ", concealed " << concealed_noise);
    REQUIRE(lost_count > 5);
    CHECK(differs == lost_count);
    CHECK(recovered_noise * 2 < concealed_noise);
}

TEST_CASE("Opus useinbandfec=1 recovers a lost packet better than concealment", "[opus]") {
    audio_format f = opus_format();
    f.use_inband_fec = true;
    // libopus adds the low-bitrate copy only when the bitrate leaves room
    // for it at the loss rate set (opus_encoder.c decide_fec()).
    SECTION("48000 Hz, the default bitrate") { check_fec(f, 48000); }
    SECTION("16000 Hz, maxplaybackrate=16000;maxaveragebitrate=32000") {
        f.max_playback_rate = 16000;
        f.max_average_bitrate = 32000;
        check_fec(f, 16000);
    }
}

TEST_CASE("Opus ptime 60 and the decoder's checks", "[opus]") {
    const auto& signal = speech(48000);
    const audio_format f = opus_format(60);
    auto enc = opus_codec.make_encoder(f, 48000);
    auto dec = opus_codec.make_decoder(f, 48000);
    REQUIRE(enc->packet_samples() == 2880);
    std::vector<std::uint8_t> payload(1500);
    std::vector<std::int16_t> pcm(2880);
    std::vector<std::int16_t> decoded;
    for (std::size_t at = 0; at + 2880 <= signal.size(); at += 2880) {
        const int len = enc->encode(std::span(signal).subspan(at, 2880), payload);
        REQUIRE(len > 2);
        REQUIRE(opus_packet_get_nb_samples(payload.data(), len, 48000) == 2880);
        REQUIRE(dec->decode(std::span(payload).first(static_cast<std::size_t>(len)), pcm) == 2880);
        decoded.insert(decoded.end(), pcm.begin(), pcm.end());
    }
    // A lossy codec: only a sanity check that the speech came through.
    CHECK(test::energy(decoded) > test::energy(signal) / 4);

    // 60 ms does not fit 20 ms of room.
    const int len = enc->encode(std::span(signal).first(2880), payload);
    std::vector<std::int16_t> small(960);
    CHECK(dec->decode(std::span(payload).first(static_cast<std::size_t>(len)), small) == -1);
    // Code 3 with a frame count of 0 (RFC 6716 3.2.5) is malformed.
    const std::vector<std::uint8_t> bad{0x03, 0x00};
    CHECK(dec->decode(bad, pcm) == -1);
    CHECK(dec->decode({}, pcm) == 0);
    CHECK(dec->conceal(pcm) == 2880);
    std::vector<std::int16_t> short_pcm(960);
    CHECK(enc->encode(short_pcm, payload) == -1);

    CHECK_THROWS_AS(opus_codec.make_encoder(opus_format(30), 48000), std::runtime_error);
    CHECK_THROWS_AS(opus_codec.make_encoder(opus_format(), 44100), std::runtime_error);
    CHECK_THROWS_AS(opus_codec.make_decoder(opus_format(), 32000), std::runtime_error);
}
