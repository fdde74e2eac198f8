// The call's initial INVITE: the caller's dialog and its INVITE taken over,
// and the INVITE relay (invite_relay.hpp) it shares with re-INVITEs: the
// responses relayed back, the answer, CANCEL and the ACK. Finding the
// callee (the INVITE on leg b, failover, challenges, 422 retries, PRACK) is
// the relay's outbound_attempt (outbound_attempt.hpp).

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/status_map.hpp"
#include "sbc/sdp/offer_builder.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

void call::learn_caller(const sip_t* sip) {
    auto& a = leg(side::a);
    a.transport = config::transport::udp;
    if (sip->sip_via != nullptr && su_casematch(sip->sip_via->v_protocol, sip_transport_tcp)) {
        a.transport = config::transport::tcp;
    } else if (sip->sip_via != nullptr &&
               su_casematch(sip->sip_via->v_protocol, sip_transport_tls)) {
        a.transport = config::transport::tls;
    }
    // RFC 3262 and 4028 are negotiated per leg: what the caller can do
    // decides leg a, what the SBC offers the callee decides leg b.
    a.peer_100rel = sip_has_feature(sip->sip_supported, "100rel") ||
                    sip_has_feature(sip->sip_require, "100rel");
    a.peer_timer =
        sip_has_feature(sip->sip_supported, "timer") || sip_has_feature(sip->sip_require, "timer");
    _timers.caller_asked(sip);
}

int call::start(nta_incoming_t* irq, const sip_t* sip) {
    auto& a = leg(side::a);
    auto& b = leg(side::b);
    a.iface = &_owner.interface_named(a.trunk->interface);
    b.iface = &_owner.interface_named(b.trunk->interface);
    learn_caller(sip);
    if (_registered) {
        b.transport = _registered->transport;
    } else {
        auto first = _owner.choose_peer(*b.trunk, {});
        if (!first) {
            // Every peer is down, or a name has no targets: never a wait
            // for DNS on a call's path (RFC 3261 21.5.4).
            _owner.note_unresolved(*b.trunk, "call " + display_id());
            return 503;
        }
        b.peer = *first;
        b.transport = _owner.target_of(*b.trunk, b.peer)->proto;
    }

    _media.set_leg(side::a, *a.trunk, a.iface->cfg().media_address);
    _media.set_leg(side::b, *b.trunk, b.iface->cfg().media_address);
    if (auto opened = _media.open(); !opened) {
        sip_log.error("call {}: no media ports: {}", display_id(), opened.error_message());
        return 503;
    }

    bool convert = false;
    auto prepared = outbound_attempt::offer_for(*this, sip, convert);
    if (!prepared) {
        if (!has_sdp(sip)) {
            return 500;  // the SBC's own offer failed (logged)
        }
        sip_log.info("call {}: unusable offer: {}", display_id(), prepared.error_message());
        refuse_offer(irq, prepared.error_message());
        return -1;
    }
    std::optional<std::string> offer = std::move(prepared.value());

    if (!create_inbound_leg(irq, sip)) {
        return 500;
    }
    _invite.emplace();
    _invite->from = side::a;
    _invite->offered = offer.has_value();
    _invite->converted = convert;
    _invite->attempt = std::make_unique<outbound_attempt>(*this, std::move(offer));
    auto orq = _invite->attempt->send(sip);
    if (!orq) {
        _invite.reset();
        return 500;
    }
    adopt_invite(std::move(orq));
    _invite->oa = _oa.begin(offer_answer::via::initial_invite, side::a);
    _invite->irq = sofia::server_transaction(irq);
    _invite->irq.on_ack_or_cancel([this](const sip_t* s) { on_invite_ack_or_cancel(s); });
    _invite->irq.reply(SIP_100_TRYING);
    return 0;
}

bool call::create_inbound_leg(nta_incoming_t* irq, const sip_t* sip) {
    auto& a = leg(side::a);
    a.leg = sofia::leg::create(a.iface->agent(), a, SIPTAG_CALL_ID(sip->sip_call_id),
                               SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from),
                               SIPTAG_CSEQ(sip->sip_cseq),
                               // The INVITE's CSeq is the dialog's remote sequence
                               // number (RFC 3261 12.1.1), which its state records.
                               NTATAG_REMOTE_CSEQ(sip->sip_cseq->cs_seq));
    if (!a.leg) {
        return false;
    }
    nta_leg_tag(a.nta(), nullptr);
    nta_leg_server_route(a.nta(), sip->sip_record_route, sip->sip_contact);
    a.call_id = sip->sip_call_id->i_id;
    a.local_uri = sofia::uri_text(sip->sip_to->a_url);
    a.remote_uri = sofia::uri_text(sip->sip_from->a_url);
    capture_leg(side::a);
    nta_incoming_tag(irq, nta_leg_get_tag(a.nta()));
    return true;
}

