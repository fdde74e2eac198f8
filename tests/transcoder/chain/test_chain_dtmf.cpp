// DTMF across a chain whose legs carry digits differently (RFC 4733
// telephone-events, SIP INFO, in-band tones), as the wire shows it: what the
// input leg's peer sends, what the chain sends on, and the digits the
// control plane takes to send as INFO.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tests/transcoder/chain/chain_script.hpp"
#include "transcoder/dtmf/telephone_event.hpp"
#include "transcoder/dtmf/tone_detector.hpp"
#include "transcoder/dtmf/tone_generator.hpp"

namespace sbc::transcoder {
namespace {

using test::chain_driver;
using test::rtp;

constexpr std::int64_t ms_ns = 1'000'000;
constexpr std::size_t frame = 160;  // 20 ms at 8000 Hz
constexpr std::uint8_t pcmu = 0;
constexpr std::uint8_t pcma = 8;
constexpr std::uint8_t g722 = 9;
constexpr std::uint8_t opus = 111;
constexpr std::uint8_t event_pt = 101;

using test::format;

stream_format leg(audio_format f, dtmf_mode mode, int event_payload_type = -1,
                  std::uint32_t event_clock = 8000) {
    stream_format s;
    s.audio = std::move(f);
    s.dtmf = mode;
    s.event_payload_type = event_payload_type;
    s.event_clock_rate = event_clock;
    return s;
}

constexpr output_origin dtmf_origin{0x5eed0001, 20000, 777000};

chain_driver make_chain(stream_format in, stream_format out) {
    chain_config cfg;
    cfg.in = std::move(in);
    cfg.out = std::move(out);
    cfg.origin = dtmf_origin;
    return chain_driver(test::make_chain(cfg));
}

/// A voice behind the keypad, well below the tones (-10 dBm0): harmonics of
/// 200 Hz, none near a DTMF frequency, under a slow envelope.
std::vector<std::int16_t> murmur(std::size_t samples) {
    constexpr double pi = 3.14159265358979323846;
    std::vector<std::int16_t> pcm(samples);
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / 8000.0;
        const double env = 0.7 + 0.3 * std::sin(2 * pi * 2 * t);
        const double v = std::sin(2 * pi * 200 * t) + 0.5 * std::sin(2 * pi * 400 * t) +
                         0.3 * std::sin(2 * pi * 600 * t) + 0.2 * std::sin(2 * pi * 1000 * t) +
                         0.1 * std::sin(2 * pi * 2400 * t);
        pcm[i] = static_cast<std::int16_t>(700 * env * v);
    }
    return pcm;
}

/// `pcm` (8000 Hz) as the payloads `f`'s encoder makes of it, one per ptime.
std::vector<std::vector<std::uint8_t>> encode(const audio_format& f,
                                              std::span<const std::int16_t> pcm) {
    const codec_info* info = find_codec(f.encoding, f.clock_rate);
    REQUIRE(info != nullptr);
    const auto rate = encoder_pcm_rate(*info, f);
    auto enc = info->make_encoder(f, rate);
    const std::size_t n = enc->packet_samples();
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t off = 0; off + n <= pcm.size(); off += n) {
        std::vector<std::uint8_t> p(1500);
        const int len = enc->encode(pcm.subspan(off, n), p);
        REQUIRE(len > 0);
        p.resize(static_cast<std::size_t>(len));
        out.push_back(std::move(p));
    }
    return out;
}

/// The audio a receiver of the chain's output plays (G.711, 8000 Hz): the
/// packets of `f`'s payload type decoded in order.
std::vector<std::int16_t> decode(const audio_format& f, const std::vector<test::sent>& out) {
    const codec_info* info = find_codec(f.encoding, f.clock_rate);
    REQUIRE(info != nullptr);
    auto dec = info->make_decoder(f, 8000);
    std::vector<std::int16_t> pcm;
    std::vector<std::int16_t> buf(8000);
    for (const auto& p : out) {
        if (p.header.payload_type == f.payload_type) {
            const int n = dec->decode(p.payload, buf);
            REQUIRE(n > 0);
            pcm.insert(pcm.end(), buf.begin(), buf.begin() + n);
        }
    }
    return pcm;
}

