#include "dataplane/srtp/openssl_crypto.hpp"

// SHA1_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, whose
// HMAC allocates per message (see the HMAC section below).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
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
extern const srtp_cipher_test_case_t srtp_aes_gcm_128_test_case_0;
extern const srtp_cipher_test_case_t srtp_aes_gcm_256_test_case_0;
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

/// Allocates a cipher object and its state (with an EVP context) for the
/// replacements below; `State` has `ctx` and `key_octets`.
template <typename State>
srtp_err_status_t alloc_cipher(srtp_cipher_t** c, int key_len, int key_octets,
                               const srtp_cipher_type_t& type, int algorithm, State initial) {
    auto* cipher = new (std::nothrow) srtp_cipher_t{};
    auto* state = new (std::nothrow) State(initial);
    if (cipher == nullptr || state == nullptr || !(state->ctx = EVP_CIPHER_CTX_new())) {
        delete cipher;
        delete state;
        return srtp_err_status_alloc_fail;
    }
    state->key_octets = key_octets;
    cipher->state = state;
    cipher->key_len = key_len;
    cipher->type = &type;
    cipher->algorithm = algorithm;
    *c = cipher;
    return srtp_err_status_ok;
}

/// Frees what alloc_cipher made; the state is wiped first.
template <typename State>
srtp_err_status_t dealloc_cipher(srtp_cipher_t* c) {
    if (c == nullptr) {
        return srtp_err_status_bad_param;
    }
    if (auto* state = static_cast<State*>(c->state)) {
        EVP_CIPHER_CTX_free(state->ctx);  // wipes the expanded key
        OPENSSL_cleanse(state, sizeof *state);
        delete state;
    }
    delete c;
    return srtp_err_status_ok;
}

srtp_err_status_t icm_alloc(srtp_cipher_t** c, int key_len, int) {
    if (key_len == SRTP_AES_ICM_128_KEY_LEN_WSALT) {
        return alloc_cipher(c, key_len, 16, openssl_aes_icm_128(), SRTP_AES_ICM_128, icm_state{});
    }
    if (key_len == SRTP_AES_ICM_256_KEY_LEN_WSALT) {
        return alloc_cipher(c, key_len, 32, openssl_aes_icm_256(), SRTP_AES_ICM_256, icm_state{});
    }
    return srtp_err_status_bad_param;
}

srtp_err_status_t icm_dealloc(srtp_cipher_t* c) { return dealloc_cipher<icm_state>(c); }

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

// ---- AES-GCM (RFC 7714) ----------------------------------------------------
//
// libsrtp2 forms the 12-octet IV from the salt itself (RFC 7714 8.1) and
// hands the cipher the key alone; the tag follows the ciphertext, 16 octets.

struct gcm_state {
    EVP_CIPHER_CTX* ctx = nullptr;
    int key_octets = 0;  ///< 16 or 32
    int tag_len = 16;
};

srtp_err_status_t gcm_alloc(srtp_cipher_t** c, int key_len, int tlen) {
    if (tlen != 16 && tlen != 8) {
        return srtp_err_status_bad_param;
    }
    gcm_state initial;
    initial.tag_len = tlen;
    if (key_len == SRTP_AES_GCM_128_KEY_LEN_WSALT) {
        return alloc_cipher(c, key_len, 16, openssl_aes_gcm_128(), SRTP_AES_GCM_128, initial);
    }
    if (key_len == SRTP_AES_GCM_256_KEY_LEN_WSALT) {
        return alloc_cipher(c, key_len, 32, openssl_aes_gcm_256(), SRTP_AES_GCM_256, initial);
    }
    return srtp_err_status_bad_param;
}

srtp_err_status_t gcm_dealloc(srtp_cipher_t* c) { return dealloc_cipher<gcm_state>(c); }

