// The codec chain as a receiver sees its output: continuous sequence numbers
// and timestamps at the output clock, its own SSRC, markers on talk spurts,
// repacketization, reordering, loss concealment and telephone-event mapping.
#include <catch2/catch.hpp>

#include "tests/transcoder/chain/chain_script.hpp"

namespace sbc::transcoder {
namespace {

using test::chain_driver;
using test::rtp;

using test::format;

stream_format leg(audio_format f, int event_pt = -1, std::uint32_t event_clock = 8000) {
    stream_format s;
    s.audio = std::move(f);
    s.event_payload_type = event_pt;
    s.event_clock_rate = event_clock;
    return s;
}

constexpr output_origin origin{0xabcdef01, 40000, 123456};

chain_driver transcode(stream_format in, stream_format out) {
    chain_config cfg;
    cfg.in = std::move(in);
    cfg.out = std::move(out);
    cfg.origin = origin;
    return chain_driver(test::make_chain(cfg));
}

/// `count` packets of `f` carrying the test voice, as its encoder makes them.
std::vector<std::vector<std::uint8_t>> payloads(const audio_format& f, std::size_t count) {
    const codec_info* info = find_codec(f.encoding, f.clock_rate);
    REQUIRE(info != nullptr);
    const auto rate = encoder_pcm_rate(*info, f);
    auto enc = info->make_encoder(f, rate);
    const auto pcm = test::voice(enc->packet_samples() * count, rate);
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t i = 0; i < count; ++i) {
        std::vector<std::uint8_t> p(1500);
        const int n =
            enc->encode({pcm.data() + i * enc->packet_samples(), enc->packet_samples()}, p);
        REQUIRE(n > 0);
        p.resize(static_cast<std::size_t>(n));
        out.push_back(std::move(p));
    }
    return out;
}

void expect_continuous(const std::vector<test::sent>& out, std::uint32_t ts_step, std::uint8_t pt) {
    REQUIRE(!out.empty());
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("packet " << i);
        CHECK(out[i].header.ssrc == origin.ssrc);
        CHECK(out[i].header.payload_type == pt);
        CHECK(out[i].header.sequence == static_cast<std::uint16_t>(origin.sequence + i));
        CHECK(out[i].header.timestamp == origin.timestamp + ts_step * i);
        CHECK(out[i].header.marker == (i == 0));
    }
}

}  // namespace

TEST_CASE("PCMU to PCMA: one packet out per packet in, the chain's own header") {
    auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8)));
    const auto in = payloads(format("PCMU", 8000, 0), 10);
    for (std::size_t i = 0; i < in.size(); ++i) {
        CHECK(d.push(rtp(0, static_cast<std::uint16_t>(65530 + i), 1000 + 160 * i, in[i],
                         i == 0)) == 1);
    }
    expect_continuous(d.out, 160, 8);
    CHECK(d.chain->stats().packets_out == 10);
}

TEST_CASE("repacketization between 20 ms and 60 ms") {
    SECTION("three 20 ms packets make one of 60 ms") {
        auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8, 60)));
        const auto in = payloads(format("PCMU", 8000, 0), 9);
        for (std::size_t i = 0; i < in.size(); ++i) {
            d.push(rtp(0, static_cast<std::uint16_t>(i), 160 * i, in[i]));
        }
        REQUIRE(d.out.size() == 3);
        expect_continuous(d.out, 480, 8);
        CHECK(d.out[0].payload.size() == 480);
    }
    SECTION("one 60 ms packet makes three of 20 ms") {
        auto d = transcode(leg(format("PCMU", 8000, 0, 60)), leg(format("PCMA", 8000, 8, 20)));
        const auto in = payloads(format("PCMU", 8000, 0, 60), 3);
        for (std::size_t i = 0; i < in.size(); ++i) {
            CHECK(d.push(rtp(0, static_cast<std::uint16_t>(i), 480 * i, in[i])) == 3);
        }
        expect_continuous(d.out, 160, 8);
    }
}

