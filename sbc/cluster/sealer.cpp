// AES-256-GCM through OpenSSL's EVP interface, and the walk that seals and
// opens the secrets of a call state document in place.
#include "sbc/cluster/sealer.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "sbc/common/c_handle.hpp"

namespace sbc::cluster {

namespace {

// RFC 5116 5.2 (AEAD_AES_256_GCM): a 12-octet nonce and a 16-octet tag.
constexpr std::size_t gcm_nonce_size = 12;
constexpr std::size_t gcm_tag_size = 16;

using cipher_ctx = c_handle<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;

constexpr std::string_view secret_key = "$secret";
constexpr std::string_view sealed_key = "$sealed";

[[noreturn]] void openssl_failed(const char* what) {
    throw std::runtime_error(fmt::format("sealer: OpenSSL could not {}", what));
}

cipher_ctx new_cipher_ctx() {
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    if (!ctx) {
        openssl_failed("allocate a cipher context");
    }
    return ctx;
}

std::string to_base64(std::span<const std::uint8_t> bytes) {
    // EVP_EncodeBlock writes 4 characters per 3 octets, padded, and a NUL.
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// RFC 4648 4, padded, nothing else: EVP_DecodeBlock alone would skip
// whitespace and count the padding as zero octets.
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0 || text.size() > INT_MAX) {
        return std::nullopt;
    }
    const std::size_t padding = text.ends_with("==") ? 2 : (text.ends_with('=') ? 1 : 0);
    if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding),
                     is_base64_char)) {
        return std::nullopt;
    }
    std::vector<std::uint8_t> out(text.size() / 4 * 3);
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0 || static_cast<std::size_t>(n) != out.size()) {
        return std::nullopt;
    }
    out.resize(out.size() - padding);
    return out;
}

bool is_marked(const nlohmann::json& v, std::string_view key) {
    return v.is_object() && v.size() == 1 && v.contains(key);
}

void wipe_text(std::string& s) {
    if (!s.empty()) {
        OPENSSL_cleanse(s.data(), s.size());
    }
}

/// Calls `f(object, pointer)` with each object of `doc` marked with `key`
/// (b2bua::for_each_secret's rule), stopping at the first false.
template <typename F>
bool for_each_marked(nlohmann::json& doc, std::string_view key, const std::string& pointer,
                     const F& f) {
    if (is_marked(doc, key)) {
        return f(doc, pointer);
    }
    if (doc.is_object()) {
        for (auto& item : doc.items()) {
            // RFC 6901 3: '~' and '/' in a key are escaped in a pointer.
            std::string token = item.key();
            for (std::size_t at = 0; (at = token.find_first_of("~/", at)) != std::string::npos;
                 at += 2) {
                token.replace(at, 1, token[at] == '~' ? "~0" : "~1");
            }
            if (!for_each_marked(item.value(), key, pointer + "/" + token, f)) {
                return false;
            }
        }
    } else if (doc.is_array()) {
        for (std::size_t i = 0; i < doc.size(); ++i) {
            if (!for_each_marked(doc[i], key, pointer + "/" + std::to_string(i), f)) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

result<sealer> sealer::from_hex(const std::string& hex) {
    sealer s;
    if (hex.size() != 2 * s._key.size()) {
        return make_error(fmt::format("expected {} hex digits ({} octets), not {} characters",
                                      2 * s._key.size(), s._key.size(), hex.size()));
    }
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    };
    for (std::size_t i = 0; i < s._key.size(); ++i) {
        const int hi = nibble(hex[2 * i]);
        const int lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            // The position only: the characters may be the key's.
            return make_error(fmt::format("expected hex digits only; character {} is not one",
                                          2 * i + (hi < 0 ? 1 : 2)));
        }
        s._key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return s;
}

sealer::~sealer() { OPENSSL_cleanse(_key.data(), _key.size()); }

std::string sealer::seal(std::span<const std::uint8_t> plain) const {
    if (plain.size() > INT_MAX - gcm_nonce_size - gcm_tag_size) {
        // EVP counts in int; a call state's secret is a few hundred octets.
        throw std::length_error("sealer: a secret of more than 2 GiB");
    }
    std::vector<std::uint8_t> out(gcm_nonce_size + plain.size() + gcm_tag_size);
    std::uint8_t* const nonce = out.data();
    std::uint8_t* const text = nonce + gcm_nonce_size;
    std::uint8_t* const tag = text + plain.size();
    // SP 800-38D 8.2.2: the nonce is random, so the two nodes sharing the
    // key need no coordination to keep nonces apart.
    if (RAND_bytes(nonce, static_cast<int>(gcm_nonce_size)) != 1) {
        openssl_failed("draw a random nonce");
    }
    auto ctx = new_cipher_ctx();
    int n = 0;
    // EVP's default GCM nonce length is 12 octets, the one used here.
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, _key.data(), nonce) != 1 ||
        (!plain.empty() && EVP_EncryptUpdate(ctx.get(), text, &n, plain.data(),
                                             static_cast<int>(plain.size())) != 1) ||
        EVP_EncryptFinal_ex(ctx.get(), text + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(gcm_tag_size), tag) !=
            1) {
        openssl_failed("encrypt");
    }
    return std::string(out.begin(), out.end());
}