srtp_err_status_t gcm_init(void* cv, const uint8_t* key) {
    auto* s = static_cast<gcm_state*>(cv);
    const EVP_CIPHER* evp = s->key_octets == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    if (EVP_CipherInit_ex(s->ctx, evp, nullptr, key, nullptr, 1) != 1) {
        return srtp_err_status_init_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t gcm_set_iv(void* cv, uint8_t* iv, srtp_cipher_direction_t direction) {
    auto* s = static_cast<gcm_state*>(cv);
    if (direction != srtp_direction_encrypt && direction != srtp_direction_decrypt) {
        return srtp_err_status_bad_param;
    }
    // The default GCM IV length is the 12 octets RFC 7714 8.1 uses.
    if (EVP_CipherInit_ex(s->ctx, nullptr, nullptr, nullptr, iv,
                          direction == srtp_direction_encrypt ? 1 : 0) != 1) {
        return srtp_err_status_init_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t gcm_set_aad(void* cv, const uint8_t* aad, uint32_t len) {
    auto* s = static_cast<gcm_state*>(cv);
    int out = 0;
    if (EVP_CipherUpdate(s->ctx, nullptr, &out, aad, static_cast<int>(len)) != 1) {
        return srtp_err_status_algo_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t gcm_encrypt(void* cv, uint8_t* buf, unsigned int* len) {
    auto* s = static_cast<gcm_state*>(cv);
    int out = 0;
    if (EVP_CipherUpdate(s->ctx, buf, &out, buf, static_cast<int>(*len)) != 1) {
        return srtp_err_status_cipher_fail;
    }
    return srtp_err_status_ok;
}

srtp_err_status_t gcm_get_tag(void* cv, uint8_t* tag, uint32_t* len) {
    auto* s = static_cast<gcm_state*>(cv);
    unsigned char none[16];
    int out = 0;
    if (EVP_CipherFinal_ex(s->ctx, none, &out) != 1 ||
        EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, s->tag_len, tag) != 1) {
        return srtp_err_status_algo_fail;
    }
    *len = static_cast<uint32_t>(s->tag_len);
    return srtp_err_status_ok;
}

srtp_err_status_t gcm_decrypt(void* cv, uint8_t* buf, unsigned int* len) {
    auto* s = static_cast<gcm_state*>(cv);
    if (*len < static_cast<unsigned int>(s->tag_len)) {
        return srtp_err_status_bad_param;
    }
    const int body = static_cast<int>(*len) - s->tag_len;
    int out = 0;
    unsigned char none[16];
    if (EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, s->tag_len, buf + body) != 1 ||
        EVP_CipherUpdate(s->ctx, buf, &out, buf, body) != 1) {
        return srtp_err_status_auth_fail;
    }
    // The tag is checked here; on a mismatch the caller drops the packet.
    if (EVP_CipherFinal_ex(s->ctx, none, &out) != 1) {
        return srtp_err_status_auth_fail;
    }
    *len = static_cast<unsigned int>(body);  // the plaintext, without the tag
    return srtp_err_status_ok;
}

// ---- HMAC-SHA1 (RFC 3711 4.2.1, RFC 2104) ---------------------------------
//
// On OpenSSL's SHA1 block functions rather than EVP_MAC: in OpenSSL 3.0
// every restart of an EVP HMAC duplicates its provider digest contexts,
// which allocates per packet. Here the keyed inner and outer states are
// computed once (RFC 2104 2: H(K^opad, H(K^ipad, text))) and copied by value
// for each message; SHA1 itself runs OpenSSL's SHA-NI/AVX code.

struct hmac_state {
    SHA_CTX inner_keyed{};  ///< after absorbing K ^ ipad
    SHA_CTX outer_keyed{};  ///< after absorbing K ^ opad
    SHA_CTX running{};      ///< the message in progress
};

srtp_err_status_t hmac_alloc(srtp_auth_t** a, int key_len, int out_len) {
    if (key_len < 0 || key_len > SHA_CBLOCK || out_len > SHA_DIGEST_LENGTH) {
        return srtp_err_status_bad_param;
    }
    auto* auth = new (std::nothrow) srtp_auth_t{};
    auto* state = new (std::nothrow) hmac_state{};
    if (auth == nullptr || state == nullptr) {
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
        OPENSSL_cleanse(state, sizeof *state);  // the keyed states are key material
        delete state;
    }
    delete a;
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_init(void* sv, const uint8_t* key, int key_len) {
    auto* s = static_cast<hmac_state*>(sv);
    if (key_len < 0 || key_len > SHA_CBLOCK) {
        return srtp_err_status_bad_param;  // SRTP keys are 20 octets: never hashed first
    }
    unsigned char ipad[SHA_CBLOCK];
    unsigned char opad[SHA_CBLOCK];
    for (int i = 0; i < SHA_CBLOCK; ++i) {
        const unsigned char k = i < key_len ? key[i] : 0;
        ipad[i] = static_cast<unsigned char>(k ^ 0x36);
        opad[i] = static_cast<unsigned char>(k ^ 0x5c);
    }
    SHA1_Init(&s->inner_keyed);
    SHA1_Update(&s->inner_keyed, ipad, sizeof ipad);
    SHA1_Init(&s->outer_keyed);
    SHA1_Update(&s->outer_keyed, opad, sizeof opad);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    s->running = s->inner_keyed;
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_start(void* sv) {
    auto* s = static_cast<hmac_state*>(sv);
    s->running = s->inner_keyed;
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_update(void* sv, const uint8_t* buf, int len) {
    auto* s = static_cast<hmac_state*>(sv);
    SHA1_Update(&s->running, buf, static_cast<size_t>(len));
    return srtp_err_status_ok;
}

srtp_err_status_t hmac_compute(void* sv, const uint8_t* buf, int len, int tag_len, uint8_t* tag) {
    auto* s = static_cast<hmac_state*>(sv);
    if (tag_len < 0 || tag_len > SHA_DIGEST_LENGTH) {
        return srtp_err_status_bad_param;
    }
    unsigned char inner[SHA_DIGEST_LENGTH];
    SHA1_Update(&s->running, buf, static_cast<size_t>(len));
    SHA1_Final(inner, &s->running);
    SHA_CTX outer = s->outer_keyed;
    unsigned char full[SHA_DIGEST_LENGTH];
    SHA1_Update(&outer, inner, sizeof inner);
    SHA1_Final(full, &outer);
    // RFC 3711 4.2.1: the tag is the leftmost tag_len octets.
    std::memcpy(tag, full, static_cast<size_t>(tag_len));
    // libsrtp2's own HMAC leaves the context ready for the next message.
    s->running = s->inner_keyed;
    return srtp_err_status_ok;
}

const char icm_128_description[] = "AES-128 counter mode (OpenSSL, sbc)";
const char icm_256_description[] = "AES-256 counter mode (OpenSSL, sbc)";
const char hmac_description[] = "HMAC-SHA1 (OpenSSL, sbc)";
const char gcm_128_description[] = "AES-128 GCM (OpenSSL, sbc)";
const char gcm_256_description[] = "AES-256 GCM (OpenSSL, sbc)";

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

const srtp_cipher_type_t& openssl_aes_gcm_128() noexcept {
    static const srtp_cipher_type_t type = {gcm_alloc,
                                            gcm_dealloc,
                                            gcm_init,
                                            gcm_set_aad,
                                            gcm_encrypt,
                                            gcm_decrypt,
                                            gcm_set_iv,
                                            gcm_get_tag,
                                            gcm_128_description,
                                            &srtp_aes_gcm_128_test_case_0,
                                            SRTP_AES_GCM_128};
    return type;
}

const srtp_cipher_type_t& openssl_aes_gcm_256() noexcept {
    static const srtp_cipher_type_t type = {gcm_alloc,
                                            gcm_dealloc,
                                            gcm_init,
                                            gcm_set_aad,
                                            gcm_encrypt,
                                            gcm_decrypt,
                                            gcm_set_iv,
                                            gcm_get_tag,
                                            gcm_256_description,
                                            &srtp_aes_gcm_256_test_case_0,
                                            SRTP_AES_GCM_256};
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