/// The keys a DTMF receiver hears in `pcm` (8000 Hz), fed 20 ms at a time.
std::string heard(std::span<const std::int16_t> pcm) {
    dtmf::tone_detector det;
    std::string keys;
    for (std::size_t i = 0; i < pcm.size(); i += frame) {
        det.feed(pcm.subspan(i, std::min(frame, pcm.size() - i)));
        while (auto d = det.take()) {
            keys += d->symbol;
        }
    }
    return keys;
}

/// `key`'s tone for `ms`, as a phone's keypad makes it.
std::vector<std::int16_t> tone(char key, unsigned ms) {
    dtmf::tone_generator gen;
    REQUIRE(gen.start(key, ms));
    std::vector<std::int16_t> pcm((ms + dtmf::tone_generator::gap_ms) * 8);
    REQUIRE(gen.fill(pcm) == pcm.size());
    pcm.resize(ms * 8);
    return pcm;
}

/// One RFC 4733 2.3 event block, volume -10 dBm0.
std::vector<std::uint8_t> event_block(std::uint8_t event, bool end, std::uint16_t duration) {
    return {event, static_cast<std::uint8_t>((end ? 0x80 : 0x00) | 10),
            static_cast<std::uint8_t>(duration >> 8), static_cast<std::uint8_t>(duration)};
}

struct event_seen {
    std::uint8_t event = 0;
    bool end = false;
    std::uint16_t duration = 0;
};

event_seen read_event(const test::sent& p) {
    REQUIRE(p.payload.size() == 4);
    return {p.payload[0], (p.payload[1] & 0x80) != 0,
            static_cast<std::uint16_t>(p.payload[2] << 8 | p.payload[3])};
}

std::vector<test::sent> of_type(const std::vector<test::sent>& out, std::uint8_t pt) {
    std::vector<test::sent> r;
    std::copy_if(out.begin(), out.end(), std::back_inserter(r),
                 [pt](const test::sent& p) { return p.header.payload_type == pt; });
    return r;
}

std::string take_all(media_chain& c) {
    std::string keys;
    while (auto d = c.take_digit()) {
        keys += d->symbol;
    }
    return keys;
}

/// The input leg's peer: an audio packet every ptime and, while a key is
/// held, telephone-events beside it as RFC 4733 2.5 and sipp's dtmf_2833
/// captures show them: every packet of the event carries the event's start
/// timestamp, the first has the marker, the durations grow by one ptime,
/// and the final packet (E bit) goes three times (2.5.1.4).
class peer {
public:
    struct wire_packet {
        std::vector<std::uint8_t> bytes;
        std::int64_t at_ns = 0;
    };

    peer(audio_format f, std::vector<std::vector<std::uint8_t>> audio)
        : _f(std::move(f)), _audio(std::move(audio)) {}

    /// `packets` of audio only.
    void talk(std::size_t packets) {
        for (std::size_t i = 0; i < packets; ++i) {
            send_audio();
        }
    }

    /// Holds `key` for `ms` (a multiple of the ptime), the audio going on.
    /// With `end_lost`, the final packets never arrive.
    void press(char key, unsigned ms, bool end_lost = false) {
        const std::uint8_t event = *dtmf::event_of(key);
        const std::size_t ticks = ms / _f.ptime_ms;
        const std::uint32_t start = ts_now();
        for (std::size_t i = 0; i < ticks; ++i) {
            send_audio();
            const auto duration = static_cast<std::uint16_t>(step() * (i + 1));
            if (i + 1 < ticks) {
                send_event(start, i == 0, event_block(event, false, duration));
            } else if (!end_lost) {
                for (int r = 0; r < 3; ++r) {
                    send_event(start, i == 0 && r == 0, event_block(event, true, duration));
                }
            }
        }
    }

    /// An event packet with any payload, at the current time.
    void send_event(std::uint32_t ts, bool marker, std::span<const std::uint8_t> payload) {
        wire.push_back({rtp(event_pt, _seq++, ts, payload, marker), at_last()});
        last_event_ns = at_last();
    }

