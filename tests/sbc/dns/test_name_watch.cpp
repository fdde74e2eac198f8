// The name_watch against a real dnsmasq on loopback: names resolved at
// start, refreshed as their TTL runs out and reported when their records
// change; a server that stops answering leaves the last answer in place,
// stale, until the grace period ends; a name that never resolves is retried
// with back-off; the callback may change the watched set.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "sbc/dns/name_watch.hpp"
#include "tests/support/dns_servers.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_name_watch {

using namespace sbc::dns;
using sbc::test::dnsmasq;
using sbc::test::silent_udp;
using sbc::test::sip_loop;

namespace {

// Short TTLs, timeouts and back-off, so each test takes a second or two.
settings quick(const std::string& server) {
    settings s;
    s.servers = {server};
    s.query_timeout = std::chrono::milliseconds(300);
    s.min_refresh = std::chrono::milliseconds(100);
    s.refresh_lead = std::chrono::milliseconds(200);
    s.retry_initial = std::chrono::milliseconds(50);
    s.retry_max = std::chrono::milliseconds(200);
    s.stale_grace = std::chrono::seconds(60);
    return s;
}

// A peer behind SRV whose one target is `address`, with TTLs of a second.
std::vector<std::string> peer_at(const std::string& address) {
    return {"--local-ttl=1", "--srv-host=_sip._udp.peer.sbc.test,host.sbc.test,5070,10,5",
            "--host-record=host.sbc.test," + address + ",1"};
}

// What on_change reported, in order.
struct changes {
    std::vector<name_state> seen;
    name_watch::change_fn callback() {
        return [this](const name_state& s) { seen.push_back(s); };
    }
    std::string last_address() const {
        return seen.empty() || seen.back().targets.empty() ? std::string()
                                                           : seen.back().targets.front().address;
    }
};

name_state state_of(const name_watch& watch, const std::string& name) {
    auto s = watch.state(name);
    REQUIRE(s.has_value());
    return *s;
}

}  // namespace

TEST_CASE("a watched name is resolved at start and followed when it changes", "[dns][watch]") {
    dnsmasq server(peer_at("127.0.8.1"));
    sip_loop loop;
    changes c;
    name_watch watch(loop.root(), quick(server.server()), c.callback());
    auto key = watch.add("sip:Peer.sbc.test;transport=udp");
    REQUIRE(key.ok());
    CHECK(key.value() == "sip:peer.sbc.test;transport=udp");
    CHECK(c.seen.empty());  // never inside add()
    REQUIRE(loop.run_until([&] { return c.seen.size() == 1; }));
    CHECK(c.last_address() == "127.0.8.1");
    CHECK(c.seen[0].targets.front().port == 5070);
    CHECK(c.seen[0].targets.front().weight == 5);

    auto s = state_of(watch, key.value());
    CHECK(s.name == "sip:peer.sbc.test;transport=udp");
    CHECK_FALSE(s.stale);
    CHECK(s.last_error.empty());
    REQUIRE(s.expires.has_value());
    REQUIRE(s.resolved_at.has_value());
    CHECK(*s.expires - *s.resolved_at == std::chrono::seconds(1));  // the TTL
    CHECK(watch.targets(key.value()).size() == 1);

    // The record changes; the TTL of a second brings the new one in.
    server.restart(peer_at("127.0.8.2"));
    REQUIRE(loop.run_until([&] { return c.seen.size() == 2; }));
    CHECK(c.last_address() == "127.0.8.2");
    CHECK(state_of(watch, key.value()).resolutions >= 2);
}

TEST_CASE("an unchanged answer is refreshed without a report", "[dns][watch]") {
    dnsmasq server(peer_at("127.0.8.1"));
    sip_loop loop;
    changes c;
    name_watch watch(loop.root(), quick(server.server()), c.callback());
    auto key = watch.add("sip:peer.sbc.test;transport=udp");
    REQUIRE(key.ok());
    REQUIRE(loop.run_until([&] { return state_of(watch, key.value()).resolutions >= 3; }));
    CHECK(c.seen.size() == 1);
    CHECK_FALSE(state_of(watch, key.value()).stale);
}