TEST_CASE("RTP clocks are mapped between 8000 and 48000 Hz") {
    SECTION("PCMU to Opus") {
        auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("opus", 48000, 111)));
        const auto in = payloads(format("PCMU", 8000, 0), 10);
        for (std::size_t i = 0; i < in.size(); ++i) {
            d.push(rtp(0, static_cast<std::uint16_t>(i), 160 * i, in[i]));
        }
        REQUIRE(d.out.size() == 10);
        expect_continuous(d.out, 960, 111);
    }
    SECTION("Opus to PCMA, 20 ms to 10 ms") {
        auto d = transcode(leg(format("opus", 48000, 96)), leg(format("PCMA", 8000, 8, 10)));
        const auto in = payloads(format("opus", 48000, 96), 5);
        for (std::size_t i = 0; i < in.size(); ++i) {
            d.push(rtp(96, static_cast<std::uint16_t>(i), 960 * i, in[i]));
        }
        REQUIRE(d.out.size() == 10);
        expect_continuous(d.out, 80, 8);
    }
}

TEST_CASE("G.722: 160 ticks of its 8000 Hz clock per 20 ms of 16 kHz audio") {
    // RFC 3551 4.5.2: the timestamps of G.722 count an 8000 Hz clock
    // though a 20 ms packet holds 320 samples (160 octets).
    const auto g722 = format("G722", 8000, 9);
    SECTION("PCMU to G.722") {
        auto d = transcode(leg(format("PCMU", 8000, 0)), leg(g722));
        REQUIRE(d.chain->pcm_rate() == 16000);
        const auto in = payloads(format("PCMU", 8000, 0), 10);
        for (std::size_t i = 0; i < in.size(); ++i) {
            CHECK(d.push(rtp(0, static_cast<std::uint16_t>(i), 160 * i, in[i], i == 0)) == 1);
        }
        expect_continuous(d.out, 160, 9);
        for (const auto& p : d.out) {
            CHECK(p.payload.size() == 160);
        }
    }
    SECTION("G.722 to Opus: 160 ticks in, 960 out") {
        auto d = transcode(leg(g722), leg(format("opus", 48000, 111)));
        REQUIRE(d.chain->decode_rate() == 16000);
        const auto in = payloads(g722, 10);
        for (std::size_t i = 0; i < in.size(); ++i) {
            d.push(rtp(9, static_cast<std::uint16_t>(i), 7000 + 160 * i, in[i], i == 0));
        }
        REQUIRE(d.out.size() == 10);
        expect_continuous(d.out, 960, 111);
    }
    SECTION("G.722 to PCMA, decoded at 8000 Hz: 60 ms in, three packets of 20 ms out") {
        const auto in_format = format("G722", 8000, 9, 60);
        auto d = transcode(leg(in_format), leg(format("PCMA", 8000, 8)));
        REQUIRE(d.chain->decode_rate() == 8000);
        const auto in = payloads(in_format, 3);
        for (std::size_t i = 0; i < in.size(); ++i) {
            CHECK(in[i].size() == 480);
            CHECK(d.push(rtp(9, static_cast<std::uint16_t>(i), 480 * i, in[i], i == 0)) == 3);
        }
        expect_continuous(d.out, 160, 8);
    }
    SECTION("Opus 20 ms to G.722 60 ms") {
        auto d = transcode(leg(format("opus", 48000, 111)), leg(format("G722", 8000, 9, 60)));
        const auto in = payloads(format("opus", 48000, 111), 9);
        for (std::size_t i = 0; i < in.size(); ++i) {
            d.push(rtp(111, static_cast<std::uint16_t>(i), 960 * i, in[i], i == 0));
        }
        REQUIRE(d.out.size() == 3);
        expect_continuous(d.out, 480, 9);
        CHECK(d.out[0].payload.size() == 480);
    }
    SECTION("a lost G.722 packet is concealed, once, for its 160 ticks") {
        auto d = transcode(leg(g722), leg(format("PCMA", 8000, 8)));
        const auto in = payloads(g722, 7);
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (i != 3) {
                d.push(rtp(9, static_cast<std::uint16_t>(i), 160 * i, in[i], i == 0),
                       20'000'000 * static_cast<std::int64_t>(i));
            }
        }
        d.flush(20'000'000 * 4 + 60'000'000);
        REQUIRE(d.out.size() == 7);
        expect_continuous(d.out, 160, 8);
        CHECK(d.chain->stats().concealed == 1);
    }
    SECTION("G.722 silence suppression: a 1 s jump of its clock is 1 s on the other's") {
        auto d = transcode(leg(g722), leg(format("opus", 48000, 111)));
        const auto in = payloads(g722, 4);
        d.push(rtp(9, 0, 0, in[0], true));
        d.push(rtp(9, 1, 160, in[1]));
        d.push(rtp(9, 2, 160 * 2 + 8000, in[2], true));
        d.push(rtp(9, 3, 160 * 3 + 8000, in[3]));
        REQUIRE(d.out.size() == 4);
        CHECK(d.out[2].header.timestamp - d.out[1].header.timestamp == 960 + 48000);
        CHECK(d.out[2].header.marker);
        CHECK_FALSE(d.out[3].header.marker);
        CHECK(d.out[3].header.timestamp - d.out[2].header.timestamp == 960);
        CHECK(d.chain->stats().concealed == 0);
    }
    SECTION("to G.722, the same jump is 8000 ticks, not 16000") {
        auto d = transcode(leg(format("PCMU", 8000, 0)), leg(g722));
        const auto in = payloads(format("PCMU", 8000, 0), 4);
        d.push(rtp(0, 0, 0, in[0], true));
        d.push(rtp(0, 1, 160, in[1]));
        d.push(rtp(0, 2, 160 * 2 + 8000, in[2], true));
        d.push(rtp(0, 3, 160 * 3 + 8000, in[3]));
        REQUIRE(d.out.size() == 4);
        CHECK(d.out[2].header.timestamp - d.out[1].header.timestamp == 160 + 8000);
        CHECK(d.out[2].header.marker);
    }
}

