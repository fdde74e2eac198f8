// Trunk limits shared by the nodes of a cluster (sbc/cluster/shared_limits.hpp)
// against a real redis-server of the test's own on loopback: two nodes (two
// limiters on one loop) asking at once get exactly the limit between them,
// the last slot goes to one of two racing for it, a release frees a slot for
// the other node, the shared calls-per-second bucket, a dead node's calls
// stop counting when its lease ends, counts written whole when the store is
// back, and no answer (store down or silent) leaves the decision to the node.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "sbc/cluster/shared_limits.hpp"
#include "tests/support/redis_missing.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_shared_limits {

using namespace sbc::cluster;
using sbc::admission::shared_answer;
using sbc::admission::verdict;
using sbc::test::redis_server;
using sbc::test::sip_loop;
using namespace std::chrono_literals;

namespace {

sbc::config::cluster_config node_config(const redis_server& server, const std::string& node) {
    sbc::config::cluster_config c;
    c.node = node;
    c.prefix = "sbct";
    c.store.address = server.address();
    c.store.user = redis_server::user();
    c.store.password = redis_server::password();
    c.store.timeout_ms = 2000;
    return c;
}

sbc::admission::limits max_calls(unsigned n) {
    sbc::admission::limits l;
    l.max_calls = n;
    return l;
}

// A node of the test: its shared limits, up.
struct node {
    node(sip_loop& loop, const redis_server& server, const std::string& name,
         shared_limits_settings settings = {}, shared_limits::counts_fn counts = {})
        : limits(loop.root(), node_config(server, name), std::move(counts), settings) {
        limits.start();
        REQUIRE(loop.run_until([&] { return limits.stats().up; }));
    }
    shared_limits limits;
};

// The answers to asks made together, as they come.
struct answers {
    std::vector<std::optional<shared_answer>> got;
    std::size_t asked = 0;

    void ask(shared_limits& l, const sbc::admission::limits& lim, const std::string& trunk = "t") {
        ++asked;
        REQUIRE(
            l.ask(trunk, true, lim, [this](std::optional<shared_answer> a) { got.push_back(a); }));
    }
    bool all_in() const { return got.size() == asked; }
    std::size_t admitted() const {
        std::size_t n = 0;
        for (const auto& a : got) {
            n += a && a->what ? 1 : 0;
        }
        return n;
    }
    std::size_t refused(verdict why) const {
        std::size_t n = 0;
        for (const auto& a : got) {
            n += a && a->what.what == why ? 1 : 0;
        }
        return n;
    }
};

// Field `field` of hash `key`, read through a link of the test's own.
std::optional<std::string> raw_hget(sip_loop& loop, const redis_server& server,
                                    const std::string& key, const std::string& field) {
    link_settings s;
    s.address = server.address();
    s.user = redis_server::user();
    s.password = redis_server::password();
    redis_link link(loop.root(), s);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    bool called = false;
    std::optional<std::string> value;
    REQUIRE(link.command({"HGET", key, field}, [&](const reply* r) {
        called = true;
        if (r != nullptr && r->type == reply::kind::string) {
            value = r->str;
        }
    }));
    REQUIRE(loop.run_until([&] { return called; }));
    return value;
}

}  // namespace

TEST_CASE("two nodes asking at once get exactly the shared limit", "[shared_limits]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    node a(loop, server, "a");
    node b(loop, server, "b");
    // 15 INVITEs spread over both nodes, all asked before any answer.
    answers an;
    for (int i = 0; i < 15; ++i) {
        an.ask(i % 2 == 0 ? a.limits : b.limits, max_calls(10));
    }
    REQUIRE(loop.run_until([&] { return an.all_in(); }));
    CHECK(an.admitted() == 10);
    CHECK(an.refused(verdict::too_many_calls) == 5);
    CHECK(a.limits.stats().store_admitted + b.limits.stats().store_admitted == 10);
    // Each node's count in the store is its own admitted calls.
    const auto in_a = raw_hget(loop, server, "sbct:limit:t:in", "a");
    const auto in_b = raw_hget(loop, server, "sbct:limit:t:in", "b");
    REQUIRE(in_a);
    REQUIRE(in_b);
    CHECK(std::stoi(*in_a) + std::stoi(*in_b) == 10);
}

