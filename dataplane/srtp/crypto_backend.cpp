#include "dataplane/srtp/crypto_backend.hpp"

#include <srtp2/srtp.h>

#include "dataplane/srtp/openssl_crypto.hpp"

// libsrtp2's own types, exported but declared only in its private headers.
extern "C" {
extern const srtp_cipher_type_t srtp_aes_icm_128;
extern const srtp_cipher_type_t srtp_aes_icm_256;
extern const srtp_cipher_type_t srtp_aes_gcm_128;
extern const srtp_cipher_type_t srtp_aes_gcm_256;
extern const srtp_auth_type_t srtp_hmac;
}

namespace sbc::dataplane::srtp {

namespace {
std::string describe(const char* what, srtp_err_status_t status) {
    return std::string(what) + ": libsrtp2 error " + std::to_string(static_cast<int>(status));
}
}  // namespace

std::string use_crypto(crypto_backend backend) {
    static const srtp_err_status_t init = srtp_init();
    if (init != srtp_err_status_ok) {
        return describe("srtp_init", init);
    }
    const bool ssl = backend == crypto_backend::openssl;
    if (auto s = srtp_replace_cipher_type(ssl ? &openssl_aes_icm_128() : &srtp_aes_icm_128,
                                          SRTP_AES_ICM_128)) {
        return describe("AES-ICM-128", s);
    }
    if (auto s = srtp_replace_cipher_type(ssl ? &openssl_aes_icm_256() : &srtp_aes_icm_256,
                                          SRTP_AES_ICM_256)) {
        return describe("AES-ICM-256", s);
    }
    if (auto s = srtp_replace_cipher_type(ssl ? &openssl_aes_gcm_128() : &srtp_aes_gcm_128,
                                          SRTP_AES_GCM_128)) {
        return describe("AES-GCM-128", s);
    }
    if (auto s = srtp_replace_cipher_type(ssl ? &openssl_aes_gcm_256() : &srtp_aes_gcm_256,
                                          SRTP_AES_GCM_256)) {
        return describe("AES-GCM-256", s);
    }
    if (auto s = srtp_replace_auth_type(ssl ? &openssl_hmac_sha1() : &srtp_hmac, SRTP_HMAC_SHA1)) {
        return describe("HMAC-SHA1", s);
    }
    return {};
}

}  // namespace sbc::dataplane::srtp
