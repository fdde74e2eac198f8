// G.722: the codec objects against spandsp called directly on real speech,
// at 16000 Hz and in the 8000 Hz (lower sub-band) mode; RFC 3551 4.5.2's
// RTP clock against the PCM rate; the wideband band kept; bad payloads and
// arguments; concealment of a lost packet and the decoder's recovery after it.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

// spandsp after the standard headers: it needs <cstdint> before it, and
// telephony.h defines lrint and lrintf as macros in C++, which break a
// <cmath> that comes after it.
#include <spandsp/telephony.h>
// telephony.h first: g722.h uses its SPAN_DECLARE.
#include <spandsp/g722.h>

#include "tests/transcoder/speech.hpp"
#include "transcoder/api/codec.hpp"
#include "transcoder/g722/g722.hpp"

using namespace sbc::transcoder;
using sbc::transcoder::test::speech;

namespace {

audio_format g722_format(unsigned ptime_ms = 20) {
    audio_format f;
    f.encoding = "G722";
    f.clock_rate = 8000;
    f.payload_type = 9;
    f.ptime_ms = ptime_ms;
    return f;
}

/// `signal` cut into 20 ms packets by our encoder at `rate`.
std::vector<std::vector<std::uint8_t>> packets_of(const std::vector<std::int16_t>& signal,
                                                  std::uint32_t rate) {
    auto enc = g722_codec.make_encoder(g722_format(), rate);
    const std::size_t n = enc->packet_samples();
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t at = 0; at + n <= signal.size(); at += n) {
        std::vector<std::uint8_t> p(160);
        REQUIRE(enc->encode(std::span(signal).subspan(at, n), p) == 160);
        out.push_back(std::move(p));
    }
    return out;
}

/// The SNR of `decoded` against `original`, at the delay (0 to 64 samples:
/// the QMF's) where it is best.
double best_snr_db(std::span<const std::int16_t> original, std::span<const std::int16_t> decoded) {
    double best = -1000;
    for (std::size_t delay = 0; delay <= 64; ++delay) {
        best = std::max(best, test::snr_db(original, decoded, delay));
    }
    return best;
}

/// The energy of `pcm` (rate 16000) between `lo` and `hi` Hz, by a plain DFT
/// over the bins of that band.
double band_energy(std::span<const std::int16_t> pcm, double lo, double hi) {
    constexpr double pi = 3.14159265358979323846;
    const std::size_t n = pcm.size();
    double sum = 0;
    for (std::size_t k = 1; k < n / 2; ++k) {
        const double hz = 16000.0 * static_cast<double>(k) / static_cast<double>(n);
        if (hz < lo || hz > hi) {
            continue;
        }
        double re = 0;
        double im = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double a = 2 * pi * static_cast<double>(k * i) / static_cast<double>(n);
            re += pcm[i] * std::cos(a);
            im -= pcm[i] * std::sin(a);
        }
        sum += re * re + im * im;
    }
    return sum;
}

}  // namespace

TEST_CASE("G.722 equals spandsp called directly on speech", "[g722]") {
    for (std::uint32_t rate : {16000u, 8000u}) {
        INFO("PCM rate " << rate);
        const auto& signal = speech(rate);
        const int options = rate == 8000 ? G722_SAMPLE_RATE_8000 : 0;
        auto enc = g722_codec.make_encoder(g722_format(), rate);
        auto dec = g722_codec.make_decoder(g722_format(), rate);
        REQUIRE(enc->sample_rate() == rate);
        REQUIRE(dec->sample_rate() == rate);
        // RFC 3551 4.5.2: 20 ms is 160 octets and 160 ticks of the 8000 Hz
        // clock, but 320 samples at 16000 Hz.
        const std::size_t n = rate / 50;
        REQUIRE(enc->packet_samples() == n);

        g722_encode_state_t* ref_enc = g722_encode_init(nullptr, 64000, options);
        g722_decode_state_t* ref_dec = g722_decode_init(nullptr, 64000, options);
        REQUIRE(ref_enc != nullptr);
        REQUIRE(ref_dec != nullptr);
        std::vector<std::uint8_t> payload(200);
        std::vector<std::int16_t> pcm(n);
        std::vector<std::uint8_t> ref_payload(160);
        std::vector<std::int16_t> ref_pcm(n);
        std::vector<std::int16_t> decoded;
        for (std::size_t at = 0; at + n <= signal.size(); at += n) {
            REQUIRE(enc->encode(std::span(signal).subspan(at, n), payload) == 160);
            REQUIRE(g722_encode(ref_enc, ref_payload.data(), signal.data() + at,
                                static_cast<int>(n)) == 160);
            REQUIRE(std::equal(ref_payload.begin(), ref_payload.end(), payload.begin()));

            REQUIRE(dec->decode(std::span(payload).first(160), pcm) == static_cast<int>(n));
            REQUIRE(g722_decode(ref_dec, ref_pcm.data(), ref_payload.data(), 160) ==
                    static_cast<int>(n));
            REQUIRE(pcm == ref_pcm);
            decoded.insert(decoded.end(), pcm.begin(), pcm.end());
        }
        g722_encode_free(ref_enc);
        g722_decode_free(ref_dec);
        // 64 kbit/s ADPCM of speech: well above any narrowband codec here.
        const double snr = best_snr_db(signal, decoded);
        INFO("SNR " << snr << " dB");
        CHECK(snr > 15.0);
    }
}

