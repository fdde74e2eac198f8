// The byte stream under the Redis link (redis_link.cpp): a non-blocking
// TCP or unix socket, with OpenSSL's TLS on top when the store is
// configured for it. The one place in sbc/cluster that sees OpenSSL's
// TLS objects: the context is loaded once per link, each connection gets
// its own SSL, and both are freed here.
//
// Nothing here blocks or waits: every call does what it can now and says
// which readiness (read or write) it needs to go on. The caller watches
// the descriptor on its loop. Control thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "sbc/cluster/redis_link.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/common/unique_fd.hpp"

namespace sbc::cluster {

/// The TLS client side of a link: the trust store, the client certificate
/// and what is checked of the server's. Loaded once; shared by the link's
/// connections.
class tls_client {
public:
    /// Reads the files. Throws std::invalid_argument naming the file and
    /// OpenSSL's reason when one cannot be used. `host`: the IP literal the
    /// link dials, checked against the certificate's IP subjectAltName when
    /// no server_name is set.
    tls_client(const link_tls& settings, std::string host);
    ~tls_client();
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;

    struct state;
    const state& get() const noexcept { return *_state; }

private:
    std::unique_ptr<state> _state;
};

class redis_stream {
public:
    /// What an operation needs before it can go on.
    enum class status {
        done,        ///< completed (or moved bytes)
        want_read,   ///< call again when the socket is readable
        want_write,  ///< call again when the socket is writable
        closed,      ///< the server closed the connection
        failed,      ///< see error()
    };

    redis_stream() noexcept;
    ~redis_stream();
    redis_stream(const redis_stream&) = delete;
    redis_stream& operator=(const redis_stream&) = delete;

    /// Starts connecting to `host`:`port` (an IP literal) or to the unix
    /// socket `path` (when not empty). False, with error(), when the
    /// connect failed at once (a closed loopback port, a missing socket).
    /// `tls` may be nullptr (plain); it must outlive the stream.
    bool open(const std::string& host, int port, const std::string& path, const tls_client* tls);
    int fd() const noexcept { return _fd.get(); }
    bool is_open() const noexcept { return static_cast<bool>(_fd); }

    /// Carries the connect and then the TLS handshake on; `done` once bytes
    /// can flow. `address` names the server in a handshake's failure.
    status progress(const std::string& address);
    bool established() const noexcept { return _phase == phase::established; }

    /// Reads up to `cap` bytes into `buf`; `got` is how many, on done.
    status read(char* buf, std::size_t cap, std::size_t& got);
    /// Decrypted bytes already buffered inside TLS: read() again before
    /// waiting for the socket, which will not wake for them.
    bool pending() const noexcept;
    /// Writes up to `len` bytes; `put` is how many, on done. After
    /// want_write the same bytes must be offered again (they may be
    /// more by then, never fewer).
    status write(const char* buf, std::size_t len, std::size_t& put);

    /// Why the last operation failed or closed.
    const std::string& error() const noexcept { return _error; }

    /// Closes the connection (no TLS close_notify: the link only closes on
    /// a failure or when it is destroyed).
    void close() noexcept;

private:
    enum class phase { closed, connecting, handshaking, established };
    status fail(std::string why);
    status tls_status(int ret, const char* doing);

    unique_fd _fd;
    c_handle<SSL, SSL_free> _ssl;
    const tls_client* _tls = nullptr;
    phase _phase = phase::closed;
    std::string _error;
};

}  // namespace sbc::cluster
