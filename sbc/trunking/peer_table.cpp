#include "sbc/trunking/peer_table.hpp"

#include <algorithm>
#include <limits>

namespace sbc::trunking {

peer_table::peer_table(const config::trunk_config& trunk, clock::time_point now)
    : _trunk(&trunk), _health(trunk.peers.size()) {
    for (auto& h : _health) {
        h.since = now;
    }
}

bool peer_table::record_success(std::size_t peer, std::chrono::microseconds rtt, int status,
                                clock::time_point now) {
    auto& h = _health.at(peer);
    h.last_rtt = rtt;
    h.last_result = std::to_string(status);
    h.failures_in_row = 0;
    ++h.successes_in_row;
    if (!h.up && h.successes_in_row >= _trunk->keepalive.up_after) {
        h.up = true;
        h.since = now;
        return true;
    }
    return false;
}

bool peer_table::record_failure(std::size_t peer, const std::string& what, clock::time_point now) {
    auto& h = _health.at(peer);
    h.last_result = what;
    h.successes_in_row = 0;
    ++h.failures_in_row;
    if (h.up && h.failures_in_row >= _trunk->keepalive.down_after) {
        h.up = false;
        h.since = now;
        return true;
    }
    return false;
}

bool peer_table::any_up() const noexcept {
    return std::any_of(_health.begin(), _health.end(), [](const peer_health& h) { return h.up; });
}

std::optional<std::size_t> peer_table::choose(const std::vector<std::size_t>& tried,
                                              std::mt19937& rng) const {
    const auto& peers = _trunk->peers;
    unsigned best = std::numeric_limits<unsigned>::max();
    std::vector<std::size_t> group;
    for (std::size_t i = 0; i < peers.size(); ++i) {
        if (!_health[i].up || std::find(tried.begin(), tried.end(), i) != tried.end()) {
            continue;
        }
        if (peers[i].priority < best) {
            best = peers[i].priority;
            group.clear();
        }
        if (peers[i].priority == best) {
            group.push_back(i);
        }
    }
    if (group.empty()) {
        return std::nullopt;
    }
    // RFC 2782: weight-proportional choice; weight 0 peers get a small
    // chance only when every peer of the group has weight 0.
    std::uint64_t total = 0;
    for (auto i : group) {
        total += peers[i].weight;
    }
    if (total == 0) {
        return group[std::uniform_int_distribution<std::size_t>(0, group.size() - 1)(rng)];
    }
    auto pick = std::uniform_int_distribution<std::uint64_t>(1, total)(rng);
    for (auto i : group) {
        if (pick <= peers[i].weight) {
            return i;
        }
        pick -= peers[i].weight;
    }
    return group.back();
}

void peer_table::inherit(const peer_table& older) {
    const auto& old_peers = older._trunk->peers;
    for (std::size_t i = 0; i < _trunk->peers.size(); ++i) {
        const auto& p = _trunk->peers[i];
        for (std::size_t j = 0; j < old_peers.size(); ++j) {
            const auto& q = old_peers[j];
            if (p.host == q.host && p.port == q.port && p.proto == q.proto) {
                _health[i] = older._health[j];
            }
        }
    }
}

}  // namespace sbc::trunking
