// spsc_ring: order, capacity, and a producer and a consumer on two threads.
#include <catch2/catch.hpp>

#include <cstdint>
#include <thread>

#include "dataplane/core/spsc_ring.hpp"

using sbc::dataplane::spsc_ring;

TEST_CASE("spsc_ring is FIFO and holds exactly its capacity") {
    spsc_ring<int, 4> ring;
    int v = 0;
    CHECK(ring.empty());
    CHECK_FALSE(ring.try_pop(v));
    for (int i = 1; i <= 4; ++i) {
        CHECK(ring.try_push(i));
    }
    CHECK_FALSE(ring.try_push(5));
    for (int i = 1; i <= 4; ++i) {
        REQUIRE(ring.try_pop(v));
        CHECK(v == i);
    }
    CHECK(ring.empty());
    CHECK_FALSE(ring.try_pop(v));
}

TEST_CASE("spsc_ring wraps around many times") {
    spsc_ring<std::uint64_t, 8> ring;
    std::uint64_t next_in = 0;
    std::uint64_t next_out = 0;
    for (int round = 0; round < 1000; ++round) {
        const int burst = round % 9;  // 0..8, so the ring is sometimes full
        for (int i = 0; i < burst; ++i) {
            REQUIRE(ring.try_push(next_in++));
        }
        std::uint64_t v = 0;
        while (ring.try_pop(v)) {
            REQUIRE(v == next_out++);
        }
    }
    CHECK(next_in == next_out);
}

TEST_CASE("spsc_ring hands every item over once and in order across threads") {
    constexpr std::uint64_t count = 200000;
    spsc_ring<std::uint64_t, 64> ring;
    std::thread producer([&ring] {
        for (std::uint64_t i = 1; i <= count;) {
            if (ring.try_push(i)) {
                ++i;
            } else {
                std::this_thread::yield();
            }
        }
    });
    std::uint64_t expected = 1;
    std::uint64_t sum = 0;
    bool in_order = true;
    while (expected <= count) {
        std::uint64_t v = 0;
        if (ring.try_pop(v)) {
            in_order = in_order && v == expected;
            sum += v;
            ++expected;
        } else {
            std::this_thread::yield();
        }
    }
    producer.join();
    CHECK(in_order);
    CHECK(sum == count * (count + 1) / 2);
    CHECK(ring.empty());
}
