// The relay pipeline on in-memory bursts: forwarding, symmetric latching
// (RFC 4961), drops by reason, RTCP staying on RTCP, counters.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/core/relay.hpp"
#include "dataplane/core/timeout_watch.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/chain/rtp_packet.hpp"

using namespace sbc::dataplane;

namespace {

ip_endpoint ep(const char* ip, std::uint16_t port) { return *ip_endpoint::from_string(ip, port); }

// A chain the test means to be valid, or the test case fails with make()'s reason.
std::unique_ptr<sbc::transcoder::media_chain> make_chain(const sbc::transcoder::chain_config& cfg) {
    auto made = sbc::transcoder::media_chain::make(cfg);
    if (!made) {
        FAIL("media_chain::make: " << made.error_message());
    }
    return std::move(made).value();
}

// A burst as a backend would hand it over: buffers and sources it owns.
class burst {
public:
    burst& add(const ip_endpoint& source, std::string payload, bool truncated = false) {
        _sources.push_back(source);
        _payloads.push_back(std::move(payload));
        _truncated.push_back(truncated);
        return *this;
    }
    std::vector<rx_packet> packets() {
        std::vector<rx_packet> out;
        for (std::size_t i = 0; i < _payloads.size(); ++i) {
            out.push_back(rx_packet{reinterpret_cast<std::uint8_t*>(_payloads[i].data()),
                                    static_cast<std::uint32_t>(_payloads[i].size()), _truncated[i],
                                    &_sources[i]});
        }
        return out;
    }

private:
    std::vector<ip_endpoint> _sources;
    std::vector<std::string> _payloads;
    std::vector<bool> _truncated;
};

std::string payload_of(const tx_packet& p) {
    return std::string(reinterpret_cast<const char*>(p.data), p.len);
}

// A relay_session with what a backend keeps around it: the burst buffers the
// tx batches point into, alive until the test is done with them.
class pipeline : public relay_session {
public:
    // Relays `b` arriving on `from`'s `ch` port and returns the tx batch.
    tx_batch feed(side from, channel ch, burst b, std::int64_t now = 1,
                  sbc::transcoder::packet_sink* sink = nullptr) {
        _bursts.push_back(std::move(b));
        _packets.push_back(_bursts.back().packets());
        tx_batch out;
        out.count = 99;  // relay() must reset it
        out.sink = sink;
        relay(from, ch, _packets.back(), now, out);
        return out;
    }

private:
    std::deque<burst> _bursts;
    std::deque<std::vector<rx_packet>> _packets;
};

const ip_endpoint alice_rtp = ep("192.0.2.10", 4000);
const ip_endpoint alice_rtcp = ep("192.0.2.10", 4001);
const ip_endpoint bob_rtp = ep("198.51.100.20", 6000);
const ip_endpoint bob_rtcp = ep("198.51.100.20", 6001);
const ip_endpoint alice_nat = ep("203.0.113.5", 31000);

}  // namespace

TEST_CASE("relay: nothing is sent while the other side's address is unknown") {
    pipeline r;
    const auto out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, "x").add(alice_rtp, "y"));
    CHECK(out.count == 0);
    const auto st = r.stats();
    CHECK(st.sides[0].rtp_rx_packets == 2);
    CHECK(st.sides[0].rtp_rx_bytes == 2);
    CHECK(st.sides[0].drops_no_destination == 2);
    CHECK(st.sides[1].tx_packets == 0);
}

TEST_CASE("relay: RTP goes to the other side's SDP address until it latches") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);

    auto out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, "hello").add(alice_rtp, "!"));
    REQUIRE(out.count == 2);
    CHECK(payload_of(out.packets[0]) == "hello");
    CHECK(payload_of(out.packets[1]) == "!");
    CHECK(*out.packets[0].destination == bob_rtp);
    r.note_tx(side::b, out.count, 6, 0);

    const auto st = r.stats();
    CHECK(st.sides[0].rtp_rx_packets == 2);
    CHECK(st.sides[0].rtp_rx_bytes == 6);
    CHECK(st.sides[0].latched_rtp == alice_rtp);
    CHECK_FALSE(st.sides[1].latched_rtp);
    CHECK(st.sides[1].tx_packets == 2);
    CHECK(st.sides[1].tx_bytes == 6);
    CHECK(st.sides[0].last_rx_ns == 1);
}

TEST_CASE("relay: the first source latches and media goes back to it") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);

    // Alice is behind NAT: her packets come from another address than her SDP's.
    auto out = r.feed(side::a, channel::rtp, burst().add(alice_nat, "from-nat"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == bob_rtp);
    // The backend is told, once, so the control plane hears of it.
    REQUIRE(out.latched != nullptr);
    CHECK(*out.latched == alice_nat);
    CHECK(r.feed(side::a, channel::rtp, burst().add(alice_nat, "again")).latched == nullptr);

    out = r.feed(side::b, channel::rtp, burst().add(bob_rtp, "to-alice"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == alice_nat);
    CHECK(r.stats().sides[0].latched_rtp == alice_nat);
}

TEST_CASE("relay: packets from another source than the latched one are dropped") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    const auto intruder = ep("203.0.113.66", 1234);

    auto out = r.feed(side::a, channel::rtp,
                      burst().add(alice_rtp, "1").add(intruder, "evil").add(alice_rtp, "2"), 50);
    REQUIRE(out.count == 2);
    CHECK(payload_of(out.packets[0]) == "1");
    CHECK(payload_of(out.packets[1]) == "2");

    // A burst of only intruder packets does not move last_rx_ns either.
    out = r.feed(side::a, channel::rtp, burst().add(intruder, "evil"), 90);
    CHECK(out.count == 0);
    const auto st = r.stats().sides[0];
    CHECK(st.drops_wrong_source == 2);
    CHECK(st.rtp_rx_packets == 4);
    CHECK(st.last_rx_ns == 50);
    CHECK(st.latched_rtp == alice_rtp);
}