TEST_CASE("a server that stops answering leaves the last answer, stale, until the grace ends",
          "[dns][watch]") {
    dnsmasq server(peer_at("127.0.8.1"));
    sip_loop loop;
    changes c;
    auto s = quick(server.server());
    s.stale_grace = std::chrono::seconds(1);
    name_watch watch(loop.root(), s, c.callback());
    auto key = watch.add("sip:peer.sbc.test;transport=udp").value();
    REQUIRE(loop.run_until([&] { return c.seen.size() == 1; }));

    // The server goes silent: its port takes queries and answers none.
    server.stop();
    std::optional<silent_udp> silent;
    silent.emplace(server.address(), server.port());
    // Stale as soon as the TTL has run out without a fresh answer; the
    // attempt under way then fails on its deadline.
    REQUIRE(loop.run_until([&] {
        const auto st = state_of(watch, key);
        return st.stale && !st.last_error.empty();
    }));
    auto stale = state_of(watch, key);
    CHECK(stale.targets.size() == 1);
    CHECK(stale.targets.front().address == "127.0.8.1");
    CHECK_THAT(stale.last_error, Catch::Contains("timeout"));
    CHECK(stale.failures_in_row >= 1);
    CHECK(c.seen.size() == 1);  // stale is no change of targets

    // A second past the expiry the targets are dropped, and that is a change.
    REQUIRE(loop.run_until([&] { return c.seen.size() == 2; }));
    CHECK(c.seen.back().targets.empty());
    CHECK_FALSE(c.seen.back().stale);
    CHECK_FALSE(c.seen.back().last_error.empty());

    // The server comes back: the name resolves again, errors forgotten.
    silent.reset();
    server.restart(peer_at("127.0.8.1"));
    REQUIRE(loop.run_until([&] { return c.seen.size() == 3; }));
    CHECK(c.last_address() == "127.0.8.1");
    CHECK(state_of(watch, key).last_error.empty());
    CHECK(state_of(watch, key).failures_in_row == 0);
}

TEST_CASE("a name that does not resolve is retried with back-off", "[dns][watch]") {
    dnsmasq server(peer_at("127.0.8.1"));
    sip_loop loop;
    changes c;
    name_watch watch(loop.root(), quick(server.server()), c.callback());
    auto key = watch.add("sip:nope.sbc.test").value();
    REQUIRE(loop.run_until([&] { return state_of(watch, key).failures >= 3; }));
    auto s = state_of(watch, key);
    CHECK_THAT(s.last_error, Catch::Contains("NXDOMAIN"));
    CHECK(s.targets.empty());
    CHECK_FALSE(s.stale);
    CHECK(s.resolutions == 0);
    CHECK(c.seen.empty());
}

TEST_CASE("IP literals need no DNS and malformed names are refused", "[dns][watch]") {
    silent_udp silent;  // would time out every query: none is sent
    sip_loop loop;
    changes c;
    name_watch watch(loop.root(), quick(silent.server()), c.callback());
    auto key = watch.add("192.0.2.10:5080");
    REQUIRE(key.ok());
    auto targets = watch.targets(key.value());
    REQUIRE(targets.size() == 1);  // at once, as a peer given by address always was
    CHECK(targets[0].address == "192.0.2.10");
    CHECK(targets[0].port == 5080);
    CHECK_FALSE(state_of(watch, key.value()).expires.has_value());

    auto bad = watch.add("sip:bad name.sbc.test");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error_message(), Catch::Contains("host name"));
    CHECK_FALSE(watch.add("sip:alice@peer.sbc.test").ok());
    CHECK(watch.size() == 1);
    loop.drain();
    CHECK(c.seen.empty());
    CHECK(watch.client().outstanding() == 0);
}

TEST_CASE("names are counted, and the callback may drop its own", "[dns][watch]") {
    dnsmasq server(peer_at("127.0.8.1"));
    sip_loop loop;
    int calls = 0;
    std::optional<name_watch> watch;
    watch.emplace(loop.root(), quick(server.server()), [&](const name_state& s) {
        ++calls;
        watch->remove(s.name);  // mid-callback, from inside its own lookup
    });
    auto key = watch->add("sip:peer.sbc.test;transport=udp").value();
    CHECK(watch->add("SIP:PEER.SBC.TEST;TRANSPORT=UDP").value() == key);
    CHECK(watch->size() == 1);
    CHECK(watch->remove(key));
    CHECK(watch->size() == 1);  // one add() left
    REQUIRE(loop.run_until([&] { return calls == 1; }));
    CHECK(watch->size() == 0);
    CHECK_FALSE(watch->remove(key));
    CHECK(watch->client().outstanding() == 0);
}

TEST_CASE("refresh() resolves a name again at once", "[dns][watch]") {
    dnsmasq server({"--local-ttl=600", "--host-record=long.sbc.test,127.0.8.1,600"});
    sip_loop loop;
    changes c;
    name_watch watch(loop.root(), quick(server.server()), c.callback());
    auto key = watch.add("sip:long.sbc.test:5060").value();
    REQUIRE(loop.run_until([&] { return c.seen.size() == 1; }));
    server.restart({"--local-ttl=600", "--host-record=long.sbc.test,127.0.8.3,600"});
    CHECK(watch.refresh(key));
    REQUIRE(loop.run_until([&] { return c.seen.size() == 2; }));
    CHECK(c.last_address() == "127.0.8.3");
    CHECK_FALSE(watch.refresh("sip:unknown.sbc.test"));
}

}  // namespace test_name_watch
