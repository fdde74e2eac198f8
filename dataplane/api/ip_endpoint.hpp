// An IPv4 or IPv6 address with a UDP port, as the data plane and the SDP
// rewriter exchange them. Plain value type; no I/O-backend headers.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sbc::dataplane {

class ip_endpoint {
public:
    ip_endpoint() = default;

    /// Parses an IP literal ("192.0.2.1", "2001:db8::1", no brackets) and a port.
    static std::optional<ip_endpoint> from_string(std::string_view ip, std::uint16_t port);
    /// Copies an AF_INET or AF_INET6 socket address; nullopt for any other
    /// family or a `len` too short for it.
    static std::optional<ip_endpoint> from_sockaddr(const sockaddr* sa, socklen_t len);

    bool valid() const noexcept { return _storage.ss_family != AF_UNSPEC; }
    int family() const noexcept { return _storage.ss_family; }
    std::uint16_t port() const noexcept;
    void set_port(std::uint16_t port) noexcept;
    /// The address without port, e.g. "192.0.2.1" or "2001:db8::1"; "" when !valid().
    std::string address() const;
    /// "192.0.2.1:4000" or "[2001:db8::1]:4000"; "" when !valid().
    std::string to_string() const;
    /// True for 0.0.0.0 or :: (RFC 3264 8.4's old-style hold address).
    bool is_unspecified() const noexcept;

    const sockaddr* sockaddr_ptr() const noexcept {
        return reinterpret_cast<const sockaddr*>(&_storage);
    }
    /// sizeof(sockaddr_in) or sizeof(sockaddr_in6); 0 when !valid().
    socklen_t sockaddr_len() const noexcept;

    /// Writable storage of sockaddr_capacity bytes for recvmsg()/recvmmsg()'s
    /// msg_name: the endpoint then is whatever the kernel wrote there. This
    /// lets the data plane receive source addresses without copying them.
    sockaddr* sockaddr_buffer() noexcept { return reinterpret_cast<sockaddr*>(&_storage); }
    static constexpr socklen_t sockaddr_capacity = sizeof(sockaddr_storage);

    /// Same family, address and port (IPv6 flow label and scope are ignored).
    /// Two invalid endpoints are equal. Called per packet by the relay.
    bool operator==(const ip_endpoint& other) const noexcept;
    /// Same family and address, whatever the ports. Two invalid endpoints
    /// are not. Called per RTCP packet by the relay (its latching rule).
    bool same_address(const ip_endpoint& other) const noexcept;

private:
    sockaddr_storage _storage{};
};

}  // namespace sbc::dataplane