TEST_CASE("relay: set_remote re-arms latching") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.feed(side::a, channel::rtp, burst().add(alice_rtp, "1"));
    CHECK(r.feed(side::a, channel::rtp, burst().add(alice_nat, "2")).count == 0);

    // A re-INVITE moved Alice: the next source latches anew.
    r.set_remote(side::a, alice_nat, ep("203.0.113.5", 31001));
    CHECK_FALSE(r.stats().sides[0].latched_rtp);
    CHECK(r.feed(side::a, channel::rtp, burst().add(alice_nat, "3")).count == 1);
    CHECK(r.feed(side::a, channel::rtp, burst().add(alice_rtp, "4")).count == 0);
    CHECK(r.stats().sides[0].latched_rtp == alice_nat);
    CHECK(r.stats().sides[0].drops_wrong_source == 2);
}

TEST_CASE("relay: RTCP goes to the other side's RTCP address and latches on its own") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);

    auto out = r.feed(side::a, channel::rtcp, burst().add(alice_rtcp, "sr"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == bob_rtcp);

    // Bob's RTCP latches separately from his RTP.
    const auto bob_rtcp_nat = ep("198.51.100.20", 7777);
    out = r.feed(side::b, channel::rtcp, burst().add(bob_rtcp_nat, "rr"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == alice_rtcp);
    out = r.feed(side::a, channel::rtcp, burst().add(alice_rtcp, "sr2"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == bob_rtcp_nat);
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, "media"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == bob_rtp);

    const auto st = r.stats();
    CHECK(st.sides[0].rtcp_rx_packets == 2);
    CHECK(st.sides[1].rtcp_rx_packets == 1);
    CHECK(st.sides[0].rtp_rx_packets == 1);
    CHECK(st.sides[0].rtp_rx_bytes == 5);  // RTCP bytes are not RTP bytes
    CHECK_FALSE(st.sides[1].latched_rtp);  // only RTCP came from Bob
}

TEST_CASE("relay: a hold address or a rejected stream is no destination (RFC 3264 8.4, 6)") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, ep("0.0.0.0", 6000), ep("198.51.100.20", 0));
    CHECK(r.feed(side::a, channel::rtp, burst().add(alice_rtp, "x")).count == 0);
    CHECK(r.feed(side::a, channel::rtcp, burst().add(alice_rtcp, "y")).count == 0);
    CHECK(r.stats().sides[0].drops_no_destination == 2);
}

TEST_CASE("relay: a latched peer is reached even before its SDP address is known") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    // Early media from Bob before his answer: it latches his side.
    auto out = r.feed(side::b, channel::rtp, burst().add(bob_rtp, "early"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == alice_rtp);
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, "back"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == bob_rtp);
}

TEST_CASE("relay: truncated packets and packets without a source are dropped by name") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    const auto out =
        r.feed(side::a, channel::rtp,
               burst().add(alice_nat, "big", true).add(ip_endpoint{}, "anon").add(alice_rtp, "ok"));
    REQUIRE(out.count == 1);
    CHECK(payload_of(out.packets[0]) == "ok");
    const auto st = r.stats().sides[0];
    CHECK(st.drops_truncated == 1);
    CHECK(st.drops_wrong_source == 1);
    CHECK(st.rtp_rx_packets == 3);
    // A truncated first packet must not have latched.
    CHECK(st.latched_rtp == alice_rtp);
}

TEST_CASE("relay: failed sends are counted on the side they were for") {
    pipeline r;
    r.note_tx(side::b, 30, 4800, 2);
    const auto st = r.stats();
    CHECK(st.sides[1].tx_packets == 30);
    CHECK(st.sides[1].drops_tx_error == 2);
    CHECK(st.sides[1].tx_bytes == 4800);
    CHECK(st.sides[0].tx_packets == 0);
}

TEST_CASE("relay: a full burst of 32 is relayed in order") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    burst b;
    for (std::size_t i = 0; i < max_burst; ++i) {
        b.add(alice_rtp, std::to_string(i));
    }
    const auto out = r.feed(side::a, channel::rtp, b);
    REQUIRE(out.count == max_burst);
    for (std::size_t i = 0; i < max_burst; ++i) {
        CHECK(payload_of(out.packets[i]) == std::to_string(i));
    }
}

// --- SRTP in the pipeline ---------------------------------------------------

namespace {

using sbc::dataplane::srtp::outcome;
using sbc::dataplane::srtp::stream_crypto;
using sbc::dataplane::srtp::suite;

struct srtp_fixture {
    std::vector<std::uint8_t> key_a = std::vector<std::uint8_t>(30, 0xA1);
    std::vector<std::uint8_t> key_b = std::vector<std::uint8_t>(30, 0xB2);
    // What each peer holds: alice sends SRTP with key_a; bob speaks plain RTP.
    stream_crypto alice_tx = must(key_a, stream_crypto::direction::protect);
    stream_crypto alice_rx = must(key_b, stream_crypto::direction::unprotect);
    // What the SBC holds for side a (alice's leg).
    stream_crypto sbc_from_alice = must(key_a, stream_crypto::direction::unprotect);
    stream_crypto sbc_to_alice = must(key_b, stream_crypto::direction::protect);

