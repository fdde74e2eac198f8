// The Redis link (sbc/cluster/redis_link.hpp) against a real redis-server of
// the test's own on loopback: AUTH as an ACL user or with a password alone,
// a wrong password reported and retried, a server lost and back, a server
// that stops answering, the bound on commands in flight; and all of it over
// TLS (a server that serves TLS only, with certificates made by the test):
// a wrong CA, a wrong name, a client certificate demanded. The loop never
// blocks: each test drives it with run_until and a deadline.
#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>

#include "sbc/cluster/redis_link.hpp"
#include "tests/support/redis_missing.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/sip_loop.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_certs.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_redis_link {

using namespace sbc::cluster;
using sbc::test::issued;
using sbc::test::redis_server;
using sbc::test::redis_tls_files;
using sbc::test::sip_loop;
using namespace std::chrono_literals;

namespace {

link_settings as_user(const redis_server& server) {
    link_settings s;
    s.address = server.address();
    s.user = redis_server::user();
    s.password = redis_server::password();
    s.client_name = "sbc-test-link";
    s.timeout = 500ms;
    s.backoff_min = 20ms;
    s.backoff_max = 100ms;
    return s;
}

// Where a command's answer lands: nullopt until called; then the reply, or
// nullopt inside for "not answered".
struct answer {
    bool called = false;
    std::optional<reply> got;
    redis_link::reply_fn callback() {
        return [this](const reply* r) {
            called = true;
            if (r != nullptr) {
                got = *r;
            }
        };
    }
};

// What the link told its owner.
struct events {
    int ups = 0;
    int downs = 0;
    int readies = 0;
    std::string why;
    void watch(redis_link& link) {
        link.on_up([this] { ++ups; });
        link.on_down([this](const std::string& w) {
            ++downs;
            why = w;
        });
        link.on_ready([this] { ++readies; });
    }
};

}  // namespace

TEST_CASE("the link logs in as an ACL user, names itself and answers commands",
          "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    redis_link link(loop.root(), as_user(server));
    events ev;
    ev.watch(link);
    CHECK_FALSE(link.up());
    CHECK_FALSE(link.command({"PING"}, [](const reply*) {}));  // not started
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    CHECK(ev.ups == 1);
    CHECK(link.ready());

    answer set, get, name, who, missing;
    CHECK(link.command({"SET", "sbc:t:key", std::string("v\0\r\nv", 5)}, set.callback()));
    CHECK(link.command({"GET", "sbc:t:key"}, get.callback()));
    CHECK(link.command({"CLIENT", "GETNAME"}, name.callback()));
    CHECK(link.command({"ACL", "WHOAMI"}, who.callback()));
    CHECK(link.command({"GET", "sbc:t:none"}, missing.callback()));
    REQUIRE(loop.run_until([&] { return missing.called; }));
    REQUIRE(set.got);
    CHECK(set.got->type == reply::kind::status);
    CHECK(set.got->str == "OK");
    REQUIRE(get.got);
    CHECK(get.got->type == reply::kind::string);
    CHECK(get.got->str == std::string("v\0\r\nv", 5));  // binary safe
    REQUIRE(name.got);
    CHECK(name.got->str == "sbc-test-link");
    REQUIRE(who.got);
    CHECK(who.got->str == redis_server::user());
    REQUIRE(missing.got);
    CHECK(missing.got->type == reply::kind::nil);

    const auto s = link.stats();
    CHECK(s.up);
    CHECK(s.connects == 1);
    CHECK(s.failures == 0);
    CHECK(s.commands == 5);
    CHECK(s.errors == 0);
    CHECK(s.in_flight == 0);
    CHECK(s.last_error.empty());
}

TEST_CASE("a password alone logs in as the default user", "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    auto settings = as_user(server);
    settings.user = "";
    settings.password = redis_server::default_password();
    redis_link link(loop.root(), settings);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    answer who, arr, num, err;
    link.command({"ACL", "WHOAMI"}, who.callback());
    link.command({"INCRBY", "sbc:t:n", "41"}, num.callback());
    link.command({"SCAN", "0", "MATCH", "sbc:t:*"}, arr.callback());
    link.command({"NO-SUCH-COMMAND"}, err.callback());
    REQUIRE(loop.run_until([&] { return err.called; }));
    REQUIRE(who.got);
    CHECK(who.got->str == "default");
    REQUIRE(num.got);
    CHECK(num.got->type == reply::kind::integer);
    CHECK(num.got->integer == 41);
    REQUIRE(arr.got);
    CHECK(arr.got->type == reply::kind::array);
    REQUIRE(arr.got->elements.size() == 2);
    REQUIRE(arr.got->elements[1].elements.size() == 1);
    CHECK(arr.got->elements[1].elements[0].str == "sbc:t:n");
    REQUIRE(err.got);
    CHECK(err.got->type == reply::kind::error);
    CHECK(link.stats().errors == 1);
    CHECK(link.up());  // an error reply is an answer, not a failure
}

