// The queue of writes a store owes (sbc/cluster/state_queue.hpp): the latest
// value per key, keys in the order they became dirty, a bound that drops
// and says so, and failed writes given back without undoing newer ones.
#include <catch2/catch.hpp>

#include "sbc/cluster/state_queue.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_state_queue {

using sbc::cluster::state_queue;
using clock = state_queue::clock;

namespace {

const clock::time_point t0{};
clock::time_point at(int seconds) { return t0 + std::chrono::seconds(seconds); }

// The key and value taken next ("" key: nothing; "-" value: a deletion).
std::pair<std::string, std::string> next(state_queue& q) {
    auto i = q.take();
    if (!i) {
        return {"", ""};
    }
    return {i->key, i->value ? *i->value : "-"};
}

}  // namespace

TEST_CASE("a key changed many times is written once, with its latest value", "[cluster][queue]") {
    state_queue q(10);
    CHECK(q.put("a", "1", at(1)));
    CHECK(q.put("b", "1", at(2)));
    CHECK(q.put("a", "2", at(3)));
    CHECK(q.put("a", "3", at(4)));
    CHECK(q.size() == 2);
    CHECK(q.oldest() == at(1));  // a has owed a write since its first change
    CHECK(next(q) == std::pair<std::string, std::string>{"a", "3"});
    CHECK(next(q) == std::pair<std::string, std::string>{"b", "1"});
    CHECK(q.empty());
    CHECK_FALSE(q.take());
    CHECK_FALSE(q.oldest());
}

TEST_CASE("keys come out in the order they first became dirty", "[cluster][queue]") {
    state_queue q(10);
    q.put("c", "1");
    q.put("a", "1");
    q.put("b", "1");
    q.put("c", "2");  // keeps c's place at the head
    CHECK(next(q).first == "c");
    CHECK(next(q).first == "a");
    q.put("c", "3");  // dirty again after it was taken: at the tail now
    CHECK(next(q).first == "b");
    CHECK(next(q) == std::pair<std::string, std::string>{"c", "3"});
}

TEST_CASE("a deletion replaces a pending value, and a value a pending deletion",
          "[cluster][queue]") {
    state_queue q(10);
    q.put("a", "1");
    q.erase("a");
    CHECK(q.size() == 1);
    CHECK(next(q) == std::pair<std::string, std::string>{"a", "-"});
    q.erase("b");
    q.put("b", "again");
    CHECK(next(q) == std::pair<std::string, std::string>{"b", "again"});
}

TEST_CASE("past the limit a new key is dropped, counted and flagged", "[cluster][queue]") {
    state_queue q(2);
    CHECK(q.limit() == 2);
    CHECK(q.put("a", "1"));
    CHECK(q.put("b", "1"));
    CHECK_FALSE(q.overflowed());
    CHECK_FALSE(q.put("c", "1"));
    CHECK_FALSE(q.erase("d"));
    CHECK(q.dropped() == 2);
    CHECK(q.overflowed());
    // A key already pending still takes its newer value: it needs no room.
    CHECK(q.put("a", "2"));
    CHECK(q.erase("b"));
    CHECK(q.dropped() == 2);
    CHECK(q.size() == 2);

    q.clear_overflow();
    CHECK_FALSE(q.overflowed());
    CHECK(q.dropped() == 2);  // the count stays
    CHECK(next(q) == std::pair<std::string, std::string>{"a", "2"});
    CHECK(q.put("c", "1"));  // room again
    CHECK_FALSE(q.overflowed());
}

TEST_CASE("a failed write given back goes to the head with its age", "[cluster][queue]") {
    state_queue q(10);
    q.put("a", "1", at(1));
    q.put("b", "1", at(2));
    auto a = q.take();
    REQUIRE(a);
    CHECK(q.oldest() == at(2));
    q.give_back(*a);
    CHECK(q.oldest() == at(1));
    CHECK(q.size() == 2);
    CHECK(next(q) == std::pair<std::string, std::string>{"a", "1"});
    CHECK(next(q) == std::pair<std::string, std::string>{"b", "1"});
}

TEST_CASE("a write given back never undoes a newer change", "[cluster][queue]") {
    state_queue q(10);
    q.put("a", "1", at(1));
    auto first = q.take();
    q.put("a", "2", at(5));
    SECTION("the newer value pending wins, and the key owes since the older change") {
        q.give_back(*first);
        CHECK(q.size() == 1);
        CHECK(q.oldest() == at(1));
        CHECK(next(q) == std::pair<std::string, std::string>{"a", "2"});
    }
    SECTION("both in flight and both lost: given back in the order sent, the newer stays") {
        auto second = q.take();
        REQUIRE(second);
        q.give_back(*first);   // a:1 pending again
        q.give_back(*second);  // a:2 is newer than it
        CHECK(q.size() == 1);
        CHECK(next(q) == std::pair<std::string, std::string>{"a", "2"});
    }
    SECTION("given back out of order, the newer still stays") {
        auto second = q.take();
        q.give_back(*second);
        q.give_back(*first);
        CHECK(next(q) == std::pair<std::string, std::string>{"a", "2"});
    }
    SECTION("a deletion made meanwhile stays a deletion") {
        q.erase("a");
        q.give_back(*first);
        CHECK(next(q) == std::pair<std::string, std::string>{"a", "-"});
    }
}

TEST_CASE("a write given back is taken even past the limit", "[cluster][queue]") {
    state_queue q(1);
    q.put("a", "1");
    auto a = q.take();
    CHECK(q.put("b", "1"));  // a's place, taken by b
    q.give_back(*a);
    CHECK(q.size() == 2);
    CHECK(q.dropped() == 0);
    CHECK(next(q).first == "a");
    CHECK(next(q).first == "b");
}

TEST_CASE("stamps order changes across keys and values", "[cluster][queue]") {
    state_queue q(10);
    q.put("a", "1");
    q.put("b", "1");
    auto a = q.take();
    auto b = q.take();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->stamp < b->stamp);
    q.put("a", "2");
    auto a2 = q.take();
    CHECK(a2->stamp > b->stamp);
}

}  // namespace test_state_queue
