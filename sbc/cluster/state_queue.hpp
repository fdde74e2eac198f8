// The writes a store owes: for each key, only its latest value (or its
// deletion), in the order keys first became dirty. A call that changes ten
// times while the store is down is written once when it comes back.
//
// Bounded: past `limit` dirty keys a new key is refused and counted (the
// store then needs a full resync, which overflowed() says). Plain data, no
// I/O and no clock: the caller gives the time a change was made, which
// only comes back out (oldest()) to tell how far the store lags. The
// call_store drains it through a redis_link.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

namespace sbc::cluster {

class state_queue {
public:
    using clock = std::chrono::steady_clock;

    explicit state_queue(std::size_t limit) : _limit(limit) {}

    struct item {
        std::string key;
        std::optional<std::string> value;  ///< nullopt: delete the key
        /// Orders the changes of a key: a higher stamp is a newer change.
        std::uint64_t stamp = 0;
        /// When the key became dirty (its oldest change not yet written).
        clock::time_point since{};
    };

    /// The key's latest value replaces any pending one. False when the key
    /// was not pending and the queue is full (counted in dropped()).
    bool put(const std::string& key, std::string value, clock::time_point now = {});
    bool erase(const std::string& key, clock::time_point now = {});

    /// The oldest dirty key with its latest value, taken off the queue.
    std::optional<item> take();
    /// Gives an item back after a failed write, at the head of the queue,
    /// unless the key was made dirty again meanwhile (the newer value wins,
    /// and keeps the older `since`). Never refused: the item had its place.
    void give_back(item i);

    std::size_t size() const noexcept { return _pending.size(); }
    bool empty() const noexcept { return _pending.empty(); }
    std::size_t limit() const noexcept { return _limit; }
    /// When the key at the head became dirty; nullopt when empty.
    std::optional<clock::time_point> oldest() const;
    std::uint64_t dropped() const noexcept { return _dropped; }
    /// Some change was dropped since the last clear_overflow().
    bool overflowed() const noexcept { return _overflowed; }
    void clear_overflow() noexcept { _overflowed = false; }

private:
    struct entry {
        std::optional<std::string> value;
        std::uint64_t stamp = 0;
        clock::time_point since{};
    };
    bool mark(const std::string& key, std::optional<std::string> value, clock::time_point now);

    std::size_t _limit;
    std::unordered_map<std::string, entry> _pending;
    std::deque<std::string> _order;  ///< each pending key once, oldest first
    std::uint64_t _next_stamp = 1;
    std::uint64_t _dropped = 0;
    bool _overflowed = false;
};

}  // namespace sbc::cluster