    std::uint32_t ts_now() const { return 5000 + static_cast<std::uint32_t>(_ticks * step()); }
    std::int64_t at_last() const { return 1'000 * ms_ns + (_ticks - 1) * _f.ptime_ms * ms_ns; }

    std::vector<wire_packet> wire;
    std::vector<std::vector<std::uint8_t>> audio_sent;
    std::int64_t last_event_ns = 0;

private:
    std::uint32_t step() const { return _f.clock_rate / 1000 * _f.ptime_ms; }

    void send_audio() {
        const auto& payload = _audio[_ticks % _audio.size()];
        wire.push_back({rtp(_f.payload_type, _seq++, ts_now(), payload, _ticks == 0), 0});
        audio_sent.push_back(payload);
        ++_ticks;
        wire.back().at_ns = at_last();
    }

    audio_format _f;
    std::vector<std::vector<std::uint8_t>> _audio;
    std::uint16_t _seq = 65500;  // wraps during the longer scripts
    std::int64_t _ticks = 0;
};

void play(chain_driver& d, const std::vector<peer::wire_packet>& wire) {
    for (const auto& p : wire) {
        d.push(p.bytes, p.at_ns);
    }
}

/// What a passthrough chain must send of the peer's audio: its payloads
/// untouched, under the chain's own SSRC, sequence and timestamps.
void expect_forwarded(const std::vector<test::sent>& audio, const peer& p, std::uint8_t pt,
                      std::uint32_t ts_step) {
    REQUIRE(audio.size() == p.audio_sent.size());
    for (std::size_t i = 0; i < audio.size(); ++i) {
        INFO("audio packet " << i);
        CHECK(audio[i].payload == p.audio_sent[i]);
        CHECK(audio[i].header.payload_type == pt);
        CHECK(audio[i].header.ssrc == dtmf_origin.ssrc);
        CHECK(audio[i].header.timestamp == dtmf_origin.timestamp + ts_step * i);
        CHECK(audio[i].header.marker == (i == 0));
    }
}

void expect_sequence_continuous(const std::vector<test::sent>& out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("packet " << i);
        CHECK(out[i].header.sequence == static_cast<std::uint16_t>(dtmf_origin.sequence + i));
    }
}

}  // namespace

TEST_CASE("rfc4733 in, info out: the digit is reported once, its events go no further") {
    const auto f = format("PCMU", 8000, pcmu);
    auto d = make_chain(leg(f, dtmf_mode::rfc4733, event_pt), leg(f, dtmf_mode::info));
    REQUIRE(d.chain->passthrough());
    peer caller(f, encode(f, murmur(20 * frame)));

    SECTION("one digit") {
        caller.talk(5);
        caller.press('5', 100);
        caller.talk(5);
        play(d, caller.wire);

        expect_forwarded(d.out, caller, pcmu, 160);
        expect_sequence_continuous(d.out);
        const auto digit = d.chain->take_digit();
        REQUIRE(digit);
        CHECK(digit->symbol == '5');
        CHECK(digit->duration_ms == 100);
        CHECK_FALSE(d.chain->take_digit());
    }
    SECTION("a dialled sequence: each digit once, in order") {
        caller.talk(3);
        for (char key : std::string_view("1234#")) {
            caller.press(key, 120);
            caller.talk(4);
        }
        play(d, caller.wire);

        expect_forwarded(d.out, caller, pcmu, 160);
        expect_sequence_continuous(d.out);
        std::string keys;
        while (auto digit = d.chain->take_digit()) {
            keys += digit->symbol;
            CHECK(digit->duration_ms == 120);
        }
        CHECK(keys == "1234#");
    }
    CHECK(d.chain->stats().events_dropped == 0);
    CHECK(d.chain->stats().unknown_payload == 0);
}

