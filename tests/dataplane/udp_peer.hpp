// A media peer for the data plane's engine tests (one UDP socket on a
// loopback address) and the bounded wait they poll with. Waits only guard
// against hanging; nothing asserts on timing.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "dataplane/api/media_engine.hpp"

namespace sbc::test {

inline constexpr std::chrono::seconds max_wait{2};

struct datagram {
    std::string payload;
    dataplane::ip_endpoint from;
};

// A peer of the SBC: one UDP socket on the loopback address.
class udp_peer {
public:
    explicit udp_peer(const char* ip = "127.0.0.1", std::uint16_t port = 0) {
        const auto local = *dataplane::ip_endpoint::from_string(ip, port);
        _fd = ::socket(local.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (_fd < 0) {
            return;  // e.g. no IPv6 at all: bound() says false
        }
        _bound = ::bind(_fd, local.sockaddr_ptr(), local.sockaddr_len()) == 0;
        dataplane::ip_endpoint self;
        socklen_t len = dataplane::ip_endpoint::sockaddr_capacity;
        ::getsockname(_fd, self.sockaddr_buffer(), &len);
        _address = self;
    }
    ~udp_peer() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    udp_peer(const udp_peer&) = delete;
    udp_peer& operator=(const udp_peer&) = delete;

    bool bound() const { return _bound; }
    const dataplane::ip_endpoint& address() const { return _address; }

    void send_to(std::uint16_t port, std::string_view payload) const {
        auto to = _address;
        to.set_port(port);
        send_to(to, payload);
    }
    void send_to(const dataplane::ip_endpoint& to, std::string_view payload) const {
        const auto n =
            ::sendto(_fd, payload.data(), payload.size(), 0, to.sockaddr_ptr(), to.sockaddr_len());
        REQUIRE(n == static_cast<ssize_t>(payload.size()));
    }

    std::optional<datagram> receive(std::chrono::milliseconds wait = max_wait) const {
        pollfd p{_fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) {
            return std::nullopt;
        }
        char buf[2048];
        datagram d;
        socklen_t len = dataplane::ip_endpoint::sockaddr_capacity;
        const auto n = ::recvfrom(_fd, buf, sizeof(buf), 0, d.from.sockaddr_buffer(), &len);
        if (n < 0) {
            return std::nullopt;
        }
        d.payload.assign(buf, static_cast<std::size_t>(n));
        return d;
    }

private:
    int _fd = -1;
    bool _bound = false;
    dataplane::ip_endpoint _address;
};

/// Polls `pred` until it holds or max_wait passes.
template <typename Pred>
bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace sbc::test
