// event_receiver: RFC 4733 2.5.2 receiver procedures, fed the packet
// sequences real senders produce (marker start, updates every 50 ms, three
// end packets), with losses, duplicates and reordering.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "transcoder/dtmf/event_receiver.hpp"

using namespace sbc::transcoder::dtmf;

namespace {

struct rtp_event {
    std::uint32_t ts;
    bool marker;
    char symbol;
    bool end;
    std::uint16_t duration;
};

feed_result feed_rtp(event_receiver& rx, const rtp_event& p) {
    std::array<std::uint8_t, 4> payload{};
    write_event(event_payload{*event_of(p.symbol), p.end, 10, p.duration}, payload);
    return rx.feed(p.ts, p.marker, payload);
}

// What a sipp scenario or a phone sends for one key press: a start packet
// with the marker, an update every `step`, and three end packets.
std::vector<rtp_event> key_press(char symbol, std::uint32_t ts, std::uint16_t duration,
                                 std::uint16_t step = 400) {
    std::vector<rtp_event> packets;
    bool first = true;
    for (std::uint32_t d = step; d < duration; d += step) {
        packets.push_back({ts, first, symbol, false, static_cast<std::uint16_t>(d)});
        first = false;
    }
    for (int i = 0; i < 3; ++i) {
        packets.push_back({ts, first, symbol, true, duration});
        first = false;
    }
    return packets;
}

std::vector<digit> take_all(event_receiver& rx) {
    std::vector<digit> out;
    while (auto d = rx.take()) {
        out.push_back(*d);
    }
    return out;
}

}  // namespace

TEST_CASE("a full key press gives one digit with its duration") {
    event_receiver rx;
    const auto packets = key_press('5', 16000, 1600);
    REQUIRE(packets.size() == 6);
    unsigned ended = 0;
    for (std::size_t i = 0; i < packets.size(); ++i) {
        const feed_result r = feed_rtp(rx, packets[i]);
        if (i == 0) {
            REQUIRE(r.started);
            CHECK(*r.started == digit_start{'5', 16000});
            CHECK(rx.current() == digit_start{'5', 16000});
        } else {
            CHECK_FALSE(r.started);
        }
        ended += r.ended;
    }
    CHECK(ended == 1);
    CHECK(take_all(rx) == std::vector<digit>{{'5', 1600, 16000}});
    CHECK_FALSE(rx.current());
    CHECK(rx.counters().stale == 2);  // the two retransmitted ends
    CHECK(rx.counters().end_missing == 0);
}

TEST_CASE("digits in a row each come out once, in order") {
    event_receiver rx;
    std::vector<digit> digits;
    std::uint32_t ts = 1000;
    for (char c : std::string_view("0123456789*#ABCD")) {
        for (const auto& p : key_press(c, ts, 800, 160)) {
            feed_rtp(rx, p);
        }
        ts += 2400;
        for (const auto& d : take_all(rx)) {
            digits.push_back(d);
        }
    }
    REQUIRE(digits.size() == 16);
    for (std::size_t i = 0; i < digits.size(); ++i) {
        CHECK(digits[i].symbol == "0123456789*#ABCD"[i]);
        CHECK(digits[i].duration_samples == 800);
        CHECK(digits[i].rtp_timestamp == 1000 + 2400 * i);
    }
}

TEST_CASE("digits not taken in time overflow the ring, counted") {
    event_receiver rx;
    for (std::uint32_t i = 0; i < event_receiver::ring_capacity + 2; ++i) {
        feed_rtp(rx, {i * 1000, true, '1', true, 400});
    }
    CHECK(take_all(rx).size() == event_receiver::ring_capacity);
    CHECK(rx.counters().ring_overflow == 2);
}

TEST_CASE("a lost end then the next digit gives both digits") {
    event_receiver rx;
    auto first = key_press('1', 5000, 1200);
    first.resize(first.size() - 3);  // all three end packets lost
    for (const auto& p : first) {
        feed_rtp(rx, p);
    }
    CHECK(take_all(rx).empty());

    const auto second = key_press('2', 8000, 800);
    const feed_result r = feed_rtp(rx, second[0]);
    REQUIRE(r.started);
    CHECK(r.started->symbol == '2');
    CHECK(r.ended == 1);  // '1', closed with the last duration it had
    for (std::size_t i = 1; i < second.size(); ++i) {
        feed_rtp(rx, second[i]);
    }
    CHECK(take_all(rx) == std::vector<digit>{{'1', 800, 5000}, {'2', 800, 8000}});
    CHECK(rx.counters().end_missing == 1);
}

TEST_CASE("a lost start packet still starts the digit") {
    event_receiver rx;
    auto packets = key_press('7', 320, 1200);
    packets.erase(packets.begin());
    CHECK(feed_rtp(rx, packets[0]).started == digit_start{'7', 320});
    for (std::size_t i = 1; i < packets.size(); ++i) {
        feed_rtp(rx, packets[i]);
    }
    CHECK(take_all(rx) == std::vector<digit>{{'7', 1200, 320}});
}

TEST_CASE("only end packets arriving still give the digit once") {
    event_receiver rx;
    const rtp_event end{640, false, '#', true, 960};
    const feed_result r = feed_rtp(rx, end);
    CHECK(r.started == digit_start{'#', 640});
    CHECK(r.ended == 1);
    CHECK(feed_rtp(rx, end).ended == 0);
    CHECK(feed_rtp(rx, end).ended == 0);
    CHECK(take_all(rx) == std::vector<digit>{{'#', 960, 640}});
}