TEST_CASE("rfc4733 in, info out: an event whose end packets are lost ends after 250 ms") {
    const auto f = format("PCMU", 8000, pcmu);
    auto d = make_chain(leg(f, dtmf_mode::rfc4733, event_pt), leg(f, dtmf_mode::info));
    peer caller(f, encode(f, murmur(20 * frame)));
    caller.talk(3);
    caller.press('7', 100, true);  // updates at 20..80 ms; the final packets are lost
    const std::int64_t last_event = caller.last_event_ns;
    const std::uint32_t event_ts = 5000 + 3 * 160;

    SECTION("noticed as the audio goes on") {
        caller.talk(20);
        std::int64_t reported_at = -1;
        for (const auto& p : caller.wire) {
            d.push(p.bytes, p.at_ns);
            if (auto digit = d.chain->take_digit()) {
                CHECK(reported_at < 0);
                reported_at = p.at_ns;
                CHECK(digit->symbol == '7');
                CHECK(digit->duration_ms == 80);  // the last duration seen
            }
        }
        REQUIRE(reported_at > 0);
        CHECK(reported_at - last_event > 250 * ms_ns);
        CHECK(reported_at - last_event <= 270 * ms_ns);

        // The final packets arriving after all are stale: no second digit.
        const std::size_t sent = caller.wire.size();
        const auto end = event_block(7, true, 800);
        caller.send_event(event_ts, false, end);
        caller.send_event(event_ts, false, end);
        for (std::size_t i = sent; i < caller.wire.size(); ++i) {
            d.push(caller.wire[i].bytes, reported_at + 10 * ms_ns);
        }
        CHECK_FALSE(d.chain->take_digit());
        CHECK(d.chain->stats().late == 0);
    }
    SECTION("noticed by flush_due when nothing arrives") {
        play(d, caller.wire);
        CHECK_FALSE(d.chain->take_digit());
        d.flush(last_event + 240 * ms_ns);
        CHECK_FALSE(d.chain->take_digit());
        d.flush(last_event + 260 * ms_ns);
        const auto digit = d.chain->take_digit();
        REQUIRE(digit);
        CHECK(digit->symbol == '7');
    }
}

TEST_CASE("info in, rfc4733 out: a queued digit leaves as telephone-events with the audio") {
    SECTION("PCMU, events at 8000 Hz") {
        const auto f = format("PCMU", 8000, pcmu);
        auto d = make_chain(leg(f, dtmf_mode::info), leg(f, dtmf_mode::rfc4733, event_pt));
        REQUIRE(d.chain->passthrough());
        peer caller(f, encode(f, murmur(20 * frame)));
        caller.talk(2);
        play(d, caller.wire);
        REQUIRE(d.out.size() == 2);

        CHECK(d.chain->queue_digit('5', 160));
        caller.wire.clear();
        caller.talk(13);
        play(d, caller.wire);

        expect_sequence_continuous(d.out);
        const auto audio = of_type(d.out, pcmu);
        expect_forwarded(audio, caller, pcmu, 160);
        const auto events = of_type(d.out, event_pt);
        REQUIRE(events.size() == 10);  // 8 ticks of 20 ms, the final packet twice more
        // RFC 4733 2.3.1: the event starts with the audio packet it follows.
        const std::uint32_t start = events[0].header.timestamp;
        CHECK(start == audio[2].header.timestamp);
        CHECK(d.out[2].header.payload_type == pcmu);
        CHECK(d.out[3].header.payload_type == event_pt);
        for (std::size_t i = 0; i < events.size(); ++i) {
            INFO("event packet " << i);
            const auto e = read_event(events[i]);
            CHECK(e.event == 5);
            CHECK(events[i].header.ssrc == dtmf_origin.ssrc);
            CHECK(events[i].header.timestamp == start);
            CHECK(events[i].header.marker == (i == 0));
            CHECK(e.duration == std::min<std::size_t>(160 * (i + 1), 1280));
            CHECK(e.end == (i >= 7));
            // One event packet per output packet interval, each after its audio.
            const auto& audio_before = d.out[2 + 2 * i];
            CHECK(audio_before.header.payload_type == pcmu);
            CHECK(d.out[3 + 2 * i].header.payload_type == event_pt);
        }
        CHECK_FALSE(d.chain->take_digit());
    }
    SECTION("Opus, events at 48000 Hz: durations in 48 kHz units") {
        const auto f = format("opus", 48000, opus);
        auto d = make_chain(leg(f, dtmf_mode::info), leg(f, dtmf_mode::rfc4733, event_pt, 48000));
        REQUIRE(d.chain->passthrough());
        peer caller(f, encode(f, test::voice(5 * 960, 48000)));
        CHECK(d.chain->queue_digit('#', 160));
        caller.talk(12);
        play(d, caller.wire);

        const auto audio = of_type(d.out, opus);
        expect_forwarded(audio, caller, opus, 960);
        const auto events = of_type(d.out, event_pt);
        REQUIRE(events.size() == 10);
        CHECK(events[0].header.timestamp == audio[0].header.timestamp);
        for (std::size_t i = 0; i < events.size(); ++i) {
            INFO("event packet " << i);
            const auto e = read_event(events[i]);
            CHECK(e.event == 11);
            CHECK(events[i].header.timestamp == audio[0].header.timestamp);
            CHECK(e.duration == std::min<std::size_t>(960 * (i + 1), 7680));
            CHECK(e.end == (i >= 7));
        }
    }
}

