// Session timers (RFC 4028), negotiated per leg: the Session-Expires the
// 2xx settles, the SBC's refreshes (UPDATE) where it is the refresher, and
// the end of a call whose peer lets its session lapse, as
// tests/e2e/test_dialog.py session_timer_expiry_ends_both_legs and
// session_interval_too_small_* show them with sipp.
//
// No test waits for a timer: the b2bua checks the timers with the time its
// tick gives call::check_session_timers, and a test calls that itself with
// a time as far ahead as it needs (b2bua_fixture::call_of).
#include <catch2/catch.hpp>

#include <sofia-sip/sip_util.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using namespace std::chrono_literals;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_hangs_up;
using sbc::test::sdp_audio;
using sbc::test::up_call;

namespace {

std::chrono::steady_clock::time_point in(std::chrono::seconds s) {
    return std::chrono::steady_clock::now() + s;
}

std::string refresher(const sip_t* sip) {
    REQUIRE(sip->sip_session_expires != nullptr);
    return sip->sip_session_expires->x_refresher != nullptr ? sip->sip_session_expires->x_refresher
                                                            : "";
}

// A call carrier -> pbx whose INVITE carries `headers` and whose 200 from
// the pbx `pbx_headers`, up to the pbx's ACK.
up_call place_call(b2bua_fixture& f, const std::string& headers,
                   const std::string& pbx_headers = {}) {
    return sbc::test::carrier_calls_pbx(f, "2000", 30000, headers, pbx_headers);
}

void both_legs_get_bye(b2bua_fixture& f) {
    f.carrier.expect("BYE").reply(200);
    f.pbx.expect("BYE").reply(200);
    REQUIRE(f.calls_gone());
}

}  // namespace

TEST_CASE("a caller that refreshes: its timer in the 2xx, and its lapse ends both legs",
          "[b2bua][session-timer]") {
    b2bua_fixture f;
    auto c = place_call(f, "Session-Expires: 90;refresher=uac\r\nSupported: timer\r\n");
    // RFC 4028 9: the UAS keeps the refresher the UAC named, and requires
    // timer of a UAC that supports it.
    REQUIRE(c.ok->sip_session_expires != nullptr);
    CHECK(c.ok->sip_session_expires->x_delta == 90);
    CHECK(refresher(c.ok) == "uac");
    CHECK(sip_has_feature(c.ok->sip_require, "timer"));
    // Negotiated per leg: the pbx trunk asks for no timer.
    CHECK(c.invite->sip()->sip_session_expires == nullptr);
    auto& call = f.call_of(*c.caller);

    // A refresh by UPDATE (RFC 4028 10) is answered by the SBC on its leg
    // and restarts the clock.
    auto& update =
        c.caller->send(SIP_METHOD_UPDATE, {}, nullptr, "Session-Expires: 90;refresher=uac\r\n");
    const sip_t* ok = update.expect(200);
    CHECK(ok->sip_session_expires != nullptr);
    call.check_session_timers(in(59s));  // RFC 4028 10: min(32, 90 / 3) before 90 s
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();

    // Then no refresh comes.
    call.check_session_timers(in(90s));
    both_legs_get_bye(f);
    const auto cdr = f.only_cdr();
    CHECK(cdr["disconnected_by"] == "sbc");
    CHECK(cdr["disconnect_reason"] == "session timer expired on leg a");
}

