// What a peer's certificate says about who it is, and whether that is who a
// trunk expects (RFC 5922 7.1 for SIP over TLS, RFC 6125 6 for the rules):
// one of the trunk's configured identities, and the host name the SBC
// dialled.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

namespace sbc::tls {

/// True when `cert` carries one of `identities`: an IP literal against the
/// subjectAltName IP entries, anything else as a DNS name against the
/// subjectAltName DNS entries (a "*." wildcard in the certificate covers
/// one label), with the subject CN consulted only when the certificate has
/// no DNS subjectAltName (RFC 6125 6.4.4). An empty list matches any
/// certificate.
bool matches_identity(X509* cert, const std::vector<std::string>& identities);

/// True when `name` is an IPv4 or IPv6 literal (IPv6 with or without
/// brackets).
bool is_ip_literal(std::string_view name);

/// True when `name` is a DNS host name (RFC 3261 25.1 `hostname`, RFC 1123
/// 2.1 labels: letters, digits and inner hyphens, at most 63 characters
/// each and 253 in all, the last label starting with a letter; one trailing
/// dot allowed). IP literals are not host names.
bool is_host_name(std::string_view name);

/// True when `cert` is a certificate for the host `name` the SBC dialled
/// (a host name, see is_host_name; a trailing dot is ignored):
/// - a subjectAltName URI `sip:name` without a user part (RFC 5922 7.1),
///   compared exactly, case-insensitively;
/// - a subjectAltName DNS entry (RFC 6125 6.4), where a `*` is only ever a
///   whole left-most label and covers exactly one label;
/// - the subject CN only when the certificate has neither DNS entries nor
///   `sip:` URIs in its subjectAltName (RFC 6125 6.4.4, RFC 5922 7.1).
bool matches_host_name(X509* cert, std::string_view name);

/// The subjectAltName entries, for a refusal's reason: "DNS:a.test,
/// URI:sip:a.test, IP:192.0.2.1", "none" without any; after 8 entries the
/// rest are counted, not listed (a certificate can carry thousands).
std::string alt_names_of(X509* cert);

/// The subject as one line ("CN=carrier.test, O=..."), for logs and sbcctl.
std::string subject_of(X509* cert);

/// notAfter as "2027-11-23T10:00:00Z".
std::string not_after_of(X509* cert);

}  // namespace sbc::tls
