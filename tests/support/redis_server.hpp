// A Redis server of a test's own (Debian's redis-server), on 127.0.0.1 and a
// port picked free (and a unix socket in its own directory), with nothing saved to disk, started
// and stopped by the test (or a benchmark) and never left running: the destructor stops it.
//
// With TLS it serves TLS only on its port (`port 0`, `tls-port`), with the
// certificate files a test made (tests/support/test_certs.hpp); its unix
// socket stays plain.
//
// It knows two users: the ACL user `user()` / `password()`, and the default
// user, who must AUTH with `default_password()` (as with requirepass).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace sbc::test {

/// The TLS side of a test's Redis server.
struct redis_tls_files {
    std::string cert;                 ///< PEM: the server's certificate
    std::string key;                  ///< PEM: its key
    std::string ca;                   ///< PEM: the CAs a client certificate must chain to
    std::string auth_clients = "no";  ///< tls-auth-clients: "yes", "no" or "optional"
};

class redis_server {
public:
    /// False when redis-server is not installed (the tests then skip).
    static bool installed();

    /// Starts it, plain or (with `tls`) TLS only. Throws std::runtime_error
    /// when it cannot.
    explicit redis_server(std::optional<redis_tls_files> tls = std::nullopt);
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    /// Stops it (clients see the connection closed, then refused).
    void stop();
    /// Starts it again on the same port, empty.
    void restart();
    /// SIGSTOP / SIGCONT: a server that holds connections and answers nothing.
    void freeze();
    void thaw();

    std::uint16_t port() const noexcept { return _port; }
    /// "127.0.0.1:PORT", as link_settings and cluster_store_config take it.
    std::string address() const;
    /// Its unix socket (the link's address is "unix:" and this).
    std::string socket_path() const;
    static const char* user() { return "sbc"; }
    static const char* password() { return "sbc-test-secret"; }
    static const char* default_password() { return "default-test-secret"; }

private:
    bool start();

    std::uint16_t _port = 0;
    std::optional<redis_tls_files> _tls;
    pid_t _pid = -1;
    bool _frozen = false;
    temp_dir _dir{"sbc-redis"};
};

}  // namespace sbc::test
