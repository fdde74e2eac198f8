#include "sbc/auth/nonce.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <optional>
#include <stdexcept>

namespace sbc::auth {
namespace {

constexpr std::size_t key_size = 32;
constexpr std::size_t time_size = 8;
constexpr std::size_t mac_size = 32;  // SHA-256
constexpr std::size_t raw_size = time_size + mac_size;
constexpr std::size_t encoded_size = (raw_size * 8 + 5) / 6;  // base64url, no padding

using time_bytes = std::array<unsigned char, time_size>;
using mac_bytes = std::array<unsigned char, mac_size>;

constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// RFC 4648 5, without padding: every character is a token character, so the
// nonce goes into a header as it is and survives a client that (wrongly)
// sends it back unquoted.
std::string base64url(const unsigned char* p, std::size_t n) {
    std::string out;
    out.reserve((n * 8 + 5) / 6);
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += base64url_alphabet[(acc >> bits) & 0x3f];
        }
    }
    if (bits > 0) {
        out += base64url_alphabet[(acc << (6 - bits)) & 0x3f];
    }
    return out;
}

std::optional<std::array<unsigned char, raw_size>> decode_nonce(std::string_view s) {
    if (s.size() != encoded_size) {
        return std::nullopt;
    }
    std::array<unsigned char, raw_size> out{};
    std::size_t n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        auto v = base64url_alphabet.find(c);
        if (v == std::string_view::npos) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = static_cast<unsigned char>((acc >> bits) & 0xff);
        }
    }
    // The bits left over must be zero: otherwise several strings would decode
    // to one nonce.
    if ((acc & ((1U << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

time_bytes encode_time(std::int64_t seconds) noexcept {
    time_bytes out{};
    auto u = static_cast<std::uint64_t>(seconds);
    for (std::size_t i = time_size; i-- > 0;) {
        out[i] = static_cast<unsigned char>(u & 0xff);
        u >>= 8;
    }
    return out;
}

std::int64_t decode_time(const unsigned char* p) noexcept {
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < time_size; ++i) {
        u = (u << 8) | p[i];
    }
    return static_cast<std::int64_t>(u);
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<mac_bytes> compute_mac(const std::string& key, const time_bytes& when,
                                     std::string_view realm) {
    // The time has a fixed length, so time || realm cannot be split two ways.
    std::string data(when.begin(), when.end());
    data.append(realm);
    mac_bytes out{};
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
             &len) == nullptr ||
        len != mac_size) {
        return std::nullopt;
    }
    return out;
}

}  // namespace

nonce_issuer::nonce_issuer(std::string key) : _key(std::move(key)) {
    if (_key.empty()) {
        std::array<unsigned char, key_size> bytes{};
        if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
            throw std::runtime_error("RAND_bytes failed making the nonce key");
        }
        _key.assign(bytes.begin(), bytes.end());
        OPENSSL_cleanse(bytes.data(), bytes.size());
    }
    if (_key.size() > static_cast<std::size_t>(INT_MAX)) {
        throw std::invalid_argument("nonce key too long");
    }
}

std::string nonce_issuer::make(std::string_view realm,
                               std::chrono::system_clock::time_point now) const {
    auto when = encode_time(unix_seconds(now));
    auto mac = compute_mac(_key, when, realm);
    if (!mac) {
        // Only an allocation failure inside OpenSSL gets here.
        throw std::runtime_error("HMAC-SHA-256 failed making a nonce");
    }
    std::array<unsigned char, raw_size> raw{};
    std::copy(when.begin(), when.end(), raw.begin());
    std::copy(mac->begin(), mac->end(), raw.begin() + time_size);
    return base64url(raw.data(), raw.size());
}

nonce_issuer::check_result nonce_issuer::check(std::string_view nonce, std::string_view realm,
                                               std::chrono::system_clock::time_point now,
                                               std::chrono::seconds max_age) const {
    auto raw = decode_nonce(nonce);
    if (!raw) {
        return check_result::invalid;
    }
    time_bytes when{};
    std::copy(raw->begin(), raw->begin() + time_size, when.begin());
    auto mac = compute_mac(_key, when, realm);
    if (!mac || CRYPTO_memcmp(mac->data(), raw->data() + time_size, mac_size) != 0) {
        return check_result::invalid;
    }
    // The MAC says we made this time, but it is still compared in unsigned
    // arithmetic so that no value can overflow.
    std::int64_t made = decode_time(when.data());
    std::int64_t current = unix_seconds(now);
    std::uint64_t distance =
        made <= current ? static_cast<std::uint64_t>(current) - static_cast<std::uint64_t>(made)
                        : static_cast<std::uint64_t>(made) - static_cast<std::uint64_t>(current);
    auto limit = max_age.count();
    if (limit < 0 || distance > static_cast<std::uint64_t>(limit)) {
        return check_result::stale;
    }
    return check_result::valid;
}

std::string challenge_value(std::string_view realm, std::string_view nonce, algorithm a, bool stale,
                            std::string_view opaque) {
    std::string out = "Digest realm=" + quote(realm);
    out += ", nonce=" + quote(nonce);
    if (!opaque.empty()) {
        out += ", opaque=" + quote(opaque);
    }
    out += ", algorithm=";
    out += to_string(a);
    // RFC 7616 3.3: qop is required; auth-int is not offered because the
    // body of a SIP request may be rewritten by proxies on the way.
    out += ", qop=\"auth\"";
    if (stale) {
        out += ", stale=true";
    }
    return out;
}

}  // namespace sbc::auth
