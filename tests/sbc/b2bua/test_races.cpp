// Races sipp cannot time, each made deterministic by the order in which the
// scripted peers answer and by driving the call's periodic checks with a
// time of the test's choosing: a REFER while a relayed re-INVITE is being
// challenged, a session refresh falling while a transfer target rings, and
// the failover timer firing while the first peer's 180 is on its way.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <chrono>
#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using namespace std::chrono_literals;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;
using sbc::test::expect_notify;
using sbc::test::incoming_request;
using sbc::test::sdp_audio;
using sbc::test::up_call;

// Its own namespace: the tier's files are compiled together in a unity
// build, and test_transfer.cpp and test_session_timer.cpp have helpers of
// these names.
namespace test_races {

namespace {

constexpr const char* to_3000 = "<sip:3000@sbc.example>";

std::chrono::steady_clock::time_point in(std::chrono::seconds s) {
    return std::chrono::steady_clock::now() + s;
}

sbc::test::topology transfer_topology() {
    sbc::test::topology t;
    t.pbx_trunk.push_back("refer: handle");
    t.target_trunk = true;
    return t;
}

// The pbx's REFER to 3000 is accepted and the target is called; returns
// the target's INVITE, unanswered.
incoming_request& transfer_to_target(b2bua_fixture& f, up_call& c) {
    sbc::test::refer(c.callee(), to_3000).expect(202);
    expect_notify(f.pbx, 100, false);
    return f.target.expect("INVITE");
}

// The target answers; the pbx hears the outcome and is sent away.
void target_answers(b2bua_fixture& f, up_call& c, incoming_request& inv) {
    inv.reply(200, sdp_audio(32000, "target"));
    f.target.expect("ACK");
    expect_notify(f.pbx, 200, true);
    auto& bye = f.pbx.expect("BYE");
    CHECK(&bye.dialog() == &c.callee());
    bye.reply(200);
}

// The carrier answers the SBC's re-INVITE that follows a transfer.
void carrier_takes_reinvite(b2bua_fixture& f, up_call& c) {
    auto& reinvite = f.carrier.expect("INVITE");
    CHECK(&reinvite.dialog() == c.caller);
    reinvite.reply(200, sdp_audio(30000, "carrier"));
    f.carrier.expect("ACK");
}

// The transferred call is up: the carrier's BYE reaches the target.
void carrier_hangs_up_on_target(b2bua_fixture& f, up_call& c, incoming_request& inv) {
    f.carrier.expect_nothing_more();  // no BYE: the call went on
    auto& bye = c.caller->bye();
    auto& relayed = f.target.expect("BYE");
    CHECK(&relayed.dialog() == &inv.dialog());
    relayed.reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    f.target.expect_nothing_more();
}

}  // namespace

TEST_CASE("a REFER while the SBC answers a challenge to a relayed re-INVITE waits for it",
          "[b2bua][race][transfer][digest]") {
    auto t = transfer_topology();
    t.pbx_trunk.push_back("auth: {username: acme, password: s3cret}");
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);

    auto& reinvite = c.caller->reinvite(sdp_audio(30002, "carrier"));
    auto& challenged = f.pbx.expect("INVITE");
    challenged.reply(401, {}, sbc::test::digest_challenge(401, "bm9uY2UtMQ"));
    // RFC 3261 22.2: the same re-INVITE, on the dialog, with credentials
    // whose digest-uri is the dialog's remote target.
    auto& retry = f.pbx.expect("INVITE");
    CHECK(&retry.dialog() == &c.callee());
    CHECK(retry.sip()->sip_cseq->cs_seq == challenged.sip()->sip_cseq->cs_seq + 1);
    sbc::test::check_credentials(retry, 401, "bm9uY2UtMQ", "acme", "s3cret");

    // The pbx transfers the call before it answered the retry: an offer is
    // under way on the call, so the REFER is refused for now.
    sbc::test::refer(c.callee(), to_3000).expect(491);
    f.target.expect_nothing_more();

    retry.reply(200, sdp_audio(31002, "pbx"));
    reinvite.expect(200);  // the carrier never saw the challenge
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");

    // Once the exchange is over, the transfer goes through.
    auto& inv = transfer_to_target(f, c);
    target_answers(f, c, inv);
    carrier_takes_reinvite(f, c);
    carrier_hangs_up_on_target(f, c, inv);
}

