// The call store (sbc/cluster/call_store.hpp) against a real redis-server of
// the test's own on loopback: documents written sealed and read back opened,
// deletions, another node's calls loaded and forgotten, a store away and
// back (nothing blocks, what was owed lands), and a queue that overflowed
// made good by a resync.
#include <catch2/catch.hpp>

#include <map>
#include <optional>

#include "sbc/cluster/call_store.hpp"
#include "tests/support/redis_missing.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_call_store {

using namespace sbc::cluster;
using sbc::test::redis_server;
using sbc::test::sip_loop;
using namespace std::chrono_literals;

namespace {

constexpr const char* test_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

sbc::config::cluster_config node_config(const redis_server& server, const std::string& node,
                                        std::size_t queue_limit = 100) {
    sbc::config::cluster_config c;
    c.node = node;
    c.prefix = "sbct";
    c.store.address = server.address();
    c.store.user = redis_server::user();
    c.store.password = redis_server::password();
    c.store.timeout_ms = 300;
    c.store.queue_limit = queue_limit;
    c.key_hex = test_key;
    return c;
}

sealer test_sealer() {
    auto s = sealer::from_hex(test_key);
    REQUIRE(s);
    return s.value();
}

// A call's document as the B2BUA would give it: its secret in the clear.
nlohmann::json call_doc(std::uint64_t id, const std::string& state = "established") {
    return {{"version", 1},
            {"id", id},
            {"state", state},
            {"media",
             {{"srtp", {{"key", {{"$secret", "c2VjcmV0LWtleS1udW1iZXI" + std::to_string(id)}}}}}}}};
}

bool settled(const call_store& s) {
    const auto st = s.stats();
    return st.up && st.queued == 0 && st.in_flight == 0;
}

// A load's outcome, once it came.
struct loaded {
    std::optional<sbc::result<node_calls>> got;
    call_store::load_fn callback() {
        return [this](sbc::result<node_calls> r) { got.emplace(std::move(r)); };
    }
    // call id -> document
    std::map<std::uint64_t, nlohmann::json> docs() const {
        std::map<std::uint64_t, nlohmann::json> out;
        for (const auto& c : got->value().calls) {
            out[c.call_id] = c.doc;
        }
        return out;
    }
};

std::map<std::uint64_t, nlohmann::json> load(sip_loop& loop, call_store& store,
                                             const std::string& node) {
    loaded l;
    store.load_node(node, l.callback());
    REQUIRE(loop.run_until([&] { return l.got.has_value(); }));
    REQUIRE(l.got->ok());
    return l.docs();
}

// A key's value as Redis holds it, read through a link of the test's own.
std::optional<std::string> raw_get(sip_loop& loop, const redis_server& server,
                                   const std::string& key) {
    link_settings s;
    s.address = server.address();
    s.user = redis_server::user();
    s.password = redis_server::password();
    redis_link link(loop.root(), s);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    bool called = false;
    std::optional<std::string> value;
    REQUIRE(link.command({"GET", key}, [&](const reply* r) {
        called = true;
        if (r != nullptr && r->type == reply::kind::string) {
            value = r->str;
        }
    }));
    REQUIRE(loop.run_until([&] { return called; }));
    return value;
}

void raw_set(sip_loop& loop, const redis_server& server, const std::string& key,
             const std::string& value) {
    link_settings s;
    s.address = server.address();
    s.user = redis_server::user();
    s.password = redis_server::password();
    redis_link link(loop.root(), s);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    bool called = false;
    REQUIRE(link.command({"SET", key, value}, [&](const reply*) { called = true; }));
    REQUIRE(loop.run_until([&] { return called; }));
}

}  // namespace

