// A token bucket on an injected clock: the rate limiter under the per-trunk
// calls-per-second limit (call_limiter) and the per-source flood guard
// (flood_guard).
//
// Time is always passed in rather than read, so the admission code is
// deterministic and its tests need no sleeping. Single-threaded (the SIP
// thread), like everything in sbc::admission.
#pragma once

#include <chrono>

namespace sbc::admission {

using clock = std::chrono::steady_clock;

class token_bucket {
public:
    /// `rate` tokens per second, at most `burst` stored (burst >= 1); starts full.
    /// rate <= 0 means unlimited: try_take always succeeds.
    token_bucket(double rate, double burst, clock::time_point now);

    /// Takes one token if there is one.
    bool try_take(clock::time_point now);
    /// Whole seconds until one token is available (ceil, at least 1; 0 when one is available now).
    unsigned seconds_until_token(clock::time_point now) const;
    /// Refilled to burst (an idle source).
    bool full(clock::time_point now) const;

private:
    /// Tokens at `now` without storing them, so the const queries agree with try_take.
    double tokens_at(clock::time_point now) const;

    double _rate;  ///< tokens per second; 0: unlimited
    double _burst;
    double _tokens;
    clock::time_point _last;  ///< when _tokens was computed
};

}  // namespace sbc::admission
