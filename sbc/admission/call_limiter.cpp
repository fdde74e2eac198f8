#include "sbc/admission/call_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace sbc::admission {

namespace {

token_bucket make_bucket(const limits& l, clock::time_point now) {
    // The default burst lets one second's worth of calls through at once, so a
    // trunk at 10 cps is not refused for ten INVITEs arriving in the same tick.
    const double burst =
        l.burst > 0 ? static_cast<double>(l.burst) : std::max(1.0, std::ceil(l.cps));
    return token_bucket(l.cps, burst, now);
}

}  // namespace

std::string_view to_string(verdict v) noexcept {
    switch (v) {
        case verdict::admitted:
            return "admitted";
        case verdict::too_many_calls:
            return "max_calls";
        case verdict::too_many_per_second:
            return "cps";
    }
    return "?";
}

call_limiter::call_limiter(limits l, clock::time_point now)
    : _limits(l), _bucket(make_bucket(l, now)) {}

decision call_limiter::try_admit(clock::time_point now) {
    // Concurrency first: a call refused for max_calls must not spend a token
    // that a call admitted a moment later would need.
    if (_limits.max_calls > 0 && _active >= _limits.max_calls) {
        ++_refused_max_calls;
        return {.what = verdict::too_many_calls, .retry_after = _limits.retry_after};
    }
    if (!_bucket.try_take(now)) {
        ++_refused_cps;
        return {.what = verdict::too_many_per_second,
                .retry_after = std::max(1U, _bucket.seconds_until_token(now))};
    }
    ++_active;
    ++_admitted;
    return {.what = verdict::admitted, .retry_after = 0};
}

void call_limiter::release() noexcept {
    // An unmatched release (a bug on some call-end path) must not wrap the
    // count around and refuse every call on the trunk from then on.
    if (_active > 0) {
        --_active;
    }
}

void call_limiter::count_refused(verdict why) noexcept {
    if (why == verdict::too_many_calls) {
        ++_refused_max_calls;
    } else if (why == verdict::too_many_per_second) {
        ++_refused_cps;
    }
}

void call_limiter::reconfigure(limits l, clock::time_point now) {
    _limits = l;
    _bucket = make_bucket(l, now);
}

}  // namespace sbc::admission
