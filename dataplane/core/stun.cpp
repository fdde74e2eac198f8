// STUN wire format: parse, integrity and fingerprint checks, writer.
//
// The HMACs run on OpenSSL's SHA1/SHA256 block functions, as the SRTP
// HMAC does (srtp/openssl_crypto.cpp): an EVP HMAC in OpenSSL 3 duplicates
// its provider contexts at every restart, which allocates per message. The
// block functions are deprecated in OpenSSL 3, hence the pragmas (a macro
// would not do: in a unity build another file may include the header first).
#include "dataplane/core/stun.hpp"

#include <arpa/inet.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace sbc::dataplane::stun {

namespace {

std::uint16_t read16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t read32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

void write16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

void write32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

constexpr std::size_t padded(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

constexpr std::array<std::uint32_t, 256> make_crc_table() noexcept {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        t[i] = c;
    }
    return t;
}

constexpr std::array<std::uint32_t, 256> crc_table = make_crc_table();

// Whether the attribute's length is one its definition allows; attributes
// not listed take any length.
bool length_allowed(std::uint16_t type, std::size_t length) noexcept {
    switch (type) {
        case attribute::message_integrity:
            return length == 20;  // RFC 8489 14.5
        case attribute::message_integrity_sha256:
            return length >= 16 && length <= 32 && length % 4 == 0;  // RFC 8489 14.6
        case attribute::fingerprint:
        case attribute::priority:  // RFC 8445 16.1
            return length == 4;
        case attribute::use_candidate:
            return length == 0;
        case attribute::ice_controlled:
        case attribute::ice_controlling:
            return length == 8;  // a 64-bit tiebreaker
        case attribute::xor_mapped_address:
        case attribute::mapped_address:
            return length == 8 || length == 20;  // IPv4 or IPv6 (RFC 8489 14.1, 14.2)
        case attribute::error_code:
            return length >= 4;
        default:
            return true;
    }
}

// The comprehension-required attributes of RFC 8489 and RFC 8445 this agent
// knows. Of RFC 8489's, those of the long-term mechanism (REALM, NONCE,
// PASSWORD-ALGORITHM, USERHASH) are known but unexpected on a media port:
// ignored (RFC 8489 6.3), as is ALTERNATE-SERVER's family in responses.
bool known_required(std::uint16_t type) noexcept {
    switch (type) {
        case attribute::mapped_address:
        case attribute::username:
        case attribute::message_integrity:
        case attribute::error_code:
        case attribute::unknown_attributes:
        case 0x0014:  // REALM
        case 0x0015:  // NONCE
        case attribute::message_integrity_sha256:
        case 0x001D:  // PASSWORD-ALGORITHM
        case 0x001E:  // USERHASH
        case attribute::xor_mapped_address:
        case attribute::priority:
        case attribute::use_candidate:
            return true;
        default:
            return false;
    }
}

// The header with its length field set to `length`, then the message from
// octet 4 up to `end`: what RFC 8489 14.5 and 14.6 have the HMAC cover.
struct hmac_input {
    std::uint8_t head[4];
    std::array<std::span<const std::uint8_t>, 2> parts;

    hmac_input(const std::uint8_t* data, std::size_t end, std::size_t length) noexcept
        : head{data[0], data[1], static_cast<std::uint8_t>(length >> 8),
               static_cast<std::uint8_t>(length)},
          parts{std::span<const std::uint8_t>(head, 4),
                std::span<const std::uint8_t>(data + 4, end - 4)} {}
};

}  // namespace