void call::on_invite_response(const sip_t* sip, int status) {
    auto& inv = *_invite;
    // The initial INVITE's failover, challenges and 422 retries.
    if (inv.initial() && inv.attempt->on_response(sip, status)) {
        return;
    }
    if (!inv.initial() && (status == 401 || status == 407) &&
        answer_reinvite_challenge(sip, status)) {
        return;
    }
    if (status < 200) {
        on_invite_provisional(sip, status);
        return;
    }
    if (status < 300) {
        on_invite_success(sip, status);
        return;
    }
    if (inv.initial()) {
        on_initial_final_failure(status, sip);
        return;
    }
    auto mapped = map_final_status(status);
    reply(inv.irq.get(), leg(inv.from), mapped.code, nullptr, nullptr, nullptr);
    if (inv.replaced) {
        put_back(inv.from, std::move(*inv.replaced));
    }
    _invite.reset();
}

void call::on_invite_provisional(const sip_t* sip, int status) {
    auto& inv = *_invite;
    if (status == 100 || !inv.initial() || _state == state::cancelling) {
        return;
    }
    auto& to = leg(dataplane::other(inv.from));
    if (sip != nullptr && sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
        nta_leg_rtag(to.nta(), sip->sip_to->a_tag);  // the early dialog (RFC 3261 12.1.2)
    }
    inv.attempt->prack(sip, status);
    std::optional<std::string> body;
    if (has_sdp(sip)) {
        // The callee's own early media takes over from the SBC's tone.
        _media.stop_ringback();
        auto translated = translate_sdp(to._side, sip, response_role_in(), response_role_out());
        if (translated) {
            body = std::move(translated.value());
        } else {
            sip_log.info("call {}: {} with unusable SDP relayed without it: {}", display_id(),
                         status, translated.error_message());
        }
    } else if (auto local = local_ringback(status)) {
        body = std::move(local);
        status = 183;
    }
    // A caller that supports 100rel gets its 18x reliably (RFC 3262).
    reply(inv.irq.get(), leg(side::a), status, nullptr, sip, body ? &*body : nullptr, {},
          leg(side::a).peer_100rel);
    if (_state != state::early) {
        // The first 18x: post-dial delay as the caller sees it (the CDR's
        // start is the INVITE's arrival, on the wall clock as its answer).
        _owner.tally().count_ringing(
            leg(side::a).trunk->name,
            std::chrono::duration<double>(cdr::wall_clock::now() - _cdr.start).count());
    }
    set_state(state::early);
}

std::optional<std::string> call::local_ringback(int status) {
    auto& inv = *_invite;
    auto& a = leg(side::a);
    if (a.trunk->ringback != config::ringback_mode::local || _media.ringback_answered(side::a)) {
        return std::nullopt;
    }
    if (!inv.offered || inv.converted) {
        // The caller made no offer: the SBC could only send one in a
        // reliable 18x, and its answer would decide the codec the callee
        // was already offered.
        sip_log.info("call {}: no local ringback on {}: the caller's INVITE had no SDP",
                     display_id(), status);
        return std::nullopt;
    }
    auto answered = _media.start_ringback(side::a, a.origin);
    if (!answered) {
        sip_log.info("call {}: no local ringback on {}: {}", display_id(), status,
                     answered.error_message());
        return std::nullopt;
    }
    _cdr.local_ringback = true;
    return std::move(answered).value();
}

void call::check_failover(std::chrono::steady_clock::time_point now) {
    // An earlier peer may have rung before it failed: the call is still early.
    if (_invite && _invite->initial() && (_state == state::trying || _state == state::early)) {
        _invite->attempt->check_failover(now);
    }
}

std::string call::timers_after_2xx(const sip_t* sip) {
    auto& inv = *_invite;
    auto& from = leg(inv.from);
    auto& to = leg(dataplane::other(inv.from));
    if (inv.initial()) {
        _timers.settle_callee(sip);
        return _timers.settle_caller();
    }
    // A re-INVITE answered is a refresh on both its legs (RFC 4028 10),
    // and the 2xx to the requester restates its leg's timer (RFC 4028 9).
    const auto now = std::chrono::steady_clock::now();
    if (to.timer) {
        to.timer->last_refresh = now;
    }
    std::string lines;
    if (from.timer) {
        from.timer->last_refresh = now;
        lines = fmt::format("Session-Expires: {}\r\n", session_timers::expires_value(from, false));
        if (from.peer_timer) {
            lines += "Require: timer\r\n";
        }
    }
    return lines;
}

