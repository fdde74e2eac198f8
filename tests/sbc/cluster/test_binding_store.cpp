// The binding store (sbc/cluster/binding_store.hpp) against a real
// redis-server of the test's own on loopback: a node's bindings documents
// written with their expiry and read back by its partner, deletions, the
// partner's keys forgotten, and keys that Redis drops when they expire.
#include <catch2/catch.hpp>

#include <optional>

#include "sbc/cluster/binding_store.hpp"
#include "tests/support/redis_missing.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_binding_store {

using namespace sbc::cluster;
using sbc::test::redis_server;
using sbc::test::sip_loop;
using namespace std::chrono_literals;

namespace {

sbc::config::cluster_config reg_config(const redis_server& server, const std::string& node) {
    sbc::config::cluster_config c;
    c.node = node;
    c.prefix = "sbct";
    c.store.address = server.address();
    c.store.user = redis_server::user();
    c.store.password = redis_server::password();
    c.store.timeout_ms = 300;
    c.store.queue_limit = 100;
    return c;
}

nlohmann::json user_doc(const std::string& user) {
    return {{"trunk", "phones"}, {"user", user}, {"bindings", nlohmann::json::array()}};
}

bool written_out(const binding_store& s) {
    const auto st = s.stats();
    return st.up && st.queued == 0 && st.in_flight == 0;
}

std::vector<nlohmann::json> load(sip_loop& loop, binding_store& store, const std::string& node) {
    std::optional<sbc::result<node_bindings>> got;
    store.load_node(node, [&](sbc::result<node_bindings> r) { got.emplace(std::move(r)); });
    REQUIRE(loop.run_until([&] { return got.has_value(); }));
    REQUIRE(got->ok());
    CHECK(got->value().unreadable.empty());
    return got->value().documents;
}

// A key's remaining time to live in ms as Redis reports it (PTTL: -2 when
// there is no key, -1 when it has no expiry).
long long pttl(sip_loop& loop, const redis_server& server, const std::string& key) {
    link_settings s;
    s.address = server.address();
    s.user = redis_server::user();
    s.password = redis_server::password();
    redis_link link(loop.root(), s);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    std::optional<long long> ttl;
    REQUIRE(link.command({"PTTL", key}, [&](const reply* r) {
        ttl = r != nullptr && r->type == reply::kind::integer ? r->integer : -3;
    }));
    REQUIRE(loop.run_until([&] { return ttl.has_value(); }));
    return *ttl;
}

}  // namespace

TEST_CASE("a node's bindings are stored with their expiry, loaded by its partner, then forgotten",
          "[cluster][binding_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    binding_store a(loop.root(), reg_config(server, "a"));
    binding_store b(loop.root(), reg_config(server, "b"));
    CHECK(a.key_of("a", "phones", "2001") == "sbct:reg:a:phones:2001");
    a.start();
    b.start();
    REQUIRE(loop.run_until([&] { return a.stats().up && b.stats().up; }));

    const auto later = std::chrono::system_clock::now() + 1h;
    a.put("phones", "2001", user_doc("2001"), later);
    a.put("phones", "2002", user_doc("2002"), later);
    a.put("phones", "2003", user_doc("2003"), later);
    a.erase("phones", "2003");  // its last binding removed
    REQUIRE(loop.run_until([&] { return written_out(a); }));
    CHECK(a.stats().written >= 2);
    CHECK(a.stats().failures == 0);

    // Redis expires the key when its last binding does.
    const auto ttl = pttl(loop, server, "sbct:reg:a:phones:2001");
    CHECK(ttl > 3500 * 1000);
    CHECK(ttl <= 3600 * 1000);
    CHECK(pttl(loop, server, "sbct:reg:a:phones:2003") == -2);

    auto docs = load(loop, b, "a");
    REQUIRE(docs.size() == 2);
    std::sort(docs.begin(), docs.end(),
              [](const auto& x, const auto& y) { return x["user"] < y["user"]; });
    CHECK(docs[0] == user_doc("2001"));
    CHECK(docs[1] == user_doc("2002"));
    CHECK(load(loop, b, "b").empty());

    std::optional<std::size_t> deleted;
    b.forget_node("a", [&](std::size_t n) { deleted = n; });
    REQUIRE(loop.run_until([&] { return deleted.has_value(); }));
    CHECK(*deleted == 2);
    CHECK(load(loop, b, "a").empty());
}

TEST_CASE("bindings whose expiry passed leave the store by themselves",
          "[cluster][binding_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    binding_store a(loop.root(), reg_config(server, "a"));
    a.start();
    REQUIRE(loop.run_until([&] { return a.stats().up; }));

    a.put("phones", "gone", user_doc("gone"), std::chrono::system_clock::now() - 1s);
    a.put("phones", "soon", user_doc("soon"), std::chrono::system_clock::now() + 200ms);
    a.put("phones", "kept", user_doc("kept"), std::chrono::system_clock::now() + 1h);
    REQUIRE(loop.run_until([&] { return written_out(a); }));
    CHECK(pttl(loop, server, "sbct:reg:a:phones:gone") == -2);
    // Asked until Redis dropped the one that expires in 200 ms.
    REQUIRE(loop.run_until([&] { return load(loop, a, "a").size() == 1; }));
    CHECK(load(loop, a, "a")[0]["user"] == "kept");
}

TEST_CASE("bindings changed while the store is away are written when it is back",
          "[cluster][binding_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    binding_store a(loop.root(), reg_config(server, "a"));
    a.start();
    REQUIRE(loop.run_until([&] { return a.stats().up; }));
    server.stop();
    REQUIRE(loop.run_until([&] { return !a.stats().up; }));

    a.put("phones", "2001", user_doc("2001"), std::chrono::system_clock::now() + 1h);
    CHECK(a.stats().queued == 1);
    std::optional<sbc::result<node_bindings>> got;
    a.load_node("a", [&](sbc::result<node_bindings> r) { got.emplace(std::move(r)); });
    REQUIRE(loop.run_until([&] { return got.has_value(); }));
    CHECK_FALSE(got->ok());  // a take-over cannot wait for a store that is down

    server.restart();
    REQUIRE(loop.run_until([&] { return written_out(a); }));
    REQUIRE(load(loop, a, "a").size() == 1);
}

}  // namespace test_binding_store