TEST_CASE("calls put are stored sealed and load back opened; erased ones are gone",
          "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store store(loop.root(), node_config(server, "a"), test_sealer());
    CHECK(store.key_of("a", 7) == "sbct:call:a:7");
    store.start();
    REQUIRE(loop.run_until([&] { return store.stats().up; }));

    store.put(1, call_doc(1, "early"));
    store.put(2, call_doc(2));
    store.put(1, call_doc(1));
    store.put(3, call_doc(3));
    store.erase(3);
    REQUIRE(loop.run_until([&] { return settled(store); }));
    auto s = store.stats();
    CHECK(s.written >= 2);
    CHECK(s.deleted == 1);
    CHECK(s.failures == 0);
    CHECK(s.dropped == 0);
    CHECK(s.lag == 0ms);

    // What Redis holds: the envelope, the secret sealed.
    const auto raw = raw_get(loop, server, "sbct:call:a:1");
    REQUIRE(raw);
    const auto stored = nlohmann::json::parse(*raw);
    CHECK(stored.at("seq").is_number_unsigned());
    CHECK(stored.at("doc").at("id") == 1);
    CHECK(stored.at("doc").at("state") == "established");
    CHECK(stored.at("doc").at("media").at("srtp").at("key").contains("$sealed"));
    CHECK(raw->find("$secret") == std::string::npos);
    CHECK(raw->find("c2VjcmV0LWtleS1udW1iZXIx") == std::string::npos);
    CHECK_FALSE(raw_get(loop, server, "sbct:call:a:3"));

    loaded l;
    store.load_node("a", l.callback());
    CHECK_FALSE(l.got);  // never inside the call
    REQUIRE(loop.run_until([&] { return l.got.has_value(); }));
    REQUIRE(l.got->ok());
    const auto& calls = l.got->value().calls;
    REQUIRE(calls.size() == 2);
    CHECK(l.got->value().unreadable.empty());
    const auto docs = l.docs();
    CHECK(docs.at(1) == call_doc(1));  // opened: the secret as it was
    CHECK(docs.at(2) == call_doc(2));
    const auto seq_of = [&](std::uint64_t id) {
        for (const auto& c : calls) {
            if (c.call_id == id) {
                return c.seq;
            }
        }
        return std::uint64_t{0};
    };
    CHECK(seq_of(1) > seq_of(2));  // 1 was put last

    store.erase(2);
    REQUIRE(loop.run_until([&] { return store.stats().deleted == 2 && settled(store); }));
    CHECK(load(loop, store, "a").size() == 1);
    CHECK(load(loop, store, "b").empty());
}

TEST_CASE("unreadable documents are listed, the rest still load", "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store store(loop.root(), node_config(server, "a"), test_sealer());
    store.start();
    REQUIRE(loop.run_until([&] { return store.stats().up; }));
    store.put(5, call_doc(5));
    REQUIRE(loop.run_until([&] { return settled(store); }));
    raw_set(loop, server, "sbct:call:a:6", "not json");
    raw_set(loop, server, "sbct:call:a:7", R"({"doc": {}})");
    raw_set(loop, server, "sbct:call:a:x", R"({"seq": 1, "doc": {}})");
    raw_set(loop, server, "sbct:call:a:8",
            R"({"seq": 1, "doc": {"k": {"$sealed": "does not open"}}})");

    loaded l;
    store.load_node("a", l.callback());
    REQUIRE(loop.run_until([&] { return l.got.has_value(); }));
    REQUIRE(l.got->ok());
    CHECK(l.got->value().calls.size() == 1);
    const auto& bad = l.got->value().unreadable;
    REQUIRE(bad.size() == 4);
    std::string all;
    for (const auto& b : bad) {
        all += b + "\n";
    }
    INFO(all);
    CHECK(all.find("sbct:call:a:6: not JSON") != std::string::npos);
    CHECK(all.find("sbct:call:a:7: not {") != std::string::npos);
    CHECK(all.find("sbct:call:a:x: no call id") != std::string::npos);
    CHECK(all.find("sbct:call:a:8: ") != std::string::npos);
}

TEST_CASE("a node's calls are loaded and then forgotten by another", "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store a(loop.root(), node_config(server, "a", 2000), test_sealer());
    call_store b(loop.root(), node_config(server, "b"), test_sealer());
    a.start();
    b.start();
    REQUIRE(loop.run_until([&] { return a.stats().up && b.stats().up; }));
    for (std::uint64_t id = 1; id <= 1200; ++id) {  // more than one SCAN step
        a.put(id, call_doc(id));
    }
    b.put(1, call_doc(1, "b's own"));
    REQUIRE(loop.run_until([&] { return settled(a) && settled(b); }));
    CHECK(a.stats().written == 1200);

    const auto taken = load(loop, b, "a");
    CHECK(taken.size() == 1200);
    CHECK(taken.at(1200) == call_doc(1200));

    std::optional<std::size_t> forgotten;
    b.forget_node("a", [&](std::size_t n) { forgotten = n; });
    REQUIRE(loop.run_until([&] { return forgotten.has_value(); }));
    CHECK(*forgotten == 1200);
    CHECK(load(loop, b, "a").empty());
    CHECK(load(loop, b, "b").at(1) == call_doc(1, "b's own"));
}

namespace {

// Refreshes `copy` from `node`'s index; the outcome (or why not).
sbc::result<copy_refresh> refresh(sip_loop& loop, call_store& store, const std::string& node,
                                  const std::shared_ptr<node_copy>& copy) {
    std::optional<sbc::result<copy_refresh>> got;
    store.refresh_copy(node, copy, [&](sbc::result<copy_refresh> r) { got.emplace(std::move(r)); });
    REQUIRE(loop.run_until([&] { return got.has_value(); }));
    return std::move(*got);
}

}  // namespace

