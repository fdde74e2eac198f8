// Remembers which nonce counts each of the SBC's nonces has been used with,
// so that captured credentials cannot be sent again while their nonce is
// still fresh (RFC 7616 3.3, 3.4.5: a server checks that nc grows).
//
// The nonces themselves stay stateless (nonce.hpp); this is the small
// piece of state that makes replays fail: one entry per nonce in use,
// forgotten when the nonce expires. Not thread-safe: the b2bua's thread
// owns it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sbc::auth {

class replay_guard {
public:
    using clock = std::chrono::steady_clock;

    /// `lifetime`: how long a nonce is accepted (entries live that long
    /// after their last use); `capacity`: the most nonces remembered.
    explicit replay_guard(std::chrono::seconds lifetime, std::size_t capacity = 65536);

    /// True when credentials with `nonce` and nonce count `nc` may be
    /// accepted: `nc` is above every count already accepted with this nonce
    /// (without qop there is no count: pass 0, and a nonce is good once).
    /// Records it when true. False too when the table is full of live
    /// nonces: the client is challenged again rather than let through.
    bool accept(std::string_view nonce, std::uint32_t nc, clock::time_point now);

    std::size_t size() const noexcept { return _seen.size(); }

private:
    struct entry {
        std::uint32_t nc = 0;
        bool used_without_count = false;
        clock::time_point last_use;
    };
    void forget_expired(clock::time_point now);

    std::chrono::seconds _lifetime;
    std::size_t _capacity;
    std::unordered_map<std::string, entry> _seen;
};

}  // namespace sbc::auth
