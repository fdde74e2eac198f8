// The walk over a pattern's keys (sbc/cluster/key_scan.hpp) against a real
// redis-server of the test's own: more keys than one SCAN batch read,
// listed and deleted, keys of another pattern left alone, and a walk whose
// server stops answering ends as lost, to be started again.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "sbc/cluster/key_scan.hpp"
#include "tests/support/redis_missing.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_key_scan {

using namespace sbc::cluster;
using sbc::test::redis_server;
using sbc::test::sip_loop;
using namespace std::chrono_literals;

namespace {

// More than one batch of 500.
constexpr int key_count = 1203;

link_settings settings_of(const redis_server& server) {
    link_settings s;
    s.address = server.address();
    s.user = redis_server::user();
    s.password = redis_server::password();
    s.client_name = "sbc-test-scan";
    s.timeout = 500ms;
    s.backoff_min = 20ms;
    s.backoff_max = 100ms;
    return s;
}

// Steps `scan` on `link` until it is done, as an owner does.
bool walk(sip_loop& loop, redis_link& link, key_scan& scan) {
    std::function<void()> next = [&] { scan.step(link, next); };
    next();
    return loop.run_until([&] { return scan.done(); });
}

// Writes `n` keys "sbc:t:N" = "vN", and one of another pattern.
void fill(sip_loop& loop, redis_link& link, int n) {
    int answered = 0;
    for (int i = 0; i < n; ++i) {
        const auto k = std::to_string(i);
        REQUIRE(loop.run_until([&] { return link.ready(); }));
        REQUIRE(link.command({"SET", "sbc:t:" + k, "v" + k}, [&](const reply*) { ++answered; }));
    }
    REQUIRE(link.command({"SET", "sbc:other:1", "x"}, [&](const reply*) { ++answered; }));
    REQUIRE(loop.run_until([&] { return answered == n + 1; }));
}

}  // namespace

TEST_CASE("a scan reads, lists and deletes every key of its pattern", "[cluster][key_scan]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    redis_link link(loop.root(), settings_of(server));
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    fill(loop, link, key_count);

    key_scan read("sbc:t:*", key_scan::action::read);
    REQUIRE(walk(loop, link, read));
    CHECK(read.error().empty());
    std::set<std::string> seen;
    for (const auto& [key, value] : read.values()) {
        CHECK(value == "v" + key.substr(6));
        seen.insert(key);
    }
    CHECK(seen.size() == key_count);  // the other pattern's key is not there

    key_scan list("sbc:t:*", key_scan::action::list);
    REQUIRE(walk(loop, link, list));
    CHECK(std::set<std::string>(list.keys().begin(), list.keys().end()) == seen);
    CHECK(list.values().empty());

    key_scan remove("sbc:t:*", key_scan::action::remove);
    REQUIRE(walk(loop, link, remove));
    CHECK(remove.error().empty());
    CHECK(remove.removed() == key_count);

    key_scan after("sbc:*", key_scan::action::list);
    REQUIRE(walk(loop, link, after));
    CHECK(after.keys() == std::vector<std::string>{"sbc:other:1"});
}

TEST_CASE("a scan whose server stops answering ends as lost and starts again",
          "[cluster][key_scan]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    redis_link link(loop.root(), settings_of(server));
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    fill(loop, link, 10);

    // A frozen server holds the connection and answers nothing: the
    // command times out and the link drops the connection.
    server.freeze();
    key_scan scan("sbc:t:*", key_scan::action::read);
    REQUIRE(scan.step(link, [] {}));
    CHECK(scan.busy());
    REQUIRE(loop.run_until([&] { return scan.done(); }));
    CHECK(scan.lost());
    CHECK(scan.error() == "the store connection was lost");

    server.thaw();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    scan.restart();
    CHECK_FALSE(scan.done());
    REQUIRE(walk(loop, link, scan));
    CHECK_FALSE(scan.lost());
    CHECK(scan.values().size() == 10);
}

}  // namespace test_key_scan
