// A non-blocking socket, and OpenSSL's client over it when the store uses
// TLS. OpenSSL writes through a BIO of our own that sends with
// MSG_NOSIGNAL: a server gone mid-write is an error to report, not a
// SIGPIPE (which would kill a process that does not ignore it).
#include "sbc/cluster/redis_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace sbc::cluster {

namespace {

using ctx_ptr = c_handle<SSL_CTX, SSL_CTX_free>;

// OpenSSL's reason for the error at the head of its queue, or `otherwise`.
std::string openssl_reason(const char* otherwise) {
    const unsigned long e = ERR_peek_last_error();
    const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
    return reason != nullptr ? reason : otherwise;
}

// The BIO: the socket's descriptor as its data, and send/recv.
int bio_fd(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

int bio_write(BIO* b, const char* data, int len) {
    BIO_clear_retry_flags(b);
    const ssize_t n = ::send(bio_fd(b), data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_write(b);
    }
    return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
    BIO_clear_retry_flags(b);
    const ssize_t n = ::recv(bio_fd(b), data, static_cast<std::size_t>(len), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        BIO_set_retry_read(b);
    }
    return static_cast<int>(n);
}

int bio_puts(BIO* b, const char* s) { return bio_write(b, s, static_cast<int>(std::strlen(s))); }

long bio_ctrl(BIO*, int cmd, long, void*) {
    // A socket has nothing to flush; everything else is unsupported.
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

// Made once, never freed (as OpenSSL's own methods are).
const BIO_METHOD* socket_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sbc redis");
        if (m != nullptr) {
            BIO_meth_set_write(m, bio_write);
            BIO_meth_set_read(m, bio_read);
            BIO_meth_set_puts(m, bio_puts);
            BIO_meth_set_ctrl(m, bio_ctrl);
            BIO_meth_set_create(m, bio_create);
        }
        return m;
    }();
    return method;
}

std::invalid_argument tls_file_error(const char* what, const std::string& path) {
    return std::invalid_argument("store tls: cannot use the " + std::string(what) + " '" + path +
                                 "': " + openssl_reason("unreadable"));
}

}  // namespace

struct tls_client::state {
    ctx_ptr ctx;
    link_tls settings;
    std::string host;  ///< the IP literal dialled
};

tls_client::tls_client(const link_tls& settings, std::string host)
    : _state(std::make_unique<state>()) {
    _state->settings = settings;
    _state->host = std::move(host);
    ERR_clear_error();
    ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        throw std::invalid_argument("store tls: " + openssl_reason("cannot make a TLS context"));
    }
    // Redis 6 and 7 speak TLS 1.2 and 1.3; nothing older (RFC 8996).
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx.get(),
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_load_verify_locations(ctx.get(), settings.ca_file.c_str(), nullptr) != 1) {
        throw tls_file_error("ca_file", settings.ca_file);
    }
    if (!settings.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), settings.cert_file.c_str()) != 1) {
            throw tls_file_error("cert_file", settings.cert_file);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), settings.key_file.c_str(), SSL_FILETYPE_PEM) !=
            1) {
            // Also when it is not the certificate's: "key values mismatch".
            throw tls_file_error("key_file", settings.key_file);
        }
    }
    SSL_CTX_set_verify(ctx.get(), settings.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    _state->ctx = std::move(ctx);
}

tls_client::~tls_client() = default;

redis_stream::redis_stream() noexcept = default;
redis_stream::~redis_stream() = default;

