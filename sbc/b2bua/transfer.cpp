// Transfers by REFER (RFC 3515): blind, to a routed target, and attended
// (RFC 3891 Replaces), joining another call's far end (transfer.hpp).

#include "sbc/b2bua/transfer.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/peer_route.hpp"
#include "sbc/b2bua/reoffer.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/policy/user_phone.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

namespace {

/// NOTIFY with a message/sipfrag status line to the referrer (RFC 3515 2.4.4).
void notify_referrer(const dialog& referrer, int status, bool final) {
    const auto body = fmt::format("SIP/2.0 {} {}\r\n", status, phrase_for(status));
    const auto via = referrer.own_via();
    nta_outgoing_t* orq = nta_outgoing_tcreate(
        referrer.nta(), nullptr, nullptr, nullptr, SIP_METHOD_NOTIFY, nullptr,
        SIPTAG_EVENT_STR("refer"),
        SIPTAG_SUBSCRIPTION_STATE_STR(final ? "terminated;reason=noresource" : "active;expires=60"),
        SIPTAG_CONTENT_TYPE_STR("message/sipfrag;version=2.0"), SIPTAG_PAYLOAD_STR(body.c_str()),
        SBC_OWN_VIA(via), TAG_END());
    // The NOTIFY completes inside nta; nothing waits for its answer.
    nta_outgoing_destroy(orq);
}

}  // namespace

int call_transfer::on_refer(call& c, call_leg& from, nta_incoming_t* irq, const sip_t* sip) {
    if (from.trunk->refer != config::refer_policy::handle) {
        sofia::treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(allow_for(*from.trunk)));
        return 0;
    }
    if (c._state != call::state::established || !c._oa.idle()) {
        return 491;  // RFC 3261 14.1 by analogy: something is already under way
    }
    const sip_refer_to_t* to = sip->sip_refer_to;
    if (to != nullptr && to->r_url->url_headers != nullptr) {
        auto replaces = replaces_in_uri_headers(to->r_url->url_headers);
        if (!replaces) {
            const auto warning = fmt::format("399 sbc \"{}\"", replaces.error_message());
            sofia::treply(irq, 400, "Bad Replaces in Refer-To",
                          SIPTAG_WARNING_STR(warning.c_str()));
            return 0;
        }
        if (*replaces) {
            return on_attended_refer(c, from, irq, **replaces);
        }
    }
    if (to == nullptr) {
        sofia::treply(irq, 400, "Refer-To required");  // RFC 3515 2.4.1
        return 0;
    }
    if (to->r_url->url_user == nullptr) {
        return on_trunk_refer(c, from, irq, sip);
    }
    const side referee = dataplane::other(from._side);
    const auto& numbers = referee == side::a ? c._numbers : c._numbers_sent;
    const std::string referee_user = referee == side::a ? numbers.from : numbers.ruri;
    auto routed = c._owner.route_transfer(*from.trunk, to->r_url->url_user, referee_user);
    if (routed.trunk == nullptr) {
        sip_log.info("call {}: REFER to {} from leg {}: no route ({})", c.display_id(),
                     to->r_url->url_user, from._side == side::a ? 'a' : 'b', routed.status);
        return routed.status;
    }
    auto peer_index = c._owner.choose_peer(*routed.trunk, {});
    if (!peer_index) {
        return 503;
    }
    return start_admitted(c, from, irq, {routed.trunk, routed.user, {}, {}}, *peer_index);
}

