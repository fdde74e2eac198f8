#include "tests/support/test_certs.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <stdexcept>

namespace sbc::test {

namespace {

void add_extension(X509* cert, X509V3_CTX& v3, int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    if (ext == nullptr) {
        throw std::runtime_error("cannot make the certificate extension " + value);
    }
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

}  // namespace

issued::issued(const std::string& cn, const std::string& san, const issued* issuer)
    : key(EVP_EC_gen("P-256")), cert(X509_new()) {
    if (!key || !cert) {
        throw std::runtime_error("cannot make a test key or certificate");
    }
    X509* x = cert.get();
    X509_set_version(x, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key.get());
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer->cert.get() : x;
    X509_set_issuer_name(x, X509_get_subject_name(signer));
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, signer, x, nullptr, nullptr, 0);
    add_extension(x, v3, NID_basic_constraints,
                  issuer != nullptr ? "CA:FALSE" : "critical,CA:TRUE");
    if (issuer == nullptr) {
        add_extension(x, v3, NID_key_usage, "critical,keyCertSign");
    }
    if (!san.empty()) {
        add_extension(x, v3, NID_subject_alt_name, san);
    }
    if (X509_sign(x, issuer != nullptr ? issuer->key.get() : key.get(), EVP_sha256()) <= 0) {
        throw std::runtime_error("cannot sign the test certificate " + cn);
    }
}

void write_pem_file(const std::string& path, X509* cert, EVP_PKEY* key) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
        throw std::runtime_error("cannot write " + path);
    }
    if (cert != nullptr) {
        PEM_write_X509(f, cert);
    }
    if (key != nullptr) {
        PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    }
    std::fclose(f);
}

}  // namespace sbc::test