void call::on_invite_success(const sip_t* sip, int status) {
    auto& inv = *_invite;
    auto& from = leg(inv.from);
    auto& to = leg(dataplane::other(inv.from));
    if (sip != nullptr) {
        if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
            nta_leg_rtag(to.nta(), sip->sip_to->a_tag);
        }
        nta_leg_client_route(to.nta(), sip->sip_record_route, sip->sip_contact);
    }
    to.confirmed = true;
    if (_state == state::cancelling) {
        // RFC 3261 9.1: the 2xx crossed our CANCEL; the callee's dialog is
        // up and must be acknowledged and ended.
        send_ack(to._side, nullptr);
        send_bye(to._side);
        finish();
        return;
    }
    _media.stop_ringback();
    std::optional<std::string> body;
    if (inv.converted && !has_sdp(sip)) {
        // RFC 3264 4: our offer must be answered in the 2xx.
        sip_log.warn("call {}: trunk {} answered the SBC's offer with a 2xx without SDP",
                     display_id(), to.trunk->name);
    }
    if (has_sdp(sip) || inv.converted) {
        auto translated =
            has_sdp(sip) ? translate_sdp(to._side, sip, response_role_in(), response_role_out())
                         : result<std::string>(make_error("no SDP answer in the 2xx"));
        if (!translated) {
            sip_log.warn("call {}: 2xx with unusable SDP: {}", display_id(),
                         translated.error_message());
            send_ack(to._side, nullptr);
            if (inv.initial()) {
                send_bye(to._side);
                reply(inv.irq.get(), from, 502, nullptr, nullptr, nullptr);
                finish();
            } else {
                reply(inv.irq.get(), from, 488, nullptr, nullptr, nullptr);
                release_transactions();
            }
            return;
        }
        body = std::move(translated.value());
    }
    if (inv.converted) {
        inv.offer_in_2xx = *body;  // the answer in the ACK is checked against it
    }
    if (inv.initial()) {
        _media.settle_ringback();
    }
    const auto timer_lines = timers_after_2xx(sip);
    reply(inv.irq.get(), from, status, nullptr, sip, body ? &*body : nullptr, timer_lines);
    inv.answered = true;
    if (inv.replaced) {
        from.confirmed = true;  // the replacing dialog's 2xx went
        end_replaced();
    }
    if (inv.initial()) {
        _cdr.answer = cdr::wall_clock::now();
        _cdr.status = status;
        from.confirmed = true;
        set_state(state::answered);
    }
}

void call::on_initial_final_failure(int status, const sip_t* sip) {
    auto& inv = *_invite;
    _media.stop_ringback();
    if (_state != state::cancelling) {
        auto mapped = map_final_status(status);
        sip_log.info("call {}: callee answered {}, caller gets {}", display_id(), status,
                     mapped.code);
        const char* phrase = sip != nullptr && sip->sip_status != nullptr
                                 ? sip->sip_status->st_phrase
                                 : phrase_for(status);
        note_end(cdr::party::callee, fmt::format("{} {}", status, phrase ? phrase : ""));
        reply(inv.irq.get(), leg(inv.from), mapped.code, nullptr, sip, nullptr);
    }
    finish();
}

void call::on_cancel() {
    auto& inv = *_invite;
    if (inv.answered) {
        return;  // too late: RFC 3261 9.2, the 2xx stands
    }
    sip_log.info("call {}: CANCEL from the caller", display_id());
    if (inv.initial()) {
        note_end(cdr::party::caller, "CANCEL");
    }
    _media.stop_ringback();
    inv.irq.reply(SIP_487_REQUEST_TERMINATED);
    inv.orq.cancel();
    if (inv.initial()) {
        set_state(state::cancelling);  // until the callee's final response
    }
}

void call::on_ack(const sip_t* sip) {
    auto& inv = *_invite;
    if (!inv.answered) {
        return;
    }
    if (inv.converted) {
        on_converted_ack(sip);
        return;
    }
    std::optional<std::string> body;
    if (has_sdp(sip)) {
        // Delayed offer (RFC 3264 5): the answer arrives in the ACK.
        auto translated = translate_sdp(inv.from, sip, sdp_role::answer);
        if (translated) {
            body = std::move(translated.value());
        } else {
            sip_log.warn("call {}: ACK with unusable SDP: {}", display_id(),
                         translated.error_message());
        }
    }
    send_ack(dataplane::other(inv.from), body ? &*body : nullptr);
    complete_invite();
}

void call::complete_invite() {
    auto& inv = *_invite;
    if (inv.initial()) {
        set_state(state::established);
        sip_log.info("call {}: established", display_id());
    }
    _invite.reset();
}

void call::on_converted_ack(const sip_t* sip) {
    auto& inv = *_invite;
    const side from = inv.from;
    const side to = dataplane::other(from);
    std::string problem;
    if (!has_sdp(sip)) {
        problem = "the ACK carries no SDP answer";
    } else if (auto fit = sdp::check_answer(inv.offer_in_2xx, body_of(sip)); !fit) {
        problem = fit.error_message();
    } else if (auto accepted = _media.accept(from, body_of(sip), sdp_role::answer); !accepted) {
        problem = accepted.error_message();
    }
    // The other leg has its answer already (in its 2xx): its ACK is bare.
    send_ack(to, nullptr);
    if (!problem.empty()) {
        // RFC 3264 gives no way to refuse an answer in an ACK; the session
        // cannot work, so both dialogs are ended (RFC 3261 13.2.2.4).
        sip_log.warn(
            "call {}: the answer in the ACK from trunk {} does not fit the SBC's offer "
            "({}); BYE to both legs",
            display_id(), leg(from).trunk->name, problem);
        for (auto& l : _legs) {
            if (l.confirmed) {
                send_bye(l._side);
            }
        }
        finish();  // releases the INVITE transactions too
        return;
    }
    complete_invite();
}

}  // namespace sbc::b2bua