TEST_CASE("telephone-events of a G.722 leg run on its 8000 Hz clock") {
    // RFC 4733 2.1 and RFC 3551 4.5.2: telephone-event/8000 beside G722/8000.
    const auto g722 = format("G722", 8000, 9);
    const std::uint8_t start[] = {5, 10, 0, 160};
    const std::uint8_t end[] = {5, 0x80 | 10, 3, 32};
    SECTION("G.722 to Opus: timestamps and durations scaled by six") {
        auto d = transcode(leg(g722, 101, 8000), leg(format("opus", 48000, 111), 126, 48000));
        const auto in = payloads(g722, 2);
        d.push(rtp(9, 0, 0, in[0]));
        d.push(rtp(9, 1, 160, in[1]));
        d.push(rtp(101, 2, 320, start, true));
        d.push(rtp(101, 3, 320, end));
        REQUIRE(d.out.size() == 4);
        CHECK(d.out[2].header.timestamp == d.out[1].header.timestamp + 960);
        CHECK(d.out[2].header.marker);
        CHECK(d.out[3].header.timestamp == d.out[2].header.timestamp);
        CHECK(d.out[2].payload == std::vector<std::uint8_t>{5, 10, 0x03, 0xc0});         // 160 * 6
        CHECK(d.out[3].payload == std::vector<std::uint8_t>{5, 0x80 | 10, 0x12, 0xc0});  // 800 * 6
    }
    SECTION("PCMU to G.722: the same clock, nothing scaled") {
        auto d = transcode(leg(format("PCMU", 8000, 0), 101, 8000), leg(g722, 96, 8000));
        const auto in = payloads(format("PCMU", 8000, 0), 2);
        d.push(rtp(0, 0, 0, in[0]));
        d.push(rtp(0, 1, 160, in[1]));
        d.push(rtp(101, 2, 320, start, true));
        d.push(rtp(101, 3, 320, end));
        REQUIRE(d.out.size() == 4);
        CHECK(d.out[2].header.payload_type == 96);
        CHECK(d.out[2].header.timestamp == d.out[1].header.timestamp + 160);
        CHECK(d.out[2].payload == std::vector<std::uint8_t>(std::begin(start), std::end(start)));
        CHECK(d.out[3].payload == std::vector<std::uint8_t>(std::begin(end), std::end(end)));
    }
}

TEST_CASE("a packet that overtakes another is held and played in order") {
    const auto in = payloads(format("PCMU", 8000, 0), 6);
    auto ordered = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8)));
    auto swapped = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8)));
    for (std::size_t i = 0; i < in.size(); ++i) {
        ordered.push(rtp(0, static_cast<std::uint16_t>(i), 160 * i, in[i]));
    }
    for (std::size_t i : {0, 2, 1, 3, 5, 4}) {
        swapped.push(rtp(0, static_cast<std::uint16_t>(i), 160 * i, in[i]));
    }
    REQUIRE(swapped.out.size() == ordered.out.size());
    for (std::size_t i = 0; i < ordered.out.size(); ++i) {
        CHECK(swapped.out[i].payload == ordered.out[i].payload);
        CHECK(swapped.out[i].header.timestamp == ordered.out[i].header.timestamp);
    }
    CHECK(swapped.chain->stats().reordered == 2);
    CHECK(swapped.chain->stats().concealed == 0);

    // A duplicate or a packet from before what was played is late.
    swapped.push(rtp(0, 3, 160 * 3, in[3]));
    CHECK(swapped.chain->stats().late == 1);
    CHECK(swapped.out.size() == ordered.out.size());
}

