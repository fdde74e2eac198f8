// One leg's ICE-lite credentials through offers and answers (RFC 8839 4.4):
// made once and restated (183 and 200, re-INVITEs), new on a restart, none
// where the peer does no ICE or the trunk has it off.
#include <catch2/catch.hpp>

#include "sbc/sdp/ice_leg.hpp"

namespace ice_leg_test {

using sbc::config::ice_mode;
using sbc::sdp::ice_attributes;
using sbc::sdp::ice_leg;

// Deterministic, and different on every call.
bool counting(std::span<std::uint8_t> out) noexcept {
    static std::uint8_t next = 0;
    for (auto& b : out) {
        b = next++;
    }
    return true;
}

const ice_attributes peer_one{"PeeR", "PeerPasswordNumberOne1"};
const ice_attributes peer_two{"PeeR2", "PeerPasswordNumberTwo2"};

TEST_CASE("ice_leg: off never states or takes ICE", "[sdp][ice]") {
    ice_leg leg(ice_mode::off, counting);
    CHECK_FALSE(leg.make_offer());
    leg.accept_answer(peer_one);
    leg.accept_offer(peer_one);
    CHECK_FALSE(leg.answer());
    CHECK_FALSE(leg.credentials());
    CHECK_FALSE(leg.in_use());
}

TEST_CASE("ice_leg: a peer's offer is answered with the same credentials every time",
          "[sdp][ice]") {
    ice_leg leg(ice_mode::lite, counting);
    leg.accept_offer(peer_one);
    CHECK_FALSE(leg.credentials());  // only once the SBC answers
    auto first = leg.answer();       // the 183
    REQUIRE(first);
    auto again = leg.answer();  // the 200
    REQUIRE(again);
    CHECK(*again == *first);
    auto c = leg.credentials();
    REQUIRE(c);
    CHECK(c->local_ufrag == first->ufrag);
    CHECK(c->local_pwd == first->pwd);
    CHECK(c->remote_ufrag == "PeeR");

    // A re-INVITE restating the peer's credentials is no restart.
    leg.accept_offer(peer_one);
    auto reoffer = leg.answer();
    REQUIRE(reoffer);
    CHECK(*reoffer == *first);
    CHECK(leg.restarts() == 0);
}

TEST_CASE("ice_leg: new peer credentials in an offer restart ICE with new ones of the SBC's",
          "[sdp][ice]") {
    ice_leg leg(ice_mode::lite, counting);
    leg.accept_offer(peer_one);
    auto before = leg.answer();
    REQUIRE(before);
    leg.accept_offer(peer_two);
    CHECK(leg.credentials()->local_ufrag == before->ufrag);  // until the answer
    auto after = leg.answer();
    REQUIRE(after);
    CHECK(after->ufrag != before->ufrag);
    CHECK(after->pwd != before->pwd);
    CHECK(leg.restarts() == 1);
    CHECK(leg.credentials()->local_ufrag == after->ufrag);
    CHECK(leg.credentials()->remote_ufrag == "PeeR2");
    // The 200 after a 183 of the restart states the new ones again.
    CHECK(*leg.answer() == *after);
}

TEST_CASE("ice_leg: an offer without ICE is answered without it", "[sdp][ice]") {
    ice_leg leg(ice_mode::lite, counting);
    leg.accept_offer(std::nullopt);
    CHECK_FALSE(leg.answer());
    CHECK_FALSE(leg.credentials());

    // ICE used first, then an offer without it: ICE ends.
    leg.accept_offer(peer_one);
    REQUIRE(leg.answer());
    leg.accept_offer(std::nullopt);
    CHECK_FALSE(leg.answer());
    CHECK_FALSE(leg.credentials());
    CHECK_FALSE(leg.in_use());
}

TEST_CASE("ice_leg: the SBC's offer is checked against before and after the answer", "[sdp][ice]") {
    ice_leg leg(ice_mode::lite, counting);
    auto offered = leg.make_offer();
    REQUIRE(offered);
    // RFC 8445 7.3: checks may come before the answer; any peer ufrag then.
    auto early = leg.credentials();
    REQUIRE(early);
    CHECK(early->remote_ufrag.empty());
    leg.accept_answer(peer_one);
    CHECK(leg.credentials()->remote_ufrag == "PeeR");
    leg.accept_answer(peer_one);           // the 200 after the 183
    CHECK(*leg.make_offer() == *offered);  // a re-offer restates them
    leg.accept_answer(std::nullopt);       // a peer that does no ICE
    CHECK_FALSE(leg.credentials());
}

TEST_CASE("ice_leg: an offer that is never answered changes nothing", "[sdp][ice]") {
    ice_leg leg(ice_mode::lite, counting);
    leg.accept_offer(peer_one);
    auto first = leg.answer();
    REQUIRE(first);
    leg.accept_offer(peer_two);  // refused on the other leg: no answer() follows
    CHECK(leg.credentials()->local_ufrag == first->ufrag);
    CHECK(leg.credentials()->remote_ufrag == "PeeR");
    // The SBC's own re-offer then restates what is in force.
    CHECK(*leg.make_offer() == *first);
}

}  // namespace ice_leg_test