TEST_CASE("the link connects over a unix socket", "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    auto settings = as_user(server);
    settings.address = "unix:" + server.socket_path();
    redis_link link(loop.root(), settings);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    answer who;
    REQUIRE(link.command({"ACL", "WHOAMI"}, who.callback()));
    REQUIRE(loop.run_until([&] { return who.called; }));
    REQUIRE(who.got);
    CHECK(who.got->str == redis_server::user());
}

TEST_CASE("a wrong password is reported and tried again, never up", "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    auto settings = as_user(server);
    settings.password = "not-the-password";
    redis_link link(loop.root(), settings);
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.stats().failures >= 3; }));
    const auto s = link.stats();
    CHECK_FALSE(s.up);
    CHECK(s.connects == 0);
    CHECK(s.last_error.find("AUTH") != std::string::npos);
    CHECK(s.last_error.find("WRONGPASS") != std::string::npos);
    CHECK(ev.ups == 0);
    CHECK(ev.downs == 0);  // it never was up
    CHECK_FALSE(link.command({"PING"}, [](const reply*) {}));
}

TEST_CASE("a server that is not there is retried without blocking the loop",
          "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    const auto settings = as_user(server);
    server.stop();
    sip_loop loop;
    redis_link link(loop.root(), settings);
    link.start();
    REQUIRE(loop.run_until([&] { return link.stats().failures >= 2; }));
    CHECK_FALSE(link.up());
    CHECK(link.stats().last_error.find("refused") != std::string::npos);

    server.restart();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    CHECK(link.stats().connects == 1);
}

TEST_CASE("a lost server fails the commands out, and the link comes back with it",
          "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    redis_link link(loop.root(), as_user(server));
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));

    // Sent, not yet on the wire: the server is gone before the loop turns.
    answer lost1, lost2;
    REQUIRE(link.command({"SET", "sbc:t:a", "1"}, lost1.callback()));
    REQUIRE(link.command({"SET", "sbc:t:b", "1"}, lost2.callback()));
    server.stop();
    REQUIRE(loop.run_until([&] { return ev.downs == 1; }));
    CHECK(lost1.called);
    CHECK_FALSE(lost1.got);
    CHECK(lost2.called);
    CHECK_FALSE(lost2.got);
    CHECK_FALSE(link.up());
    CHECK_FALSE(link.command({"PING"}, [](const reply*) {}));
    auto s = link.stats();
    CHECK(s.unanswered == 2);
    CHECK(s.failures == 1);
    CHECK_FALSE(s.last_error.empty());
    CHECK_FALSE(ev.why.empty());

    server.restart();
    REQUIRE(loop.run_until([&] { return ev.ups == 2; }));
    answer again;
    REQUIRE(link.command({"SET", "sbc:t:a", "2"}, again.callback()));
    REQUIRE(loop.run_until([&] { return again.called; }));
    CHECK(again.got);
    CHECK(link.stats().connects == 2);
}

TEST_CASE("a server that stops answering times out, and the link reconnects when it answers",
          "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    auto settings = as_user(server);
    settings.timeout = 200ms;
    redis_link link(loop.root(), settings);
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));

    server.freeze();
    answer late;
    REQUIRE(link.command({"GET", "sbc:t:x"}, late.callback()));
    REQUIRE(loop.run_until([&] { return late.called; }));
    CHECK_FALSE(late.got);
    CHECK(ev.downs == 1);
    CHECK(link.stats().last_error.find("no answer within 200 ms") != std::string::npos);
    // Connecting again meets a frozen server too: those attempts time out.
    REQUIRE(loop.run_until([&] { return link.stats().failures >= 2; }));
    CHECK_FALSE(link.up());

    server.thaw();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    CHECK(ev.ups == 2);
}

