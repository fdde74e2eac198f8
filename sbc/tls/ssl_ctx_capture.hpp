// Hands the SBC the OpenSSL contexts sofia-sip creates for its TLS transports.
//
// sofia-sip 1.12 builds each TLS transport's SSL_CTX itself, from files in a
// directory, and exposes no handle to it: no certificate chains, no minimum
// protocol version, one verification policy per agent, and no way to load a
// new certificate. The SBC needs all four (issue 3: TLS 1.2+, per-trunk
// identities, reload without dropping connections), so this module
// interposes SSL_CTX_new: while a capture is in scope, every context created
// on this thread is recorded, and the caller (sbc/tls/interface_tls) then
// configures it as its own. Outside a capture, SSL_CTX_new behaves as usual.
//
// It also interposes SSL_shutdown, for a leak: sofia-sip 1.12 ends a TLS
// connection with SSL_shutdown and BIO_free but never SSL_free, so every
// closed or refused connection would leak its SSL object (tens of KiB; a
// peer that keeps failing handshakes could exhaust memory). For connections
// on a captured context, the SSL object is freed right after its shutdown,
// keeping the BIO alive for sofia's own BIO_free.
#pragma once

#include <openssl/ssl.h>

#include <vector>

namespace sbc::tls {

class ctx_capture {
public:
    ctx_capture();
    ~ctx_capture();
    ctx_capture(const ctx_capture&) = delete;
    ctx_capture& operator=(const ctx_capture&) = delete;

    /// The contexts created since construction (not owned: sofia frees them
    /// with its transports).
    const std::vector<SSL_CTX*>& captured() const noexcept { return _captured; }

private:
    friend void record_new_ctx(SSL_CTX* ctx) noexcept;
    std::vector<SSL_CTX*> _captured;
    ctx_capture* _outer;
};

}  // namespace sbc::tls
