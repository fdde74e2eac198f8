// The digest headers of a sofia-sip message as text.
//
// sofia-sip parses WWW-Authenticate, Proxy-Authenticate, Authorization and
// Proxy-Authorization into msg_auth_t lists; the SBC's own digest code
// (sbc/auth) reads header values as RFC 7235 writes them. This is the one
// place that turns the former into the latter.
#pragma once

#include <sofia-sip/msg_types.h>
#include <sofia-sip/sip.h>

#include <string>
#include <vector>

namespace sbc::sofia {

/// The value of each header of the list starting at `first`, in order;
/// a value too long to print (over 2 KiB) is left out.
std::vector<std::string> auth_values(const msg_auth_t* first);

/// The challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate).
std::vector<std::string> challenge_values(int status, const sip_t* sip);

/// Credentials answering a challenge (RFC 3261 22.2, 22.3): sent in
/// Authorization after a 401, in Proxy-Authorization after a 407. Empty
/// when there are none to send.
struct authorization {
    int challenged_by = 0;  ///< 401 or 407
    std::string value;
    bool empty() const noexcept { return value.empty(); }
    bool www() const noexcept { return !value.empty() && challenged_by == 401; }
    bool proxy() const noexcept { return !value.empty() && challenged_by != 401; }
};

}  // namespace sbc::sofia
