// ICE-lite on the kernel engine, end to end over real UDP sockets on
// 127.0.0.1 (media ports 41000-41199): a STUN client socket sends Binding
// requests to a session's ports and checks what comes back, while RTP on
// the same ports goes on being relayed. Waits are bounded (2 s) and only
// guard against hanging; nothing asserts on timing.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/io/kernel/kernel_engine.hpp"
#include "tests/dataplane/stun_client.hpp"
#include "tests/dataplane/udp_peer.hpp"

using namespace sbc::dataplane;
using namespace std::chrono_literals;

namespace {

using sbc::test::binding_request;
using sbc::test::check_options;
using sbc::test::eventually;
using sbc::test::read_check_response;
using sbc::test::udp_peer;

std::string as_text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

std::vector<std::uint8_t> as_octets(const std::string& s) { return {s.begin(), s.end()}; }

ice_credentials teams_credentials() {
    return {sbc::test::check_local_ufrag, sbc::test::check_password, sbc::test::check_remote_ufrag};
}

engine_config ice_engine_config() {
    engine_config c;
    c.port_min = 41000;
    c.port_max = 41199;
    c.workers = 1;
    return c;
}

// Sends a check from `from` to the SBC's `port` and returns the response
// (which must come from that port), read as the checking agent reads it.
sbc::test::check_response exchange_check(const udp_peer& from, std::uint16_t port,
                                         const check_options& o = {}) {
    from.send_to(port, as_text(binding_request(o)));
    const auto got = from.receive();
    REQUIRE(got);
    CHECK(got->from.port() == port);
    return read_check_response(as_octets(got->payload));
}

}  // namespace

TEST_CASE("kernel engine answers connectivity checks on a side's ports while RTP relays") {
    const auto engine = make_kernel_engine(ice_engine_config());
    const auto r = engine->open_session(21, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];
    udp_peer teams, teams_rtcp, pbx, pbx_rtcp;
    engine->set_remote(21, side::a, teams.address(), teams_rtcp.address());
    engine->set_remote(21, side::b, pbx.address(), pbx_rtcp.address());

    // Without credentials a check is dropped: no answer, nothing relayed,
    // nothing latched.
    teams.send_to(pa, as_text(binding_request()));
    REQUIRE(eventually([&] { return engine->stats(21)->sides[0].stun_dropped == 1; }));
    CHECK_FALSE(teams.receive(50ms));
    CHECK_FALSE(pbx.receive(50ms));
    CHECK_FALSE(engine->stats(21)->sides[0].latched_rtp);

    CHECK_FALSE(engine->set_ice_credentials(22, side::a, teams_credentials()));  // no session
    auto bad = teams_credentials();
    bad.local_pwd = "short";
    CHECK_FALSE(engine->set_ice_credentials(21, side::a, bad));
    REQUIRE(engine->set_ice_credentials(21, side::a, teams_credentials()));

    // A check: the success response comes back from the port it went to,
    // with the checker's address, signed with the SBC's password.
    const auto ok = exchange_check(teams, pa);
    CHECK(ok.type == stun::type::binding_success);
    REQUIRE(ok.mapped);
    CHECK(*ok.mapped == teams.address());
    CHECK(ok.integrity_ok);
    CHECK(ok.fingerprint_ok);

    // RTP on the same ports still relays, both ways.
    teams.send_to(pa, "\x80rtp to the pbx");
    auto got = pbx.receive();
    REQUIRE(got);
    CHECK(got->payload == "\x80rtp to the pbx");
    CHECK(got->from.port() == pb);
    pbx.send_to(pb, "\x80rtp to teams");
    got = teams.receive();
    REQUIRE(got);
    CHECK(got->payload == "\x80rtp to teams");
    CHECK(got->from.port() == pa);

    // Wrong credentials: 401, unsigned, counted.
    check_options wrong;
    wrong.username = "evtj:notThePeer";
    const auto refused = exchange_check(teams, pa, wrong);
    CHECK(refused.type == stun::type::binding_error);
    CHECK(refused.error_code == 401);
    CHECK_FALSE(refused.has_integrity);

    // Component 2: the RTCP port answers its own checks.
    const auto rtcp = exchange_check(teams_rtcp, static_cast<std::uint16_t>(pa + 1));
    CHECK(rtcp.type == stun::type::binding_success);
    REQUIRE(rtcp.mapped);
    CHECK(*rtcp.mapped == teams_rtcp.address());

    const auto st = *engine->stats(21);
    CHECK(st.sides[0].stun_answered == 2);
    CHECK(st.sides[0].stun_rejected == 1);
    CHECK(st.sides[0].stun_dropped == 1);
    // The responses are not media: the side's tx counters hold the RTP only.
    REQUIRE(eventually([&] { return engine->stats(21)->sides[0].tx_packets == 1; }));
    CHECK(st.sides[1].stun_answered == 0);
}

