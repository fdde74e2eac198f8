// A re-INVITE of the SBC's own on one leg (RFC 3261 14): the leg's last SDP
// with the next version (RFC 3264 8), so that its peer learns of a change
// behind the SBC (a transfer completed on the other leg), or so that a
// session timer is refreshed where the peer takes no UPDATE (RFC 4028 9).
// Sent again with credentials when the leg's trunk challenges it (RFC 3261
// 22.2); its answer goes to the media session.
//
// Object graph: the call owns at most one reoffer while it runs (it holds
// the call's offer/answer exchange); the reoffer owns its INVITE client
// transaction. The back-pointer to the call is raw: the call outlives it.
// su_root thread only.
#pragma once

#include "dataplane/api/media_engine.hpp"
#include "sbc/b2bua/offer_answer.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/client_transaction.hpp"

namespace sbc::b2bua {

class call;

class reoffer {
public:
    /// Re-offers on leg `s` when it is confirmed, has sent SDP and the
    /// call has no offer under way; the reoffer is then left in the call.
    static void start(call& c, dataplane::side s);

    reoffer(call& owner, dataplane::side to) : _call(owner), _to(to) {}
    reoffer(const reoffer&) = delete;
    reoffer& operator=(const reoffer&) = delete;

private:
    /// The re-INVITE with the leg's last SDP, with an Authorization or
    /// Proxy-Authorization header when given.
    sofia::client_transaction send(const sofia::authorization& auth = {});
    /// The final answer ends the reoffer (this object), and the call when
    /// it says a refresh of the SBC's failed (RFC 4028 10).
    void on_response(const sip_t* sip, int status);

    call& _call;  ///< owner; outlives the reoffer
    dataplane::side _to;
    sofia::client_transaction _orq;
    offer_answer::hold _oa;
    unsigned _auth_answers = 0;  ///< challenges answered (RFC 3261 22.2)
};

}  // namespace sbc::b2bua
