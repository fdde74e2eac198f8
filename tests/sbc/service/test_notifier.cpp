// sbcd's notices to systemd (notifier.hpp) as a service manager receives
// them: the test binds an AF_UNIX datagram socket of its own, points
// NOTIFY_SOCKET at it (and WATCHDOG_USEC / WATCHDOG_PID at this process for
// the watchdog), and reads what arrives while it drives the loop.
#include "sbc/service/notifier.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sbc/common/unique_fd.hpp"
#include "tests/support/sip_loop.hpp"
#include "tests/support/temp_dir.hpp"

using namespace std::chrono_literals;

namespace test_notifier {

/// Sets an environment variable (or unsets it: nullopt) for a test's
/// duration and puts back what was there.
class scoped_env {
public:
    scoped_env(const char* name, std::optional<std::string> value) : _name(name) {
        if (const char* old = std::getenv(name)) {
            _old = old;
        }
        if (value) {
            ::setenv(name, value->c_str(), 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~scoped_env() {
        if (_old) {
            ::setenv(_name, _old->c_str(), 1);
        } else {
            ::unsetenv(_name);
        }
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* _name;
    std::optional<std::string> _old;
};

/// The service manager's end: a datagram socket at `path`.
class manager_socket {
public:
    explicit manager_socket(const std::string& path)
        : _fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (!_fd || path.size() >= sizeof(sa.sun_path)) {
            throw std::runtime_error("cannot make the notify socket");
        }
        std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        if (::bind(_fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
            throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
        }
    }

    /// Every notice that arrived since the last call, in order.
    std::vector<std::string> take() {
        std::vector<std::string> out;
        char buf[4096];
        for (;;) {
            const auto n = ::recv(_fd.get(), buf, sizeof(buf), 0);
            if (n < 0) {
                return out;
            }
            out.emplace_back(buf, static_cast<std::size_t>(n));
        }
    }

private:
    sbc::unique_fd _fd;
};

bool has(const std::vector<std::string>& notices, const std::string& text) {
    for (const auto& n : notices) {
        if (n == text) {
            return true;
        }
    }
    return false;
}

}  // namespace test_notifier

using test_notifier::has;
using test_notifier::manager_socket;
using test_notifier::scoped_env;

TEST_CASE("the notifier tells READY, STATUS and STOPPING", "[service][notifier]") {
    sbc::test::temp_dir dir("sbc-notify");
    manager_socket manager(dir.file("notify"));
    scoped_env socket_env("NOTIFY_SOCKET", dir.file("notify"));
    scoped_env usec_env("WATCHDOG_USEC", std::nullopt);
    sbc::test::sip_loop loop;
    int asked = 0;
    sbc::service::notifier n(
        loop.root(), [&asked] { return "call count " + std::to_string(++asked); }, 10ms);
    REQUIRE(n.enabled());
    CHECK(n.watchdog_period() == 0us);

    n.ready();
    CHECK(manager.take() == std::vector<std::string>{"READY=1\nSTATUS=call count 1"});

    // The refresh timer asks for the status again on the loop.
    std::vector<std::string> got;
    REQUIRE(loop.run_until([&] {
        for (auto& s : manager.take()) {
            got.push_back(std::move(s));
        }
        return !got.empty();
    }));
    CHECK(got.front().rfind("STATUS=call count ", 0) == 0);

    n.stopping("sbcd is stopping");
    const auto last = manager.take();
    REQUIRE(!last.empty());
    CHECK(last.back().rfind("STOPPING=1\nSTATUS=call count ", 0) == 0);
    CHECK(last.back().find("; sbcd is stopping") != std::string::npos);
    // No refresh after STOPPING=1: its timer is gone.
    const auto seen = asked;
    loop.drain();
    CHECK(asked == seen);
}

TEST_CASE("a status line never breaks into assignments of its own", "[service][notifier]") {
    sbc::test::temp_dir dir("sbc-notify");
    manager_socket manager(dir.file("notify"));
    scoped_env socket_env("NOTIFY_SOCKET", dir.file("notify"));
    scoped_env usec_env("WATCHDOG_USEC", std::nullopt);
    sbc::test::sip_loop loop;
    sbc::service::notifier n(loop.root(), [] { return std::string("a\nREADY=1\rb"); });
    n.refresh_status();
    CHECK(manager.take() == std::vector<std::string>{"STATUS=a READY=1 b"});
}

TEST_CASE("the watchdog's keep-alives come from the loop's timer", "[service][notifier]") {
    sbc::test::temp_dir dir("sbc-notify");
    manager_socket manager(dir.file("notify"));
    scoped_env socket_env("NOTIFY_SOCKET", dir.file("notify"));
    scoped_env usec_env("WATCHDOG_USEC", "200000");
    scoped_env pid_env("WATCHDOG_PID", std::to_string(::getpid()));
    sbc::test::sip_loop loop;
    sbc::service::notifier n(loop.root(), [] { return std::string("ok"); });
    CHECK(n.watchdog_period() == 100000us);
    // Nothing is sent but by the loop.
    CHECK(manager.take().empty());
    std::vector<std::string> got;
    REQUIRE(loop.run_until([&] {
        for (auto& s : manager.take()) {
            got.push_back(std::move(s));
        }
        return has(got, "WATCHDOG=1");
    }));
}

TEST_CASE("a watchdog meant for another process is left alone", "[service][notifier]") {
    sbc::test::temp_dir dir("sbc-notify");
    manager_socket manager(dir.file("notify"));
    scoped_env socket_env("NOTIFY_SOCKET", dir.file("notify"));
    scoped_env usec_env("WATCHDOG_USEC", "200000");
    scoped_env pid_env("WATCHDOG_PID", std::to_string(::getpid() + 1));
    sbc::test::sip_loop loop;
    sbc::service::notifier n(loop.root(), [] { return std::string("ok"); });
    CHECK(n.watchdog_period() == 0us);
}

TEST_CASE("without NOTIFY_SOCKET the notifier does nothing", "[service][notifier]") {
    scoped_env socket_env("NOTIFY_SOCKET", std::nullopt);
    scoped_env usec_env("WATCHDOG_USEC", "200000");
    scoped_env pid_env("WATCHDOG_PID", std::to_string(::getpid()));
    sbc::test::sip_loop loop;
    int asked = 0;
    sbc::service::notifier n(loop.root(), [&asked] {
        ++asked;
        return std::string("ok");
    });
    CHECK_FALSE(n.enabled());
    CHECK(n.watchdog_period() == 0us);
    n.ready();
    n.refresh_status();
    n.stopping("bye");
    CHECK(asked == 0);
}
