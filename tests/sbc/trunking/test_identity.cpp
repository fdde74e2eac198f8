// Certificate identity matching (RFC 6125) on certificates made in memory.
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <catch2/catch.hpp>

#include <memory>

#include "sbc/tls/identity.hpp"

using sbc::tls::matches_identity;

namespace {

struct x509_free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

/// A self-signed certificate with subject CN `cn` and subjectAltName `san`
/// (OpenSSL config syntax, "" for none).
x509_ptr make_cert(const char* cn, const char* san) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    x509_ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    if (*san != '\0') {
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san);
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(cert.get(), key, EVP_sha256());
    EVP_PKEY_free(key);
    return cert;
}

}  // namespace

TEST_CASE("identities match subjectAltName DNS and IP entries", "[tls]") {
    auto cert = make_cert("ignored.test", "DNS:carrier.test,DNS:*.zone.test,IP:192.0.2.7");
    CHECK(matches_identity(cert.get(), {}));
    CHECK(matches_identity(cert.get(), {"carrier.test"}));
    CHECK(matches_identity(cert.get(), {"CARRIER.test"}));
    CHECK(matches_identity(cert.get(), {"other.test", "192.0.2.7"}));
    CHECK(matches_identity(cert.get(), {"sip1.zone.test"}));
    // A wildcard covers one label only (RFC 6125 6.4.3).
    CHECK_FALSE(matches_identity(cert.get(), {"a.b.zone.test"}));
    CHECK_FALSE(matches_identity(cert.get(), {"192.0.2.8"}));
    CHECK_FALSE(matches_identity(cert.get(), {"wrong.test"}));
    // The CN is not consulted when there are DNS subjectAltNames.
    CHECK_FALSE(matches_identity(cert.get(), {"ignored.test"}));
}

TEST_CASE("the CN is the fallback without DNS subjectAltNames", "[tls]") {
    auto cert = make_cert("carrier.test", "");
    CHECK(matches_identity(cert.get(), {"carrier.test"}));
    CHECK_FALSE(matches_identity(cert.get(), {"wrong.test"}));
    CHECK(sbc::tls::subject_of(cert.get()) == "CN = carrier.test");
    CHECK(sbc::tls::not_after_of(cert.get()).size() == 20);
}
