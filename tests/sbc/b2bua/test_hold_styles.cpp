// Holds with a trunk that states them a=inactive (`hold: inactive`, what the
// microsoft profile sets for Teams and ACS direct routing): here the carrier
// trunk plays Microsoft and the pbx trunk passes holds. Hold and resume
// both ways, by re-INVITE and by UPDATE, with the directions each side
// sees (RFC 3264 6.1, 8.4) and the media timeout, which a held call must
// not run into.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

// Its own namespace: in a unity build this file shares a translation unit
// with the other tier tests.
namespace test_hold_styles {

using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_calls_pbx;
using sbc::test::carrier_hangs_up;
using sbc::test::sdp_audio;
using sbc::test::sdp_line;
using sbc::test::with_direction;

namespace {

sbc::test::topology microsoft_carrier() {
    sbc::test::topology t;
    t.carrier_trunk = {"hold: inactive"};
    return t;
}

bool says(const std::string& sdp, const std::string& dir) {
    return sdp.find("a=" + dir + "\r\n") != std::string::npos;
}

// The b2bua arms the media timeout on its tick: wait until it has armed
// `wanted` (0: disarmed, the call on hold).
bool media_timeout_is(b2bua_fixture& f, std::chrono::nanoseconds wanted) {
    return f.loop.run_until([&] { return f.media.only_session().media_timeout == wanted; });
}

constexpr std::chrono::seconds armed{60};
constexpr std::chrono::nanoseconds disarmed{0};

}  // namespace

TEST_CASE("microsoft holds a=inactive by re-INVITE: the pbx is offered a=sendonly",
          "[b2bua][call][reinvite][hold]") {
    b2bua_fixture f(microsoft_carrier());
    auto c = carrier_calls_pbx(f);
    REQUIRE(media_timeout_is(f, armed));

    auto& hold = c.caller->reinvite(with_direction(sdp_audio(30000, "carrier"), "inactive"));
    auto& held = f.pbx.expect("INVITE");
    CHECK(says(held.body(), "sendonly"));
    CHECK(sdp_line(held.body(), "c=") == "c=IN IP4 127.0.0.1");
    held.reply(200, with_direction(sdp_audio(31000, "pbx"), "recvonly"));
    // RFC 3264 6.1: an a=inactive offer is answered a=inactive.
    const auto answer = body_of(hold.expect(200));
    CHECK(says(answer, "inactive"));
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");
    CHECK(media_timeout_is(f, disarmed));  // a held call may be silent

    auto& resume = c.caller->reinvite(sdp_audio(30000, "carrier"));
    auto& resumed = f.pbx.expect("INVITE");
    CHECK(says(resumed.body(), "sendrecv"));
    resumed.reply(200, sdp_audio(31000, "pbx"));
    CHECK(says(body_of(resume.expect(200)), "sendrecv"));
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");
    CHECK(media_timeout_is(f, armed));
    const auto& session = f.media.only_session();
    REQUIRE(session.of(sbc::dataplane::side::a).rtp);
    CHECK(session.of(sbc::dataplane::side::a).rtp->port() == 30000);
    CHECK(session.of(sbc::dataplane::side::b).rtp->port() == 31000);

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("the pbx holds a=sendonly by re-INVITE: microsoft is offered a=inactive",
          "[b2bua][call][reinvite][hold]") {
    b2bua_fixture f(microsoft_carrier());
    auto c = carrier_calls_pbx(f);

    auto& hold = c.callee().reinvite(with_direction(sdp_audio(31000, "pbx"), "sendonly"));
    auto& held = f.carrier.expect("INVITE");
    CHECK(says(held.body(), "inactive"));
    CHECK(sdp_line(held.body(), "c=") == "c=IN IP4 127.0.0.1");  // the SBC's, never 0.0.0.0
    held.reply(200, with_direction(sdp_audio(30000, "carrier"), "inactive"));
    // Microsoft's a=inactive answered the SBC's a=inactive offer; the pbx's
    // hold gets the answer RFC 3264 8.4 gives one.
    CHECK(says(body_of(hold.expect(200)), "recvonly"));
    c.callee().ack_reinvite();
    f.carrier.expect("ACK");
    CHECK(media_timeout_is(f, disarmed));

    auto& resume = c.callee().reinvite(sdp_audio(31000, "pbx"));
    auto& resumed = f.carrier.expect("INVITE");
    CHECK(says(resumed.body(), "sendrecv"));
    resumed.reply(200, sdp_audio(30000, "carrier"));
    CHECK(says(body_of(resume.expect(200)), "sendrecv"));
    c.callee().ack_reinvite();
    f.carrier.expect("ACK");
    CHECK(media_timeout_is(f, armed));

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("an old-style hold (c=0.0.0.0) from the pbx reaches microsoft a=inactive",
          "[b2bua][call][reinvite][hold]") {
    b2bua_fixture f(microsoft_carrier());
    auto c = carrier_calls_pbx(f);
    auto old_style = sdp_audio(31000, "pbx");
    old_style.replace(old_style.find("c=IN IP4 127.0.0.1"), 18, "c=IN IP4 0.0.0.0");
    auto& hold = c.callee().reinvite(old_style);
    auto& held = f.carrier.expect("INVITE");
    CHECK(says(held.body(), "inactive"));
    CHECK(held.body().find("0.0.0.0") == std::string::npos);
    held.reply(200, with_direction(sdp_audio(30000, "carrier"), "inactive"));
    CHECK(says(body_of(hold.expect(200)), "recvonly"));
    c.callee().ack_reinvite();
    f.carrier.expect("ACK");
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("holds by UPDATE are converted as re-INVITEs' are", "[b2bua][call][update][hold]") {
    b2bua_fixture f(microsoft_carrier());
    auto c = carrier_calls_pbx(f);

    // Microsoft holds a=inactive (RFC 3311): the pbx is offered a=sendonly.
    auto& hold =
        c.caller->send(SIP_METHOD_UPDATE, with_direction(sdp_audio(30000, "carrier"), "inactive"),
                       "application/sdp");
    auto& held = f.pbx.expect("UPDATE");
    CHECK(says(held.body(), "sendonly"));
    held.reply(200, with_direction(sdp_audio(31000, "pbx"), "recvonly"));
    CHECK(says(body_of(hold.expect(200)), "inactive"));
    CHECK(media_timeout_is(f, disarmed));

    auto& resume =
        c.caller->send(SIP_METHOD_UPDATE, sdp_audio(30000, "carrier"), "application/sdp");
    auto& resumed = f.pbx.expect("UPDATE");
    CHECK(says(resumed.body(), "sendrecv"));
    resumed.reply(200, sdp_audio(31000, "pbx"));
    CHECK(says(body_of(resume.expect(200)), "sendrecv"));
    CHECK(media_timeout_is(f, armed));

    // The pbx holds a=sendonly: Microsoft is offered a=inactive.
    auto& pbx_hold = c.callee().send(
        SIP_METHOD_UPDATE, with_direction(sdp_audio(31000, "pbx"), "sendonly"), "application/sdp");
    auto& to_carrier = f.carrier.expect("UPDATE");
    CHECK(says(to_carrier.body(), "inactive"));
    to_carrier.reply(200, with_direction(sdp_audio(30000, "carrier"), "inactive"));
    CHECK(says(body_of(pbx_hold.expect(200)), "recvonly"));

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

}  // namespace test_hold_styles
