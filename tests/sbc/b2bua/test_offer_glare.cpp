// In-process B2BUA tests of offers that meet (RFC 3264 one offer at a time,
// RFC 3261 14.2, RFC 3311 5.2) and of a dialog that ends while an offer is
// out: the races sipp cannot time, each run in milliseconds.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;
using sbc::test::carrier_hangs_up;
using sbc::test::sdp_audio;
using sbc::test::up_call;

TEST_CASE("an UPDATE offer meeting a relayed re-INVITE's offer is glare: 491",
          "[b2bua][offer][glare][race]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    auto& reinvite = c.caller->reinvite(sdp_audio(30002, "carrier"));
    auto& relayed = f.pbx.expect("INVITE");
    // The pbx offers before it saw the SBC's offer: the SBC has an offer out
    // on that dialog, so the pbx's is refused (RFC 3311 5.2) and it retries
    // after a random wait (RFC 3261 14.1).
    auto& update = c.callee().send(SIP_METHOD_UPDATE, sdp_audio(31002, "pbx"), "application/sdp");
    update.expect(491);
    // The first exchange is untouched by the refusal.
    relayed.reply(200, sdp_audio(31004, "pbx"));
    reinvite.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");  // the SBC acknowledges the pbx's 2xx with the carrier's ACK
    // And once it is over, an offer from the pbx goes through.
    auto& later = c.callee().send(SIP_METHOD_UPDATE, sdp_audio(31006, "pbx"), "application/sdp");
    f.carrier.expect("UPDATE").reply(200, sdp_audio(30004, "carrier"));
    later.expect(200);
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a second offer from the peer whose offer is unanswered gets 500 with Retry-After",
          "[b2bua][offer][glare]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    auto& reinvite = c.caller->reinvite(sdp_audio(30002, "carrier"));
    auto& relayed = f.pbx.expect("INVITE");
    auto& update =
        c.caller->send(SIP_METHOD_UPDATE, sdp_audio(30004, "carrier"), "application/sdp");
    const sip_t* refusal = update.expect(500);
    // RFC 3311 5.2: a random value between 0 and 10 seconds.
    REQUIRE(refusal->sip_retry_after != nullptr);
    CHECK(refusal->sip_retry_after->af_delta <= 10);
    relayed.reply(200, sdp_audio(31002, "pbx"));
    reinvite.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
}

TEST_CASE("re-INVITEs crossing on the two legs: the one that reaches the SBC second gets 491",
          "[b2bua][offer][glare][race]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    auto& from_carrier = c.caller->reinvite(sdp_audio(30002, "carrier"));
    auto& relayed = f.pbx.expect("INVITE");
    auto& from_pbx = c.callee().reinvite(sdp_audio(31002, "pbx"));
    from_pbx.expect(491);  // its ACK stays in the transaction (RFC 3261 17.1.1.3)
    relayed.reply(200, sdp_audio(31004, "pbx"));
    from_carrier.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
}

TEST_CASE("a BYE that crosses a relayed re-INVITE ends the call and answers the re-INVITE",
          "[b2bua][offer][bye][race]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    auto& reinvite = c.caller->reinvite(sdp_audio(30002, "carrier"));
    auto& relayed = f.pbx.expect("INVITE");
    // The pbx hangs up instead of answering the offer.
    auto& bye = c.callee().bye();
    bye.expect(200);
    f.carrier.expect("BYE").reply(200);
    // RFC 3261 15.1.2: a request pending in a dialog that ends is answered
    // 487 (Request Terminated).
    reinvite.expect(487);
    // The pbx still owes its INVITE an answer; the SBC takes whatever comes.
    relayed.reply(487);
    REQUIRE(f.calls_gone());
    CHECK(f.sbc().call_count() == 0);
}
