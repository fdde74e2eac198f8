// tone_source: the E.180 ringback tones measured (Goertzel at the tone's
// frequencies against others, on and off durations in samples) and the RTP
// stream it makes of them (pacing, header fields, the codec's audio).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "transcoder/api/codec.hpp"
#include "transcoder/chain/packet_sink.hpp"
#include "transcoder/chain/rtp_packet.hpp"
#include "transcoder/tone/tone_source.hpp"

using namespace sbc::transcoder;

namespace tone_tests {

constexpr double pi = 3.14159265358979323846;
constexpr std::int64_t ms = 1'000'000;

// The power of `f` in `pcm` (Goertzel), normalized by the length.
double power_at(const std::vector<std::int16_t>& pcm, std::size_t from, std::size_t n, double f,
                double rate) {
    const double k = 2 * std::cos(2 * pi * f / rate);
    double s1 = 0, s2 = 0;
    for (std::size_t i = from; i < from + n; ++i) {
        const double s0 = pcm[i] + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / (static_cast<double>(n) * n);
}

audio_format format_of(const std::string& encoding, std::uint8_t pt, std::uint32_t clock = 8000) {
    audio_format f;
    f.encoding = encoding;
    f.clock_rate = clock;
    f.payload_type = pt;
    f.ptime_ms = 20;
    return f;
}

std::unique_ptr<tone_source> make_tone(ringback_tone t, const audio_format& f) {
    tone_config cfg;
    cfg.tone = t;
    cfg.out = f;
    cfg.origin = output_origin{0x11223344, 65534, 4000000000u};
    auto made = tone_source::make(cfg);
    REQUIRE(made);
    return std::move(made).value();
}

std::vector<std::int16_t> samples(tone_source& t, std::size_t n) {
    std::vector<std::int16_t> pcm(n);
    t.fill(pcm);
    return pcm;
}

// Lengths of the runs of sound and silence, starting with sound.
std::vector<std::size_t> runs(const std::vector<std::int16_t>& pcm) {
    std::vector<std::size_t> out;
    bool on = true;
    std::size_t start = 0;
    // A run of sound ends where 20 samples in a row are silent (the waveform
    // crosses zero on its own within it).
    std::size_t silent = 0;
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        silent = pcm[i] == 0 ? silent + 1 : 0;
        if (on && silent == 20) {
            out.push_back(i - 19 - start);
            start = i - 19;
            on = false;
        } else if (!on && pcm[i] != 0) {
            out.push_back(i - start);
            start = i;
            on = true;
        }
    }
    return out;
}

}  // namespace tone_tests

using namespace tone_tests;

TEST_CASE("ringback tones sound at their E.180 frequencies and nowhere else", "[tone]") {
    struct expect {
        ringback_tone tone;
        std::vector<double> at;
    };
    for (const auto& e : {expect{ringback_tone::us, {440, 480}}, expect{ringback_tone::eu, {425}},
                          expect{ringback_tone::uk, {400, 450}}}) {
        INFO(std::string(to_string(e.tone)));
        auto t = make_tone(e.tone, format_of("PCMU", 0));
        const auto pcm = samples(*t, 2400);  // 300 ms: inside the first burst of each
        const std::size_t from = 80, n = 2000;
        double least_in = 1e30;
        for (double f : e.at) {
            least_in = std::min(least_in, power_at(pcm, from, n, f, 8000));
        }
        for (double f : {300.0, 350.0, 620.0, 1000.0, 2000.0}) {
            INFO(f);
            CHECK(power_at(pcm, from, n, f, 8000) < least_in / 100);
        }
        CHECK(least_in > 1000.0);
    }
}

TEST_CASE("ringback cadences: on and off durations in samples", "[tone]") {
    SECTION("us: 2 s on, 4 s off") {
        auto t = make_tone(ringback_tone::us, format_of("PCMU", 0));
        const auto r = runs(samples(*t, 8000 * 13));
        REQUIRE(r.size() >= 4);
        CHECK(r[0] == Approx(16000).margin(20));
        CHECK(r[1] == Approx(32000).margin(20));
        CHECK(r[2] == Approx(16000).margin(20));
        CHECK(r[3] == Approx(32000).margin(20));
    }
    SECTION("eu: 1 s on, 4 s off") {
        auto t = make_tone(ringback_tone::eu, format_of("PCMA", 8));
        const auto r = runs(samples(*t, 8000 * 11));
        REQUIRE(r.size() >= 3);
        CHECK(r[0] == Approx(8000).margin(20));
        CHECK(r[1] == Approx(32000).margin(20));
        CHECK(r[2] == Approx(8000).margin(20));
    }
    SECTION("uk: 0.4 on, 0.2 off, 0.4 on, 2 off") {
        auto t = make_tone(ringback_tone::uk, format_of("PCMU", 0));
        const auto r = runs(samples(*t, 8000 * 6));
        REQUIRE(r.size() >= 5);
        CHECK(r[0] == Approx(3200).margin(20));
        CHECK(r[1] == Approx(1600).margin(20));
        CHECK(r[2] == Approx(3200).margin(20));
        CHECK(r[3] == Approx(16000).margin(20));
        CHECK(r[4] == Approx(3200).margin(20));
    }
}