bool redis_stream::open(const std::string& host, int port, const std::string& path,
                        const tls_client* tls) {
    close();
    _tls = tls;
    _error.clear();
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_UNIX;
    if (!path.empty()) {
        auto& sun = reinterpret_cast<sockaddr_un&>(ss);
        if (path.size() >= sizeof sun.sun_path) {
            _error = "the socket's path is too long";
            return false;
        }
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
        len = sizeof sun;
    } else if (host.find(':') != std::string::npos) {
        auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
        sin6.sin6_family = family = AF_INET6;
        sin6.sin6_port = htons(static_cast<std::uint16_t>(port));
        inet_pton(AF_INET6, host.c_str(), &sin6.sin6_addr);
        len = sizeof sin6;
    } else {
        auto& sin = reinterpret_cast<sockaddr_in&>(ss);
        sin.sin_family = family = AF_INET;
        sin.sin_port = htons(static_cast<std::uint16_t>(port));
        inet_pton(AF_INET, host.c_str(), &sin.sin_addr);
        len = sizeof sin;
    }
    unique_fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        _error = std::string("cannot make a socket: ") + std::strerror(errno);
        return false;
    }
    if (family != AF_UNIX) {
        // Commands are small and answered at once: no Nagle delay. Keepalive
        // finds a server that vanished while the link was idle.
        const int on = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        ::setsockopt(fd.get(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0 &&
        errno != EINPROGRESS && errno != EAGAIN) {
        _error = std::strerror(errno);
        return false;
    }
    _fd = std::move(fd);
    _phase = phase::connecting;
    return true;
}

redis_stream::status redis_stream::fail(std::string why) {
    _error = std::move(why);
    return status::failed;
}

redis_stream::status redis_stream::progress(const std::string& address) {
    if (_phase == phase::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(_fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err == EINPROGRESS || err == EALREADY) {
            return status::want_write;
        }
        if (err != 0) {
            return fail(std::strerror(err));
        }
        sockaddr_storage peer{};
        socklen_t plen = sizeof peer;
        if (::getpeername(_fd.get(), reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
            return status::want_write;  // woken before the connect completed
        }
        if (_tls == nullptr) {
            _phase = phase::established;
            return status::done;
        }
        const auto& t = _tls->get();
        ERR_clear_error();
        _ssl.reset(SSL_new(t.ctx.get()));
        BIO* bio = _ssl ? BIO_new(socket_method()) : nullptr;
        if (bio == nullptr) {
            return fail("TLS handshake with " + address +
                        " failed: " + openssl_reason("cannot make a TLS connection"));
        }
        BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(_fd.get())));
        SSL_set_bio(_ssl.get(), bio, bio);
        if (!t.settings.server_name.empty()) {
            // RFC 6066 3: SNI carries host names only, never an IP literal.
            SSL_set_tlsext_host_name(_ssl.get(), t.settings.server_name.c_str());
            SSL_set1_host(_ssl.get(), t.settings.server_name.c_str());
        } else if (t.settings.verify) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(_ssl.get()), t.host.c_str());
        }
        SSL_set_connect_state(_ssl.get());
        _phase = phase::handshaking;
    }
    if (_phase == phase::handshaking) {
        ERR_clear_error();
        const int ret = SSL_do_handshake(_ssl.get());
        if (ret == 1) {
            _phase = phase::established;
            return status::done;
        }
        const int e = SSL_get_error(_ssl.get(), ret);
        if (e == SSL_ERROR_WANT_READ) {
            return status::want_read;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            return status::want_write;
        }
        std::string why;
        const long verified = SSL_get_verify_result(_ssl.get());
        if (verified != X509_V_OK) {
            why = std::string("certificate verify failed (") +
                  X509_verify_cert_error_string(verified) + ")";
        } else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
            why = errno != 0 ? std::strerror(errno) : "the server closed the connection";
        } else {
            why = openssl_reason("no reason given");
        }
        return fail("TLS handshake with " + address + " failed: " + why);
    }
    return _phase == phase::established ? status::done : fail("not connected");
}

redis_stream::status redis_stream::tls_status(int ret, const char* doing) {
    const int e = SSL_get_error(_ssl.get(), ret);
    switch (e) {
        case SSL_ERROR_WANT_READ:
            return status::want_read;
        case SSL_ERROR_WANT_WRITE:
            return status::want_write;
        case SSL_ERROR_ZERO_RETURN:
            _error = "the server closed the connection";
            return status::closed;
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_last_error() == 0) {
                if (errno == 0) {
                    _error = "the server closed the connection";
                    return status::closed;
                }
                return fail(std::string(doing) + ": " + std::strerror(errno));
            }
            break;
        default:
            break;
    }
    // "unexpected eof while reading": the server went without close_notify.
    return fail(std::string("TLS ") + doing + ": " + openssl_reason("no reason given"));
}

redis_stream::status redis_stream::read(char* buf, std::size_t cap, std::size_t& got) {
    got = 0;
    if (_phase != phase::established) {
        return fail("not connected");
    }
    if (_ssl) {
        ERR_clear_error();
        errno = 0;
        const int n =
            SSL_read(_ssl.get(), buf, static_cast<int>(std::min<std::size_t>(cap, INT_MAX)));
        if (n > 0) {
            got = static_cast<std::size_t>(n);
            return status::done;
        }
        return tls_status(n, "read");
    }
    for (;;) {
        const ssize_t n = ::recv(_fd.get(), buf, cap, 0);
        if (n > 0) {
            got = static_cast<std::size_t>(n);
            return status::done;
        }
        if (n == 0) {
            _error = "the server closed the connection";
            return status::closed;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return status::want_read;
        }
        return fail(std::strerror(errno));
    }
}

bool redis_stream::pending() const noexcept { return _ssl && SSL_pending(_ssl.get()) > 0; }

redis_stream::status redis_stream::write(const char* buf, std::size_t len, std::size_t& put) {
    put = 0;
    if (_phase != phase::established) {
        return fail("not connected");
    }
    if (_ssl) {
        ERR_clear_error();
        errno = 0;
        const int n =
            SSL_write(_ssl.get(), buf, static_cast<int>(std::min<std::size_t>(len, INT_MAX)));
        if (n > 0) {
            put = static_cast<std::size_t>(n);
            return status::done;
        }
        return tls_status(n, "write");
    }
    for (;;) {
        const ssize_t n = ::send(_fd.get(), buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            put = static_cast<std::size_t>(n);
            return status::done;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return status::want_write;
        }
        return fail(std::strerror(errno));
    }
}

void redis_stream::close() noexcept {
    _ssl.reset();
    _fd.reset();
    _phase = phase::closed;
}

}  // namespace sbc::cluster
