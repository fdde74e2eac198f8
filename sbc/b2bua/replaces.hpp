// The dialog an attended transfer names: the Replaces header (RFC 3891)
// carried, URI-escaped, in the headers part of a REFER's Refer-To
// (RFC 3515 2.1, RFC 3261 19.1.1).
//
// Text only: the b2bua looks the dialog up among its own legs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sbc/common/result.hpp"

namespace sbc::b2bua {

/// A dialog identifier as RFC 3891 3 writes it: `to_tag` is compared with
/// the local tag of the recipient's dialog, `from_tag` with its remote tag.
struct dialog_ref {
    std::string call_id;
    std::string to_tag;
    std::string from_tag;
    bool early_only = false;
};

/// The Replaces of a Refer-To URI's headers part ("Replaces=...&..."),
/// unescaped and parsed; nullopt when the URI names no Replaces, an error
/// when it names one that is malformed (no Call-ID, a tag missing).
result<std::optional<dialog_ref>> replaces_in_uri_headers(std::string_view headers);

}  // namespace sbc::b2bua
