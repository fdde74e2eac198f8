// Basic calls through a real b2bua between scripted peers, in one process:
// the e2e suite's signalling scenarios (tests/e2e/test_sbc.py) at the
// transaction layer, each in milliseconds.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <set>
#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using dataplane::side;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_rtp;
using sbc::test::pbx_rtp;
using sbc::test::sdp_audio;
using sbc::test::sdp_names_port;

namespace {

std::string via_host_port(const sip_t* sip) {
    const sip_via_t* v = sip->sip_via;
    return fmt::format("{}:{}", v->v_host, v->v_port != nullptr ? v->v_port : "5060");
}

std::string contact_host_port(const sip_t* sip) {
    const url_t* u = sip->sip_contact->m_url;
    return fmt::format("{}:{}", u->url_host, u->url_port != nullptr ? u->url_port : "5060");
}

sbc::test::topology carrier_trunk_with(const std::string& line) {
    sbc::test::topology t;
    t.carrier_trunk.push_back(line);
    return t;
}

// A call carrier -> pbx up to the pbx's ACK; the pieces a test goes on with.
struct answered_call {
    sbc::test::peer_dialog* caller = nullptr;
    sbc::test::incoming_request* invite = nullptr;  // as the pbx got it
    const sip_t* ok = nullptr;                      // the 200 as the carrier got it
};

answered_call place_call(b2bua_fixture& f) {
    answered_call c;
    c.caller = &f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    c.invite = &f.pbx.expect("INVITE");
    c.invite->reply(180);
    c.caller->expect(180);
    c.invite->reply(200, sdp_audio(pbx_rtp, "pbx"));
    c.ok = c.caller->expect(200);
    c.caller->ack();
    f.pbx.expect("ACK");
    return c;
}

// The media session has each side's peer where its SDP said, and is closed.
void check_media_programmed(const sbc::test::fake_session& s) {
    REQUIRE(s.of(side::a).rtp.has_value());
    REQUIRE(s.of(side::b).rtp.has_value());
    std::set<std::string> remotes{s.of(side::a).rtp->to_string(), s.of(side::b).rtp->to_string()};
    CHECK(remotes == std::set<std::string>{fmt::format("127.0.0.1:{}", carrier_rtp),
                                           fmt::format("127.0.0.1:{}", pbx_rtp)});
    CHECK(s.of(side::a).rtcp->port() == s.of(side::a).rtp->port() + 1);
}

}  // namespace

TEST_CASE("a basic call carrier -> pbx, hung up by the carrier", "[b2bua][call]") {
    b2bua_fixture f;
    auto c = place_call(f);
    const auto& session = f.media.only_session();
    INFO(fmt::format("{}", fmt::join(f.media.journal(), "\n")));
    check_media_programmed(session);

    SECTION("the offer and answer name the SBC's media ports, not the peers'") {
        const auto offer = c.invite->body();
        const auto answer = body_of(c.ok);
        CHECK_FALSE(sdp_names_port(offer, carrier_rtp));
        CHECK_FALSE(sdp_names_port(answer, pbx_rtp));
        const auto port_a = std::to_string(session.ports.rtp[0]);
        const auto port_b = std::to_string(session.ports.rtp[1]);
        CHECK(((offer.find("m=audio " + port_a) != std::string::npos &&
                answer.find("m=audio " + port_b) != std::string::npos) ||
               (offer.find("m=audio " + port_b) != std::string::npos &&
                answer.find("m=audio " + port_a) != std::string::npos)));
    }
    SECTION("topology is hidden: Call-ID, tags, Via and Contact differ between the legs") {
        const sip_t* in = c.invite->sip();
        CHECK(std::string(in->sip_call_id->i_id) != c.caller->call_id());
        CHECK(std::string(in->sip_from->a_tag) != c.caller->local_tag());
        CHECK_FALSE(f.pbx.saw(c.caller->call_id()));
        CHECK_FALSE(f.pbx.saw(c.caller->local_tag()));
        CHECK_FALSE(f.pbx.saw(f.carrier.host_port()));
        CHECK_FALSE(f.carrier.saw(in->sip_call_id->i_id));
        CHECK_FALSE(f.carrier.saw(c.invite->dialog().local_tag()));
        CHECK_FALSE(f.carrier.saw(f.pbx.host_port()));
        // One Via, the SBC's pbx side; Contacts are the SBC's own.
        CHECK(in->sip_via->v_next == nullptr);
        const auto pbx_side = f.pbx_side_uri("x").substr(std::string("sip:x@").size());
        const auto carrier_side = f.carrier_side_uri("x").substr(std::string("sip:x@").size());
        CHECK(via_host_port(in) == pbx_side);
        CHECK(contact_host_port(in) == pbx_side);
        CHECK(contact_host_port(c.ok) == carrier_side);
    }

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(f.media.only_session().closed);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    // The metrics' tally: one attempt answered, its 180 and its 200 timed.
    const auto& tally = f.sbc().tally().trunks().at("carrier");
    CHECK(tally.answered == 1);
    CHECK(tally.ringing.count == 1);
    CHECK(tally.setup.count == 1);
}

