// An owned nta server transaction (nta_incoming_t): a request someone sent
// us, which must be answered.
//
// RFC 3261 8.2 and 17.2: every request but ACK gets a final response; an
// INVITE left without one keeps its caller ringing until Timer B gives up.
// So a server_transaction destroyed before a final response was sent answers
// 500 first, then lets nta go of it; whatever path drops a request, the
// client hears. Replies go through sofia::treply (reply.hpp), so a tag that
// does not parse cannot leave the transaction unanswered either.
//
// ACK (of our 2xx, RFC 3261 13.3.1.4 with NTATAG_UA) and CANCEL of an INVITE
// reach the callback given to on_ack_or_cancel(). nta's magic pointer points
// to a slot the transaction owns on the heap, so the transaction can be moved
// (into an operation, out of it) without re-binding, and destroying it from
// inside that callback is safe. Control thread only.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "sbc/sofia/callback_slot.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/nta.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::sofia {

class server_transaction {
public:
    /// Called with the ACK or CANCEL of the transaction's INVITE. With null
    /// when nta gave up waiting: Timer H fired, the final response was
    /// never ACKed (RFC 3261 17.2.1), or a reliable provisional response
    /// got no PRACK in time (RFC 3262 3). nta also hands over the ACK of a
    /// non-2xx, which belongs to the transaction (17.2.1): check status().
    using ack_cancel_callback = std::function<void(const sip_t* ack_or_cancel)>;

    server_transaction() = default;
    /// Takes over `irq` (from a leg's or the agent's callback, or
    /// nta_incoming_create). Null makes an empty transaction.
    explicit server_transaction(nta_incoming_t* irq) noexcept : _irq(irq) {}
    server_transaction(server_transaction&& o) noexcept;
    server_transaction& operator=(server_transaction&& o) noexcept;
    /// Answers 500 when no final response was sent, then destroys.
    ~server_transaction();

    nta_incoming_t* get() const noexcept { return _irq; }
    explicit operator bool() const noexcept { return _irq != nullptr; }
    /// The last status sent; 0 before any, 500 for an empty transaction.
    int status() const noexcept;
    bool answered() const noexcept { return status() >= 200; }
    sip_method_t method() const noexcept;
    /// The request, with a reference of its own.
    msg_ref request() const noexcept;

    /// Sends a response (tags without TAG_END()). False when not even the
    /// fallback of treply() could be sent, or the transaction is empty.
    template <typename... Tags>
    bool reply(int status, const char* phrase, Tags... tags) noexcept {
        return _irq != nullptr && treply(_irq, status, phrase, tags...);
    }

    /// Routes the INVITE's ACK and CANCEL to `callback` from now on;
    /// replaces a previous one.
    void on_ack_or_cancel(ack_cancel_callback callback);

    /// Gives the nta transaction up, unanswered or not, and unbound from the
    /// callback: the caller destroys it (or hands it to code that does).
    nta_incoming_t* release() noexcept;

private:
    class slot;
    slot* the_slot() const noexcept;
    void reset() noexcept;

    nta_incoming_t* _irq = nullptr;
    detail::slot_ptr _slot;  ///< after on_ack_or_cancel()
};

}  // namespace sbc::sofia
