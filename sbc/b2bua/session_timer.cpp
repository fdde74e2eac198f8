// RFC 4028 session timers of the call's two legs: negotiated per leg,
// refreshed by the SBC where it is the refresher, and the call ended when
// a peer lets its session expire.

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

std::string call::settle_caller_timer() {
    auto& a = leg(side::a);
    if (_caller_session_expires.count() == 0) {
        return {};
    }
    // RFC 4028 9: the UAS keeps the refresher the UAC named; when it named
    // none, the caller refreshes if it can, else the SBC does.
    bool caller_refreshes =
        _caller_refresher == "uac" || (_caller_refresher.empty() && a.peer_timer);
    if (_caller_refresher == "uas") {
        caller_refreshes = false;
    }
    session_timer t;
    t.interval = _caller_session_expires;
    t.we_refresh = !caller_refreshes;
    t.last_refresh = std::chrono::steady_clock::now();
    a.timer = t;
    sip_log.info("call {}: leg a session timer {} s, refreshed by {}", display_id(),
                 t.interval.count(), caller_refreshes ? "the caller" : "the SBC");
    std::string lines = fmt::format("Session-Expires: {};refresher={}\r\n", t.interval.count(),
                                    caller_refreshes ? "uac" : "uas");
    if (a.peer_timer) {
        lines += "Require: timer\r\n";  // RFC 4028 9
    }
    return lines;
}

std::optional<session_timer> call::timer_from_2xx(const sip_t* sip) {
    if (sip == nullptr || sip->sip_session_expires == nullptr ||
        sip->sip_session_expires->x_delta == 0) {
        return std::nullopt;  // RFC 4028 7.2: the UAS runs no session timer
    }
    session_timer t;
    t.interval = std::chrono::seconds(sip->sip_session_expires->x_delta);
    // The SBC sent the INVITE: it is the UAC, the refresher when the 2xx
    // names none (RFC 4028 7.2 lets only a UAS that asked leave it out).
    t.we_refresh = sip->sip_session_expires->x_refresher == nullptr ||
                   su_casematch(sip->sip_session_expires->x_refresher, "uac");
    t.last_refresh = std::chrono::steady_clock::now();
    return t;
}

void call::settle_callee_timer(const sip_t* sip) {
    auto& b = leg(side::b);
    auto t = timer_from_2xx(sip);
    if (!t) {
        return;
    }
    b.timer = t;
    b.peer_timer = true;
    sip_log.info("call {}: leg b session timer {} s, refreshed by {}", display_id(),
                 t->interval.count(), t->we_refresh ? "the SBC" : "the callee");
}

std::string call::session_expires_value(const call_leg& l, bool uac) {
    const bool we = l.timer->we_refresh;
    return fmt::format("{};refresher={}", l.timer->interval.count(), we == uac ? "uac" : "uas");
}

void call::send_refresh(side s, const sofia::authorization& auth) {
    auto& l = leg(s);
    const auto value = session_expires_value(l, true);
    auto& refresh = _refreshes[dataplane::index(s)];
    refresh = sofia::client_transaction::send(
        l.nta(), [this, s](const sofia::response& r) { on_refresh_response(s, r); }, nullptr,
        SIP_METHOD_UPDATE, nullptr, SIPTAG_SUPPORTED_STR(supported_extensions),
        SIPTAG_SESSION_EXPIRES_STR(value.c_str()),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())));
    if (!refresh) {
        hang_up(s == side::a ? "session refresh failed on leg a"
                             : "session refresh failed on leg b");
    }
}

void call::on_refresh_response(side s, const sofia::response& r) {
    auto& l = leg(s);
    if (r.provisional() || !l.timer) {
        return;
    }
    sofia::authorization auth;
    if (r.status == 401 || r.status == 407) {
        auth = in_dialog_credentials(l, r.sip, r.status, "UPDATE", {}, l.timer->auth_answers);
    }
    if (!auth.empty()) {
        // RFC 3261 22.2: the refresh again, with credentials.
        send_refresh(s, auth);
        return;
    }
    _refreshes[dataplane::index(s)] = {};
    if (r.status < 300) {
        l.timer->last_refresh = std::chrono::steady_clock::now();
        l.timer->auth_answers = 0;
    } else if (r.status == 405 || r.status == 501) {
        // The peer takes no UPDATE: refresh by re-INVITE from now on.
        l.timer->no_update = true;
        reoffer(s);
    } else if (r.status != 491) {
        // RFC 4028 10: a refresh that fails ends the session; 491 (glare)
        // is tried again on the next tick.
        hang_up(s == side::a ? "session refresh failed on leg a"
                             : "session refresh failed on leg b");
    }
}

void call::check_session_timers(std::chrono::steady_clock::time_point now) {
    if (_state != state::established) {
        return;
    }
    for (auto& l : _legs) {
        if (!l.timer || finished()) {
            continue;
        }
        const auto& t = *l.timer;
        if (t.we_refresh) {
            if (!_refreshes[dataplane::index(l._side)] && !_reoffer &&
                now - t.last_refresh >= t.interval / 2) {
                if (t.no_update) {
                    reoffer(l._side);  // RFC 4028 9: a re-INVITE refreshes as well
                } else {
                    send_refresh(l._side);
                }
            }
            continue;
        }
        // RFC 4028 10: without a refresh the session ends
        // min(32, interval / 3) seconds before it would expire.
        const auto margin = std::min(std::chrono::seconds(32), t.interval / 3);
        if (now - t.last_refresh >= t.interval - margin) {
            hang_up(l._side == side::a ? "session timer expired on leg a"
                                       : "session timer expired on leg b");
        }
    }
}

}  // namespace sbc::b2bua