    static stream_crypto must(const std::vector<std::uint8_t>& key, stream_crypto::direction d) {
        auto c = stream_crypto::create(suite::aes_cm_128_hmac_sha1_80, key, d);
        REQUIRE(c);
        return std::move(*c);
    }
};

/// An RTP packet (RFC 3550 5.1) in a 2048-octet buffer.
struct buffer {
    std::array<std::uint8_t, 2048> bytes{};
    std::uint32_t len = 0;
    explicit buffer(std::uint16_t seq, std::string_view payload = "voice") {
        bytes[0] = 0x80;
        bytes[1] = 0;
        bytes[2] = static_cast<std::uint8_t>(seq >> 8);
        bytes[3] = static_cast<std::uint8_t>(seq);
        bytes[11] = 7;
        std::copy(payload.begin(), payload.end(), bytes.begin() + 12);
        len = static_cast<std::uint32_t>(12 + payload.size());
    }
    rx_packet packet(const ip_endpoint& from, std::uint32_t capacity = 2048) {
        return rx_packet{bytes.data(), len, false, &from, capacity};
    }
    std::string payload() const {
        return std::string(reinterpret_cast<const char*>(bytes.data()) + 12, len - 12);
    }
};

}  // namespace

TEST_CASE("relay: SRTP from one side leaves as RTP, and RTP to it leaves as SRTP", "[srtp]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);

    buffer from_alice(1, "hello bob");
    std::size_t len = from_alice.len;
    REQUIRE(f.alice_tx.protect_rtp(from_alice.bytes.data(), len) == outcome::ok);
    from_alice.len = static_cast<std::uint32_t>(len);
    rx_packet in[] = {from_alice.packet(alice_rtp)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in, 1, out);
    REQUIRE(out.count == 1);
    CHECK(std::string(reinterpret_cast<const char*>(out.packets[0].data) + 12,
                      out.packets[0].len - 12) == "hello bob");

    buffer from_bob(9, "hello alice");
    rx_packet in_b[] = {from_bob.packet(bob_rtp)};
    r.relay(side::b, channel::rtp, in_b, 2, out);
    REQUIRE(out.count == 1);
    CHECK(out.packets[0].len == 12 + 11 + 10);  // the 80-bit tag (RFC 3711 4.2)
    std::size_t back = out.packets[0].len;
    REQUIRE(f.alice_rx.unprotect_rtp(from_bob.bytes.data(), back) == outcome::ok);
    CHECK(from_bob.payload().substr(0, 11) == "hello alice");
}

namespace {

/// The rollovers a tx batch reports.
std::vector<srtp_rollover> rollovers_of(const tx_batch& out) {
    return {out.rollovers.begin(),
            out.rollovers.begin() + static_cast<std::ptrdiff_t>(out.rollover_count)};
}

}  // namespace

TEST_CASE("relay: a wrap of either SRTP stream's sequence numbers reports its rollover counter",
          "[srtp][roc]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    tx_batch out;
    // Alice's SRTP to the SBC: the SBC's unprotect stream of side a.
    auto alice_sends = [&](std::uint16_t seq) {
        buffer b(seq);
        std::size_t len = b.len;
        REQUIRE(f.alice_tx.protect_rtp(b.bytes.data(), len) == outcome::ok);
        b.len = static_cast<std::uint32_t>(len);
        rx_packet in[] = {b.packet(alice_rtp)};
        r.relay(side::a, channel::rtp, in, 1, out);
        REQUIRE(out.count == 1);
        return rollovers_of(out);
    };
    // Bob's RTP, protected towards alice: the SBC's protect stream of side a.
    auto bob_sends = [&](std::uint16_t seq) {
        buffer b(seq);
        rx_packet in[] = {b.packet(bob_rtp)};
        r.relay(side::b, channel::rtp, in, 1, out);
        REQUIRE(out.count == 1);
        return rollovers_of(out);
    };
    CHECK(alice_sends(65534).empty());
    CHECK(alice_sends(65535).empty());
    const auto from_alice = alice_sends(0);
    REQUIRE(from_alice.size() == 1);
    CHECK(from_alice[0].s == side::a);
    CHECK_FALSE(from_alice[0].to_peer);
    CHECK(from_alice[0].ssrc == 7u);  // buffer's SSRC
    CHECK(from_alice[0].roc == 1u);
    CHECK(alice_sends(1).empty());

    CHECK(bob_sends(65535).empty());
    const auto to_alice = bob_sends(0);
    REQUIRE(to_alice.size() == 1);
    CHECK(to_alice[0].s == side::a);
    CHECK(to_alice[0].to_peer);
    CHECK(to_alice[0].ssrc == 7u);
    CHECK(to_alice[0].roc == 1u);
    // A late packet from before the wrap, then the stream going on: no
    // second report.
    CHECK(bob_sends(65533).empty());
    CHECK(bob_sends(2).empty());
    // Bob's side is plain RTP: nothing of it is watched.
    CHECK(r.stats().sides[1].srtp_errors == 0);
}

TEST_CASE("relay: the first SRTCP packet to an SRTP peer and every 256th are reported",
          "[srtp][roc]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    std::vector<srtp_rollover> reports;
    for (int i = 0; i < 600; ++i) {
        // Bob's receiver report (RFC 3550 6.4.2) from SSRC 0xb0b.
        buffer rr(0);
        rr.bytes[1] = 201;
        rr.bytes[3] = 1;
        rr.bytes[6] = 0x0b;
        rr.bytes[7] = 0x0b;
        rr.len = 8;
        rx_packet in[] = {rr.packet(bob_rtcp)};
        tx_batch out;
        r.relay(side::b, channel::rtcp, in, 1, out);
        REQUIRE(out.count == 1);
        const auto got = rollovers_of(out);
        reports.insert(reports.end(), got.begin(), got.end());
    }
    REQUIRE(reports.size() == 3);
    for (const auto& rep : reports) {
        CHECK(rep.s == side::a);
        CHECK(rep.to_peer);
        CHECK(rep.srtcp);
        CHECK(rep.ssrc == 0xb0bu);
    }
    CHECK(reports[0].srtcp_sent == 1u);
    CHECK(reports[1].srtcp_sent == 256u);
    CHECK(reports[2].srtcp_sent == 512u);
}