TEST_CASE("where the caller cannot refresh, the SBC refreshes by UPDATE at half the interval",
          "[b2bua][session-timer]") {
    b2bua_fixture f;
    // No Supported: timer, no refresher named: the SBC refreshes (RFC 4028 9).
    auto c = place_call(f, "Session-Expires: 90\r\n");
    CHECK(c.ok->sip_session_expires->x_delta == 90);
    CHECK(refresher(c.ok) == "uas");
    CHECK_FALSE(sip_has_feature(c.ok->sip_require, "timer"));
    auto& call = f.call_of(*c.caller);

    call.check_session_timers(in(44s));
    f.carrier.expect_nothing_more();
    call.check_session_timers(in(46s));
    auto& refresh = f.carrier.expect("UPDATE");
    CHECK(&refresh.dialog() == c.caller);
    CHECK(refresh.body().empty());
    // The SBC is the UPDATE's UAC and the refresher.
    CHECK(refresher(refresh.sip()) == "uac");
    CHECK(refresh.sip()->sip_session_expires->x_delta == 90);

    SECTION("a refresh answered 200 keeps the call up") {
        refresh.reply(200);
        f.pbx.expect_nothing_more();  // the other leg's session is its own
        carrier_hangs_up(f, c);
        REQUIRE(f.calls_gone());
    }
    SECTION("a refresh refused ends the call with BYE on both legs") {
        refresh.reply(500);  // RFC 4028 10: any final response but 2xx and 491
        both_legs_get_bye(f);
        CHECK(f.only_cdr()["disconnect_reason"] == "session refresh failed on leg a");
    }
}

TEST_CASE("the SBC asks the callee's trunk for a timer and refreshes as the 2xx says",
          "[b2bua][session-timer]") {
    sbc::test::topology t;
    t.pbx_trunk.push_back("session_timer: {expires: 90}");
    b2bua_fixture f(t);
    auto c = place_call(f, {}, "Session-Expires: 90;refresher=uac\r\nRequire: timer\r\n");
    const sip_t* inv = c.invite->sip();
    REQUIRE(inv->sip_session_expires != nullptr);
    CHECK(inv->sip_session_expires->x_delta == 90);
    REQUIRE(inv->sip_min_se != nullptr);
    CHECK(inv->sip_min_se->min_delta == 90);
    CHECK(sip_has_feature(inv->sip_supported, "timer"));
    // The carrier asked for no timer and gets none.
    CHECK(c.ok->sip_session_expires == nullptr);

    f.call_of(*c.caller).check_session_timers(in(46s));
    auto& refresh = f.pbx.expect("UPDATE");
    CHECK(&refresh.dialog() == &c.invite->dialog());
    CHECK(refresher(refresh.sip()) == "uac");
    refresh.reply(200);
    f.carrier.expect_nothing_more();
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("a Session-Expires below the trunk's min_se is refused with 422 and Min-SE",
          "[b2bua][session-timer]") {
    b2bua_fixture f;  // min_se: 90, the default
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"), "caller",
                                  "Session-Expires: 60\r\nSupported: timer\r\n");
    const sip_t* refusal = call.expect(422);
    REQUIRE(refusal->sip_min_se != nullptr);
    CHECK(refusal->sip_min_se->min_delta == 90);  // RFC 4028 6
    f.pbx.expect_nothing_more();
    REQUIRE(f.calls_gone());
}

TEST_CASE("a callee's 422 is answered by sending the INVITE again with its Min-SE",
          "[b2bua][session-timer]") {
    sbc::test::topology t;
    t.pbx_trunk.push_back("session_timer: {expires: 90}");
    b2bua_fixture f(t);
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& first = f.pbx.expect("INVITE");
    first.reply(422, {}, "Min-SE: 120\r\n");
    auto& again = f.pbx.expect("INVITE");
    // RFC 4028 6: the same dialog-to-be, the next CSeq, the interval asked for.
    CHECK(std::string(again.sip()->sip_call_id->i_id) == first.sip()->sip_call_id->i_id);
    CHECK(again.sip()->sip_cseq->cs_seq == first.sip()->sip_cseq->cs_seq + 1);
    REQUIRE(again.sip()->sip_session_expires != nullptr);
    CHECK(again.sip()->sip_session_expires->x_delta == 120);
    again.reply(200, sdp_audio(31000, "pbx"), "Session-Expires: 120;refresher=uas\r\n");
    call.expect(200);  // the caller never sees the 422
    call.ack();
    f.pbx.expect("ACK");
    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
}
