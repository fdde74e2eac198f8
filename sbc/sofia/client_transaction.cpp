#include "sbc/sofia/client_transaction.hpp"

#include <fmt/format.h>

namespace sbc::sofia {

class client_transaction::slot final : public detail::callback_slot, public response_handler {
public:
    explicit slot(response_callback cb) : callback(std::move(cb)) {}
    int on_response(nta_outgoing_t* orq, const sip_t* sip) override {
        running guard(*this);
        if (!retired() && callback) {
            const int status = sip != nullptr && sip->sip_status != nullptr
                                   ? sip->sip_status->st_status
                                   : nta_outgoing_status(orq);
            callback(response{status, sip});
        }
        return 0;
    }
    response_callback callback;
};

client_transaction::slot* client_transaction::the_slot() const noexcept {
    return static_cast<slot*>(_slot.get());
}

client_transaction::client_transaction(response_callback cb) : _slot(new slot(std::move(cb))) {}

client_transaction& client_transaction::operator=(client_transaction&& o) noexcept {
    if (this != &o) {
        reset();
        _slot = std::move(o._slot);
        _orq = std::exchange(o._orq, nullptr);
    }
    return *this;
}

client_transaction::~client_transaction() { reset(); }

void client_transaction::reset() noexcept {
    if (_orq != nullptr) {
        // nta_outgoing_destroy() puts its default callback in place of ours
        // where it keeps the transaction, so the slot can go at once.
        nta_outgoing_destroy(std::exchange(_orq, nullptr));
    }
    _slot.reset();
}

response_handler* client_transaction::magic() const noexcept { return the_slot(); }

void client_transaction::adopt(nta_outgoing_t* orq) noexcept {
    _orq = orq;
    if (_orq == nullptr) {
        _slot.reset();
    }
}

int client_transaction::status() const noexcept {
    return _orq != nullptr ? nta_outgoing_status(_orq) : 500;
}

msg_ref client_transaction::latest_response() const noexcept {
    return _orq != nullptr ? msg_ref::adopt(nta_outgoing_getresponse(_orq)) : msg_ref();
}

bool client_transaction::tag(const char* to_tag, const sip_rseq_t* rseq) noexcept {
    if (_orq == nullptr) {
        return false;
    }
    nta_outgoing_t* tagged = nta_outgoing_tagged(_orq, response_trampoline, magic(), to_tag, rseq);
    if (tagged == nullptr) {
        return false;
    }
    // The untagged transaction is let go; the slot stays with the tagged one.
    nta_outgoing_destroy(std::exchange(_orq, tagged));
    return true;
}

client_transaction client_transaction::prack(nta_leg_t* leg, response_callback on_response,
                                             const sip_t* response, const std::string& via) const {
    client_transaction t(std::move(on_response));
    t.adopt(_orq == nullptr ? nullptr
                            : nta_outgoing_prack(leg, _orq, response_trampoline, t.magic(), nullptr,
                                                 response, SBC_OWN_VIA(via), TAG_END()));
    return t;
}

std::string ack_cseq(const client_transaction& invite) {
    return fmt::format("{} ACK", nta_outgoing_cseq(invite.get()));
}

}  // namespace sbc::sofia
