#include "tests/support/dns_servers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace sbc::test {

namespace {

// A UDP socket bound to address:port (0: any free port), or an invalid one
// with errno set.
unique_fd bind_udp(const std::string& address, std::uint16_t port) {
    unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        return fd;
    }
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1) {
        errno = EINVAL;
        return unique_fd();
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0) {
        return unique_fd();
    }
    return fd;
}

// True when a DNS server answers on UDP address:port. Any answer will do:
// the question is for the zone's own name. (A TCP connection would tell as
// much, but dnsmasq forks a child for it that holds the port a while.)
bool answers(const std::string& address, std::uint16_t port) {
    static constexpr unsigned char query[] = {
        0x53, 0x42, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // header, RD
        3,    's',  'b',  'c',  4,    't',  'e',  's',  't',  0,                 // sbc.test
        0x00, 0x01, 0x00, 0x01,                                                  // A, IN
    };
    unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (!fd || inet_pton(AF_INET, address.c_str(), &sin.sin_addr) != 1 ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
        ::send(fd.get(), query, sizeof query, 0) != static_cast<ssize_t>(sizeof query)) {
        return false;
    }
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) != 1) {
        return false;
    }
    unsigned char reply[512];
    return ::recv(fd.get(), reply, sizeof reply, 0) > 0;
}

std::uint16_t bound_port(int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
        throw std::runtime_error(fmt::format("getsockname: {}", std::strerror(errno)));
    }
    return ntohs(sin.sin_port);
}

std::string dnsmasq_binary() {
    for (const char* path : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"}) {
        if (::access(path, X_OK) == 0) {
            return path;
        }
    }
    throw std::runtime_error(
        "dnsmasq not found: tools/install-deps installs it (Debian package dnsmasq-base)");
}

}  // namespace

dnsmasq::dnsmasq(std::vector<std::string> records, std::string address)
    : _address(std::move(address)) {
    // A free port: the kernel picks one for a socket of ours, which is
    // closed for dnsmasq to take; if another process takes it in between,
    // dnsmasq fails to bind and the next port is tried.
    for (int attempt = 0; attempt < 5; ++attempt) {
        {
            auto probe = bind_udp(_address, 0);
            if (!probe) {
                throw std::runtime_error(fmt::format("cannot bind a UDP socket on {}: {}", _address,
                                                     std::strerror(errno)));
            }
            _port = bound_port(probe.get());
        }
        if (start(records)) {
            return;
        }
    }
    throw std::runtime_error("dnsmasq would not start; see " + _dir.file("dnsmasq.log"));
}

dnsmasq::~dnsmasq() { stop(); }

std::string dnsmasq::server() const { return fmt::format("{}:{}", _address, _port); }

void dnsmasq::restart(std::vector<std::string> records) {
    stop();
    // The port was ours a moment ago; dnsmasq binds it without SO_REUSEADDR
    // trouble (UDP), and a TCP socket in TIME_WAIT is not left by a server
    // that no client connected to.
    for (int attempt = 0; attempt < 50; ++attempt) {
        if (start(records)) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("dnsmasq would not restart; see " + _dir.file("dnsmasq.log"));
}

void dnsmasq::stop() {
    if (_pid <= 0) {
        return;
    }
    ::kill(_pid, SIGTERM);
    int status = 0;
    while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
    }
    _pid = -1;
}

bool dnsmasq::start(const std::vector<std::string>& records) {
    std::vector<std::string> args = {
        dnsmasq_binary(),
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--conf-file=/dev/null",
        "--pid-file=",
        "--log-facility=-",
        fmt::format("--port={}", _port),
        fmt::format("--listen-address={}", _address),
        "--bind-interfaces",
        "--local=/sbc.test/",
    };
    args.insert(args.end(), records.begin(), records.end());
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);

    const auto log = _dir.file("dnsmasq.log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
    }
    // Ready once it listens. Polled, with a deadline that only stops a
    // dnsmasq that never comes up.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return false;  // it exited: the port was taken, or a bad record
        }
        if (answers(_address, _port)) {
            _pid = pid;
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
}

silent_udp::silent_udp(const std::string& address, std::uint16_t port) : _address(address) {
    _fd = bind_udp(address, port);
    if (!_fd) {
        throw std::runtime_error(
            fmt::format("cannot bind UDP {}:{}: {}", address, port, std::strerror(errno)));
    }
    _port = bound_port(_fd.get());
}

std::string silent_udp::server() const { return fmt::format("{}:{}", _address, _port); }

}  // namespace sbc::test