TEST_CASE("a lost packet is concealed once its hold time passes; the output has no gap") {
    auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8)));
    const auto in = payloads(format("PCMU", 8000, 0), 7);
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (i == 3) {
            continue;
        }
        d.push(rtp(0, static_cast<std::uint16_t>(i), 160 * i, in[i]), 20'000'000 * i);
    }
    CHECK(d.out.size() == 3);  // 4, 5 and 6 wait for 3
    d.flush(20'000'000 * 4 + 59'000'000);
    CHECK(d.out.size() == 3);
    d.flush(20'000'000 * 4 + 60'000'000);
    CHECK(d.out.size() == 7);
    expect_continuous(d.out, 160, 8);
    CHECK(d.chain->stats().concealed == 1);
}

TEST_CASE("silence suppression: the output timestamps jump with the input's, with a marker") {
    auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("opus", 48000, 111)));
    const auto in = payloads(format("PCMU", 8000, 0), 6);
    d.push(rtp(0, 0, 0, in[0], true));
    d.push(rtp(0, 1, 160, in[1]));
    d.push(rtp(0, 2, 160 * 2, in[2]));
    // 1 s of silence, not sent (RFC 3551 4.1): the sequence goes on, the clock jumped.
    d.push(rtp(0, 3, 160 * 3 + 8000, in[3], true));
    d.push(rtp(0, 4, 160 * 4 + 8000, in[4]));
    REQUIRE(d.out.size() == 5);
    CHECK(d.out[3].header.timestamp - d.out[2].header.timestamp == 960 + 48000);
    CHECK(d.out[3].header.marker);
    CHECK_FALSE(d.out[4].header.marker);
    CHECK(d.out[4].header.sequence == static_cast<std::uint16_t>(d.out[3].header.sequence + 1));
    CHECK(d.chain->stats().concealed == 0);
}

TEST_CASE("telephone-events cross with their payload type, timestamp and clock mapped") {
    auto d = transcode(leg(format("PCMU", 8000, 0), 101, 8000),
                       leg(format("opus", 48000, 111), 126, 48000));
    const auto in = payloads(format("PCMU", 8000, 0), 2);
    d.push(rtp(0, 0, 0, in[0]));
    d.push(rtp(0, 1, 160, in[1]));
    // RFC 4733 2.5: digit 5 starting at 320, updates, three end packets.
    const std::uint8_t start[] = {5, 10, 0, 160};
    const std::uint8_t update[] = {5, 10, 1, 64};
    const std::uint8_t end[] = {5, 0x80 | 10, 3, 32};
    d.push(rtp(101, 2, 320, start, true));
    d.push(rtp(101, 3, 320, update));
    for (std::uint16_t s = 4; s < 7; ++s) {
        d.push(rtp(101, s, 320, end));
    }
    REQUIRE(d.out.size() == 7);
    const std::uint32_t event_ts = d.out[2].header.timestamp;
    CHECK(event_ts == d.out[1].header.timestamp + 960);
    for (std::size_t i = 2; i < 7; ++i) {
        CHECK(d.out[i].header.payload_type == 126);
        CHECK(d.out[i].header.timestamp == event_ts);
        CHECK(d.out[i].header.marker == (i == 2));
    }
    CHECK(d.out[2].payload == std::vector<std::uint8_t>{5, 10, 0x03, 0xc0});         // 160 * 6
    CHECK(d.out[6].payload == std::vector<std::uint8_t>{5, 0x80 | 10, 0x12, 0xc0});  // 800 * 6

    SECTION("and are dropped, counted, towards a leg without telephone-event") {
        auto plain = transcode(leg(format("PCMU", 8000, 0), 101), leg(format("PCMA", 8000, 8)));
        plain.push(rtp(101, 0, 0, start, true));
        CHECK(plain.out.empty());
        CHECK(plain.chain->stats().events_dropped == 1);
    }
}

