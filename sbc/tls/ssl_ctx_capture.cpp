#include "sbc/tls/ssl_ctx_capture.hpp"

#include <dlfcn.h>

namespace sbc::tls {

void record_new_ctx(SSL_CTX* ctx) noexcept;

namespace {
thread_local ctx_capture* g_active = nullptr;
}

void record_new_ctx(SSL_CTX* ctx) noexcept {
    if (g_active != nullptr && ctx != nullptr) {
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
