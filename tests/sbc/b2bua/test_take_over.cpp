// A call taken over by another node (issue 22): the b2bua that set it up
// dies without a word, another binds the same addresses and rebuilds the
// call from the state document the first one wrote, and from then on the
// peers' re-INVITEs, UPDATEs, INFOs, REFERs and BYE, and the SBC's own
// requests, work as if nothing had happened, and the call's CDR is written
// once. Also what a store is told (b2bua::call_observer).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "sbc/b2bua/call_state_json.hpp"
#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_calls_pbx;
using sbc::test::expect_notify;
using sbc::test::sdp_audio;
using sbc::test::sdp_line;
using sbc::test::sdp_origin;
using sbc::test::with_direction;

namespace take_over_test {

/// The one call's state as the store would hand it to the partner: written
/// as the document and read back.
b2bua::call_state stored_state(b2bua_fixture& f) {
    const auto ids = f.sbc().call_ids();
    REQUIRE(ids.size() == 1);
    const auto state = f.sbc().call_state_of(ids.front());
    REQUIRE(state);
    auto back = b2bua::call_state_from_json(b2bua::to_json(*state));
    REQUIRE(back.ok());
    return std::move(back.value());
}

std::uint32_t cseq_of(const sip_t* sip) { return sip->sip_cseq->cs_seq; }

/// Whether `sdp` has the line `line` ("a=sendonly").
bool says(const std::string& sdp, const std::string& line) {
    return sdp.find(line + "\r\n") != std::string::npos;
}

/// The node dies and its partner rebuilds the one call from the store.
void take_over(b2bua_fixture& f) {
    const auto state = stored_state(f);
    f.fail_over();
    REQUIRE(f.sbc().restore_call(state).ok());
    REQUIRE(f.sbc().call_count() == 1);
}

/// What a store is told, in order: "changed N" and "gone N".
class recording_observer final : public b2bua::call_observer {
public:
    void call_changed(const b2bua::call& c) override {
        told.push_back("changed " + std::to_string(c.id()));
    }
    void call_gone(std::uint64_t id) override { told.push_back("gone " + std::to_string(id)); }
    std::vector<std::string> told;
};

}  // namespace take_over_test

using namespace take_over_test;

TEST_CASE("a call taken over after its node died carries on: re-INVITEs both ways, then BYE",
          "[b2bua][cluster][take-over]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    // The pbx's last request on the dialog: the SBC's INVITE.
    const auto invite_cseq = cseq_of(c.invite->sip());
    const auto state = stored_state(f);

    f.fail_over();
    CHECK(f.sbc().call_count() == 0);
    auto id = f.sbc().restore_call(state);
    REQUIRE(id.ok());
    CHECK(f.sbc().call_count() == 1);
    const auto restored = f.sbc().call_state_of(*id);
    REQUIRE(restored);
    CHECK(restored->state == "established");
    CHECK(restored->legs[0].call_id == state.legs[0].call_id);
    CHECK(restored->legs[1].remote_tag == state.legs[1].remote_tag);
    CHECK(restored->media.legs[0].rtp_port == state.media.legs[0].rtp_port);

    // The carrier holds: its re-INVITE matches the rebuilt dialog and goes
    // on to the pbx in the pbx's own dialog, with a CSeq above the INVITE's.
    auto& hold = c.caller->reinvite(test::with_direction(sdp_audio(30000, "carrier"), "sendonly"));
    auto& held = f.pbx.expect("INVITE");
    CHECK(&held.dialog() == &c.callee());
    CHECK(cseq_of(held.sip()) > invite_cseq);
    held.reply(200, test::with_direction(sdp_audio(31000, "pbx"), "recvonly"));
    hold.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");

    // The pbx resumes: the other dialog, the other way.
    auto& resume = c.callee().reinvite(sdp_audio(31000, "pbx"));
    auto& resumed = f.carrier.expect("INVITE");
    CHECK(&resumed.dialog() == c.caller);
    resumed.reply(200, sdp_audio(30000, "carrier"));
    resume.expect(200);
    c.callee().ack_reinvite();
    f.carrier.expect("ACK");

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    // One CDR: the node that ended the call wrote it, with what the first
    // node recorded (the caller's Call-ID, the answer).
    const auto cdr = f.only_cdr();
    CHECK(cdr["call_id"] == state.cdr.call_id);
    CHECK(cdr["status"] == 200);
    CHECK(cdr.contains("answer"));
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a call taken over is ended by the pbx's BYE", "[b2bua][cluster][take-over]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const auto state = stored_state(f);
    f.fail_over();
    REQUIRE(f.sbc().restore_call(state).ok());
    auto& bye = c.callee().bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(f.cdr_lines().size() == 1);
}

