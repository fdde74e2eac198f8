// Certificates made at test time (EC P-256, valid for an hour): a CA, and
// leaves it issues with the subjectAltNames a test asks for. For the TLS
// tests of the interfaces (tests/sbc/tls) and of the store's Redis link.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace sbc::test {

struct pkey_free {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct cert_free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using cert_ptr = std::unique_ptr<X509, cert_free>;

/// A P-256 key and a certificate for it: subject CN `cn`, subjectAltName
/// `san` (OpenSSL's syntax, "DNS:a.test,URI:sip:a.test", "" for none),
/// issued by `issuer` or, without one, self-signed as a CA. Throws
/// std::runtime_error when OpenSSL refuses.
struct issued {
    pkey_ptr key;
    cert_ptr cert;

    issued(const std::string& cn, const std::string& san, const issued* issuer = nullptr);
};

/// Writes `cert` and/or `key` (either may be nullptr) as PEM. Throws
/// std::runtime_error when the file cannot be written.
void write_pem_file(const std::string& path, X509* cert, EVP_PKEY* key);

}  // namespace sbc::test
