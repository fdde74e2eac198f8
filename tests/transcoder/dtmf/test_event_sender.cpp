// event_sender: the RFC 4733 packet sequence for a digit (marker on the
// first, one timestamp, growing durations in clock units, three end
// packets), at 8000 and 48000 Hz, and a round trip through event_receiver.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "transcoder/dtmf/event_receiver.hpp"
#include "transcoder/dtmf/event_sender.hpp"

using namespace sbc::transcoder::dtmf;

namespace {

// Ticks the sender as a media chain does, once per interval, with the
// stream's timestamp advancing by one interval each tick, until it is idle.
std::vector<event_packet> run(event_sender& tx, std::uint32_t first_ts,
                              std::size_t max_ticks = 10000) {
    std::vector<event_packet> out;
    std::uint32_t ts = first_ts;
    for (std::size_t i = 0; i < max_ticks && tx.busy(); ++i) {
        if (auto p = tx.next(ts)) {
            out.push_back(*p);
        }
        ts += tx.interval_samples();
    }
    return out;
}

event_payload payload_of(const event_packet& p) { return *parse_event(p.payload); }

}  // namespace

TEST_CASE("a digit at 8000 Hz: marker first, one timestamp, three ends") {
    event_sender tx(8000, 50);
    CHECK(tx.interval_samples() == 400);
    CHECK_FALSE(tx.next(0));
    REQUIRE(tx.start('5', 200));
    CHECK(tx.busy());
    const auto packets = run(tx, 12345);
    REQUIRE(packets.size() == 6);  // 400, 800, 1200, 1600 (end) x3
    const std::vector<std::uint16_t> durations{400, 800, 1200, 1600, 1600, 1600};
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto e = payload_of(packets[i]);
        CHECK(packets[i].marker == (i == 0));
        CHECK(packets[i].rtp_timestamp == 12345);
        CHECK(e.event == 5);
        CHECK(e.volume == event_sender::default_volume);
        CHECK(e.duration == durations[i]);
        CHECK(e.end == (i >= 3));
        CHECK(packets[i].end == e.end);
    }
    CHECK_FALSE(tx.busy());
    CHECK_FALSE(tx.next(0));
}

TEST_CASE("a digit at 48000 Hz counts durations in 48 kHz units") {
    event_sender tx(48000, 20);
    CHECK(tx.interval_samples() == 960);
    REQUIRE(tx.start('#', 100));
    const auto packets = run(tx, 0);
    REQUIRE(packets.size() == 7);  // 960 ... 4800 (end) x3
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const auto e = payload_of(packets[i]);
        CHECK(e.event == 11);
        CHECK(e.duration == std::min<std::uint32_t>(960 * (i + 1), 4800));
        CHECK(packets[i].rtp_timestamp == 0);
        CHECK(packets[i].marker == (i == 0));
        CHECK(e.end == (i >= 4));
    }
}

TEST_CASE("a duration that is not a whole number of intervals ends exactly") {
    event_sender tx(8000, 20);
    REQUIRE(tx.start('1', 70));
    const auto packets = run(tx, 0);
    REQUIRE(packets.size() == 6);  // 160, 320, 480, 560 x3
    CHECK(payload_of(packets[2]).duration == 480);
    CHECK(payload_of(packets[3]).duration == 560);
    CHECK(payload_of(packets[3]).end);
    CHECK(payload_of(packets[5]).duration == 560);
}

TEST_CASE("a digit shorter than an interval is one packet, marker on the first of three") {
    event_sender tx(8000, 50);
    REQUIRE(tx.start('9', 10));  // raised to one interval
    const auto packets = run(tx, 7);
    REQUIRE(packets.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(packets[i].marker == (i == 0));
        CHECK(payload_of(packets[i]) == event_payload{9, true, 10, 400});
    }
}

TEST_CASE("queued digits follow each other with new timestamps") {
    event_sender tx(8000, 20);
    REQUIRE(tx.start('1', 40));
    REQUIRE(tx.start('2', 40));
    const auto packets = run(tx, 1000);
    REQUIRE(packets.size() == 8);  // (160, 320 x3) twice
    CHECK(packets[0].rtp_timestamp == 1000);
    CHECK(packets[0].marker);
    CHECK(payload_of(packets[3]).end);
    // '2' starts at the tick after the last end of '1': 4 ticks later.
    CHECK(packets[4].rtp_timestamp == 1000 + 4 * 160);
    CHECK(packets[4].marker);
    CHECK(payload_of(packets[4]).event == 2);
}

TEST_CASE("start refuses unknown symbols and a full queue") {
    event_sender tx(8000, 20);
    CHECK_FALSE(tx.start('x', 100));
    CHECK_FALSE(tx.busy());
    for (std::size_t i = 0; i < event_sender::queue_capacity; ++i) {
        CHECK(tx.start('0', 100));
    }
    CHECK_FALSE(tx.start('0', 100));
    tx.clear();
    CHECK_FALSE(tx.busy());
    CHECK_FALSE(tx.next(0));
}

TEST_CASE("a digit longer than the duration field is sent in segments (RFC 4733 2.5.1.3)") {
    event_sender tx(48000, 20);
    REQUIRE(tx.start('0', 2000));  // 96000 units: a segment of 0xffff, then 30465
    const auto packets = run(tx, 100);
    REQUIRE_FALSE(packets.empty());
    std::size_t first_of_second = 0;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        if (packets[i].rtp_timestamp != 100) {
            first_of_second = i;
            break;
        }
    }
    REQUIRE(first_of_second > 0);
    CHECK(payload_of(packets[first_of_second - 1]).duration == 0xffff);
    CHECK_FALSE(payload_of(packets[first_of_second - 1]).end);
    CHECK(packets[first_of_second].rtp_timestamp == 100 + 0xffff);
    CHECK_FALSE(packets[first_of_second].marker);
    CHECK(payload_of(packets.back()).duration == 96000 - 0xffff);
    CHECK(payload_of(packets.back()).end);

    event_receiver rx;
    for (const auto& p : packets) {
        rx.feed(p.rtp_timestamp, p.marker, p.payload);
    }
    CHECK(rx.take() == digit{'0', 96000, 100});
    CHECK_FALSE(rx.take());
}

TEST_CASE("sender to receiver round trip for every key") {
    for (const auto& [rate, ptime] :
         {std::pair<std::uint32_t, unsigned>{8000, 20}, {8000, 50}, {48000, 20}}) {
        event_sender tx(rate, ptime);
        event_receiver rx;
        constexpr std::string_view keys = "0123456789*#ABCD";
        std::vector<digit> got;
        std::uint32_t ts = 4000;
        for (char c : keys) {
            REQUIRE(tx.start(c, 120));
            // Tick as a chain does, taking digits as they complete.
            while (tx.busy()) {
                if (auto p = tx.next(ts)) {
                    rx.feed(p->rtp_timestamp, p->marker, p->payload);
                }
                ts += tx.interval_samples();
                while (auto d = rx.take()) {
                    got.push_back(*d);
                }
            }
        }
        REQUIRE(got.size() == keys.size());
        const std::uint32_t duration = 120 * rate / 1000;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            CHECK(got[i].symbol == keys[i]);
            CHECK(got[i].duration_samples == duration);
        }
        CHECK(rx.counters().end_missing == 0);
    }
}
