#include "sbc/cluster/state_queue.hpp"

#include <algorithm>
#include <utility>

namespace sbc::cluster {

bool state_queue::put(const std::string& key, std::string value, clock::time_point now) {
    return mark(key, std::move(value), now);
}

bool state_queue::erase(const std::string& key, clock::time_point now) {
    return mark(key, std::nullopt, now);
}

bool state_queue::mark(const std::string& key, std::optional<std::string> value,
                       clock::time_point now) {
    const auto stamp = _next_stamp++;
    if (auto it = _pending.find(key); it != _pending.end()) {
        // Already queued: its place and its age stay, its value is the latest.
        it->second.value = std::move(value);
        it->second.stamp = stamp;
        return true;
    }
    if (_pending.size() >= _limit) {
        ++_dropped;
        _overflowed = true;
        return false;
    }
    _pending.emplace(key, entry{std::move(value), stamp, now});
    _order.push_back(key);
    return true;
}

std::optional<state_queue::item> state_queue::take() {
    if (_order.empty()) {
        return std::nullopt;
    }
    auto node = _pending.extract(_order.front());
    _order.pop_front();
    auto& e = node.mapped();
    return item{std::move(node.key()), std::move(e.value), e.stamp, e.since};
}

void state_queue::give_back(item i) {
    if (auto it = _pending.find(i.key); it != _pending.end()) {
        // Dirty again since it was taken: of the two, the newer change is the
        // one to write; the key has owed a write since the older one.
        auto& e = it->second;
        if (i.stamp > e.stamp) {
            e.value = std::move(i.value);
            e.stamp = i.stamp;
        }
        e.since = std::min(e.since, i.since);
        return;
    }
    // At the head: it is older than anything still queued. Past the limit
    // if it must be: the item held a place until it was taken.
    _order.push_front(i.key);
    _pending.emplace(std::move(i.key), entry{std::move(i.value), i.stamp, i.since});
}

std::optional<state_queue::clock::time_point> state_queue::oldest() const {
    if (_order.empty()) {
        return std::nullopt;
    }
    return _pending.at(_order.front()).since;
}

}  // namespace sbc::cluster
