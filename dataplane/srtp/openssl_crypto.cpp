#include "dataplane/srtp/openssl_crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <srtp2/srtp.h>

#include <cstring>
#include <new>

// libsrtp2's own test cases: exported by the library, declared only in its
// private headers. srtp_replace_*_type runs them on a replacement before it
// takes it (and the replaced type's as well), so each replacement here
// carries them as its own test data.
extern "C" {
extern const srtp_cipher_test_case_t srtp_aes_icm_128_test_case_0;
extern const srtp_cipher_test_case_t srtp_aes_icm_256_test_case_0;
extern const srtp_auth_test_case_t srtp_hmac_test_case_0;
}

namespace sbc::dataplane::srtp {

namespace {

// ---- AES-ICM (RFC 3711 4.1.1) ---------------------------------------------

struct icm_state {
    EVP_CIPHER_CTX* ctx = nullptr;
    unsigned char offset[16] = {};  ///< the salt, shifted left 16 bits
    int key_octets = 0;             ///< 16 or 32
};

srtp_err_status_t icm_alloc(srtp_cipher_t** c, int key_len, int) {
    int key_octets = 0;
    if (key_len == SRTP_AES_ICM_128_KEY_LEN_WSALT) {
        key_octets = 16;
    } else if (key_len == SRTP_AES_ICM_256_KEY_LEN_WSALT) {
        key_octets = 32;
    } else {
        return srtp_err_status_bad_param;
    }
    auto* cipher = new (std::nothrow) srtp_cipher_t{};
    auto* state = new (std::nothrow) icm_state{};
    if (cipher == nullptr || state == nullptr || !(state->ctx = EVP_CIPHER_CTX_new())) {
        delete cipher;
        delete state;
        return srtp_err_status_alloc_fail;
    }
    state->key_octets = key_octets;
    cipher->state = state;
    cipher->key_len = key_len;
    cipher->type = key_octets == 16 ? &openssl_aes_icm_128() : &openssl_aes_icm_256();
    cipher->algorithm = key_octets == 16 ? SRTP_AES_ICM_128 : SRTP_AES_ICM_256;
    *c = cipher;
    return srtp_err_status_ok;
}

srtp_err_status_t icm_dealloc(srtp_cipher_t* c) {
    if (c == nullptr) {
        return srtp_err_status_bad_param;
    }
    auto* state = static_cast<icm_state*>(c->state);
    if (state != nullptr) {
        EVP_CIPHER_CTX_free(state->ctx);
        OPENSSL_cleanse(state->offset, sizeof state->offset);
        delete state;
    }
    delete c;
    return srtp_err_status_ok;
}

srtp_err_status_t icm_init(void* cv, const uint8_t* key) {
    auto* s = static_cast<icm_state*>(cv);
    // The salt fills the first 14 octets of the 16-octet counter block; the
    // block counter runs in the last two (RFC 3711 4.1.1).
    std::memset(s->offset, 0, sizeof s->offset);
    std::memcpy(s->offset, key + s->key_octets, SRTP_SALT_LEN);
    const EVP_CIPHER* evp = s->key_octets == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr();
    if (EVP_EncryptInit_ex(s->ctx, evp, nullptr, key, nullptr) != 1) {
        return srtp_err_status_init_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t icm_set_iv(void* cv, uint8_t* iv, srtp_cipher_direction_t) {
    auto* s = static_cast<icm_state*>(cv);
    unsigned char counter[16];
    for (int i = 0; i < 16; ++i) {
        counter[i] = static_cast<unsigned char>(s->offset[i] ^ iv[i]);
    }
    if (EVP_EncryptInit_ex(s->ctx, nullptr, nullptr, nullptr, counter) != 1) {
        return srtp_err_status_cipher_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t icm_encrypt(void* cv, uint8_t* buf, unsigned int* len) {
    auto* s = static_cast<icm_state*>(cv);
    int out = 0;
    // Counter mode: the keystream is XORed in place; no padding, no final block.
    if (EVP_EncryptUpdate(s->ctx, buf, &out, buf, static_cast<int>(*len)) != 1) {
        return srtp_err_status_cipher_fail;
    }
    *len = static_cast<unsigned int>(out);
    return srtp_err_status_ok;
}

// ---- HMAC-SHA1 (RFC 3711 4.2.1) -------------------------------------------

struct hmac_state {
    EVP_MAC_CTX* ctx = nullptr;
};

EVP_MAC* hmac_algorithm() {
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    return mac;
}

srtp_err_status_t hmac_alloc(srtp_auth_t** a, int key_len, int out_len) {
    if (key_len > 20 || out_len > 20 || hmac_algorithm() == nullptr) {
        return srtp_err_status_bad_param;
    }
    auto* auth = new (std::nothrow) srtp_auth_t{};
    auto* state = new (std::nothrow) hmac_state{};
    if (auth == nullptr || state == nullptr || !(state->ctx = EVP_MAC_CTX_new(hmac_algorithm()))) {
        delete auth;
        delete state;
        return srtp_err_status_alloc_fail;
    }
    auth->type = &openssl_hmac_sha1();
    auth->state = state;
    auth->out_len = out_len;
    auth->key_len = key_len;
    auth->prefix_len = 0;
    *a = auth;
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_dealloc(srtp_auth_t* a) {
    if (a == nullptr) {
        return srtp_err_status_bad_param;
    }
    auto* state = static_cast<hmac_state*>(a->state);
    if (state != nullptr) {
        EVP_MAC_CTX_free(state->ctx);
        delete state;
    }
    delete a;
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_init(void* sv, const uint8_t* key, int key_len) {
    auto* s = static_cast<hmac_state*>(sv);
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(s->ctx, key, static_cast<size_t>(key_len), params) != 1) {
        return srtp_err_status_auth_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_start(void* sv) {
    auto* s = static_cast<hmac_state*>(sv);
    // A NULL key restarts the MAC with the key given to init: the keyed
    // inner and outer states are reused, nothing is derived or allocated.
    if (EVP_MAC_init(s->ctx, nullptr, 0, nullptr) != 1) {
        return srtp_err_status_auth_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_update(void* sv, const uint8_t* buf, int len) {
    auto* s = static_cast<hmac_state*>(sv);
    if (EVP_MAC_update(s->ctx, buf, static_cast<size_t>(len)) != 1) {
        return srtp_err_status_auth_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_compute(void* sv, const uint8_t* buf, int len, int tag_len, uint8_t* tag) {
    auto* s = static_cast<hmac_state*>(sv);
    unsigned char full[EVP_MAX_MD_SIZE];
    size_t full_len = 0;
    if (tag_len > 20 || EVP_MAC_update(s->ctx, buf, static_cast<size_t>(len)) != 1 ||
        EVP_MAC_final(s->ctx, full, &full_len, sizeof full) != 1) {
        return srtp_err_status_auth_fail;
    }
    // RFC 3711 4.2.1: the tag is the leftmost tag_len octets.
    std::memcpy(tag, full, static_cast<size_t>(tag_len));
    // libsrtp2's own HMAC leaves the context ready for the next message.
    return hmac_start(sv);
}

const char icm_128_description[] = "AES-128 counter mode (OpenSSL, sbc)";
const char icm_256_description[] = "AES-256 counter mode (OpenSSL, sbc)";
const char hmac_description[] = "HMAC-SHA1 (OpenSSL, sbc)";

}  // namespace

const srtp_cipher_type_t& openssl_aes_icm_128() noexcept {
    static const srtp_cipher_type_t type = {icm_alloc,
                                            icm_dealloc,
                                            icm_init,
                                            nullptr,
                                            icm_encrypt,
                                            icm_encrypt,
                                            icm_set_iv,
                                            nullptr,
                                            icm_128_description,
                                            &srtp_aes_icm_128_test_case_0,
                                            SRTP_AES_ICM_128};
    return type;
}

const srtp_cipher_type_t& openssl_aes_icm_256() noexcept {
    static const srtp_cipher_type_t type = {icm_alloc,
                                            icm_dealloc,
                                            icm_init,
                                            nullptr,
                                            icm_encrypt,
                                            icm_encrypt,
                                            icm_set_iv,
                                            nullptr,
                                            icm_256_description,
                                            &srtp_aes_icm_256_test_case_0,
                                            SRTP_AES_ICM_256};
    return type;
}

const srtp_auth_type_t& openssl_hmac_sha1() noexcept {
    static const srtp_auth_type_t type = {
        hmac_alloc,    hmac_dealloc, hmac_init,        hmac_compute,
        hmac_update,   hmac_start,   hmac_description, &srtp_hmac_test_case_0,
        SRTP_HMAC_SHA1};
    return type;
}

}  // namespace sbc::dataplane::srtp
