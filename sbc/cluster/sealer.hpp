// Seals the secrets of a call's state document before it leaves the
// process, and opens them on the node that reads it (AES-256-GCM, OpenSSL
// EVP; a fresh random 96-bit nonce per seal, NIST SP 800-38D 8.2.2).
//
// In the document a secret {"$secret": V} becomes {"$sealed":
// BASE64(nonce || ciphertext || tag)}, the plaintext being V's JSON text
// (for the documents b2bua::to_json writes, a quoted base64 string), so
// that any value opens back to exactly what was sealed. The key name stays
// outside the ciphertext. seal_document/open_document walk the document
// with b2bua::for_each_secret's rule (objects with the one key) without
// depending on the B2BUA.
//
// A key is shared by both nodes of a pair (conf/README.md, "cluster").
// SP 800-38D 8.3 allows 2^32 seals with random nonces under one key: at a
// hundred new calls a second, each written twice with six secrets (keys,
// ICE passwords, SDP bodies), that is about six weeks, so the key is to be
// changed now and then.
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
    /// From 64 hex digits (32 octets), nothing around them; an error names
    /// what is wrong, never the key.
    static result<sealer> from_hex(const std::string& hex);

    /// nonce || ciphertext || tag of `plain`. Throws std::runtime_error only
    /// when OpenSSL cannot work at all (no randomness for the nonce, no
    /// memory), as an allocation would: never for any input.
    std::string seal(std::span<const std::uint8_t> plain) const;
    /// The plain bytes; an error when the tag does not verify (another
    /// key, or tampering) or the input is short.
    result<secret> open(std::span<const std::uint8_t> sealed) const;

    /// Every {"$secret": V} in `doc` becomes {"$sealed": B64}. Throws as
    /// seal() does.
    void seal_document(nlohmann::json& doc) const;
    /// Every {"$sealed": B64} becomes {"$secret": V}; an error naming where
    /// (a JSON pointer, "/media/legs/0/srtp/peer") when one does not open,
    /// `doc` then partly opened.
    result<bool> open_document(nlohmann::json& doc) const;

    ~sealer();
    sealer(const sealer&) = default;
    sealer& operator=(const sealer&) = default;

private:
    sealer() = default;
    std::array<std::uint8_t, 32> _key{};
};

}  // namespace sbc::cluster
