// Transfers by REFER that the SBC carries out itself (refer: handle, RFC
// 3515; RFC 5589 for the call flows): blind and attended (RFC 3891
// Replaces in the Refer-To), as tests/e2e/test_dialog.py
// blind_transfer_by_refer_handled and attended_transfer_by_refer_handled
// show them on the wire, plus a target that refuses and a referrer that
// leaves early. The carrier calls the pbx; the pbx transfers the carrier to
// 3000, which routes to the trunk "target".
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using namespace std::chrono_literals;
using dataplane::side;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_calls_pbx;
using sbc::test::expect_notify;
using sbc::test::media_port;
using sbc::test::request_uri;
using sbc::test::sdp_audio;
using sbc::test::sdp_line;
using sbc::test::sdp_origin;
using sbc::test::up_call;

namespace {

constexpr std::uint16_t target_rtp = 32000;

sbc::test::topology transfer_topology() {
    sbc::test::topology t;
    t.pbx_trunk.push_back("refer: handle");
    t.target_trunk = true;
    return t;
}

bool allows(const sip_t* sip, const char* method) {
    return sip_is_allowed(sip->sip_allow, sip_method_code(method), method) != 0;
}

// The carrier learns of the transfer from the SBC's re-INVITE alone: the
// SBC's same media address and port, the next version of its o= line
// (RFC 3264 8). It answers; the SBC acknowledges.
void carrier_reinvited_after_transfer(b2bua_fixture& f, up_call& c) {
    auto& reinvite = f.carrier.expect("INVITE");
    CHECK(&reinvite.dialog() == c.caller);
    const auto answer = body_of(c.ok);
    CHECK(sdp_line(reinvite.body(), "c=") == sdp_line(answer, "c="));
    CHECK(sdp_line(reinvite.body(), "m=") == sdp_line(answer, "m="));
    CHECK(sdp_origin(reinvite.body()).id == sdp_origin(answer).id);
    CHECK(sdp_origin(reinvite.body()).version == sdp_origin(answer).version + 1);
    reinvite.reply(200, sdp_audio(30000, "carrier"));
    f.carrier.expect("ACK");
}

// The carrier hangs up the transferred call: its BYE reaches the target.
void carrier_hangs_up_on_target(b2bua_fixture& f, up_call& c,
                                sbc::test::peer_dialog& target_dialog) {
    auto& bye = c.caller->bye();
    auto& relayed = f.target.expect("BYE");
    CHECK(&relayed.dialog() == &target_dialog);
    relayed.reply(200);
    bye.expect(200);
}

}  // namespace

TEST_CASE("a blind transfer by REFER: the SBC calls the target and BYEs the referrer out",
          "[b2bua][transfer][refer]") {
    b2bua_fixture f(transfer_topology());
    auto c = carrier_calls_pbx(f);
    // Allow names REFER only towards the trunk whose REFERs the SBC handles.
    CHECK(allows(c.invite->sip(), "REFER"));
    CHECK_FALSE(allows(c.ok, "REFER"));

    auto& refer = sbc::test::refer(c.callee(), "<sip:3000@sbc.example>");
    refer.expect(202);
    expect_notify(f.pbx, 100, false);

    // The target is called through the routes, from the party that stays,
    // with the SDP the pbx was offered: the referrer's side of the media
    // session, on the same interface, goes to the target unchanged.
    auto& inv = f.target.expect("INVITE");
    CHECK(request_uri(inv).rfind("sip:3000@" + f.target.host_port(), 0) == 0);
    CHECK(std::string(inv.sip()->sip_from->a_url->url_user) == "caller");
    CHECK_FALSE(allows(inv.sip(), "REFER"));
    CHECK(sdp_line(inv.body(), "c=") == sdp_line(c.invite->body(), "c="));
    CHECK(media_port(inv.body()) == media_port(c.invite->body()));
    inv.reply(180);
    inv.reply(200, sdp_audio(target_rtp, "target"));
    f.target.expect("ACK");

    // RFC 3515 2.4.5: the referrer hears the outcome, then leaves.
    expect_notify(f.pbx, 200, true);
    auto& bye = f.pbx.expect("BYE");
    CHECK(&bye.dialog() == &c.callee());
    bye.reply(200);
    carrier_reinvited_after_transfer(f, c);

    // The pbx's side of the media session now sends to the target.
    const auto& session = f.media.only_session();
    REQUIRE(session.of(side::b).rtp.has_value());
    CHECK(session.of(side::b).rtp->port() == target_rtp);
    CHECK(f.sbc().call_count() == 1);
    CHECK(f.sbc().calls().front().state == "established");

    carrier_hangs_up_on_target(f, c, inv.dialog());
    REQUIRE(f.calls_gone());
    CHECK(f.media.only_session().closed);
    const auto cdr = f.only_cdr();
    CHECK(cdr["from_trunk"] == "carrier");
    CHECK(cdr["to_trunk"] == "target");
    CHECK(cdr["status"] == 200);
    CHECK(cdr["disconnected_by"] == "caller");
    // The carrier never saw the REFER nor its NOTIFYs: it took every
    // request it got.
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    f.target.expect_nothing_more();
}