TEST_CASE("no more than max_in_flight commands go out; on_ready says when one can",
          "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    auto settings = as_user(server);
    settings.max_in_flight = 2;
    redis_link link(loop.root(), settings);
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    answer a, b, c;
    CHECK(link.command({"PING"}, a.callback()));
    CHECK(link.command({"PING"}, b.callback()));
    CHECK_FALSE(link.ready());
    CHECK_FALSE(link.command({"PING"}, c.callback()));
    CHECK(link.stats().in_flight == 2);
    REQUIRE(loop.run_until([&] { return ev.readies == 1; }));
    CHECK(link.ready());
    CHECK_FALSE(c.called);  // refused, so never called
    REQUIRE(loop.run_until([&] { return b.called; }));
    CHECK(ev.readies == 1);  // said once per refusal
}

TEST_CASE("a link destroyed with commands out answers them with nullptr", "[cluster][redis_link]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    redis_server server;
    sip_loop loop;
    answer a;
    {
        redis_link link(loop.root(), as_user(server));
        link.start();
        REQUIRE(loop.run_until([&] { return link.up(); }));
        REQUIRE(link.command({"PING"}, a.callback()));
    }
    CHECK(a.called);
    CHECK_FALSE(a.got);
    loop.drain();  // nothing of the link is left on the loop
}

TEST_CASE("store addresses are IP literals or unix paths, never names", "[cluster][redis_link]") {
    sip_loop loop;
    const auto make = [&](const std::string& address) {
        link_settings s;
        s.address = address;
        return redis_link(loop.root(), s);
    };
    for (const auto* bad :
         {"localhost:6379", "redis.example.com:6379", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
          "127.0.0.1:65536", "127.0.0.1:63x", "[::1]6379", "[::1:6379", "::1:6379",
          "[127.0.0.1]:6379", "unix:", "unix:rel/path", ""}) {
        INFO(bad);
        CHECK_THROWS_AS(make(bad), std::invalid_argument);
    }
    for (const auto* good :
         {"127.0.0.1:6379", "[::1]:6379", "[2001:db8::1]:1", "unix:/run/r.sock"}) {
        INFO(good);
        CHECK_NOTHROW(make(good));
    }
}

namespace {

// A CA, the server's certificate (127.0.0.1 and redis.test), a client
// certificate, and a CA that signed none of them.
struct test_pki {
    sbc::test::temp_dir dir{"sbc-redis-pki"};
    issued ca{"Redis test CA", ""};
    issued other_ca{"Other test CA", ""};
    issued server{"redis.test", "IP:127.0.0.1,DNS:redis.test", &ca};
    issued client{"sbc.test", "DNS:sbc.test", &ca};
    issued named{"redis.test", "DNS:redis.test", &ca};  ///< a name, no address

    test_pki() {
        sbc::test::write_pem_file(dir.file("ca.pem"), ca.cert.get(), nullptr);
        sbc::test::write_pem_file(dir.file("other-ca.pem"), other_ca.cert.get(), nullptr);
        sbc::test::write_pem_file(dir.file("server.pem"), server.cert.get(), nullptr);
        sbc::test::write_pem_file(dir.file("server.key"), nullptr, server.key.get());
        sbc::test::write_pem_file(dir.file("client.pem"), client.cert.get(), nullptr);
        sbc::test::write_pem_file(dir.file("client.key"), nullptr, client.key.get());
        sbc::test::write_pem_file(dir.file("named.pem"), named.cert.get(), nullptr);
        sbc::test::write_pem_file(dir.file("named.key"), nullptr, named.key.get());
    }

    redis_tls_files server_files(std::string auth_clients = "no") const {
        return {dir.file("server.pem"), dir.file("server.key"), dir.file("ca.pem"),
                std::move(auth_clients)};
    }

    /// Trusts the test CA; no client certificate, no server_name.
    link_tls trusting() const {
        link_tls t;
        t.ca_file = dir.file("ca.pem");
        return t;
    }
};

link_settings over_tls(const redis_server& server, link_tls tls) {
    auto s = as_user(server);
    s.tls = std::move(tls);
    return s;
}

}  // namespace

