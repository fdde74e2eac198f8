// The flood guard: a source IP that sends SIP requests faster than allowed is
// blocked for a configured time.
//
// The b2bua asks it about every request, before any other work, and drops or
// refuses what it is told is blocked; the CLI lists blocked() and can
// unblock(). Each source has a token bucket; the request that finds it empty
// starts a block, and the first request after the block has ended starts a
// fresh, full bucket.
//
// Memory is bounded by max_sources so that a flood from spoofed addresses
// costs a fixed table. When it is full, a new source displaces, in this order:
// an idle source (its bucket full, so forgetting it loses nothing), the least
// recently seen unblocked one, and only when everything tracked is blocked,
// the block that ends first. Single-threaded (the SIP thread); time is injected.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sbc/admission/token_bucket.hpp"
#include "sbc/common/log.hpp"

namespace sbc::admission {

struct flood_settings {
    double rate = 0;     ///< requests per second allowed per source IP; 0: guard off
    unsigned burst = 0;  ///< 0: max(1, ceil(2*rate))
    std::chrono::seconds block_for{60};
    std::size_t max_sources =
        10000;  ///< sources tracked at most (memory bound under spoofed floods)
};

class flood_guard {
public:
    /// blocked_now: this request started a block (and is refused, like the ones after it).
    enum class verdict { pass, blocked_now, blocked };

    explicit flood_guard(flood_settings s);

    /// `source` is the IP address text ("203.0.113.7", "2001:db8::1"); the port is not part of
    /// it. The text is the key, so it must always be written one way (inet_ntop's). Every request
    /// answered blocked_now or blocked counts as dropped. With the guard off (rate 0), blocks
    /// already in place still hold until they end; nothing new is tracked. O(1) amortized.
    verdict on_request(std::string_view source, clock::time_point now);

    struct blocked_source {
        std::string address;
        clock::time_point since;
        clock::time_point until;
        std::uint64_t dropped = 0;  ///< requests refused during this block
    };
    /// Expired ones left out, sorted by address (as text).
    std::vector<blocked_source> blocked(clock::time_point now) const;
    /// Ends a block now; the source's next request starts a full bucket. False if it was not
    /// blocked.
    bool unblock(std::string_view source);

    std::uint64_t blocks() const noexcept { return _blocks; }    ///< blocks started in all
    std::uint64_t dropped() const noexcept { return _dropped; }  ///< requests refused in all
    std::size_t tracked() const noexcept { return _index.size(); }

    /// Keeps current blocks (with the `until` they started with). Other sources start over
    /// when the rate or burst changes; a smaller max_sources applies at once.
    void reconfigure(flood_settings s);

private:
    struct source_state {
        std::string address;
        token_bucket bucket;
        bool blocked = false;
        clock::time_point since{};
        clock::time_point until{};
        std::uint64_t dropped = 0;
    };
    // A source lives in exactly one of the two lists; splice moves it between
    // them without invalidating the iterator the index holds.
    using source_list = std::list<source_state>;

    bool enabled() const noexcept { return _settings.rate > 0; }
    std::size_t capacity() const noexcept;
    void expire_blocks(clock::time_point now);
    void start_block(source_list::iterator it, clock::time_point now);
    void make_room(clock::time_point now);
    void forget_idle(clock::time_point now);
    void forget(source_list& list, source_list::iterator it);

    flood_settings _settings;
    double _burst;         ///< effective burst of new buckets
    source_list _recent;   ///< unblocked sources, most recently seen first
    source_list _blocked;  ///< blocked sources, the block ending first at the front
    /// Keys view the `address` of the entry they point to; list nodes never move.
    std::unordered_map<std::string_view, source_list::iterator> _index;
    std::size_t _sweep_countdown = 0;  ///< table-full events until the next idle sweep
    std::uint64_t _blocks = 0;
    std::uint64_t _dropped = 0;
    log::rate_limit _block_log{10};
};

}  // namespace sbc::admission
