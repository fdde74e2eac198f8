// Which of a trunk's peers are alive, and which one a call goes to next.
//
// Health comes from OPTIONS pings (RFC 3261 11): `down_after` failures in a
// row mark a peer down, `up_after` successes mark it up again. Selection
// follows DNS SRV (RFC 2782): the lowest priority value among the live peers
// not yet tried for this call, and within it a weighted random choice, so
// active-active pairs share the calls in proportion to their weights. Pure
// logic: no I/O, no clock of its own, so it is tested without a network.
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
    std::uint64_t active_calls = 0;
};

class peer_table {
public:
    /// One entry per peer of `trunk`, all up since `now`.
    peer_table(const config::trunk_config& trunk, clock::time_point now);

    const config::trunk_config& trunk() const noexcept { return *_trunk; }
    std::size_t size() const noexcept { return _health.size(); }
    const peer_health& health(std::size_t peer) const { return _health.at(peer); }

    /// An OPTIONS answered; true when this changed the peer's state.
    bool record_success(std::size_t peer, std::chrono::microseconds rtt, int status,
                        clock::time_point now);
    /// An OPTIONS unanswered or answered with a failure; true on a change.
    bool record_failure(std::size_t peer, const std::string& what, clock::time_point now);

    /// The next peer for a call that has already tried `tried`, or nothing
    /// when every live peer has been tried.
    std::optional<std::size_t> choose(const std::vector<std::size_t>& tried,
                                      std::mt19937& rng) const;

    /// True when at least one peer is up.
    bool any_up() const noexcept;

    void call_started(std::size_t peer) { ++_health.at(peer).active_calls; }
    void call_ended(std::size_t peer) {
        auto& h = _health.at(peer);
        h.active_calls -= h.active_calls > 0 ? 1 : 0;
    }

    /// Carries health over from an older table of a reloaded configuration:
    /// peers with the same address, port and transport keep their state.
    void inherit(const peer_table& older);

private:
    const config::trunk_config* _trunk;
    std::vector<peer_health> _health;
};

}  // namespace sbc::trunking
