// How holds cross the SBC (sdp/hold_direction.hpp): the direction of a
// relayed offer by the hold styles of the trunks on each side (trunk key
// `hold`), and the RFC 3264 6.1 fit of the answer relayed back.
#include <catch2/catch.hpp>

#include <string>

#include "sbc/sdp/hold_direction.hpp"
#include "sbc/sdp/session_description.hpp"

// Its own namespace: in a unity build this file shares a translation unit
// with the other sdp tests.
namespace test_hold_direction {

using sbc::config::hold_style;
using sbc::sdp::direction;
using sbc::sdp::relayed_answer_direction;
using sbc::sdp::relayed_offer_direction;

namespace {

constexpr direction sendrecv = direction::sendrecv;
constexpr direction sendonly = direction::sendonly;
constexpr direction recvonly = direction::recvonly;
constexpr direction inactive = direction::inactive;

// RFC 3264 6.1: what an answer to an offer of `offer` may state.
bool fits(direction answer, direction offer) {
    using sbc::sdp::receives;
    using sbc::sdp::sends;
    return (!sends(answer) || receives(offer)) && (!receives(answer) || sends(offer));
}

std::string sdp_with(const std::string& connection, const std::string& dir) {
    return "v=0\r\n"
           "o=peer 1 1 IN IP4 192.0.2.10\r\n"
           "s=-\r\n"
           "c=IN IP4 " +
           connection +
           "\r\n"
           "t=0 0\r\n"
           "m=audio 30000 RTP/AVP 0\r\n"
           "a=" +
           dir + "\r\n";
}

}  // namespace

TEST_CASE("towards a pass trunk an offer keeps its direction", "[sdp][hold]") {
    for (auto d : {sendrecv, sendonly, recvonly, inactive}) {
        CAPTURE(sbc::sdp::to_string(d));
        CHECK(relayed_offer_direction(d, hold_style::pass, hold_style::pass) == d);
        CHECK(relayed_offer_direction(d, hold_style::sendonly, hold_style::pass) == d);
    }
}

TEST_CASE("towards an inactive trunk a hold is offered a=inactive", "[sdp][hold]") {
    // Microsoft direct routing: a PBX's a=sendonly (or c=0.0.0.0, read as
    // sendonly or inactive) reaches the platform as a=inactive.
    for (auto from : {hold_style::pass, hold_style::sendonly, hold_style::inactive}) {
        CHECK(relayed_offer_direction(sendonly, from, hold_style::inactive) == inactive);
        CHECK(relayed_offer_direction(inactive, from, hold_style::inactive) == inactive);
        CHECK(relayed_offer_direction(sendrecv, from, hold_style::inactive) == sendrecv);
        // recvonly is no hold by the offerer: it asks to receive.
        CHECK(relayed_offer_direction(recvonly, from, hold_style::inactive) == recvonly);
    }
}

TEST_CASE("towards a sendonly trunk a hold is offered a=sendonly", "[sdp][hold]") {
    for (auto from : {hold_style::pass, hold_style::sendonly, hold_style::inactive}) {
        CHECK(relayed_offer_direction(sendonly, from, hold_style::sendonly) == sendonly);
        CHECK(relayed_offer_direction(inactive, from, hold_style::sendonly) == sendonly);
        CHECK(relayed_offer_direction(sendrecv, from, hold_style::sendonly) == sendrecv);
        CHECK(relayed_offer_direction(recvonly, from, hold_style::sendonly) == recvonly);
    }
}

TEST_CASE("an inactive trunk's a=inactive hold reaches a pass trunk as a=sendonly", "[sdp][hold]") {
    CHECK(relayed_offer_direction(inactive, hold_style::inactive, hold_style::pass) == sendonly);
    CHECK(relayed_offer_direction(sendonly, hold_style::inactive, hold_style::pass) == sendonly);
    // Resume passes as it is.
    CHECK(relayed_offer_direction(sendrecv, hold_style::inactive, hold_style::pass) == sendrecv);
    // Between two trunks that both hold with a=inactive it stays so.
    CHECK(relayed_offer_direction(inactive, hold_style::inactive, hold_style::inactive) ==
          inactive);
}

TEST_CASE("an answer relayed unconverted is clamped to fit its offer (RFC 3264 6.1)",
          "[sdp][hold]") {
    // The SBC offered what it received: the answer passes when it fits, and
    // is narrowed to what the offer allows when it does not.
    for (auto offer : {sendrecv, sendonly, recvonly, inactive}) {
        for (auto answer : {sendrecv, sendonly, recvonly, inactive}) {
            CAPTURE(sbc::sdp::to_string(offer), sbc::sdp::to_string(answer));
            const auto relayed = relayed_answer_direction(answer, offer, offer);
            CHECK(fits(relayed, offer));
            if (fits(answer, offer)) {
                CHECK(relayed == answer);
            }
        }
    }
    CHECK(relayed_answer_direction(sendrecv, sendonly, sendonly) == recvonly);
    CHECK(relayed_answer_direction(sendrecv, recvonly, recvonly) == sendonly);
    CHECK(relayed_answer_direction(recvonly, inactive, inactive) == inactive);
}

TEST_CASE("an answer to a converted hold is mapped back to the original offer", "[sdp][hold]") {
    // Microsoft holds a=inactive, the PBX was offered a=sendonly and answers
    // a=recvonly: Microsoft's answer is a=inactive, the only one its offer allows.
    CHECK(relayed_answer_direction(recvonly, sendonly, inactive) == inactive);
    CHECK(relayed_answer_direction(inactive, sendonly, inactive) == inactive);
    // The PBX holds a=sendonly, Microsoft was offered a=inactive and had to
    // answer a=inactive: that says nothing of whether it would listen, so
    // the PBX gets a=recvonly, the answer RFC 3264 8.4 gives a hold.
    CHECK(relayed_answer_direction(inactive, inactive, sendonly) == recvonly);
    // A c=0.0.0.0 hold offered as a=sendonly to a sendonly trunk, and
    // answered a=recvonly.
    CHECK(relayed_answer_direction(recvonly, sendonly, inactive) == inactive);
    // Whatever the answerer says, the result fits the original offer.
    for (auto received : {sendrecv, sendonly, recvonly, inactive}) {
        for (auto sent : {sendrecv, sendonly, recvonly, inactive}) {
            for (auto answer : {sendrecv, sendonly, recvonly, inactive}) {
                CHECK(fits(relayed_answer_direction(answer, sent, received), received));
            }
        }
    }
}

TEST_CASE("the rewrite states the direction it is given, and never c=0.0.0.0", "[sdp][hold]") {
    auto sd = sbc::sdp::session_description::parse(sdp_with("0.0.0.0", "sendrecv"));
    REQUIRE(sd);
    // RFC 3264 8.4: c=0.0.0.0 with sendrecv is a hold, read as sendonly.
    CHECK(sbc::sdp::stated_direction(sd->audio()) == sendonly);
    sbc::sdp::rewrite_params p{"203.0.113.1", 40000, 7, 1};
    const auto as_is = sd->rewrite(p);
    CHECK(as_is.find("a=sendonly\r\n") != std::string::npos);
    p.dir = inactive;
    const auto styled = sd->rewrite(p);
    CHECK(styled.find("a=inactive\r\n") != std::string::npos);
    CHECK(styled.find("a=sendonly") == std::string::npos);
    CHECK(styled.find("c=IN IP4 203.0.113.1\r\n") != std::string::npos);
    CHECK(styled.find("0.0.0.0") == std::string::npos);

    auto quiet = sbc::sdp::session_description::parse(sdp_with("0.0.0.0", "recvonly"));
    REQUIRE(quiet);
    CHECK(sbc::sdp::stated_direction(quiet->audio()) == inactive);
    auto plain = sbc::sdp::session_description::parse(sdp_with("192.0.2.10", "recvonly"));
    REQUIRE(plain);
    CHECK(sbc::sdp::stated_direction(plain->audio()) == recvonly);
}

}  // namespace test_hold_direction
