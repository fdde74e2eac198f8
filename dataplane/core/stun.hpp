// STUN messages (RFC 8489) as the data plane reads and writes them: a parser
// that walks a datagram's attributes in place, the checks of
// MESSAGE-INTEGRITY (HMAC-SHA1, 14.5), MESSAGE-INTEGRITY-SHA256 (14.6) and
// FINGERPRINT (14.7), and a writer that builds a message in a caller's
// buffer. What an ICE-lite agent makes of a request is ice_responder's job;
// this is only the wire format.
//
// Nothing here allocates, locks or throws: a worker runs it per packet. The
// HMAC keys are prepared once per password (integrity_key, on the control
// thread), so a check costs the hashing of the message and of one block.
//
// Bad input never reads out of bounds: every length is checked against the
// datagram before it is used, and a message that does not add up is
// refused with the reason (parse_error), never half-read.
#pragma once

#include <openssl/sha.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/api/ip_endpoint.hpp"

namespace sbc::dataplane::stun {

/// RFC 8489 5: the fixed value in every message's header.
inline constexpr std::uint32_t magic_cookie = 0x2112A442;
inline constexpr std::size_t header_length = 20;
/// RFC 8489 14.7: what FINGERPRINT's CRC-32 is XORed with.
inline constexpr std::uint32_t fingerprint_xor = 0x5354554e;

/// RFC 7983 7: on a port that STUN shares with RTP and RTCP, a datagram whose
/// first octet is 0-3 is STUN (RTP and RTCP, version 2, start at 128-191).
constexpr bool is_stun_first_octet(std::uint8_t first) noexcept { return first <= 3; }

/// Message types (RFC 8489 5 and 18.2): the Binding method's four classes.
namespace type {
inline constexpr std::uint16_t binding_request = 0x0001;
inline constexpr std::uint16_t binding_indication = 0x0011;
inline constexpr std::uint16_t binding_success = 0x0101;
inline constexpr std::uint16_t binding_error = 0x0111;
}  // namespace type

/// Attribute types (RFC 8489 18.3, RFC 8445 16.1). Below 0x8000 an agent
/// that does not know an attribute must refuse the message (RFC 8489 14).
namespace attribute {
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t unknown_attributes = 0x000A;
inline constexpr std::uint16_t message_integrity_sha256 = 0x001C;
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t priority = 0x0024;
inline constexpr std::uint16_t use_candidate = 0x0025;
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t fingerprint = 0x8028;
inline constexpr std::uint16_t ice_controlled = 0x8029;
inline constexpr std::uint16_t ice_controlling = 0x802A;

/// RFC 8489 14: 0x0000-0x7FFF must be understood, 0x8000-0xFFFF may be ignored.
constexpr bool comprehension_required(std::uint16_t t) noexcept { return t < 0x8000; }
}  // namespace attribute

using transaction_id = std::array<std::uint8_t, 12>;

/// Where an attribute's value sits in the message; absent when offset is 0
/// (no value can start inside the header).
struct attribute_ref {
    std::uint16_t offset = 0;  ///< from the start of the message
    std::uint16_t length = 0;  ///< the value's octets, without padding
    bool present() const noexcept { return offset != 0; }
};

/// A STUN message read in place (parse()): the header's fields and where
/// the attributes an ICE agent reads sit. Points into the datagram, which
/// must outlive it. Of an attribute that appears more than once, the first
/// counts (RFC 8489 14). Attributes after MESSAGE-INTEGRITY are ignored but
/// for MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and after
/// MESSAGE-INTEGRITY-SHA256 but for FINGERPRINT (RFC 8489 9).
struct message {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;    ///< header + attributes: the whole datagram
    std::uint16_t type = 0;  ///< method and class (RFC 8489 5), e.g. type::binding_request
    transaction_id id{};

    attribute_ref username;
    attribute_ref message_integrity;
    attribute_ref message_integrity_sha256;
    attribute_ref fingerprint;
    attribute_ref priority;
    attribute_ref use_candidate;
    attribute_ref ice_controlling;
    attribute_ref ice_controlled;
    attribute_ref xor_mapped_address;
    attribute_ref error_code;

    /// Comprehension-required attributes this parser does not know, in the
    /// order they came (for a 420's UNKNOWN-ATTRIBUTES, RFC 8489 6.3.1);
    /// past max_unknown they are only counted.
    static constexpr std::size_t max_unknown = 8;
    std::array<std::uint16_t, max_unknown> unknown{};
    std::size_t unknown_count = 0;

