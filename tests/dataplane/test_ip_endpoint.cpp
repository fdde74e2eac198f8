// ip_endpoint: parsing and formatting of IPv4 and IPv6 endpoints.
#include <arpa/inet.h>

#include <catch2/catch.hpp>

#include "dataplane/api/ip_endpoint.hpp"

using sbc::dataplane::ip_endpoint;

TEST_CASE("ip_endpoint parses and formats IPv4") {
    const auto ep = ip_endpoint::from_string("192.0.2.1", 4000);
    REQUIRE(ep);
    CHECK(ep->valid());
    CHECK(ep->family() == AF_INET);
    CHECK(ep->port() == 4000);
    CHECK(ep->address() == "192.0.2.1");
    CHECK(ep->to_string() == "192.0.2.1:4000");
    CHECK(ep->sockaddr_len() == sizeof(sockaddr_in));
    CHECK_FALSE(ep->is_unspecified());
}

TEST_CASE("ip_endpoint parses and formats IPv6 in canonical form") {
    const auto ep = ip_endpoint::from_string("2001:0db8:0:0::1", 5004);
    REQUIRE(ep);
    CHECK(ep->family() == AF_INET6);
    CHECK(ep->port() == 5004);
    CHECK(ep->address() == "2001:db8::1");
    CHECK(ep->to_string() == "[2001:db8::1]:5004");
    CHECK(ep->sockaddr_len() == sizeof(sockaddr_in6));
}

TEST_CASE("ip_endpoint rejects what is not an IP literal") {
    for (const char* bad :
         {"", "example.com", "192.0.2", "192.0.2.256", "[2001:db8::1]", "2001:db8::1%eth0",
          "192.0.2.1:80", " 192.0.2.1", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb"}) {
        INFO(bad);
        CHECK_FALSE(ip_endpoint::from_string(bad, 1));
    }
}

TEST_CASE("ip_endpoint knows the hold address of RFC 3264 8.4") {
    CHECK(ip_endpoint::from_string("0.0.0.0", 0)->is_unspecified());
    CHECK(ip_endpoint::from_string("::", 0)->is_unspecified());
    CHECK_FALSE(ip_endpoint::from_string("::1", 0)->is_unspecified());
}

TEST_CASE("a default ip_endpoint is invalid and formats as nothing") {
    const ip_endpoint ep;
    CHECK_FALSE(ep.valid());
    CHECK(ep.port() == 0);
    CHECK(ep.address().empty());
    CHECK(ep.to_string().empty());
    CHECK(ep.sockaddr_len() == 0);
    CHECK(ep == ip_endpoint{});
}

TEST_CASE("ip_endpoint set_port and equality") {
    auto a = *ip_endpoint::from_string("198.51.100.7", 1000);
    auto b = *ip_endpoint::from_string("198.51.100.7", 1000);
    CHECK(a == b);
    b.set_port(1001);
    CHECK(b.port() == 1001);
    CHECK_FALSE(a == b);
    CHECK_FALSE(a == *ip_endpoint::from_string("198.51.100.8", 1000));
    CHECK_FALSE(*ip_endpoint::from_string("::1", 1) == *ip_endpoint::from_string("::2", 1));
    CHECK(*ip_endpoint::from_string("::1", 1) == *ip_endpoint::from_string("0::1", 1));
    CHECK_FALSE(a == ip_endpoint{});
}

TEST_CASE("ip_endpoint from_sockaddr checks family and length") {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(7078);
    REQUIRE(inet_pton(AF_INET, "203.0.113.9", &v4.sin_addr) == 1);
    const auto* sa = reinterpret_cast<const sockaddr*>(&v4);
    const auto ep = ip_endpoint::from_sockaddr(sa, sizeof(v4));
    REQUIRE(ep);
    CHECK(ep->to_string() == "203.0.113.9:7078");
    CHECK_FALSE(ip_endpoint::from_sockaddr(sa, sizeof(v4) - 1));
    CHECK_FALSE(ip_endpoint::from_sockaddr(nullptr, sizeof(v4)));

    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(9);
    REQUIRE(inet_pton(AF_INET6, "2001:db8::9", &v6.sin6_addr) == 1);
    const auto* sa6 = reinterpret_cast<const sockaddr*>(&v6);
    CHECK(ip_endpoint::from_sockaddr(sa6, sizeof(v6))->to_string() == "[2001:db8::9]:9");
    CHECK_FALSE(ip_endpoint::from_sockaddr(sa6, sizeof(sockaddr_in)));

    sockaddr_storage unix_like{};
    unix_like.ss_family = AF_UNIX;
    CHECK_FALSE(ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&unix_like),
                                           sizeof(unix_like)));
}
