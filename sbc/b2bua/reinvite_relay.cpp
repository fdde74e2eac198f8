// A peer's re-INVITE relayed to the other leg (RFC 3261 14), on the call's
// INVITE relay, which the initial INVITE shares (one INVITE transaction of
// the call's at a time). The other offers inside the dialogs are classes of
// their own: update_relay (RFC 3311) and reoffer (the SBC's re-INVITE).

#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_tag.h>

#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

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
    const auto contact = to.iface->contact(to.transport, to.trunk->use_fqdn);
    // RFC 4028 7.1/8.1: a re-INVITE on a leg with a session timer restates
    // it, or the 2xx would end the timer there.
    const auto expires = to.timer ? session_timers::expires_value(to, true) : std::string();
    const auto via = to.own_via();
    return sofia::client_transaction::send(
        to.nta(), invite_callback(), nullptr, SIP_METHOD_INVITE, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_ALLOW_STR(allow_for(*to.trunk)),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        TAG_IF(offer, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(offer, SIPTAG_PAYLOAD_STR(offer ? offer->c_str() : "")),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())), SBC_OWN_VIA(via));
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
