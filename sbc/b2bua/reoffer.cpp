// The SBC's own re-INVITE on one leg (reoffer.hpp).

#include "sbc/b2bua/reoffer.hpp"

#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_tag.h>

#include <chrono>
#include <memory>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"

namespace sbc::b2bua {

using namespace support;

void reoffer::start(call& c, side s) {
    auto& l = c.leg(s);
    if (l.origin.last_sent.empty() || !c._oa.idle() || !l.confirmed) {
        return;
    }
    l.origin.version += 1;
    l.origin.last_sent =
        media_ctl::with_origin_version(media_ctl::sendrecv(l.origin.last_sent), l.origin.version);
    // Built where it stays: its INVITE's callback points at it.
    auto r = std::make_unique<reoffer>(c, s);
    auto orq = r->send();
    if (orq && orq.status() < 200) {  // not refused, nor failed at once
        r->_orq = std::move(orq);
        r->_oa = c._oa.begin(offer_answer::via::own_reinvite, std::nullopt);
        c._reoffer = std::move(r);
    }
}

sofia::client_transaction reoffer::send(const sofia::authorization& auth) {
    auto& l = _call.leg(_to);
    const auto contact = l.iface->contact(l.transport, l.trunk->use_fqdn);
    const auto expires = l.timer ? session_timers::expires_value(l, true) : std::string();
    const auto via = l.own_via();
    return sofia::client_transaction::send(
        l.nta(), [this](const sofia::response& r) { on_response(r.sip, r.status); }, nullptr,
        SIP_METHOD_INVITE, nullptr, SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_ALLOW_STR(allow_for(*l.trunk)), SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(l.origin.last_sent.c_str()),
        SBC_OWN_VIA(via));
}

void reoffer::on_response(const sip_t* sip, int status) {
    // Not in place: nta answered before send() returned.
    if (status < 200 || _call._reoffer.get() != this) {
        return;
    }
    call& c = _call;  // the reoffer (this) ends on the way
    const side s = _to;
    auto& l = c.leg(s);
    if (status == 401 || status == 407) {
        // RFC 3261 22.2: the same re-INVITE again, with credentials. Its
        // answer may come before send() returns and end the reoffer.
        const auto auth =
            c.in_dialog_credentials(l, sip, status, "INVITE", l.origin.last_sent, _auth_answers);
        if (!auth.empty()) {
            const reoffer* self = this;
            auto retry = send(auth);
            if (c._reoffer.get() != self) {
                return;  // its answer came before send() returned, and ended the reoffer
            }
            if (retry && retry.status() < 200) {
                _orq = std::move(retry);
                return;
            }
        }
    }
    if (status < 300) {
        ack_2xx(l.nta(), _orq.get(), {}, nullptr, l.own_via());
        if (l.timer) {
            l.timer->last_refresh = std::chrono::steady_clock::now();
        }
        if (has_sdp(sip)) {
            if (auto sd = c._media.accept(s, body_of(sip), sdp_role::answer); !sd) {
                sip_log.warn("call {}: answer to the SBC's re-INVITE unusable: {}", c.display_id(),
                             sd.error_message());
            }
        }
    } else {
        sip_log.info("call {}: leg {} answered the SBC's re-INVITE with {}; media unchanged",
                     c.display_id(), s == side::a ? 'a' : 'b', status);
    }
    c._reoffer.reset();
    if (l.timer && l.timer->we_refresh && (status == 408 || status == 481)) {
        // RFC 4028 10: the refresh failed; the session is over.
        c.hang_up(s == side::a ? "session refresh failed on leg a"
                               : "session refresh failed on leg b");
    }
}

}  // namespace sbc::b2bua