TEST_CASE("over TLS the link logs in as an ACL user and carries pipelines and large values",
          "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files());
    sip_loop loop;
    auto settings = over_tls(server, pki.trusting());
    // A slow machine (a sanitized build) must not time the large value out.
    settings.timeout = 10s;
    redis_link link(loop.root(), settings);
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    CHECK(ev.ups == 1);

    answer set, get, who;
    CHECK(link.command({"SET", "sbc:t:key", std::string("v\0\r\nv", 5)}, set.callback()));
    CHECK(link.command({"GET", "sbc:t:key"}, get.callback()));
    CHECK(link.command({"ACL", "WHOAMI"}, who.callback()));
    REQUIRE(loop.run_until([&] { return who.called; }));
    REQUIRE(get.got);
    CHECK(get.got->str == std::string("v\0\r\nv", 5));
    REQUIRE(who.got);
    CHECK(who.got->str == redis_server::user());

    // Many commands at once: they leave in few TLS records, and the replies
    // come back in records that hold several of them.
    std::vector<answer> incr(200);
    for (auto& a : incr) {
        REQUIRE(link.command({"INCR", "sbc:t:count"}, a.callback()));
    }
    REQUIRE(loop.run_until([&] { return incr.back().called; }));
    for (std::size_t i = 0; i < incr.size(); ++i) {
        REQUIRE(incr[i].got);
        CHECK(incr[i].got->integer == static_cast<long long>(i + 1));
    }

    // Larger than a TLS record (16 KiB) and than one read or write: it
    // goes out and comes back in pieces.
    std::string big(256 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>(i * 7 + i / 251);
    }
    answer put, back;
    REQUIRE(link.command({"SET", "sbc:t:big", big}, put.callback()));
    REQUIRE(link.command({"GET", "sbc:t:big"}, back.callback()));
    REQUIRE(loop.run_until([&] { return back.called; }));
    REQUIRE(put.got);
    CHECK(put.got->str == "OK");
    REQUIRE(back.got);
    CHECK(back.got->str.size() == big.size());
    CHECK(back.got->str == big);

    const auto s = link.stats();
    CHECK(s.connects == 1);
    CHECK(s.failures == 0);
    CHECK(s.errors == 0);
    CHECK(s.commands == 3 + incr.size() + 2);
}

TEST_CASE("over TLS a server the CA did not sign is refused, and retried",
          "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files());
    sip_loop loop;
    auto tls = pki.trusting();
    tls.ca_file = pki.dir.file("other-ca.pem");
    redis_link link(loop.root(), over_tls(server, tls));
    link.start();
    REQUIRE(loop.run_until([&] { return link.stats().failures >= 2; }));
    CHECK_FALSE(link.up());
    const auto why = link.stats().last_error;
    INFO(why);
    CHECK(why.find("TLS handshake with " + server.address() + " failed") != std::string::npos);
    CHECK(why.find("certificate verify failed") != std::string::npos);
}

TEST_CASE("over TLS verify: false takes any certificate", "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files());
    sip_loop loop;
    auto tls = pki.trusting();
    tls.ca_file = pki.dir.file("other-ca.pem");
    tls.verify = false;
    redis_link link(loop.root(), over_tls(server, tls));
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
}

TEST_CASE("over TLS the server's certificate must carry the server_name, or else the address",
          "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files());
    sip_loop loop;
    SECTION("the name it carries") {
        auto tls = pki.trusting();
        tls.server_name = "redis.test";
        redis_link link(loop.root(), over_tls(server, tls));
        link.start();
        REQUIRE(loop.run_until([&] { return link.up(); }));
    }
    SECTION("another name") {
        auto tls = pki.trusting();
        tls.server_name = "other.test";
        redis_link link(loop.root(), over_tls(server, tls));
        link.start();
        REQUIRE(loop.run_until([&] { return link.stats().failures >= 1; }));
        CHECK_FALSE(link.up());
        const auto why = link.stats().last_error;
        INFO(why);
        CHECK(why.find("certificate verify failed (hostname mismatch)") != std::string::npos);
    }
    SECTION("no name: the address it was dialled at") {
        redis_link link(loop.root(), over_tls(server, pki.trusting()));
        link.start();
        REQUIRE(loop.run_until([&] { return link.up(); }));
    }
}

