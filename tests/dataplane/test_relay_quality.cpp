// Reception quality in the relay: RFC 3550 A.1/A.3 loss, A.8 jitter and the
// 6.4.1 round trip, on in-memory bursts whose arrival times the test sets.
#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "dataplane/core/relay.hpp"

using namespace sbc::dataplane;

namespace {

ip_endpoint q_ep(const char* ip, std::uint16_t port) { return *ip_endpoint::from_string(ip, port); }

const ip_endpoint q_alice_rtp = q_ep("192.0.2.11", 4000);
const ip_endpoint q_alice_rtcp = q_ep("192.0.2.11", 4001);
const ip_endpoint q_bob_rtp = q_ep("198.51.100.21", 6000);
const ip_endpoint q_bob_rtcp = q_ep("198.51.100.21", 6001);

void put32(std::string& s, std::uint32_t v) {
    s.push_back(static_cast<char>(v >> 24));
    s.push_back(static_cast<char>(v >> 16));
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v));
}

// An RTP packet (RFC 3550 5.1) with 20 octets of payload.
std::string rtp(std::uint16_t seq, std::uint32_t ts, std::uint32_t ssrc = 0x11223344,
                std::uint8_t pt = 0) {
    std::string s;
    s.push_back(static_cast<char>(0x80));
    s.push_back(static_cast<char>(pt));
    s.push_back(static_cast<char>(seq >> 8));
    s.push_back(static_cast<char>(seq));
    put32(s, ts);
    put32(s, ssrc);
    s.append(20, '\x55');
    return s;
}

// An SR (RFC 3550 6.4.1) without report blocks, NTP time `ntp_hi`.`ntp_lo`.
std::string sender_report(std::uint32_t ntp_hi, std::uint32_t ntp_lo) {
    std::string s{'\x80', static_cast<char>(200), 0, 6};
    put32(s, 0xaabbccdd);  // sender's SSRC
    put32(s, ntp_hi);
    put32(s, ntp_lo);
    put32(s, 1234);  // RTP timestamp
    put32(s, 10);    // packets
    put32(s, 1600);  // octets
    return s;
}

// An RR (RFC 3550 6.4.2) with one report block carrying `lsr` and `dlsr`.
std::string receiver_report(std::uint32_t lsr, std::uint32_t dlsr) {
    std::string s{'\x81', static_cast<char>(201), 0, 7};
    put32(s, 0x11223344);  // reporter's SSRC
    put32(s, 0xaabbccdd);  // the source reported on
    put32(s, 0);           // fraction lost, cumulative lost
    put32(s, 100);         // extended highest sequence number
    put32(s, 0);           // jitter
    put32(s, lsr);
    put32(s, dlsr);
    return s;
}

// A relay_session fed one datagram at a time at the time the test says,
// keeping the buffers its tx batches point into.
class quality_pipeline : public relay_session {
public:
    quality_pipeline() {
        set_remote(side::a, q_alice_rtp, q_alice_rtcp);
        set_remote(side::b, q_bob_rtp, q_bob_rtcp);
    }
    tx_batch feed(side from, channel ch, std::string datagram, std::int64_t now_ns) {
        _buffers.push_back(std::move(datagram));
        auto& b = _buffers.back();
        _sources.push_back(from == side::a ? (ch == channel::rtp ? q_alice_rtp : q_alice_rtcp)
                                           : (ch == channel::rtp ? q_bob_rtp : q_bob_rtcp));
        rx_packet p{reinterpret_cast<std::uint8_t*>(b.data()), static_cast<std::uint32_t>(b.size()),
                    false, &_sources.back(), static_cast<std::uint32_t>(b.size())};
        tx_batch out;
        relay(from, ch, {&p, 1}, now_ns, out);
        return out;
    }
    // RTP from alice: sequence number `seq`, 160 samples (20 ms at 8000 Hz)
    // per step from 0, arriving at `at_ms`.
    void alice(std::uint16_t seq, std::uint32_t step, double at_ms) {
        feed(side::a, channel::rtp, rtp(seq, step * 160), ms(at_ms));
    }
    static std::int64_t ms(double v) { return 1'000'000'000 + static_cast<std::int64_t>(v * 1e6); }

private:
    std::deque<std::string> _buffers;
    std::deque<ip_endpoint> _sources;
};

}  // namespace

