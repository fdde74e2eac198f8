#include "sbc/tls/ssl_ctx_capture.hpp"

#include <dlfcn.h>

namespace sbc::tls {

void record_new_ctx(SSL_CTX* ctx) noexcept;
bool is_sofia_ctx(const SSL_CTX* ctx) noexcept;

namespace {
thread_local ctx_capture* g_active = nullptr;

/// Marks the contexts made while a capture was active: sofia-sip's.
int sofia_ctx_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}
int sofia_marker = 0;
}  // namespace

bool is_sofia_ctx(const SSL_CTX* ctx) noexcept {
    return ctx != nullptr && SSL_CTX_get_ex_data(ctx, sofia_ctx_index()) == &sofia_marker;
}

void record_new_ctx(SSL_CTX* ctx) noexcept {
    if (g_active != nullptr && ctx != nullptr) {
        SSL_CTX_set_ex_data(ctx, sofia_ctx_index(), &sofia_marker);
        try {
            g_active->_captured.push_back(ctx);
        } catch (...) {
            // Out of memory: the context stays sofia's default; the interface
            // notices it has nothing to configure and refuses to start.
        }
    }
}

ctx_capture::ctx_capture() : _outer(g_active) { g_active = this; }

ctx_capture::~ctx_capture() { g_active = _outer; }

}  // namespace sbc::tls

// The interposer. The executable's definition takes precedence over
// libssl's for every shared object (ELF symbol lookup starts at the
// executable), so sofia-sip's call lands here; RTLD_NEXT finds libssl's.
extern "C" SSL_CTX* SSL_CTX_new(const SSL_METHOD* method) {
    using fn = SSL_CTX* (*)(const SSL_METHOD*);
    static const fn real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "SSL_CTX_new"));
    if (real == nullptr) {
        return nullptr;
    }
    SSL_CTX* ctx = real(method);
    sbc::tls::record_new_ctx(ctx);
    return ctx;
}

// sofia-sip's tls_free() is the only caller of SSL_shutdown for its
// connections, and it does not use the SSL object afterwards; it then frees
// the BIO it handed to SSL_set_bio, so the BIO gets an extra reference here
// and SSL_free only drops that. (Read against sofia-sip 1.12.11's
// tport_tls.c, the version Debian 12 ships.)
extern "C" int SSL_shutdown(SSL* ssl) {
    using fn = int (*)(SSL*);
    static const fn real = reinterpret_cast<fn>(dlsym(RTLD_NEXT, "SSL_shutdown"));
    if (real == nullptr) {
        return -1;
    }
    int result = real(ssl);
    if (ssl != nullptr && sbc::tls::is_sofia_ctx(SSL_get_SSL_CTX(ssl))) {
        // sofia gives one socket BIO for both directions (SSL_set_bio(con,
        // bio, bio)) and frees it itself.
        if (BIO* bio = SSL_get_rbio(ssl)) {
            BIO_up_ref(bio);
        }
        // tls_init_secondary() copies the master's type into the
        // connection's, so tls_free() also calls SSL_CTX_free for every
        // connection; the reference the SSL object held pays for that one,
        // so SSL_free must not drop it a second time.
        SSL_CTX_up_ref(SSL_get_SSL_CTX(ssl));
        SSL_free(ssl);
    }
    return result;
}
