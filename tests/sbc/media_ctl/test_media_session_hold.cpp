// Holds between a trunk that states them a=inactive (Microsoft direct
// routing, `hold: inactive`, leg a here) and one that passes them (the PBX,
// leg b): the directions each leg is offered and answered, and the media
// timeout, which must not apply while either side holds (media_expected).
#include <catch2/catch.hpp>

#include <string>

#include "tests/sbc/media_ctl/media_call.hpp"

// Its own namespace: in a unity build this file shares a translation unit
// with the other media session tests.
namespace test_media_session_hold {

using sbc::dataplane::side;
using sbc::sdp::direction;
using sbc::test::carrier_peer;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_peer;
using sbc::test::peer_sdp;
using sbc::test::trunk_keys;
using sbc::test::why;

namespace {

peer_sdp with(peer_sdp p, const std::string& dir) {
    p.direction = dir;
    return p;
}

direction direction_of(const sbc::result<std::string>& sdp) {
    INFO(why(sdp));
    REQUIRE(sdp);
    return parsed(*sdp).audio().dir;
}

trunk_keys carrier_holds(const std::string& style) {
    return trunk_keys{.carrier = "hold: " + style};
}

}  // namespace

TEST_CASE("an a=inactive hold from the inactive trunk reaches the other leg a=sendonly",
          "[media_ctl][hold]") {
    media_call call(carrier_holds("inactive"));
    call.connect();
    REQUIRE(call.media.media_expected());

    const auto to_pbx = call.offer(side::a, with(carrier_peer(), "inactive"));
    CHECK(direction_of(to_pbx) == direction::sendonly);
    CHECK(parsed(*to_pbx).audio().rtp.to_string() == "127.0.2.1:40002");
    CHECK_FALSE(call.media.media_expected());
    // RFC 3264 6.1: the PBX's a=recvonly does not fit an a=inactive offer.
    CHECK(direction_of(call.answer(side::b, with(pbx_peer(), "recvonly"))) == direction::inactive);
    CHECK_FALSE(call.media.media_expected());

    CHECK(direction_of(call.offer(side::a, carrier_peer())) == direction::sendrecv);
    CHECK(direction_of(call.answer(side::b, pbx_peer())) == direction::sendrecv);
    CHECK(call.media.media_expected());
    // Each peer is sent media where it said it receives, as before the hold.
    CHECK(call.programmed().of(side::a).rtp->to_string() == "192.0.2.10:30000");
    CHECK(call.programmed().of(side::b).rtp->to_string() == "198.51.100.20:31000");
}

TEST_CASE("a hold towards the inactive trunk is offered a=inactive, with the SBC's address",
          "[media_ctl][hold]") {
    for (const std::string how : {"sendonly", "inactive", "c=0.0.0.0"}) {
        DYNAMIC_SECTION("the PBX holds with " << how) {
            media_call call(carrier_holds("inactive"));
            call.connect();
            auto hold = pbx_peer();
            if (how == "c=0.0.0.0") {
                hold.connection = "0.0.0.0";
            } else {
                hold.direction = how;
            }
            const auto to_carrier = call.offer(side::b, hold);
            CHECK(direction_of(to_carrier) == direction::inactive);
            CHECK(parsed(*to_carrier).audio().rtp.to_string() == "127.0.1.1:40000");
            CHECK_FALSE(call.media.media_expected());
            // Microsoft answers the only answer an a=inactive offer allows;
            // the PBX's hold is answered as RFC 3264 8.4 answers a hold: it
            // may send (its music on hold) unless it said it would not.
            const auto answer = call.answer(side::a, with(carrier_peer(), "inactive"));
            const bool pbx_sends = how != "inactive";
            CHECK(direction_of(answer) == (pbx_sends ? direction::recvonly : direction::inactive));
            CHECK_FALSE(call.media.media_expected());

            CHECK(direction_of(call.offer(side::b, pbx_peer())) == direction::sendrecv);
            CHECK(direction_of(call.answer(side::a, carrier_peer())) == direction::sendrecv);
            CHECK(call.media.media_expected());
        }
    }
}

TEST_CASE("a sendonly trunk is offered every hold a=sendonly", "[media_ctl][hold]") {
    media_call call(carrier_holds("sendonly"));
    call.connect();
    auto hold = pbx_peer();
    hold.connection = "0.0.0.0";
    hold.direction = "recvonly";  // c=0.0.0.0 and not sending: inactive (RFC 3264 8.4)
    const auto to_carrier = call.offer(side::b, hold);
    CHECK(direction_of(to_carrier) == direction::sendonly);
    CHECK(to_carrier->find("0.0.0.0") == std::string::npos);
    // The carrier's a=recvonly does not fit the PBX's offer, in effect inactive.
    CHECK(direction_of(call.answer(side::a, with(carrier_peer(), "recvonly"))) ==
          direction::inactive);
}

TEST_CASE("between pass trunks an answer that does not fit its offer is clamped",
          "[media_ctl][hold]") {
    media_call call;
    call.connect();
    CHECK(direction_of(call.offer(side::a, with(carrier_peer(), "sendonly"))) ==
          direction::sendonly);
    // RFC 3264 6.1: an answer to a sendonly offer is recvonly or inactive.
    CHECK(direction_of(call.answer(side::b, pbx_peer())) == direction::recvonly);
    CHECK(direction_of(call.offer(side::b, with(pbx_peer(), "recvonly"))) == direction::recvonly);
    CHECK(direction_of(call.answer(side::a, carrier_peer())) == direction::sendonly);
}

TEST_CASE("a repeated answer (183, then 200) is mapped the same way", "[media_ctl][hold]") {
    media_call call(carrier_holds("inactive"));
    // The carrier's first offer already holds (a call set up on hold).
    CHECK(direction_of(call.offer(side::a, with(carrier_peer(), "inactive"))) ==
          direction::sendonly);
    CHECK(direction_of(call.answer(side::b, with(pbx_peer(), "recvonly"))) == direction::inactive);
    CHECK(direction_of(call.answer(side::b, with(pbx_peer(), "recvonly"))) == direction::inactive);
}

}  // namespace test_media_session_hold