TEST_CASE("G.722 legs: telephone-events count its 8000 Hz RTP clock, not its 16 kHz audio") {
    // RFC 3551 4.5.2 and RFC 4733 2.1: telephone-event/8000 beside G722/8000.
    const auto f = format("G722", 8000, g722);
    SECTION("info in, rfc4733 out, passthrough: durations of 160 per 20 ms") {
        auto d = make_chain(leg(f, dtmf_mode::info), leg(f, dtmf_mode::rfc4733, event_pt));
        REQUIRE(d.chain->passthrough());
        peer caller(f, encode(f, test::voice(5 * 320, 16000)));
        CHECK(d.chain->queue_digit('9', 160));
        caller.talk(12);
        play(d, caller.wire);

        expect_sequence_continuous(d.out);
        const auto audio = of_type(d.out, g722);
        expect_forwarded(audio, caller, g722, 160);
        const auto events = of_type(d.out, event_pt);
        REQUIRE(events.size() == 10);  // 8 ticks of 20 ms, the final packet twice more
        for (std::size_t i = 0; i < events.size(); ++i) {
            INFO("event packet " << i);
            const auto e = read_event(events[i]);
            CHECK(e.event == 9);
            CHECK(events[i].header.timestamp == audio[0].header.timestamp);
            CHECK(events[i].header.marker == (i == 0));
            CHECK(e.duration == std::min<std::size_t>(160 * (i + 1), 1280));
            CHECK(e.end == (i >= 7));
        }
    }
    SECTION("rfc4733 in, transcoded to PCMA with info out: the digit lasts what it lasted") {
        auto d = make_chain(leg(f, dtmf_mode::rfc4733, event_pt),
                            leg(format("PCMA", 8000, pcma), dtmf_mode::info));
        REQUIRE_FALSE(d.chain->passthrough());
        peer caller(f, encode(f, test::voice(5 * 320, 16000)));
        caller.talk(3);
        caller.press('4', 100);  // durations 160 ... 800 of the 8000 Hz clock
        caller.talk(3);
        play(d, caller.wire);
        const auto digit = d.chain->take_digit();
        REQUIRE(digit);
        CHECK(digit->symbol == '4');
        CHECK(digit->duration_ms == 100);
        CHECK_FALSE(d.chain->take_digit());
        // The audio went on, 20 ms of PCMA per 20 ms of G.722.
        const auto audio = of_type(d.out, pcma);
        REQUIRE(audio.size() == 11);
        for (std::size_t i = 1; i < audio.size(); ++i) {
            CHECK(audio[i].header.timestamp - audio[i - 1].header.timestamp == 160);
        }
        CHECK(of_type(d.out, event_pt).empty());
    }
    SECTION("info in on PCMU, rfc4733 out on G.722: events ride the G.722 packets") {
        const auto in = format("PCMU", 8000, pcmu);
        auto d = make_chain(leg(in, dtmf_mode::info), leg(f, dtmf_mode::rfc4733, event_pt));
        peer caller(in, encode(in, murmur(20 * frame)));
        CHECK(d.chain->queue_digit('1', 100));
        caller.talk(10);
        play(d, caller.wire);
        const auto audio = of_type(d.out, g722);
        const auto events = of_type(d.out, event_pt);
        REQUIRE(audio.size() == 10);
        REQUIRE(events.size() == 7);  // 5 ticks of 20 ms, the final packet twice more
        for (std::size_t i = 0; i < events.size(); ++i) {
            INFO("event packet " << i);
            CHECK(events[i].header.timestamp == audio[0].header.timestamp);
            CHECK(read_event(events[i]).duration == std::min<std::size_t>(160 * (i + 1), 800));
        }
        for (std::size_t i = 1; i < audio.size(); ++i) {
            CHECK(audio[i].header.timestamp - audio[i - 1].header.timestamp == 160);
        }
    }
}