TEST_CASE("G.722 registry entry: RTP clock 8000, audio at 16000", "[g722]") {
    CHECK(find_codec("G722", 8000) == &g722_codec);
    CHECK(find_codec("g722", 8000) == &g722_codec);
    // RFC 3551 4.5.2: "G722/16000" is no rtpmap a peer should send.
    CHECK(find_codec("G722", 16000) == nullptr);
    CHECK(g722_codec.clock_rate == 8000);
    CHECK(g722_codec.static_payload_type == 9);
    CHECK(g722_codec.sdp_channels == 1);
    CHECK(std::vector(g722_codec.pcm_rates.begin(), g722_codec.pcm_rates.end()) ==
          std::vector<std::uint32_t>{8000, 16000});
    // Encoded at 16000 whatever the other leg: the wideband is the point.
    CHECK(encoder_pcm_rate(g722_codec, g722_format()) == 16000);
    // Decoded at the chain's rate where it can, else above it.
    CHECK(decoder_pcm_rate(g722_codec, 8000) == 8000);
    CHECK(decoder_pcm_rate(g722_codec, 12000) == 16000);
    CHECK(decoder_pcm_rate(g722_codec, 16000) == 16000);
    CHECK(decoder_pcm_rate(g722_codec, 48000) == 16000);

    // Any ptime: one octet per 125 us, two samples per octet at 16000 Hz.
    for (unsigned ptime : {10u, 30u, 60u}) {
        INFO("ptime " << ptime);
        auto enc = g722_codec.make_encoder(g722_format(ptime), 16000);
        CHECK(enc->packet_samples() == 16 * ptime);
        std::vector<std::int16_t> pcm(16 * ptime);
        std::vector<std::uint8_t> out(8 * ptime);
        CHECK(enc->encode(pcm, out) == static_cast<int>(8 * ptime));
        auto narrow = g722_codec.make_encoder(g722_format(ptime), 8000);
        CHECK(narrow->packet_samples() == 8 * ptime);
    }
}

TEST_CASE("G.722 carries the band above 4 kHz; its 8000 Hz mode does not", "[g722]") {
    // A 6 kHz tone and a 1 kHz one, coded at 16000 Hz.
    auto signal = test::sine(6000, 6000, 16000, 16000);
    const auto low = test::sine(1000, 6000, 16000, 16000);
    for (std::size_t i = 0; i < signal.size(); ++i) {
        signal[i] = static_cast<std::int16_t>(signal[i] / 2 + low[i] / 2);
    }
    const auto packets = packets_of(signal, 16000);
    auto wide = g722_codec.make_decoder(g722_format(), 16000);
    auto narrow = g722_codec.make_decoder(g722_format(), 8000);
    std::vector<std::int16_t> wide_pcm;
    std::vector<std::int16_t> narrow_pcm;
    std::vector<std::int16_t> pcm(320);
    for (const auto& p : packets) {
        REQUIRE(wide->decode(p, pcm) == 320);
        wide_pcm.insert(wide_pcm.end(), pcm.begin(), pcm.begin() + 320);
        REQUIRE(narrow->decode(p, pcm) == 160);
        narrow_pcm.insert(narrow_pcm.end(), pcm.begin(), pcm.begin() + 160);
    }
    // 50 ms in the middle, where the ADPCM has adapted.
    const auto wide_mid = std::span(wide_pcm).subspan(8000, 800);
    const double high = band_energy(wide_mid, 5500, 6500);
    const double base = band_energy(wide_mid, 500, 1500);
    INFO("6 kHz " << high << ", 1 kHz " << base);
    CHECK(high > base / 4);  // both tones there
    // The lower sub-band alone (8000 Hz): the 1 kHz tone, nothing at 6 kHz
    // to fold down; its energy is that of the 1 kHz half.
    const double narrow_energy = test::energy(std::span(narrow_pcm).subspan(4000, 400));
    const double low_energy = test::energy(std::span(low).subspan(8000, 800)) / 4;
    INFO("8000 Hz mode: energy " << narrow_energy << ", the 1 kHz half's " << low_energy);
    CHECK(narrow_energy > low_energy * 0.7);
    CHECK(narrow_energy < low_energy * 1.3);
}

