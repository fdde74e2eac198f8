// AES counter mode, AES-GCM and HMAC-SHA1 for libsrtp2, on OpenSSL.
//
// Debian builds libsrtp2 on NSS, which costs about 1.8 us per AES-CM packet
// here (DESIGN.md, "SRTP speed"). libsrtp2 keeps the protocol (key
// derivation, roll-over counter, replay window) and lets its crypto kernel's
// types be replaced (srtp_replace_cipher_type / srtp_replace_auth_type);
// these are replacements on OpenSSL's EVP interfaces, which use AES-NI.
// Their behaviour is libsrtp2's own (RFC 3711 4.1.1 for AES-CM, 4.2.1 for
// HMAC-SHA1, RFC 7714 for GCM), shown by the tests against libsrtp2's test
// cases, its own implementation and RFC 3711 appendix B. Nothing here
// allocates per packet.
#pragma once

#include <srtp2/auth.h>
#include <srtp2/cipher.h>

namespace sbc::dataplane::srtp {

/// SRTP_AES_ICM_128 (key 16 + salt 14 octets).
const srtp_cipher_type_t& openssl_aes_icm_128() noexcept;
/// SRTP_AES_ICM_256 (key 32 + salt 14 octets).
const srtp_cipher_type_t& openssl_aes_icm_256() noexcept;
/// SRTP_AES_GCM_128 / _256 (RFC 7714; key 16 or 32 + salt 12 octets,
/// tags of 16 octets, or 8).
const srtp_cipher_type_t& openssl_aes_gcm_128() noexcept;
const srtp_cipher_type_t& openssl_aes_gcm_256() noexcept;
/// SRTP_HMAC_SHA1 (key 20 octets, tags truncated to 4 or 10).
const srtp_auth_type_t& openssl_hmac_sha1() noexcept;

}  // namespace sbc::dataplane::srtp
