// Call admission for one trunk in one direction: a limit on concurrent calls
// and on new calls per second.
//
// The b2bua keeps one call_limiter per trunk and direction, asks it before a
// new INVITE becomes a call and releases when the call ends; a refusal is
// answered 503 with the Retry-After this module computes (RFC 3261 21.5.4,
// 20.33). Only new calls are limited: in-dialog requests never come here.
// Single-threaded (the SIP thread); time is injected.
#pragma once

#include <cstdint>
#include <string_view>

#include "sbc/admission/token_bucket.hpp"

namespace sbc::admission {

struct limits {
    unsigned max_calls = 0;    ///< concurrent calls; 0: no limit
    double cps = 0;            ///< new calls per second; 0: no limit
    unsigned burst = 0;        ///< calls allowed at once above the rate; 0: max(1, ceil(cps))
    unsigned retry_after = 5;  ///< seconds, in the 503 for max_calls
};

enum class verdict { admitted, too_many_calls, too_many_per_second };

/// "admitted", "max_calls", "cps": the names the CLI and the CDR reason use.
std::string_view to_string(verdict v) noexcept;

struct decision {
    verdict what = verdict::admitted;
    unsigned retry_after = 0;  ///< seconds for Retry-After (RFC 3261 20.33); 0 when admitted
    explicit operator bool() const noexcept { return what == verdict::admitted; }
};

/// One trunk, one direction.
class call_limiter {
public:
    call_limiter(limits l, clock::time_point now);

    /// Admits a new call (active()+1) or says why not. The concurrency check comes first and
    /// a refused call takes no token. retry_after for cps = the bucket's seconds_until_token (>=1).
    decision try_admit(clock::time_point now);
    /// A call admitted here ended (never below 0).
    void release() noexcept;
    /// A call admitted elsewhere (another node, whose calls this one took
    /// over) is held here now: counted whatever the limits, since refusing
    /// it would drop a call that is up.
    void adopt() noexcept { ++_active; }
    /// A call admitted by a decision made elsewhere (the cluster's shared
    /// limits): counted as admitted here, whatever the local limits say.
    void count_admitted() noexcept {
        ++_active;
        ++_admitted;
    }
    /// A call refused by a decision made elsewhere, for the counters.
    void count_refused(verdict why) noexcept;

    unsigned active() const noexcept { return _active; }
    std::uint64_t admitted() const noexcept { return _admitted; }
    std::uint64_t refused_max_calls() const noexcept { return _refused_max_calls; }
    std::uint64_t refused_cps() const noexcept { return _refused_cps; }

    /// A new configuration (reload): keeps active() and the counters, restarts the bucket.
    /// Lowering max_calls below active() ends no call; new ones are refused until enough end.
    void reconfigure(limits l, clock::time_point now);

private:
    limits _limits;
    token_bucket _bucket;
    unsigned _active = 0;
    std::uint64_t _admitted = 0;
    std::uint64_t _refused_max_calls = 0;
    std::uint64_t _refused_cps = 0;
};

}  // namespace sbc::admission