    /// The octets of an attribute's value (empty when it is absent).
    std::span<const std::uint8_t> value(const attribute_ref& a) const noexcept {
        return a.present() ? std::span<const std::uint8_t>(data + a.offset, a.length)
                           : std::span<const std::uint8_t>();
    }
    std::string_view text(const attribute_ref& a) const noexcept {
        const auto v = value(a);
        return {reinterpret_cast<const char*>(v.data()), v.size()};
    }
};

enum class parse_error : std::uint8_t {
    none,
    not_stun,           ///< too short for a header, first two bits set, or no magic cookie
    bad_length,         ///< the header's length is not a multiple of 4 or not the datagram's
    attribute_overrun,  ///< an attribute (or its padding) runs past the end
    bad_attribute,      ///< a known attribute with a length its definition forbids
    after_fingerprint,  ///< something follows FINGERPRINT, which must come last (RFC 8489 14.7)
};

/// Reads `datagram` as a STUN message into `out` (RFC 8489 5, 14). The
/// datagram must be the message exactly (STUN over UDP, RFC 8489 6.2.1).
parse_error parse(std::span<const std::uint8_t> datagram, message& out) noexcept;

/// CRC-32 as ISO-HDLC / IEEE 802.3 define it (RFC 8489 14.7 names
/// ITU-T V.42's): reflected polynomial 0xEDB88320, initial value
/// and final XOR all ones. crc32("123456789") is 0xCBF43926.
std::uint32_t crc32(std::span<const std::uint8_t> data) noexcept;

/// The HMAC keys of one short-term password (RFC 8489 9.1.1: key =
/// OpaqueString(password); ICE passwords are ice-chars only, which
/// OpaqueString leaves as they are), HMAC-SHA1 and HMAC-SHA256 each
/// prepared as its inner and outer hash states after the key's block (RFC
/// 2104 2), so an HMAC costs the message's blocks and two more, and no
/// allocation. Made on the control thread; const afterwards, so workers
/// share it freely. Wiped when destroyed.
class integrity_key {
public:
    explicit integrity_key(std::string_view password) noexcept;
    ~integrity_key();
    integrity_key(const integrity_key&) = delete;
    integrity_key& operator=(const integrity_key&) = delete;

    /// HMAC-SHA1 (20 octets) of the concatenation of `parts`.
    void sha1(std::span<const std::span<const std::uint8_t>> parts,
              std::uint8_t (&out)[20]) const noexcept;
    /// HMAC-SHA256 (32 octets) of the concatenation of `parts`.
    void sha256(std::span<const std::span<const std::uint8_t>> parts,
                std::uint8_t (&out)[32]) const noexcept;

private:
    SHA_CTX _sha1_inner{};
    SHA_CTX _sha1_outer{};
    SHA256_CTX _sha256_inner{};
    SHA256_CTX _sha256_outer{};
};

/// RFC 8489 14.7: FINGERPRINT is present, last, and holds the CRC-32 of the
/// message before it, XORed with 0x5354554e.
bool fingerprint_valid(const message& m) noexcept;

/// RFC 8489 14.5: MESSAGE-INTEGRITY is present and holds the HMAC-SHA1,
/// under `key`, of the message up to it, the header's length covering it.
bool integrity_valid(const message& m, const integrity_key& key) noexcept;

/// RFC 8489 14.6: the same for MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, which
/// may be truncated to its first 16 to 32 octets, in steps of 4).
bool integrity_sha256_valid(const message& m, const integrity_key& key) noexcept;

/// The address an XOR-MAPPED-ADDRESS (RFC 8489 14.2) of `m` holds; nullopt
/// when `a` is absent or holds no IPv4 or IPv6 address of the right length.
std::optional<ip_endpoint> read_xor_address(const message& m, const attribute_ref& a) noexcept;

/// Builds a message in a caller's buffer: the header first, then each
/// attribute appended in turn, the header's length kept up to date. An
/// attribute that does not fit leaves the message as it was and makes
/// ok() false. Writes only within `buffer`.
class writer {
public:
    writer(std::span<std::uint8_t> buffer, std::uint16_t message_type,
           const transaction_id& id) noexcept;

    /// An attribute of `value`, padded to a multiple of 4 with `pad`
    /// (RFC 8489 14: the padding's content is ignored by whoever reads it).
    bool add(std::uint16_t attribute_type, std::span<const std::uint8_t> value,
             std::uint8_t pad = 0) noexcept;
    /// XOR-MAPPED-ADDRESS (RFC 8489 14.2) of `ep`, IPv4 or IPv6.
    bool add_xor_address(std::uint16_t attribute_type, const ip_endpoint& ep) noexcept;
    /// ERROR-CODE (RFC 8489 14.8): `code` 300-699 and its reason phrase.
    bool add_error_code(unsigned code, std::string_view reason) noexcept;
    /// UNKNOWN-ATTRIBUTES (RFC 8489 14.9).
    bool add_unknown_attributes(std::span<const std::uint16_t> types) noexcept;
    /// MESSAGE-INTEGRITY (RFC 8489 14.5) over what was written so far.
    bool add_message_integrity(const integrity_key& key) noexcept;
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 14.6), all 32 octets.
    bool add_message_integrity_sha256(const integrity_key& key) noexcept;
    /// FINGERPRINT (RFC 8489 14.7); the last attribute to add.
    bool add_fingerprint() noexcept;

    bool ok() const noexcept { return _ok; }
    /// The message's octets so far (header included).
    std::size_t size() const noexcept { return _size; }

private:
    /// Room for an attribute of `length` octets: its header written, the
    /// header's length updated; nullptr (and ok() false) when it does not fit.
    std::uint8_t* append(std::uint16_t attribute_type, std::size_t length,
                         std::uint8_t pad) noexcept;

    std::span<std::uint8_t> _buffer;
    std::size_t _size = 0;
    bool _ok = true;
};

}  // namespace sbc::dataplane::stun
