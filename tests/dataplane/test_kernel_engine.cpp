// The kernel engine end to end: real UDP sockets on 127.0.0.1, media ports
// from 41000-41999, test peers on ephemeral ports. Waits are bounded (2 s)
// and only guard against hanging; nothing asserts on timing.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "dataplane/api/media_engine.hpp"
#include "tests/dataplane/udp_peer.hpp"

using namespace sbc::dataplane;
using namespace std::chrono_literals;

namespace {

using sbc::test::eventually;
using sbc::test::udp_peer;

std::uint16_t rtcp_of(std::uint16_t rtp) { return static_cast<std::uint16_t>(rtp + 1); }

// True when `port` on 127.0.0.1 can be bound, i.e. no socket holds it.
bool bindable(std::uint16_t port) { return udp_peer("127.0.0.1", port).bound(); }

// Sends `payload` from `from` to the SBC port `to_port` and expects it at
// `to` from the SBC port `via_port`.
void expect_relayed(const udp_peer& from, std::uint16_t to_port, const udp_peer& to,
                    std::uint16_t via_port, const std::string& payload) {
    from.send_to(to_port, payload);
    const auto got = to.receive();
    REQUIRE(got);
    CHECK(got->payload == payload);
    CHECK(got->from.address() == from.address().address());
    CHECK(got->from.port() == via_port);
}

engine_config test_config(std::uint16_t lo, std::uint16_t hi, unsigned workers = 2) {
    engine_config c;
    c.port_min = lo;
    c.port_max = hi;
    c.workers = workers;
    return c;
}

}  // namespace

TEST_CASE("kernel engine relays RTP and RTCP both ways and counts it") {
    auto engine = make_kernel_engine(test_config(41000, 41199));
    const auto free_before = engine->free_port_pairs();
    const auto r = engine->open_session(7, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];
    CHECK(pa % 2 == 0);
    CHECK(pb % 2 == 0);
    CHECK(pa != pb);
    CHECK(pa >= 41000);
    CHECK(pb + 1 <= 41199);
    CHECK(engine->open_sessions() == 1);
    CHECK(engine->free_port_pairs() == free_before - 2);

    udp_peer a_rtp, a_rtcp, b_rtp, b_rtcp;
    engine->set_remote(7, side::a, a_rtp.address(), a_rtcp.address());
    engine->set_remote(7, side::b, b_rtp.address(), b_rtcp.address());

    expect_relayed(a_rtp, pa, b_rtp, pb, "rtp a->b");
    expect_relayed(b_rtp, pb, a_rtp, pa, "rtp b->a");
    expect_relayed(a_rtcp, rtcp_of(pa), b_rtcp, rtcp_of(pb), "rtcp a->b");
    expect_relayed(b_rtcp, rtcp_of(pb), a_rtcp, rtcp_of(pa), "rtcp b->a");

    // tx counters are written after sendmmsg returns, so wait for them.
    REQUIRE(eventually([&] {
        const auto s = engine->stats(7);
        return s && s->sides[0].tx_packets == 2 && s->sides[1].tx_packets == 2;
    }));
    const auto st = *engine->stats(7);
    for (const auto& c : st.sides) {
        CHECK(c.rtp_rx_packets == 1);
        CHECK(c.rtp_rx_bytes == 8);
        CHECK(c.rtcp_rx_packets == 1);
        CHECK(c.tx_bytes == 17);  // "rtp x->y" and "rtcp x->y" towards this side
        CHECK(c.drops_wrong_source == 0);
        CHECK(c.drops_no_destination == 0);
        CHECK(c.drops_tx_error == 0);
        CHECK(c.last_rx_ns > 0);
    }
    CHECK(st.sides[0].latched_rtp == a_rtp.address());
    CHECK(st.sides[1].latched_rtp == b_rtp.address());
    CHECK_FALSE(engine->stats(8));
}

