// RTCP multiplexing (RFC 5761) in the data plane: the relay pipeline on
// in-memory bursts, and the kernel engine over loopback sockets, with one side
// muxed (RTP and RTCP on its RTP port) and the other on RTP + 1.
#include <catch2/catch.hpp>

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/core/relay.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "tests/dataplane/udp_peer.hpp"

using namespace sbc::dataplane;

namespace {

using sbc::test::eventually;
using sbc::test::udp_peer;

ip_endpoint mux_ep(const char* ip, std::uint16_t port) {
    return *ip_endpoint::from_string(ip, port);
}

// RFC 3550 5.1: a version-2 RTP header, payload type 0, then `payload`.
std::string mux_rtp(std::uint16_t seq, std::string_view payload) {
    std::string p(12, '\0');
    p[0] = '\x80';
    p[2] = static_cast<char>(seq >> 8);
    p[3] = static_cast<char>(seq);
    p[11] = 7;
    p.append(payload);
    return p;
}

// RFC 3550 6.4.2: a receiver report without report blocks (packet type 201,
// the second octet RFC 5761 4 tells RTCP by), then `extra` as padding-free
// profile-specific data so that tests can tell packets apart.
std::string mux_rtcp(std::string_view extra = "") {
    std::string p(8, '\0');
    p[0] = '\x80';
    p[1] = static_cast<char>(201);
    const auto words = (8 + extra.size()) / 4 - 1;
    p[3] = static_cast<char>(words);
    p[7] = 9;  // SSRC
    p.append(extra);
    return p;
}

// A packet in a buffer with room for SRTP's overhead.
struct mux_buffer {
    std::array<std::uint8_t, 2048> bytes{};
    std::uint32_t len = 0;
    explicit mux_buffer(const std::string& p) {
        std::copy(p.begin(), p.end(), bytes.begin());
        len = static_cast<std::uint32_t>(p.size());
    }
    rx_packet packet(const ip_endpoint& from) {
        return rx_packet{bytes.data(), len, false, &from, 2048};
    }
};

const ip_endpoint mux_alice = mux_ep("192.0.2.10", 4000);  // muxed: RTP and RTCP
const ip_endpoint mux_bob_rtp = mux_ep("198.51.100.20", 6000);
const ip_endpoint mux_bob_rtcp = mux_ep("198.51.100.20", 6001);
const ip_endpoint mux_stranger = mux_ep("203.0.113.5", 4000);

using sbc::dataplane::srtp::outcome;
using sbc::dataplane::srtp::stream_crypto;
using sbc::dataplane::srtp::suite;

stream_crypto must_crypto(std::uint8_t fill, stream_crypto::direction d) {
    const std::vector<std::uint8_t> key(30, fill);
    auto c = stream_crypto::create(suite::aes_cm_128_hmac_sha1_80, key, d);
    REQUIRE(c);
    return std::move(*c);
}

engine_config mux_config(std::uint16_t lo, std::uint16_t hi) {
    engine_config c;
    c.port_min = lo;
    c.port_max = hi;
    c.workers = 1;
    return c;
}

}  // namespace

TEST_CASE("rtcp-mux relay: a muxed side's RTP port carries RTCP, relayed to the RTCP port") {
    relay_session r;
    r.set_remote(side::a, mux_alice, mux_alice);  // RFC 5761 5.1.3: RTCP where RTP goes
    r.set_remote(side::b, mux_bob_rtp, mux_bob_rtcp);
    r.set_rtcp_mux(side::a, true);

    mux_buffer rtp(mux_rtp(1, "voice"));
    mux_buffer rtcp(mux_rtcp());
    mux_buffer rtp2(mux_rtp(2, "voice"));
    const rx_packet in[] = {rtp.packet(mux_alice), rtcp.packet(mux_alice), rtp2.packet(mux_alice)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in, 1, out);
    REQUIRE(out.count == 3);
    CHECK(out.packets[0].via == channel::rtp);
    CHECK(*out.packets[0].destination == mux_bob_rtp);
    CHECK(out.packets[1].via == channel::rtcp);
    CHECK(*out.packets[1].destination == mux_bob_rtcp);
    CHECK(out.packets[2].via == channel::rtp);

    // Bob's RTCP, on his RTCP port, leaves from alice's RTP port to her RTP address.
    mux_buffer back(mux_rtcp());
    const rx_packet in_b[] = {back.packet(mux_bob_rtcp)};
    r.relay(side::b, channel::rtcp, in_b, 2, out);
    REQUIRE(out.count == 1);
    CHECK(out.packets[0].via == channel::rtp);
    CHECK(*out.packets[0].destination == mux_alice);

    const auto st = r.stats().sides[0];
    CHECK(st.rtp_rx_packets == 2);
    CHECK(st.rtp_rx_bytes == 2 * 17);
    CHECK(st.rtcp_rx_packets == 1);
    REQUIRE(st.latched_rtp);
    CHECK(*st.latched_rtp == mux_alice);
}

