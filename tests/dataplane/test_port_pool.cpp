// port_pool: even RTP ports with RTCP = RTP + 1 (RFC 3550 11), FIFO reuse,
// exhaustion, odd bounds and double release.
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