TEST_CASE("kernel engine latches to the real source and drops others") {
    auto engine = make_kernel_engine(test_config(41200, 41399));
    const auto r = engine->open_session(1, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[0];
    const auto pb = r.ports.rtp[1];

    // Side a's SDP names `sdp_addr`, but its media really comes from `nat`.
    udp_peer sdp_addr, sdp_rtcp, nat, b_rtp, b_rtcp;
    engine->set_remote(1, side::a, sdp_addr.address(), sdp_rtcp.address());
    engine->set_remote(1, side::b, b_rtp.address(), b_rtcp.address());

    // Before a's first packet, b's media goes where a's SDP said.
    expect_relayed(b_rtp, pb, sdp_addr, pa, "before latching");
    // a's first packet comes from `nat`: it is relayed and latches side a...
    expect_relayed(nat, pa, b_rtp, pb, "from nat");
    // ...so b's media now goes to `nat`, not to the SDP address.
    expect_relayed(b_rtp, pb, nat, pa, "after latching");
    CHECK_FALSE(sdp_addr.receive(50ms));

    // The SDP address itself is now a wrong source.
    sdp_addr.send_to(pa, "intruder");
    REQUIRE(eventually([&] { return engine->stats(1)->sides[0].drops_wrong_source == 1; }));
    CHECK_FALSE(b_rtp.receive(50ms));
    CHECK(engine->stats(1)->sides[0].latched_rtp == nat.address());

    // A new SDP address (re-INVITE) re-arms latching.
    engine->set_remote(1, side::a, sdp_addr.address(), sdp_rtcp.address());
    expect_relayed(sdp_addr, pa, b_rtp, pb, "relatched");
    expect_relayed(b_rtp, pb, sdp_addr, pa, "to the new source");
    CHECK(engine->stats(1)->sides[0].latched_rtp == sdp_addr.address());
}

TEST_CASE("kernel engine drops media while the destination is unknown") {
    auto engine = make_kernel_engine(test_config(41400, 41499, 1));
    const auto r = engine->open_session(3, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    udp_peer a;
    a.send_to(r.ports.rtp[0], "nowhere to go");
    REQUIRE(eventually([&] { return engine->stats(3)->sides[0].drops_no_destination == 1; }));
    CHECK(engine->stats(3)->sides[0].rtp_rx_packets == 1);
    CHECK(engine->stats(3)->sides[1].tx_packets == 0);
}

TEST_CASE("kernel engine frees the ports of a closed session once the worker lets go") {
    auto engine = make_kernel_engine(test_config(41500, 41599));
    const auto free_before = engine->free_port_pairs();
    const auto r = engine->open_session(11, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    udp_peer a, b;
    engine->set_remote(11, side::a, a.address(), a.address());
    engine->set_remote(11, side::b, b.address(), b.address());
    expect_relayed(a, r.ports.rtp[0], b, r.ports.rtp[1], "one packet");

    engine->close_session(11);
    CHECK(engine->open_sessions() == 0);
    CHECK_FALSE(engine->stats(11));
    REQUIRE(eventually([&] {
        engine->poll();
        return engine->free_port_pairs() == free_before;
    }));
    for (const auto port : r.ports.rtp) {
        CHECK(bindable(port));
        CHECK(bindable(rtcp_of(port)));
    }
    // The id may be used again.
    CHECK(engine->open_session(11, "127.0.0.1", "127.0.0.1").ok);
}

TEST_CASE("kernel engine moves a side to another address when told to, and only then") {
    // A transfer to a peer behind another interface: side b's pair is
    // prepared on 127.0.0.2 while the call goes on through the old one.
    auto engine = make_kernel_engine(test_config(41700, 41799));
    const auto free_before = engine->free_port_pairs();
    const auto r = engine->open_session(12, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];
    udp_peer a, b, target("127.0.0.2");
    REQUIRE(target.bound());
    engine->set_remote(12, side::a, a.address(), a.address());
    engine->set_remote(12, side::b, b.address(), b.address());

    CHECK_FALSE(engine->prepare_side_move(12, side::b, "no address").ok);
    CHECK_FALSE(engine->prepare_side_move(13, side::b, "127.0.0.2").ok);
    const auto moved = engine->prepare_side_move(12, side::b, "127.0.0.2");
    REQUIRE(moved.ok);
    const auto pt = moved.ports.rtp[index(side::b)];
    CHECK(moved.ports.rtp[index(side::a)] == pa);
    CHECK(pt != pa);
    CHECK(pt != pb);
    CHECK(engine->free_port_pairs() == free_before - 3);
    expect_relayed(a, pa, b, pb, "before the commit");

    engine->commit_side_move(12, side::b);
    engine->set_remote(12, side::b, target.address(), target.address());
    a.send_to(pa, "after the commit");
    auto got = target.receive();
    REQUIRE(got);
    CHECK(got->payload == "after the commit");
    CHECK(got->from.to_string() == "127.0.0.2:" + std::to_string(pt));
    // The target's media reaches side a's peer from side a's same port.
    target.send_to(pt, "from the target");
    got = a.receive();
    REQUIRE(got);
    CHECK(got->payload == "from the target");
    CHECK(got->from.to_string() == "127.0.0.1:" + std::to_string(pa));
    // b's old pair stays bound, unused, until the session closes.
    b.send_to(pb, "to the old pair");
    CHECK_FALSE(a.receive(50ms));
    CHECK_FALSE(bindable(pb));
    CHECK(engine->free_port_pairs() == free_before - 3);

    // A prepared move given back frees its pair at once.
    const auto again = engine->prepare_side_move(12, side::a, "127.0.0.2");
    REQUIRE(again.ok);
    CHECK(engine->free_port_pairs() == free_before - 4);
    engine->cancel_side_move(12, side::a);
    CHECK(engine->free_port_pairs() == free_before - 3);
    CHECK(udp_peer("127.0.0.2", again.ports.rtp[index(side::a)]).bound());

    engine->close_session(12);
    REQUIRE(eventually([&] {
        engine->poll();
        return engine->free_port_pairs() == free_before;
    }));
    CHECK(bindable(pb));
    CHECK(udp_peer("127.0.0.2", pt).bound());
}

TEST_CASE("kernel engine skips ports someone else holds and reports exhaustion") {
    // Four pairs: 41600, 41602, 41604, 41606. Someone else holds 41601 (the
    // RTCP port of the first pair), so that pair is skipped.
    auto engine = make_kernel_engine(test_config(41600, 41607, 1));
    const udp_peer squatter("127.0.0.1", 41601);
    REQUIRE(squatter.bound());

    const auto r = engine->open_session(1, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    CHECK(r.ports.rtp[0] == 41602);
    CHECK(r.ports.rtp[1] == 41604);
    CHECK(engine->free_port_pairs() == 2);

    // One bindable pair left (41606): not enough for two sides.
    const auto full = engine->open_session(2, "127.0.0.1", "127.0.0.1");
    CHECK_FALSE(full.ok);
    CHECK(full.error.find("no free media port pair") != std::string::npos);
    CHECK(engine->free_port_pairs() == 2);  // side a's pair went back
    CHECK(bindable(41606));
    CHECK(engine->open_sessions() == 1);
}

TEST_CASE("kernel engine rejects bad addresses and duplicate ids") {
    auto engine = make_kernel_engine(test_config(41700, 41799, 1));
    const auto free_before = engine->free_port_pairs();
    auto r = engine->open_session(1, "not-an-ip", "127.0.0.1");
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("not-an-ip") != std::string::npos);
    // An address the host does not hold binds (IP_FREEBIND, for a standby's
    // virtual address), but a link-local one without an interface does not
    // (EINVAL; or EAFNOSUPPORT without IPv6).
    r = engine->open_session(1, "127.0.0.1", "fe80::1");
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("cannot bind") != std::string::npos);
    CHECK(engine->free_port_pairs() == free_before);

    REQUIRE(engine->open_session(1, "127.0.0.1", "127.0.0.1").ok);
    r = engine->open_session(1, "127.0.0.1", "127.0.0.1");
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("already open") != std::string::npos);
    // Calls about unknown sessions are ignored.
    engine->set_remote(99, side::a, *ip_endpoint::from_string("127.0.0.1", 9), ip_endpoint{});
    engine->close_session(99);
    engine->poll();
    CHECK(engine->open_sessions() == 1);
}

TEST_CASE("kernel engine destructor closes the sockets of open and closing sessions") {
    session_ports open_ports;
    session_ports closing_ports;
    {
        auto engine = make_kernel_engine(test_config(41800, 41899, 2));
        auto r1 = engine->open_session(1, "127.0.0.1", "127.0.0.1");
        auto r2 = engine->open_session(2, "127.0.0.1", "127.0.0.1");
        REQUIRE(r1.ok);
        REQUIRE(r2.ok);
        open_ports = r1.ports;
        closing_ports = r2.ports;
        engine->close_session(2);  // never polled
    }
    for (const auto& ports : {open_ports, closing_ports}) {
        for (const auto port : ports.rtp) {
            CHECK(bindable(port));
            CHECK(bindable(rtcp_of(port)));
        }
    }
}

TEST_CASE("kernel engine shards many sessions over its workers") {
    auto engine = make_kernel_engine(test_config(41900, 41999, 3));
    udp_peer a, b;
    constexpr session_id count = 6;
    for (session_id id = 1; id <= count; ++id) {
        const auto r = engine->open_session(id, "127.0.0.1", "127.0.0.1");
        REQUIRE(r.ok);
        engine->set_remote(id, side::a, a.address(), a.address());
        engine->set_remote(id, side::b, b.address(), b.address());
        expect_relayed(a, r.ports.rtp[0], b, r.ports.rtp[1], "session " + std::to_string(id));
    }
    for (session_id id = 1; id <= count; ++id) {
        engine->close_session(id);
    }
    REQUIRE(eventually([&] {
        engine->poll();
        return engine->free_port_pairs() == 50;
    }));
}

TEST_CASE("kernel engine relays over IPv6 when the host has ::1") {
    if (!udp_peer("::1").bound()) {
        WARN("no IPv6 loopback here; IPv6 relay not tested");
        return;
    }
    auto engine = make_kernel_engine(test_config(41000, 41999, 1));
    const auto r = engine->open_session(1, "::1", "::1");
    REQUIRE(r.ok);
    udp_peer a("::1"), b("::1");
    engine->set_remote(1, side::a, a.address(), a.address());
    engine->set_remote(1, side::b, b.address(), b.address());
    expect_relayed(a, r.ports.rtp[0], b, r.ports.rtp[1], "over v6");
    expect_relayed(b, r.ports.rtp[1], a, r.ports.rtp[0], "back over v6");
}

TEST_CASE("kernel engine reports an armed media timeout as an event, and counts its bursts") {
    auto engine = make_kernel_engine(test_config(41500, 41599, 1));
    const auto free_before = engine->free_port_pairs();
    const auto r = engine->open_session(11, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    udp_peer a_rtp, a_rtcp, b_rtp, b_rtcp;
    engine->set_remote(11, side::a, a_rtp.address(), a_rtcp.address());
    engine->set_remote(11, side::b, b_rtp.address(), b_rtcp.address());
    expect_relayed(a_rtp, r.ports.rtp[0], b_rtp, r.ports.rtp[1], "rtp a->b");
    expect_relayed(b_rtp, r.ports.rtp[1], a_rtp, r.ports.rtp[0], "rtp b->a");

    const auto load = engine->worker_counters();
    REQUIRE(load.size() == 1);
    CHECK(load[0].packets == 2);
    CHECK(load[0].bursts == 2);
    CHECK(load[0].busy_fraction >= 0.0);
    CHECK(load[0].busy_fraction <= 1.0);

    // Disarmed right after arming: nothing fires.
    engine->set_media_timeout(11, 50ms);
    engine->set_media_timeout(11, 0ns);
    engine->set_media_timeout(11, 50ms);
    std::vector<media_event> timeouts;
    REQUIRE(eventually([&] {
        engine->poll();
        for (const auto& ev : engine->take_events()) {
            if (ev.what == media_event::kind::timeout) {
                timeouts.push_back(ev);
            }
        }
        return !timeouts.empty();
    }));
    CHECK(timeouts.size() == 1);
    CHECK(timeouts[0].id == 11);
    // Closing a session with an armed timeout leaves the worker nothing to scan.
    engine->set_media_timeout(11, 50ms);
    engine->close_session(11);
    REQUIRE(eventually([&] {
        engine->poll();
        return engine->open_sessions() == 0 && engine->free_port_pairs() == free_before;
    }));
}

TEST_CASE("kernel engine renumbers payload types towards a side that has a map") {
    auto engine = make_kernel_engine(test_config(41000, 41199, 1));
    const auto r = engine->open_session(21, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];
    udp_peer a_rtp, a_rtcp, b_rtp, b_rtcp;
    engine->set_remote(21, side::a, a_rtp.address(), a_rtcp.address());
    engine->set_remote(21, side::b, b_rtp.address(), b_rtcp.address());
    payload_type_map to_b;
    REQUIRE(to_b.add(96, 101));
    engine->set_payload_types(21, side::b, to_b);

    // RFC 3550 5.1: V=2, then M and PT; the rest passes untouched.
    const std::string event("\x80\xe0\x00\x01tstsssrcevnt", 16);
    a_rtp.send_to(pa, event);
    auto got = b_rtp.receive();
    REQUIRE(got);
    CHECK(static_cast<std::uint8_t>(got->payload[1]) == (0x80 | 101));
    CHECK(got->payload.substr(2) == event.substr(2));
    // No map towards a: B's packets keep their numbers.
    b_rtp.send_to(pb, event);
    got = a_rtp.receive();
    REQUIRE(got);
    CHECK(got->payload == event);
}

TEST_CASE("kernel engine drops a stranger's RTCP on a latched call") {
    auto engine = make_kernel_engine(test_config(41200, 41399, 1));
    const auto r = engine->open_session(22, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];
    udp_peer a_rtp, a_rtcp, b_rtp, b_rtcp;
    udp_peer stranger("127.0.0.2");
    if (!stranger.bound()) {
        WARN("no 127.0.0.2 on this host: not tested");
        return;
    }
    engine->set_remote(22, side::a, a_rtp.address(), a_rtcp.address());
    engine->set_remote(22, side::b, b_rtp.address(), b_rtcp.address());
    expect_relayed(a_rtp, pa, b_rtp, pb, "rtp a->b");
    expect_relayed(b_rtp, pb, a_rtp, pa, "rtp b->a");

    auto sbc_rtcp_a = a_rtp.address();
    sbc_rtcp_a.set_port(rtcp_of(pa));
    stranger.send_to(sbc_rtcp_a, "forged");
    REQUIRE(eventually([&] { return engine->stats(22)->sides[0].drops_wrong_source == 1; }));
    CHECK_FALSE(b_rtcp.receive(50ms));
    // The peer's own RTCP still goes through, to the other peer.
    expect_relayed(a_rtcp, rtcp_of(pa), b_rtcp, rtcp_of(pb), "rtcp a->b");
}
