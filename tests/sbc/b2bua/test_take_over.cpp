// A call taken over by another node (issue 22): the b2bua that set it up
// dies without a word, another binds the same addresses and rebuilds the
// call from the state document the first one wrote, and from then on the
// peers' re-INVITEs and BYE, and the SBC's own requests, work as if nothing
// had happened. Also what a store is told (b2bua::call_observer).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "sbc/b2bua/call_state_json.hpp"
#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;
using sbc::test::sdp_audio;

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