TEST_CASE("relay: a local tone that wraps to an SRTP peer reports the rollover", "[srtp][roc]") {
    namespace tc = sbc::transcoder;
    constexpr std::int64_t ms = 1'000'000;
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    tc::tone_config cfg;
    cfg.out.encoding = "PCMA";
    cfg.out.payload_type = 8;
    cfg.origin = tc::output_origin{0x70e, 65535, 0};
    auto made = tc::tone_source::make(cfg);
    REQUIRE(made);
    auto tone = std::move(made).value();
    r.set_tone(side::a, tone.get(), 100 * ms);
    tc::packet_sink sink(max_tx_burst);
    tx_batch out;
    out.sink = &sink;
    r.release_due(side::b, 100 * ms, out);
    REQUIRE(out.count == 1);
    CHECK(out.rollover_count == 0);
    r.release_due(side::b, 120 * ms, out);
    REQUIRE(out.count == 1);
    const auto rolled = rollovers_of(out);
    REQUIRE(rolled.size() == 1);
    CHECK(rolled[0].s == side::a);
    CHECK(rolled[0].to_peer);
    CHECK(rolled[0].ssrc == 0x70eu);
    CHECK(rolled[0].roc == 1u);
}

TEST_CASE("relay: tampered and replayed SRTP is dropped and counted, and latches nothing",
          "[srtp]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);

    // A forged first packet from elsewhere fails authentication: alice's
    // address stays unlatched and her real packets still get through.
    buffer forged(1, "evil");
    rx_packet in_forged[] = {forged.packet(alice_nat)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in_forged, 1, out);
    CHECK(out.count == 0);

    buffer good(2, "real");
    std::size_t len = good.len;
    REQUIRE(f.alice_tx.protect_rtp(good.bytes.data(), len) == outcome::ok);
    good.len = static_cast<std::uint32_t>(len);
    buffer replay = good;
    buffer tampered = good;
    tampered.bytes[14] ^= 0x40;
    rx_packet in[] = {tampered.packet(alice_rtp), good.packet(alice_rtp), replay.packet(alice_rtp)};
    r.relay(side::a, channel::rtp, in, 2, out);
    CHECK(out.count == 1);
    const auto st = r.stats().sides[0];
    CHECK(st.srtp_auth_failures == 2);  // the forged one and the tampered one
    CHECK(st.srtp_replays == 1);
    REQUIRE(st.latched_rtp);
    CHECK(*st.latched_rtp == alice_rtp);
}

TEST_CASE("relay: a packet with no room for the SRTP tag is counted, not sent", "[srtp]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    buffer from_bob(1, "x");
    rx_packet in[] = {from_bob.packet(bob_rtp, from_bob.len)};  // no spare room
    tx_batch out;
    r.relay(side::b, channel::rtp, in, 1, out);
    CHECK(out.count == 0);
    CHECK(r.stats().sides[0].srtp_errors == 1);
}

TEST_CASE("relay: the media timeout counts from arming or the last packet, and fires once") {
    constexpr std::int64_t s = 1'000'000'000;
    pipeline p;
    p.set_remote(side::a, alice_rtp, alice_rtcp);
    p.set_remote(side::b, bob_rtp, bob_rtcp);
    CHECK_FALSE(p.check_timeout(100 * s));  // not armed: never

    p.arm_timeout(3 * s, 10 * s);
    CHECK(p.timeout_armed());
    CHECK_FALSE(p.check_timeout(12 * s));
    p.feed(side::a, channel::rtp, burst().add(alice_rtp, "rtp"), 12 * s);
    CHECK_FALSE(p.check_timeout(14 * s));  // 2 s after the packet
    p.feed(side::b, channel::rtp, burst().add(bob_rtp, "rtp"), 14 * s);
    CHECK_FALSE(p.check_timeout(16 * s));  // either side's packet counts
    CHECK(p.check_timeout(17 * s));
    CHECK_FALSE(p.timeout_armed());
    CHECK_FALSE(p.check_timeout(30 * s));  // once per arming

    // A packet from a stranger is dropped and keeps nothing alive.
    p.arm_timeout(3 * s, 40 * s);
    p.feed(side::a, channel::rtp, burst().add(alice_nat, "stray"), 42 * s);
    CHECK(p.check_timeout(43 * s));

    p.arm_timeout(3 * s, 50 * s);
    p.arm_timeout(0, 51 * s);
    CHECK_FALSE(p.check_timeout(60 * s));
}

namespace {
struct watched {
    relay_session relay;
    watch_hook<watched> hook;
};
}  // namespace

TEST_CASE("timeout_watch reports the quiet sessions it holds, at most every 100 ms") {
    constexpr std::int64_t s = 1'000'000'000;
    std::array<watched, 3> sessions;
    timeout_watch<watched, &watched::hook> watch;
    CHECK(watch.empty());
    for (auto& w : sessions) {
        watch.arm(w, 1 * s, 0);
    }
    watch.arm(sessions[1], 0, 0);  // disarmed: unlinked
    watch.forget(sessions[2]);     // removed while armed
    std::vector<const watched*> fired;
    auto record = [&](watched& w) { fired.push_back(&w); };
    watch.scan(2 * s, record);
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] == &sessions[0]);
    CHECK(watch.empty());

    constexpr std::int64_t ms = 1'000'000;
    watch.arm(sessions[1], 10 * ms, 2 * s);
    watch.scan(2 * s + 50 * ms, record);  // quiet, but within 100 ms of the last scan
    CHECK(fired.size() == 1);
    watch.scan(2 * s + 100 * ms, record);
    CHECK(fired.size() == 2);
}

