#include "sbc/sofia/server_transaction.hpp"

#include "sbc/common/log.hpp"

namespace sbc::sofia {

namespace {
log::rate_limit g_dropped;  // the SIP thread only, as every nta call
}  // namespace

class server_transaction::slot final : public detail::callback_slot, public transaction_handler {
public:
    explicit slot(ack_cancel_callback cb) : callback(std::move(cb)) {}
    int on_ack_or_cancel(nta_incoming_t*, const sip_t* sip) override {
        running guard(*this);
        if (!retired() && callback) {
            callback(sip);
        }
        return 0;
    }
    ack_cancel_callback callback;
};

server_transaction::slot* server_transaction::the_slot() const noexcept {
    return static_cast<slot*>(_slot.get());
}

server_transaction::server_transaction(server_transaction&& o) noexcept
    : _irq(std::exchange(o._irq, nullptr)), _slot(std::move(o._slot)) {}

server_transaction& server_transaction::operator=(server_transaction&& o) noexcept {
    if (this != &o) {
        reset();
        _irq = std::exchange(o._irq, nullptr);
        _slot = std::move(o._slot);
    }
    return *this;
}

server_transaction::~server_transaction() { reset(); }

void server_transaction::reset() noexcept {
    if (_irq == nullptr) {
        _slot.reset();
        return;
    }
    // ACK has no response (RFC 3261 17.1.1.3); everything else must get
    // one. nta_incoming_destroy() sends its own 500 too, but not while a
    // callback of this transaction runs, and without treply()'s logging.
    if (method() != sip_method_ack && status() < 200) {
        if (g_dropped.allow()) {
            sip_log.warn("{} dropped unanswered; answering 500", nta_incoming_method_name(_irq));
        }
        treply(_irq, SIP_500_INTERNAL_SERVER_ERROR);
    }
    // Unbind first: nta must not call into the slot once it is retired.
    nta_incoming_bind(_irq, nullptr, nullptr);
    nta_incoming_destroy(std::exchange(_irq, nullptr));
    _slot.reset();
}

int server_transaction::status() const noexcept {
    return _irq != nullptr ? nta_incoming_status(_irq) : 500;
}

sip_method_t server_transaction::method() const noexcept {
    return _irq != nullptr ? nta_incoming_method(_irq) : sip_method_invalid;
}

msg_ref server_transaction::request() const noexcept {
    return _irq != nullptr ? msg_ref::adopt(nta_incoming_getrequest(_irq)) : msg_ref();
}

void server_transaction::on_ack_or_cancel(ack_cancel_callback callback) {
    if (_irq == nullptr) {
        return;
    }
    // A new slot rather than a new callback in the old one: this may be
    // called from the old callback, which must not be destroyed under itself.
    _slot.reset(new slot(std::move(callback)));
    nta_incoming_bind(_irq, transaction_trampoline, the_slot());
}

nta_incoming_t* server_transaction::release() noexcept {
    if (_irq != nullptr && _slot) {
        nta_incoming_bind(_irq, nullptr, nullptr);
    }
    _slot.reset();
    return std::exchange(_irq, nullptr);
}

}  // namespace sbc::sofia
