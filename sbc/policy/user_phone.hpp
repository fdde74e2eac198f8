// ";user=phone" on SIP URIs that carry a telephone number (RFC 3261 19.1.1).
//
// A SIP URI's user part may be a telephone number written as RFC 3966's
// global number ("+4930123456"); the `user=phone` URI parameter says so, and
// platforms that route on numbers (Microsoft's direct routing proxies among
// them) expect it on the E.164 numbers an SBC sends. A trunk with
// `user_phone: true` gets it on the Request-URI, From, To and
// P-Asserted-Identity of the INVITEs the SBC sends it, where the user is an
// E.164 number after the trunk's outbound normalization. Pure text
// functions, no sofia: what does not parse as such a URI is left as it is.
#pragma once

#include <string>
#include <string_view>

namespace sbc::policy {

/// True for an E.164 number as RFC 3966 writes a global number without
/// visual separators: "+" then 1 to 15 digits (ITU-T E.164 numbers have at
/// most 15).
bool is_e164(std::string_view user) noexcept;

/// `uri` ("sip:+4930123@host:5061;transport=tls") with ";user=phone" after
/// its other URI parameters (before any "?" headers) when it is a sip: or
/// sips: URI whose user is E.164 (is_e164) and it has no `user` parameter
/// yet; otherwise `uri` unchanged (tel: URIs, other users, no user part).
std::string with_user_phone(std::string_view uri);

/// A From, To or P-Asserted-Identity value ("\"A\" <sip:+49301@h>;tag=x",
/// "<sip:+1555@h>, <tel:+1555>"): each URI in angle brackets through
/// with_user_phone. A bare URI (addr-spec, RFC 3261 20.10) cannot take a URI
/// parameter without brackets, since a ";" after it starts a header
/// parameter: one that needs user=phone is put in brackets.
std::string header_with_user_phone(std::string_view value);

}  // namespace sbc::policy