TEST_CASE("a call taken over carries UPDATEs with SDP both ways (RFC 3311)",
          "[b2bua][cluster][take-over]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    take_over(f);

    // The carrier holds by UPDATE: the pbx gets the offer in its own dialog,
    // with the SBC's o= identity of that dialog at its next version (RFC
    // 3264 8: the SDP changed), as if the node that made the call were
    // still there; the carrier's answer follows on from the SBC's 200.
    auto& hold =
        c.caller->send(SIP_METHOD_UPDATE, with_direction(sdp_audio(30000, "carrier"), "sendonly"),
                       "application/sdp");
    auto& held = f.pbx.expect("UPDATE");
    CHECK(&held.dialog() == &c.callee());
    CHECK(says(held.body(), "a=sendonly"));
    CHECK(sdp_origin(held.body()).id == sdp_origin(c.invite->body()).id);
    CHECK(sdp_origin(held.body()).version == sdp_origin(c.invite->body()).version + 1);
    held.reply(200, with_direction(sdp_audio(31000, "pbx"), "recvonly"));
    const auto answer = body_of(hold.expect(200));
    CHECK(says(answer, "a=recvonly"));
    CHECK(sdp_origin(answer).id == sdp_origin(body_of(c.ok)).id);
    CHECK(sdp_origin(answer).version == sdp_origin(body_of(c.ok)).version + 1);

    // The pbx offers by UPDATE to resume: the carrier's dialog, the other way.
    auto& resume = c.callee().send(SIP_METHOD_UPDATE, sdp_audio(31000, "pbx"), "application/sdp");
    auto& resumed = f.carrier.expect("UPDATE");
    CHECK(&resumed.dialog() == c.caller);
    CHECK(says(resumed.body(), "a=sendrecv"));
    CHECK(sdp_origin(resumed.body()).version == sdp_origin(answer).version + 1);
    resumed.reply(200, sdp_audio(30000, "carrier"));
    const auto resume_answer = body_of(resume.expect(200));
    CHECK(says(resume_answer, "a=sendrecv"));
    CHECK(sdp_origin(resume_answer).version == sdp_origin(held.body()).version + 1);

    sbc::test::carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
    CHECK(f.cdr_lines().size() == 1);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a call taken over relays INFO both ways", "[b2bua][cluster][take-over]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    take_over(f);
    const std::string dtmf = "Signal=5\r\nDuration=160\r\n";

    auto& info = c.caller->send(SIP_METHOD_INFO, dtmf, "application/dtmf-relay");
    auto& relayed = f.pbx.expect("INFO");
    CHECK(&relayed.dialog() == &c.callee());
    CHECK(relayed.body() == dtmf);
    relayed.reply(200);
    info.expect(200);

    const std::string star = "Signal=*\r\nDuration=100\r\n";
    auto& back = c.callee().send(SIP_METHOD_INFO, star, "application/dtmf-relay");
    auto& to_carrier = f.carrier.expect("INFO");
    CHECK(&to_carrier.dialog() == c.caller);
    CHECK(to_carrier.body() == star);
    to_carrier.reply(200);
    back.expect(200);

    // Then the pbx hangs up: the SBC's BYE to the carrier follows the INFO
    // it relayed there, its CSeq above that one's (RFC 3261 12.2.1.1).
    auto& bye = c.callee().bye();
    auto& relayed_bye = f.carrier.expect("BYE");
    CHECK(cseq_of(relayed_bye.sip()) > cseq_of(to_carrier.sip()));
    relayed_bye.reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(f.cdr_lines().size() == 1);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a call taken over is transferred blind by the pbx's REFER",
          "[b2bua][cluster][take-over][transfer][refer]") {
    sbc::test::topology t;
    t.pbx_trunk.push_back("refer: handle");
    t.target_trunk = true;
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    take_over(f);

    // As test_transfer.cpp's blind transfer, on the rebuilt call: 202 and
    // NOTIFYs to the referrer, the target called with the SDP the pbx was
    // offered, the referrer BYE'd out, the carrier re-INVITEd.
    sbc::test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    expect_notify(f.pbx, 100, false);
    auto& inv = f.target.expect("INVITE");
    CHECK(sbc::test::request_uri(inv).rfind("sip:3000@" + f.target.host_port(), 0) == 0);
    CHECK(sdp_line(inv.body(), "c=") == sdp_line(c.invite->body(), "c="));
    CHECK(sbc::test::media_port(inv.body()) == sbc::test::media_port(c.invite->body()));
    inv.reply(200, sdp_audio(32000, "target"));
    f.target.expect("ACK");
    expect_notify(f.pbx, 200, true);
    auto& bye = f.pbx.expect("BYE");
    CHECK(&bye.dialog() == &c.callee());
    bye.reply(200);

    auto& reinvite = f.carrier.expect("INVITE");
    CHECK(&reinvite.dialog() == c.caller);
    const auto answer = body_of(c.ok);
    CHECK(sdp_line(reinvite.body(), "m=") == sdp_line(answer, "m="));
    CHECK(sdp_origin(reinvite.body()).id == sdp_origin(answer).id);
    CHECK(sdp_origin(reinvite.body()).version == sdp_origin(answer).version + 1);
    reinvite.reply(200, sdp_audio(30000, "carrier"));
    f.carrier.expect("ACK");

    auto& hang_up = c.caller->bye();
    auto& relayed = f.target.expect("BYE");
    CHECK(&relayed.dialog() == &inv.dialog());
    relayed.reply(200);
    hang_up.expect(200);
    REQUIRE(f.calls_gone());
    // One CDR for the call, as the first node began it, to the target now.
    const auto cdr = f.only_cdr();
    CHECK(cdr["from_trunk"] == "carrier");
    CHECK(cdr["to_trunk"] == "target");
    CHECK(cdr["status"] == 200);
    CHECK(cdr["disconnected_by"] == "caller");
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    f.target.expect_nothing_more();
}

