// The peer's half of ICE connectivity checks, for the data plane's tests:
// Binding requests as a full ICE agent sends them to the SBC (built with the
// STUN writer under test, whose output the RFC 5769 tests pin down), and
// what such an agent checks of the response it gets back.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dataplane/core/stun.hpp"

namespace sbc::test {

namespace stun = dataplane::stun;

/// RFC 5769 2.1's credentials, as the SBC's side would hold them: the
/// sample request's USERNAME "evtj:h6vY" names the receiver's fragment first.
inline const std::string check_local_ufrag = "evtj";
inline const std::string check_remote_ufrag = "h6vY";
inline const std::string check_password = "VOkJxbRl1RmTxUk/WvJxBt";

struct check_options {
    std::uint16_t type = stun::type::binding_request;
    std::uint8_t id = 1;  ///< the transaction ID's octets are id, id+1, ...
    std::optional<std::string> username = check_local_ufrag + ":" + check_remote_ufrag;
    std::string password = check_password;
    bool controlling = true;  ///< ICE-CONTROLLING (a full agent towards a lite one)
    bool controlled = false;  ///< ICE-CONTROLLED
    bool use_candidate = false;
    std::optional<std::uint32_t> priority = 0x6e0001ff;
    bool integrity = true;  ///< MESSAGE-INTEGRITY
    bool integrity_sha256 =
        false;  ///< MESSAGE-INTEGRITY-SHA256 (after MESSAGE-INTEGRITY, RFC 8489 9)
    bool fingerprint = true;
    std::vector<std::uint16_t> extra;  ///< more attributes, of 4 zero octets each
};

inline stun::transaction_id check_id(std::uint8_t first) {
    stun::transaction_id id{};
    for (std::size_t i = 0; i < id.size(); ++i) {
        id[i] = static_cast<std::uint8_t>(first + i);
    }
    return id;
}

inline std::vector<std::uint8_t> binding_request(const check_options& o = {}) {
    std::vector<std::uint8_t> buf(512);
    const stun::integrity_key key(o.password);
    stun::writer w(buf, o.type, check_id(o.id));
    const auto be32 = [](std::uint32_t v) {
        return std::array<std::uint8_t, 4>{
            static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    };
    const std::array<std::uint8_t, 8> tiebreaker{1, 2, 3, 4, 5, 6, 7, 8};
    if (o.priority) {
        w.add(stun::attribute::priority, be32(*o.priority));
    }
    if (o.controlling) {
        w.add(stun::attribute::ice_controlling, tiebreaker);
    }
    if (o.controlled) {
        w.add(stun::attribute::ice_controlled, tiebreaker);
    }
    if (o.use_candidate) {
        w.add(stun::attribute::use_candidate, {});
    }
    for (const auto t : o.extra) {
        w.add(t, be32(0));
    }
    if (o.username) {
        w.add(stun::attribute::username,
              std::span(reinterpret_cast<const std::uint8_t*>(o.username->data()),
                        o.username->size()));
    }
    if (o.integrity) {
        w.add_message_integrity(key);
    }
    if (o.integrity_sha256) {
        w.add_message_integrity_sha256(key);
    }
    if (o.fingerprint) {
        w.add_fingerprint();
    }
    buf.resize(w.ok() ? w.size() : 0);
    return buf;
}

/// Writes a message's FINGERPRINT anew after a test changed an octet before
/// it, so that the change reaches the checks behind the fingerprint's.
inline void refingerprint(std::vector<std::uint8_t>& m) {
    const auto crc =
        stun::crc32(std::span<const std::uint8_t>(m.data(), m.size() - 8)) ^ stun::fingerprint_xor;
    for (int i = 0; i < 4; ++i) {
        m[m.size() - 4 + static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(crc >> (24 - 8 * i));
    }
}

/// A response as the checking agent reads it (RFC 8489 9.1.4, 14).
struct check_response {
    bool parsed = false;
    std::uint16_t type = 0;
    stun::transaction_id id{};
    unsigned error_code = 0;  ///< from ERROR-CODE; 0 without
    std::optional<dataplane::ip_endpoint> mapped;
    bool has_integrity = false;
    bool has_integrity_sha256 = false;
    bool integrity_ok = false;         ///< MESSAGE-INTEGRITY verifies with the password
    bool integrity_sha256_ok = false;  ///< MESSAGE-INTEGRITY-SHA256 does
    bool fingerprint_ok = false;
    bool has_username = false;
    std::vector<std::uint16_t> unknown;  ///< UNKNOWN-ATTRIBUTES
};

inline check_response read_check_response(std::span<const std::uint8_t> bytes,
                                          const std::string& password = check_password) {
    check_response r;
    stun::message m;
    if (stun::parse(bytes, m) != stun::parse_error::none) {
        return r;
    }
    const stun::integrity_key key(password);
    r.parsed = true;
    r.type = m.type;
    r.id = m.id;
    if (const auto e = m.value(m.error_code); e.size() >= 4) {
        r.error_code = (e[2] & 0x07) * 100u + e[3];
    }
    r.mapped = stun::read_xor_address(m, m.xor_mapped_address);
    r.has_integrity = m.message_integrity.present();
    r.has_integrity_sha256 = m.message_integrity_sha256.present();
    r.integrity_ok = stun::integrity_valid(m, key);
    r.integrity_sha256_ok = stun::integrity_sha256_valid(m, key);
    r.fingerprint_ok = stun::fingerprint_valid(m);
    r.has_username = m.username.present();
    // UNKNOWN-ATTRIBUTES is comprehension-required and known: read it here.
    for (std::size_t pos = stun::header_length; pos + 4 <= m.size;) {
        const auto t = static_cast<std::uint16_t>((m.data[pos] << 8) | m.data[pos + 1]);
        const auto len = static_cast<std::size_t>((m.data[pos + 2] << 8) | m.data[pos + 3]);
        if (t == stun::attribute::unknown_attributes) {
            for (std::size_t i = 0; i + 1 < len; i += 2) {
                r.unknown.push_back(
                    static_cast<std::uint16_t>((m.data[pos + 4 + i] << 8) | m.data[pos + 5 + i]));
            }
        }
        pos += 4 + ((len + 3) & ~std::size_t{3});
    }
    return r;
}

}  // namespace sbc::test
