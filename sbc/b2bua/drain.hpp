// Draining a node for maintenance (`sbcctl drain`): the node stops taking
// new calls and lets the calls in progress run to their end, then sbcd
// exits; at an optional deadline it hangs up what is left instead.
//
// While a drain runs, the b2bua asks it:
// - refuses_new_calls(): a new INVITE outside a dialog (unless its Replaces
//   names one of our dialogs: a transfer within a call) is answered 503 with
//   Retry-After (RFC 3261 21.5.4, 20.33); so is an OPTIONS to the SBC, so
//   that peers probing with OPTIONS mark this node down and send their new
//   calls elsewhere (RFC 3263 4.3 has a client move on after a 503);
// - refuses_register(): a REGISTER that adds or refreshes bindings is
//   answered 503 the same way (the registrant moves to another server before
//   this one goes away); one that only removes bindings is served;
// - check(): whether sbcd should exit now (the last call ended, or the
//   deadline passed).
// The SBC's own outbound registrations and its OPTIONS keep-alives to peers
// carry on: calls in progress still need to know which peers are up, and a
// registration ends as at any stop, when sbcd exits.
//
// The hand-over variant (the cluster partner takes the calls and the
// address instead of waiting for them) is only a flag here; b2bua::drain()
// refuses it until the integration exists (see drain_request::hand_over).
//
// Plain logic over the clocks it is given: no sofia, no I/O. Object graph:
// the b2bua owns one drain_state. su_root thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sbc/api/control_server.hpp"
#include "sbc/common/result.hpp"
#include "sbc/registrar/location_service.hpp"

namespace sbc::b2bua {

/// What `sbcctl drain` asks for.
struct drain_request {
    bool cancel = false;  ///< admit new calls again
    /// Hang up the calls left this long after the start; none: wait for
    /// every call to end, however long it takes.
    std::optional<std::chrono::seconds> deadline;
    /// Hand the calls over to the cluster partner rather than wait for them
    /// (issue 22: not implemented yet, refused by b2bua::drain()).
    bool hand_over = false;
};

/// The longest drain deadline accepted: a day.
inline constexpr std::chrono::seconds max_drain_deadline{86400};

/// Reads the arguments of the control API's "drain" command ({"deadline":
/// seconds, "cancel": bool, "hand_over": bool}, each optional); the error
/// says which one is wrong. Untrusted input: never throws.
result<drain_request> parse_drain_request(const nlohmann::json& args);

class drain_state {
public:
    using clock = std::chrono::steady_clock;
    using wall_clock = std::chrono::system_clock;

    /// Retry-After of the refusals while a drain without a deadline runs:
    /// the node is expected back after an upgrade's restart, a few minutes.
    static constexpr std::chrono::seconds retry_after_default{300};
    /// The longest Retry-After sent: a peer should look again within ten
    /// minutes, even when the drain may last hours.
    static constexpr std::chrono::seconds retry_after_cap{600};

    /// Starts draining, or, while one runs, sets its new deadline (counted
    /// from `now`; none: no deadline). Its start time stays the first one.
    void start(std::optional<std::chrono::seconds> deadline, clock::time_point now,
               wall_clock::time_point wall);
    /// Admits again; false when no drain was running.
    bool cancel();

    bool active() const noexcept { return _since.has_value(); }
    /// Whether new INVITEs and OPTIONS are refused now.
    bool refuses_new_calls() const noexcept { return active(); }

    /// The Retry-After (RFC 3261 20.33), in seconds, of a refusal at `now`:
    /// the time left to the deadline, at least 1 and at most
    /// retry_after_cap; retry_after_default without a deadline.
    unsigned retry_after(clock::time_point now) const;

    enum class verdict {
        keep_running,  ///< not draining, or calls are still up before the deadline
        drained,       ///< the last call has ended: exit
        deadline,      ///< the deadline passed with calls left: hang them up, exit
    };
    /// What to do at `now` with `calls_left` calls still held.
    verdict check(std::size_t calls_left, clock::time_point now) const;

    /// For `sbcctl status`; nullopt when not draining.
    std::optional<api::drain_status> status(std::size_t calls_left, clock::time_point now) const;

private:
    struct started {
        clock::time_point at;
        wall_clock::time_point wall;
    };
    std::optional<started> _since;
    std::optional<clock::time_point> _deadline;
    std::optional<wall_clock::time_point> _deadline_wall;
};

/// Whether REGISTER `r` adds or refreshes a binding (refused while
/// draining) rather than only removing bindings or asking for them (served).
bool register_adds_bindings(const registrar::register_request& r);

}  // namespace sbc::b2bua
