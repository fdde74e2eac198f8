// The dpdk backend's engine opening sessions on given ports (open_session_at),
// as a standby node does when it rebuilds the calls it takes over: the pairs
// come out of the pool (port_pool::reserve), sessions opened later never get
// them, a pair that cannot be had leaves nothing taken, and closing gives
// them back.
//
// The engine runs for real (EAL without hugepages or PCI, its worker on
// lcore 1, a net_null device as its port and the TAP exception interface
// beside it) in a network namespace the program makes for itself first, so
// the TAP and its address (198.51.100.1, RFC 5737) never reach the host's.
// Needs root (the namespace, the TAP), as the dpdk_worker test. No frame is
// sent: what a session relays is the worker's, tested in test_dpdk_worker.
#include <sched.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "dataplane/api/media_engine.hpp"

using namespace sbc::dataplane;

namespace {

constexpr const char* media = "198.51.100.1";

std::unique_ptr<media_engine> make_engine() {
    // The namespace first: the TAP appears in the one the process is in.
    if (::unshare(CLONE_NEWNET) != 0) {
        FAIL("unshare(CLONE_NEWNET): " << std::strerror(errno) << " (the test needs root)");
    }
    engine_config c;
    c.port_min = 20000;
    c.port_max = 20099;  // 50 pairs
    c.dpdk.eal_args = {"--no-huge", "--no-pci", "-m", "128", "--log-level=3"};
    c.dpdk.lcores = {1};
    c.dpdk.mbufs = 1023;
    c.dpdk.ports = {dpdk_port_config{"net_null0", media, 24, "sbc-restore"}};
    return make_dpdk_engine(c);
}

// Polls the engine until `pred` holds, for at most 5 s.
template <typename Pred>
bool polled_until(media_engine& e, Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        e.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace

// One test case: the EAL comes up once per process.
TEST_CASE("dpdk engine opens sessions on given ports, and refuses what it cannot have") {
    auto engine = make_engine();
    REQUIRE(engine->free_port_pairs() == 50);

    const auto r = engine->open_session_at(1, media, 20010, media, 20020);
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.ports.rtp == std::array<std::uint16_t, 2>{20010, 20020});
    CHECK(engine->open_sessions() == 1);
    CHECK(engine->free_port_pairs() == 48);
    CHECK(engine->stats(1));

    // Refusals, each leaving the pool and the sessions as they were.
    auto refused = [&](session_id id, const char* a, std::uint16_t pa, const char* b,
                       std::uint16_t pb) {
        const auto out = engine->open_session_at(id, a, pa, b, pb);
        CHECK_FALSE(out.ok);
        CHECK(engine->open_sessions() == 1);
        CHECK(engine->free_port_pairs() == 48);
        return out.error;
    };
    CHECK(refused(2, media, 20030, media, 20020) == "media port 198.51.100.1:20020 is in use");
    CHECK(refused(2, media, 20030, media, 20030) == "media port 198.51.100.1:20030 is in use");
    CHECK(refused(2, media, 20030, media, 20031) ==
          "media port 20031 is no RTP port of the range 20000-20099");
    CHECK(refused(2, media, 20100, media, 20030) ==
          "media port 20100 is no RTP port of the range 20000-20099");
    CHECK(refused(2, media, 0, media, 20030) == "media port 0 is no RTP port of the range");
    CHECK(refused(2, media, 20030, "203.0.113.9", 20032) ==
          "no DPDK port serves media address '203.0.113.9'");
    CHECK(refused(1, media, 20030, media, 20032) == "media session 1 is already open");

    // Sessions opened from the pool never get the reserved pairs.
    for (session_id id = 10; id < 34; ++id) {
        const auto other = engine->open_session(id, media, media);
        REQUIRE(other.ok);
        for (const auto port : other.ports.rtp) {
            CHECK(port != 20010);
            CHECK(port != 20020);
        }
    }
    CHECK(engine->free_port_pairs() == 0);
    CHECK_FALSE(engine->open_session(40, media, media).ok);
    for (session_id id = 10; id < 34; ++id) {
        engine->close_session(id);
    }
    engine->close_session(1);
    CHECK(engine->open_sessions() == 0);
    REQUIRE(polled_until(*engine, [&] { return engine->free_port_pairs() == 50; }));

    // Back in the pool: the same pairs can be had again.
    const auto again = engine->open_session_at(2, media, 20020, media, 20010);
    INFO(again.error);
    CHECK(again.ok);
    engine->close_session(2);
    REQUIRE(polled_until(*engine, [&] { return engine->free_port_pairs() == 50; }));
}