TEST_CASE("a session refresh falling while the transfer target rings",
          "[b2bua][race][transfer][session-timer]") {
    SECTION("on the leg that stays: the refresh and the transfer's re-INVITE both go through") {
        b2bua_fixture f(transfer_topology());
        // The carrier cannot refresh: the SBC does, on leg a (RFC 4028 9).
        auto c = carrier_calls_pbx(f, "2000", 30000, "Session-Expires: 90\r\n");
        auto& call = f.call_of(*c.caller);
        auto& inv = transfer_to_target(f, c);
        inv.reply(180);

        call.check_session_timers(in(46s));
        auto& refresh = f.carrier.expect("UPDATE");
        CHECK(refresh.body().empty());
        // The target answers while the refresh is unanswered: the carrier
        // gets the transfer's re-INVITE beside its UPDATE, which carries
        // no offer (RFC 3311 5.1 allows both at once).
        target_answers(f, c, inv);
        auto& reinvite = f.carrier.expect("INVITE");
        refresh.reply(200);
        reinvite.reply(200, sdp_audio(30000, "carrier"));
        f.carrier.expect("ACK");

        // Both restarted the clock: nothing is due before half the interval.
        call.check_session_timers(in(44s));
        carrier_hangs_up_on_target(f, c, inv);
    }
    SECTION("on the referrer's leg, answered 481 after the SBC sent the referrer away") {
        auto t = transfer_topology();
        t.pbx_trunk.push_back("session_timer: {expires: 90}");
        b2bua_fixture f(t);
        // The pbx has the SBC refresh leg b.
        auto c = carrier_calls_pbx(f, "2000", 30000, {}, "Session-Expires: 90;refresher=uac\r\n");
        auto& call = f.call_of(*c.caller);
        auto& inv = transfer_to_target(f, c);
        inv.reply(180);

        call.check_session_timers(in(46s));
        auto& refresh = f.pbx.expect("UPDATE");
        CHECK(&refresh.dialog() == &c.callee());
        // The pbx handles the transfer's end first; by the time it turns to
        // the refresh, its dialog is gone (RFC 3261 12.2.2: 481).
        target_answers(f, c, inv);
        refresh.reply(481);
        // That dialog is no longer the call's: the call goes on with the
        // target.
        carrier_takes_reinvite(f, c);
        carrier_hangs_up_on_target(f, c, inv);
    }
}

TEST_CASE("the failover timer firing while the first peer's 180 is on its way",
          "[b2bua][race][failover]") {
    sbc::test::topology t;
    t.pbx_backup_peer = true;
    b2bua_fixture f(t);
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& first = f.pbx.expect("INVITE");
    // The pbx rings, but before the SBC reads its 180 the failover timeout
    // (failover_timeout, 4 s) passes: the SBC gives the pbx up and calls the
    // next peer.
    first.reply(180);
    f.call_of(first.dialog()).check_failover(in(5s));
    auto& second = f.pbx2.expect("INVITE");

    // The abandoned INVITE rang after all: the SBC must stop it (RFC 3261
    // 9.1: the CANCEL waits for a provisional response, then goes), or the
    // pbx rings on for a caller who is talking to someone else.
    auto& cancel = f.pbx.expect("CANCEL");
    CHECK(std::string(cancel.sip()->sip_call_id->i_id) == first.sip()->sip_call_id->i_id);
    first.reply(487);

    second.reply(180);
    call.expect(180);
    second.reply(200, sdp_audio(31000, "pbx2"));
    call.expect(200);
    call.ack();
    f.pbx2.expect("ACK");
    auto& bye = call.bye();
    f.pbx2.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
    f.pbx2.expect_nothing_more();
}

// RFC 3261 22.2: the SBC's re-INVITE that joins the consulted party is
// its own request on that party's trunk, and answers its challenge.
TEST_CASE("a challenge to the re-INVITE that joins the consulted party is answered",
          "[b2bua][race][transfer][digest]") {
    auto t = transfer_topology();
    t.target_trunk_lines.push_back("auth: {username: acme, password: s3cret}");
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    auto& consult = f.pbx.invite(f.pbx_side_uri("3000"), sdp_audio(31100, "pbx"), "1000");
    auto& first = f.target.expect("INVITE");
    first.reply(200, sdp_audio(32000, "target"));
    consult.expect(200);
    consult.ack();
    f.target.expect("ACK");

    const auto replaces = fmt::format("{};to-tag={};from-tag={}", consult.call_id(),
                                      consult.remote_tag(), consult.local_tag());
    sbc::test::refer(c.callee(), fmt::format("<sip:3000@sbc.example?Replaces={}>",
                                             sbc::test::uri_escape(replaces)))
        .expect(202);
    expect_notify(f.pbx, 100, false);
    f.pbx.expect("BYE").reply(200);  // the consultation call ends

    auto& challenged = f.target.expect("INVITE");
    challenged.reply(401, {}, sbc::test::digest_challenge(401, "bm9uY2UtMQ"));
    auto& retry = f.target.expect("INVITE");
    CHECK(&retry.dialog() == &first.dialog());
    sbc::test::check_credentials(retry, 401, "bm9uY2UtMQ", "acme", "s3cret");
    retry.reply(200, sdp_audio(32000, "target"));
    f.target.expect("ACK");
    expect_notify(f.pbx, 200, true);
    f.pbx.expect("BYE").reply(200);
    carrier_takes_reinvite(f, c);
    carrier_hangs_up_on_target(f, c, first);
}

// RFC 3261 22.2: the SBC's own re-INVITE after a transfer (call::reoffer)
// is sent again with credentials when the party that stays challenges it.
TEST_CASE("a challenge to the SBC's re-INVITE after a transfer is answered",
          "[b2bua][race][transfer][digest]") {
    auto t = transfer_topology();
    t.carrier_trunk.push_back("auth: {username: acme, password: s3cret}");
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    auto& inv = transfer_to_target(f, c);
    target_answers(f, c, inv);
    auto& challenged = f.carrier.expect("INVITE");
    challenged.reply(401, {}, sbc::test::digest_challenge(401, "bm9uY2UtMQ"));
    auto& retry = f.carrier.expect("INVITE");
    CHECK(retry.body() == challenged.body());
    sbc::test::check_credentials(retry, 401, "bm9uY2UtMQ", "acme", "s3cret");
    retry.reply(200, sdp_audio(30000, "carrier"));
    f.carrier.expect("ACK");
    carrier_hangs_up_on_target(f, c, inv);
}

}  // namespace test_races
