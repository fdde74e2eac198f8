// An UPDATE carrying an offer (RFC 3311) from one leg's peer, relayed to
// the other leg: translated to the SBC's media addresses, sent again with
// credentials when that leg's trunk challenges it (RFC 3261 22.2), and the
// answer in the 2xx coming back translated for the leg it came from (RFC
// 3311 5.2). An UPDATE without an offer is a session refresh (RFC 4028),
// answered on its own leg and relayed nowhere.
//
// Object graph: the call owns at most one update_relay while it runs (never
// beside another offer: it holds the call's offer/answer exchange); the
// relay owns the UPDATE received and the one it sent. The back-pointer to
// the call is raw: the call outlives it. su_root thread only.
#pragma once

#include <string>
#include <utility>

#include "dataplane/api/media_engine.hpp"
#include "sbc/b2bua/offer_answer.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/client_transaction.hpp"
#include "sbc/sofia/server_transaction.hpp"

namespace sbc::b2bua {

class call;
class call_leg;

class update_relay {
public:
    /// An UPDATE from leg `from`: a session refresh is answered here; one
    /// with an offer is relayed, the relay left in the call. Returns 0 when
    /// the UPDATE was answered or taken, else the status to answer with.
    static int on_update(call& c, call_leg& from, sofia::server_transaction& request,
                         const sip_t* sip);

    /// `offer` and `headers`: as they leave on the leg opposite `from`.
    update_relay(call& owner, dataplane::side from, std::string offer, std::string headers)
        : _call(owner), _from(from), _offer(std::move(offer)), _headers(std::move(headers)) {}
    update_relay(const update_relay&) = delete;
    update_relay& operator=(const update_relay&) = delete;

private:
    /// An UPDATE with the offer on the leg opposite `_from`, with an
    /// Authorization or Proxy-Authorization header when given.
    sofia::client_transaction send(const sofia::authorization& auth = {});
    /// The other leg's answer, relayed back; the final one ends the relay
    /// (this object).
    void on_response(const sip_t* sip, int status);

    call& _call;  ///< owner; outlives the relay
    dataplane::side _from;
    sofia::server_transaction _irq;
    sofia::client_transaction _orq;
    /// The UPDATE as sent on the other leg, for a retry with credentials.
    std::string _offer;
    std::string _headers;
    unsigned _auth_answers = 0;
    offer_answer::hold _oa;
};

}  // namespace sbc::b2bua
