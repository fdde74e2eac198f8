// The client side of the control API; see control_client.hpp.
#include "sbc/api/control_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace sbc::api {
namespace {

int remaining_ms(deadline until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

/// Waits until `fd` is ready for `events`; false on timeout or poll failure
/// (errno tells which: ETIMEDOUT or poll's own).
bool wait_for(int fd, short events, deadline until) {
    for (;;) {
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, remaining_ms(until));
        if (n > 0) {
            return true;  // ready, or an error the next call will report
        }
        if (n == 0) {
            errno = ETIMEDOUT;
            return false;
        }
        if (errno != EINTR) {
            return false;
        }
    }
}

result<std::size_t> send_all(int fd, std::string_view data, deadline until) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n >= 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_for(fd, POLLOUT, until)) {
            return make_error(fmt::format("sending the request: {}", std::strerror(errno)));
        }
    }
    return sent;
}

}  // namespace

result<unique_fd> connect_control(const std::string& path, deadline until) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        return make_error(std::strerror(ENAMETOOLONG));
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

    unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    if (!fd) {
        return make_error(std::strerror(errno));
    }
    // A unix-socket connect only waits when the listener's backlog is full;
    // SO_SNDTIMEO bounds that wait (Linux applies it to connect on AF_UNIX).
    int ms = std::max(remaining_ms(until), 1);
    timeval tv{ms / 1000, static_cast<suseconds_t>((ms % 1000) * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        return make_error(std::strerror(errno == EAGAIN ? ETIMEDOUT : errno));
    }
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) {
        return make_error(std::strerror(errno));
    }
    return fd;
}

result<std::string> exchange(const unique_fd& fd, std::string_view request, deadline until,
                             std::size_t max_reply) {
    std::string line{request};
    line += '\n';
    if (auto sent = send_all(fd.get(), line, until); !sent) {
        return make_error(sent.error_message());
    }
    std::string reply;
    std::array<char, 16384> buf;
    for (;;) {
        ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
        if (n > 0) {
            reply.append(buf.data(), static_cast<std::size_t>(n));
            if (auto nl = reply.find('\n'); nl != std::string::npos) {
                reply.resize(nl);
                return reply;
            }
            if (reply.size() > max_reply) {
                return make_error(fmt::format("reply longer than {} bytes", max_reply));
            }
            continue;
        }
        if (n == 0) {
            if (reply.empty()) {
                return make_error("sbcd closed the connection without a reply");
            }
            return reply;
        }
        if (errno == EINTR) {
            continue;
        }
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || !wait_for(fd.get(), POLLIN, until)) {
            return make_error(fmt::format("reading the reply: {}", std::strerror(errno)));
        }
    }
}

}  // namespace sbc::api
