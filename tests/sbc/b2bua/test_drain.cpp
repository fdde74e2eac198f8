// `sbcctl drain` in the B2BUA (sbc/b2bua/drain.hpp): while a node drains,
// new INVITEs and OPTIONS get 503 with Retry-After (RFC 3261 21.5.4, 20.33)
// and the calls in progress carry on: re-INVITEs, INFO, BYE, transfers by
// REFER and INVITEs whose Replaces names one of their dialogs (RFC 3891) are
// served; once the last call has ended sbcd is told to exit. A
// cancelled drain admits again; the hand-over variant needs a cluster.
// tests/e2e/test_drain.py shows the same between real nodes and a proxy.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::b2bua::drain_state;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;
using sbc::test::sdp_audio;
using sbc::test::up_call;

namespace test_drain {

/// The status and the Retry-After of a refusal; fails the test without one.
unsigned retry_after_of(const sip_t* response) {
    REQUIRE(response != nullptr);
    REQUIRE(response->sip_retry_after != nullptr);
    return static_cast<unsigned>(response->sip_retry_after->af_delta);
}

nlohmann::json start_drain(b2bua_fixture& f, nlohmann::json args = nlohmann::json::object()) {
    args["cmd"] = "drain";
    const auto reply = f.sbc().drain(args);
    INFO(reply.dump());
    REQUIRE(reply.value("ok", false));
    return reply;
}

}  // namespace test_drain

using namespace test_drain;

TEST_CASE("a draining SBC refuses new calls and OPTIONS with 503 and serves the calls up",
          "[b2bua][drain]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const auto reply = start_drain(f, {{"deadline", 120}});
    CHECK(reply["drain"]["calls_left"] == 1);
    CHECK(reply["drain"]["deadline"].is_string());
    CHECK(f.sbc().drain_check() == drain_state::verdict::keep_running);

    // A new call, from either side: 503, come back when the drain is over.
    const auto* refused =
        f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(30010, "carrier")).expect(503);
    const auto retry = retry_after_of(refused);
    CHECK(retry >= 1);
    CHECK(retry <= 120);
    f.pbx.invite(f.pbx_side_uri("1001"), sdp_audio(31010, "pbx")).expect(503);
    // Keep-alives from peers see the node down, on both interfaces.
    retry_after_of(f.carrier.send(SIP_METHOD_OPTIONS, f.carrier_side_uri("sbc")).expect(503));
    retry_after_of(f.pbx.send(SIP_METHOD_OPTIONS, f.pbx_side_uri("sbc")).expect(503));

    // The call up is served: a re-INVITE and an INFO go through.
    auto& reinvite = c.caller->reinvite(sdp_audio(30000, "carrier"));
    f.pbx.expect("INVITE").reply(200, sdp_audio(31000, "pbx"));
    reinvite.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");
    auto& info =
        c.callee().send(SIP_METHOD_INFO, "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay");
    f.carrier.expect("INFO").reply(200);
    info.expect(200);

    // `sbcctl status` shows the drain.
    const auto status = f.sbc().status();
    REQUIRE(status.drain);
    CHECK(status.drain->calls_left == 1);
    CHECK_FALSE(status.drain->deadline.empty());

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    CHECK(f.sbc().drain_check() == drain_state::verdict::drained);

    // One CDR for the call, one for each refused INVITE, saying why.
    const auto lines = f.cdr_lines();
    REQUIRE(lines.size() == 3);
    std::size_t drained = 0;
    for (const auto& line : lines) {
        const auto cdr = nlohmann::json::parse(line);
        drained += cdr["status"] == 503 && cdr["reason"] == "Service Unavailable (draining)";
    }
    CHECK(drained == 2);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a transfer by REFER within a call goes on while the SBC drains",
          "[b2bua][drain][transfer]") {
    sbc::test::topology t;
    t.pbx_trunk.push_back("refer: handle");
    t.target_trunk = true;
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    start_drain(f);

    sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    sbc::test::expect_notify(f.pbx, 100, false);
    auto& inv = f.target.expect("INVITE");
    inv.reply(200, sdp_audio(32000, "target"));
    f.target.expect("ACK");
    sbc::test::expect_notify(f.pbx, 200, true);
    f.pbx.expect("BYE").reply(200);
    f.carrier.expect("INVITE").reply(200, sdp_audio(30000, "carrier"));
    f.carrier.expect("ACK");
    CHECK(f.sbc().call_count() == 1);
    CHECK(f.sbc().drain_check() == drain_state::verdict::keep_running);

    auto& bye = c.caller->bye();
    f.target.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(f.sbc().drain_check() == drain_state::verdict::drained);
}

TEST_CASE("an INVITE whose Replaces names a call of the draining SBC is served; others get 503",
          "[b2bua][drain][replaces]") {
    // RFC 3891: the pbx hands its side of the call to a new dialog (an
    // attended transfer it carried out itself), as test_ms_transfer.cpp's
    // "replaces: terminate" trunk has the SBC accept it.
    sbc::test::topology t;
    t.carrier_trunk.push_back("replaces: terminate");
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    start_drain(f);

    // Replaces naming no dialog of ours: a new call like any other.
    f.pbx
        .invite(f.pbx_side_uri("2000"), sdp_audio(31300, "pbx-new"), "1000",
                "Replaces: nosuchcall;to-tag=a;from-tag=b\r\n")
        .expect(503);

    const auto replaces =
        fmt::format("Replaces: {};to-tag={};from-tag={}\r\n", c.callee().call_id(),
                    c.callee().remote_tag(), c.callee().local_tag());
    auto& n = f.pbx.invite(f.pbx_side_uri("2000"), sdp_audio(31200, "pbx-new"), "1000", replaces);
    f.carrier.expect("INVITE").reply(200, sdp_audio(30000, "carrier"));
    n.expect(200);
    n.ack();
    f.carrier.expect("ACK");
    f.pbx.expect("BYE").reply(200);
    CHECK(f.sbc().call_count() == 1);

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a cancelled drain admits new calls and OPTIONS again", "[b2bua][drain]") {
    b2bua_fixture f;
    start_drain(f);
    CHECK(f.sbc().drain_check() == drain_state::verdict::drained);  // no call to wait for
    f.carrier.send(SIP_METHOD_OPTIONS, f.carrier_side_uri("sbc")).expect(503);

    const auto reply = f.sbc().drain({{"cmd", "drain"}, {"cancel", true}});
    CHECK(reply.value("ok", false));
    CHECK(reply["drain"].is_null());
    CHECK_FALSE(f.sbc().status().drain);
    CHECK(f.sbc().drain_check() == drain_state::verdict::keep_running);
    f.carrier.send(SIP_METHOD_OPTIONS, f.carrier_side_uri("sbc")).expect(200);
    auto c = carrier_calls_pbx(f);
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("a hand-over needs a cluster partner; a bad deadline is refused", "[b2bua][drain]") {
    b2bua_fixture f;
    auto reply = f.sbc().drain({{"cmd", "drain"}, {"hand_over", true}});
    REQUIRE(reply.contains("error"));
    CHECK(reply["error"].get<std::string>().find("needs a cluster partner") != std::string::npos);
    reply = f.sbc().drain({{"cmd", "drain"}, {"deadline", "soon"}});
    CHECK(reply.contains("error"));
    // Neither started a drain.
    CHECK_FALSE(f.sbc().status().drain);
    f.carrier.send(SIP_METHOD_OPTIONS, f.carrier_side_uri("sbc")).expect(200);
}