TEST_CASE("G.722 refuses bad payloads and arguments without harm", "[g722]") {
    auto dec = g722_codec.make_decoder(g722_format(), 16000);
    std::vector<std::int16_t> pcm(320);
    // Every octet is a code word: 160 octets of anything are 320 samples.
    std::mt19937 rng(722);
    std::vector<std::uint8_t> noise(160);
    for (int round = 0; round < 50; ++round) {
        std::generate(noise.begin(), noise.end(), [&] { return static_cast<std::uint8_t>(rng()); });
        REQUIRE(dec->decode(noise, pcm) == 320);
    }
    CHECK(dec->decode({}, pcm) == 0);
    // More than the room the caller gave.
    const std::vector<std::uint8_t> long_payload(161, 0x55);
    CHECK(dec->decode(long_payload, pcm) == -1);
    std::vector<std::int16_t> big(1 << 17);
    const std::vector<std::uint8_t> huge((1 << 15) + 1, 0x55);
    CHECK(dec->decode(huge, big) == -1);
    CHECK(dec->conceal(big) == -1);
    // An odd payload length is fine: one octet is 125 us.
    const std::vector<std::uint8_t> odd(7, 0x55);
    CHECK(dec->decode(odd, pcm) == 14);

    auto enc = g722_codec.make_encoder(g722_format(), 16000);
    std::vector<std::uint8_t> out(160);
    std::vector<std::int16_t> short_pcm(319);
    CHECK(enc->encode(short_pcm, out) == -1);
    std::vector<std::uint8_t> small(159);
    CHECK(enc->encode(pcm, small) == -1);

    CHECK_THROWS_AS(g722_codec.make_encoder(g722_format(), 48000), std::runtime_error);
    CHECK_THROWS_AS(g722_codec.make_decoder(g722_format(), 32000), std::runtime_error);
    CHECK_THROWS_AS(g722_codec.make_encoder(g722_format(0), 16000), std::runtime_error);
    CHECK_THROWS_AS(g722_codec.make_encoder(g722_format(200), 16000), std::runtime_error);
}

TEST_CASE("G.722 conceals a lost packet", "[g722]") {
    const auto& signal = speech(16000);
    const auto packets = packets_of(signal, 16000);
    REQUIRE(packets.size() > 120);
    for (std::uint32_t rate : {16000u, 8000u}) {
        INFO("PCM rate " << rate);
        auto dec = g722_codec.make_decoder(g722_format(), rate);
        std::vector<std::int16_t> pcm(320);
        for (std::size_t i = 0; i < 100; ++i) {
            REQUIRE(dec->decode(packets[i], pcm) == static_cast<int>(rate / 50));
        }
        std::vector<std::int16_t> filled(rate / 50, 12345);
        REQUIRE(dec->conceal(filled) == static_cast<int>(rate / 50));
        CHECK(std::find(filled.begin(), filled.end(), std::int16_t{12345}) == filled.end());
        CHECK(test::energy(filled) > 0);
        // A span of any length is filled: a timestamp gap off the packet grid.
        std::vector<std::int16_t> odd(125, 12345);
        REQUIRE(dec->conceal(odd) == 125);
        CHECK(std::find(odd.begin(), odd.end(), std::int16_t{12345}) == odd.end());
        // And decoding goes on.
        REQUIRE(dec->decode(packets[101], pcm) == static_cast<int>(rate / 50));
    }
}

TEST_CASE("G.722's decoder state follows its fill-in through a loss", "[g722]") {
    // One packet in 7 lost, each time against a decoder that lost nothing:
    // what is decoded after the loss must return to the loss-free audio,
    // quickly (the decoder codes its own fill-in to keep its ADPCM state
    // near the encoder's), not after the 100 ms and more the state takes
    // to leak back alone.
    const auto& signal = speech(16000);
    const auto packets = packets_of(signal, 16000);
    constexpr std::size_t after = 11;
    std::vector<double> error(after, 0);
    std::vector<double> power(after, 0);
    std::vector<std::int16_t> pcm(320);
    std::vector<std::int16_t> ref_pcm(320);
    for (std::size_t lost = 20; lost + after < packets.size(); lost += 7) {
        auto dec = g722_codec.make_decoder(g722_format(), 16000);
        auto reference = g722_codec.make_decoder(g722_format(), 16000);
        for (std::size_t i = 0; i < lost; ++i) {
            REQUIRE(dec->decode(packets[i], pcm) == 320);
            REQUIRE(reference->decode(packets[i], ref_pcm) == 320);
        }
        REQUIRE(dec->conceal(pcm) == 320);
        REQUIRE(reference->decode(packets[lost], ref_pcm) == 320);
        for (std::size_t k = 1; k < after; ++k) {
            REQUIRE(dec->decode(packets[lost + k], pcm) == 320);
            REQUIRE(reference->decode(packets[lost + k], ref_pcm) == 320);
            for (std::size_t j = 0; j < 320; ++j) {
                const double d = static_cast<double>(pcm[j]) - ref_pcm[j];
                error[k] += d * d;
                power[k] += static_cast<double>(ref_pcm[j]) * ref_pcm[j];
            }
        }
    }
    std::vector<double> snr(after, 0);
    for (std::size_t k = 1; k < after; ++k) {
        snr[k] = 10 * std::log10(power[k] / std::max(error[k], 1.0));
    }
    INFO("SNR (dB) against the loss-free decoder, per 20 ms after the loss: "
         << Catch::Detail::stringify(snr));
    // 20 to 80 ms after the loss (4 to 6 dB when the state is left alone).
    CHECK(snr[2] > 8.0);
    CHECK(snr[3] > 10.0);
    CHECK(snr[4] > 12.0);
    CHECK(snr[after - 1] > 25.0);
}
