// Which of a trunk's peers are alive, and which one a call goes to next.
//
// The table holds the trunk's targets: a peer given as an address is one
// target; a peer given by name has the targets its name resolves to (RFC
// 3263, sbc/dns), set and reset by set_resolved() as resolution changes. A
// target's slot never moves or goes away, so a call that holds its index
// keeps its target: a target no longer resolved is kept, out of selection,
// and comes back into it if its name leads to it again.
//
// Health comes from OPTIONS pings (RFC 3261 11): `down_after` failures in a
// row mark a peer down, `up_after` successes mark it up again. A target that
// answered a call 503 with Retry-After is held off for that long (RFC 3263
// 4.3, RFC 3261 21.5.4): new calls pass it by while the others take them.
// Selection follows DNS SRV (RFC 2782): the lowest priority value among the
// live peers not yet tried for this call, and within it a weighted random
// choice, so active-active pairs share the calls in proportion to their
// weights. Pure logic: no I/O, no clock of its own, so it is tested without
// a network.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sbc/config/config.hpp"

namespace sbc::trunking {

using clock = std::chrono::system_clock;

struct peer_health {
    bool up = true;  ///< peers start up: a call should not wait for the first ping
    clock::time_point since{};
    unsigned failures_in_row = 0;
    unsigned successes_in_row = 0;
    std::optional<std::chrono::microseconds> last_rtt;
    std::string last_result;  ///< "200", "timeout", "503", ...
    /// Calls pass the target by until then: it answered 503 with
    /// Retry-After (RFC 3263 4.3). Pings go on; they do not lift it.
    std::optional<clock::time_point> held_off_until;

    /// Whether the hold-off is still in force at `now`.
    bool held_off(clock::time_point now) const noexcept {
        return held_off_until && *held_off_until > now;
    }
};

/// The longest hold-off a Retry-After may ask for: RFC 3261 20.33 allows
/// any number of seconds, and a peer that asks for a day (or by mistake for
/// years) would otherwise be lost to its trunk until a restart.
inline constexpr std::chrono::seconds max_hold_off{3600};

/// Where a trunk's calls and pings go: an address of one of its peers.
struct target {
    std::string host;  ///< IP literal, without brackets
    std::uint16_t port = 5060;
    config::transport proto = config::transport::udp;
    /// As config::peer_config's, or the SRV record's (RFC 2782).
    unsigned priority = 10;
    unsigned weight = 100;
    std::size_t peer = 0;  ///< its entry in the trunk's peers
    /// Among its peer's targets now: false once its name no longer leads
    /// to it (kept for the calls that use it, never chosen or pinged).
    bool current = true;

    bool same_address(const target& other) const noexcept {
        return host == other.host && port == other.port && proto == other.proto;
    }
};

class peer_table {
public:
    /// A target for each peer of `trunk` given as an address, in the order
    /// of the trunk's peers, all up since `now`; none yet for a named peer.
    peer_table(const config::trunk_config& trunk, clock::time_point now);

    const config::trunk_config& trunk() const noexcept { return *_trunk; }
    /// Targets, current or not; an index stays valid for the table's life.
    std::size_t size() const noexcept { return _targets.size(); }
    const target& target_at(std::size_t i) const { return _targets.at(i); }
    /// Health of target `i` (pings go to each target, not to its peer).
    const peer_health& health(std::size_t i) const { return _health.at(i); }
    /// True when peer `peer` (its entry in the trunk's peers) has a current
    /// target: false for a name not resolved yet, or resolved to nothing.
    bool has_current(std::size_t peer) const noexcept;

    /// The targets the name of peer `peer` resolves to now (their `peer`
    /// and `current` are set here). Targets it had and no longer has stay,
    /// out of selection; new ones are up since `now`. True when the set of
    /// current targets changed.
    bool set_resolved(std::size_t peer, const std::vector<target>& targets, clock::time_point now);

    /// An OPTIONS to target `i` answered; true when this changed its state.
    bool record_success(std::size_t i, std::chrono::microseconds rtt, int status,
                        clock::time_point now);
    /// An OPTIONS to target `i` unanswered or answered with a failure; true
    /// on a change.
    bool record_failure(std::size_t i, const std::string& what, clock::time_point now);

    /// Target `i` answered a call 503 with Retry-After `for_how_long`: new
    /// calls pass it by until `now` plus that, at most max_hold_off (RFC
    /// 3263 4.3). A later hold-off replaces an earlier one. Returns the time
    /// it ends; a zero Retry-After holds nothing off (returns `now`).
    clock::time_point hold_off(std::size_t i, std::chrono::seconds for_how_long,
                               clock::time_point now);

    /// The next target for a call that has already tried the targets
    /// `tried`, or nothing when every live current target has been tried
    /// or is held off at `now`.
    std::optional<std::size_t> choose(const std::vector<std::size_t>& tried, std::mt19937& rng,
                                      clock::time_point now) const;

    /// True when at least one current target is up.
    bool any_up() const noexcept;

    /// Carries health over from an older table of a reloaded configuration:
    /// targets with the same address, port and transport keep their state.
    void inherit(const peer_table& older);

private:
    const config::trunk_config* _trunk;
    std::vector<target> _targets;
    std::vector<peer_health> _health;  ///< one per target
};

}  // namespace sbc::trunking
