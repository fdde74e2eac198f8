// The writes a store owes: for each key, only its latest value (or its
// deletion), in the order keys first became dirty. A call that changes ten
// times while the store is down is written once when it comes back.
//
// Bounded: past `limit` dirty keys a new key is refused and counted (the
// store then needs a full resync, which overflowed() says). Plain data, no
// I/O; the call_store drains it through a redis_link.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace sbc::cluster {

class state_queue {
public:
    explicit state_queue(std::size_t limit) : _limit(limit) {}

    struct item {
        std::string key;
        std::optional<std::string> value;  ///< nullopt: delete the key
    };

    /// The key's latest value replaces any pending one. False when the key
    /// was not pending and the queue is full (counted in dropped()).
    bool put(const std::string& key, std::string value);
    bool erase(const std::string& key);

    /// The oldest dirty key with its latest value, taken off the queue.
    std::optional<item> take();
    /// Gives an item back after a failed write, unless the key was made
    /// dirty again meanwhile (the newer value wins).
    void give_back(item i);

    std::size_t size() const noexcept { return _pending.size(); }
    bool empty() const noexcept { return _pending.empty(); }
    std::uint64_t dropped() const noexcept { return _dropped; }
    /// Some change was dropped since the last clear_overflow().
    bool overflowed() const noexcept { return _overflowed; }
    void clear_overflow() noexcept { _overflowed = false; }

private:
    bool mark(const std::string& key, std::optional<std::string> value);
    std::size_t _limit;
    std::unordered_map<std::string, std::optional<std::string>> _pending;
    std::deque<std::string> _order;
    std::uint64_t _dropped = 0;
    bool _overflowed = false;
};

}  // namespace sbc::cluster
