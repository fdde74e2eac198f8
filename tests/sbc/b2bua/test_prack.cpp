// Reliable provisional responses (RFC 3262), negotiated per leg: the SBC
// PRACKs a callee's reliable 18x itself, and gives a caller its 18x
// reliably only when the caller's INVITE supports 100rel; each leg has its
// own RSeq space. tests/e2e/test_dialog.py prack_on_one_leg_only and
// reliable_183_to_a_caller_that_supports_it show it with sipp.
#include <catch2/catch.hpp>

#include <sofia-sip/sip_util.h>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_rtp;
using sbc::test::pbx_rtp;
using sbc::test::sdp_audio;
using sbc::test::sdp_names_port;

namespace {

// The carrier's reliable 183 reaches the SBC, which PRACKs it on the
// carrier's leg (RAck: the 183's RSeq, the INVITE's CSeq, RFC 3262 7.2);
// the carrier answers the PRACK.
void carrier_rings_reliably(b2bua_fixture& f, sbc::test::incoming_request& inv) {
    inv.reply_reliable(183, sdp_audio(carrier_rtp, "carrier"));
    auto& prack = f.carrier.expect("PRACK");
    CHECK(&prack.dialog() == &inv.dialog());
    const sip_t* sip = prack.sip();
    REQUIRE(sip->sip_rack != nullptr);
    CHECK(sip->sip_rack->ra_response > 0);
    CHECK(sip->sip_rack->ra_cseq == inv.sip()->sip_cseq->cs_seq);
    CHECK(sip->sip_rack->ra_method == sip_method_invite);
    prack.reply(200);
}

// The rest of the call: the carrier answers, the pbx hangs up.
void answer_and_hang_up(b2bua_fixture& f, sbc::test::peer_dialog& call,
                        sbc::test::incoming_request& inv) {
    inv.reply(200, sdp_audio(carrier_rtp, "carrier"));
    call.expect(200);
    call.ack();
    f.carrier.expect("ACK");
    auto& bye = call.bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

}  // namespace

TEST_CASE("a callee's reliable 183 is PRACKed on its leg; a caller without 100rel gets a plain 183",
          "[b2bua][prack][100rel]") {
    b2bua_fixture f;
    auto& call = f.pbx.invite(f.pbx_side_uri("14155550100"), sdp_audio(pbx_rtp, "pbx"));
    auto& inv = f.carrier.expect("INVITE");
    // The SBC offers 100rel on the leg it originates (RFC 3262 4).
    CHECK(sip_has_feature(inv.sip()->sip_supported, "100rel"));
    carrier_rings_reliably(f, inv);

    const sip_t* early = call.expect(183);
    CHECK(early->sip_rseq == nullptr);
    CHECK_FALSE(sip_has_feature(early->sip_require, "100rel"));
    // The early media's SDP is relayed, rewritten to the SBC's address.
    CHECK(body_of(early).find("m=audio") != std::string::npos);
    CHECK_FALSE(sdp_names_port(body_of(early), carrier_rtp));
    answer_and_hang_up(f, call, inv);
}

TEST_CASE("a caller that supports 100rel gets its 183 reliably and the SBC answers its PRACK",
          "[b2bua][prack][100rel]") {
    b2bua_fixture f;
    auto& call = f.pbx.invite(f.pbx_side_uri("14155550100"), sdp_audio(pbx_rtp, "pbx"), "caller",
                              "Supported: 100rel\r\n");
    auto& inv = f.carrier.expect("INVITE");
    SECTION("the callee's 183 was reliable too") { carrier_rings_reliably(f, inv); }
    SECTION("the callee's 183 was not") { inv.reply(183, sdp_audio(carrier_rtp, "carrier")); }

    const sip_t* early = call.expect(183);
    REQUIRE(early->sip_rseq != nullptr);
    CHECK(sip_has_feature(early->sip_require, "100rel"));
    CHECK(body_of(early).find("m=audio") != std::string::npos);
    CHECK_FALSE(sdp_names_port(body_of(early), carrier_rtp));
    // RFC 3262 3: the SBC, as the 183's sender, answers the PRACK itself;
    // nothing of it reaches the carrier.
    call.prack(early).expect(200);
    f.carrier.expect_nothing_more();
    answer_and_hang_up(f, call, inv);
}