TEST_CASE("over TLS without a server_name a certificate without the address is refused",
          "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    auto files = pki.server_files();
    files.cert = pki.dir.file("named.pem");
    files.key = pki.dir.file("named.key");
    redis_server server(files);
    sip_loop loop;
    redis_link link(loop.root(), over_tls(server, pki.trusting()));
    link.start();
    REQUIRE(loop.run_until([&] { return link.stats().failures >= 1; }));
    CHECK_FALSE(link.up());
    const auto why = link.stats().last_error;
    INFO(why);
    CHECK(why.find("certificate verify failed (IP address mismatch)") != std::string::npos);
}

TEST_CASE("over TLS a server that demands a client certificate gets ours",
          "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files("yes"));
    sip_loop loop;
    SECTION("none given: refused") {
        redis_link link(loop.root(), over_tls(server, pki.trusting()));
        link.start();
        REQUIRE(loop.run_until([&] { return link.stats().failures >= 1; }));
        CHECK_FALSE(link.up());
        CHECK(link.stats().connects == 0);
        INFO(link.stats().last_error);
        CHECK_FALSE(link.stats().last_error.empty());
    }
    SECTION("ours: taken") {
        auto tls = pki.trusting();
        tls.cert_file = pki.dir.file("client.pem");
        tls.key_file = pki.dir.file("client.key");
        redis_link link(loop.root(), over_tls(server, tls));
        link.start();
        REQUIRE(loop.run_until([&] { return link.up(); }));
        answer who;
        REQUIRE(link.command({"ACL", "WHOAMI"}, who.callback()));
        REQUIRE(loop.run_until([&] { return who.called; }));
        REQUIRE(who.got);
        CHECK(who.got->str == redis_server::user());
    }
}

TEST_CASE("over TLS a link without AUTH is up only once the server answered",
          "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files("yes"));
    sip_loop loop;
    link_settings s;
    s.address = server.address();
    s.timeout = 500ms;
    s.backoff_min = 20ms;
    s.backoff_max = 100ms;
    s.tls = pki.trusting();
    // No client certificate: the TLS 1.3 handshake completes on our side,
    // and the server's refusal comes after it, in answer to the PING.
    redis_link link(loop.root(), s);
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.stats().failures >= 2; }));
    CHECK(ev.ups == 0);
    CHECK_FALSE(link.up());
}

TEST_CASE("over TLS a restarted server is connected to again", "[cluster][redis_link][tls]") {
    if (sbc::test::redis_missing()) {
        return;
    }
    test_pki pki;
    redis_server server(pki.server_files());
    sip_loop loop;
    redis_link link(loop.root(), over_tls(server, pki.trusting()));
    events ev;
    ev.watch(link);
    link.start();
    REQUIRE(loop.run_until([&] { return link.up(); }));
    answer lost;
    REQUIRE(link.command({"SET", "sbc:t:a", "1"}, lost.callback()));
    server.stop();
    REQUIRE(loop.run_until([&] { return ev.downs == 1; }));
    CHECK(lost.called);
    CHECK_FALSE(lost.got);
    server.restart();
    REQUIRE(loop.run_until([&] { return ev.ups == 2; }));
    answer again;
    REQUIRE(link.command({"SET", "sbc:t:a", "2"}, again.callback()));
    REQUIRE(loop.run_until([&] { return again.called; }));
    REQUIRE(again.got);
    CHECK(again.got->str == "OK");
    CHECK(link.stats().connects == 2);
}

TEST_CASE("TLS settings the link cannot use are refused when it is made",
          "[cluster][redis_link][tls]") {
    test_pki pki;
    sip_loop loop;
    const auto make = [&](const std::string& address, link_tls tls) {
        link_settings s;
        s.address = address;
        s.tls = std::move(tls);
        return redis_link(loop.root(), s);
    };
    CHECK_THROWS_AS(make("unix:/run/r.sock", pki.trusting()), std::invalid_argument);
    auto missing = pki.trusting();
    missing.ca_file = pki.dir.file("none.pem");
    CHECK_THROWS_WITH(make("127.0.0.1:6379", missing),
                      Catch::Contains("ca_file") && Catch::Contains("none.pem"));
    auto mismatched = pki.trusting();
    mismatched.cert_file = pki.dir.file("client.pem");
    mismatched.key_file = pki.dir.file("server.key");
    CHECK_THROWS_WITH(make("127.0.0.1:6379", mismatched),
                      Catch::Contains("key_file") && Catch::Contains("key values mismatch"));
    CHECK_NOTHROW(make("127.0.0.1:6379", pki.trusting()));
}

}  // namespace test_redis_link
