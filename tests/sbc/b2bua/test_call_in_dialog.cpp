// In-process B2BUA tests of requests inside a call and of refusals before
// one exists: INFO and MESSAGE relayed in dialog, a stranger refused, and
// the CANCEL that crosses the callee's 200 (a race sipp cannot time).
#include <catch2/catch.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;
using sbc::test::carrier_hangs_up;
using sbc::test::sdp_audio;
using sbc::test::up_call;

TEST_CASE("INFO and MESSAGE are relayed inside the call, both ways", "[b2bua][call][relay]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const std::string dtmf = "Signal=5\r\nDuration=160\r\n";

    auto& info = c.caller->send(SIP_METHOD_INFO, dtmf, "application/dtmf-relay");
    auto& relayed = f.pbx.expect("INFO");
    CHECK(&relayed.dialog() == &c.invite->dialog());
    CHECK(relayed.body() == dtmf);
    relayed.reply(200);
    info.expect(200);

    auto& message = c.invite->dialog().send(SIP_METHOD_MESSAGE, "hello", "text/plain");
    auto& got = f.carrier.expect("MESSAGE");
    CHECK(&got.dialog() == c.caller);
    CHECK(got.body() == "hello");
    got.reply(200);
    message.expect(200);

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a request from a source that is no trunk's peer is refused 403", "[b2bua][acl]") {
    // tests/e2e/test_sbc.py non_peer_403: the ACL compares addresses only.
    b2bua_fixture f;
    sbc::test::scripted_peer stranger(f.loop, "stranger", "127.0.0.9");
    stranger.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "stranger")).expect(403);
    f.pbx.expect_nothing_more();
    CHECK(f.sbc().call_count() == 0);
}

TEST_CASE("a CANCEL that crosses the callee's 200 ends the callee's dialog with ACK and BYE",
          "[b2bua][call][cancel][race]") {
    b2bua_fixture f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    call.expect(180);
    // The pbx answers 200 although the CANCEL reached it: on the wire, its
    // 200 and the SBC's CANCEL crossed (RFC 3261 9.2: the CANCEL then has
    // no effect on the INVITE). Letting the CANCEL arrive first makes the
    // order at the SBC deterministic.
    REQUIRE(call.cancel());
    f.pbx.expect("CANCEL");
    inv.reply(200, sdp_audio(31000, "pbx"));
    // The carrier's INVITE ends cancelled (RFC 3261 9.2): the SBC answered
    // its CANCEL, so the caller never gets a dialog.
    call.expect(487);
    // The pbx's dialog was confirmed by its 200: the SBC must ACK it and
    // then end it (RFC 3261 15: BYE on a confirmed dialog).
    f.pbx.expect("ACK");
    f.pbx.expect("BYE").reply(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}