TEST_CASE("duplicated and reordered packets do not double a digit") {
    event_receiver rx;
    const auto a = key_press('3', 1000, 1600);  // 3 updates, 3 ends
    const auto b = key_press('4', 4000, 800);
    // Updates swapped and duplicated, an end before the last update, a late
    // update of '3' after its end and another during '4'.
    const std::vector<rtp_event> sequence{a[0], a[2], a[1], a[1], a[3], a[2], a[4], b[0],
                                          a[5], a[1], b[1], b[0], b[2], b[3], b[2], a[3]};
    unsigned started = 0;
    unsigned ended = 0;
    for (const auto& p : sequence) {
        const feed_result r = feed_rtp(rx, p);
        started += r.started ? 1 : 0;
        ended += r.ended;
    }
    CHECK(started == 2);
    CHECK(ended == 2);
    CHECK(take_all(rx) == std::vector<digit>{{'3', 1600, 1000}, {'4', 800, 4000}});
}

TEST_CASE("an update arriving late keeps the longer duration") {
    event_receiver rx;
    feed_rtp(rx, {0, true, '9', false, 800});
    feed_rtp(rx, {0, false, '9', false, 400});
    rx.expire();
    CHECK(take_all(rx) == std::vector<digit>{{'9', 800, 0}});
}

TEST_CASE("expire ends a digit whose end never came") {
    event_receiver rx;
    CHECK_FALSE(rx.expire());
    feed_rtp(rx, {100, true, 'A', false, 160});
    feed_rtp(rx, {100, false, 'A', false, 320});
    CHECK(rx.expire());
    CHECK_FALSE(rx.expire());
    CHECK(take_all(rx) == std::vector<digit>{{'A', 320, 100}});
    // Its end packets arriving after all are stale, not a second digit.
    CHECK(feed_rtp(rx, {100, false, 'A', true, 480}).ended == 0);
    CHECK(take_all(rx).empty());
}

TEST_CASE("a long event in segments (RFC 4733 2.5.1.3) is one digit") {
    event_receiver rx;
    const std::uint32_t ts = 0xffff8000u;  // and the timestamp wraps on the way
    CHECK(feed_rtp(rx, {ts, true, '0', false, 32000}).started);
    CHECK(feed_rtp(rx, {ts, false, '0', false, 0xffff}).ended == 0);
    const feed_result r = feed_rtp(rx, {ts + 0xffff, false, '0', false, 8000});
    CHECK_FALSE(r.started);
    CHECK(r.ended == 0);
    CHECK(feed_rtp(rx, {ts + 0xffff, false, '0', true, 16000}).ended == 1);
    CHECK(take_all(rx) == std::vector<digit>{{'0', 0xffff + 16000, ts}});
    CHECK(rx.counters().end_missing == 0);
}

TEST_CASE("timestamps wrapping between digits are newer, not stale") {
    event_receiver rx;
    for (const auto& p : key_press('1', 0xfffffe00u, 800)) {
        feed_rtp(rx, p);
    }
    for (const auto& p : key_press('2', 0x00000400u, 800)) {
        feed_rtp(rx, p);
    }
    CHECK(take_all(rx) == std::vector<digit>{{'1', 800, 0xfffffe00u}, {'2', 800, 0x00000400u}});
}

TEST_CASE("a packet of several events gives each of them") {
    event_receiver rx;
    // '1' for 400 then '2' going on, packed (RFC 4733 2.5.1.5): '2' starts
    // where '1' ended.
    const std::array<std::uint8_t, 8> packed{0x01, 0x8a, 0x01, 0x90, 0x02, 0x0a, 0x00, 0xa0};
    const feed_result r = rx.feed(1000, true, packed);
    CHECK(r.ended == 1);
    CHECK(r.started == digit_start{'2', 1400});
    feed_rtp(rx, {1400, false, '2', true, 480});
    CHECK(take_all(rx) == std::vector<digit>{{'1', 400, 1000}, {'2', 480, 1400}});
}

TEST_CASE("malformed payloads and other events are counted and ignored") {
    event_receiver rx;
    const std::array<std::uint8_t, 3> short_payload{1, 2, 3};
    CHECK_FALSE(rx.feed(0, true, short_payload).started);
    CHECK_FALSE(rx.feed(0, true, {}).started);
    const std::array<std::uint8_t, 4> modem_tone{32, 0x0a, 0x00, 0xa0};  // ANS, not DTMF
    CHECK_FALSE(rx.feed(0, true, modem_tone).started);
    CHECK(rx.counters().malformed == 2);
    CHECK(rx.counters().not_dtmf == 1);
    CHECK(take_all(rx).empty());
}

TEST_CASE("timestamps far behind the newest mean the sender jumped: a new event") {
    event_receiver rx;
    feed_rtp(rx, {1000000, true, '1', true, 400});
    // Just behind: a late packet of something ended.
    CHECK_FALSE(feed_rtp(rx, {999000, true, '2', true, 400}).started);
    // Far behind (more than stale_window): the stream's clock restarted.
    CHECK(feed_rtp(rx, {1000, true, '3', true, 400}).started == digit_start{'3', 1000});
    CHECK(take_all(rx) == std::vector<digit>{{'1', 400, 1000000}, {'3', 400, 1000}});
}

TEST_CASE("reset forgets the open event and the timestamps seen") {
    event_receiver rx;
    feed_rtp(rx, {5000, true, '8', false, 160});
    rx.reset();
    CHECK_FALSE(rx.current());
    // A new SSRC may start below the old timestamps.
    CHECK(feed_rtp(rx, {4000, true, '8', true, 160}).ended == 1);
    CHECK(take_all(rx) == std::vector<digit>{{'8', 160, 4000}});
}