parse_error parse(std::span<const std::uint8_t> datagram, message& out) noexcept {
    out = message{};
    const std::uint8_t* d = datagram.data();
    const std::size_t size = datagram.size();
    // RFC 8489 5: the two top bits are 0, then the magic cookie at 4.
    if (size < header_length || (d[0] & 0xC0) != 0 || read32(d + 4) != magic_cookie) {
        return parse_error::not_stun;
    }
    const std::size_t length = read16(d + 2);
    // The attribute offsets are 16 bits: no message over UDP comes near.
    if (length % 4 != 0 || header_length + length != size || size > 0xFFFF) {
        return parse_error::bad_length;
    }
    out.data = d;
    out.size = size;
    out.type = read16(d);
    std::memcpy(out.id.data(), d + 8, out.id.size());

    bool after_integrity = false;         // MESSAGE-INTEGRITY seen
    bool after_integrity_sha256 = false;  // MESSAGE-INTEGRITY-SHA256 seen
    std::size_t pos = header_length;
    while (pos < size) {
        if (out.fingerprint.present()) {
            return parse_error::after_fingerprint;
        }
        if (size - pos < 4) {
            return parse_error::attribute_overrun;
        }
        const std::uint16_t type = read16(d + pos);
        const std::size_t len = read16(d + pos + 2);
        if (padded(len) > size - pos - 4) {
            return parse_error::attribute_overrun;
        }
        const attribute_ref ref{static_cast<std::uint16_t>(pos + 4),
                                static_cast<std::uint16_t>(len)};
        pos += 4 + padded(len);
        // RFC 8489 9: what follows the integrity attributes is ignored, but
        // for the second integrity attribute and FINGERPRINT.
        const bool ignored = (after_integrity && type != attribute::message_integrity_sha256 &&
                              type != attribute::fingerprint) ||
                             (after_integrity_sha256 && type != attribute::fingerprint);
        if (ignored) {
            continue;
        }
        if (!length_allowed(type, len)) {
            return parse_error::bad_attribute;
        }
        attribute_ref* slot = nullptr;
        switch (type) {
            case attribute::username:
                slot = &out.username;
                break;
            case attribute::message_integrity:
                slot = &out.message_integrity;
                after_integrity = true;
                break;
            case attribute::message_integrity_sha256:
                slot = &out.message_integrity_sha256;
                after_integrity_sha256 = true;
                break;
            case attribute::fingerprint:
                slot = &out.fingerprint;
                break;
            case attribute::priority:
                slot = &out.priority;
                break;
            case attribute::use_candidate:
                slot = &out.use_candidate;
                break;
            case attribute::ice_controlling:
                slot = &out.ice_controlling;
                break;
            case attribute::ice_controlled:
                slot = &out.ice_controlled;
                break;
            case attribute::xor_mapped_address:
                slot = &out.xor_mapped_address;
                break;
            case attribute::error_code:
                slot = &out.error_code;
                break;
            default:
                if (attribute::comprehension_required(type) && !known_required(type)) {
                    if (out.unknown_count < out.unknown.size()) {
                        out.unknown[out.unknown_count] = type;
                    }
                    ++out.unknown_count;
                }
                break;
        }
        if (slot != nullptr && !slot->present()) {
            *slot = ref;
        }
    }
    return parse_error::none;
}

std::uint32_t crc32(std::span<const std::uint8_t> data) noexcept {
    std::uint32_t c = 0xFFFFFFFFu;
    for (const std::uint8_t b : data) {
        c = crc_table[(c ^ b) & 0xFF] ^ (c >> 8);
    }
    return c ^ 0xFFFFFFFFu;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

// RFC 2104 2: the inner and outer states after K ^ ipad and K ^ opad, a key
// longer than the block hashed first.
template <typename Ctx, int Block, int Digest>
void prepare(std::string_view password, Ctx& inner, Ctx& outer, int (*init)(Ctx*),
             int (*update)(Ctx*, const void*, std::size_t),
             int (*finish)(unsigned char*, Ctx*)) noexcept {
    unsigned char key[Block] = {};
    std::size_t key_len = password.size();
    if (key_len > Block) {
        Ctx c;
        init(&c);
        update(&c, password.data(), password.size());
        finish(key, &c);
        OPENSSL_cleanse(&c, sizeof c);
        key_len = Digest;
    } else {
        std::memcpy(key, password.data(), key_len);
    }
    unsigned char ipad[Block];
    unsigned char opad[Block];
    for (int i = 0; i < Block; ++i) {
        ipad[i] = static_cast<unsigned char>(key[i] ^ 0x36);
        opad[i] = static_cast<unsigned char>(key[i] ^ 0x5c);
    }
    init(&inner);
    update(&inner, ipad, sizeof ipad);
    init(&outer);
    update(&outer, opad, sizeof opad);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
}

}  // namespace

integrity_key::integrity_key(std::string_view password) noexcept {
    prepare<SHA_CTX, SHA_CBLOCK, SHA_DIGEST_LENGTH>(password, _sha1_inner, _sha1_outer, SHA1_Init,
                                                    SHA1_Update, SHA1_Final);
    prepare<SHA256_CTX, SHA256_CBLOCK, SHA256_DIGEST_LENGTH>(
        password, _sha256_inner, _sha256_outer, SHA256_Init, SHA256_Update, SHA256_Final);
}

integrity_key::~integrity_key() {
    // The keyed states are key material.
    OPENSSL_cleanse(&_sha1_inner, sizeof _sha1_inner);
    OPENSSL_cleanse(&_sha1_outer, sizeof _sha1_outer);
    OPENSSL_cleanse(&_sha256_inner, sizeof _sha256_inner);
    OPENSSL_cleanse(&_sha256_outer, sizeof _sha256_outer);
}