TEST_CASE("relay: RTP from a side with a codec chain leaves transcoded; RTCP is dropped") {
    namespace tc = sbc::transcoder;
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    tc::chain_config cfg;
    cfg.in.audio.encoding = "PCMU";
    cfg.out.audio.encoding = "PCMA";
    cfg.out.audio.payload_type = 8;
    cfg.out.audio.ptime_ms = 10;
    cfg.origin = tc::output_origin{0x5bc, 100, 8000};
    auto chain = make_chain(cfg);
    r.set_chain(side::a, chain.get());
    tc::packet_sink sink(max_tx_burst);

    std::string pcmu(tc::rtp_header_octets + 160, '\x7f');
    tc::write_rtp_header({reinterpret_cast<std::uint8_t*>(pcmu.data()), pcmu.size()}, true, 0, 1, 0,
                         0x1234);
    // 20 ms in, two packets of 10 ms out: the first now, the second when
    // it is due, 10 ms later (media_chain's Pacing).
    constexpr std::int64_t ms = 1'000'000;
    auto out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, pcmu), 1, &sink);
    REQUIRE(out.count == 1);
    std::vector<std::vector<std::uint8_t>> sent{
        {out.packets[0].data, out.packets[0].data + out.packets[0].len}};
    CHECK(r.next_due_ns() == 1 + 10 * ms);
    tx_batch later;
    later.sink = &sink;
    r.release_due(side::a, 10 * ms, later);
    CHECK(later.count == 0);
    CHECK(*out.packets[0].destination == bob_rtp);
    CHECK(out.packets[0].transformed);
    r.release_due(side::a, 1 + 10 * ms, later);
    REQUIRE(later.count == 1);
    CHECK(*later.packets[0].destination == bob_rtp);
    CHECK(later.packets[0].transformed);
    sent.emplace_back(later.packets[0].data, later.packets[0].data + later.packets[0].len);
    CHECK(r.next_due_ns() == sbc::transcoder::no_due_ns);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto v = tc::parse_rtp(sent[i]);
        REQUIRE(v);
        CHECK(v->payload_type == 8);
        CHECK(v->ssrc == 0x5bc);
        CHECK(v->sequence == 100 + i);
        CHECK(v->timestamp == 8000 + 80 * i);
        CHECK(v->payload.size() == 80);
    }

    // The other direction has no chain: relayed untouched.
    out = r.feed(side::b, channel::rtp, burst().add(bob_rtp, "bob"), 1, &sink);
    REQUIRE(out.count == 1);
    CHECK(payload_of(out.packets[0]) == "bob");

    // RTCP describes streams the other peer never sees: dropped both ways.
    CHECK(r.feed(side::a, channel::rtcp, burst().add(alice_rtcp, "sr"), 1, &sink).count == 0);
    CHECK(r.feed(side::b, channel::rtcp, burst().add(bob_rtcp, "rr"), 1, &sink).count == 0);
    const auto st = r.stats();
    CHECK(st.sides[0].drops_transcoded_rtcp == 1);
    CHECK(st.sides[1].drops_transcoded_rtcp == 1);
    REQUIRE(st.sides[0].chain);
    CHECK(st.sides[0].chain->packets_in == 1);
    CHECK(st.sides[0].chain->packets_out == 2);
    CHECK_FALSE(st.sides[1].chain);

    // The next packet's second half waits (102 now, 103 at +10 ms) when a
    // chain replaces this one (a re-INVITE changed codecs): the new chain
    // continues the stream the other peer receives (same SSRC, next
    // sequence number) and sends 103 first, at its time.
    tc::write_rtp_header({reinterpret_cast<std::uint8_t*>(pcmu.data()), pcmu.size()}, false, 0, 2,
                         160, 0x1234);
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, pcmu), 1 + 20 * ms, &sink);
    REQUIRE(out.count == 1);
    CHECK(tc::parse_rtp({out.packets[0].data, out.packets[0].len})->sequence == 102);
    cfg.out.audio.ptime_ms = 20;
    auto next = make_chain(cfg);
    r.set_chain(side::a, next.get());
    CHECK(r.next_due_ns() == 1 + 30 * ms);
    tc::write_rtp_header({reinterpret_cast<std::uint8_t*>(pcmu.data()), pcmu.size()}, false, 0, 3,
                         320, 0x1234);
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, pcmu), 1 + 40 * ms, &sink);
    REQUIRE(out.count == 2);
    const auto held = tc::parse_rtp({out.packets[0].data, out.packets[0].len});
    REQUIRE(held);
    CHECK(held->sequence == 103);
    CHECK(held->timestamp == 8000 + 3 * 80);
    CHECK_FALSE(held->marker);
    const auto cont = tc::parse_rtp({out.packets[1].data, out.packets[1].len});
    REQUIRE(cont);
    CHECK(cont->ssrc == 0x5bc);
    CHECK(cont->sequence == 104);
    CHECK(cont->timestamp == 8000 + 4 * 80);
    CHECK(cont->marker);

    // Without a chain again, the relay forwards untouched.
    r.set_chain(side::a, nullptr);
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, "raw"), 1, &sink);
    REQUIRE(out.count == 1);
    CHECK(payload_of(out.packets[0]) == "raw");
}

