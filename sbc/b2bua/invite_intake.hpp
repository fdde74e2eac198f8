// The intake of a new INVITE (one outside any dialog of ours): the checks
// that decide whether it may become a call, in the order they run, and the
// start of the call when it passes.
//
// Each check either lets the INVITE through or returns a `refusal`: the
// status, phrase and header lines of the answer, and the reason its CDR
// records when the attempt is worth one. One place sends every refusal, so
// no check answers the transaction itself.
//
// Admission may have to wait for the cluster's shared limits (a Redis
// round trip, at most a short wait): a check that asked sets waiting(), the
// intake suspends and goes on from the same check with resume(). Meanwhile
// it holds the server transaction; a CANCEL is answered 487 at once
// (RFC 3261 9.2), and the answer then only gives its slot back. No 100
// Trying goes out before the wait: it is shorter than the 200 ms after
// which RFC 3261 17.2.1 asks for one.
//
// Object graph: b2bua::on_new_invite makes one invite_intake for the INVITE
// it screens and drops it when the INVITE is answered or a call has taken
// it over; while it waits, the b2bua keeps it (b2bua::_intakes). The intake borrows the b2bua (its
// router, registrar bindings, admission and calls) and the server transaction. From inbound
// admission on it holds the source trunk's inbound slot and gives it back on every refusal; the
// call it starts takes it over. Runs on the su_root thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sbc/admission/call_limiter.hpp"
#include "sbc/b2bua/call.hpp"
#include "sbc/cdr/record.hpp"
#include "sbc/config/config.hpp"
#include "sbc/policy/number_rewriter.hpp"
#include "sbc/policy/router.hpp"
#include "sbc/registrar/location_service.hpp"
#include "sbc/sofia/nta.hpp"
#include "sbc/sofia/server_transaction.hpp"

namespace sbc::b2bua {

class b2bua;

/// Why an INVITE does not become a call, and how the SBC says so.
struct refusal {
    int status = 0;
    std::string phrase;  ///< empty: the standard phrase of `status`
    // Header values the answer carries; an empty one is left out.
    std::string unsupported;         ///< RFC 3261 20.40, with a 420
    std::string min_se;              ///< RFC 4028 5, with a 422
    std::string proxy_authenticate;  ///< RFC 3261 20.28, with a 407
    std::string retry_after;         ///< RFC 3261 20.33, with a 503
    std::string warning;             ///< RFC 3261 20.43
    /// Set: the attempt gets a CDR with this reason (status and route come
    /// from the refusal and the intake).
    std::optional<std::string> cdr_reason;
};

class invite_intake {
public:
    /// The INVITE `sip` of server transaction `irq`, from `source`, a peer
    /// of `trunk`.
    /// `key` names it to b2bua::resume_intake while it waits.
    invite_intake(b2bua& owner, const config::trunk_config& trunk, nta_incoming_t* irq,
                  const sip_t* sip, const dataplane::ip_endpoint& source, std::uint64_t key = 0);
    /// Gives the inbound admission slot back unless a call took it.
    ~invite_intake();
    invite_intake(const invite_intake&) = delete;
    invite_intake& operator=(const invite_intake&) = delete;

    /// Runs the checks, then starts the call. Returns what nta's dispatch
    /// expects of a request callback: 0 (answered, or a call will answer)
    /// or a status to answer with.
    int run();
    /// The admission it waited for decided `d`: goes on from where it
    /// stopped. Returns as run() does, and may wait again.
    int resume(admission::decision d);
    /// Suspended: waiting for admission's answer (run() returned 0).
    bool waiting() const noexcept { return _waiting; }
    nta_incoming_t* irq() const noexcept { return _irq; }

private:
    using verdict = std::optional<refusal>;
    // The checks, in the order run() calls them.
    verdict check_max_forwards();
    verdict check_require();
    verdict check_session_expires();
    verdict check_numbers();
    verdict check_draining();
    verdict check_credentials();
    verdict admit_inbound();
    verdict check_replaces();
    verdict check_route();
    verdict choose_target();

    /// What the search for a target trunk met on the way (choose_target()).
    struct target_search {
        bool delayed_refused = false;  ///< a trunk with early_offer: reject, and no SDP
        bool unregistered = false;     ///< a registrar trunk without the callee's binding
        std::optional<std::pair<const config::trunk_config*, admission::decision>> over_limit;
    };
    void consider(const config::trunk_config& t, target_search& search);
    verdict no_target(const target_search& search) const;
    verdict admit_replacement();
    /// The decision for `t` in direction `inbound`: the answer resume()
    /// brought, or one made now; nullopt when it was asked (waiting()).
    std::optional<admission::decision> decide(const config::trunk_config& t, bool inbound);
    /// Holds the transaction while waiting: CANCEL answered 487.
    void suspend();

    /// A 503 for a trunk over its admission limit in `direction`.
    refusal over_limit(const config::trunk_config& t, const admission::decision& d,
                       const char* direction) const;
    /// Answers with `r` and writes its CDR; the result goes back to nta.
    int refuse(const refusal& r);
    /// The CDR of the call as far as routing knows it; the call completes it.
    cdr::record seed(const std::string& route_name) const;
    /// The call to `_target`, which holds both admission slots from now on.
    int start_call();

    b2bua& _owner;
    const config::trunk_config& _trunk;  ///< where the INVITE comes from
    nta_incoming_t* _irq;
    const sip_t* _sip;
    bool _inbound_held = false;  ///< the inbound slot is ours to give back
    policy::call_numbers _received;
    policy::call_numbers _numbers;  ///< after the trunk's inbound normalization
    dataplane::ip_endpoint _source;
    policy::route_request _request;  ///< points into _numbers
    /// RFC 3891: the dialog the INVITE replaces, which decides its target.
    std::optional<call::replacement> _replacing;
    const config::route_config* _route = nullptr;  ///< null: none (yet), or Replaces
    const config::trunk_config* _target = nullptr;
    std::vector<const config::trunk_config*> _next_trunks;  ///< failover, in order
    std::optional<registrar::binding> _registered;          ///< a registrar trunk's callee
    /// An INVITE with Replaces that a call took itself (replaces:
    /// terminate): what run() returns, 0 or the status it was answered with.
    std::optional<int> _taken_by_call;
    std::uint64_t _key;
    std::size_t _step = 0;         ///< the check run() is at
    std::size_t _trunk_index = 0;  ///< choose_target's place in the route's trunks
    target_search _search;
    bool _waiting = false;
    bool _cancelled = false;
    /// What resume() brought, for the trunk and direction asked, until
    /// the check takes it.
    std::optional<admission::decision> _answer;
    const config::trunk_config* _asked = nullptr;
    bool _asked_inbound = false;
    sofia::server_transaction _held;  ///< the INVITE's, while waiting
};

}  // namespace sbc::b2bua