void integrity_key::sha1(std::span<const std::span<const std::uint8_t>> parts,
                         std::uint8_t (&out)[20]) const noexcept {
    SHA_CTX c = _sha1_inner;
    for (const auto& p : parts) {
        SHA1_Update(&c, p.data(), p.size());
    }
    unsigned char inner[SHA_DIGEST_LENGTH];
    SHA1_Final(inner, &c);
    c = _sha1_outer;
    SHA1_Update(&c, inner, sizeof inner);
    SHA1_Final(out, &c);
}

void integrity_key::sha256(std::span<const std::span<const std::uint8_t>> parts,
                           std::uint8_t (&out)[32]) const noexcept {
    SHA256_CTX c = _sha256_inner;
    for (const auto& p : parts) {
        SHA256_Update(&c, p.data(), p.size());
    }
    unsigned char inner[SHA256_DIGEST_LENGTH];
    SHA256_Final(inner, &c);
    c = _sha256_outer;
    SHA256_Update(&c, inner, sizeof inner);
    SHA256_Final(out, &c);
}

#pragma GCC diagnostic pop

bool fingerprint_valid(const message& m) noexcept {
    const auto& fp = m.fingerprint;
    // parse() lets nothing follow FINGERPRINT, so it ends the message.
    if (!fp.present() || fp.offset + 4u != m.size) {
        return false;
    }
    const std::uint32_t expected =
        crc32(std::span<const std::uint8_t>(m.data, fp.offset - 4u)) ^ fingerprint_xor;
    return read32(m.data + fp.offset) == expected;
}

bool integrity_valid(const message& m, const integrity_key& key) noexcept {
    const auto& mi = m.message_integrity;
    if (!mi.present()) {
        return false;
    }
    // RFC 8489 14.5: the text is the message before the attribute, with the
    // header's length as if the message ended with it (value at `offset`,
    // 20 octets: the length is offset + 20 - header_length = offset).
    const hmac_input in(m.data, mi.offset - 4u, mi.offset);
    std::uint8_t mac[20];
    key.sha1(in.parts, mac);
    return CRYPTO_memcmp(mac, m.data + mi.offset, sizeof mac) == 0;
}

bool integrity_sha256_valid(const message& m, const integrity_key& key) noexcept {
    const auto& mi = m.message_integrity_sha256;
    if (!mi.present()) {
        return false;
    }
    const hmac_input in(m.data, mi.offset - 4u, mi.offset + mi.length - header_length);
    std::uint8_t mac[32];
    key.sha256(in.parts, mac);
    // RFC 8489 14.6: a truncated value is the HMAC's leading octets.
    return CRYPTO_memcmp(mac, m.data + mi.offset, mi.length) == 0;
}

std::optional<ip_endpoint> read_xor_address(const message& m, const attribute_ref& a) noexcept {
    const auto v = m.value(a);
    if (v.size() < 4) {
        return std::nullopt;
    }
    const bool v6 = v[1] == 0x02;
    if ((!v6 && v[1] != 0x01) || v.size() != (v6 ? 20u : 8u)) {
        return std::nullopt;
    }
    const std::uint8_t* mask = m.data + 4;  // the cookie, then the transaction ID
    const auto port = static_cast<std::uint16_t>(read16(v.data() + 2) ^ (magic_cookie >> 16));
    sockaddr_storage ss{};
    if (v6) {
        auto& sa = reinterpret_cast<sockaddr_in6&>(ss);
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(port);
        for (std::size_t i = 0; i < 16; ++i) {
            sa.sin6_addr.s6_addr[i] = static_cast<std::uint8_t>(v[4 + i] ^ mask[i]);
        }
    } else {
        auto& sa = reinterpret_cast<sockaddr_in&>(ss);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        auto* b = reinterpret_cast<std::uint8_t*>(&sa.sin_addr);
        for (std::size_t i = 0; i < 4; ++i) {
            b[i] = static_cast<std::uint8_t>(v[4 + i] ^ mask[i]);
        }
    }
    return ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), sizeof ss);
}

writer::writer(std::span<std::uint8_t> buffer, std::uint16_t message_type,
               const transaction_id& id) noexcept
    : _buffer(buffer) {
    if (buffer.size() < header_length) {
        _ok = false;
        return;
    }
    std::uint8_t* h = buffer.data();
    write16(h, message_type);
    write16(h + 2, 0);
    write32(h + 4, magic_cookie);
    std::memmove(h + 8, id.data(), id.size());
    _size = header_length;
}