TEST_CASE("kernel engine latches a side where a check nominates, and tells the control plane") {
    const auto engine = make_kernel_engine(ice_engine_config());
    const auto r = engine->open_session(23, "127.0.0.1", "127.0.0.1");
    REQUIRE(r.ok);
    const auto pa = r.ports.rtp[index(side::a)];
    const auto pb = r.ports.rtp[index(side::b)];
    udp_peer teams_host, teams_relay, pbx;
    engine->set_remote(23, side::a, teams_host.address(), teams_host.address());
    engine->set_remote(23, side::b, pbx.address(), pbx.address());
    REQUIRE(engine->set_ice_credentials(23, side::a, teams_credentials()));
    // The same again (a 200 restating its 183's SDP) changes nothing.
    auto& kernel = dynamic_cast<kernel::kernel_engine&>(*engine);
    REQUIRE(engine->set_ice_credentials(23, side::a, teams_credentials()));
    CHECK(kernel.retired_objects() == 0);
    CHECK(kernel.owned_objects() == 1);

    // Checks from both candidates are answered; the relay one is nominated.
    CHECK(exchange_check(teams_host, pa).type == stun::type::binding_success);
    check_options nominate;
    nominate.use_candidate = true;
    nominate.id = 7;
    CHECK(exchange_check(teams_relay, pa, nominate).type == stun::type::binding_success);
    std::optional<media_event> latched;
    REQUIRE(eventually([&] {
        engine->poll();
        for (const auto& ev : engine->take_events()) {
            if (ev.what == media_event::kind::latched && ev.id == 23) {
                latched = ev;
            }
        }
        return latched.has_value();
    }));
    CHECK(latched->s == side::a);
    CHECK(latched->latched == teams_relay.address());
    CHECK(engine->stats(23)->sides[0].latched_rtp == teams_relay.address());

    // The PBX's media goes to the nominated candidate, not the SDP's.
    pbx.send_to(pb, "\x80to the nominated pair");
    const auto got = teams_relay.receive();
    REQUIRE(got);
    CHECK(got->payload == "\x80to the nominated pair");
    CHECK_FALSE(teams_host.receive(50ms));

    // An ICE restart's new credentials: the old password no longer works.
    auto restarted = teams_credentials();
    restarted.local_ufrag = "newU";
    restarted.local_pwd = "aNewPasswordOf22Chars+";
    REQUIRE(engine->set_ice_credentials(23, side::a, restarted));
    CHECK(exchange_check(teams_relay, pa).error_code == 401);
    check_options after;
    after.username = "newU:" + sbc::test::check_remote_ufrag;
    after.password = restarted.local_pwd;
    CHECK(exchange_check(teams_relay, pa, after).type == stun::type::binding_success);

    // Cleared: dropped again, and the responders the swaps replaced are freed.
    REQUIRE(engine->set_ice_credentials(23, side::a, std::nullopt));
    teams_relay.send_to(pa, as_text(binding_request(after)));
    REQUIRE(eventually([&] { return engine->stats(23)->sides[0].stun_dropped == 1; }));
    CHECK_FALSE(teams_relay.receive(50ms));
    REQUIRE(eventually([&] {
        engine->poll();
        return kernel.retired_objects() == 0;
    }));
    CHECK(kernel.owned_objects() == 0);
}
