// Peer names as the configuration gives them, parsed for RFC 3263: which
// form decides which step resolution starts at, and malformed names refused
// with a sentence instead of a crash.
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include "sbc/dns/peer_name.hpp"
#include "sbc/dns/settings.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_peer_name {

using namespace sbc::dns;

namespace {

peer_name parsed(std::string_view text) {
    auto p = parse_peer_name(text);
    INFO(text);
    REQUIRE(p.ok());
    return p.value();
}

std::string refusal(std::string_view text) {
    auto p = parse_peer_name(text);
    INFO(text);
    REQUIRE_FALSE(p.ok());
    return p.error_message();
}

}  // namespace

TEST_CASE("a bare sip: host name goes through NAPTR", "[dns][peer_name]") {
    const auto p = parsed("sip:Carrier.Example.COM");
    CHECK(p.host == "carrier.example.com");
    CHECK_FALSE(p.is_ip);
    CHECK_FALSE(p.sips);
    CHECK_FALSE(p.port);
    CHECK_FALSE(p.proto);
    CHECK(p.default_transport() == transport::udp);
    CHECK(p.text() == "sip:carrier.example.com");
}

TEST_CASE("sips: means TLS, with or without a transport parameter", "[dns][peer_name]") {
    const auto p = parsed("sips:carrier.example.com");
    CHECK(p.sips);
    CHECK_FALSE(p.proto);
    CHECK(p.default_transport() == transport::tls);
    // RFC 3261 26.2.2: transport=tcp in a sips: URI is TLS over TCP.
    CHECK(parsed("sips:carrier.example.com;transport=tcp").proto == transport::tls);
    CHECK(parsed("sips:carrier.example.com;transport=TLS").proto == transport::tls);
    CHECK_THAT(refusal("sips:carrier.example.com;transport=udp"), Catch::Contains("sips:"));
}

TEST_CASE("an explicit transport or port is kept for RFC 3263 4.1", "[dns][peer_name]") {
    const auto t = parsed("sip:pbx.example.com;transport=tcp");
    CHECK(t.proto == transport::tcp);
    CHECK(t.text() == "sip:pbx.example.com;transport=tcp");
    const auto p = parsed("sip:pbx.example.com:5080");
    CHECK(p.port == 5080);
    CHECK_FALSE(p.proto);
    const auto shorthand = parsed("pbx.example.com:5080");
    CHECK(shorthand.text() == "sip:pbx.example.com:5080");
    CHECK(parsed("pbx.example.com.").host == "pbx.example.com");
}

TEST_CASE("IP literals are peers that resolve to themselves", "[dns][peer_name]") {
    const auto v4 = parsed("192.0.2.10");
    CHECK(v4.is_ip);
    CHECK(v4.family == AF_INET);
    CHECK(v4.text() == "sip:192.0.2.10");
    const auto v6 = parsed("sip:[2001:DB8::1]:5070;transport=tcp");
    CHECK(v6.is_ip);
    CHECK(v6.family == AF_INET6);
    CHECK(v6.host == "2001:db8::1");
    CHECK(v6.port == 5070);
    CHECK(v6.text() == "sip:[2001:db8::1]:5070;transport=tcp");
}

TEST_CASE("malformed peer names are refused with what was expected", "[dns][peer_name]") {
    CHECK_THAT(refusal(""), Catch::Contains("host"));
    CHECK_THAT(refusal("sip:"), Catch::Contains("host"));
    CHECK_THAT(refusal("sip:alice@pbx.example.com"), Catch::Contains("user part"));
    CHECK_THAT(refusal("sip:pbx.example.com?subject=x"), Catch::Contains("headers"));
    CHECK_THAT(refusal("udp://pbx.example.com"), Catch::Contains("expected sip:"));
    CHECK_THAT(refusal("sip:pbx.example.com;lr"), Catch::Contains("transport"));
    CHECK_THAT(refusal("sip:pbx.example.com;transport=sctp"), Catch::Contains("transport"));
    CHECK_THAT(refusal("sip:pbx.example.com;transport=tcp;transport=udp"), Catch::Contains("once"));
    CHECK_THAT(refusal("sip:pbx.example.com:0"), Catch::Contains("port"));
    CHECK_THAT(refusal("sip:pbx.example.com:65536"), Catch::Contains("port"));
    CHECK_THAT(refusal("sip:pbx.example.com:50a"), Catch::Contains("port"));
    CHECK_THAT(refusal("sip:pbx..example.com"), Catch::Contains("host name"));
    CHECK_THAT(refusal("sip:-pbx.example.com"), Catch::Contains("host name"));
    CHECK_THAT(refusal("sip:pbx_1.example.com"), Catch::Contains("host name"));
    CHECK_THAT(refusal("sip:10.0.0.256"), Catch::Contains("host name"));
    CHECK_THAT(refusal("sip:pbx.exa mple.com"), Catch::Contains("host name"));
    CHECK_THAT(refusal(std::string("sip:pbx\0.com", 12)), Catch::Contains("host name"));
    CHECK_THAT(refusal("sip:" + std::string(64, 'a') + ".example.com"),
               Catch::Contains("host name"));
    CHECK_THAT(refusal("sip:2001:db8::1"), Catch::Contains("brackets"));
    CHECK_THAT(refusal("sip:[2001:db8::1"), Catch::Contains("]"));
    CHECK_THAT(refusal("sip:[192.0.2.1]"), Catch::Contains("IPv6"));
}

TEST_CASE("is_hostname follows RFC 3261 25.1", "[dns][peer_name]") {
    CHECK(is_hostname("a.example.com"));
    CHECK(is_hostname("a1-b.example.com."));
    CHECK(is_hostname("localhost"));
    CHECK_FALSE(is_hostname("1.2.3.4"));
    CHECK_FALSE(is_hostname("a.example.com-"));
    CHECK_FALSE(is_hostname("."));
    CHECK_FALSE(is_hostname(std::string(254, 'a')));
}

TEST_CASE("DNS servers are parsed and checked", "[dns][peer_name]") {
    auto v4 = parse_server("127.0.0.1:5353");
    REQUIRE(v4.ok());
    CHECK(v4->ip == "127.0.0.1");
    CHECK(v4->port == 5353);
    auto plain = parse_server("192.0.2.53");
    REQUIRE(plain.ok());
    CHECK(plain->port == 53);
    auto v6 = parse_server("[2001:DB8::53]:5353");
    REQUIRE(v6.ok());
    CHECK(v6->ip == "2001:db8::53");
    CHECK(v6->port == 5353);
    CHECK(parse_server("2001:db8::53").ok());
    CHECK_FALSE(parse_server("dns.example.com").ok());
    CHECK_FALSE(parse_server("127.0.0.1:").ok());
    CHECK_FALSE(parse_server("127.0.0.1:99999").ok());
    CHECK_FALSE(parse_server("[2001:db8::53]5353").ok());

    settings s;
    CHECK(validate(s).empty());
    s.servers = {"127.0.0.1:5353", "127.0.0.2:53"};
    auto problems = validate(s);
    REQUIRE(problems.size() == 1);
    CHECK_THAT(problems[0], Catch::Contains("same port"));
    s.servers = {"nonsense"};
    s.ipv4 = false;
    s.ipv6 = false;
    s.retry_max = std::chrono::milliseconds(10);
    CHECK(validate(s).size() == 3);
}

}  // namespace test_peer_name
