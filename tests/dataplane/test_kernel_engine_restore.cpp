// The kernel engine opening a session on given ports (open_session_at), as a
// standby node does when it rebuilds the calls of the node it takes over
// from: the pairs come out of the pool, relay like any others, go back to it
// on close, and a pair that cannot be had leaves nothing open. Sockets bind
// with IP_FREEBIND, so an address the host does not hold yet (a virtual
// address keepalived has not moved here) binds too. Real UDP sockets on
// 127.0.0.1, media ports 41000-41099; nothing asserts on timing.
#include <catch2/catch.hpp>

#include <string>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/io/kernel/udp_socket.hpp"
#include "tests/dataplane/udp_peer.hpp"

using namespace sbc::dataplane;

namespace {

using sbc::test::eventually;
using sbc::test::udp_peer;

engine_config restore_config(unsigned workers = 2) {
    engine_config c;
    c.port_min = 41000;
    c.port_max = 41099;
    c.workers = workers;
    return c;
}

// Sends `payload` from `from` to the SBC port `to_port` and expects it at
// `to`, from the SBC port `via_port`.
void expect_relayed_at(const udp_peer& from, std::uint16_t to_port, const udp_peer& to,
                       std::uint16_t via_port, const std::string& payload) {
    from.send_to(to_port, payload);
    const auto got = to.receive();
    REQUIRE(got);
    CHECK(got->payload == payload);
    CHECK(got->from.port() == via_port);
}

}  // namespace

TEST_CASE("kernel engine opens a session on the RTP ports it is given and relays on them") {
    auto engine = make_kernel_engine(restore_config());
    const auto free_before = engine->free_port_pairs();
    const auto r = engine->open_session_at(3, "127.0.0.1", 41040, "127.0.0.1", 41012);
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.ports.rtp == std::array<std::uint16_t, 2>{41040, 41012});
    CHECK(engine->free_port_pairs() == free_before - 2);
    CHECK(engine->open_sessions() == 1);

    udp_peer a_rtp, a_rtcp, b_rtp, b_rtcp;
    engine->set_remote(3, side::a, a_rtp.address(), a_rtcp.address());
    engine->set_remote(3, side::b, b_rtp.address(), b_rtcp.address());
    expect_relayed_at(a_rtp, 41040, b_rtp, 41012, "rtp a->b");
    expect_relayed_at(b_rtp, 41012, a_rtp, 41040, "rtp b->a");
    expect_relayed_at(a_rtcp, 41041, b_rtcp, 41013, "rtcp a->b");
    expect_relayed_at(b_rtcp, 41013, a_rtcp, 41041, "rtcp b->a");

    // Sessions opened later never get the reserved pairs.
    for (session_id id = 10; id < 20; ++id) {
        const auto other = engine->open_session(id, "127.0.0.1", "127.0.0.1");
        REQUIRE(other.ok);
        for (const auto port : other.ports.rtp) {
            CHECK(port != 41040);
            CHECK(port != 41012);
        }
    }
    for (session_id id = 10; id < 20; ++id) {
        engine->close_session(id);
    }
    engine->close_session(3);
    REQUIRE(eventually([&] {
        engine->poll();
        return engine->free_port_pairs() == free_before;
    }));
    // Back in the pool, and unbound: the same pairs can be had again.
    const auto again = engine->open_session_at(4, "127.0.0.1", 41040, "127.0.0.1", 41012);
    INFO(again.error);
    CHECK(again.ok);
}

TEST_CASE("kernel engine refuses ports in use, out of range or odd, and keeps nothing") {
    auto engine = make_kernel_engine(restore_config(1));
    const auto first = engine->open_session_at(1, "127.0.0.1", 41020, "127.0.0.1", 41022);
    REQUIRE(first.ok);
    const auto free_before = engine->free_port_pairs();

    SECTION("a port another session holds, on side b: side a's pair is given back") {
        const auto r = engine->open_session_at(2, "127.0.0.1", 41030, "127.0.0.1", 41022);
        CHECK_FALSE(r.ok);
        CHECK(r.error == "media port 127.0.0.1:41022 is in use");
    }
    SECTION("the same pair for both sides (the pool is one for every address)") {
        const auto r = engine->open_session_at(2, "127.0.0.1", 41030, "127.0.0.2", 41030);
        CHECK_FALSE(r.ok);
        CHECK(r.error == "media port 127.0.0.2:41030 is in use");
    }
    SECTION("ports outside the range, odd, or 0") {
        for (const std::uint16_t port : {40998, 41100, 41031, 0}) {
            const auto r = engine->open_session_at(2, "127.0.0.1", port, "127.0.0.1", 41030);
            CHECK_FALSE(r.ok);
            CHECK_THAT(r.error, Catch::Contains(std::to_string(port)));
            CHECK_THAT(r.error, Catch::Contains("no RTP port of the range"));
        }
    }
    SECTION("a port bound by someone else") {
        udp_peer squatter("127.0.0.1", 41031);  // the RTCP port of 41030
        REQUIRE(squatter.bound());
        const auto r = engine->open_session_at(2, "127.0.0.1", 41030, "127.0.0.1", 41032);
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.error, Catch::StartsWith("cannot bind media port 127.0.0.1:41031"));
    }
    SECTION("a session id already open") {
        const auto r = engine->open_session_at(1, "127.0.0.1", 41030, "127.0.0.1", 41032);
        CHECK_FALSE(r.ok);
        CHECK(r.error == "media session 1 is already open");
    }
    SECTION("a bad address") {
        const auto r = engine->open_session_at(2, "127.0.0.1", 41030, "pbx", 41032);
        CHECK_FALSE(r.ok);
        CHECK(r.error == "bad media address 'pbx'");
    }
    CHECK(engine->open_sessions() == 1);
    CHECK(engine->free_port_pairs() == free_before);
    // Nothing stayed bound: the pairs the failures tried can be had.
    const auto r = engine->open_session_at(3, "127.0.0.1", 41030, "127.0.0.1", 41032);
    INFO(r.error);
    CHECK(r.ok);
}

TEST_CASE("kernel sockets bind an address no interface holds (IP_FREEBIND)") {
    // 198.51.100.7 (RFC 5737, TEST-NET-2) is on no interface here: a
    // standby binds the virtual address before keepalived moves it.
    const auto v4 = ip_endpoint::from_string("198.51.100.7", 41090);
    REQUIRE(v4);
    const auto bound = kernel::bind_udp(*v4);
    CHECK(bound.error == 0);
    CHECK(bound.fd);

    auto engine = make_kernel_engine(restore_config(1));
    const auto r = engine->open_session_at(1, "198.51.100.7", 41060, "198.51.100.8", 41062);
    INFO(r.error);
    CHECK(r.ok);

    // And 2001:db8::7 (RFC 3849) with IPV6_FREEBIND, where the host has IPv6.
    if (udp_peer("::1").bound()) {
        const auto v6 = ip_endpoint::from_string("2001:db8::7", 41092);
        REQUIRE(v6);
        const auto bound6 = kernel::bind_udp(*v6);
        CHECK(bound6.error == 0);
        CHECK(bound6.fd);
    }
}