int call_transfer::on_trunk_refer(call& c, call_leg& from, nta_incoming_t* irq, const sip_t* sip) {
    const url_t* uri = sip->sip_refer_to->r_url;
    // Microsoft's proxies refer back to themselves (their "Direct Routing -
    // SIP protocol": the INVITE goes to the proxy with the Refer-To as its
    // Request-URI and the Referred-By unchanged, x-m naming the target and
    // x-t the tenant). Anything else without a user names nobody the SBC
    // could call on the referrer's behalf.
    if ((uri->url_type != url_sip && uri->url_type != url_sips) || uri->url_host == nullptr) {
        sofia::treply(irq, 400, "Refer-To without a user must be a SIP URI");
        return 0;
    }
    if (!c._owner.names_peer(*from.trunk, uri->url_host)) {
        sip_log.info("call {}: REFER from leg {} to {}: no user, and no peer of trunk {}; 403",
                     c.display_id(), from._side == side::a ? 'a' : 'b', uri->url_host,
                     from.trunk->name);
        const auto warning = sofia::warning_value(
            "sbc", fmt::format("Refer-To names no user and no peer of trunk {}", from.trunk->name));
        sofia::treply(irq, 403, "Refer-To names no user and no peer of this trunk",
                      SIPTAG_WARNING_STR(warning.c_str()));
        return 0;
    }
    // The URI goes on as it came, parameters and all, without a headers
    // part (RFC 3261 19.1.5: headers of a Refer-To are for the request, and
    // this one has none the SBC would add).
    url_t bare = *uri;
    bare.url_headers = nullptr;
    blind_target target{from.trunk, {}, sofia::uri_text(&bare), {}};
    if (sip->sip_referred_by != nullptr) {
        c_handle<su_home_t, su_home_unref> home(
            static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
        const char* text =
            home ? sip_header_as_string(home.get(),
                                        reinterpret_cast<const sip_header_t*>(sip->sip_referred_by))
                 : nullptr;
        target.referred_by = text != nullptr ? text : "";
    }
    auto peer_index = c._owner.choose_peer(*from.trunk, {});
    if (!peer_index) {
        return 503;
    }
    return start_admitted(c, from, irq, target, *peer_index);
}

int call_transfer::start_admitted(call& c, call_leg& from, nta_incoming_t* irq,
                                  const blind_target& target, std::size_t peer_index) {
    const side referee = dataplane::other(from._side);
    const auto& numbers = referee == side::a ? c._numbers : c._numbers_sent;
    const std::string referee_user = referee == side::a ? numbers.from : numbers.ruri;
    // The target takes the referrer's side of the media session, with the
    // codecs the SBC offered there; SRTP is the target trunk's own, and a
    // target behind another interface gets that side moved to it.
    if (from.origin.last_sent.empty()) {
        refuse_offer(irq, "the referrer's leg has no media session to hand over");
        return 0;
    }
    // The target's trunk counts the new call against its outbound limits.
    if (auto admitted = c._owner.admit(*target.trunk, false); !admitted) {
        const auto retry = std::to_string(admitted.retry_after);
        sofia::treply(irq, SIP_503_SERVICE_UNAVAILABLE, SIPTAG_RETRY_AFTER_STR(retry.c_str()));
        return 0;
    }
    c._slots.push_back({target.trunk, false});
    const int status = start_blind(c, from, target, peer_index, referee_user);
    if (status != 0) {
        // Every way out gives back the admission slot and a prepared move.
        c._media.cancel_transfer(from._side);
        c.release_slot(target.trunk, false);
        return status;
    }
    // RFC 3515 2.4.2: accept, then report progress in NOTIFYs.
    sofia::treply(irq, SIP_202_ACCEPTED);
    notify_referrer(from, 100, false);
    return 0;
}

int call_transfer::start_blind(call& c, call_leg& from, const blind_target& target,
                               std::size_t peer_index, const std::string& referee_user) {
    const side referee = dataplane::other(from._side);
    const auto& trunk = *target.trunk;
    auto& via = c._owner.interface_named(trunk.interface);
    const auto egress = c._owner.normalizer(trunk).outbound;
    // Built where it stays: its INVITE's callback points at it.
    auto t = std::make_unique<call_transfer>(c, from._side, false);
    t->_blind = target;
    if (target.uri.empty()) {
        t->_blind.user = egress.apply(config::field_ruri, target.user);
    }
    t->_from =
        fmt::format("<sip:{}@{}>", egress.apply(config::field_from, referee_user), via.host());
    if (trunk.user_phone) {  // RFC 3261 19.1.1, as for a new call (outbound_attempt)
        t->_from = policy::header_with_user_phone(t->_from);
    }
    auto& d = t->_target;
    d.trunk = &trunk;
    t->_slot_inbound = false;
    d.origin = media_ctl::sdp_origin{from.origin.session_id, from.origin.version, {}};
    d.iface = &via;
    t->_sdes = std::make_unique<sdp::sdes_leg>(trunk.srtp, trunk.srtp_suites,
                                               &dataplane::srtp::random_fill);
    if (auto offer = c._media.transfer_offer(from._side, from.origin.last_sent,
                                             via.cfg().media_address, trunk, *t->_sdes, d.origin,
                                             c.leg(referee).origin.last_sent, t->_media_port)) {
        d.origin.last_sent = std::move(offer.value());
    } else {
        sip_log.warn("call {}: no offer for the transfer target: {}", c.display_id(),
                     offer.error_message());
        return 500;
    }
    // Nothing of the new dialog reaches the call until it takes the
    // referrer's place (complete()).
    t->_tried.push_back(peer_index);
    if (!t->dial(peer_index) && !t->dial_next()) {
        return 500;
    }
    sip_log.info("call {}: leg {} transfers to {} on trunk {} (REFER handled by the SBC)",
                 c.display_id(), from._side == side::a ? 'a' : 'b', t->_ruri, trunk.name);
    t->_oa = c._oa.begin(offer_answer::via::transfer, std::nullopt);
    c._transfer = std::move(t);
    return 0;
}

bool call_transfer::dial(std::size_t peer_index) {
    auto& d = _target;
    const auto* target = _call._owner.target_of(*d.trunk, peer_index);
    if (target == nullptr) {
        return false;
    }
    _invite = {};  // a transaction before its leg
    d.leg = {};
    d.peer = peer_index;
    d.transport = target->proto;
    std::string to;
    if (_blind.uri.empty()) {
        auto route = route_to(d.trunk->peers.at(target->peer), *target, _blind.user);
        to = fmt::format("<sip:{}@{}>", _blind.user, route.to_host);
        _ruri = std::move(route.ruri);
        if (d.trunk->user_phone) {
            to = policy::header_with_user_phone(to);
            _ruri = policy::with_user_phone(_ruri);
        }
        _next_hop = std::move(route.next_hop);
    } else {
        // The Refer-To named the trunk's proxy (any of them: they share the
        // target's state), so the URI stays and the request goes to the peer
        // chosen, as failover among the trunk's peers has it.
        to = fmt::format("<{}>", _blind.uri);
        _ruri = _blind.uri;
        _next_hop = address_uri("", target->host, target->port, target->proto);
    }
    const auto call_id = new_call_id();
    d.leg =
        sofia::leg::create(d.iface->agent(), closed_dialog(), SIPTAG_CALL_ID_STR(call_id.c_str()),
                           SIPTAG_FROM_STR(_from.c_str()), SIPTAG_TO_STR(to.c_str()));
    if (!d.leg) {
        return false;
    }
    nta_leg_tag(d.nta(), nullptr);
    remember_identity(d, call_id, _from, to);
    _call.capture_dialog(d);
    _auth_answers = 0;
    _dialing = true;
    _invite = send_invite();
    _dialing = false;
    return _invite && _invite.status() < 200;  // not refused, nor failed at once
}

bool call_transfer::dial_next() {
    while (auto next = _call._owner.choose_peer(*_target.trunk, _tried)) {
        _tried.push_back(*next);
        sip_log.info("call {}: transfer target: trying {}", _call.display_id(),
                     _call._owner.describe_target(*_target.trunk, *next));
        if (dial(*next)) {
            return true;
        }
    }
    return false;
}

int call_transfer::on_attended_refer(call& c, call_leg& from, nta_incoming_t* irq,
                                     const dialog_ref& replaces) {
    call_leg* replaced = c._owner.leg_of_dialog(replaces);
    if (replaced == nullptr || &replaced->_call == &c || replaces.early_only) {
        // The outcome an INVITE with this Replaces would have had (RFC 3891
        // 3): 481 for a dialog that is not there, 486 for early-only
        // naming a confirmed one. The REFER itself was fine (RFC 3515 2.4.4).
        const int status = replaced != nullptr && replaces.early_only ? 486 : 481;
        sip_log.info("call {}: attended transfer names dialog {} ({}): {}", c.display_id(),
                     replaces.call_id, replaced == nullptr ? "not ours" : "not replaceable",
                     status);
        sofia::treply(irq, SIP_202_ACCEPTED);
        notify_referrer(from, status, true);
        return 0;
    }
    call& other = replaced->_call;
    const side target = dataplane::other(replaced->_side);
    if (!other.can_hand_over(target)) {
        return 491;  // the other call has something under way
    }
    // Both far ends meet in this call's media session: the target takes the
    // referrer's side (moved to the target's interface if need be).
    const auto& joining = other.leg(target);
    if (from.origin.last_sent.empty()) {
        refuse_offer(irq, "the referrer's leg has no media session to hand over");
        return 0;
    }
    // The far end is re-keyed in the re-INVITE (RFC 4568 7.1.4 allows it):
    // the keys it had with the other call's session go with that session.
    auto sdes = std::make_unique<sdp::sdes_leg>(joining.trunk->srtp, joining.trunk->srtp_suites,
                                                &dataplane::srtp::random_fill);
    std::uint16_t media_port = 0;
    // The far end's own dialog goes on: its o= id, the next version.
    media_ctl::sdp_origin origin{joining.origin.session_id, joining.origin.version + 1, {}};
    auto offer = c._media.transfer_offer(
        from._side, from.origin.last_sent, joining.iface->cfg().media_address, *joining.trunk,
        *sdes, origin, c.leg(dataplane::other(from._side)).origin.last_sent, media_port);
    if (!offer) {
        sip_log.warn("call {}: no offer for the attended transfer: {}", c.display_id(),
                     offer.error_message());
        c._media.cancel_transfer(from._side);
        return 500;
    }
    origin.last_sent = std::move(offer.value());
    if (!join_far_end(c, from, other, target, std::move(sdes), std::move(origin), media_port)) {
        c.drop_transfer(true);
        other.hang_up("replaced by an attended transfer");
        return 500;
    }
    sip_log.info("call {}: leg {} joins call {}'s far end on trunk {} (attended transfer)",
                 c.display_id(), from._side == side::a ? 'a' : 'b', other.display_id(),
                 c._transfer->_target.trunk->name);
    sofia::treply(irq, SIP_202_ACCEPTED);
    notify_referrer(from, 100, false);
    // The referrer's consultation dialog ends as RFC 5589 7.3 has the
    // target end it: with a BYE, once the transfer was accepted.
    other.hang_up("replaced by an attended transfer");
    return 0;
}

bool call_transfer::join_far_end(call& c, call_leg& from, call& other, side target,
                                 std::unique_ptr<sdp::sdes_leg> sdes, media_ctl::sdp_origin origin,
                                 std::uint16_t media_port) {
    auto handed = other.hand_over(target);
    if (handed.slot_inbound) {
        c._slots.push_back({handed.d.trunk, *handed.slot_inbound});
    }
    // Built where it stays: its INVITE's callback points at it.
    auto t = std::make_unique<call_transfer>(c, from._side, true);
    t->_media_port = media_port;
    t->_slot_inbound = handed.slot_inbound;
    t->_target = std::move(handed.d);
    t->_target.origin = std::move(origin);
    t->_sdes = std::move(sdes);
    t->_invite = t->send_invite();
    t->_oa = c._oa.begin(offer_answer::via::transfer, std::nullopt);
    c._transfer = std::move(t);
    return static_cast<bool>(c._transfer->_invite);
}

void call_transfer::close(bool dialog_up) {
    if (_invite && _invite.status() < 200) {
        // A ringing target must stop ringing (RFC 3261 9.1); nta
        // acknowledges and ends a 2xx that crosses the CANCEL.
        _invite.cancel();
    }
    _invite = {};
    if (dialog_up) {
        bye(_target.nta(), _target.own_via());
    }
    _call._media.cancel_transfer(_referrer);
    _call._retired.push_back(std::move(_target.leg));
    if (_slot_inbound) {
        _call.release_slot(_target.trunk, *_slot_inbound);
    }
}

void call_transfer::fail(int status, bool dialog_up) {
    call& c = _call;  // the transfer (this) ends on the way
    auto& referrer = c.leg(_referrer);
    if (referrer.confirmed) {
        notify_referrer(referrer, status, true);
    }
    c.drop_transfer(dialog_up);
    if (!referrer.confirmed) {
        c.hang_up("transfer failed after the referrer left");  // no one left to talk to
    }
}

void call_transfer::on_response(const sip_t* sip, int status) {
    // nta may answer (a transport failure) before send() returned, when the
    // transfer is not in place yet: it is then abandoned where it was sent.
    if (_dialing || _call._transfer.get() != this) {
        return;
    }
    if (status < 200) {
        return;  // the referrer hears the outcome only (RFC 3515 2.4.5 allows that)
    }
    if ((status == 401 || status == 407) && answer_challenge(sip, status)) {
        return;
    }
    // RFC 3261 16.7, as for a new call: 408 and 5xx say this peer cannot
    // take the call now (nta's own 503 is a transport failure), so the
    // trunk's next peer is tried; the referrer hears only the outcome.
    if (!_attended && (status == 408 || (status >= 500 && status < 600))) {
        sip_log.info("call {}: transfer target {} answered {}", _call.display_id(),
                     _call._owner.describe_target(*_target.trunk, _target.peer), status);
        if (dial_next()) {
            return;
        }
    }
    if (status >= 300) {
        sip_log.info("call {}: transfer target answered {}; the call stays as it was",
                     _call.display_id(), status);
        _invite = {};
        // A taken-over dialog outlives a failed re-INVITE (RFC 3261 14.1),
        // but nobody is left on it.
        fail(status, _attended && status != 481 && status != 408);
        return;
    }
    if (!_attended && sip != nullptr) {
        if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
            nta_leg_rtag(_target.nta(), sip->sip_to->a_tag);
        }
        nta_leg_client_route(_target.nta(), sip->sip_record_route, sip->sip_contact);
    }
    auto sd = sdp::session_description::parse(body_of(sip));
    if (!has_sdp(sip) || !sd) {
        ack_2xx(_target.nta(), _invite.get(), {}, nullptr, _target.own_via());
        _invite = {};
        sip_log.warn("call {}: transfer target answered without usable SDP; ending it",
                     _call.display_id());
        fail(488, true);
        return;
    }
    complete(sip);
}

