// Issue 20, item 10: a call's memory stays bounded however often it is
// re-keyed or re-planned. One session of the kernel engine, its worker thread
// running, gets 1,000 new SRTP keys and 1,000 new codec chains; every
// context and chain a swap replaces is freed once the worker acknowledged it.
// The counts asserted are the engine's own (deterministic); the allocator's
// figures are printed, not asserted. Real UDP on 127.0.0.1, media ports
// 41450-41499; waits are bounded (2 s) and only guard against hanging.
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/core/command_progress.hpp"
#include "dataplane/core/retire_list.hpp"
#include "dataplane/io/kernel/kernel_engine.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "tests/dataplane/udp_peer.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/chain/rtp_packet.hpp"

using namespace sbc::dataplane;
using namespace std::chrono_literals;
namespace tc = sbc::transcoder;

namespace {

using sbc::test::eventually;
using sbc::test::udp_peer;
constexpr auto suite = srtp::suite::aes_cm_128_hmac_sha1_80;

// The master key + salt of re-key number `n`: a different one each time.
std::array<std::uint8_t, 30> master_key(unsigned n) {
    std::array<std::uint8_t, 30> key{};
    for (std::size_t i = 0; i < key.size(); ++i) {
        key[i] = static_cast<std::uint8_t>(n * 31 + i * 7 + 1);
    }
    key[0] = static_cast<std::uint8_t>(n >> 8);
    return key;
}

std::unique_ptr<srtp::stream_crypto> context(unsigned n, srtp::stream_crypto::direction dir) {
    const auto key = master_key(n);
    auto made = srtp::stream_crypto::create(suite, key, dir);
    REQUIRE(made.ok());
    return std::make_unique<srtp::stream_crypto>(std::move(made).value());
}

// PCMU from side b's peer, PCMA to side a's: the chain of a re-INVITE's
// codec plan (the same plan each time: what matters is that it is new).
std::unique_ptr<tc::media_chain> chain() {
    tc::chain_config cfg;
    cfg.in.audio.encoding = "PCMU";
    cfg.out.audio.encoding = "PCMA";
    cfg.out.audio.payload_type = 8;
    auto made = tc::media_chain::make(cfg);
    REQUIRE(made.ok());
    return std::move(made).value();
}

// An RTP packet of 20 ms of PCMU (RFC 3551 4.5.14), with room for SRTP's tag.
std::vector<std::uint8_t> pcmu_packet(std::uint16_t seq) {
    std::vector<std::uint8_t> p(tc::rtp_header_octets + 160 + srtp::max_overhead, 0xff);
    tc::write_rtp_header(p, false, 0, seq, seq * 160u, 0x5eed);
    p.resize(tc::rtp_header_octets + 160);
    return p;
}

struct heap_figures {
    std::size_t in_use = 0;  // mallinfo2().uordblks: bytes the allocator has handed out
    long rss_pages = 0;      // /proc/self/statm, resident
};

heap_figures heap_now() {
    heap_figures h;
    h.in_use = ::mallinfo2().uordblks;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        long size = 0;
        if (std::fscanf(f, "%ld %ld", &size, &h.rss_pages) != 2) {
            h.rss_pages = 0;
        }
        std::fclose(f);
    }
    return h;
}

// Polls the engine until the worker has acknowledged every swap and poll()
// has freed what they replaced.
bool swaps_reclaimed(kernel::kernel_engine& engine) {
    return eventually([&] {
        engine.poll();
        return engine.retired_objects() == 0;
    });
}

}  // namespace

TEST_CASE("retire_list frees what a command replaced only once the worker acknowledged it") {
    command_progress progress;
    retire_list retired;
    retired.retire(1, context(1, srtp::stream_crypto::direction::protect));
    retired.retire(2, chain());
    retired.retire(2, std::unique_ptr<tc::media_chain>{});  // nothing replaced: nothing held
    retired.retire(3, context(3, srtp::stream_crypto::direction::unprotect));
    CHECK(retired.size() == 3);

    // Applied but not yet at a quiescent point: nothing is acknowledged.
    progress.applied();
    progress.applied();
    CHECK(progress.acknowledged() == 0);
    CHECK(retired.reclaim(progress.acknowledged()) == 0);
    progress.quiescent();
    CHECK(progress.acknowledged() == 2);
    CHECK(retired.reclaim(progress.acknowledged()) == 2);
    CHECK(retired.size() == 1);
    progress.applied();
    progress.quiescent();
    CHECK(retired.reclaim(progress.acknowledged()) == 1);
    CHECK(retired.size() == 0);
}

TEST_CASE("kernel engine frees the SRTP contexts and chains 1,000 re-keys and re-plans replace") {
    engine_config config;
    config.port_min = 41450;
    config.port_max = 41499;
    config.workers = 1;
    kernel::kernel_engine engine(config);
    udp_peer a, b;
    const auto opened = engine.open_session(1, "127.0.0.1", "127.0.0.1");
    REQUIRE(opened.ok);
    engine.set_remote(1, side::a, a.address(), a.address());
    engine.set_remote(1, side::b, b.address(), b.address());

    using dir = srtp::stream_crypto::direction;
    unsigned seq = 0;
    // Side a's peer speaks SRTP with key `n`: what it sends reaches side b's
    // peer in the clear only if the worker unprotects with that very key.
    auto expect_key_in_use = [&](unsigned n) {
        auto sender = context(n, dir::protect);
        auto p = pcmu_packet(static_cast<std::uint16_t>(++seq));
        const std::string plain(p.begin(), p.end());
        p.resize(p.size() + srtp::max_overhead);
        std::size_t len = plain.size();
        REQUIRE(sender->protect_rtp(p.data(), len) == srtp::outcome::ok);
        a.send_to(opened.ports.rtp[index(side::a)],
                  std::string_view(reinterpret_cast<const char*>(p.data()), len));
        const auto got = b.receive();
        REQUIRE(got);
        CHECK(got->payload == plain);
    };
    auto swap = [&](unsigned n) {
        engine.set_srtp(1, side::a, context(n, dir::unprotect), context(n, dir::protect));
        engine.set_chain(1, side::b, chain());
        // This swap's three objects (two contexts, one chain) at most wait.
        CHECK(engine.retired_objects() <= 3);
    };

    swap(0);
    REQUIRE(swaps_reclaimed(engine));
    expect_key_in_use(0);
    const auto owned = engine.owned_objects();
    CHECK(owned == 3);
    const auto before = heap_now();
    constexpr unsigned swaps = 1000;
    for (unsigned n = 1; n <= swaps; ++n) {
        swap(n);
        REQUIRE(swaps_reclaimed(engine));
        REQUIRE(engine.owned_objects() == owned);
        if (n % 100 == 0) {
            expect_key_in_use(n);
        }
    }
    const auto after = heap_now();
    std::printf(
        "1,000 re-keys and re-plans of one call: heap in use %zu -> %zu bytes, "
        "RSS %ld -> %ld pages\n",
        before.in_use, after.in_use, before.rss_pages, after.rss_pages);
    CHECK(engine.owned_objects() == owned);
    CHECK(engine.retired_objects() == 0);

    // The chain in use is the last one given: it has seen nothing yet.
    const auto stats = engine.stats(1);
    REQUIRE(stats);
    REQUIRE(stats->sides[index(side::b)].chain);
    CHECK(stats->sides[index(side::b)].chain->packets_in == 0);

    // Closing the call frees the rest with the session.
    engine.close_session(1);
    REQUIRE(eventually([&] {
        engine.poll();
        return engine.closing_sessions() == 0;
    }));
    CHECK(engine.owned_objects() == 0);
}