TEST_CASE("a transfer target that refuses: the referrer hears it and the call stays",
          "[b2bua][transfer][refer]") {
    b2bua_fixture f(transfer_topology());
    auto c = carrier_calls_pbx(f);
    sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    expect_notify(f.pbx, 100, false);
    auto& inv = f.target.expect("INVITE");
    inv.reply(180);
    inv.reply(486);  // nta acknowledges it (RFC 3261 17.1.1.3)

    expect_notify(f.pbx, 486, true);
    // Nothing moved: no BYE to the referrer, no re-INVITE to the carrier,
    // and the pbx's side of the media still sends to the pbx.
    f.pbx.expect_nothing_more();
    f.carrier.expect_nothing_more();
    CHECK(f.media.only_session().of(side::b).rtp->port() == 31000);
    CHECK(f.sbc().calls().front().state == "established");

    sbc::test::carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    CHECK(f.only_cdr()["to_trunk"] == "pbx");
    f.target.expect_nothing_more();
}

TEST_CASE("a referrer that hangs up once its REFER is accepted: the transfer goes on",
          "[b2bua][transfer][refer]") {
    // RFC 5589 6.1: the transferor may end its dialog right after the 202.
    b2bua_fixture f(transfer_topology());
    auto c = carrier_calls_pbx(f);
    sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    expect_notify(f.pbx, 100, false);
    c.callee().bye().expect(200);
    auto& inv = f.target.expect("INVITE");
    inv.reply(200, sdp_audio(target_rtp, "target"));
    f.target.expect("ACK");
    // No NOTIFY and no BYE for a referrer that left.
    carrier_reinvited_after_transfer(f, c);
    f.pbx.expect_nothing_more();
    carrier_hangs_up_on_target(f, c, inv.dialog());
    REQUIRE(f.calls_gone());
}

