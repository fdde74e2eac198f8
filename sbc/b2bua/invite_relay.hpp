// An INVITE transaction relayed from one leg of a call to the other: the
// initial one (a to b), or a re-INVITE in either direction (RFC 3261 14).
// Both are relayed alike (provisional responses, the 2xx and its SDP, the
// ACK, a CANCEL), so they are one type; the initial one also has an
// outbound_attempt, which finds the callee (failover, challenges, 422).
//
// Object graph: the call owns at most one invite_relay (RFC 3261 14.1: one
// INVITE transaction of a dialog at a time; a B2BUA's two dialogs carry one
// session), from the INVITE's arrival to its ACK; the relay owns the
// INVITE received, the one sent on, the call's offer/answer exchange and,
// for the initial INVITE, the attempt. The call's member functions
// (initial_invite.cpp, reinvite_relay.cpp) act on it. su_root thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dataplane/api/media_engine.hpp"
#include "sbc/b2bua/dialog.hpp"
#include "sbc/b2bua/offer_answer.hpp"
#include "sbc/b2bua/outbound_attempt.hpp"
#include "sbc/sofia/client_transaction.hpp"
#include "sbc/sofia/server_transaction.hpp"

namespace sbc::b2bua {

struct invite_relay {
    dataplane::side from = dataplane::side::a;
    sofia::server_transaction irq;  ///< on leg `from`; kept until its ACK
    sofia::client_transaction orq;  ///< on the other leg
    /// Which send `orq` is (call::invite_callback): nta may answer a new
    /// INVITE before send() returns, while `orq` is still the one it
    /// replaces; such an answer is not this relay's yet.
    std::uint64_t serial = 0;
    bool answered = false;  ///< a 2xx went back; waiting for the ACK
    /// The INVITE sent on carried an offer: SDP in responses answers it.
    bool offered = false;
    /// The INVITE came without SDP and the SBC offered on the other leg
    /// itself (early_offer: convert). The 2xx back then carries the SBC's
    /// offer, `offer_in_2xx`, and the ACK must answer it.
    bool converted = false;
    std::string offer_in_2xx;
    /// A re-INVITE as sent, for a retry with credentials (RFC 3261 22.2).
    std::optional<std::string> offer_sent;
    std::string headers_sent;
    unsigned auth_answers = 0;
    offer_answer::hold oa;  ///< the exchange it carries, until its ACK
    /// The initial INVITE's way to the callee; none for a re-INVITE.
    std::unique_ptr<outbound_attempt> attempt;
    /// An INVITE with Replaces (RFC 3891) that the SBC accepts itself
    /// (replacing_invite.cpp): its new dialog stands on leg `from`, relayed
    /// to the other leg as a re-INVITE, and this is the dialog it replaces,
    /// ended once the 2xx went or put back when it fails.
    std::optional<dialog> replaced;

    bool initial() const noexcept { return attempt != nullptr; }
};

}  // namespace sbc::b2bua