sofia::client_transaction call_transfer::send_invite(const sofia::authorization& auth) {
    const auto& d = _target;
    // RFC 4028 8.1: a re-INVITE restates the dialog's session timer.
    const auto expires = d.timer ? fmt::format("{};refresher={}", d.timer->interval.count(),
                                               d.timer->we_refresh ? "uac" : "uas")
                                 : std::string();
    const auto contact = d.iface->contact(d.transport, d.trunk->use_fqdn);
    // A new call's INVITE names the SBC to the trunk as any other does; a
    // trunk refer hands the referrer's Referred-By back unchanged (the
    // platform finds the transfer by it).
    auto lines = _attended ? std::string() : sbc_header_line(*d.trunk);
    if (!_attended && !_blind.referred_by.empty()) {
        lines += fmt::format("Referred-By: {}\r\n", _blind.referred_by);
    }
    const auto via = d.own_via();
    return sofia::client_transaction::send(
        d.nta(), [this](const sofia::response& r) { on_response(r.sip, r.status); },
        _attended || _next_hop.empty() ? nullptr : URL_STRING_MAKE(_next_hop.c_str()),
        SIP_METHOD_INVITE, _attended ? nullptr : URL_STRING_MAKE(_ruri.c_str()),
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_ALLOW_STR(allow_for(*d.trunk)),
        SIPTAG_SUPPORTED_STR(_attended ? supported_extensions : "timer"),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!lines.empty(), SIPTAG_HEADER_STR(lines.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(d.origin.last_sent.c_str()),
        SBC_OWN_VIA(via));
}

bool call_transfer::answer_challenge(const sip_t* sip, int status) {
    const auto auth =
        _call.in_dialog_credentials(_target, sip, status, "INVITE", _target.origin.last_sent,
                                    _auth_answers, _attended ? std::string() : _ruri);
    if (auth.empty()) {
        return false;
    }
    // RFC 3261 22.2: the same INVITE again as a new transaction. Its answer
    // may come before send() returns and end the transfer (this object).
    call& c = _call;
    const call_transfer* self = this;
    auto retry = send_invite(auth);
    if (c._transfer.get() != self) {
        return true;  // answered and ended: `this` is gone
    }
    if (!retry || retry.status() >= 200) {
        return false;
    }
    _invite = std::move(retry);
    return true;
}

void call_transfer::complete(const sip_t* answer) {
    call& c = _call;  // the transfer (this) ends here
    auto& referrer = c.leg(_referrer);
    // RFC 3515 2.4.5: the referrer learns the outcome, and leaves.
    if (referrer.confirmed) {
        notify_referrer(referrer, 200, true);
        c.send_bye(_referrer);
    }
    // The target's dialog takes the referrer's place, with its own trunk's
    // slot; the other leg keeps the SBC's media address and port, so its
    // media simply flows to the target.
    c.release_slot(referrer.trunk, _referrer == side::a);
    referrer.leg.set_handler(closed_dialog());
    c._retired.push_back(std::move(referrer.leg));
    referrer.the_dialog() = std::move(_target);
    referrer.leg.set_handler(referrer);
    if (_referrer == side::b) {
        c._registered.reset();  // leg b is no longer the contact it was called at
    }
    referrer.confirmed = true;
    // The target's 2xx settles the dialog's session timer (RFC 4028 7.2):
    // a new dialog has none without it; a taken-over one keeps its own,
    // restarted by the re-INVITE (RFC 4028 10).
    if (auto timer = session_timers::from_2xx(answer)) {
        referrer.timer = timer;
        referrer.peer_timer = true;
        sip_log.info("call {}: leg {} session timer {} s, refreshed by {}", c.display_id(),
                     _referrer == side::a ? 'a' : 'b', timer->interval.count(),
                     timer->we_refresh ? "the SBC" : "the transfer target");
    } else if (!_attended) {
        referrer.timer.reset();
    } else if (referrer.timer) {
        referrer.timer->last_refresh = std::chrono::steady_clock::now();
    }
    c._media.take_over(_referrer, *referrer.trunk, std::move(_sdes),
                       referrer.iface->cfg().media_address, _media_port);
    if (auto taken = c._media.accept_transfer_answer(_referrer, body_of(answer)); !taken) {
        // The session goes on; the party that stays may not understand it.
        sip_log.warn("call {}: transfer target's answer: {}", c.display_id(),
                     taken.error_message());
    }
    // The ACK goes once the data plane has its orders (the commands reach
    // the worker before any packet the ACK sets off), so the target's first
    // packets already meet its side's new address, keys and codec chain.
    ack_2xx(referrer.nta(), _invite.get(), {}, nullptr, referrer.own_via());
    _invite = {};
    sip_log.info("call {}: transfer completed; leg {} is now trunk {}", c.display_id(),
                 _referrer == side::a ? 'a' : 'b', referrer.trunk->name);
    const side stays = dataplane::other(_referrer);
    c._transfer.reset();
    // The party that stays learns of the new session from a re-INVITE (the
    // SBC's same media address, a new SDP version), never from the REFER.
    reoffer::start(c, stays);
}

}  // namespace sbc::b2bua