TEST_CASE("a partner's copy is refreshed from the index: only changed documents are read",
          "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store a(loop.root(), node_config(server, "a", 2000), test_sealer());
    call_store b(loop.root(), node_config(server, "b"), test_sealer());
    a.start();
    b.start();
    REQUIRE(loop.run_until([&] { return a.stats().up && b.stats().up; }));
    for (std::uint64_t id = 1; id <= 1100; ++id) {  // more than one MGET
        a.put(id, call_doc(id));
    }
    REQUIRE(loop.run_until([&] { return settled(a); }));

    auto copy = std::make_shared<node_copy>();
    auto r = refresh(loop, b, "a", copy);
    REQUIRE(r.ok());
    CHECK(r.value().listed == 1100);
    CHECK(r.value().fetched == 1100);
    CHECK(r.value().dropped == 0);
    REQUIRE(copy->calls.size() == 1100);
    CHECK(copy->calls.at(1100).doc == call_doc(1100));  // opened again

    // Nothing changed: nothing is read again.
    r = refresh(loop, b, "a", copy);
    REQUIRE(r.ok());
    CHECK(r.value().fetched == 0);

    // One call changes, one ends, one begins.
    a.put(2, call_doc(2, "on hold"));
    a.erase(3);
    a.put(2000, call_doc(2000));
    REQUIRE(loop.run_until([&] { return settled(a); }));
    r = refresh(loop, b, "a", copy);
    REQUIRE(r.ok());
    CHECK(r.value().listed == 1100);
    CHECK(r.value().fetched == 2);
    CHECK(r.value().dropped == 1);
    CHECK(copy->calls.at(2).doc == call_doc(2, "on hold"));
    CHECK(copy->calls.count(3) == 0);
    CHECK(copy->calls.at(2000).doc == call_doc(2000));
    const auto as_loaded = copy->to_node_calls();
    CHECK(as_loaded.calls.size() == 1100);
    CHECK(as_loaded.unreadable.empty());

    // Taken over and forgotten: the index goes with the documents.
    std::optional<std::size_t> forgotten;
    b.forget_node("a", [&](std::size_t n) { forgotten = n; });
    REQUIRE(loop.run_until([&] { return forgotten.has_value(); }));
    CHECK(*forgotten == 1100);
    r = refresh(loop, b, "a", copy);
    REQUIRE(r.ok());
    CHECK(r.value().listed == 0);
    CHECK(r.value().dropped == 1100);
    CHECK(copy->calls.empty());
}

TEST_CASE("a copy whose refresh fails keeps what it had", "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store a(loop.root(), node_config(server, "a"), test_sealer());
    call_store b(loop.root(), node_config(server, "b"), test_sealer());
    a.start();
    b.start();
    REQUIRE(loop.run_until([&] { return a.stats().up && b.stats().up; }));
    a.put(1, call_doc(1));
    a.put(2, call_doc(2));
    REQUIRE(loop.run_until([&] { return settled(a); }));
    auto copy = std::make_shared<node_copy>();
    REQUIRE(refresh(loop, b, "a", copy).ok());
    REQUIRE(copy->calls.size() == 2);

    server.stop();
    REQUIRE(loop.run_until([&] { return !b.stats().up; }));
    const auto r = refresh(loop, b, "a", copy);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error_message().find("not connected") != std::string::npos);
    CHECK(copy->calls.size() == 2);

    // A document that cannot be opened is named, and the rest still come.
    server.restart();  // empty: the node writes its calls again
    REQUIRE(loop.run_until([&] { return a.stats().up && b.stats().up; }));
    for (std::uint64_t id : {1, 2, 5}) {
        a.put(id, call_doc(id));
    }
    REQUIRE(loop.run_until([&] { return settled(a); }));
    raw_set(loop, server, "sbct:call:a:1", "{not json");
    auto fresh = std::make_shared<node_copy>();
    const auto again = refresh(loop, b, "a", fresh);
    REQUIRE(again.ok());
    CHECK(fresh->calls.count(2) == 1);
    CHECK(fresh->calls.count(5) == 1);
    REQUIRE(fresh->unreadable.size() == 1);
    CHECK(fresh->unreadable.front() == "sbct:call:a:1: not JSON");
}

