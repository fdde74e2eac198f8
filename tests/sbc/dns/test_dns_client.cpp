// The sres-based DNS client against a real dnsmasq on loopback: records
// come with their TTLs, negative answers and failures are told apart, a
// silent server never blocks the loop, and a cancelled query stays quiet.
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include <memory>
#include <optional>

#include "sbc/dns/dns_client.hpp"
#include "sbc/dns/loop_timer.hpp"
#include "tests/support/dns_servers.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_dns_client {

using namespace sbc::dns;
using sbc::test::dnsmasq;
using sbc::test::silent_udp;
using sbc::test::sip_loop;

namespace {

settings asking(const std::string& server,
                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    settings s;
    s.servers = {server};
    s.query_timeout = timeout;
    return s;
}

// Where a query's answer lands.
struct answer_box {
    std::optional<dns_answer> answer;
    int calls = 0;
    dns_client::answer_fn callback() {
        return [this](dns_answer a) {
            answer = std::move(a);
            ++calls;
        };
    }
};

// A timer that fires every few milliseconds for as long as it lives: what
// shows the loop still turning.
struct ticker {
    explicit ticker(su_root_t* root) : timer(root) { arm(); }
    void arm() {
        timer.arm(std::chrono::milliseconds(5), [this] {
            ++ticks;
            arm();
        });
    }
    loop_timer timer;
    int ticks = 0;
};

}  // namespace

TEST_CASE("A, AAAA, SRV and NAPTR records come with their TTLs", "[dns][client]") {
    dnsmasq server({"--local-ttl=11", "--host-record=a.sbc.test,127.0.5.1,::1,7",
                    "--srv-host=_sip._udp.a.sbc.test,a.sbc.test,5070,10,20",
                    "--naptr-record=a.sbc.test,10,50,s,SIP+D2U,,_sip._udp.a.sbc.test"});
    sip_loop loop;
    dns_client client(loop.root(), asking(server.server()));
    answer_box a, aaaa, srv, naptr;
    auto qa = client.ask(record_type::a, "a.sbc.test", a.callback());
    auto qaaaa = client.ask(record_type::aaaa, "a.sbc.test", aaaa.callback());
    auto qsrv = client.ask(record_type::srv, "_sip._udp.a.sbc.test", srv.callback());
    auto qnaptr = client.ask(record_type::naptr, "A.SBC.TEST", naptr.callback());
    CHECK(client.outstanding() == 4);
    REQUIRE(loop.run_until([&] { return a.answer && aaaa.answer && srv.answer && naptr.answer; }));
    CHECK(client.outstanding() == 0);
    CHECK_FALSE(qa.outstanding());

    REQUIRE(a.answer->status == dns_status::ok);
    REQUIRE(a.answer->addresses.size() == 1);
    CHECK(a.answer->addresses[0].address == "127.0.5.1");
    CHECK(a.answer->addresses[0].family == AF_INET);
    CHECK(a.answer->addresses[0].ttl == 7);

    REQUIRE(aaaa.answer->status == dns_status::ok);
    REQUIRE(aaaa.answer->addresses.size() == 1);
    CHECK(aaaa.answer->addresses[0].address == "::1");
    CHECK(aaaa.answer->addresses[0].family == AF_INET6);

    REQUIRE(srv.answer->status == dns_status::ok);
    REQUIRE(srv.answer->srv.size() == 1);
    const auto& s = srv.answer->srv[0];
    CHECK(s.priority == 10);
    CHECK(s.weight == 20);
    CHECK(s.port == 5070);
    CHECK(s.target == "a.sbc.test");
    CHECK(s.ttl == 11);

    REQUIRE(naptr.answer->status == dns_status::ok);
    REQUIRE(naptr.answer->naptr.size() == 1);
    const auto& n = naptr.answer->naptr[0];
    CHECK(n.order == 10);
    CHECK(n.preference == 50);
    CHECK(n.flags == "s");
    CHECK(n.services == "SIP+D2U");
    CHECK(n.regexp.empty());
    CHECK(n.replacement == "_sip._udp.a.sbc.test");
    CHECK(n.ttl == 11);
    CHECK(a.calls == 1);
}

