// port_pool: even RTP ports with RTCP = RTP + 1 (RFC 3550 11), FIFO reuse,
// exhaustion, odd bounds, double release and pairs reserved by number.
#include <catch2/catch.hpp>

#include <set>

#include "dataplane/core/port_pool.hpp"

using sbc::dataplane::port_pool;

TEST_CASE("port_pool hands out even ports whose RTCP port is in range") {
    port_pool pool(20000, 20009);
    CHECK(pool.capacity() == 5);
    CHECK(pool.free_pairs() == 5);
    std::set<std::uint16_t> seen;
    for (int i = 0; i < 5; ++i) {
        const auto p = pool.allocate();
        REQUIRE(p);
        CHECK(*p % 2 == 0);
        CHECK(*p >= 20000);
        CHECK(*p + 1 <= 20009);
        CHECK(pool.in_use(*p));
        seen.insert(*p);
    }
    CHECK(seen.size() == 5);
    CHECK(pool.free_pairs() == 0);
    CHECK_FALSE(pool.allocate());
}

TEST_CASE("port_pool with odd bounds loses only the pairs they cut") {
    port_pool pool(20001, 20006);  // pairs 20002/3 and 20004/5; 20006/7 is cut
    CHECK(pool.capacity() == 2);
    CHECK(pool.first_rtp() == 20002);
    CHECK(pool.last_rtp() == 20004);
    CHECK(*pool.allocate() == 20002);
    CHECK(*pool.allocate() == 20004);
    CHECK_FALSE(pool.allocate());
}

TEST_CASE("port_pool ranges without a whole pair are empty") {
    CHECK(port_pool(20001, 20002).capacity() == 0);
    CHECK(port_pool(20000, 20000).capacity() == 0);
    CHECK(port_pool(30000, 20000).capacity() == 0);
    port_pool empty(5, 5);
    CHECK_FALSE(empty.allocate());
    CHECK_FALSE(empty.release(4));
}

TEST_CASE("port_pool never hands out port 0 and reaches the top of the port space") {
    port_pool pool(0, 65535);
    CHECK(pool.first_rtp() == 2);
    CHECK(pool.last_rtp() == 65534);
    CHECK(pool.capacity() == 32767);
}

TEST_CASE("port_pool reuses a released pair last") {
    port_pool pool(20000, 20005);  // 20000, 20002, 20004
    const auto a = *pool.allocate();
    const auto b = *pool.allocate();
    CHECK(pool.release(a));
    CHECK(pool.free_pairs() == 2);
    CHECK_FALSE(pool.in_use(a));
    CHECK(*pool.allocate() == 20004);  // the never-used one first
    CHECK(*pool.allocate() == a);
    CHECK_FALSE(pool.allocate());
    CHECK(pool.in_use(b));
}

TEST_CASE("port_pool refuses double, foreign and odd releases") {
    port_pool pool(20000, 20003);
    const auto a = *pool.allocate();
    CHECK(pool.release(a));
    CHECK_FALSE(pool.release(a));  // already free: must not enter the queue twice
    CHECK(pool.free_pairs() == 2);
    CHECK_FALSE(pool.release(a + 1));
    CHECK_FALSE(pool.release(19998));
    CHECK_FALSE(pool.release(20004));
    CHECK(pool.free_pairs() == 2);
    // Both pairs come out once each, then nothing.
    std::set<std::uint16_t> got{*pool.allocate(), *pool.allocate()};
    CHECK(got == std::set<std::uint16_t>{20000, 20002});
    CHECK_FALSE(pool.allocate());
}

TEST_CASE("port_pool: a pair that failed to bind goes behind the others") {
    port_pool pool(20000, 20005);
    const auto busy = *pool.allocate();  // say bind() said EADDRINUSE
    CHECK(pool.release(busy));
    CHECK(*pool.allocate() != busy);
    CHECK(*pool.allocate() != busy);
    CHECK(*pool.allocate() == busy);
}

TEST_CASE("port_pool reserves a given pair, which allocate() then skips") {
    port_pool pool(20000, 20007);  // 20000, 20002, 20004, 20006
    CHECK(pool.reserve(20002));
    CHECK(pool.in_use(20002));
    CHECK(pool.free_pairs() == 3);
    CHECK(*pool.allocate() == 20000);
    CHECK(*pool.allocate() == 20004);  // 20002's entry dropped on the way
    CHECK(*pool.allocate() == 20006);
    CHECK_FALSE(pool.allocate());
    CHECK(pool.free_pairs() == 0);
}

TEST_CASE("port_pool refuses to reserve a pair in use, foreign or odd") {
    port_pool pool(20000, 20005);
    const auto a = *pool.allocate();
    CHECK_FALSE(pool.reserve(a));  // allocated
    CHECK(pool.reserve(20002));
    CHECK_FALSE(pool.reserve(20002));  // reserved already
    CHECK_FALSE(pool.reserve(20003));
    CHECK_FALSE(pool.reserve(19998));
    CHECK_FALSE(pool.reserve(20006));
    CHECK_FALSE(pool.reserve(0));
    CHECK(pool.free_pairs() == 1);
    CHECK_FALSE(port_pool(5, 5).reserve(4));
}

TEST_CASE("port_pool: a reserved pair released comes out once, never twice") {
    port_pool pool(20000, 20005);  // 20000, 20002, 20004
    CHECK(pool.reserve(20002));
    // Released while its old entry still waits in the queue: that entry
    // serves again, and no second one is added.
    CHECK(pool.release(20002));
    CHECK_FALSE(pool.in_use(20002));
    CHECK(pool.free_pairs() == 3);
    std::multiset<std::uint16_t> got;
    for (int i = 0; i < 3; ++i) {
        got.insert(*pool.allocate());
    }
    CHECK(got == std::multiset<std::uint16_t>{20000, 20002, 20004});
    CHECK_FALSE(pool.allocate());

    // Reserved after its entry left the queue: its release queues it at the back.
    CHECK(pool.release(20000));
    CHECK(pool.release(20004));
    CHECK(pool.release(20002));
    CHECK(*pool.allocate() == 20000);
    CHECK(pool.reserve(20004));
    CHECK(pool.release(20004));
    CHECK(*pool.allocate() == 20004);  // its old entry, ahead of 20002's
    CHECK(*pool.allocate() == 20002);
    CHECK_FALSE(pool.allocate());
}

TEST_CASE("port_pool: every pair reserved and released, many times, fits the queue") {
    port_pool pool(20000, 20019);  // 10 pairs
    for (int round = 0; round < 5; ++round) {
        for (std::uint16_t p = 20000; p < 20020; p += 2) {
            REQUIRE(pool.reserve(p));
        }
        CHECK(pool.free_pairs() == 0);
        CHECK_FALSE(pool.allocate());
        for (std::uint16_t p = 20000; p < 20020; p += 2) {
            REQUIRE(pool.release(p));
        }
        CHECK(pool.free_pairs() == 10);
    }
    std::set<std::uint16_t> got;
    while (auto p = pool.allocate()) {
        got.insert(*p);
    }
    CHECK(got.size() == 10);
}
