#include "tests/support/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "sbc/common/unique_fd.hpp"

extern char** environ;

namespace sbc::test {

namespace {

constexpr const char* redis_binary = "/usr/bin/redis-server";

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

// A port nobody listens on now: the kernel's pick for a socket of ours,
// closed for redis-server to take (start() tries again if it lost the race).
std::uint16_t free_port() {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto sin = loopback(0);
    socklen_t len = sizeof sin;
    if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
        throw std::runtime_error(fmt::format("cannot pick a free port: {}", std::strerror(errno)));
    }
    return ntohs(sin.sin_port);
}

bool listening(std::uint16_t port) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const auto sin = loopback(port);
    return fd && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0;
}

}  // namespace

bool redis_server::installed() { return ::access(redis_binary, X_OK) == 0; }

redis_server::redis_server(std::optional<redis_tls_files> tls) : _tls(std::move(tls)) {
    if (!installed()) {
        throw std::runtime_error(
            "redis-server not found: tools/install-deps installs it (Debian package redis-server)");
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
        _port = free_port();
        if (start()) {
            return;
        }
    }
    throw std::runtime_error("redis-server would not start; see " + _dir.file("redis.log"));
}

redis_server::~redis_server() { stop(); }

std::string redis_server::address() const { return fmt::format("127.0.0.1:{}", _port); }

std::string redis_server::socket_path() const { return _dir.file("redis.sock"); }

void redis_server::stop() {
    if (_pid <= 0) {
        return;
    }
    ::kill(_pid, SIGKILL);  // a frozen server takes no SIGTERM; nothing is saved anyway
    int status = 0;
    while (::waitpid(_pid, &status, 0) < 0 && errno == EINTR) {
    }
    _pid = -1;
    _frozen = false;
}

void redis_server::restart() {
    stop();
    for (int attempt = 0; attempt < 50; ++attempt) {
        if (start()) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("redis-server would not restart; see " + _dir.file("redis.log"));
}

void redis_server::freeze() {
    if (_pid > 0 && !_frozen) {
        ::kill(_pid, SIGSTOP);
        _frozen = true;
    }
}

void redis_server::thaw() {
    if (_pid > 0 && _frozen) {
        ::kill(_pid, SIGCONT);
        _frozen = false;
    }
}

bool redis_server::start() {
    // The users in the file: the ACL user the store logs in as, and the
    // default user behind a password (requirepass's form of AUTH).
    const auto conf = _dir.file("redis.conf");
    {
        std::ofstream out(conf);
        out << "bind 127.0.0.1\n";
        if (_tls) {
            out << "port 0\n"
                << "tls-port " << _port << "\n"
                << "tls-cert-file \"" << _tls->cert << "\"\n"
                << "tls-key-file \"" << _tls->key << "\"\n"
                << "tls-ca-cert-file \"" << _tls->ca << "\"\n"
                << "tls-auth-clients " << _tls->auth_clients << "\n";
        } else {
            out << "port " << _port << "\n";
        }
        out << "unixsocket \"" << socket_path() << "\"\n"
            << "unixsocketperm 700\n"
            << "save \"\"\n"
            << "appendonly no\n"
            << "daemonize no\n"
            << "protected-mode yes\n"
            << "dir \"" << _dir.path().string() << "\"\n"
            << "logfile \"\"\n"
            << "user default on >" << default_password() << " ~* &* +@all\n"
            << "user " << user() << " on >" << password() << " ~* &* +@all\n";
    }
    std::vector<std::string> args = {redis_binary, conf};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const auto log = _dir.file("redis.log");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
    }
    // Ready once it accepts connections. Polled, with a deadline that only
    // stops a server that never comes up.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return false;  // it exited: the port was taken
        }
        if (listening(_port)) {
            _pid = pid;
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return false;
}

}  // namespace sbc::test
