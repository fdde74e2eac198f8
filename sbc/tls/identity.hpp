// What a peer's certificate says about who it is, and whether that is who a
// trunk expects (RFC 5922 7.1 for SIP over TLS, RFC 6125 6 for the rules).
#pragma once

#include <openssl/x509.h>

#include <string>
#include <vector>

namespace sbc::tls {

/// True when `cert` carries one of `identities`: an IP literal against the
/// subjectAltName IP entries, anything else as a DNS name against the
/// subjectAltName DNS entries (a "*." wildcard in the certificate covers
/// one label), with the subject CN consulted only when the certificate has
/// no DNS subjectAltName (RFC 6125 6.4.4). An empty list matches any
/// certificate.
bool matches_identity(X509* cert, const std::vector<std::string>& identities);

/// The subject as one line ("CN=carrier.test, O=..."), for logs and sbcctl.
std::string subject_of(X509* cert);

/// notAfter as "2027-11-23T10:00:00Z".
std::string not_after_of(X509* cert);

}  // namespace sbc::tls