TEST_CASE("a tone's RTP: paced every 20 ms, its own SSRC, sequence and timestamps, marker first",
          "[tone]") {
    auto t = make_tone(ringback_tone::us, format_of("PCMU", 0));
    packet_sink sink(64);
    CHECK(t->next_due_ns() == no_due_ns);
    CHECK(t->release(1000 * ms, sink) == 0);  // not started
    t->start(1000 * ms);
    CHECK(t->release(1000 * ms, sink) == 1);
    CHECK(t->next_due_ns() == 1020 * ms);
    CHECK(t->release(1019 * ms, sink) == 0);
    CHECK(t->release(1040 * ms, sink) == 2);
    REQUIRE(sink.size() == 3);
    std::vector<rtp_view> got;
    for (const auto& p : sink.packets()) {
        auto v = parse_rtp({p.data, p.len});
        REQUIRE(v);
        got.push_back(*v);
    }
    CHECK(got[0].marker);
    CHECK_FALSE(got[1].marker);
    for (std::size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].payload_type == 0);
        CHECK(got[i].ssrc == 0x11223344u);
        CHECK(got[i].payload.size() == 160);
        CHECK(got[i].sequence == static_cast<std::uint16_t>(65534 + i));  // wraps
        CHECK(got[i].timestamp == static_cast<std::uint32_t>(4000000000u + 160 * i));
    }
    CHECK(t->packets_sent() == 3);

    SECTION("the payload decodes to the tone") {
        const codec_info* pcmu = find_codec("PCMU", 8000);
        REQUIRE(pcmu != nullptr);
        auto dec = pcmu->make_decoder(format_of("PCMU", 0), 8000);
        std::vector<std::int16_t> pcm;
        for (const auto& v : got) {
            std::int16_t buf[160];
            REQUIRE(dec->decode(v.payload, buf) == 160);
            pcm.insert(pcm.end(), buf, buf + 160);
        }
        const double in = power_at(pcm, 0, 480, 440, 8000);
        CHECK(in > 100 * power_at(pcm, 0, 480, 1000, 8000));
    }
    SECTION("a worker far behind skips ahead instead of bursting") {
        sink.clear();
        const auto sent = t->release(2000 * ms, sink);
        CHECK(sent >= 1);
        CHECK(sent <= 4);
        CHECK(t->next_due_ns() > 2000 * ms);
        const auto v = parse_rtp({sink.packets()[sent - 1].data, sink.packets()[sent - 1].len});
        // The timestamp still follows the clock (RFC 3550 5.1): 1 s is 8000 ticks.
        CHECK(v->timestamp == static_cast<std::uint32_t>(4000000000u + 8000 * 1000 / 1000));
        CHECK(v->sequence == static_cast<std::uint16_t>(65534 + 3 + sent - 1));
    }
}

TEST_CASE("tones in the registry's other codecs", "[tone]") {
    for (const auto& f :
         {format_of("G729", 18), format_of("G722", 9), format_of("opus", 111, 48000)}) {
        INFO(f.encoding);
        tone_config cfg;
        cfg.out = f;
        auto t = tone_source::make(cfg);
        REQUIRE(t);
        packet_sink sink(8);
        (*t)->start(0);
        CHECK((*t)->release(0, sink) == 1);
        auto v = parse_rtp({sink.packets()[0].data, sink.packets()[0].len});
        REQUIRE(v);
        CHECK(v->payload_type == f.payload_type);
        CHECK_FALSE(v->payload.empty());
    }
    SECTION("an unknown codec is refused with a reason") {
        tone_config cfg;
        cfg.out = format_of("AMR", 96);
        auto t = tone_source::make(cfg);
        REQUIRE_FALSE(t);
        CHECK(t.error_message().find("AMR") != std::string::npos);
    }
}