TEST_CASE("rtcp-mux relay: muxed RTCP latches by the RTCP rules, never as RTP") {
    relay_session r;
    r.set_remote(side::a, mux_alice, mux_alice);
    r.set_remote(side::b, mux_bob_rtp, mux_bob_rtcp);
    r.set_rtcp_mux(side::a, true);

    // A stranger's RTCP on the RTP port before any RTP: not from the SDP's
    // host, so dropped; and it latches no RTP (no latched event).
    mux_buffer stray(mux_rtcp());
    const rx_packet in[] = {stray.packet(mux_stranger)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in, 1, out);
    CHECK(out.count == 0);
    CHECK(out.latched == nullptr);
    CHECK(r.stats().sides[0].drops_wrong_source == 1);
    CHECK_FALSE(r.stats().sides[0].latched_rtp);

    // RTP from the stranger latches RTP (the first packet rule), and its
    // RTCP is then accepted from that address.
    mux_buffer rtp(mux_rtp(1, "x"));
    mux_buffer rtcp(mux_rtcp());
    const rx_packet in2[] = {rtp.packet(mux_stranger), rtcp.packet(mux_stranger)};
    r.relay(side::a, channel::rtp, in2, 2, out);
    CHECK(out.count == 2);
    CHECK(out.latched != nullptr);
}

TEST_CASE("rtcp-mux relay: a side not muxed takes RTCP on its RTP port for RTP, as before") {
    relay_session r;
    r.set_remote(side::a, mux_alice, mux_ep("192.0.2.10", 4001));
    r.set_remote(side::b, mux_bob_rtp, mux_bob_rtcp);
    mux_buffer rtcp(mux_rtcp());
    const rx_packet in[] = {rtcp.packet(mux_alice)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in, 1, out);
    REQUIRE(out.count == 1);
    CHECK(out.packets[0].via == channel::rtp);
    CHECK(*out.packets[0].destination == mux_bob_rtp);
    CHECK(r.stats().sides[0].rtp_rx_packets == 1);
    CHECK(r.stats().sides[0].rtcp_rx_packets == 0);

    // Turning mux on and off again restores RTP + 1 towards the side.
    r.set_rtcp_mux(side::a, true);
    r.set_rtcp_mux(side::a, false);
    mux_buffer back(mux_rtcp());
    const rx_packet in_b[] = {back.packet(mux_bob_rtcp)};
    r.relay(side::b, channel::rtcp, in_b, 2, out);
    REQUIRE(out.count == 1);
    CHECK(out.packets[0].via == channel::rtcp);
    CHECK(*out.packets[0].destination == mux_ep("192.0.2.10", 4001));
}

