// Seals the secrets of a call's state document before it leaves the
// process, and opens them on the node that reads it (AES-256-GCM, OpenSSL
// EVP; a fresh random 96-bit nonce per seal, NIST SP 800-38D 8.2.2).
//
// In the document a secret {"$secret": BASE64} becomes {"$sealed":
// BASE64(nonce || ciphertext || tag)}; the key name stays outside the
// ciphertext. seal_document/open_document walk the document with
// b2bua::for_each_secret's rule (objects with the one key).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "sbc/common/result.hpp"
#include "sbc/common/secret.hpp"

namespace sbc::cluster {

class sealer {
public:
    /// From 64 hex digits (32 octets); an error names what is wrong, never
    /// the key.
    static result<sealer> from_hex(const std::string& hex);

    /// nonce || ciphertext || tag of `plain`.
    std::string seal(std::span<const std::uint8_t> plain) const;
    /// The plain bytes; an error when the tag does not verify (another
    /// key, or tampering) or the input is short.
    result<secret> open(std::span<const std::uint8_t> sealed) const;

    /// Every {"$secret": B64} in `doc` becomes {"$sealed": B64}.
    void seal_document(nlohmann::json& doc) const;
    /// Every {"$sealed": B64} becomes {"$secret": B64}; an error (and `doc`
    /// partly opened) when one does not open.
    result<bool> open_document(nlohmann::json& doc) const;

    ~sealer();
    sealer(const sealer&) = default;
    sealer& operator=(const sealer&) = default;

private:
    sealer() = default;
    std::array<std::uint8_t, 32> _key{};
};

}  // namespace sbc::cluster
