#include "sbc/auth/replay_guard.hpp"

#include <catch2/catch.hpp>

using sbc::auth::replay_guard;
using namespace std::chrono_literals;

TEST_CASE("replay guard: a nonce count must grow") {
    replay_guard g(300s);
    const auto t0 = replay_guard::clock::time_point{} + 1000s;
    CHECK(g.accept("n1", 1, t0));
    CHECK_FALSE(g.accept("n1", 1, t0 + 1s));  // the same credentials again
    CHECK(g.accept("n1", 2, t0 + 2s));
    CHECK(g.accept("n1", 5, t0 + 3s));        // gaps are fine (RFC 7616 3.4.5)
    CHECK_FALSE(g.accept("n1", 3, t0 + 4s));  // going back is not
    CHECK(g.accept("n2", 1, t0 + 5s));        // each nonce counts on its own
    CHECK(g.size() == 2);
}

TEST_CASE("replay guard: without qop a nonce is good once") {
    replay_guard g(300s);
    const auto t0 = replay_guard::clock::time_point{} + 1000s;
    CHECK(g.accept("n", 0, t0));
    CHECK_FALSE(g.accept("n", 0, t0 + 1s));
}

TEST_CASE("replay guard: entries go with their nonce's lifetime, and a full table refuses") {
    replay_guard g(300s, 2);
    const auto t0 = replay_guard::clock::time_point{} + 1000s;
    CHECK(g.accept("a", 1, t0));
    CHECK(g.accept("b", 1, t0 + 10s));
    CHECK_FALSE(g.accept("c", 1, t0 + 20s));  // two live nonces: no room
    CHECK(g.accept("c", 1, t0 + 305s));       // "a" expired and was forgotten
    CHECK(g.size() == 2);
    CHECK_FALSE(g.accept("b", 1, t0 + 306s));  // "b" still remembered
}