TEST_CASE("NXDOMAIN, no data and a refusal are told apart", "[dns][client]") {
    dnsmasq server({"--host-record=a.sbc.test,127.0.5.1"});
    sip_loop loop;
    dns_client client(loop.root(), asking(server.server()));
    answer_box missing, no_naptr, elsewhere;
    auto q1 = client.ask(record_type::a, "nope.sbc.test", missing.callback());
    auto q2 = client.ask(record_type::naptr, "a.sbc.test", no_naptr.callback());
    // Outside its zone, with nothing to forward to, dnsmasq says REFUSED.
    auto q3 = client.ask(record_type::a, "peer.example.com", elsewhere.callback());
    REQUIRE(loop.run_until([&] { return missing.answer && no_naptr.answer && elsewhere.answer; }));
    CHECK(missing.answer->status == dns_status::nxdomain);
    CHECK(no_naptr.answer->status == dns_status::no_data);
    CHECK(elsewhere.answer->status == dns_status::server_failure);
    CHECK(is_negative(dns_status::nxdomain));
    CHECK_FALSE(is_negative(dns_status::server_failure));
}

TEST_CASE("a silent server times out without blocking the loop", "[dns][client]") {
    silent_udp silent;
    sip_loop loop;
    dns_client client(loop.root(), asking(silent.server(), std::chrono::seconds(1)));
    answer_box box;
    auto q = client.ask(record_type::a, "a.sbc.test", box.callback());
    ticker tick(loop.root());
    // The loop keeps turning (a timer on it keeps firing) while the query
    // is outstanding: nothing waits for the server.
    REQUIRE(loop.run_until([&] { return tick.ticks >= 5 || box.answer.has_value(); }));
    CHECK(tick.ticks >= 5);
    CHECK_FALSE(box.answer.has_value());
    CHECK(q.outstanding());
    REQUIRE(loop.run_until([&] { return box.answer.has_value(); }));
    CHECK(box.answer->status == dns_status::timeout);
    CHECK(client.outstanding() == 0);
}

TEST_CASE("a stopped server is a failure, not an empty answer", "[dns][client]") {
    dnsmasq server({"--host-record=a.sbc.test,127.0.5.1"});
    server.stop();
    sip_loop loop;
    dns_client client(loop.root(), asking(server.server(), std::chrono::seconds(2)));
    answer_box box;
    auto q = client.ask(record_type::a, "a.sbc.test", box.callback());
    REQUIRE(loop.run_until([&] { return box.answer.has_value(); }));
    // The closed port's ICMP error ends the query (or its deadline does).
    CHECK((box.answer->status == dns_status::network_error ||
           box.answer->status == dns_status::timeout));
    CHECK(box.answer->addresses.empty());
}

TEST_CASE("a cancelled query never calls back", "[dns][client]") {
    silent_udp silent;
    sip_loop loop;
    dns_client client(loop.root(), asking(silent.server(), std::chrono::milliseconds(50)));
    answer_box box;
    auto q = client.ask(record_type::a, "a.sbc.test", box.callback());
    auto moved = std::move(q);
    CHECK_FALSE(q.outstanding());
    CHECK(moved.outstanding());
    moved.reset();
    CHECK(client.outstanding() == 0);
    ticker tick(loop.root());
    REQUIRE(loop.run_until([&] { return tick.ticks >= 30; }));  // well past the deadline
    CHECK(box.calls == 0);
}

TEST_CASE("queries outliving their client are disarmed, not dangling", "[dns][client]") {
    silent_udp silent;
    sip_loop loop;
    answer_box box;
    dns_client::query q;
    {
        dns_client client(loop.root(), asking(silent.server(), std::chrono::milliseconds(50)));
        q = client.ask(record_type::a, "a.sbc.test", box.callback());
    }
    CHECK_FALSE(q.outstanding());
    loop.drain();
    CHECK(box.calls == 0);
}

TEST_CASE("settings the client cannot use are refused", "[dns][client]") {
    sip_loop loop;
    settings s;
    s.servers = {"dns.example.com"};
    CHECK_THROWS_AS(dns_client(loop.root(), s), std::invalid_argument);
    s.servers = {"127.0.0.1:5353", "127.0.0.2"};
    CHECK_THROWS_WITH(dns_client(loop.root(), s), Catch::Contains("same port"));
}

}  // namespace test_dns_client