TEST_CASE("while the store is away nothing blocks; what was owed lands when it is back",
          "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store store(loop.root(), node_config(server, "a"), test_sealer());
    store.start();
    REQUIRE(loop.run_until([&] { return store.stats().up; }));

    store.put(7, call_doc(7));  // sent, not yet on the wire when the server goes
    server.stop();
    REQUIRE(loop.run_until([&] { return !store.stats().up; }));
    for (std::uint64_t id = 1; id <= 5; ++id) {
        store.put(id, call_doc(id, "early"));
    }
    store.put(1, call_doc(1));
    store.put(6, call_doc(6));
    store.erase(6);
    loop.drain();
    auto s = store.stats();
    CHECK_FALSE(s.up);
    CHECK(s.queued == 7);  // 7 given back, 1..5, and 6's deletion
    CHECK(s.failures >= 1);
    CHECK_FALSE(s.last_error.empty());
    CHECK(s.dropped == 0);

    loaded early;
    store.load_node("a", early.callback());
    REQUIRE(loop.run_until([&] { return early.got.has_value(); }));
    CHECK_FALSE(early.got->ok());
    CHECK(early.got->error_message().find("not connected") != std::string::npos);

    server.restart();  // empty: only what the queue held comes back
    REQUIRE(loop.run_until([&] { return settled(store); }));
    const auto docs = load(loop, store, "a");
    CHECK(docs.size() == 6);
    CHECK(docs.at(1) == call_doc(1));
    CHECK(docs.at(5) == call_doc(5, "early"));
    CHECK(docs.at(7) == call_doc(7));
    CHECK(docs.count(6) == 0);
    CHECK(store.stats().lag == 0ms);
}

TEST_CASE("a store that comes back empty gets every live call again", "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store store(loop.root(), node_config(server, "a"), test_sealer());
    std::map<std::uint64_t, nlohmann::json> live{{1, call_doc(1)}, {2, call_doc(2)}};
    int resyncs = 0;
    store.on_resync([&] {
        ++resyncs;
        for (const auto& [id, doc] : live) {
            store.put(id, doc);
        }
    });
    store.start();
    REQUIRE(loop.run_until([&] { return store.stats().up; }));
    for (const auto& [id, doc] : live) {
        store.put(id, doc);
    }
    REQUIRE(loop.run_until([&] { return settled(store); }));
    CHECK(resyncs == 0);  // the first connection has lost nothing

    // Killed and started again without persistence: the server forgets
    // calls 1 and 2, which do not change while it is away, so nothing of
    // theirs is queued; only the rewrite on reconnection brings them back.
    server.stop();
    REQUIRE(loop.run_until([&] { return !store.stats().up; }));
    CHECK(store.stats().queued == 0);
    server.restart();
    REQUIRE(loop.run_until([&] { return resyncs == 1 && settled(store); }));
    CHECK(store.stats().resyncs == 1);
    CHECK(load(loop, store, "a") == live);
}

TEST_CASE("an overflowed queue is made good: every live call rewritten, dead keys deleted",
          "[cluster][call_store]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    call_store store(loop.root(), node_config(server, "a", 3), test_sealer());
    std::map<std::uint64_t, nlohmann::json> live;
    int resyncs = 0;
    store.on_resync([&] {
        ++resyncs;
        for (const auto& [id, doc] : live) {
            store.put(id, doc);
        }
    });
    const auto begin = [&](std::uint64_t id) {
        live[id] = call_doc(id);
        store.put(id, live[id]);
    };
    const auto finish = [&](std::uint64_t id) {
        live.erase(id);
        store.erase(id);
    };
    store.start();
    REQUIRE(loop.run_until([&] { return store.stats().up; }));
    begin(1);
    begin(2);
    begin(3);
    REQUIRE(loop.run_until([&] { return settled(store); }));

    // Frozen, the server keeps what it has and answers nothing: the link
    // learns it when a write is not answered in time, and gives it back.
    server.freeze();
    finish(1);
    REQUIRE(loop.run_until([&] { return !store.stats().up; }));
    CHECK(store.stats().queued == 1);
    begin(4);
    begin(5);
    begin(6);   // the queue holds three: dropped
    finish(2);  // dropped too: key 2 would stay for ever
    auto s = store.stats();
    CHECK(s.queued == 3);
    CHECK(s.dropped == 2);
    CHECK(s.lag >= 0ms);

    server.thaw();
    REQUIRE(loop.run_until([&] { return resyncs == 1 && settled(store); }));
    s = store.stats();
    CHECK(s.resyncs == 1);
    CHECK(s.dropped == 2);
    const auto docs = load(loop, store, "a");
    CHECK(docs.size() == 4);
    for (const auto& [id, doc] : live) {
        INFO(id);
        REQUIRE(docs.count(id) == 1);
        CHECK(docs.at(id) == doc);
    }
}

}  // namespace test_call_store
