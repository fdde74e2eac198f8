// The call's one offer/answer state (sbc/b2bua/offer_answer.hpp): which
// status refuses an offer that arrives while another is under way, and that
// an exchange ends exactly when the operation holding it lets go.
#include <catch2/catch.hpp>

#include "sbc/b2bua/offer_answer.hpp"

using sbc::b2bua::offer_answer;
using sbc::dataplane::side;

TEST_CASE("an idle session takes an offer from either leg") {
    offer_answer oa;
    CHECK(oa.idle());
    CHECK(oa.refusal_for(side::a) == 0);
    CHECK(oa.refusal_for(side::b) == 0);
}

TEST_CASE("an offer from the peer that has one pending gets 500, from the other leg 491") {
    offer_answer oa;
    auto hold = oa.begin(offer_answer::via::reinvite, side::a);
    CHECK_FALSE(oa.idle());
    // RFC 3261 14.2 / RFC 3311 5.2: leg a's peer has an offer we have not
    // answered; leg b's peer meets our relayed offer (glare).
    CHECK(oa.refusal_for(side::a) == 500);
    CHECK(oa.refusal_for(side::b) == 491);
    REQUIRE(oa.current());
    CHECK(oa.current()->what == offer_answer::via::reinvite);
    CHECK(oa.current()->peer == side::a);
}

TEST_CASE("the SBC's own offer makes every peer's offer glare") {
    for (auto what : {offer_answer::via::own_reinvite, offer_answer::via::transfer}) {
        offer_answer oa;
        auto hold = oa.begin(what, std::nullopt);
        CHECK(oa.refusal_for(side::a) == 491);
        CHECK(oa.refusal_for(side::b) == 491);
    }
}

TEST_CASE("the exchange ends when its hold is destroyed, released or moved over") {
    offer_answer oa;
    {
        auto hold = oa.begin(offer_answer::via::update, side::b);
        CHECK_FALSE(oa.idle());
    }
    CHECK(oa.idle());

    auto first = oa.begin(offer_answer::via::initial_invite, side::a);
    offer_answer::hold moved = std::move(first);
    first.release();  // moved-from: holds nothing
    CHECK_FALSE(oa.idle());
    moved.release();
    CHECK(oa.idle());
    moved.release();  // twice is harmless
    CHECK(oa.idle());
}

TEST_CASE("a stale hold never ends a newer exchange") {
    offer_answer oa;
    auto old_hold = oa.begin(offer_answer::via::reinvite, side::a);
    // An operation that began after the first one ended by other means
    // (the session was taken over): its exchange is the current one.
    auto new_hold = oa.begin(offer_answer::via::own_reinvite, std::nullopt);
    old_hold.release();
    CHECK_FALSE(oa.idle());
    CHECK(oa.current()->what == offer_answer::via::own_reinvite);
    new_hold.release();
    CHECK(oa.idle());
}

TEST_CASE("a 500's Retry-After is between 0 and 10 seconds") {
    for (int i = 0; i < 200; ++i) {
        CHECK(sbc::b2bua::offer_retry_after() <= 10);
    }
}
