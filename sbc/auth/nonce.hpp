// Stateless nonces for the server side of digest authentication.
//
// A nonce carries the time it was made and an HMAC-SHA-256 over that time and
// the realm, keyed with a secret only this process knows. The SBC can then
// challenge any number of requests without storing anything per challenge:
// a nonce that comes back is checked by recomputing its MAC (RFC 7616 3.3
// suggests this shape of nonce). The price is that a response can be
// replayed until its nonce goes stale; max_age bounds that window.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "sbc/auth/digest.hpp"

namespace sbc::auth {

/// Makes and checks nonces. Immutable after construction, so one instance
/// may be used from any number of threads.
class nonce_issuer {
public:
    /// @param key the secret; when empty, 32 random bytes are made (the nonces
    ///   then die with the process, which only costs clients a re-challenge).
    ///   Throws std::runtime_error if the random generator fails.
    explicit nonce_issuer(std::string key = {});

    /// base64url, without padding, of the 8-byte big-endian Unix time in
    /// seconds followed by HMAC-SHA-256(key, time || realm): 54 characters,
    /// all token characters, so the nonce never needs escaping.
    std::string make(std::string_view realm, std::chrono::system_clock::time_point now) const;

    enum class check_result { valid, stale, invalid };

    /// valid: made by this issuer for `realm` and at most max_age old (or at
    /// most max_age in the future, should the clock have been stepped back);
    /// stale: made by this issuer for `realm` but older, so the server
    /// challenges again with stale=true and the client retries without asking
    /// the user (RFC 7616 3.3); invalid: anything else, compared in constant
    /// time.
    check_result check(std::string_view nonce, std::string_view realm,
                       std::chrono::system_clock::time_point now,
                       std::chrono::seconds max_age) const;

private:
    std::string _key;
};

/// A WWW-Authenticate / Proxy-Authenticate value: Digest with realm, nonce,
/// opaque (when non-empty), algorithm, qop="auth" and stale=true (when asked).
std::string challenge_value(std::string_view realm, std::string_view nonce, algorithm a, bool stale,
                            std::string_view opaque = {});

}  // namespace sbc::auth
