// Peer health and selection: failover order, weights, down/up thresholds.
#include <catch2/catch.hpp>

#include <map>

#include "sbc/trunking/peer_table.hpp"

using namespace sbc;
using trunking::peer_table;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_peer_table {

namespace {

config::trunk_config trunk_with(std::vector<std::pair<unsigned, unsigned>> prio_weight) {
    config::trunk_config t;
    t.name = "carrier";
    int n = 2;
    for (auto [p, w] : prio_weight) {
        config::peer_config peer;
        peer.host = "192.0.2." + std::to_string(n++);
        peer.priority = p;
        peer.weight = w;
        t.peers.push_back(peer);
    }
    t.keepalive.down_after = 3;
    t.keepalive.up_after = 2;
    return t;
}

const auto t0 = trunking::clock::time_point{};
const std::chrono::microseconds rtt{1500};

}  // namespace

TEST_CASE("the lowest priority value is tried first, then the next", "[trunking]") {
    auto t = trunk_with({{20, 100}, {10, 100}, {30, 100}});
    peer_table table(t, t0);
    std::mt19937 rng(1);
    CHECK(table.choose({}, rng, t0) == 1u);
    CHECK(table.choose({1}, rng, t0) == 0u);
    CHECK(table.choose({1, 0}, rng, t0) == 2u);
    CHECK_FALSE(table.choose({1, 0, 2}, rng, t0).has_value());
}

TEST_CASE("peers of equal priority share calls by weight", "[trunking]") {
    auto t = trunk_with({{10, 75}, {10, 25}, {20, 100}});
    peer_table table(t, t0);
    std::mt19937 rng(7);
    std::map<std::size_t, int> hits;
    for (int i = 0; i < 4000; ++i) {
        ++hits[*table.choose({}, rng, t0)];
    }
    CHECK(hits[2] == 0);  // the backup is not used while the pair is up
    CHECK(hits[0] > 2700);
    CHECK(hits[0] < 3300);
    CHECK(hits[1] > 700);
    CHECK(hits[1] < 1300);
    // The other member of the pair is the failover target, then the backup.
    CHECK(table.choose({0}, rng, t0) == 1u);
    CHECK(table.choose({0, 1}, rng, t0) == 2u);
}

TEST_CASE("weight 0 peers are still chosen when their whole group has weight 0", "[trunking]") {
    auto t = trunk_with({{10, 0}, {10, 0}});
    peer_table table(t, t0);
    std::mt19937 rng(3);
    CHECK(table.choose({}, rng, t0).has_value());
}

TEST_CASE("down after down_after failures in a row, up after up_after successes", "[trunking]") {
    auto t = trunk_with({{10, 100}, {20, 100}});
    peer_table table(t, t0);
    std::mt19937 rng(1);
    CHECK(table.health(0).up);
    CHECK_FALSE(table.record_failure(0, "timeout", t0));
    CHECK_FALSE(table.record_failure(0, "timeout", t0));
    // A success in between restarts the count.
    CHECK_FALSE(table.record_success(0, rtt, 200, t0));
    CHECK_FALSE(table.record_failure(0, "503", t0));
    CHECK_FALSE(table.record_failure(0, "timeout", t0));
    const auto later = t0 + std::chrono::seconds(5);
    CHECK(table.record_failure(0, "timeout", later));
    CHECK_FALSE(table.health(0).up);
    CHECK(table.health(0).since == later);
    CHECK(table.health(0).last_result == "timeout");
    // Down peers are skipped.
    CHECK(table.choose({}, rng, t0) == 1u);
    CHECK(table.any_up());
    CHECK_FALSE(table.record_success(0, rtt, 200, later));
    CHECK(table.record_success(0, rtt, 404, later));  // any answer but 408/5xx is a success
    CHECK(table.health(0).up);
    CHECK(table.health(0).last_rtt == rtt);
    CHECK(table.choose({}, rng, t0) == 0u);
}

TEST_CASE("with every peer down nothing is chosen", "[trunking]") {
    auto t = trunk_with({{10, 100}});
    t.keepalive.down_after = 1;
    peer_table table(t, t0);
    std::mt19937 rng(1);
    CHECK(table.record_failure(0, "timeout", t0));
    CHECK_FALSE(table.any_up());
    CHECK_FALSE(table.choose({}, rng, t0).has_value());
}

TEST_CASE("a reloaded table keeps the health of peers it still has", "[trunking]") {
    auto before = trunk_with({{10, 100}, {20, 100}});
    before.keepalive.down_after = 1;
    peer_table old_table(before, t0);
    CHECK(old_table.record_failure(1, "timeout", t0));
    auto after = trunk_with({{10, 100}, {20, 100}});
    after.peers.erase(after.peers.begin());  // 192.0.2.3 remains, now first
    peer_table new_table(after, t0);
    new_table.inherit(old_table);
    CHECK_FALSE(new_table.health(0).up);
}

TEST_CASE("a named peer's targets follow its resolution, each keeping its slot", "[trunking]") {
    auto t = trunk_with({{10, 100}});
    config::peer_config named;
    named.host = "pbx.example.com";
    named.is_name = true;
    t.peers.push_back(named);
    t.keepalive.down_after = 1;
    peer_table table(t, t0);
    std::mt19937 rng(1);
    // Before its name resolves, a named peer has no target.
    REQUIRE(table.size() == 1);
    CHECK(table.target_at(0).host == "192.0.2.2");
    CHECK(table.has_current(0));
    CHECK_FALSE(table.has_current(1));

    using trunking::target;
    const target a{"198.51.100.10", 5060, config::transport::udp, 1, 60};
    const target b{"198.51.100.11", 5060, config::transport::udp, 1, 40};
    CHECK(table.set_resolved(1, {a, b}, t0));
    REQUIRE(table.size() == 3);
    CHECK(table.has_current(1));
    CHECK(table.target_at(1).peer == 1);
    CHECK(table.target_at(2).host == "198.51.100.11");
    // Priority 1 beats the address peer's 10.
    auto first = table.choose({}, rng, t0);
    REQUIRE(first);
    CHECK(*first >= 1);
    CHECK_FALSE(table.set_resolved(1, {a, b}, t0));  // the same answer changes nothing

    // b is down; then the name stops leading to a: a's slot stays, out of
    // selection, for the calls that hold its index.
    CHECK(table.record_failure(2, "timeout", t0));
    CHECK(table.set_resolved(1, {b}, t0));
    CHECK_FALSE(table.target_at(1).current);
    CHECK(table.target_at(1).host == "198.51.100.10");
    CHECK(table.choose({}, rng, t0) == std::optional<std::size_t>{0});

    // a comes back into the answer: same slot, and b keeps its health.
    CHECK(table.set_resolved(1, {b, a}, t0));
    REQUIRE(table.size() == 3);
    CHECK(table.target_at(1).current);
    CHECK_FALSE(table.health(2).up);

    // An answer with no targets leaves only the address peer.
    CHECK(table.set_resolved(1, {}, t0));
    CHECK_FALSE(table.has_current(1));
    CHECK(table.choose({0}, rng, t0) == std::nullopt);
    CHECK(table.record_failure(0, "timeout", t0));
    CHECK_FALSE(table.any_up());  // b is down, but also no longer current
}

TEST_CASE("a reloaded table keeps the health of resolved targets it still has", "[trunking]") {
    auto t = trunk_with({});
    config::peer_config named;
    named.host = "pbx.example.com";
    named.is_name = true;
    t.peers.push_back(named);
    t.keepalive.down_after = 1;
    const trunking::target a{"198.51.100.10", 5060, config::transport::udp, 1, 60};
    peer_table old_table(t, t0);
    old_table.set_resolved(0, {a}, t0);
    CHECK(old_table.record_failure(0, "timeout", t0));
    peer_table new_table(t, t0);
    new_table.set_resolved(0, {a}, t0);
    new_table.inherit(old_table);
    CHECK_FALSE(new_table.health(0).up);
}

}  // namespace test_peer_table