TEST_CASE("relay: packets a chain holds for later are dropped while the other side is on hold") {
    namespace tc = sbc::transcoder;
    constexpr std::int64_t ms = 1'000'000;
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    tc::chain_config cfg;
    cfg.in.audio.encoding = "PCMU";
    cfg.in.audio.ptime_ms = 60;
    cfg.out.audio.encoding = "PCMA";
    cfg.out.audio.payload_type = 8;
    cfg.out.audio.ptime_ms = 20;
    auto chain = make_chain(cfg);
    r.set_chain(side::a, chain.get());
    tc::packet_sink sink(max_tx_burst);
    std::string pcmu(tc::rtp_header_octets + 480, '\x7f');
    tc::write_rtp_header({reinterpret_cast<std::uint8_t*>(pcmu.data()), pcmu.size()}, true, 0, 1, 0,
                         0x1234);
    // 60 ms in: three out, at +0, +20 and +40 ms.
    auto out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, pcmu), 5 * ms, &sink);
    REQUIRE(out.count == 1);
    CHECK(r.next_due_ns() == 25 * ms);
    // Bob puts the call on hold (RFC 3264 8.4): what waits has nowhere to go.
    r.set_remote(side::b, ep("0.0.0.0", 6000), ep("0.0.0.0", 6001));
    tx_batch later;
    later.sink = &sink;
    r.release_due(side::a, 25 * ms, later);
    CHECK(later.count == 0);
    CHECK(r.next_due_ns() == tc::no_due_ns);
    CHECK(r.stats().sides[0].drops_no_destination == 2);
}

TEST_CASE("relay: packets a chain held leave SRTP-protected in sequence order", "[srtp]") {
    namespace tc = sbc::transcoder;
    constexpr std::int64_t ms = 1'000'000;
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    // Bob sends 60 ms PCMU; alice takes 20 ms PCMA, over SRTP.
    tc::chain_config cfg;
    cfg.in.audio.encoding = "PCMU";
    cfg.in.audio.ptime_ms = 60;
    cfg.out.audio.encoding = "PCMA";
    cfg.out.audio.payload_type = 8;
    cfg.out.audio.ptime_ms = 20;
    cfg.origin = tc::output_origin{0x5bc, 65534, 0};  // the sequence wraps on the way
    auto chain = make_chain(cfg);
    r.set_chain(side::b, chain.get());
    tc::packet_sink sink(max_tx_burst);

    std::vector<std::vector<std::uint8_t>> to_alice;
    std::vector<srtp_rollover> rollovers;
    auto take = [&](const tx_batch& out) {
        for (std::size_t i = 0; i < out.count; ++i) {
            CHECK(*out.packets[i].destination == alice_rtp);
            to_alice.emplace_back(out.packets[i].data, out.packets[i].data + out.packets[i].len);
        }
        rollovers.insert(rollovers.end(), out.rollovers.begin(),
                         out.rollovers.begin() + static_cast<std::ptrdiff_t>(out.rollover_count));
    };
    for (std::uint16_t n = 0; n < 3; ++n) {
        const std::int64_t at = 100 * ms + n * 60 * ms;
        buffer from_bob(n, std::string(480, '\x7f'));
        from_bob.bytes[6] = static_cast<std::uint8_t>((480 * n) >> 8);  // timestamp
        from_bob.bytes[7] = static_cast<std::uint8_t>(480 * n);
        rx_packet in[] = {from_bob.packet(bob_rtp)};
        tx_batch out;
        out.sink = &sink;
        r.relay(side::b, channel::rtp, in, at, out);
        CHECK(out.count == 1);
        take(out);
        for (std::int64_t later = at + 20 * ms; later < at + 60 * ms; later += 20 * ms) {
            CHECK(r.next_due_ns() == later);
            tx_batch paced;
            paced.sink = &sink;
            r.release_due(side::b, later, paced);
            CHECK(paced.count == 1);
            take(paced);
        }
    }
    // Alice's receiver (replay list and rollover counter, RFC 3711 3.3.1)
    // accepts every one, numbered in order across the wrap.
    REQUIRE(to_alice.size() == 9);
    for (std::size_t i = 0; i < to_alice.size(); ++i) {
        INFO("packet " << i);
        auto& p = to_alice[i];
        std::size_t len = p.size();
        REQUIRE(f.alice_rx.unprotect_rtp(p.data(), len) == outcome::ok);
        const auto v = tc::parse_rtp({p.data(), len});
        REQUIRE(v);
        CHECK(v->sequence == static_cast<std::uint16_t>(65534 + i));
        CHECK(v->timestamp == 160 * i);
    }
    CHECK(r.stats().sides[0].srtp_errors == 0);
    // The chain's stream to alice wrapped (in a paced release): reported once.
    REQUIRE(rollovers.size() == 1);
    CHECK(rollovers[0].s == side::a);
    CHECK(rollovers[0].to_peer);
    CHECK(rollovers[0].ssrc == 0x5bcu);
    CHECK(rollovers[0].roc == 1u);
}

// --- RTCP latching (issue 19: a stranger's RTCP neither injected nor diverted)