TEST_CASE("queue_digit is refused where the input leg does not use INFO") {
    const auto f = format("PCMU", 8000, pcmu);
    auto events_in = make_chain(leg(f, dtmf_mode::rfc4733, event_pt), leg(f, dtmf_mode::info));
    CHECK_FALSE(events_in.chain->queue_digit('5', 160));
    auto tones_in = make_chain(leg(f, dtmf_mode::inband), leg(f, dtmf_mode::info));
    CHECK_FALSE(tones_in.chain->queue_digit('5', 160));
    auto alike = make_chain(leg(f, dtmf_mode::rfc4733, event_pt),
                            leg(format("PCMA", 8000, pcma), dtmf_mode::rfc4733, event_pt));
    CHECK_FALSE(alike.chain->queue_digit('5', 160));
    CHECK_FALSE(alike.chain->take_digit());
}

TEST_CASE("rfc4733 on both legs: events are mapped, not bridged, in a passthrough too") {
    // The mapping itself (timestamps, 8000 -> 48000 Hz durations) is in
    // test_media_chain.cpp; here only that a DTMF-less passthrough keeps it.
    const auto f = format("PCMU", 8000, pcmu);
    auto d = make_chain(leg(f, dtmf_mode::rfc4733, event_pt), leg(f, dtmf_mode::rfc4733, 96));
    CHECK(d.chain->passthrough());
    peer caller(f, encode(f, murmur(5 * frame)));
    caller.talk(2);
    caller.press('3', 60);
    play(d, caller.wire);
    const auto events = of_type(d.out, 96);
    REQUIRE(events.size() == 5);
    CHECK(events[0].header.marker);
    CHECK(events[0].header.timestamp == dtmf_origin.timestamp + 2 * 160);
    CHECK(read_event(events[4]).end);
    CHECK(read_event(events[4]).duration == 480);
    CHECK_FALSE(d.chain->take_digit());
}

TEST_CASE("inband in, info out: tones heard become digits and are muted") {
    const auto in = format("PCMA", 8000, pcma);
    const auto out = format("PCMU", 8000, pcmu);
    auto d = make_chain(leg(in, dtmf_mode::inband), leg(out, dtmf_mode::info));
    CHECK_FALSE(d.chain->passthrough());

    // 200 ms of voice, then "159#" as 100 ms tones with 100 ms between,
    // over the voice, then 400 ms of voice.
    constexpr std::string_view keys = "159#";
    constexpr std::size_t lead = 10 * frame;
    constexpr std::size_t period = 10 * frame;
    constexpr std::size_t on = 5 * frame;
    auto pcm = murmur(lead + keys.size() * period + 20 * frame);
    for (std::size_t k = 0; k < keys.size(); ++k) {
        const auto t = tone(keys[k], 100);
        for (std::size_t i = 0; i < t.size(); ++i) {
            auto& s = pcm[lead + k * period + i];
            s = static_cast<std::int16_t>(std::clamp(s + t[i], -32768, 32767));
        }
    }
    const auto payloads = encode(in, pcm);
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        d.push(rtp(pcma, static_cast<std::uint16_t>(i), 160 * i, payloads[i], i == 0),
               static_cast<std::int64_t>(i) * 20 * ms_ns);
    }

    std::string got;
    while (auto digit = d.chain->take_digit()) {
        got += digit->symbol;
        // spandsp decides per 102-sample block, on and off.
        CHECK(std::abs(static_cast<int>(digit->duration_ms) - 100) <= 26);
    }
    CHECK(got == keys);

    const auto played = decode(out, d.out);
    REQUIRE(played.size() == pcm.size());
    auto silent = [&](std::size_t from, std::size_t to) {
        return std::all_of(played.begin() + static_cast<std::ptrdiff_t>(from),
                           played.begin() + static_cast<std::ptrdiff_t>(to),
                           [](std::int16_t s) { return s == 0; });
    };
    for (std::size_t k = 0; k < keys.size(); ++k) {
        INFO("tone " << k);
        const std::size_t start = lead + k * period;
        // Before detection (~25 ms, spandsp's two blocks) the tone passes;
        // from the packet after that to its end it is muted.
        CHECK(silent(start + 2 * frame, start + on));
        std::size_t leaked = 0;
        for (std::size_t i = start; i < start + on; ++i) {
            leaked += played[i] != 0 ? 1 : 0;
        }
        CHECK(leaked <= 2 * frame);
        // The voice after it plays again.
        CHECK_FALSE(silent(start + on + 2 * frame, start + period));
    }
    CHECK_FALSE(silent(0, lead));
}