namespace test_peer_table {

TEST_CASE("a target held off by Retry-After is passed by until the time is up", "[trunking]") {
    // RFC 3263 4.3: not tried again until Retry-After has run out; the
    // others take the calls meanwhile.
    auto t = trunk_with({{10, 100}, {20, 100}, {30, 100}});
    peer_table table(t, t0);
    std::mt19937 rng(1);
    const auto until = table.hold_off(0, std::chrono::seconds(30), t0);
    CHECK(until == t0 + std::chrono::seconds(30));
    CHECK(table.health(0).held_off(t0));
    CHECK(table.choose({}, rng, t0) == 1u);
    CHECK(table.choose({}, rng, t0 + std::chrono::seconds(29)) == 1u);
    CHECK(table.choose({1, 2}, rng, t0).has_value() == false);
    // Held off is not down: pings neither lift it nor does it mark the
    // target down.
    CHECK(table.health(0).up);
    table.record_success(0, rtt, 200, t0);
    CHECK(table.choose({}, rng, t0 + std::chrono::seconds(1)) == 1u);
    CHECK(table.choose({}, rng, t0 + std::chrono::seconds(30)) == 0u);
    CHECK_FALSE(table.health(0).held_off(t0 + std::chrono::seconds(30)));
}

TEST_CASE("a hold-off is bounded, and Retry-After 0 holds nothing off", "[trunking]") {
    auto t = trunk_with({{10, 100}, {20, 100}});
    peer_table table(t, t0);
    std::mt19937 rng(1);
    CHECK(table.hold_off(0, std::chrono::seconds(0), t0) == t0);
    CHECK(table.choose({}, rng, t0) == 0u);
    // A year asked for is an hour given (trunking::max_hold_off).
    CHECK(table.hold_off(0, std::chrono::hours(24 * 365), t0) == t0 + trunking::max_hold_off);
    CHECK(table.choose({}, rng, t0 + std::chrono::minutes(59)) == 1u);
    CHECK(table.choose({}, rng, t0 + std::chrono::minutes(60)) == 0u);
}

TEST_CASE("a reloaded table keeps a target's hold-off", "[trunking]") {
    auto t = trunk_with({{10, 100}, {20, 100}});
    peer_table old(t, t0);
    old.hold_off(0, std::chrono::seconds(60), t0);
    peer_table fresh(t, t0);
    fresh.inherit(old);
    std::mt19937 rng(1);
    CHECK(fresh.choose({}, rng, t0) == 1u);
}

}  // namespace test_peer_table
