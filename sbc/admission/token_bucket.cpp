#include "sbc/admission/token_bucket.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sbc::admission {

namespace {

// Refills are sums of rate * elapsed in double; without some slack a bucket
// at 10/s could hold 0.9999999999 tokens after exactly 100 ms.
constexpr double slack = 1e-9;

}  // namespace

// `!(x > 0)` rather than `x <= 0` so that a NaN from a bad configuration
// means "no limit" instead of a bucket that never refills.
token_bucket::token_bucket(double rate, double burst, clock::time_point now)
    : _rate(rate > 0 ? rate : 0), _burst(burst > 1 ? burst : 1), _tokens(_burst), _last(now) {}

double token_bucket::tokens_at(clock::time_point now) const {
    // A clock that steps back (a test, or a caller mixing time points) must
    // neither drain the bucket nor refill it.
    if (now <= _last) {
        return _tokens;
    }
    const double elapsed = std::chrono::duration<double>(now - _last).count();
    return std::min(_burst, _tokens + _rate * elapsed);
}

bool token_bucket::try_take(clock::time_point now) {
    if (_rate == 0) {
        return true;
    }
    _tokens = tokens_at(now);
    _last = std::max(_last, now);
    if (_tokens + slack < 1) {
        return false;
    }
    _tokens = std::max(0.0, _tokens - 1);
    return true;
}

unsigned token_bucket::seconds_until_token(clock::time_point now) const {
    if (_rate == 0) {
        return 0;
    }
    const double missing = 1 - tokens_at(now);
    if (missing <= slack) {
        return 0;
    }
    const double seconds = std::ceil(missing / _rate - slack);
    // A tiny configured rate must not overflow the conversion.
    if (seconds >= static_cast<double>(std::numeric_limits<unsigned>::max())) {
        return std::numeric_limits<unsigned>::max();
    }
    return std::max(1U, static_cast<unsigned>(seconds));
}

bool token_bucket::full(clock::time_point now) const {
    return _rate == 0 || tokens_at(now) + slack >= _burst;
}

}  // namespace sbc::admission
