// Offers inside the call's dialogs: a peer's re-INVITE or UPDATE relayed
// to the other leg (RFC 3261 14, RFC 3311), and the SBC's own re-INVITE.

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
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

void call::reoffer(side s) {
    auto& l = leg(s);
    if (l.origin.last_sent.empty() || !_oa.idle() || !l.confirmed) {
        return;
    }
    l.origin.version += 1;
    l.origin.last_sent =
        media_ctl::with_origin_version(media_ctl::sendrecv(l.origin.last_sent), l.origin.version);
    auto orq = send_reoffer(s);
    if (orq && orq.status() < 200) {  // not refused, nor failed at once
        _reoffer = own_reinvite{s, std::move(orq),
                                _oa.begin(offer_answer::via::own_reinvite, std::nullopt), 0};
    }
}

sofia::client_transaction call::send_reoffer(side s, const sofia::authorization& auth) {
    auto& l = leg(s);
    const auto contact = l.iface->contact(l.transport);
    const auto expires = l.timer ? session_timers::expires_value(l, true) : std::string();
    return sofia::client_transaction::send(
        l.nta(), [this](const sofia::response& r) { on_reoffer_response(r.sip, r.status); },
        nullptr, SIP_METHOD_INVITE, nullptr, SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_ALLOW_STR(allow_for(*l.trunk)), SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(l.origin.last_sent.c_str()));
}

void call::on_reoffer_response(const sip_t* sip, int status) {
    if (status < 200 || !_reoffer) {  // !_reoffer: nta answered before send() returned
        return;
    }
    const side s = _reoffer->to;
    auto& l = leg(s);
    if (status == 401 || status == 407) {
        // RFC 3261 22.2: the same re-INVITE again, with credentials. Its
        // answer may come before send() returns and end _reoffer.
        const auto auth = in_dialog_credentials(l, sip, status, "INVITE", l.origin.last_sent,
                                                _reoffer->auth_answers);
        if (!auth.empty()) {
            auto retry = send_reoffer(s, auth);
            if (_reoffer && retry && retry.status() < 200) {
                _reoffer->orq = std::move(retry);
                return;
            }
        }
    }
    if (status < 300) {
        ack_2xx(l.nta(), _reoffer->orq.get());
        if (l.timer) {
            l.timer->last_refresh = std::chrono::steady_clock::now();
        }
        if (has_sdp(sip)) {
            if (auto sd = _media.accept(s, body_of(sip), sdp_role::answer); !sd) {
                sip_log.warn("call {}: answer to the SBC's re-INVITE unusable: {}", display_id(),
                             sd.error_message());
            }
        }
    } else {
        sip_log.info("call {}: leg {} answered the SBC's re-INVITE with {}; media unchanged",
                     display_id(), s == side::a ? 'a' : 'b', status);
    }
    _reoffer.reset();
    if (l.timer && l.timer->we_refresh && (status == 408 || status == 481)) {
        // RFC 4028 10: the refresh failed; the session is over.
        hang_up(s == side::a ? "session refresh failed on leg a"
                             : "session refresh failed on leg b");
    }
}

int call::on_update(call_leg& from, sofia::server_transaction& request, const sip_t* sip) {
    nta_incoming_t* irq = request.get();
    // Any UPDATE the peer sends refreshes its leg's session (RFC 4028 10).
    std::string value;
    if (from.timer) {
        from.timer->last_refresh = std::chrono::steady_clock::now();
        value = session_timers::expires_value(from, false);
    }
    if (has_sdp(sip)) {
        if (_state != state::established) {
            // RFC 3311 5.1 allows early offers in UPDATE only after the
            // initial offer was answered reliably; this SBC relays UPDATE
            // offers in confirmed dialogs.
            sofia::treply(irq, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_RETRY_AFTER_STR("1"));
            return 0;
        }
        if (const int refusal = _oa.refusal_for(from._side)) {
            refuse_second_offer(irq, refusal);  // RFC 3311 5.2
            return 0;
        }
        auto& to = leg(dataplane::other(from._side));
        if (!to.confirmed) {
            return 481;
        }
        auto translated = translate_sdp(from._side, sip, sdp_role::offer);
        if (!translated) {
            refuse_offer(irq, translated.error_message());
            return 0;
        }
        update_relay u{.from = from._side,
                       .irq = {},
                       .orq = {},
                       .offer = std::move(translated.value()),
                       .headers = relayed_headers(sip, from, to),
                       .auth_answers = 0,
                       .oa = {}};
        u.orq = send_update(u);
        if (!u.orq || u.orq.status() >= 200) {  // refused, or failed at once
            return 500;
        }
        u.irq = std::move(request);
        u.oa = _oa.begin(offer_answer::via::update, from._side);
        _update = std::move(u);
        return 0;
    }
    // A session refresh alone: answered on this leg.
    sofia::treply(irq, SIP_200_OK,
                  TAG_IF(!value.empty(), SIPTAG_SESSION_EXPIRES_STR(value.c_str())),
                  TAG_IF(!value.empty() && from.peer_timer, SIPTAG_REQUIRE_STR("timer")));
    return 0;
}

sofia::client_transaction call::send_update(const update_relay& u,
                                            const sofia::authorization& auth) {
    auto& to = leg(dataplane::other(u.from));
    const auto contact = to.iface->contact(to.transport);
    const auto expires = to.timer ? session_timers::expires_value(to, true) : std::string();
    return sofia::client_transaction::send(
        to.nta(), [this](const sofia::response& r) { on_update_response(r.sip, r.status); },
        nullptr, SIP_METHOD_UPDATE, nullptr, SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(u.offer.c_str()),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!u.headers.empty(), SIPTAG_HEADER_STR(u.headers.c_str())));
}

