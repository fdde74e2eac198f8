// media_session's ICE-lite (RFC 8445 2.5) per trunk `ice`: which SDP carries
// the SBC's credentials and candidates, which credentials the engine is
// given per side, and how they live through 183/200, re-offers and an ICE
// restart (RFC 8839 4.4).
#include <catch2/catch.hpp>

#include "tests/sbc/media_ctl/media_call.hpp"

namespace media_session_ice_test {

using sbc::dataplane::side;
using sbc::test::carrier_peer;
using sbc::test::contains;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_peer;
using sbc::test::peer_sdp;
using sbc::test::why;

// A peer that does ICE: its credentials and a host candidate.
peer_sdp with_ice(peer_sdp p, const std::string& ufrag = "CarR",
                  const std::string& pwd = "CarrierPasswordOf22Chr") {
    p.attributes.push_back("ice-ufrag:" + ufrag);
    p.attributes.push_back("ice-pwd:" + pwd);
    p.attributes.push_back("candidate:1 1 UDP 2130706431 " + p.address + " " +
                           std::to_string(p.port) + " typ host");
    return p;
}

sbc::sdp::ice_attributes ice_of(const std::string& body) {
    auto ice = parsed(body).ice();
    REQUIRE(ice);
    return *ice;
}

TEST_CASE("ice: lite answers a peer's ICE offer with its own, and tells the engine",
          "[media_ctl][ice]") {
    media_call call({.carrier = "ice: lite"});
    auto to_pbx = call.offer(side::a, with_ice(carrier_peer()));
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    // The PBX's trunk has ICE off: nothing of ICE, the carrier's least of all.
    CHECK_FALSE(contains(*to_pbx, "ice-"));
    CHECK_FALSE(contains(*to_pbx, "candidate"));
    CHECK(call.programmed().of(side::a).ice_set == 0);  // not before the answer

    auto ringing = call.answer(side::b, pbx_peer());  // the 183
    REQUIRE(ringing);
    INFO(*ringing);
    CHECK(contains(*ringing, "a=ice-lite\r\n"));
    CHECK(contains(*ringing, "a=candidate:1 1 UDP 2130706431 127.0.1.1 40000 typ host\r\n"));
    CHECK(contains(*ringing, "a=candidate:1 2 UDP 2130706430 127.0.1.1 40001 typ host\r\n"));
    CHECK_FALSE(contains(*ringing, "CarR"));
    const auto sbc = ice_of(*ringing);
    const auto& a = call.programmed().of(side::a);
    REQUIRE(a.ice);
    CHECK(a.ice->local_ufrag == sbc.ufrag);
    CHECK(a.ice->local_pwd == sbc.pwd);
    CHECK(a.ice->remote_ufrag == "CarR");
    CHECK(a.ice_set == 1);
    CHECK_FALSE(call.programmed().of(side::b).ice);
    CHECK(call.media.ice_in_use(side::a));
    CHECK(call.media.ice_ufrag(side::a) == sbc.ufrag);
    CHECK_FALSE(call.media.ice_in_use(side::b));

    auto answered = call.answer(side::b, pbx_peer());  // the 200
    REQUIRE(answered);
    CHECK(ice_of(*answered) == sbc);
    CHECK(call.programmed().of(side::a).ice_set == 1);
}

TEST_CASE("ice: a re-offer keeps the credentials, new peer ones restart ICE", "[media_ctl][ice]") {
    media_call call({.carrier = "ice: lite"});
    call.connect(with_ice(carrier_peer()), pbx_peer());
    const auto before = call.programmed().of(side::a).ice;
    REQUIRE(before);

    SECTION("the same credentials again") {
        REQUIRE(call.offer(side::a, with_ice(carrier_peer())));
        auto answer = call.answer(side::b, pbx_peer());
        REQUIRE(answer);
        CHECK(ice_of(*answer).ufrag == before->local_ufrag);
        CHECK(call.programmed().of(side::a).ice_set == 1);
    }
    SECTION("an ICE restart (RFC 8445 9)") {
        REQUIRE(call.offer(side::a, with_ice(carrier_peer(), "New1", "NewCarrierPassword22ch")));
        auto answer = call.answer(side::b, pbx_peer());
        REQUIRE(answer);
        const auto now = ice_of(*answer);
        CHECK(now.ufrag != before->local_ufrag);
        CHECK(now.pwd != before->local_pwd);
        const auto& a = call.programmed().of(side::a);
        REQUIRE(a.ice);
        CHECK(a.ice->local_ufrag == now.ufrag);
        CHECK(a.ice->remote_ufrag == "New1");
        CHECK(a.ice_set == 2);
    }
    SECTION("a re-offer without ICE ends it") {
        REQUIRE(call.offer(side::a, carrier_peer()));
        auto answer = call.answer(side::b, pbx_peer());
        REQUIRE(answer);
        CHECK_FALSE(contains(*answer, "ice-"));
        CHECK_FALSE(call.programmed().of(side::a).ice);
        CHECK(call.programmed().of(side::a).ice_set == 2);
    }
}

TEST_CASE("ice: an offer without ICE to a lite trunk is answered without it", "[media_ctl][ice]") {
    media_call call({.carrier = "ice: lite"});
    call.connect();
    auto answer = call.answer(side::b, pbx_peer());
    REQUIRE(answer);
    CHECK_FALSE(contains(*answer, "ice-"));
    CHECK_FALSE(contains(*answer, "candidate"));
    CHECK(call.programmed().of(side::a).ice_set == 0);
    CHECK_FALSE(call.media.ice_in_use(side::a));
}

TEST_CASE("ice: the SBC's offer to a lite trunk carries ICE, the answer settles it",
          "[media_ctl][ice]") {
    media_call call({.pbx = "ice: lite, rtcp_mux: offer"});
    auto to_pbx = call.offer(side::a, with_ice(carrier_peer()));
    REQUIRE(to_pbx);
    INFO(*to_pbx);
    CHECK(contains(*to_pbx, "a=ice-lite\r\n"));
    // Offering mux keeps the RTCP candidate for a peer that declines it.
    CHECK(contains(*to_pbx, "a=candidate:1 2 UDP 2130706430 127.0.2.1 40003 typ host\r\n"));
    const auto sbc = ice_of(*to_pbx);
    // Checks may come before the answer (RFC 8445 7.3): any peer ufrag.
    const auto& b = call.programmed().of(side::b);
    REQUIRE(b.ice);
    CHECK(b.ice->local_ufrag == sbc.ufrag);
    CHECK(b.ice->remote_ufrag.empty());
    // The carrier (ice off) gets no ICE in its answer.
    auto peer = with_ice(pbx_peer(), "PbxU", "PbxPasswordOfTwentyTwo");
    peer.attributes.push_back("rtcp-mux");
    auto to_carrier = call.answer(side::b, peer);
    REQUIRE(to_carrier);
    CHECK_FALSE(contains(*to_carrier, "ice-"));
    CHECK(call.programmed().of(side::b).ice->remote_ufrag == "PbxU");

    // The SBC's next offer there (a re-INVITE from the carrier) restates
    // them; the leg is muxed now, yet an offer keeps component 2.
    auto again = call.offer(side::a, carrier_peer());
    REQUIRE(again);
    CHECK(ice_of(*again) == sbc);
    // The answer without ICE ends it on the leg.
    REQUIRE(call.answer(side::b, pbx_peer()));
    CHECK_FALSE(call.programmed().of(side::b).ice);
}

TEST_CASE("ice: the state names each leg's credentials, the passwords as secrets",
          "[media_ctl][ice]") {
    media_call call({.carrier = "ice: lite"});
    call.connect(with_ice(carrier_peer()), pbx_peer());
    const auto state = call.media.state();
    const auto& a = state.legs[0];
    REQUIRE(a.ice);
    CHECK(a.ice->in_use);
    CHECK(a.ice->local_ufrag == call.programmed().of(side::a).ice->local_ufrag);
    const auto& pwd = call.programmed().of(side::a).ice->local_pwd;
    CHECK(a.ice->local_pwd.bytes() == std::vector<std::uint8_t>(pwd.begin(), pwd.end()));
    CHECK(a.ice->peer_ufrag == "CarR");
    CHECK_FALSE(state.legs[1].ice);
}

}  // namespace media_session_ice_test