TEST_CASE("rtcp-mux relay: SRTCP on a muxed SRTP side is unprotected and protected as RTCP",
          "[srtp]") {
    // Alice: muxed and SRTP; bob: plain RTP and RTCP on RTP + 1.
    auto alice_tx = must_crypto(0xA1, stream_crypto::direction::protect);
    auto alice_rx = must_crypto(0xB2, stream_crypto::direction::unprotect);
    auto sbc_from_alice = must_crypto(0xA1, stream_crypto::direction::unprotect);
    auto sbc_to_alice = must_crypto(0xB2, stream_crypto::direction::protect);
    relay_session r;
    r.set_remote(side::a, mux_alice, mux_alice);
    r.set_remote(side::b, mux_bob_rtp, mux_bob_rtcp);
    r.set_rtcp_mux(side::a, true);
    r.set_srtp(side::a, &sbc_from_alice, &sbc_to_alice);

    mux_buffer rtp(mux_rtp(1, "voice"));
    mux_buffer rtcp(mux_rtcp("abcd"));
    std::size_t len = rtp.len;
    REQUIRE(alice_tx.protect_rtp(rtp.bytes.data(), len) == outcome::ok);
    rtp.len = static_cast<std::uint32_t>(len);
    len = rtcp.len;
    REQUIRE(alice_tx.protect_rtcp(rtcp.bytes.data(), len) == outcome::ok);
    rtcp.len = static_cast<std::uint32_t>(len);
    // SRTCP keeps the RTCP header in the clear (RFC 3711 3.4), so it is told apart.
    const rx_packet in[] = {rtp.packet(mux_alice), rtcp.packet(mux_alice)};
    tx_batch out;
    r.relay(side::a, channel::rtp, in, 1, out);
    REQUIRE(out.count == 2);
    CHECK(out.packets[1].via == channel::rtcp);
    CHECK(std::string(reinterpret_cast<const char*>(out.packets[1].data), out.packets[1].len) ==
          mux_rtcp("abcd"));
    CHECK(r.stats().sides[0].srtp_auth_failures == 0);

    mux_buffer back(mux_rtcp("efgh"));
    const rx_packet in_b[] = {back.packet(mux_bob_rtcp)};
    r.relay(side::b, channel::rtcp, in_b, 2, out);
    REQUIRE(out.count == 1);
    CHECK(out.packets[0].via == channel::rtp);
    std::size_t back_len = out.packets[0].len;
    REQUIRE(alice_rx.unprotect_rtcp(back.bytes.data(), back_len) == outcome::ok);
    CHECK(std::string(reinterpret_cast<const char*>(back.bytes.data()), back_len) ==
          mux_rtcp("efgh"));
}

TEST_CASE("kernel engine: a muxed side sends and receives RTCP on its RTP port") {
    using namespace std::chrono_literals;
    auto engine = make_kernel_engine(mux_config(41000, 41199));
    const auto r = engine->open_session(3, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];

    udp_peer a, b_rtp, b_rtcp;  // a muxes RTP and RTCP on one socket
    engine->set_remote(3, side::a, a.address(), a.address());
    engine->set_remote(3, side::b, b_rtp.address(), b_rtcp.address());
    engine->set_rtcp_mux(3, side::a, true);

    // a -> b: RTP and RTCP both to a's RTP port; b gets each on its own port.
    const auto rtp_ab = mux_rtp(1, "a to b");
    const auto rtcp_ab = mux_rtcp("a->b");
    a.send_to(pa, rtp_ab);
    a.send_to(pa, rtcp_ab);
    auto got = b_rtp.receive();
    REQUIRE(got);
    CHECK(got->payload == rtp_ab);
    CHECK(got->from.port() == pb);
    got = b_rtcp.receive();
    REQUIRE(got);
    CHECK(got->payload == rtcp_ab);
    CHECK(got->from.port() == pb + 1);

    // b -> a: RTCP from b's RTCP port reaches a's one socket from a's RTP port.
    const auto rtcp_ba = mux_rtcp("b->a");
    b_rtcp.send_to(static_cast<std::uint16_t>(pb + 1), rtcp_ba);
    got = a.receive();
    REQUIRE(got);
    CHECK(got->payload == rtcp_ba);
    CHECK(got->from.port() == pa);
    const auto rtp_ba = mux_rtp(1, "b to a");
    b_rtp.send_to(pb, rtp_ba);
    got = a.receive();
    REQUIRE(got);
    CHECK(got->payload == rtp_ba);
    CHECK(got->from.port() == pa);

    REQUIRE(eventually([&] {
        const auto s = engine->stats(3);
        return s && s->sides[0].tx_packets == 2 && s->sides[1].tx_packets == 2;
    }));
    const auto st = *engine->stats(3);
    CHECK(st.sides[0].rtp_rx_packets == 1);
    CHECK(st.sides[0].rtcp_rx_packets == 1);
    CHECK(st.sides[1].rtcp_rx_packets == 1);
    CHECK(st.sides[0].drops_wrong_source == 0);
}