TEST_CASE("events before any audio keep their spacing") {
    // A sender that suppresses silence may send digits with no audio around
    // them: each event still gets its own start, mapped to the output clock.
    auto d = transcode(leg(format("PCMU", 8000, 0), 101, 8000),
                       leg(format("opus", 48000, 111), 126, 48000));
    const std::uint8_t one[] = {1, 0x80 | 10, 3, 32};
    const std::uint8_t two[] = {2, 0x80 | 10, 3, 32};
    d.push(rtp(101, 0, 1000, one, true));
    d.push(rtp(101, 1, 1000, one));
    d.push(rtp(101, 2, 3000, two, true));
    d.push(rtp(101, 3, 3000, two));
    REQUIRE(d.out.size() == 4);
    CHECK(d.out[0].header.timestamp == d.out[1].header.timestamp);
    CHECK(d.out[2].header.timestamp - d.out[0].header.timestamp == 2000 * 6);
    // Audio after them is placed on the same timeline.
    const auto in = payloads(format("PCMU", 8000, 0), 1);
    d.push(rtp(0, 4, 5000, in[0], true));
    REQUIRE(d.out.size() == 5);
    CHECK(d.out[4].header.timestamp - d.out[0].header.timestamp == 4000 * 6);
    CHECK(d.out[4].header.marker);
}

TEST_CASE("bad input is counted and never stops the stream") {
    auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8)));
    const std::uint8_t junk[] = {0x00, 0x01, 0x02};
    d.push(junk);
    const std::uint8_t payload[160] = {};
    d.push(rtp(99, 0, 0, payload));
    auto padded = rtp(0, 1, 160, payload);
    padded[0] |= 0x20;  // padding flag, last octet 0: malformed
    padded.back() = 0;
    d.push(padded);
    d.push(rtp(0, 2, 320, payload));
    // The malformed packet never counted as received: 2 waits for it, then plays.
    CHECK(d.out.empty());
    d.flush(60'000'000);
    const auto s = d.chain->stats();
    CHECK(s.malformed == 2);
    CHECK(s.unknown_payload == 1);
    CHECK(d.out.size() == 1);
}

TEST_CASE("a new input SSRC continues the output stream with a marker") {
    auto d = transcode(leg(format("PCMU", 8000, 0)), leg(format("PCMA", 8000, 8)));
    const auto in = payloads(format("PCMU", 8000, 0), 4);
    d.push(rtp(0, 100, 5000, in[0], true, 1));
    d.push(rtp(0, 101, 5160, in[1], false, 1));
    d.push(rtp(0, 7, 90, in[2], true, 2));
    d.push(rtp(0, 8, 250, in[3], false, 2));
    REQUIRE(d.out.size() == 4);
    for (std::size_t i = 0; i < 4; ++i) {
        CHECK(d.out[i].header.sequence == static_cast<std::uint16_t>(origin.sequence + i));
        CHECK(d.out[i].header.ssrc == origin.ssrc);
    }
    CHECK(d.out[2].header.marker);
    CHECK(d.out[2].header.timestamp == d.out[1].header.timestamp + 160);
    CHECK(d.chain->next_origin().sequence == static_cast<std::uint16_t>(origin.sequence + 4));
}

TEST_CASE("make() refuses what it cannot transcode") {
    chain_config cfg;
    cfg.in = leg(format("PCMU", 8000, 0));
    cfg.out = leg(format("GSM", 8000, 3));
    auto unknown = media_chain::make(cfg);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error_message() == "no encoder for GSM/8000");
    cfg.out = leg(format("PCMA", 8000, 8, 25));
    auto odd_ptime = media_chain::make(cfg);
    REQUIRE_FALSE(odd_ptime.ok());
    CHECK(odd_ptime.error_message() == "ptime 25 ms for PCMA/8000: 10 to 60 ms in steps of 10");
}

TEST_CASE("make() returns what a codec library refused as an error, not an exception") {
    // 30 ms passes make()'s own ptime check, but Opus frames a packet of
    // 10, 20, 40 or 60 ms only: the Opus encoder's factory throws, and make()
    // turns that into its error value.
    chain_config cfg;
    cfg.in = leg(format("PCMU", 8000, 0));
    cfg.out = leg(format("opus", 48000, 111, 30));
    auto refused = media_chain::make(cfg);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error_message() == "opus: ptime 30 ms unsupported (10, 20, 40 or 60)");
}

}  // namespace sbc::transcoder
