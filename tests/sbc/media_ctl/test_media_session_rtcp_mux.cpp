// media_session's RTCP multiplexing (RFC 5761, RFC 8035) per trunk
// `rtcp_mux`: which SDP says a=rtcp-mux, and which side the engine is told
// to mux.
#include <catch2/catch.hpp>

#include "tests/sbc/media_ctl/media_call.hpp"

using sbc::config::srtp_suite;
using sbc::dataplane::side;
using sbc::test::carrier_peer;
using sbc::test::contains;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_peer;
using sbc::test::peer_crypto;
using sbc::test::why;

namespace {

sbc::test::peer_sdp muxing(sbc::test::peer_sdp p) {
    p.attributes.push_back("rtcp-mux");
    return p;
}

}  // namespace

TEST_CASE("rtcp-mux offered by a peer is accepted by default, on that leg only",
          "[media_ctl][rtcp_mux]") {
    media_call call;
    auto to_pbx = call.offer(side::a, muxing(carrier_peer()));
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    // The PBX's trunk (accept) is not asked for it: the peer's never crosses.
    CHECK_FALSE(contains(*to_pbx, "a=rtcp-mux"));
    CHECK(contains(*to_pbx, "a=rtcp:40003"));
    const auto& a = call.programmed().of(side::a);
    CHECK(a.rtcp_mux);
    // RFC 5761 5.1.3: the muxed peer's RTCP goes where its RTP goes.
    REQUIRE(a.rtcp);
    CHECK(a.rtcp->to_string() == "192.0.2.10:30000");

    auto to_carrier = call.answer(side::b, pbx_peer());
    REQUIRE(to_carrier);
    CHECK(contains(*to_carrier, "a=rtcp-mux"));
    CHECK(contains(*to_carrier, "a=rtcp:40000\r\n"));  // RTCP on the RTP port
    CHECK(parsed(*to_carrier).audio().rtcp_mux);
    CHECK_FALSE(call.programmed().of(side::b).rtcp_mux);
    CHECK(call.journal("set_rtcp_mux").size() == 1);
}

TEST_CASE("rtcp_mux: off keeps today's SDP: the peer's a=rtcp-mux is dropped, nothing muxed",
          "[media_ctl][rtcp_mux]") {
    media_call call({.carrier = "rtcp_mux: off", .pbx = "rtcp_mux: off"});
    auto to_pbx = call.offer(side::a, muxing(carrier_peer()));
    REQUIRE(to_pbx);
    CHECK_FALSE(contains(*to_pbx, "a=rtcp-mux"));
    auto to_carrier = call.answer(side::b, muxing(pbx_peer()));
    REQUIRE(to_carrier);
    CHECK_FALSE(contains(*to_carrier, "a=rtcp-mux"));
    CHECK(contains(*to_carrier, "a=rtcp:40001"));
    CHECK(call.journal("set_rtcp_mux").empty());
    CHECK(call.programmed().of(side::a).rtcp->to_string() == "192.0.2.10:30001");
}

TEST_CASE("rtcp_mux: offer asks with a=rtcp fallback, and muxes only if the answer agrees",
          "[media_ctl][rtcp_mux]") {
    SECTION("the answer agrees") {
        media_call call({.pbx = "rtcp_mux: offer"});
        auto to_pbx = call.offer(side::a, carrier_peer());
        REQUIRE(to_pbx);
        CHECK(contains(*to_pbx, "a=rtcp-mux"));
        CHECK(contains(*to_pbx, "a=rtcp:40003"));  // RFC 5761 5.1.3's fallback
        CHECK(call.journal("set_rtcp_mux").empty());
        auto to_carrier = call.answer(side::b, muxing(pbx_peer()));
        REQUIRE(to_carrier);
        CHECK_FALSE(contains(*to_carrier, "a=rtcp-mux"));  // the carrier never asked
        CHECK(call.programmed().of(side::b).rtcp_mux);
        CHECK_FALSE(call.programmed().of(side::a).rtcp_mux);
        CHECK(call.programmed().of(side::b).rtcp->to_string() == "198.51.100.20:31000");

        // RFC 8035: a re-offer towards the muxed leg keeps asking.
        auto again = call.offer(side::a, carrier_peer());
        REQUIRE(again);
        CHECK(contains(*again, "a=rtcp-mux"));
    }
    SECTION("the answer declines") {
        media_call call({.pbx = "rtcp_mux: offer"});
        REQUIRE(call.offer(side::a, carrier_peer()));
        auto to_carrier = call.answer(side::b, pbx_peer());
        REQUIRE(to_carrier);
        CHECK_FALSE(call.programmed().of(side::b).rtcp_mux);
        CHECK(call.journal("set_rtcp_mux").empty());
        CHECK(call.programmed().of(side::b).rtcp->to_string() == "198.51.100.20:31001");
    }
}

TEST_CASE("rtcp-mux: the SBC's own offer carries it on an offer trunk", "[media_ctl][rtcp_mux]") {
    media_call call({.pbx = "early_offer: convert, rtcp_mux: offer"});
    auto offer = call.media.own_offer(side::b, call.to_b);
    INFO(why(offer));
    REQUIRE(offer);
    CHECK(contains(*offer, "a=rtcp:40003\r\na=rtcp-mux\r\n"));
    CHECK(parsed(*offer).audio().rtcp_mux);
}

TEST_CASE("rtcp-mux: a re-offer without it from the muxed peer ends muxing",
          "[media_ctl][rtcp_mux]") {
    media_call call;
    call.connect(muxing(carrier_peer()), pbx_peer());
    CHECK(call.programmed().of(side::a).rtcp_mux);
    // The re-offer the SBC sends to the muxed leg keeps a=rtcp-mux (RFC 8035).
    auto reoffer = call.offer(side::b, pbx_peer());
    REQUIRE(reoffer);
    CHECK(contains(*reoffer, "a=rtcp-mux"));
    // The carrier answers without it: RFC 5761 5.1.3, back to RTP + 1.
    REQUIRE(call.answer(side::a, carrier_peer()));
    CHECK_FALSE(call.programmed().of(side::a).rtcp_mux);
    CHECK(call.programmed().of(side::a).rtcp->to_string() == "192.0.2.10:30001");
}

TEST_CASE("rtcp-mux with SDES SRTP: muxed and keyed on the same leg",
          "[media_ctl][rtcp_mux][srtp]") {
    media_call call({.carrier = "srtp: required"});
    auto offer = muxing(carrier_peer());
    offer.profile = "RTP/SAVP";
    offer.attributes.push_back(peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11));
    REQUIRE(call.offer(side::a, offer));
    auto to_carrier = call.answer(side::b, pbx_peer());
    REQUIRE(to_carrier);
    CHECK(contains(*to_carrier, "a=rtcp-mux"));
    CHECK(contains(*to_carrier, "a=crypto:1 AES_CM_128_HMAC_SHA1_80"));
    const auto& a = call.programmed().of(side::a);
    // RFC 5761 5.1.3 / RFC 3711 3.4: SRTCP with the leg's own context.
    CHECK(a.rtcp_mux);
    CHECK(a.srtp_in);
    CHECK(a.srtp_out);
}