std::uint8_t* writer::append(std::uint16_t attribute_type, std::size_t length,
                             std::uint8_t pad) noexcept {
    const std::size_t total = 4 + padded(length);
    if (!_ok || length > 0xFFFF || total > _buffer.size() - _size ||
        _size + total - header_length > 0xFFFF) {
        _ok = false;
        return nullptr;
    }
    std::uint8_t* a = _buffer.data() + _size;
    write16(a, attribute_type);
    write16(a + 2, static_cast<std::uint16_t>(length));
    std::memset(a + 4 + length, pad, padded(length) - length);
    _size += total;
    write16(_buffer.data() + 2, static_cast<std::uint16_t>(_size - header_length));
    return a + 4;
}

bool writer::add(std::uint16_t attribute_type, std::span<const std::uint8_t> value,
                 std::uint8_t pad) noexcept {
    std::uint8_t* v = append(attribute_type, value.size(), pad);
    if (v == nullptr) {
        return false;
    }
    if (!value.empty()) {  // an empty span's data() may be null, which memcpy must not get
        std::memcpy(v, value.data(), value.size());
    }
    return true;
}

bool writer::add_xor_address(std::uint16_t attribute_type, const ip_endpoint& ep) noexcept {
    const bool v6 = ep.family() == AF_INET6;
    if (!v6 && ep.family() != AF_INET) {
        _ok = false;
        return false;
    }
    std::uint8_t* v = append(attribute_type, v6 ? 20 : 8, 0);
    if (v == nullptr) {
        return false;
    }
    // RFC 8489 14.2: the port XORed with the cookie's top 16 bits, the
    // address with the cookie (IPv4) or the cookie and transaction ID (IPv6),
    // which are the header's octets 4 to 19.
    const std::uint8_t* mask = _buffer.data() + 4;
    v[0] = 0;
    v[1] = v6 ? 0x02 : 0x01;
    write16(v + 2, static_cast<std::uint16_t>(ep.port() ^ (magic_cookie >> 16)));
    const auto* address =
        v6 ? reinterpret_cast<const sockaddr_in6*>(ep.sockaddr_ptr())->sin6_addr.s6_addr
           : reinterpret_cast<const std::uint8_t*>(
                 &reinterpret_cast<const sockaddr_in*>(ep.sockaddr_ptr())->sin_addr);
    for (std::size_t i = 0; i < (v6 ? 16u : 4u); ++i) {
        v[4 + i] = static_cast<std::uint8_t>(address[i] ^ mask[i]);
    }
    return true;
}

bool writer::add_error_code(unsigned code, std::string_view reason) noexcept {
    if (code < 300 || code > 699) {
        _ok = false;
        return false;
    }
    std::uint8_t* v = append(attribute::error_code, 4 + reason.size(), 0);
    if (v == nullptr) {
        return false;
    }
    // RFC 8489 14.8: 21 reserved bits, the hundreds (3 bits), the rest (0-99).
    v[0] = 0;
    v[1] = 0;
    v[2] = static_cast<std::uint8_t>(code / 100);
    v[3] = static_cast<std::uint8_t>(code % 100);
    if (!reason.empty()) {
        std::memcpy(v + 4, reason.data(), reason.size());
    }
    return true;
}

bool writer::add_unknown_attributes(std::span<const std::uint16_t> types) noexcept {
    std::uint8_t* v = append(attribute::unknown_attributes, 2 * types.size(), 0);
    if (v == nullptr) {
        return false;
    }
    for (std::size_t i = 0; i < types.size(); ++i) {
        write16(v + 2 * i, types[i]);
    }
    return true;
}

bool writer::add_message_integrity(const integrity_key& key) noexcept {
    // Appended first, so the header's length already covers it (RFC 8489 14.5).
    std::uint8_t* v = append(attribute::message_integrity, 20, 0);
    if (v == nullptr) {
        return false;
    }
    const std::span<const std::uint8_t> text(_buffer.data(), _size - 24);
    const std::array<std::span<const std::uint8_t>, 1> parts{text};
    std::uint8_t mac[20];
    key.sha1(parts, mac);
    std::memcpy(v, mac, sizeof mac);
    return true;
}

bool writer::add_message_integrity_sha256(const integrity_key& key) noexcept {
    std::uint8_t* v = append(attribute::message_integrity_sha256, 32, 0);
    if (v == nullptr) {
        return false;
    }
    const std::span<const std::uint8_t> text(_buffer.data(), _size - 36);
    const std::array<std::span<const std::uint8_t>, 1> parts{text};
    std::uint8_t mac[32];
    key.sha256(parts, mac);
    std::memcpy(v, mac, sizeof mac);
    return true;
}

bool writer::add_fingerprint() noexcept {
    std::uint8_t* v = append(attribute::fingerprint, 4, 0);
    if (v == nullptr) {
        return false;
    }
    write32(v, crc32(std::span<const std::uint8_t>(_buffer.data(), _size - 8)) ^ fingerprint_xor);
    return true;
}

}  // namespace sbc::dataplane::stun
