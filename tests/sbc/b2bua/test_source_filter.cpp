// The allow_sources socket filter, run by the kernel on loopback sockets of
// the test's own: datagrams from inside the blocks arrive, the rest are
// dropped and counted.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "sbc/b2bua/source_filter.hpp"
#include "sbc/common/unique_fd.hpp"
#include "sbc/config/address.hpp"

using namespace sbc;

namespace {

unique_fd udp_socket(const char* ip, std::uint16_t port) {
    unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    auto ep = dataplane::ip_endpoint::from_string(ip, port);
    REQUIRE(ep);
    REQUIRE(::bind(fd.get(), ep->sockaddr_ptr(), ep->sockaddr_len()) == 0);
    return fd;
}

std::uint16_t port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    return ntohs(a.sin_port);
}

config::cidr block(const char* text) {
    auto c = config::detail::parse_cidr(text);
    REQUIRE(c);
    return *c;
}

// Sends one datagram from `from` to the receiver and says whether it arrived.
bool arrives(int receiver, const char* from) {
    auto sender = udp_socket(from, 0);
    auto to = dataplane::ip_endpoint::from_string("127.0.0.1", port_of(receiver));
    const char payload[] = "OPTIONS";
    REQUIRE(::sendto(sender.get(), payload, sizeof payload, 0, to->sockaddr_ptr(),
                     to->sockaddr_len()) == static_cast<ssize_t>(sizeof payload));
    char buffer[64];
    // Loopback delivers synchronously: the datagram is queued (or dropped)
    // before sendto returns.
    return ::recv(receiver, buffer, sizeof buffer, MSG_DONTWAIT) > 0;
}

}  // namespace

TEST_CASE("source filter: only datagrams from the blocks arrive, drops counted", "[filter]") {
    auto receiver = udp_socket("127.0.0.1", 0);
    auto bound = dataplane::ip_endpoint::from_string("127.0.0.1", port_of(receiver.get()));
    auto filtered = b2bua::attach_source_filter(
        *bound, {block("127.0.0.2/32"), block("127.0.8.0/21"), block("2001:db8::/32")});
    REQUIRE(filtered);
    CHECK(*filtered == std::vector<int>{receiver.get()});
    const auto drops_before = b2bua::socket_drops(receiver.get());
    CHECK(arrives(receiver.get(), "127.0.0.2"));
    CHECK_FALSE(arrives(receiver.get(), "127.0.0.3"));
    CHECK(arrives(receiver.get(), "127.0.8.1"));
    CHECK(arrives(receiver.get(), "127.0.15.254"));
    CHECK_FALSE(arrives(receiver.get(), "127.0.16.1"));
    CHECK_FALSE(arrives(receiver.get(), "127.0.7.255"));
    CHECK(b2bua::socket_drops(receiver.get()) == drops_before + 3);
}

TEST_CASE("source filter: a block of everything, and none of this family", "[filter]") {
    auto receiver = udp_socket("127.0.0.1", 0);
    auto bound = dataplane::ip_endpoint::from_string("127.0.0.1", port_of(receiver.get()));
    SECTION("0.0.0.0/0 lets every IPv4 source in") {
        REQUIRE(b2bua::attach_source_filter(*bound, {block("0.0.0.0/0")}));
        CHECK(arrives(receiver.get(), "127.0.0.9"));
    }
    SECTION("only IPv6 blocks: every IPv4 source is dropped") {
        REQUIRE(b2bua::attach_source_filter(*bound, {block("::/0")}));
        CHECK_FALSE(arrives(receiver.get(), "127.0.0.9"));
    }
}

TEST_CASE("source filter: no socket bound there is an error", "[filter]") {
    auto nowhere = dataplane::ip_endpoint::from_string("127.0.0.1", 9);
    auto r = b2bua::attach_source_filter(*nowhere, {block("127.0.0.0/8")});
    REQUIRE_FALSE(r);
    CHECK(r.error_message() == "no UDP socket bound to 127.0.0.1:9");
}

TEST_CASE("source filter: the program's shape", "[filter]") {
    // Version dispatch (3), an IPv4 block (4) and the IPv4 drop (1), an
    // IPv6 /48 (two words: 3 + 3, then the accept) and the IPv6 drop (1).
    auto p = b2bua::source_filter_program({block("10.0.0.0/8"), block("2001:db8:1::/48")});
    CHECK(p.size() == 3 + 4 + 1 + 7 + 1);
    CHECK(p[2].jf == 5);  // an IPv6 datagram skips the IPv4 section
}