TEST_CASE("only an established call can be taken over", "[b2bua][cluster][take-over]") {
    b2bua_fixture f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    call.expect(180);
    const auto ids = f.sbc().call_ids();
    REQUIRE(ids.size() == 1);
    const auto ringing = f.sbc().call_state_of(ids.front());
    REQUIRE(ringing);

    b2bua_fixture other;
    auto r = other.sbc().restore_call(*ringing);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("not established") != std::string::npos);
    CHECK(other.sbc().call_count() == 0);

    auto wrong = *ringing;
    wrong.state = "established";
    wrong.legs[1].trunk = "nowhere";
    CHECK_FALSE(other.sbc().restore_call(wrong).ok());
    CHECK(other.sbc().call_count() == 0);
}

TEST_CASE("the store is told of an established call, of its changes and of its end",
          "[b2bua][cluster][replication]") {
    b2bua_fixture f;
    recording_observer seen;
    f.sbc().set_observer(&seen);
    auto c = carrier_calls_pbx(f);
    REQUIRE(f.loop.run_until([&] { return !seen.told.empty(); }));
    const auto id = std::to_string(f.sbc().call_ids().front());
    CHECK(seen.told == std::vector<std::string>{"changed " + id});

    // Nothing moved: nothing more is told, however many ticks pass.
    CHECK_FALSE(
        f.loop.run_until([&] { return seen.told.size() > 1; }, std::chrono::milliseconds(600)));

    auto& info =
        c.caller->send(SIP_METHOD_INFO, "Signal=5\r\nDuration=160\r\n", "application/dtmf-relay");
    f.pbx.expect("INFO").reply(200);
    info.expect(200);
    // The INFO moved both dialogs' sequence numbers: written again.
    REQUIRE(f.loop.run_until([&] { return seen.told.size() == 2; }));

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    REQUIRE(f.loop.run_until([&] { return seen.told.back() == "gone " + id; }));
    f.sbc().set_observer(nullptr);
}

TEST_CASE("a standby node sends no OPTIONS until it is made active", "[b2bua][cluster][standby]") {
    sbc::test::topology t;
    t.pbx_trunk = {"keepalive: {interval: 1, timeout: 1}"};
    b2bua_fixture f(t);
    f.sbc().set_active(false);
    CHECK_FALSE(
        f.loop.run_until([&] { return f.pbx.saw("OPTIONS"); }, std::chrono::milliseconds(1500)));
    f.sbc().set_active(true);
    f.pbx.expect("OPTIONS").reply(200);
}