TEST_CASE("each leg's reception quality shows in stats and in the CDR", "[b2bua][call][quality]") {
    b2bua_fixture f;
    auto c = place_call(f);
    REQUIRE(f.media.sessions().size() == 1);
    const auto id = f.media.sessions().begin()->first;
    // What the data plane measured: leg a's peer lost 5 % with 30 ms of
    // jitter; leg b's peer sent nothing yet.
    dataplane::session_stats st;
    auto& a = st.sides[dataplane::index(side::a)];
    a.rtp_received = 950;
    a.rtp_expected = 1000;
    a.rtp_lost = 50;
    a.jitter_ms = 30;
    a.rtt_ms = 0.0;
    f.media.inject_stats(id, st);

    const auto stats = f.sbc().stats();
    REQUIRE(stats["calls"].size() == 1);
    const auto& legs = stats["calls"][0]["legs"];
    const auto& qa = legs["a"]["quality"];
    CHECK(qa["expected"] == 1000);
    CHECK(qa["lost"] == 50);
    CHECK(qa["loss_percent"].get<double>() == Approx(5.0));
    CHECK(qa["jitter_ms"].get<double>() == Approx(30.0));
    CHECK(qa["rtt_ms"].get<double>() == Approx(0.0));
    // G.711 (the fixture's PCMU): 3.8432 (tests/sbc/media_ctl/test_quality.cpp).
    CHECK(qa["mos"].get<double>() == Approx(3.8432).margin(1e-4));
    CHECK(legs["b"]["quality"].is_null());

    // The call list (sbcctl calls) carries the same figures, compactly.
    const auto calls = f.sbc().calls();
    REQUIRE(calls.size() == 1);
    REQUIRE(calls[0].quality_a.has_value());
    CHECK(calls[0].quality_a->loss_percent == Approx(5.0));
    CHECK(calls[0].quality_a->jitter_ms == Approx(30.0));
    CHECK(calls[0].quality_a->rtt_ms == Approx(0.0));
    CHECK(calls[0].quality_a->mos == Approx(3.8432).margin(1e-4));
    CHECK_FALSE(calls[0].quality_b.has_value());

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    const auto cdr = f.only_cdr();
    const auto& q = cdr["media"]["a"]["quality"];
    CHECK(q["rtp_expected"] == 1000);
    CHECK(q["rtp_lost"] == 50);
    CHECK(q["loss_percent"].get<double>() == Approx(5.0));
    CHECK(q["jitter_ms"].get<double>() == Approx(30.0));
    CHECK(q["rtt_ms"].get<double>() == Approx(0.0));
    CHECK(q["mos"].get<double>() == Approx(3.8432).margin(1e-4));
    CHECK(cdr["media"]["b"]["quality"].is_null());
}

TEST_CASE("a basic call hung up by the pbx", "[b2bua][call]") {
    b2bua_fixture f;
    auto c = place_call(f);
    auto& bye = c.invite->dialog().bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(f.media.only_session().closed);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a call the callee refuses: its 486 is relayed", "[b2bua][call]") {
    b2bua_fixture f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    call.expect(180);
    inv.reply(486);
    call.expect(486);  // nta ACKs it on both hops (RFC 3261 17.1.1.3)
    REQUIRE(f.calls_gone());
    CHECK(f.media.only_session().closed);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a call cancelled before the answer", "[b2bua][call][cancel]") {
    b2bua_fixture f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    call.expect(180);
    REQUIRE(call.cancel());
    f.pbx.expect("CANCEL");
    inv.reply(487);
    call.expect(487);
    REQUIRE(f.calls_gone());
    CHECK(f.media.only_session().closed);
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a delayed-offer INVITE passes through; the offer comes in the 200",
          "[b2bua][call][delayed-offer]") {
    b2bua_fixture f;  // the carrier trunk passes delayed offers (early_offer: pass)
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), "");
    auto& inv = f.pbx.expect("INVITE");
    CHECK(inv.body().empty());
    inv.reply(200, sdp_audio(pbx_rtp, "pbx"));
    const sip_t* ok = call.expect(200);
    CHECK(body_of(ok).find("m=audio") != std::string::npos);
    CHECK_FALSE(sdp_names_port(body_of(ok), pbx_rtp));
    call.ack(sdp_audio(carrier_rtp, "carrier"));
    auto& ack = f.pbx.expect("ACK");
    CHECK(ack.body().find("m=audio") != std::string::npos);
    CHECK_FALSE(sdp_names_port(ack.body(), carrier_rtp));
    check_media_programmed(f.media.only_session());
    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
}

TEST_CASE("a delayed offer towards a trunk with early_offer: convert leaves with an offer",
          "[b2bua][call][delayed-offer]") {
    b2bua_fixture f(carrier_trunk_with("early_offer: convert"));
    auto& call = f.pbx.invite(f.pbx_side_uri("14155550100"), "");
    auto& inv = f.carrier.expect("INVITE");
    CHECK(inv.body().find("m=audio") != std::string::npos);  // the SBC's own offer
    inv.reply(200, sdp_audio(carrier_rtp, "carrier"));
    const sip_t* ok = call.expect(200);
    CHECK(body_of(ok).find("m=audio") != std::string::npos);  // an offer to the pbx
    call.ack(sdp_audio(pbx_rtp, "pbx"));
    f.carrier.expect("ACK");
    auto& bye = call.bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
}

TEST_CASE("a delayed offer towards a trunk with early_offer: reject is refused with 488",
          "[b2bua][call][delayed-offer]") {
    b2bua_fixture f(carrier_trunk_with("early_offer: reject"));
    auto& call = f.pbx.invite(f.pbx_side_uri("14155550100"), "");
    call.expect(488);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
}
