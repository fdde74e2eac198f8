// An owned nta client transaction (nta_outgoing_t): a request we sent, with
// the code that waits for its responses.
//
// Each client_transaction is created together with its own response
// callback, so a response arrives at the code that sent the request and
// nothing asks which transaction answered. A callable rather than a handler
// object: the operations of a call (the initial INVITE, a re-INVITE, a
// relayed INFO) each send a few kinds of request and want each kind's
// responses in a member function of their own; a lambda capturing `this`
// says so in one line where a handler object would need a class per kind.
// The operation owns its client_transactions, so the callable never
// outlives what it captured.
//
// The callable lives in a slot on the heap that nta's magic pointer points
// to, so moving the transaction leaves nta's pointer valid, and the callback
// may destroy the transaction (an operation ending on a final response).
//
// Destruction stops the callbacks. What nta_outgoing_destroy() does with the
// transaction (libsofia-sip-ua/nta/nta.c, outgoing_destroy() and
// outgoing_recv(); the same in Debian's 1.12.11):
// - an INVITE with no final response yet and not cancelled is terminated and
//   freed at once. No CANCEL is sent: the callee goes on ringing, and a 2xx
//   it sends later matches no transaction and reaches the agent's message
//   callback as a stray response. Call cancel() first to stop the callee.
// - an INVITE that got its final response stays in nta, with nta's default
//   callback in place of ours, to absorb retransmissions until it
//   terminates. A retransmitted 2xx is not absorbed: it goes to the agent's
//   message callback (with NTATAG_UA, nta itself ACKs and BYEs a 2xx with
//   another to-tag, a fork). The ACK of a 2xx is a transaction of its own
//   (RFC 3261 13.2.2.4, send_ack_2xx()), so send it before destroying.
// - a cancelled INVITE, and a non-INVITE still in progress, stay in nta until
//   their final response or timeout, which reaches nobody, then are freed.
// Control thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "sbc/sofia/callback_slot.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::sofia {

/// A response as a client transaction's callback sees it.
struct response {
    int status = 0;
    /// Null, or flagged internal, when nta made the response itself (408 on
    /// timeout, 503 on a transport error): see from_peer().
    const sip_t* sip = nullptr;
    /// Sent by the peer, not made by nta.
    bool from_peer() const noexcept { return sip != nullptr && !nta_sip_is_internal(sip); }
    bool provisional() const noexcept { return status < 200; }
};

class client_transaction {
public:
    using response_callback = std::function<void(const response&)>;

    client_transaction() = default;
    client_transaction(client_transaction&& o) noexcept
        : _slot(std::move(o._slot)), _orq(std::exchange(o._orq, nullptr)) {}
    client_transaction& operator=(client_transaction&& o) noexcept;
    /// Stops the callbacks and lets nta go of the transaction (see above).
    ~client_transaction();

    /// nta_outgoing_tcreate() on `leg` (a dialog, or a leg made with
    /// NTATAG_NO_DIALOG), routed to `route` (null: the request URI or the
    /// dialog's route set); `tags` without TAG_END(). Empty when nta
    /// refuses (check operator bool); then the callback is never called.
    /// The callback may run before send() returns: nta reports some
    /// transport failures at once, with a response of its own.
    template <typename... Tags>
    static client_transaction send(nta_leg_t* leg, response_callback on_response,
                                   const url_string_t* route, Tags... tags) {
        client_transaction t(std::move(on_response));
        t.adopt(
            nta_outgoing_tcreate(leg, response_trampoline, t.magic(), route, tags..., TAG_END()));
        return t;
    }

    /// nta_outgoing_mcreate(): sends `msg` (taken, even on failure) as built.
    template <typename... Tags>
    static client_transaction send_message(nta_agent_t* agent, response_callback on_response,
                                           const url_string_t* route, msg_t* msg, Tags... tags) {
        client_transaction t(std::move(on_response));
        nta_outgoing_t* orq = nta_outgoing_mcreate(agent, response_trampoline, t.magic(), route,
                                                   msg, tags..., TAG_END());
        if (orq == nullptr) {
            msg_destroy(msg);
        }
        t.adopt(orq);
        return t;
    }

    nta_outgoing_t* get() const noexcept { return _orq; }
    explicit operator bool() const noexcept { return _orq != nullptr; }
    /// The latest status received (0 before any, 500 when empty).
    int status() const noexcept;
    /// The latest response, with a reference of its own.
    msg_ref latest_response() const noexcept;

    /// Ties this INVITE to the early dialog whose to-tag is `to_tag`
    /// (nta_outgoing_tagged()), as nta needs before a PRACK can be sent in
    /// it (RFC 3262 4); responses keep arriving at the same callback. False
    /// when nta refused; the transaction is then unchanged.
    bool tag(const char* to_tag, const sip_rseq_t* rseq) noexcept;
    /// A PRACK (RFC 3262 4) for the reliable provisional `response` to this
    /// INVITE, on `leg` (its early dialog), with a callback of its own.
    /// `via`: the top Via to send (SBC_OWN_VIA), or empty.
    client_transaction prack(nta_leg_t* leg, response_callback on_response, const sip_t* response,
                             const std::string& via = {}) const;

    /// CANCEL of this INVITE (RFC 3261 9.1). nta sends it once a provisional
    /// response has arrived (9.1: not before) and the INVITE's own final
    /// response (487, or a 2xx that crossed the CANCEL) still arrives at this
    /// transaction's callback. False when there is nothing to cancel: not an
    /// INVITE, already answered finally, or already cancelled.
    template <typename... Tags>
    bool cancel(Tags... tags) noexcept {
        // The CANCEL's own transaction gets nta's default callback, which
        // frees it on its final response: the answer that matters is the
        // INVITE's.
        return _orq != nullptr &&
               nta_outgoing_tcancel(_orq, nullptr, nullptr, tags..., TAG_END()) != nullptr;
    }

private:
    class slot;
    slot* the_slot() const noexcept;
    explicit client_transaction(response_callback cb);
    response_handler* magic() const noexcept;
    void adopt(nta_outgoing_t* orq) noexcept;
    void reset() noexcept;

    detail::slot_ptr _slot;
    nta_outgoing_t* _orq = nullptr;
};

/// "<n> ACK" for the ACK of `invite` (RFC 3261 13.2.2.4: the INVITE's
/// CSeq number).
std::string ack_cseq(const client_transaction& invite);

/// The ACK of a 2xx to the INVITE `invite` sent on `leg`: a transaction of
/// its own that nobody waits for (RFC 3261 13.2.2.4; 17.1.1.3: ACK has no
/// response). `tags` (no TAG_END()) add to it: Contact, an answer's body.
/// False when nta refused.
template <typename... Tags>
bool send_ack_2xx(nta_leg_t* leg, const client_transaction& invite, Tags... tags) {
    const auto cseq = ack_cseq(invite);
    nta_outgoing_t* ack =
        nta_outgoing_tcreate(leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr,
                             SIPTAG_CSEQ_STR(cseq.c_str()), tags..., TAG_END());
    nta_outgoing_destroy(ack);
    return ack != nullptr;
}

}  // namespace sbc::sofia
