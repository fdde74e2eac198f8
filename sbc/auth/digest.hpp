// SIP digest authentication: RFC 3261 22 on RFC 2617, with the algorithms of
// RFC 7616 as RFC 8760 brings them to SIP.
//
// Two users. The client side (a trunk that registers or calls out to a
// carrier) parses the carrier's WWW-Authenticate / Proxy-Authenticate values,
// picks a challenge (choose_challenge) and answers it (authorization_value).
// The server side (a trunk that must authenticate to us) sends
// challenge_value() with a nonce from nonce_issuer (nonce.hpp), parses the
// Authorization / Proxy-Authorization value it gets back and verifies it.
//
// sofia-sip's auth modules only know MD5, so hashing is OpenSSL's EVP here.
// Everything that reads a header value takes untrusted input: it returns
// nullopt / false for anything malformed and never throws for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbc::auth {

/// The RFC 8760 2.3 algorithms. A "-sess" variant folds the nonce and cnonce
/// into A1 (RFC 7616 3.4.2).
enum class algorithm { md5, md5_sess, sha256, sha256_sess, sha512_256, sha512_256_sess };

/// The name as it goes on the wire: "MD5", "MD5-sess", "SHA-256", "SHA-256-sess",
/// "SHA-512-256", "SHA-512-256-sess".
std::string_view to_string(algorithm a) noexcept;

/// The algorithm a name denotes, case-insensitively; nullopt for one this
/// module does not implement.
std::optional<algorithm> parse_algorithm(std::string_view name) noexcept;

/// One Digest challenge from a WWW-Authenticate / Proxy-Authenticate value.
struct challenge {
    std::string realm, nonce, opaque;             // opaque may be empty (absent)
    algorithm algo = algorithm::md5;              // absent -> MD5 (RFC 2617 3.2.1)
    bool qop_auth = false, qop_auth_int = false;  // both false: no qop (RFC 2069 compatibility)
    bool stale = false;
};

/// Parses one header value such as
/// 'Digest realm="x", nonce="y", qop="auth,auth-int", algorithm=SHA-256'.
///
/// Parameter names and the scheme are case-insensitive, values may be tokens
/// or quoted strings with backslash escapes (RFC 7230 3.2.6), unknown
/// parameters (domain, charset, userhash, ...) are ignored. A value may hold
/// several challenges (RFC 7235 4.1); the first Digest challenge this module
/// supports is returned, so "first supported in the order given" (RFC 7616
/// 3.7, RFC 8760 2.4) holds within a value as across values.
///
/// @return nullopt when the value holds no supported Digest challenge: another
///   scheme, a missing realm or nonce, an unknown algorithm, a qop list naming
///   neither auth nor auth-int, a duplicated parameter, or a syntax error (a
///   syntax error also ends the list: what follows it cannot be trusted).
std::optional<challenge> parse_challenge(std::string_view header_value);

/// Every supported Digest challenge in one header value, in the order given.
std::vector<challenge> parse_challenges(std::string_view header_value);

/// The first challenge, in the order given, that parse_challenge accepts:
/// the header values of one 401/407 in the order they appear in the message.
std::optional<challenge> choose_challenge(const std::vector<std::string>& header_values);

struct credentials {
    std::string username, password;
};

/// What the response hashes besides the credentials (RFC 7616 3.4.3).
struct request_info {
    std::string_view method;  // "INVITE"
    std::string_view uri;     // the digest-uri: the Request-URI as sent
    std::string_view body;    // hashed for qop=auth-int only
};

/// The Authorization / Proxy-Authorization value answering `c`.
///
/// Uses qop=auth when offered, else auth-int when only that is offered, else
/// no qop (then nc and cnonce are left out, RFC 2617 3.2.2, except that a
/// "-sess" algorithm needs its cnonce). Quoted: username, realm, nonce, uri,
/// response, cnonce, opaque; unquoted: algorithm, qop, nc (RFC 7616 3.4).
///
/// @param nc the nonce count, sent as 8 hex digits; the caller counts the
///   requests it sent with this nonce, starting at 1.
/// @param cnonce from make_cnonce(), or fixed for tests.
/// @return the value, or an empty string when OpenSSL cannot compute the hash
///   (MD5 is absent from a FIPS-only OpenSSL).
std::string authorization_value(const challenge& c, const credentials& who, const request_info& req,
                                std::uint32_t nc, std::string_view cnonce);

/// A fresh client nonce: 16 bytes from RAND_bytes, as 32 lowercase hex
/// digits. Throws std::runtime_error only if the random generator fails.
std::string make_cnonce();

/// A parsed Authorization / Proxy-Authorization value.
struct authorization {
    std::string username, realm, nonce, uri, response, cnonce, opaque;
    std::string qop;  // "", "auth" or "auth-int" in any case, as received (it is hashed)
    std::string nc;   // 8 hex digits when qop is set, as received
    algorithm algo = algorithm::md5;
};

/// Parses one Authorization / Proxy-Authorization value.
///
/// @return nullopt unless it is a single Digest credentials with username,
///   realm, nonce, uri and response, a known (or absent) algorithm, a qop of
///   auth or auth-int (or none) and, with a qop, a cnonce and an nc of 8 hex
///   digits. userhash is accepted and ignored (the username is then looked up
///   as sent and will not be found).
std::optional<authorization> parse_authorization(std::string_view header_value);

/// True when `a.response` is what `password` gives for this request.
///
/// The hash covers a.uri; when req.uri is non-empty a.uri must equal it too
/// (RFC 2617 3.2.2.5: the digest-uri must name the request's resource). An
/// empty req.uri leaves that check to the caller (e.g. when a proxy in front
/// rewrites the Request-URI). The responses are compared in constant time.
///
/// Does not judge the nonce (nonce_issuer::check) or the realm and username
/// (the caller found the password by them), nor replays: replay_guard.hpp
/// remembers the nonce counts used.
bool verify(const authorization& a, std::string_view password, const request_info& req);

/// `value` as a quoted-string (RFC 7230 3.2.6): '"' and '\' escaped. Control
/// characters other than HTAB cannot appear in a header value and are dropped,
/// so a CR LF in configuration cannot split the header.
std::string quote(std::string_view value);

}  // namespace sbc::auth