TEST_CASE("the last slot goes to exactly one of two nodes racing for it", "[shared_limits]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    node a(loop, server, "a");
    node b(loop, server, "b");
    answers fill;
    for (int i = 0; i < 4; ++i) {
        fill.ask(a.limits, max_calls(5));
    }
    REQUIRE(loop.run_until([&] { return fill.all_in(); }));
    REQUIRE(fill.admitted() == 4);

    answers race;
    race.ask(a.limits, max_calls(5));
    race.ask(b.limits, max_calls(5));
    REQUIRE(loop.run_until([&] { return race.all_in(); }));
    CHECK(race.admitted() == 1);
    CHECK(race.refused(verdict::too_many_calls) == 1);
    for (const auto& r : race.got) {
        REQUIRE(r);
        CHECK(r->cluster_active == 5);
    }

    SECTION("a call ending on one node frees the slot for the other") {
        const auto before = raw_hget(loop, server, "sbct:limit:t:in", "a");
        REQUIRE(before);
        a.limits.release("t", true);
        // Nobody waits for a release: the test waits for the store to have it.
        const auto less = std::to_string(std::stoi(*before) - 1);
        REQUIRE(
            loop.run_until([&] { return raw_hget(loop, server, "sbct:limit:t:in", "a") == less; }));
        answers after;
        after.ask(b.limits, max_calls(5));
        REQUIRE(loop.run_until([&] { return after.all_in(); }));
        CHECK(after.admitted() == 1);
    }
}

TEST_CASE("calls per second are one bucket for every node", "[shared_limits]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    node a(loop, server, "a");
    node b(loop, server, "b");
    sbc::admission::limits l;
    l.cps = 0.5;  // a token every 2 s: none comes back during the test
    l.burst = 3;
    answers an;
    for (int i = 0; i < 5; ++i) {
        an.ask(i % 2 == 0 ? a.limits : b.limits, l);
    }
    REQUIRE(loop.run_until([&] { return an.all_in(); }));
    CHECK(an.admitted() == 3);
    CHECK(an.refused(verdict::too_many_per_second) == 2);
    for (const auto& r : an.got) {
        if (r && !r->what) {
            CHECK(r->what.retry_after >= 1);
        }
    }
}

TEST_CASE("a dead node's calls stop counting when its lease ends", "[shared_limits]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    shared_limits_settings short_lease;
    short_lease.lease = 600ms;
    node b(loop, server, "b", short_lease);
    {
        node a(loop, server, "a", short_lease);
        answers held;
        for (int i = 0; i < 3; ++i) {
            held.ask(a.limits, max_calls(3));
        }
        REQUIRE(loop.run_until([&] { return held.all_in(); }));
        REQUIRE(held.admitted() == 3);
        // Node a dies with its calls counted: it renews its lease no more.
    }
    answers full;
    full.ask(b.limits, max_calls(3));
    REQUIRE(loop.run_until([&] { return full.all_in(); }));
    CHECK(full.admitted() == 0);

    // Once a's lease has run out, its calls hold no capacity.
    bool freed = false;
    for (int i = 0; i < 50 && !freed; ++i) {
        answers again;
        again.ask(b.limits, max_calls(3));
        REQUIRE(loop.run_until([&] { return again.all_in(); }));
        freed = again.admitted() == 1;
        if (!freed) {
            loop.run_until([] { return false; }, 100ms);  // a while
        }
    }
    CHECK(freed);
    CHECK(raw_hget(loop, server, "sbct:limit:t:in", "a") == std::nullopt);
}

TEST_CASE("the store away leaves the decision to each node", "[shared_limits]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    shared_limits_settings quick;
    quick.wait = 50ms;
    unsigned held_here = 4;
    node a(loop, server, "a", quick, [&] {
        return std::vector<shared_limits::node_count>{{"t", true, held_here}};
    });

    SECTION("down: not asked at all") {
        server.stop();
        REQUIRE(loop.run_until([&] { return !a.limits.stats().up; }));
        CHECK_FALSE(a.limits.ask("t", true, max_calls(10), [](auto) { FAIL("called"); }));
        CHECK(a.limits.stats().not_asked == 1);
        CHECK(a.limits.decided_by("t", true) == "local");

        // Back: the node's own count is written whole before anything else.
        held_here = 6;
        server.restart();
        REQUIRE(loop.run_until([&] { return a.limits.stats().up; }));
        CHECK(raw_hget(loop, server, "sbct:limit:t:in", "a") == "6");
        answers an;
        an.ask(a.limits, max_calls(7));
        an.ask(a.limits, max_calls(7));
        REQUIRE(loop.run_until([&] { return an.all_in(); }));
        CHECK(an.admitted() == 1);
        CHECK(a.limits.decided_by("t", true) == "store");
    }
    SECTION("silent: no answer within the wait") {
        server.freeze();
        answers an;
        an.ask(a.limits, max_calls(10));
        REQUIRE(loop.run_until([&] { return an.all_in(); }));
        REQUIRE(an.got.size() == 1);
        CHECK_FALSE(an.got.front().has_value());
        CHECK(a.limits.stats().late == 1);
        CHECK(a.limits.decided_by("t", true) == "local");
        server.thaw();
        // The late yes is given back: the count is what it was.
        REQUIRE(loop.run_until([&] {
            return raw_hget(loop, server, "sbct:limit:t:in", "a") ==
                   std::optional<std::string>("4");
        }));
    }
}

}  // namespace test_shared_limits