TEST_CASE("a REFER from a trunk whose transfers the SBC does not handle gets 405",
          "[b2bua][transfer][refer]") {
    sbc::test::topology t;
    t.target_trunk = true;  // refer: reject, the default, on the pbx trunk
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    const sip_t* refusal = sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(405);
    CHECK(refusal->sip_allow != nullptr);
    CHECK_FALSE(allows(refusal, "REFER"));
    f.target.expect_nothing_more();
    f.carrier.expect_nothing_more();
    sbc::test::carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("an attended transfer: the REFER's Replaces joins the consulted party to the caller",
          "[b2bua][transfer][refer][replaces]") {
    b2bua_fixture f(transfer_topology());
    auto c = carrier_calls_pbx(f);

    // The pbx consults 3000 first (call 2).
    auto& consult = f.pbx.invite(f.pbx_side_uri("3000"), sdp_audio(31100, "pbx"), "1000");
    auto& first = f.target.expect("INVITE");
    first.reply(200, sdp_audio(target_rtp, "target"));
    consult.expect(200);
    consult.ack();
    f.target.expect("ACK");
    REQUIRE(f.sbc().call_count() == 2);

    // Then transfers call 1 to it (RFC 5589 7): Replaces names the
    // consultation dialog as the SBC holds it (RFC 3891 3: to-tag the SBC's).
    const auto replaces = fmt::format("{};to-tag={};from-tag={}", consult.call_id(),
                                      consult.remote_tag(), consult.local_tag());
    auto& refer = sbc::test::refer(c.callee(), fmt::format("<sip:3000@sbc.example?Replaces={}>",
                                                           sbc::test::uri_escape(replaces)));
    refer.expect(202);
    expect_notify(f.pbx, 100, false);
    // The consultation call ends with a BYE to the pbx on that dialog.
    auto& consult_bye = f.pbx.expect("BYE");
    CHECK(&consult_bye.dialog() == &consult);
    consult_bye.reply(200);

    // The consulted party is re-INVITEd in its own dialog, towards call 1's
    // media: its o= id, the next version, the port the pbx had.
    auto& again = f.target.expect("INVITE");
    CHECK(&again.dialog() == &first.dialog());
    CHECK(sdp_origin(again.body()).id == sdp_origin(first.body()).id);
    CHECK(sdp_origin(again.body()).version == sdp_origin(first.body()).version + 1);
    CHECK(sdp_line(again.body(), "c=") == sdp_line(c.invite->body(), "c="));
    CHECK(media_port(again.body()) == media_port(c.invite->body()));
    again.reply(200, sdp_audio(target_rtp, "target"));
    f.target.expect("ACK");

    expect_notify(f.pbx, 200, true);
    auto& bye = f.pbx.expect("BYE");
    CHECK(&bye.dialog() == &c.callee());
    bye.reply(200);
    carrier_reinvited_after_transfer(f, c);
    // Call 2 is over; call 1 goes on with the consulted party.
    REQUIRE(f.loop.run_until([&] { return f.sbc().call_count() == 1; }));

    carrier_hangs_up_on_target(f, c, first.dialog());
    REQUIRE(f.calls_gone());
    const auto lines = f.cdr_lines();
    REQUIRE(lines.size() == 2);
    auto call2 = nlohmann::json::parse(lines[0]);
    auto call1 = nlohmann::json::parse(lines[1]);
    if (call2["from_trunk"] != "pbx") {
        std::swap(call1, call2);
    }
    CHECK(call2["to_trunk"] == "target");
    CHECK(call2["disconnected_by"] == "sbc");
    CHECK(call2["disconnect_reason"] == "replaced by an attended transfer");
    CHECK(call1["from_trunk"] == "carrier");
    CHECK(call1["to_trunk"] == "target");
    CHECK(call1["disconnected_by"] == "caller");
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    f.target.expect_nothing_more();
}

// RFC 4028 7.2: the target's 2xx settles the new dialog's session timer,
// here with the SBC as refresher (refresher=uac, Require: timer).
TEST_CASE("a transfer target that has the SBC refresh its session gets refreshes",
          "[b2bua][transfer][refer][session-timer]") {
    b2bua_fixture f(transfer_topology());
    auto c = carrier_calls_pbx(f);
    sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    expect_notify(f.pbx, 100, false);
    auto& inv = f.target.expect("INVITE");
    CHECK(sip_has_feature(inv.sip()->sip_supported, "timer"));
    inv.reply(200, sdp_audio(target_rtp, "target"),
              "Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n");
    f.target.expect("ACK");
    expect_notify(f.pbx, 200, true);
    f.pbx.expect("BYE").reply(200);
    carrier_reinvited_after_transfer(f, c);

    f.call_of(*c.caller).check_session_timers(std::chrono::steady_clock::now() + 46s);
    auto& refresh = f.target.expect("UPDATE");
    CHECK(&refresh.dialog() == &inv.dialog());
    refresh.reply(200);
    carrier_hangs_up_on_target(f, c, inv.dialog());
    REQUIRE(f.calls_gone());
}

// RFC 3261 22.2: a blind transfer's target on a trunk with credentials
// challenges the SBC's INVITE; the SBC sends it again, in the same dialog
// being made, with credentials for the target's Request-URI.
TEST_CASE("a blind transfer's target that challenges the INVITE gets credentials",
          "[b2bua][transfer][refer][digest]") {
    auto t = transfer_topology();
    t.target_trunk_lines.push_back("auth: {username: acme, password: s3cret}");
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    expect_notify(f.pbx, 100, false);
    auto& challenged = f.target.expect("INVITE");
    challenged.reply(407, {}, sbc::test::digest_challenge(407, "bm9uY2UtMg"));
    auto& retry = f.target.expect("INVITE");
    CHECK(std::string(retry.sip()->sip_call_id->i_id) == challenged.sip()->sip_call_id->i_id);
    CHECK(retry.sip()->sip_cseq->cs_seq == challenged.sip()->sip_cseq->cs_seq + 1);
    sbc::test::check_credentials(retry, 407, "bm9uY2UtMg", "acme", "s3cret");
    retry.reply(200, sdp_audio(target_rtp, "target"));
    f.target.expect("ACK");
    expect_notify(f.pbx, 200, true);
    f.pbx.expect("BYE").reply(200);
    carrier_reinvited_after_transfer(f, c);
    carrier_hangs_up_on_target(f, c, retry.dialog());
    REQUIRE(f.calls_gone());
}
