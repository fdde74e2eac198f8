// The ICE credentials of one side of a media session, as the control plane
// hands them to the data plane: the SBC answers that side's connectivity
// checks as an ICE-lite agent (RFC 8445 2.5) with them. Plain value type.
#pragma once

#include <string>
#include <string_view>

namespace sbc::dataplane {

/// One side's ICE credentials (RFC 8445 5.3; SDP attributes of RFC 8839 5.4).
/// A check from that side's peer carries USERNAME "local_ufrag:remote_ufrag"
/// (RFC 8445 7.2.2) and is authenticated with `local_pwd` (RFC 8489 9.1).
struct ice_credentials {
    std::string local_ufrag;  ///< the SBC's a=ice-ufrag in the SDP sent to this side's peer
    std::string local_pwd;    ///< the SBC's a=ice-pwd there
    /// The peer's a=ice-ufrag; empty while its SDP has not arrived yet (the
    /// SBC offered, and checks may come before the answer does, RFC 8445
    /// 7.3): any remote fragment is taken then.
    std::string remote_ufrag;

    bool operator==(const ice_credentials&) const = default;

    /// Why these credentials cannot be used, or "" when they can: RFC 8839
    /// 5.4's grammar (ice-char: ALPHA / DIGIT / "+" / "/"; a ufrag of 4 to
    /// 256 characters, a password of 22 to 256).
    std::string_view invalid_because() const noexcept;
};

}  // namespace sbc::dataplane
