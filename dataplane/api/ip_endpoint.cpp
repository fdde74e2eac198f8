// ip_endpoint: parsing and formatting through inet_pton/inet_ntop, so every
// textual form the C library accepts (and nothing else) is an address.
#include "dataplane/api/ip_endpoint.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace sbc::dataplane {

namespace {

const sockaddr_in& as_v4(const sockaddr_storage& ss) noexcept {
    return reinterpret_cast<const sockaddr_in&>(ss);
}

const sockaddr_in6& as_v6(const sockaddr_storage& ss) noexcept {
    return reinterpret_cast<const sockaddr_in6&>(ss);
}

}  // namespace

std::optional<ip_endpoint> ip_endpoint::from_string(std::string_view ip, std::uint16_t port) {
    // inet_pton needs a NUL-terminated string; the longest IPv6 literal
    // (with an embedded IPv4 tail) fits in INET6_ADDRSTRLEN.
    std::array<char, INET6_ADDRSTRLEN + 1> text{};
    if (ip.empty() || ip.size() >= text.size()) {
        return std::nullopt;
    }
    std::memcpy(text.data(), ip.data(), ip.size());

    ip_endpoint ep;
    auto& v4 = reinterpret_cast<sockaddr_in&>(ep._storage);
    if (::inet_pton(AF_INET, text.data(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        return ep;
    }
    ep = ip_endpoint{};
    auto& v6 = reinterpret_cast<sockaddr_in6&>(ep._storage);
    if (::inet_pton(AF_INET6, text.data(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        return ep;
    }
    return std::nullopt;
}

std::optional<ip_endpoint> ip_endpoint::from_sockaddr(const sockaddr* sa, socklen_t len) {
    if (sa == nullptr) {
        return std::nullopt;
    }
    ip_endpoint ep;
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        std::memcpy(&ep._storage, sa, sizeof(sockaddr_in));
        return ep;
    }
    if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        std::memcpy(&ep._storage, sa, sizeof(sockaddr_in6));
        return ep;
    }
    return std::nullopt;
}

std::uint16_t ip_endpoint::port() const noexcept {
    switch (_storage.ss_family) {
        case AF_INET:
            return ntohs(as_v4(_storage).sin_port);
        case AF_INET6:
            return ntohs(as_v6(_storage).sin6_port);
        default:
            return 0;
    }
}

void ip_endpoint::set_port(std::uint16_t port) noexcept {
    switch (_storage.ss_family) {
        case AF_INET:
            reinterpret_cast<sockaddr_in&>(_storage).sin_port = htons(port);
            break;
        case AF_INET6:
            reinterpret_cast<sockaddr_in6&>(_storage).sin6_port = htons(port);
            break;
        default:
            break;
    }
}

std::string ip_endpoint::address() const {
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* addr = nullptr;
    switch (_storage.ss_family) {
        case AF_INET:
            addr = &as_v4(_storage).sin_addr;
            break;
        case AF_INET6:
            addr = &as_v6(_storage).sin6_addr;
            break;
        default:
            return {};
    }
    if (::inet_ntop(_storage.ss_family, addr, text.data(), text.size()) == nullptr) {
        return {};
    }
    return text.data();
}

std::string ip_endpoint::to_string() const {
    if (!valid()) {
        return {};
    }
    auto p = std::to_string(port());
    if (_storage.ss_family == AF_INET6) {
        return "[" + address() + "]:" + p;
    }
    return address() + ":" + p;
}

bool ip_endpoint::is_unspecified() const noexcept {
    switch (_storage.ss_family) {
        case AF_INET:
            return as_v4(_storage).sin_addr.s_addr == htonl(INADDR_ANY);
        case AF_INET6:
            return IN6_IS_ADDR_UNSPECIFIED(&as_v6(_storage).sin6_addr);
        default:
            return false;
    }
}

socklen_t ip_endpoint::sockaddr_len() const noexcept {
    switch (_storage.ss_family) {
        case AF_INET:
            return sizeof(sockaddr_in);
        case AF_INET6:
            return sizeof(sockaddr_in6);
        default:
            return 0;
    }
}

bool ip_endpoint::operator==(const ip_endpoint& other) const noexcept {
    if (_storage.ss_family != other._storage.ss_family) {
        return false;
    }
    switch (_storage.ss_family) {
        case AF_INET: {
            const auto& a = as_v4(_storage);
            const auto& b = as_v4(other._storage);
            return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
        }
        case AF_INET6: {
            const auto& a = as_v6(_storage);
            const auto& b = as_v6(other._storage);
            return a.sin6_port == b.sin6_port &&
                   std::memcmp(&a.sin6_addr, &b.sin6_addr, sizeof(a.sin6_addr)) == 0;
        }
        default:
            return true;
    }
}

bool ip_endpoint::same_address(const ip_endpoint& other) const noexcept {
    if (_storage.ss_family != other._storage.ss_family) {
        return false;
    }
    switch (_storage.ss_family) {
        case AF_INET:
            return as_v4(_storage).sin_addr.s_addr == as_v4(other._storage).sin_addr.s_addr;
        case AF_INET6:
            return std::memcmp(&as_v6(_storage).sin6_addr, &as_v6(other._storage).sin6_addr,
                               sizeof(in6_addr)) == 0;
        default:
            return false;
    }
}

}  // namespace sbc::dataplane