TEST_CASE("relay quality: gaps count as lost, duplicates make up for them (RFC 3550 A.3)") {
    quality_pipeline r;
    CHECK(r.stats().sides[0].rtp_received == 0);
    CHECK(r.stats().sides[0].rtp_expected == 0);
    // 100-109 with 102 and 106 lost, 105 before 104, on time.
    for (std::uint16_t seq : {100, 101, 103, 105, 104, 107, 108, 109}) {
        r.alice(seq, seq - 100u, 20.0 * (seq - 100));
    }
    auto st = r.stats().sides[0];
    CHECK(st.rtp_received == 8);
    CHECK(st.rtp_expected == 10);  // 109 - 100 + 1
    CHECK(st.rtp_lost == 2);
    // A duplicate is received but not expected (A.3: lost may go negative).
    r.alice(109, 9, 200);
    r.alice(109, 9, 201);
    r.alice(109, 9, 202);
    st = r.stats().sides[0];
    CHECK(st.rtp_received == 11);
    CHECK(st.rtp_expected == 10);
    CHECK(st.rtp_lost == -1);
    // Bob sent nothing.
    CHECK(r.stats().sides[1].rtp_received == 0);
}

TEST_CASE("relay quality: the sequence wraps and a new SSRC starts a new count (A.1)") {
    quality_pipeline r;
    r.alice(65533, 0, 0);
    r.alice(65535, 2, 40);  // 65534 lost
    r.alice(0, 3, 60);
    r.alice(2, 5, 100);  // 1 lost
    auto st = r.stats().sides[0];
    CHECK(st.rtp_expected == 6);  // 65533 ... 2
    CHECK(st.rtp_received == 4);
    CHECK(st.rtp_lost == 2);

    // Another source (a re-INVITE's new stream): 7000-7002, all there.
    for (std::uint16_t i = 0; i < 3; ++i) {
        r.feed(side::a, channel::rtp, rtp(7000 + i, 5000 + i * 160u, 0x55667788),
               quality_pipeline::ms(120 + 20 * i));
    }
    st = r.stats().sides[0];
    CHECK(st.rtp_expected == 9);
    CHECK(st.rtp_received == 7);
    CHECK(st.rtp_lost == 2);

    // A jump of more than 3000 counts once a second packet confirms it
    // (A.1's bad_seq): the first is not counted, nothing is lost to it.
    r.feed(side::a, channel::rtp, rtp(20000, 9000, 0x55667788), quality_pipeline::ms(200));
    CHECK(r.stats().sides[0].rtp_received == 7);
    r.feed(side::a, channel::rtp, rtp(20001, 9160, 0x55667788), quality_pipeline::ms(220));
    st = r.stats().sides[0];
    CHECK(st.rtp_received == 8);
    CHECK(st.rtp_expected == 10);
}

TEST_CASE("relay quality: interarrival jitter as RFC 3550 A.8 computes it") {
    quality_pipeline r;
    // 20 ms packets (160 timestamp units at 8000 Hz); the third arrives 5 ms
    // late. Transit (arrival - timestamp, in units) 0, 0, 40, 0, 0; |D| 0,
    // 40, 40, 0. A.8's integer form (J scaled by 16, J += |D| - (J + 8) / 16):
    // 0, 40, 40 + 40 - 3 = 77, 77 + 0 - 5 = 72, i.e. 72 / 16 = 4.5 units =
    // 0.5625 ms (the real-number form gives 4.54 units, 0.568 ms).
    r.alice(0, 0, 0);
    r.alice(1, 1, 20);
    r.alice(2, 2, 45);
    r.alice(3, 3, 60);
    r.alice(4, 4, 80);
    CHECK(r.stats().sides[0].jitter_ms == Approx(0.5625));
    CHECK(r.stats().sides[0].rtp_lost == 0);

    // telephone-event (its timestamp stays at the event's start) leaves it alone.
    for (int i = 0; i < 3; ++i) {
        r.feed(side::a, channel::rtp,
               rtp(static_cast<std::uint16_t>(5 + i), 5 * 160, 0x11223344, 101),
               quality_pipeline::ms(100 + 20 * i));
    }
    CHECK(r.stats().sides[0].jitter_ms == Approx(0.5625));
    CHECK(r.stats().sides[0].rtp_received == 8);
}

