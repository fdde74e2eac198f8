#include "sbc/b2bua/session_timers.hpp"

#include <fmt/format.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/reoffer.hpp"

namespace sbc::b2bua {

using namespace support;

void session_timers::caller_asked(const sip_t* invite) {
    if (invite->sip_session_expires != nullptr) {
        _caller_expires = std::chrono::seconds(invite->sip_session_expires->x_delta);
        const char* refresher = invite->sip_session_expires->x_refresher;
        _caller_refresher = refresher != nullptr ? refresher : "";
    }
}

std::string session_timers::settle_caller() {
    auto& a = _call.leg(side::a);
    if (_caller_expires.count() == 0) {
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
    t.interval = _caller_expires;
    t.we_refresh = !caller_refreshes;
    t.last_refresh = std::chrono::steady_clock::now();
    a.timer = t;
    sip_log.info("call {}: leg a session timer {} s, refreshed by {}", _call.display_id(),
                 t.interval.count(), caller_refreshes ? "the caller" : "the SBC");
    std::string lines = fmt::format("Session-Expires: {};refresher={}\r\n", t.interval.count(),
                                    caller_refreshes ? "uac" : "uas");
    if (a.peer_timer) {
        lines += "Require: timer\r\n";  // RFC 4028 9
    }
    return lines;
}

std::optional<session_timer> session_timers::from_2xx(const sip_t* ok) {
    if (ok == nullptr || ok->sip_session_expires == nullptr ||
        ok->sip_session_expires->x_delta == 0) {
        return std::nullopt;  // RFC 4028 7.2: the UAS runs no session timer
    }
    session_timer t;
    t.interval = std::chrono::seconds(ok->sip_session_expires->x_delta);
    // The SBC sent the INVITE: it is the UAC, the refresher when the 2xx
    // names none (RFC 4028 7.2 lets only a UAS that asked leave it out).
    t.we_refresh = ok->sip_session_expires->x_refresher == nullptr ||
                   su_casematch(ok->sip_session_expires->x_refresher, "uac");
    t.last_refresh = std::chrono::steady_clock::now();
    return t;
}

void session_timers::settle_callee(const sip_t* ok) {
    auto& b = _call.leg(side::b);
    auto t = from_2xx(ok);
    if (!t) {
        return;
    }
    b.timer = t;
    b.peer_timer = true;
    sip_log.info("call {}: leg b session timer {} s, refreshed by {}", _call.display_id(),
                 t->interval.count(), t->we_refresh ? "the SBC" : "the callee");
}

std::string session_timers::expires_value(const dialog& d, bool uac) {
    const bool we = d.timer->we_refresh;
    return fmt::format("{};refresher={}", d.timer->interval.count(), we == uac ? "uac" : "uas");
}

void session_timers::send_refresh(side s, const sofia::authorization& auth) {
    auto& l = _call.leg(s);
    const auto value = expires_value(l, true);
    auto& refresh = _refreshes[index(s)];
    const auto via = l.own_via();
    refresh = sofia::client_transaction::send(
        l.nta(), [this, s](const sofia::response& r) { on_refresh_response(s, r); }, nullptr,
        SIP_METHOD_UPDATE, nullptr, SIPTAG_SUPPORTED_STR(supported_extensions),
        SIPTAG_SESSION_EXPIRES_STR(value.c_str()),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())), SBC_OWN_VIA(via));
    if (!refresh) {
        _call.hang_up(s == side::a ? "session refresh failed on leg a"
                                   : "session refresh failed on leg b");
    }
}

void session_timers::on_refresh_response(side s, const sofia::response& r) {
    auto& l = _call.leg(s);
    if (r.provisional() || !l.timer) {
        return;
    }
    sofia::authorization auth;
    if (r.status == 401 || r.status == 407) {
        auth = _call.in_dialog_credentials(l, r.sip, r.status, "UPDATE", {}, l.timer->auth_answers);
    }
    if (!auth.empty()) {
        // RFC 3261 22.2: the refresh again, with credentials.
        send_refresh(s, auth);
        return;
    }
    _refreshes[index(s)] = {};
    if (r.status < 300) {
        l.timer->last_refresh = std::chrono::steady_clock::now();
        l.timer->auth_answers = 0;
    } else if (r.status == 405 || r.status == 501) {
        // The peer takes no UPDATE: refresh by re-INVITE from now on.
        l.timer->no_update = true;
        reoffer::start(_call, s);
    } else if (r.status != 491) {
        // RFC 4028 10: a refresh that fails ends the session; 491 (glare)
        // is tried again on the next tick.
        _call.hang_up(s == side::a ? "session refresh failed on leg a"
                                   : "session refresh failed on leg b");
    }
}

void session_timers::check(std::chrono::steady_clock::time_point now) {
    for (const auto s : {side::a, side::b}) {
        auto& l = _call.leg(s);
        if (!l.timer || _call.finished()) {
            continue;
        }
        const auto& t = *l.timer;
        if (t.we_refresh) {
            if (!refreshing(s) && !_call._reoffer && now - t.last_refresh >= t.interval / 2) {
                if (t.no_update) {
                    reoffer::start(_call, s);  // RFC 4028 9: a re-INVITE refreshes as well
                } else {
                    send_refresh(s);
                }
            }
            continue;
        }
        // RFC 4028 10: without a refresh the session ends
        // min(32, interval / 3) seconds before it would expire.
        const auto margin = std::min(std::chrono::seconds(32), t.interval / 3);
        if (now - t.last_refresh >= t.interval - margin) {
            _call.hang_up(s == side::a ? "session timer expired on leg a"
                                       : "session timer expired on leg b");
        }
    }
}

}  // namespace sbc::b2bua
