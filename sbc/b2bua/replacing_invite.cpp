// An INVITE with Replaces (RFC 3891) that the SBC accepts itself instead of
// passing it on: the other leg's trunk has `replaces: terminate` (Microsoft's
// proxies take no INVITE with Replaces). The SBC is then the UA that RFC
// 3891 3 describes: the new dialog takes the replaced one's place in the
// call, and the replaced one ends with a BYE.
//
// The new caller's offer reaches the leg that stays as a re-INVITE on its
// own dialog, relayed by the call's INVITE relay like any re-INVITE from
// the replaced side. The SBC's address and port towards the leg that stays
// do not change (the replaced side's media is re-pointed at the new caller
// in the data plane), but the re-INVITE is still needed: the replaced party
// may have held the call (a=sendonly or inactive, as a PBX does before an
// attended transfer), and the new caller may offer other codecs; its answer
// is what the 2xx to the new caller carries. The party that stays sees a
// re-INVITE of the dialog it has, never the Replaces.

#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

namespace {

config::transport transport_of(const sip_t* sip) {
    if (sip->sip_via != nullptr && su_casematch(sip->sip_via->v_protocol, sip_transport_tcp)) {
        return config::transport::tcp;
    }
    if (sip->sip_via != nullptr && su_casematch(sip->sip_via->v_protocol, sip_transport_tls)) {
        return config::transport::tls;
    }
    return config::transport::udp;
}

}  // namespace

bool call::terminates_replaces(side s) const noexcept {
    const auto& far = _legs[dataplane::index(dataplane::other(s))];
    return far.trunk != nullptr && far.trunk->replaces == config::replaces_policy::terminate;
}

int call::take_replacing_invite(side s, const config::trunk_config& trunk, nta_incoming_t* irq,
                                const sip_t* sip) {
    auto& l = leg(s);
    const auto& stays = leg(dataplane::other(s));
    if (_state != state::established || !l.confirmed || !stays.confirmed) {
        return 481;  // RFC 3891 3: only a confirmed dialog is replaced here
    }
    if (_invite || _transfer || _reoffer || _update || !_oa.idle()) {
        // An offer is under way on the session (RFC 3261 14.2 by analogy).
        sofia::treply(irq, SIP_491_REQUEST_PENDING);
        return 491;
    }
    auto& iface = _owner.interface_named(trunk.interface);
    if (&iface != l.iface) {
        // The replaced side's media ports are on its own interface's address.
        const auto warning = sofia::warning_value(
            "sbc", "the replacing INVITE came through another interface than the dialog it names");
        sofia::treply(irq, SIP_488_NOT_ACCEPTABLE, SIPTAG_WARNING_STR(warning.c_str()));
        return 488;
    }
    // The new dialog, as for a caller's INVITE (RFC 3261 12.1.1).
    dialog n;
    n.trunk = &trunk;
    n.iface = &iface;
    n.transport = transport_of(sip);
    n.peer_100rel = sip_has_feature(sip->sip_supported, "100rel") ||
                    sip_has_feature(sip->sip_require, "100rel");
    n.peer_timer =
        sip_has_feature(sip->sip_supported, "timer") || sip_has_feature(sip->sip_require, "timer");
    n.leg =
        sofia::leg::create(iface.agent(), l, SIPTAG_CALL_ID(sip->sip_call_id),
                           SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from),
                           SIPTAG_CSEQ(sip->sip_cseq), NTATAG_REMOTE_CSEQ(sip->sip_cseq->cs_seq));
    if (!n.leg) {
        return 500;
    }
    nta_leg_tag(n.nta(), nullptr);
    nta_leg_server_route(n.nta(), sip->sip_record_route, sip->sip_contact);
    n.call_id = sip->sip_call_id->i_id;
    n.local_uri = sofia::uri_text(sip->sip_to->a_url);
    n.remote_uri = sofia::uri_text(sip->sip_from->a_url);
    nta_incoming_tag(irq, nta_leg_get_tag(n.nta()));

    // Until the outcome, the replaced dialog answers only a BYE (its party
    // may leave first) and nothing of it reaches the call.
    dialog replaced = std::move(l.the_dialog());
    replaced.leg.set_handler(closed_dialog());
    l.the_dialog() = std::move(n);
    capture_leg(s);
    if (&trunk != replaced.trunk) {
        _media.set_leg(s, trunk, iface.cfg().media_address);
    }
    _slots.push_back({&trunk, true});
    sofia::server_transaction request(irq);
    const int status = on_reinvite(l, request, sip);
    if (_invite && _invite->irq.get() == irq) {
        _invite->replaced = std::move(replaced);
        sip_log.info(
            "call {}: INVITE from trunk {} replaces leg {}; re-INVITE to trunk {} "
            "(replaces: terminate)",
            display_id(), trunk.name, s == side::a ? 'a' : 'b', stays.trunk->name);
        return 0;
    }
    // Refused on the way (answered, or `status` to answer with): the nta
    // transaction stays the intake's, and the replaced dialog its leg's.
    const int answered = request.status();
    request.release();
    put_back(s, std::move(replaced));
    return status != 0 ? status : answered;
}

void call::end_replaced() {
    auto& inv = *_invite;
    const side s = inv.from;
    dialog r = std::move(*inv.replaced);
    inv.replaced.reset();
    sip_log.info("call {}: leg {} replaced by trunk {} (RFC 3891); BYE to the replaced dialog",
                 display_id(), s == side::a ? 'a' : 'b', leg(s).trunk->name);
    // RFC 3891 3: the replaced dialog ends once the new one is accepted.
    if (r.confirmed) {
        if (r.trunk->auth) {
            _owner.close_dialog(r.leg.release(), *r.trunk, r.own_via());
        } else {
            bye(r.nta(), r.own_via());
        }
    }
    release_slot(r.trunk, s == side::a);
    _retired.push_back(std::move(r.leg));
    if (s == side::b) {
        _registered.reset();  // leg b is no longer the contact it was called at
    }
}

void call::put_back(side s, dialog replaced) {
    auto& l = leg(s);
    release_slot(l.trunk, true);
    if (l.trunk != replaced.trunk) {
        _media.set_leg(s, *replaced.trunk, replaced.iface->cfg().media_address);
    }
    if (l.leg) {
        l.leg.set_handler(closed_dialog());
        _retired.push_back(std::move(l.leg));
    }
    l.the_dialog() = std::move(replaced);
    l.leg.set_handler(l);
}

}  // namespace sbc::b2bua
