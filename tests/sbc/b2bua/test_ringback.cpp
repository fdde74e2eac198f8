// Local ringback (trunk `ringback: local` on the caller's trunk): a callee
// that alerts with a 180 without SDP makes the SBC answer the caller itself
// in a 183 and play the ringback tone to it, until the callee's own early
// media or final answer; the answer the caller got stays the answer
// (RFC 3261 13.2.1). tests/e2e/test_ringback.py hears the tone.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>

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

namespace ringback_tests {

sbc::test::topology carrier_rings_locally(const std::string& extra = {}) {
    sbc::test::topology t;
    t.carrier_trunk.push_back("ringback: local");
    if (!extra.empty()) {
        t.carrier_trunk.push_back(extra);
    }
    return t;
}

// SDP of G.729 (18) and/or PCMA (8), in the order `payload_types` gives.
std::string sdp_g729_pcma(std::uint16_t port, const std::string& payload_types = "18 8") {
    return fmt::format(
        "v=0\r\n"
        "o=peer 1 1 IN IP4 127.0.0.1\r\n"
        "s=peer\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        "m=audio {} RTP/AVP {}\r\n"
        "a=rtpmap:18 G729/8000\r\n"
        "a=fmtp:18 annexb=no\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=sendrecv\r\n",
        port, payload_types);
}

const sbc::test::fake_session::side_state& caller_side(b2bua_fixture& f) {
    return f.media.only_session().of(side::a);
}

void hang_up(b2bua_fixture& f, sbc::test::peer_dialog& call) {
    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

}  // namespace ringback_tests

TEST_CASE("ringback local: a 180 without SDP reaches the caller as a 183 with the SBC's answer",
          "[b2bua][ringback]") {
    b2bua_fixture f{ringback_tests::carrier_rings_locally()};
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    const sip_t* early = call.expect(183);
    INFO(fmt::format("{}", fmt::join(f.media.journal(), "\n")));
    const std::string answer = body_of(early);
    // The SBC's own media port on the caller's leg, the caller's PCMU and
    // telephone-event numbers (RFC 3264 6.1).
    CHECK(answer.find(fmt::format("m=audio {} RTP/AVP 0 101",
                                  f.media.only_session().ports.rtp[0])) != std::string::npos);
    REQUIRE(ringback_tests::caller_side(f).tone.has_value());
    CHECK(ringback_tests::caller_side(f).tone->encoding == "PCMU");
    CHECK(ringback_tests::caller_side(f).tone->payload_type == 0);

    SECTION("the 200 stops the tone and repeats the 183's answer") {
        inv.reply(200, sdp_audio(pbx_rtp, "pbx"));
        const sip_t* ok = call.expect(200);
        CHECK_FALSE(ringback_tests::caller_side(f).tone.has_value());
        CHECK(ringback_tests::caller_side(f).tones_stopped == 1);
        CHECK(body_of(ok) == answer);
        call.ack();
        f.pbx.expect("ACK");
        ringback_tests::hang_up(f, call);
    }
    SECTION("the callee's own early media stops the tone") {
        inv.reply(183, sdp_audio(pbx_rtp, "pbx"));
        const sip_t* media = call.expect(183);
        CHECK_FALSE(ringback_tests::caller_side(f).tone.has_value());
        CHECK(body_of(media) == answer);
        inv.reply(200, sdp_audio(pbx_rtp, "pbx"));
        call.expect(200);
        call.ack();
        f.pbx.expect("ACK");
        ringback_tests::hang_up(f, call);
    }
    SECTION("a failure stops the tone and is relayed") {
        inv.reply(486);
        call.expect(486);
        CHECK_FALSE(ringback_tests::caller_side(f).tone.has_value());
        REQUIRE(f.calls_gone());
    }
}

TEST_CASE("ringback off (the default): a 180 without SDP is relayed as it came",
          "[b2bua][ringback]") {
    b2bua_fixture f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    const sip_t* ringing = call.expect(180);
    CHECK(body_of(ringing).empty());
    CHECK(ringback_tests::caller_side(f).tones_started == 0);
    inv.reply(200, sdp_audio(pbx_rtp, "pbx"));
    call.expect(200);
    call.ack();
    f.pbx.expect("ACK");
    ringback_tests::hang_up(f, call);
}

TEST_CASE("ringback local: a caller that requires 100rel gets the 183 reliably",
          "[b2bua][ringback][100rel]") {
    b2bua_fixture f{ringback_tests::carrier_rings_locally()};
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"),
                                  "caller", "Require: 100rel\r\n");
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    const sip_t* early = call.expect(183);
    REQUIRE(early->sip_rseq != nullptr);
    CHECK(sip_has_feature(early->sip_require, "100rel"));
    CHECK(body_of(early).find("m=audio") != std::string::npos);
    call.prack(early).expect(200);
    CHECK(ringback_tests::caller_side(f).tone.has_value());
    inv.reply(200, sdp_audio(pbx_rtp, "pbx"));
    call.expect(200);
    call.ack();
    f.pbx.expect("ACK");
    ringback_tests::hang_up(f, call);
}

TEST_CASE("ringback local: the callee answering another codec is transcoded to the 183's",
          "[b2bua][ringback]") {
    // The caller offers G.729 and PCMA; its trunk prefers PCMA: the 183
    // answers PCMA. The callee's trunk takes G.729 first and answers it.
    auto t = ringback_tests::carrier_rings_locally("codecs: [PCMA, G729]");
    t.pbx_trunk.push_back("codecs: [G729, PCMA]");
    b2bua_fixture f{t};
    auto& call =
        f.carrier.invite(f.carrier_side_uri("2000"), ringback_tests::sdp_g729_pcma(carrier_rtp));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    const sip_t* early = call.expect(183);
    const std::string answer = body_of(early);
    INFO(answer);
    CHECK(answer.find("RTP/AVP 8\r\n") != std::string::npos);
    REQUIRE(ringback_tests::caller_side(f).tone.has_value());
    CHECK(ringback_tests::caller_side(f).tone->encoding == "PCMA");

    CHECK(inv.body().find("RTP/AVP 18 8") != std::string::npos);
    inv.reply(200, ringback_tests::sdp_g729_pcma(pbx_rtp, "18"));
    const sip_t* ok = call.expect(200);
    CHECK(body_of(ok) == answer);
    // A codec chain each way: G.729 from the callee becomes the PCMA the
    // caller was answered with.
    CHECK(f.media.only_session().of(side::a).chain);
    CHECK(f.media.only_session().of(side::b).chain);
    call.ack();
    f.pbx.expect("ACK");
    ringback_tests::hang_up(f, call);
}

TEST_CASE("ringback local: a caller's INVITE without SDP gets the 180 as it came",
          "[b2bua][ringback]") {
    b2bua_fixture f{ringback_tests::carrier_rings_locally()};
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), "");
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    const sip_t* ringing = call.expect(180);
    CHECK(body_of(ringing).empty());
    CHECK(ringback_tests::caller_side(f).tones_started == 0);
    inv.reply(486);
    call.expect(486);
    REQUIRE(f.calls_gone());
}
