// One connection to the cluster's Redis server, driven by the control
// thread's su_root loop: commands are queued and answered by callbacks,
// nothing blocks the loop (a non-blocking socket watched by the su_root,
// with TLS when configured; hiredis only formats commands and parses
// replies).
//
// The link connects by itself, authenticates (AUTH user password, Redis 6
// ACL, or AUTH password), names itself (CLIENT SETNAME), and reconnects with
// a backoff after a failure. A command that is not answered within the
// timeout drops the connection: its callback, and those of every other
// command in flight, get no reply (nullptr), which means "not done".
// Callers that need a write to happen keep their own queue (state_queue)
// and write again when the link is up.
//
// Over TLS the link is up only once the handshake completed and the server
// answered (AUTH, CLIENT SETNAME, or a PING when there is neither): a
// server that refuses the client's certificate says so only after the
// handshake (TLS 1.3). A failed handshake is a failed connect.
//
// Control thread only (the su_root's). hiredis and OpenSSL stay inside
// redis_link.cpp and redis_stream.cpp. No callback may destroy the link
// (the link is still on the stack).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sofia-sip/su_wait.h>

namespace sbc::cluster {

/// A Redis reply, copied out of hiredis's.
struct reply {
    enum class kind { string, status, error, integer, nil, array };
    kind type = kind::nil;
    std::string str;  ///< string, status, error
    long long integer = 0;
    std::vector<reply> elements;  ///< array
};

/// TLS to the server (Redis 6 `tls-port`).
struct link_tls {
    std::string ca_file;    ///< PEM: the CAs the server's certificate must chain to
    std::string cert_file;  ///< PEM: the client certificate ("": none), for tls-auth-clients
    std::string key_file;   ///< PEM: its key, unencrypted
    /// Sent as SNI and checked against the certificate's DNS (or IP)
    /// subjectAltName. "": the address's IP is checked against its IP
    /// subjectAltName instead, and no SNI is sent.
    std::string server_name;
    bool verify = true;  ///< false: encrypted, but any certificate is taken
};

struct link_settings {
    std::string address;  ///< "IP:PORT", "[IPv6]:PORT" or "unix:/path"
    std::string user;     ///< "" : AUTH password (requirepass); both "": no AUTH
    std::string password;
    std::string client_name;  ///< CLIENT SETNAME
    std::chrono::milliseconds timeout{1000};
    std::chrono::milliseconds backoff_min{100};
    std::chrono::milliseconds backoff_max{5000};
    std::size_t max_in_flight = 256;  ///< commands sent and not answered
    std::optional<link_tls> tls;      ///< none: plain TCP (or a unix socket)
};

struct link_stats {
    bool up = false;
    std::uint64_t connects = 0;    ///< connections made and authenticated
    std::uint64_t failures = 0;    ///< connects failed, connections lost or timed out
    std::uint64_t commands = 0;    ///< answered
    std::uint64_t errors = 0;      ///< answered with an error reply
    std::uint64_t unanswered = 0;  ///< callbacks given nullptr
    std::size_t in_flight = 0;
    std::string last_error;  ///< "" while nothing failed
};

class redis_link {
public:
    /// `done` gets the reply, or nullptr when the command was not answered
    /// (link lost, timed out, or the link destroyed); it may issue commands.
    using reply_fn = std::function<void(const reply*)>;

    /// Throws std::invalid_argument when the address is not one of the
    /// forms above (a host name is refused: it would block the loop), when
    /// TLS is asked for a unix socket, or when a TLS file cannot be used.
    redis_link(su_root_t* root, link_settings settings);
    ~redis_link();  ///< pending callbacks get nullptr
    redis_link(const redis_link&) = delete;
    redis_link& operator=(const redis_link&) = delete;

    /// Begins connecting (and keeps reconnecting while not up).
    void start();

    /// Sends `argv` (binary safe). False, without calling `done`, when the
    /// link is not up or max_in_flight commands are out: the caller retries
    /// when on_ready fires.
    bool command(std::vector<std::string> argv, reply_fn done);

    bool up() const noexcept;
    /// Room for another command now.
    bool ready() const noexcept;
    link_stats stats() const;

    /// Called when the link comes up (after AUTH), goes down, and when room
    /// opens for commands after max_in_flight was reached.
    void on_up(std::function<void()> f);
    void on_down(std::function<void(const std::string& why)> f);
    void on_ready(std::function<void()> f);

    struct impl;

private:
    std::unique_ptr<impl> _impl;
};

}  // namespace sbc::cluster