TEST_CASE("relay: on an established call a stranger's RTCP is dropped and diverts nothing") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    // RTP latched both ways; neither peer has sent RTCP (as sipp does not).
    REQUIRE(r.feed(side::a, channel::rtp, burst().add(alice_nat, "a")).count == 1);
    REQUIRE(r.feed(side::b, channel::rtp, burst().add(bob_rtp, "b")).count == 1);
    const auto stranger = ep("192.0.2.77", 4001);

    // Injection: nothing of the stranger's reaches the other side.
    CHECK(r.feed(side::a, channel::rtcp, burst().add(stranger, "forged")).count == 0);
    CHECK(r.feed(side::b, channel::rtcp, burst().add(stranger, "forged")).count == 0);
    // Diversion: what goes towards either side still goes to its peer.
    auto out = r.feed(side::b, channel::rtcp, burst().add(bob_rtcp, "rr"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == alice_rtcp);
    out = r.feed(side::a, channel::rtcp, burst().add(ep("203.0.113.5", 31001), "sr"));
    REQUIRE(out.count == 1);  // Alice's RTCP from her RTP's NAT address: any port
    CHECK(*out.packets[0].destination == bob_rtcp);
    out = r.feed(side::b, channel::rtcp, burst().add(bob_rtcp, "rr2"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == ep("203.0.113.5", 31001));
    // Once latched, RTCP holds to its address exactly, as RTP does.
    CHECK(r.feed(side::a, channel::rtcp, burst().add(ep("203.0.113.5", 31002), "x")).count == 0);

    const auto st = r.stats();
    CHECK(st.sides[0].drops_wrong_source == 2);
    CHECK(st.sides[1].drops_wrong_source == 1);
    CHECK(st.sides[0].latched_rtp == alice_nat);
}

TEST_CASE("relay: before RTP latches, RTCP latches only from the SDP's RTCP host") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    CHECK(r.feed(side::a, channel::rtcp, burst().add(ep("203.0.113.66", 4001), "x")).count == 0);
    CHECK(r.stats().sides[0].drops_wrong_source == 1);
    // The SDP's host, from another port than RTP + 1: accepted, and latched.
    const auto alice_rtcp_other = ep("192.0.2.10", 5555);
    REQUIRE(r.feed(side::a, channel::rtcp, burst().add(alice_rtcp_other, "sr")).count == 1);
    auto out = r.feed(side::b, channel::rtcp, burst().add(bob_rtcp, "rr"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == alice_rtcp_other);

    // Alice's RTP latches elsewhere (NAT): the RTCP latch to her SDP host
    // is undone, and her RTCP is now taken from the address RTP proved.
    REQUIRE(r.feed(side::a, channel::rtp, burst().add(alice_nat, "a")).count == 1);
    CHECK(r.feed(side::a, channel::rtcp, burst().add(alice_rtcp_other, "sr")).count == 0);
    REQUIRE(r.feed(side::a, channel::rtcp, burst().add(ep("203.0.113.5", 31001), "sr")).count == 1);
    out = r.feed(side::b, channel::rtcp, burst().add(bob_rtcp, "rr"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == ep("203.0.113.5", 31001));
}

TEST_CASE("relay: RTCP from an a=rtcp host of its own is taken after RTP latched (RFC 3605)") {
    pipeline r;
    const auto bob_rtcp_host = ep("198.51.100.99", 5000);
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp_host);
    REQUIRE(r.feed(side::b, channel::rtp, burst().add(bob_rtp, "b")).count == 1);
    CHECK(r.feed(side::b, channel::rtcp, burst().add(bob_rtcp_host, "rr")).count == 1);
    CHECK(r.feed(side::b, channel::rtcp, burst().add(ep("198.51.100.98", 5000), "x")).count == 0);
}

TEST_CASE("relay: a stranger's SRTCP neither latches nor passes", "[srtp]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    buffer forged(1, "evil");
    forged.bytes[1] = 200;  // an RTCP SR (RFC 3550 6.4.1)
    const auto stranger = ep("192.0.2.77", 4001);
    rx_packet in[] = {forged.packet(stranger)};
    tx_batch out;
    r.relay(side::a, channel::rtcp, in, 1, out);
    CHECK(out.count == 0);
    CHECK(r.stats().sides[0].drops_wrong_source == 1);
}

// --- Payload type renumbering (issue 19: RFC 3264 6.1 renumbered answers)

namespace {

std::string rtp_with_pt(std::uint8_t pt, bool marker = false, std::string payload = "pl") {
    std::string p(12, '\0');
    p[0] = static_cast<char>(0x80);
    p[1] = static_cast<char>((marker ? 0x80 : 0) | pt);
    p[11] = 7;
    return p + payload;
}

std::uint8_t pt_of(const tx_packet& p) { return p.data[1] & 0x7f; }
bool marker_of(const tx_packet& p) { return (p.data[1] & 0x80) != 0; }

payload_type_map map_of(std::initializer_list<std::pair<std::uint8_t, std::uint8_t>> pairs) {
    payload_type_map m;
    for (const auto& [from, to] : pairs) {
        REQUIRE(m.add(from, to));
    }
    return m;
}

}  // namespace

TEST_CASE("relay: payload types are rewritten towards the side that renumbered them") {
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    // Alice offered telephone-event 96 and opus 111; Bob answered 101 and 107.
    r.set_payload_types(side::b, map_of({{96, 101}, {111, 107}}));
    r.set_payload_types(side::a, map_of({{101, 96}, {107, 111}}));

    auto out = r.feed(side::a, channel::rtp,
                      burst()
                          .add(alice_rtp, rtp_with_pt(96, true))
                          .add(alice_rtp, rtp_with_pt(111))
                          .add(alice_rtp, rtp_with_pt(8)));
    REQUIRE(out.count == 3);
    CHECK(pt_of(out.packets[0]) == 101);
    CHECK(marker_of(out.packets[0]));   // the marker bit stays
    CHECK(out.packets[0].transformed);  // a DPDK backend must sum the UDP payload anew
    CHECK(pt_of(out.packets[1]) == 107);
    CHECK(pt_of(out.packets[2]) == 8);
    CHECK_FALSE(out.packets[2].transformed);
    // The payload itself is untouched.
    CHECK(payload_of(out.packets[1]).substr(12) == "pl");

    out = r.feed(side::b, channel::rtp,
                 burst().add(bob_rtp, rtp_with_pt(101)).add(bob_rtp, rtp_with_pt(96)));
    REQUIRE(out.count == 2);
    CHECK(pt_of(out.packets[0]) == 96);
    CHECK(pt_of(out.packets[1]) == 96);  // Bob sending the offer's number passes as it is

    // RTCP and what is not RTP version 2 are left alone.
    auto rtcp = rtp_with_pt(96);
    out = r.feed(side::a, channel::rtcp, burst().add(alice_rtcp, rtcp));
    REQUIRE(out.count == 1);
    CHECK(payload_of(out.packets[0]) == rtcp);
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, std::string("\x60\x60short")));
    REQUIRE(out.count == 1);
    CHECK(payload_of(out.packets[0]) == "\x60\x60short");

    // An empty map stops the rewriting.
    r.set_payload_types(side::b, payload_type_map{});
    out = r.feed(side::a, channel::rtp, burst().add(alice_rtp, rtp_with_pt(96)));
    REQUIRE(out.count == 1);
    CHECK(pt_of(out.packets[0]) == 96);
}