result<secret> sealer::open(std::span<const std::uint8_t> sealed) const {
    if (sealed.size() < gcm_nonce_size + gcm_tag_size) {
        return make_error(fmt::format("a sealed secret is at least {} octets, not {}",
                                      gcm_nonce_size + gcm_tag_size, sealed.size()));
    }
    if (sealed.size() > INT_MAX) {
        return make_error("a sealed secret of more than 2 GiB");
    }
    const std::uint8_t* const nonce = sealed.data();
    const std::uint8_t* const text = nonce + gcm_nonce_size;
    const std::size_t text_size = sealed.size() - gcm_nonce_size - gcm_tag_size;
    // EVP takes the expected tag through a non-const pointer.
    std::array<std::uint8_t, gcm_tag_size> tag{};
    std::copy_n(text + text_size, tag.size(), tag.begin());

    std::vector<std::uint8_t> plain(text_size);
    std::array<std::uint8_t, 16> tail{};  // what a final block could hold; GCM writes none
    auto ctx = new_cipher_ctx();
    int n = 0;
    const bool ok =
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, _key.data(), nonce) == 1 &&
        (text_size == 0 ||
         EVP_DecryptUpdate(ctx.get(), plain.data(), &n, text, static_cast<int>(text_size)) == 1) &&
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                            tag.data()) == 1 &&
        EVP_DecryptFinal_ex(ctx.get(), tail.data(), &n) == 1;
    // SP 800-38D 7.2: nothing of the plaintext is released unless the tag
    // verifies.
    secret out(std::move(plain));
    if (!ok) {
        return make_error("the sealed secret does not open: another key, or it was changed");
    }
    return out;
}

void sealer::seal_document(nlohmann::json& doc) const {
    for_each_marked(doc, secret_key, "", [&](nlohmann::json& v, const std::string&) {
        auto& value = v[secret_key];
        // The value's JSON text, so that any value opens back as it was.
        std::string plain = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (value.is_string()) {
            wipe_text(value.get_ref<std::string&>());
        }
        const auto bytes =
            std::span(reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size());
        std::string sealed = seal(bytes);
        wipe_text(plain);
        v = nlohmann::json{
            {std::string(sealed_key),
             to_base64(
                 std::span(reinterpret_cast<const std::uint8_t*>(sealed.data()), sealed.size()))}};
        return true;
    });
}

result<bool> sealer::open_document(nlohmann::json& doc) const {
    std::string failure;
    for_each_marked(doc, sealed_key, "", [&](nlohmann::json& v, const std::string& pointer) {
        const auto& value = v[sealed_key];
        const auto where = pointer.empty() ? std::string("the document") : pointer;
        if (!value.is_string()) {
            failure = fmt::format("{}: expected {{\"$sealed\": BASE64}}", where);
            return false;
        }
        const auto bytes = from_base64(value.get_ref<const std::string&>());
        if (!bytes) {
            failure = fmt::format("{}: a sealed secret that is not base64", where);
            return false;
        }
        auto plain = open(*bytes);
        if (!plain) {
            failure = fmt::format("{}: {}", where, plain.error_message());
            return false;
        }
        const auto& text = plain->bytes();
        auto opened = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
        if (opened.is_discarded()) {
            // It verified, so it was sealed with this key, yet not by seal_document.
            failure = fmt::format("{}: the sealed secret is not a JSON value", where);
            return false;
        }
        v = nlohmann::json{{std::string(secret_key), std::move(opened)}};
        return true;
    });
    if (!failure.empty()) {
        return make_error(std::move(failure));
    }
    return true;
}

}  // namespace sbc::cluster
