#include "sbc/sofia/nta.hpp"

#include <exception>

#include "sbc/common/log.hpp"

namespace sbc::sofia {

namespace {
constexpr log::logger sip_log{"sip"};

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
