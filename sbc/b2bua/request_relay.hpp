// A non-INVITE request inside a call's dialogs that carries no offer (INFO,
// MESSAGE), relayed from one leg to the other, or one of the SBC's own (a
// digit the data plane heard, sent as INFO): sent on the other leg, sent
// again with credentials when that leg's trunk challenges it (RFC 3261
// 22.2), and its final status given back to the leg it came from.
//
// Object graph: the call owns its request relays while they run (any number
// at a time: RFC 3261 allows non-INVITE transactions to overlap) and each
// relay owns its two transactions; the back-pointer to the call is raw, the
// call outlives them. su_root thread only.
#pragma once

#include <string>

#include "dataplane/api/media_engine.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/client_transaction.hpp"
#include "sbc/sofia/server_transaction.hpp"

namespace sbc::b2bua {

class call;

class request_relay {
public:
    /// The request as it leaves on leg `to`.
    struct request {
        dataplane::side to = dataplane::side::a;
        sip_method_t method_id = sip_method_unknown;
        std::string method;
        std::string content_type;  ///< "" when there is no body
        std::string body;
        std::string headers;  ///< relayed header lines
    };

    /// `from`: the request received on the other leg, answered with the
    /// outcome; empty for a request of the SBC's own.
    request_relay(call& owner, sofia::server_transaction from, request r);
    request_relay(const request_relay&) = delete;
    request_relay& operator=(const request_relay&) = delete;

    /// Sends the request; false when nta refused it (the caller answers).
    bool send(const sofia::authorization& auth = {});
    /// The call ends: a request still waiting gets 481, its dialog being
    /// gone (RFC 3261 12.2.2), and no response is waited for any more.
    void abandon();
    /// The final response came and was relayed: the call may drop it.
    bool done() const noexcept { return _done; }

private:
    void on_response(const sofia::response& r);

    call& _call;
    sofia::server_transaction _from;
    request _request;
    sofia::client_transaction _out;
    unsigned _auth_answers = 0;  ///< challenges answered (RFC 3261 22.2)
    bool _done = false;
};

}  // namespace sbc::b2bua