TEST_CASE("relay quality: jitter in the clock rate the control plane gives (opus, 48000)") {
    quality_pipeline r;
    payload_type_map to_b;
    to_b.clock_hz = 48000;  // what alice sends towards bob
    r.set_payload_types(side::b, to_b);
    // 960 units per 20 ms; the second packet 10 ms (480 units) late, the
    // third on time: |D| 480, 480. J*16: 480, 480 + 480 - (488 >> 4 = 30) =
    // 930 -> 58.125 units / 48 = 1.2109 ms.
    for (std::uint16_t i = 0; i < 3; ++i) {
        const double late = i == 1 ? 10 : 0;
        r.feed(side::a, channel::rtp, rtp(i, i * 960u, 1, 111),
               quality_pipeline::ms(20.0 * i + late));
    }
    CHECK(r.stats().sides[0].jitter_ms == Approx(58.125 / 48));
    // Bob's stream keeps 8000 Hz.
    for (std::uint16_t i = 0; i < 3; ++i) {
        const double late = i == 1 ? 10 : 0;
        r.feed(side::b, channel::rtp, rtp(i, i * 160u, 2, 0),
               quality_pipeline::ms(20.0 * i + late));
    }
    // |D| 80, 80: J*16 80, 80 + 80 - 5 = 155 -> 9.6875 units / 8 = 1.2109 ms.
    CHECK(r.stats().sides[1].jitter_ms == Approx(9.6875 / 8));
}

TEST_CASE("relay quality: the round trip from an SR relayed and the report on it (6.4.1)") {
    quality_pipeline r;
    CHECK_FALSE(r.stats().sides[0].rtt_ms);
    // Bob's SR goes to alice at 0 ms: its NTP middle 32 bits are 0x56789abc.
    auto out = r.feed(side::b, channel::rtcp, sender_report(0x12345678, 0x9abcdef0),
                      quality_pipeline::ms(0));
    REQUIRE(out.count == 1);
    // Alice reports on it 600 ms later, having held it 0.5 s (DLSR 32768/65536 s).
    out = r.feed(side::a, channel::rtcp, receiver_report(0x56789abc, 0x8000),
                 quality_pipeline::ms(600));
    REQUIRE(out.count == 1);  // relayed unchanged
    const auto st = r.stats();
    REQUIRE(st.sides[0].rtt_ms);
    CHECK(*st.sides[0].rtt_ms == Approx(100.0));
    CHECK_FALSE(st.sides[1].rtt_ms);
    // A report on an SR the SBC never relayed changes nothing.
    r.feed(side::a, channel::rtcp, receiver_report(0x01020304, 0), quality_pipeline::ms(700));
    CHECK(*r.stats().sides[0].rtt_ms == Approx(100.0));
}

TEST_CASE("relay quality: malformed RTCP is relayed and measured for nothing") {
    quality_pipeline r;
    r.feed(side::b, channel::rtcp, sender_report(0x12345678, 0x9abcdef0), quality_pipeline::ms(0));
    const auto good = receiver_report(0x56789abc, 0);
    std::vector<std::string> bad;
    bad.push_back(good.substr(0, 20));  // cut short: length says 32 octets
    auto longer = good;
    longer[3] = 50;  // length beyond the datagram
    bad.push_back(longer);
    auto version = good;
    version[0] = 0x41;  // version 1
    bad.push_back(version);
    auto count = good;
    count[0] = static_cast<char>(0x9f);  // 31 report blocks claimed, one there
    count[3] = 1;                        // and a length of 8 octets
    bad.push_back(count);
    bad.push_back(std::string(3, '\x80'));
    bad.push_back(std::string{});
    for (const auto& b : bad) {
        r.feed(side::a, channel::rtcp, b, quality_pipeline::ms(10));
    }
    CHECK_FALSE(r.stats().sides[0].rtt_ms);
    // A good report after them still counts (DLSR 0: 20 ms).
    r.feed(side::a, channel::rtcp, good, quality_pipeline::ms(20));
    REQUIRE(r.stats().sides[0].rtt_ms);
    CHECK(*r.stats().sides[0].rtt_ms == Approx(20.0));
}
