// Steps and readings the in-process B2BUA tests share, so that a test reads
// like the protocol it checks: a REFER and its NOTIFYs (RFC 3515), a digest
// challenge and its answer (RFC 3261 22, RFC 7616), the lines of an SDP
// body (RFC 4566).
//
// Everything runs on the test's thread and fails the test through Catch2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tests/sbc/b2bua/support/scripted_peer.hpp"

namespace sbc::test {

/// The body of `sip`, "" without one.
std::string body_of(const sip_t* sip);
/// The first line of `sdp` that starts with `prefix` ("c=", "m=audio"),
/// without its CRLF; "" when there is none.
std::string sdp_line(const std::string& sdp, std::string_view prefix);
/// `sdp` with its a=sendrecv line turned into a=`direction` (RFC 3264 8.4
/// hold: "sendonly", "inactive").
std::string with_direction(std::string sdp, const std::string& direction);
/// Whether `port` stands as a number of its own in a line of `sdp` other
/// than o= (whose random session id may hold its digits by chance): an m=
/// line, a=rtcp.
bool sdp_names_port(const std::string& sdp, std::uint16_t port);
/// The port of the first m= line, "" without one.
std::string media_port(const std::string& sdp);
/// The o= line's session id and version (RFC 4566 5.2).
struct sdp_origin_fields {
    std::string id;
    long version = -1;
};
sdp_origin_fields sdp_origin(const std::string& sdp);
/// The request line's URI, as the request carried it.
std::string request_uri(const incoming_request& r);

/// `value` escaped for the headers part of a SIP URI (RFC 3261 19.1.2,
/// 25.1 hvalue): everything but unreserved characters as %XX.
std::string uri_escape(std::string_view value);
/// A REFER in `d` (RFC 3515 2.1) to `refer_to` ("<sip:3000@host>").
outgoing_request& refer(peer_dialog& d, const std::string& refer_to);
/// Takes `p`'s next request, which must be a NOTIFY of a REFER's progress
/// (RFC 3515 2.4.4): Event: refer, a message/sipfrag body whose status line
/// has `status`, the subscription active or (`final`) terminated. Answers it
/// 200 and returns it.
incoming_request& expect_notify(scripted_peer& p, int status, bool final);

/// The header line of a digest challenge (RFC 3261 22.1, MD5, qop auth) of
/// the realm "peer.example": WWW-Authenticate for 401, Proxy-Authenticate
/// for 407.
std::string digest_challenge(int status, const std::string& nonce, bool stale = false);
/// `r` answers a `challenged_by` (401/407) challenge with `nonce`: the
/// matching credentials header (Authorization, Proxy-Authorization) and not
/// the other, `username` in the challenge's realm, the Request-URI as its
/// digest-uri, and a response that `password` gives (RFC 7616 3.4.1).
void check_credentials(const incoming_request& r, int challenged_by, const std::string& nonce,
                       const std::string& username, const std::string& password);

}  // namespace sbc::test
