// More of the e2e suite's signalling scenarios (tests/e2e/test_sbc.py,
// test_failover.py) in the in-process tier: the reverse direction, mapped
// failures, failover, hold and resume, OPTIONS, several calls at once, the
// media timeout, and shutdown with a call up.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_calls_pbx;
using sbc::test::carrier_hangs_up;
using sbc::test::sdp_audio;
using sbc::test::sdp_names_port;
using sbc::test::up_call;
using sbc::test::with_direction;

namespace {

// The version of an SDP's o= line (RFC 4566 5.2), or -1.
long sdp_version(const std::string& sdp) {
    const auto o = sdp.find("o=");
    if (o == std::string::npos) {
        return -1;
    }
    // o=<username> <sess-id> <sess-version> ...
    std::size_t at = o;
    for (int field = 0; field < 2; ++field) {
        at = sdp.find(' ', at + 1);
    }
    return at == std::string::npos ? -1 : std::stol(sdp.substr(at + 1));
}

}  // namespace

TEST_CASE("the pbx calls the carrier", "[b2bua][call]") {
    b2bua_fixture f;
    auto& call = f.pbx.invite(f.pbx_side_uri("14155550100"), sdp_audio(31000, "pbx"));
    auto& inv = f.carrier.expect("INVITE");
    CHECK(std::string(inv.sip()->sip_request->rq_url->url_user) == "14155550100");
    inv.reply(183, sdp_audio(30000, "carrier"));
    const sip_t* early = call.expect(183);
    CHECK(body_of(early).find("m=audio") != std::string::npos);
    CHECK_FALSE(sdp_names_port(body_of(early), 30000));
    inv.reply(200, sdp_audio(30000, "carrier"));
    call.expect(200);
    call.ack();
    f.carrier.expect("ACK");
    auto& bye = inv.dialog().bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("final failures reach the caller mapped where they only make sense on the callee's hop",
          "[b2bua][call][failure]") {
    // tests/e2e/test_sbc.py failures_mapped; RFC 3261 16.7 for the 503.
    const auto [code, expected] =
        GENERATE(table<int, int>({{302, 480}, {503, 500}, {404, 404}, {603, 603}, {407, 403}}));
    CAPTURE(code, expected);
    b2bua_fixture f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    f.pbx.expect("INVITE").reply(code);
    call.expect(expected);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a 503 from the first peer fails over to the next", "[b2bua][call][failover]") {
    sbc::test::topology t;
    t.pbx_backup_peer = true;
    b2bua_fixture f(t);
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& first = f.pbx.expect("INVITE");
    first.reply(503);
    auto& second = f.pbx2.expect("INVITE");
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

TEST_CASE("a peer that rang and then failed: the next peer takes the call",
          "[b2bua][call][failover]") {
    // Carriers often send 18x before giving up (call.cpp on_invite_response);
    // the caller keeps its one dialog with the SBC throughout.
    sbc::test::topology t;
    t.pbx_backup_peer = true;
    b2bua_fixture f(t);
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& first = f.pbx.expect("INVITE");
    first.reply(180);
    call.expect(180);
    first.reply(500);
    auto& second = f.pbx2.expect("INVITE");
    second.reply(200, sdp_audio(31000, "pbx2"));
    call.expect(200);
    call.ack();
    f.pbx2.expect("ACK");
    auto& bye = second.dialog().bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    f.pbx2.expect_nothing_more();
}

TEST_CASE("hold and resume by re-INVITE from the caller", "[b2bua][call][reinvite]") {
    // tests/e2e/test_sbc.py hold_resume_from_caller; RFC 3264 8.4.
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const long first_version = sdp_version(c.invite->body());

    auto& hold = c.caller->reinvite(with_direction(sdp_audio(30000, "carrier"), "sendonly"));
    auto& held = f.pbx.expect("INVITE");
    CHECK(&held.dialog() == &c.invite->dialog());  // in the pbx's dialog
    CHECK(held.body().find("a=sendonly") != std::string::npos);
    CHECK(sdp_version(held.body()) == first_version + 1);  // RFC 3264 8
    held.reply(200, with_direction(sdp_audio(31000, "pbx"), "recvonly"));
    const sip_t* ok = hold.expect(200);
    CHECK(body_of(ok).find("a=recvonly") != std::string::npos);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");

    auto& resume = c.caller->reinvite(sdp_audio(30000, "carrier"));
    auto& resumed = f.pbx.expect("INVITE");
    CHECK(resumed.body().find("a=sendrecv") != std::string::npos);
    CHECK(sdp_version(resumed.body()) == first_version + 2);
    resumed.reply(200, sdp_audio(31000, "pbx"));
    resume.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a 603 from the first peer ends the call: no failover to the next", "[b2bua][failover]") {
    // RFC 3261 21.6: a 6xx is definitive for every place the callee could be
    // reached, so the other peers of the trunk are not tried (what
    // Microsoft's direct routing asks of an SBC: never retry after 603).
    sbc::test::topology t;
    t.pbx_backup_peer = true;
    b2bua_fixture f(t);
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    f.pbx.expect("INVITE").reply(603);
    call.expect(603);
    REQUIRE(f.calls_gone());
    f.pbx2.expect_nothing_more();
}

TEST_CASE("OPTIONS outside a dialog are answered on both sides", "[b2bua][options]") {
    b2bua_fixture f;
    f.carrier.send(SIP_METHOD_OPTIONS, f.carrier_side_uri("sbc")).expect(200);
    f.pbx.send(SIP_METHOD_OPTIONS, f.pbx_side_uri("sbc")).expect(200);
    CHECK(f.sbc().call_count() == 0);
}

TEST_CASE("no route: 404, and nothing reaches the pbx", "[b2bua][routing]") {
    sbc::test::topology t;
    t.routes = {"{name: ones-to-pbx, from_trunk: carrier, ruri_user: \"^1\", to_trunk: pbx}"};
    b2bua_fixture f(t);
    f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier")).expect(404);
    f.pbx.expect_nothing_more();
    auto c = carrier_calls_pbx(f, "1000");
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("several calls at once each get their own media session", "[b2bua][call]") {
    b2bua_fixture f;
    constexpr int calls = 5;
    std::vector<sbc::test::peer_dialog*> callers;
    for (int i = 0; i < calls; ++i) {
        callers.push_back(
            &f.carrier.invite(f.carrier_side_uri(fmt::format("200{}", i)),
                              sdp_audio(static_cast<std::uint16_t>(30000 + 2 * i), "carrier")));
    }
    std::vector<sbc::test::incoming_request*> invites;
    for (int i = 0; i < calls; ++i) {
        invites.push_back(&f.pbx.expect("INVITE"));
    }
    // Answered in reverse order: each 200 reaches its own caller.
    for (int i = calls - 1; i >= 0; --i) {
        const std::string user = invites[i]->sip()->sip_request->rq_url->url_user;
        invites[i]->reply(200, sdp_audio(static_cast<std::uint16_t>(31000 + 2 * i), "pbx"));
        const int index = user.back() - '0';
        callers[index]->expect(200);
        callers[index]->ack();
        f.pbx.expect("ACK");
    }
    CHECK(f.sbc().call_count() == calls);
    CHECK(f.media.open_sessions() == calls);
    for (auto* caller : callers) {
        auto& bye = caller->bye();
        f.pbx.expect("BYE").reply(200);
        bye.expect(200);
    }
    REQUIRE(f.calls_gone());
    CHECK(f.media.open_sessions() == 0);
}

TEST_CASE("an answered call without media is ended by its media timeout", "[b2bua][call][media]") {
    // tests/e2e/test_sbc.py media_timeout_bye, with the worker's report injected.
    b2bua_fixture f;
    carrier_calls_pbx(f);
    const auto id = f.media.sessions().begin()->first;
    // The b2bua arms the timeout on its next tick once the call is established.
    REQUIRE(f.loop.run_until(
        [&] { return f.media.only_session().media_timeout == std::chrono::seconds(60); }));
    f.media.inject_timeout(id);
    f.carrier.expect("BYE").reply(200);
    f.pbx.expect("BYE").reply(200);
    REQUIRE(f.calls_gone());
    CHECK(f.media.only_session().closed);
}

TEST_CASE("shutting down with a call up ends both legs", "[b2bua][call]") {
    // tests/e2e/test_sbc.py stop_with_call_up.
    b2bua_fixture f;
    carrier_calls_pbx(f);
    f.sbc().hang_up_all("shutdown");
    f.carrier.expect("BYE").reply(200);
    f.pbx.expect("BYE").reply(200);
    REQUIRE(f.calls_gone());
}
