// The initial INVITE's way to the callee: the INVITE on leg b built from
// scratch (RFC 5853 3.1) from the caller's, and sent again as the callee's
// side asks or fails: with credentials for a 401/407 (RFC 3261 22.2), with
// a larger session interval for a 422 (RFC 4028 6), to the trunk's next
// peer when one fails (408, 5xx) or stays silent past the trunk's
// failover_timeout (as a proxy forks serially, RFC 3261 16.7), and then to
// the route's next trunks. It PRACKs the reliable provisional responses on
// leg b (RFC 3262 4); the caller's leg has its own rules.
//
// Object graph: the call's initial INVITE relay (invite_relay.hpp) owns one
// outbound_attempt, from start() to the caller's ACK or the call's end. The
// INVITE client transaction stays the relay's, since a re-INVITE uses the
// relay alike; the attempt owns its PRACK transactions. The back-pointer to
// the call is raw: the call outlives it. Two things it uses stay the
// call's: the digest client (RFC 7616 nonce counts run across all of the
// call's requests) and the route's trunks still to try (part of the call's
// route, written in its snapshot). su_root thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/policy/number_rewriter.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/client_transaction.hpp"

namespace sbc::b2bua {

class call;

class outbound_attempt {
public:
    /// What the INVITE towards leg b's trunk offers: the caller's offer
    /// translated, the SBC's own (early_offer: convert) or none. `convert`
    /// says which. An error is an offer the SBC cannot use.
    static result<std::optional<std::string>> offer_for(call& c, const sip_t* sip, bool& convert);

    /// `offer`: what each attempt on leg b's trunk offers; leg b's peer is
    /// the first one tried.
    outbound_attempt(call& owner, std::optional<std::string> offer);
    outbound_attempt(const outbound_attempt&) = delete;
    outbound_attempt& operator=(const outbound_attempt&) = delete;

    /// Leg b's dialog, made anew, and the INVITE on it, built from the
    /// caller's INVITE `sip`; empty when nta refused.
    sofia::client_transaction send(const sip_t* sip);
    /// A response to the current attempt. True when it was taken here: the
    /// next peer or trunk tried, a challenge or a 422 answered, or the call
    /// ended (the attempt with it); false when it is the relay's to handle.
    bool on_response(const sip_t* sip, int status);
    /// A provisional response `sip` (`status`): a PRACK when it is reliable.
    void prack(const sip_t* sip, int status);
    /// The next peer when the current one has not responded within the
    /// trunk's failover_timeout. The call is trying or early.
    void check_failover(std::chrono::steady_clock::time_point now);

private:
    /// The header lines of the INVITE to leg b: the caller's trunk's inbound
    /// rules on what arrived, the callee trunk's allow-list (RFC 5853 3.1),
    /// then its outbound rules, which may change `from` and `to` too.
    std::string headers(const sip_t* sip, const policy::call_numbers& numbers, std::string& from,
                        std::string& to);
    /// Sends the INVITE built by send() on leg b, with an Authorization or
    /// Proxy-Authorization header when given.
    sofia::client_transaction issue(const sofia::authorization& auth = {});
    /// A 401/407 from the callee's trunk: answers it with the trunk's
    /// credentials on the same leg (RFC 3261 22.2); false when it cannot
    /// (no credentials, no usable challenge, or they were refused already).
    bool answer_challenge(const sip_t* sip, int status);
    /// A 422 from the callee's trunk (RFC 4028 6): sends the INVITE again,
    /// once, with the Session-Expires and Min-SE its Min-SE asks for
    /// (RFC 4028 7.4); false when it cannot.
    bool retry_with_min_se(const sip_t* sip);
    /// A 503 `sip` from the current peer: when it carries Retry-After,
    /// new calls pass that peer by for as long (RFC 3263 4.3).
    void hold_off_peer(const sip_t* sip);
    /// Gives up on the current peer and sends the INVITE to the next one;
    /// false when no peer is left (the caller has then been answered and
    /// the call ended, this attempt with it).
    /// `from_peer`: `status` came from the peer, not from nta or a timer.
    bool try_next_peer(int status, bool from_peer, const char* why);
    /// Moves leg b to the next trunk of the route that has a peer up and
    /// can take the INVITE; false when none is left.
    bool next_trunk(const sip_t* sip);
    /// The first peer of `trunk` when the initial INVITE `sip` may go there
    /// now (a peer up, the offer it takes, its outbound limits: admitted);
    /// nullopt, logged, when the trunk is skipped.
    std::optional<std::size_t> usable_next_trunk(const config::trunk_config& trunk,
                                                 const sip_t* sip);

    call& _call;                        ///< owner (through its INVITE relay); outlives it
    std::optional<std::string> _offer;  ///< what each attempt offers the callee
    std::vector<std::size_t> _tried;    ///< peers tried, the current one last
    std::chrono::steady_clock::time_point _started;  ///< of the current attempt
    bool _heard = false;                             ///< the current peer sent some response
    /// The INVITE leg b was sent last, for a retry with credentials.
    struct invite_lines {
        std::string ruri;
        std::string contact;
        std::string max_forwards;
        std::string headers;
        std::string next_hop;  ///< where to send it when not to the Request-URI's host
    };
    invite_lines _sent;
    unsigned _auth_answers = 0;  ///< challenges answered on the current attempt
    /// The session interval a 422 asked of the current attempt (0: the
    /// trunk's own session_timer.expires).
    unsigned _callee_min_se = 0;
    /// PRACKs of ours to leg b (RFC 3262), until their final response.
    std::vector<sofia::client_transaction> _pracks;
};

}  // namespace sbc::b2bua
