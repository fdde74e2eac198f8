// The dialog hand-over between calls that an attended transfer (RFC 3891
// Replaces in a REFER's Refer-To) or an INVITE with Replaces needs: where
// such an INVITE must go instead, and a leg's dialog given to another call.

#include <fmt/format.h>

#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"

namespace sbc::b2bua {

using namespace support;

std::optional<call::replacement> call::replacement_for(side s) {
    const side far_side = dataplane::other(s);
    auto& far = leg(far_side);
    if (_state != state::established || !far.confirmed || far.nta() == nullptr ||
        !leg(s).confirmed) {
        return std::nullopt;
    }
    replacement r;
    r.trunk = far.trunk;
    r.target.transport = far.transport;
    // RFC 3261 12.2.1.1: requests of the far end's dialog go to its remote
    // target; a new INVITE meant to replace that dialog goes there too.
    r.target.contact = sofia::remote_target(far.nta());
    c_handle<su_home_t, su_home_unref> home(
        static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    if (r.target.contact.empty() || !home) {
        return std::nullopt;
    }
    // It leaves for the address the far end's requests already go to.
    if (far_side == side::a) {
        r.target.source = _source;
    } else if (_registered) {
        r.target.source = _registered->source;
    } else if (const auto* peer = _owner.target_of(*far.trunk, far.peer)) {
        // The target the SBC called, by address, even for a peer by name.
        auto at = dataplane::ip_endpoint::from_string(peer->host, peer->port);
        if (!at) {
            return std::nullopt;
        }
        r.target.source = *at;
    } else {
        return std::nullopt;  // a dialog a transfer brought from a registered contact
    }
    // RFC 3891 3: the recipient compares to-tag with its own tag, so the
    // value names the dialog as the far end sees it.
    const sip_replaces_t* rp = nta_leg_make_replaces(far.nta(), home.get(), 0);
    if (rp == nullptr || rp->rp_call_id == nullptr) {
        return std::nullopt;
    }
    r.replaces = fmt::format("{};to-tag={};from-tag={}", rp->rp_call_id,
                             rp->rp_to_tag != nullptr ? rp->rp_to_tag : "0",
                             rp->rp_from_tag != nullptr ? rp->rp_from_tag : "0");
    return r;
}

bool call::can_hand_over(side s) const noexcept {
    const auto& l = _legs[dataplane::index(s)];
    return _state == state::established && _oa.idle() && l.confirmed && l.nta() != nullptr &&
           !_timers.refreshing(s);
}

call::handed_dialog call::hand_over(side s) {
    auto& l = leg(s);
    handed_dialog h;
    const bool inbound = s == side::a;
    for (auto it = _slots.begin(); it != _slots.end(); ++it) {
        if (it->trunk == l.trunk && it->inbound == inbound) {
            h.slot_inbound = inbound;  // it moves, unreleased, with the dialog
            _slots.erase(it);
            break;
        }
    }
    h.d = std::move(l.the_dialog());
    // Until it takes a leg's place in the call it goes to, its requests
    // reach neither call.
    h.d.leg.set_handler(closed_dialog());
    // The leg keeps its trunk and interface for the CDR and logs; it has
    // no dialog any more.
    l.confirmed = false;
    l.timer.reset();
    return h;
}

}  // namespace sbc::b2bua