void call::on_update_response(const sip_t* sip, int status) {
    if (status < 200 || !_update) {  // !_update: nta answered before send() returned
        return;
    }
    auto& u = *_update;
    auto& from = leg(u.from);
    auto& to = leg(dataplane::other(u.from));
    if (status == 401 || status == 407) {
        // RFC 3261 22.2: the same offer again, with credentials, as a new
        // transaction of the dialog; the caller never sees the challenge.
        const auto auth = in_dialog_credentials(to, sip, status, "UPDATE", u.offer, u.auth_answers);
        if (!auth.empty()) {
            u.orq = send_update(u, auth);
            if (u.orq) {
                return;
            }
            status = 500;  // answered below; there is no transaction to destroy
        }
    }
    std::string timer_lines;
    const auto now = std::chrono::steady_clock::now();
    if (status < 300 && to.timer) {
        to.timer->last_refresh = now;
    }
    if (status < 300 && from.timer) {
        timer_lines =
            fmt::format("Session-Expires: {}\r\n", session_timers::expires_value(from, false));
        if (from.peer_timer) {
            timer_lines += "Require: timer\r\n";
        }
    }
    if (status >= 300) {
        // The offer failed on the other leg: so it did on this one, and
        // the session stays as it was (RFC 3311 5.2).
        auto mapped = map_final_status(status);
        reply(u.irq.get(), from, mapped.code, nullptr, nullptr, nullptr);
    } else if (!has_sdp(sip)) {
        sip_log.warn("call {}: trunk {} answered an UPDATE offer without SDP", display_id(),
                     to.trunk->name);
        reply(u.irq.get(), from, 500, "No answer to the offer", nullptr, nullptr);
    } else if (auto answer = translate_sdp(to._side, sip, sdp_role::answer); !answer) {
        sip_log.warn("call {}: answer to an UPDATE unusable: {}", display_id(),
                     answer.error_message());
        reply(u.irq.get(), from, 488, nullptr, nullptr, nullptr);
    } else {
        reply(u.irq.get(), from, status, nullptr, sip, &answer.value(), timer_lines);
    }
    _update.reset();
}

int call::on_reinvite(call_leg& from, sofia::server_transaction& request, const sip_t* sip) {
    nta_incoming_t* irq = request.get();
    if (const int refusal = _oa.refusal_for(from._side)) {
        refuse_second_offer(irq, refusal);  // RFC 3261 14.2
        return 0;
    }
    if (from.timer) {
        from.timer->last_refresh = std::chrono::steady_clock::now();  // RFC 4028 10
    }
    if (_state != state::established) {
        sofia::treply(irq, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_RETRY_AFTER_STR("1"));
        return 0;
    }
    auto& to = leg(dataplane::other(from._side));
    if (to.trunk->early_offer == config::early_offer_policy::reject && !has_sdp(sip)) {
        refuse_delayed_offer(irq, *to.trunk);
        return 0;
    }
    std::optional<std::string> offer;
    if (has_sdp(sip)) {
        auto translated = translate_sdp(from._side, sip, sdp_role::offer);
        if (!translated) {
            refuse_offer(irq, translated.error_message());
            return 0;
        }
        offer = std::move(translated.value());
    }
    const bool convert = !offer && to.trunk->early_offer == config::early_offer_policy::convert;
    if (convert) {
        auto built = _media.own_offer(to._side, to.origin);
        if (!built) {
            return 500;
        }
        offer = std::move(built.value());
    }
    auto headers = relayed_headers(sip, from, to);
    _invite.emplace();
    _invite->from = from._side;
    _invite->offered = offer.has_value();
    _invite->converted = convert;
    auto orq = send_reinvite(to, offer, headers);
    if (!orq || orq.status() >= 200) {  // refused, or failed at once
        _invite.reset();
        return 500;
    }
    adopt_invite(std::move(orq));
    _invite->offer_sent = std::move(offer);
    _invite->headers_sent = std::move(headers);
    _invite->oa = _oa.begin(offer_answer::via::reinvite, from._side);
    _invite->irq = std::move(request);
    _invite->irq.on_ack_or_cancel([this](const sip_t* s) { on_invite_ack_or_cancel(s); });
    _invite->irq.reply(SIP_100_TRYING);
    return 0;
}

sofia::client_transaction call::send_reinvite(call_leg& to, const std::optional<std::string>& offer,
                                              const std::string& headers,
                                              const sofia::authorization& auth) {
    const auto contact = to.iface->contact(to.transport);
    // RFC 4028 7.1/8.1: a re-INVITE on a leg with a session timer restates
    // it, or the 2xx would end the timer there.
    const auto expires = to.timer ? session_timers::expires_value(to, true) : std::string();
    return sofia::client_transaction::send(
        to.nta(), invite_callback(), nullptr, SIP_METHOD_INVITE, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_ALLOW_STR(allow_for(*to.trunk)),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        TAG_IF(offer, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(offer, SIPTAG_PAYLOAD_STR(offer ? offer->c_str() : "")),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())));
}

bool call::answer_reinvite_challenge(const sip_t* sip, int status) {
    auto& inv = *_invite;
    auto& to = leg(dataplane::other(inv.from));
    const auto auth = in_dialog_credentials(
        to, sip, status, "INVITE",
        inv.offer_sent ? std::string_view(*inv.offer_sent) : std::string_view(), inv.auth_answers);
    if (auth.empty()) {
        return false;
    }
    // RFC 3261 22.2: the same request as a new transaction of the dialog.
    adopt_invite(send_reinvite(to, inv.offer_sent, inv.headers_sent, auth));
    return static_cast<bool>(inv.orq);
}

}  // namespace sbc::b2bua