TEST_CASE("rfc4733 in, inband out: each digit's events become its tone in the audio") {
    const auto in = format("PCMU", 8000, pcmu);
    const auto out = format("PCMA", 8000, pcma);
    auto d = make_chain(leg(in, dtmf_mode::rfc4733, event_pt), leg(out, dtmf_mode::inband));
    peer caller(in, encode(in, murmur(50 * frame)));
    constexpr std::string_view keys = "0123456789*#ABCD";
    caller.talk(10);
    for (char key : keys) {
        caller.press(key, 100);
        caller.talk(5);
    }
    caller.talk(15);
    play(d, caller.wire);

    // Only audio goes out, a packet for each the peer sent.
    CHECK(d.out.size() == caller.audio_sent.size());
    CHECK(of_type(d.out, pcma).size() == d.out.size());
    CHECK(heard(decode(out, d.out)) == keys);
    CHECK_FALSE(d.chain->take_digit());
}

TEST_CASE("info in, inband out: queued digits are played as tones") {
    const auto in = format("PCMU", 8000, pcmu);
    const auto out = format("PCMA", 8000, pcma);
    auto d = make_chain(leg(in, dtmf_mode::info), leg(out, dtmf_mode::inband));
    peer caller(in, encode(in, murmur(50 * frame)));
    caller.talk(3);
    play(d, caller.wire);
    CHECK(d.chain->queue_digit('4', 100));
    CHECK(d.chain->queue_digit('2', 100));
    caller.wire.clear();
    caller.talk(30);
    play(d, caller.wire);
    CHECK(d.out.size() == 33);
    CHECK(heard(decode(out, d.out)) == "42");
}

TEST_CASE("bad DTMF input is ignored and the stream goes on") {
    SECTION("malformed or non-DTMF telephone-events") {
        const auto f = format("PCMU", 8000, pcmu);
        auto d = make_chain(leg(f, dtmf_mode::rfc4733, event_pt), leg(f, dtmf_mode::info));
        peer caller(f, encode(f, murmur(5 * frame)));
        caller.talk(2);
        const std::uint8_t short_payload[] = {5, 10, 0};
        caller.send_event(caller.ts_now(), true, short_payload);
        caller.send_event(caller.ts_now(), true, {});
        const std::uint8_t five_octets[] = {5, 10, 0, 160, 0};
        caller.send_event(caller.ts_now(), true, five_octets);
        caller.talk(1);
        // Event 200 is no DTMF key (RFC 4733 3.2 stops at 16).
        const auto not_dtmf = event_block(200, false, 160);
        const auto not_dtmf_end = event_block(200, true, 320);
        caller.send_event(caller.ts_now(), true, not_dtmf);
        caller.talk(1);
        for (int r = 0; r < 3; ++r) {
            caller.send_event(caller.ts_now() - 160, false, not_dtmf_end);
        }
        caller.talk(15);
        caller.press('9', 60);
        caller.talk(2);
        play(d, caller.wire);

        expect_forwarded(d.out, caller, pcmu, 160);
        CHECK(take_all(*d.chain) == "9");
    }
    SECTION("an unknown symbol in INFO leaves nothing") {
        const auto f = format("PCMU", 8000, pcmu);
        auto events_out = make_chain(leg(f, dtmf_mode::info), leg(f, dtmf_mode::rfc4733, 101));
        auto tones_out =
            make_chain(leg(f, dtmf_mode::info), leg(format("PCMA", 8000, pcma), dtmf_mode::inband));
        (void)events_out.chain->queue_digit('x', 160);
        (void)tones_out.chain->queue_digit('x', 160);
        peer caller(f, encode(f, murmur(5 * frame)));
        caller.talk(20);
        play(events_out, caller.wire);
        play(tones_out, caller.wire);
        CHECK(of_type(events_out.out, event_pt).empty());
        CHECK(events_out.out.size() == 20);
        CHECK(tones_out.out.size() == 20);
        CHECK(heard(decode(format("PCMA", 8000, pcma), tones_out.out)).empty());
    }
}

}  // namespace sbc::transcoder