TEST_CASE("relay: a payload type map refuses the RTCP range and duplicates (RFC 5761 4)") {
    payload_type_map m;
    CHECK_FALSE(m.add(72, 96));
    CHECK_FALSE(m.add(96, 76));
    CHECK_FALSE(m.add(128, 96));
    CHECK(m.add(96, 101));
    CHECK_FALSE(m.add(96, 102));
    for (std::uint8_t pt = 0; m.count < payload_type_map::max_entries; ++pt) {
        CHECK(m.add(pt, static_cast<std::uint8_t>(pt + 1)));
    }
    CHECK_FALSE(m.add(100, 110));
}

TEST_CASE("relay: payload types are rewritten on the plain packet across SRTP", "[srtp]") {
    srtp_fixture f;
    relay_session r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    r.set_srtp(side::a, &f.sbc_from_alice, &f.sbc_to_alice);
    r.set_payload_types(side::b, map_of({{96, 101}}));
    r.set_payload_types(side::a, map_of({{101, 96}}));

    // SRTP from Alice: unprotected, renumbered, sent plain to Bob.
    buffer from_alice(1, "event");
    from_alice.bytes[1] = 96;
    std::size_t len = from_alice.len;
    REQUIRE(f.alice_tx.protect_rtp(from_alice.bytes.data(), len) == outcome::ok);
    from_alice.len = static_cast<std::uint32_t>(len);
    rx_packet in[] = {from_alice.packet(alice_rtp)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in, 1, out);
    REQUIRE(out.count == 1);
    CHECK(pt_of(out.packets[0]) == 101);
    CHECK(from_alice.payload().substr(0, 5) == "event");

    // Plain from Bob: renumbered, then protected, so Alice's tag checks.
    buffer from_bob(9, "back");
    from_bob.bytes[1] = 101;
    rx_packet in_b[] = {from_bob.packet(bob_rtp)};
    r.relay(side::b, channel::rtp, in_b, 2, out);
    REQUIRE(out.count == 1);
    std::size_t back = out.packets[0].len;
    REQUIRE(f.alice_rx.unprotect_rtp(from_bob.bytes.data(), back) == outcome::ok);
    CHECK((from_bob.bytes[1] & 0x7f) == 96);
    CHECK(from_bob.payload().substr(0, 4) == "back");
}

TEST_CASE("relay: a local tone plays to its side at its times, holding the other side's RTP back") {
    namespace tc = sbc::transcoder;
    constexpr std::int64_t ms = 1'000'000;
    pipeline r;
    r.set_remote(side::a, alice_rtp, alice_rtcp);
    r.set_remote(side::b, bob_rtp, bob_rtcp);
    tc::tone_config cfg;
    cfg.out.encoding = "PCMA";
    cfg.out.payload_type = 8;
    cfg.origin = tc::output_origin{0x70e, 1, 0};
    auto made = tc::tone_source::make(cfg);
    REQUIRE(made);
    auto tone = std::move(made).value();
    CHECK(r.next_due_ns() == tc::no_due_ns);
    r.set_tone(side::a, tone.get(), 100 * ms);
    CHECK(r.next_due_ns() == 100 * ms);
    CHECK(r.stats().sides[0].local_tone);
    tc::packet_sink sink(max_tx_burst);

    // The tone to alice leaves with what RTP from bob's side would: release_due(b).
    tx_batch out;
    out.sink = &sink;
    r.release_due(side::b, 100 * ms, out);
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == alice_rtp);
    auto rtp = tc::parse_rtp({out.packets[0].data, out.packets[0].len});
    REQUIRE(rtp);
    CHECK(rtp->marker);
    CHECK(rtp->payload_type == 8);
    CHECK(rtp->ssrc == 0x70eu);
    CHECK(r.next_due_ns() == 120 * ms);
    r.release_due(side::a, 120 * ms, out);  // nothing plays to bob
    CHECK(out.count == 0);

    // Bob's RTP does not reach alice over the tone; alice's reaches bob.
    std::string from_bob(tc::rtp_header_octets + 160, '\xd5');
    auto relayed = r.feed(side::b, channel::rtp, burst().add(bob_rtp, from_bob), 110 * ms);
    CHECK(relayed.count == 0);
    CHECK(r.stats().sides[1].drops_local_tone == 1);
    relayed = r.feed(side::a, channel::rtp, burst().add(alice_rtp, from_bob), 110 * ms);
    CHECK(relayed.count == 1);

    // Stopped: bob's RTP flows to alice again, and nothing is due.
    r.set_tone(side::a, nullptr, 130 * ms);
    CHECK(r.next_due_ns() == tc::no_due_ns);
    CHECK_FALSE(r.stats().sides[0].local_tone);
    CHECK(r.stats().sides[0].local_tone_packets == 1);
    relayed = r.feed(side::b, channel::rtp, burst().add(bob_rtp, from_bob), 140 * ms);
    CHECK(relayed.count == 1);
}
