#include "sbc/trunking/peer_table.hpp"

#include <algorithm>
#include <limits>

namespace sbc::trunking {

namespace {

peer_health up_since(clock::time_point now) {
    peer_health h;
    h.since = now;
    return h;
}

}  // namespace

peer_table::peer_table(const config::trunk_config& trunk, clock::time_point now) : _trunk(&trunk) {
    for (std::size_t i = 0; i < trunk.peers.size(); ++i) {
        const auto& p = trunk.peers[i];
        if (!p.is_name) {
            _targets.push_back({p.host, p.port, p.proto, p.priority, p.weight, i, true});
            _health.push_back(up_since(now));
        }
    }
}

bool peer_table::set_resolved(std::size_t peer, const std::vector<target>& targets,
                              clock::time_point now) {
    std::vector<bool> now_current(_targets.size(), false);
    bool changed = false;
    for (auto t : targets) {
        t.peer = peer;
        t.current = true;
        auto slot = std::find_if(_targets.begin(), _targets.end(), [&](const target& old) {
            return old.peer == peer && old.same_address(t);
        });
        if (slot == _targets.end()) {
            _targets.push_back(t);
            _health.push_back(up_since(now));
            now_current.push_back(true);
            changed = true;
            continue;
        }
        const auto i = static_cast<std::size_t>(slot - _targets.begin());
        changed =
            changed || !slot->current || slot->priority != t.priority || slot->weight != t.weight;
        *slot = t;
        now_current[i] = true;
    }
    for (std::size_t i = 0; i < _targets.size(); ++i) {
        if (_targets[i].peer == peer && _targets[i].current && !now_current[i]) {
            _targets[i].current = false;
            changed = true;
        }
    }
    return changed;
}

bool peer_table::record_success(std::size_t i, std::chrono::microseconds rtt, int status,
                                clock::time_point now) {
    auto& h = _health.at(i);
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

bool peer_table::record_failure(std::size_t i, const std::string& what, clock::time_point now) {
    auto& h = _health.at(i);
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

bool peer_table::has_current(std::size_t peer) const noexcept {
    return std::any_of(_targets.begin(), _targets.end(),
                       [&](const target& t) { return t.peer == peer && t.current; });
}

bool peer_table::any_up() const noexcept {
    for (std::size_t i = 0; i < _targets.size(); ++i) {
        if (_targets[i].current && _health[i].up) {
            return true;
        }
    }
    return false;
}

clock::time_point peer_table::hold_off(std::size_t i, std::chrono::seconds for_how_long,
                                       clock::time_point now) {
    auto& h = _health.at(i);
    if (for_how_long <= std::chrono::seconds::zero()) {
        return now;
    }
    const auto until = now + std::min(for_how_long, max_hold_off);
    h.held_off_until = until;
    return until;
}

std::optional<std::size_t> peer_table::choose(const std::vector<std::size_t>& tried,
                                              std::mt19937& rng, clock::time_point now) const {
    const auto& peers = _targets;
    unsigned best = std::numeric_limits<unsigned>::max();
    std::vector<std::size_t> group;
    for (std::size_t i = 0; i < peers.size(); ++i) {
        if (!peers[i].current || !_health[i].up || _health[i].held_off(now) ||
            std::find(tried.begin(), tried.end(), i) != tried.end()) {
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
    for (std::size_t i = 0; i < _targets.size(); ++i) {
        for (std::size_t j = 0; j < older._targets.size(); ++j) {
            if (_targets[i].same_address(older._targets[j])) {
                _health[i] = older._health[j];
            }
        }
    }
}

}  // namespace sbc::trunking
