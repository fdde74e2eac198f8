#include "sbc/sofia/leg.hpp"

#include "sbc/sofia/server_transaction.hpp"

namespace sbc::sofia {

class leg::slot final : public detail::callback_slot, public leg_handler {
public:
    explicit slot(dialog_handler& h) : handler(&h) {}
    int on_request(nta_leg_t*, nta_incoming_t* irq, const sip_t* sip) override {
        running guard(*this);
        if (retired()) {
            return 481;  // RFC 3261 12.2.2: the dialog is gone
        }
        // From here the transaction is ours, not nta's: nta is told 0.
        server_transaction request(irq);
        const int status = handler->on_request(request, sip);
        if (status >= 100 && request && !request.answered() && request.method() != sip_method_ack) {
            const char* phrase = sip_status_phrase(status);
            request.reply(status, phrase != nullptr ? phrase : "");
        }
        return 0;
    }
    dialog_handler* handler;
};

leg::slot* leg::the_slot() const noexcept { return static_cast<slot*>(_slot.get()); }

leg::leg(dialog_handler& handler) : _slot(new slot(handler)) {}

leg& leg::operator=(leg&& o) noexcept {
    if (this != &o) {
        reset();
        _slot = std::move(o._slot);
        _leg = std::exchange(o._leg, nullptr);
    }
    return *this;
}

leg::~leg() { reset(); }

void leg::reset() noexcept {
    if (_leg != nullptr) {
        nta_leg_destroy(std::exchange(_leg, nullptr));
    }
    _slot.reset();
}

leg_handler* leg::magic() const noexcept { return the_slot(); }

leg leg::adopt(nta_leg_t* raw, dialog_handler& handler) {
    leg l(handler);
    l._leg = raw;
    if (raw != nullptr) {
        nta_leg_bind(raw, leg_trampoline, l.magic());
    } else {
        l._slot.reset();
    }
    return l;
}

void leg::set_handler(dialog_handler& handler) noexcept {
    if (_slot) {
        the_slot()->handler = &handler;
    }
}

nta_leg_t* leg::release() noexcept {
    if (_leg != nullptr) {
        nta_leg_bind(_leg, nullptr, nullptr);
    }
    _slot.reset();
    return std::exchange(_leg, nullptr);
}

dialog_handler* leg::handler_of(nta_leg_t* raw) noexcept {
    // nta_leg_magic() checks the callback, so a leg bound elsewhere gives null.
    auto* magic = nta_leg_magic(raw, leg_trampoline);
    auto* s = dynamic_cast<slot*>(magic);
    return s != nullptr && !s->retired() ? s->handler : nullptr;
}

bool leg::set_tag(const char* tag) noexcept {
    return _leg != nullptr && nta_leg_tag(_leg, tag) != nullptr;
}

void leg::set_remote_tag(const char* tag) noexcept {
    if (_leg != nullptr) {
        nta_leg_rtag(_leg, tag);
    }
}

std::string leg::tag() const {
    const char* t = _leg != nullptr ? nta_leg_get_tag(_leg) : nullptr;
    return t != nullptr ? t : "";
}

std::string leg::remote_tag() const {
    const char* t = _leg != nullptr ? nta_leg_get_rtag(_leg) : nullptr;
    return t != nullptr ? t : "";
}

void leg::route_from_request(const sip_t* request) noexcept {
    if (_leg != nullptr && request != nullptr) {
        nta_leg_server_route(_leg, request->sip_record_route, request->sip_contact);
    }
}

void leg::route_from_response(const sip_t* response) noexcept {
    if (_leg != nullptr && response != nullptr) {
        nta_leg_client_route(_leg, response->sip_record_route, response->sip_contact);
    }
}

std::string leg::remote_target() const { return sofia::remote_target(_leg); }

}  // namespace sbc::sofia
