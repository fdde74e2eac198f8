// An UPDATE from a leg: a session refresh answered on its leg, or an offer
// relayed to the other leg (update_relay.hpp).

#include "sbc/b2bua/update_relay.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_tag.h>

#include <chrono>
#include <memory>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/status_map.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

int update_relay::on_update(call& c, call_leg& from, sofia::server_transaction& request,
                            const sip_t* sip) {
    nta_incoming_t* irq = request.get();
    // Any UPDATE the peer sends refreshes its leg's session (RFC 4028 10).
    std::string value;
    if (from.timer) {
        from.timer->last_refresh = std::chrono::steady_clock::now();
        value = session_timers::expires_value(from, false);
    }
    if (has_sdp(sip)) {
        if (c._state != call::state::established) {
            // RFC 3311 5.1 allows early offers in UPDATE only after the
            // initial offer was answered reliably; this SBC relays UPDATE
            // offers in confirmed dialogs.
            sofia::treply(irq, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_RETRY_AFTER_STR("1"));
            return 0;
        }
        if (const int refusal = c._oa.refusal_for(from._side)) {
            refuse_second_offer(irq, refusal);  // RFC 3311 5.2
            return 0;
        }
        auto& to = c.leg(dataplane::other(from._side));
        if (!to.confirmed) {
            return 481;
        }
        auto translated = c.translate_sdp(from._side, sip, sdp_role::offer);
        if (!translated) {
            refuse_offer(irq, translated.error_message());
            return 0;
        }
        // Built where it stays: its UPDATE's callback points at it.
        auto u = std::make_unique<update_relay>(c, from._side, std::move(translated.value()),
                                                c.relayed_headers(sip, from, to));
        u->_orq = u->send();
        if (!u->_orq || u->_orq.status() >= 200) {  // refused, or failed at once
            return 500;
        }
        u->_irq = std::move(request);
        u->_oa = c._oa.begin(offer_answer::via::update, from._side);
        c._update = std::move(u);
        return 0;
    }
    // A session refresh alone: answered on this leg.
    sofia::treply(irq, SIP_200_OK,
                  TAG_IF(!value.empty(), SIPTAG_SESSION_EXPIRES_STR(value.c_str())),
                  TAG_IF(!value.empty() && from.peer_timer, SIPTAG_REQUIRE_STR("timer")));
    return 0;
}

sofia::client_transaction update_relay::send(const sofia::authorization& auth) {
    auto& to = _call.leg(dataplane::other(_from));
    const auto contact = to.iface->contact(to.transport, to.trunk->use_fqdn);
    const auto expires = to.timer ? session_timers::expires_value(to, true) : std::string();
    const auto via = to.own_via();
    return sofia::client_transaction::send(
        to.nta(), [this](const sofia::response& r) { on_response(r.sip, r.status); }, nullptr,
        SIP_METHOD_UPDATE, nullptr, SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(_offer.c_str()),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!_headers.empty(), SIPTAG_HEADER_STR(_headers.c_str())), SBC_OWN_VIA(via));
}

void update_relay::on_response(const sip_t* sip, int status) {
    // Not in place: nta answered before send() returned.
    if (status < 200 || _call._update.get() != this) {
        return;
    }
    call& c = _call;  // the relay (this) ends here
    auto& from = c.leg(_from);
    auto& to = c.leg(dataplane::other(_from));
    if (status == 401 || status == 407) {
        // RFC 3261 22.2: the same offer again, with credentials, as a new
        // transaction of the dialog; the caller never sees the challenge.
        const auto auth = c.in_dialog_credentials(to, sip, status, "UPDATE", _offer, _auth_answers);
        if (!auth.empty()) {
            const update_relay* self = this;
            auto retry = send(auth);
            if (c._update.get() != self) {
                return;  // its answer came before send() returned, and ended the relay
            }
            _orq = std::move(retry);
            if (_orq) {
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
        c.reply(_irq.get(), from, mapped.code, nullptr, nullptr, nullptr);
    } else if (!has_sdp(sip)) {
        sip_log.warn("call {}: trunk {} answered an UPDATE offer without SDP", c.display_id(),
                     to.trunk->name);
        c.reply(_irq.get(), from, 500, "No answer to the offer", nullptr, nullptr);
    } else if (auto answer = c.translate_sdp(to._side, sip, sdp_role::answer); !answer) {
        sip_log.warn("call {}: answer to an UPDATE unusable: {}", c.display_id(),
                     answer.error_message());
        c.reply(_irq.get(), from, 488, nullptr, nullptr, nullptr);
    } else {
        c.reply(_irq.get(), from, status, nullptr, sip, &answer.value(), timer_lines);
    }
    c._update.reset();
}

}  // namespace sbc::b2bua
