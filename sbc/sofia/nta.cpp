#include "sbc/sofia/nta.hpp"

#include <sofia-sip/url.h>

#include <exception>

#include "sbc/common/c_handle.hpp"
#include "sbc/common/log.hpp"

namespace sbc::sofia {

namespace {

// An exception must never unwind through sofia's C frames: log it and answer 500.
template <typename F>
int guarded(const char* what, F&& f) noexcept {
    try {
        return f();
    } catch (const std::exception& e) {
        sip_log.error("{} handler failed: {}", what, e.what());
    } catch (...) {
        sip_log.error("{} handler failed", what);
    }
    return 500;
}
}  // namespace

std::string remote_target(nta_leg_t* leg) {
    const sip_route_t* route = nullptr;
    const sip_contact_t* target = nullptr;
    if (leg == nullptr || nta_leg_get_route(leg, &route, &target) < 0 || target == nullptr ||
        target->m_url->url_host == nullptr) {
        return {};
    }
    c_handle<su_home_t, su_home_unref> home(
        static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    const char* text = home ? url_as_string(home.get(), target->m_url) : nullptr;
    return text != nullptr ? text : "";
}

std::string uri_text(const url_t* url) {
    if (url == nullptr) {
        return {};
    }
    c_handle<su_home_t, su_home_unref> home(
        static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    const char* text = home ? url_as_string(home.get(), url) : nullptr;
    return text != nullptr ? text : "";
}

leg_values read_leg(nta_leg_t* leg) {
    leg_values v;
    if (leg == nullptr) {
        return v;
    }
    const char* tag = nta_leg_get_tag(leg);
    const char* rtag = nta_leg_get_rtag(leg);
    v.local_tag = tag != nullptr ? tag : "";
    v.remote_tag = rtag != nullptr ? rtag : "";
    v.local_cseq = nta_leg_get_seq(leg);
    v.remote_cseq = nta_leg_get_rseq(leg);
    v.remote_target = remote_target(leg);
    const sip_route_t* route = nullptr;
    const sip_contact_t* target = nullptr;
    if (nta_leg_get_route(leg, &route, &target) < 0) {
        return v;
    }
    for (const sip_route_t* r = route; r != nullptr; r = r->r_next) {
        v.route_set.push_back("<" + uri_text(r->r_url) + ">");
    }
    return v;
}

extern "C" {

int leg_trampoline(nta_leg_magic_t* h, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) {
    return guarded("request", [&] { return h->on_request(leg, irq, sip); });
}

int response_trampoline(nta_outgoing_magic_t* h, nta_outgoing_t* orq, const sip_t* sip) {
    guarded("response", [&] { return h->on_response(orq, sip); });
    return 0;
}

int transaction_trampoline(nta_incoming_magic_t* h, nta_incoming_t* irq, const sip_t* sip) {
    guarded("ack/cancel", [&] { return h->on_ack_or_cancel(irq, sip); });
    return 0;
}

int agent_trampoline(nta_agent_magic_t* h, nta_agent_t* agent, msg_t* msg, sip_t* sip) {
    return guarded("stray message", [&] { return h->on_stray_message(agent, msg, sip); });
}
}

}  // namespace sbc::sofia
