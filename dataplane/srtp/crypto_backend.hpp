// libsrtp2 for the whole process: initialised once, with the crypto kernel
// running either libsrtp2's own ciphers or the OpenSSL ones
// (openssl_crypto.hpp). The data plane uses OpenSSL; tests and the benchmark
// switch between the two to compare them.
#pragma once

#include <string>

namespace sbc::dataplane::srtp {

enum class crypto_backend { libsrtp, openssl };

/// Initialises libsrtp2 (once) and makes `backend`'s AES-CM, AES-GCM and
/// HMAC-SHA1 the ones new SRTP sessions use; sessions already made keep theirs.
/// Returns "" or what libsrtp2 refused (a replacement that fails libsrtp2's
/// own test cases is refused by libsrtp2). Not thread-safe: call it from
/// the control plane, before or between creating sessions.
std::string use_crypto(crypto_backend backend);

}  // namespace sbc::dataplane::srtp
