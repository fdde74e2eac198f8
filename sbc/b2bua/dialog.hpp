// One SIP dialog of a call (RFC 3261 12) as the SBC keeps it: the nta leg
// that carries it, where it goes (interface, trunk, peer, transport), what
// was negotiated on it (100rel, the session timer) and what the SBC said in
// SDP on it (its o= identity and the last SDP sent, RFC 3264 8).
//
// A value: a call is made of two, and a transfer hands one from the call or
// the operation that made it to the side it takes over with a move, the
// same fields in one place. Its nta leg is owned (sofia::leg): whoever
// holds the dialog holds the leg, and a move hands both over.
//
// Object graph: the call owns its call_legs, each holding the dialog of one
// side; the trunk and interface pointers are borrowed from the
// configuration and the b2bua, which outlive every call. Everything runs on
// the su_root thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "sbc/config/config.hpp"
#include "sbc/media_ctl/media_session.hpp"
#include "sbc/sofia/leg.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua {

class sip_interface;

/// RFC 4028 session timer of a dialog, once the 2xx of its INVITE settled it.
struct session_timer {
    std::chrono::seconds interval{0};
    bool we_refresh = false;  ///< the SBC sends the refreshes (UPDATE) on this dialog
    bool no_update = false;   ///< the peer refused UPDATE: refresh by re-INVITE
    std::chrono::steady_clock::time_point last_refresh;
    unsigned auth_answers = 0;  ///< challenges to the refresh in flight answered (RFC 3261 22.2)
};

struct dialog {
    sofia::leg leg;  ///< empty before the dialog is made and after it is given away
    nta_leg_t* nta() const noexcept { return leg.get(); }
    /// What identifies the dialog that nta does not let be read back
    /// (sofia::read_leg() gives the rest): its Call-ID and the URIs of the
    /// SBC's and the peer's From/To, as it was made.
    std::string call_id;
    std::string local_uri;
    std::string remote_uri;
    sip_interface* iface = nullptr;
    const config::trunk_config* trunk = nullptr;
    config::transport transport = config::transport::udp;
    /// The target the SBC called: an index into its trunk's peer table
    /// (b2bua::target_of), not into trunk->peers, since a peer given by name
    /// has as many targets as its name resolves to. 0 on a dialog the SBC
    /// did not call (leg a).
    std::size_t peer = 0;
    bool confirmed = false;  ///< a 2xx to the dialog-creating INVITE went through
    /// The peer said Supported or Require 100rel / timer.
    bool peer_100rel = false;
    bool peer_timer = false;
    std::optional<session_timer> timer;
    /// What the SBC said in SDP on this dialog (RFC 3264 8).
    media_ctl::sdp_origin origin = media_ctl::sdp_origin::fresh();

    /// The top Via of the SBC's requests on this dialog when its trunk has
    /// use_fqdn (sip_interface::via; for SBC_OWN_VIA), else empty.
    std::string own_via() const;
};

}  // namespace sbc::b2bua
