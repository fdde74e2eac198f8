// What the B2BUA counts of call attempts that have ended, for the
// Prometheus exporter (sbc/metrics): attempts by trunk and final status
// class, the time from INVITE to answer, and the media counters of the
// calls that are gone (a live call's own are in its media session; the
// exporter adds both, so that its totals only grow). Besides, as they
// happen: the time from INVITE to the first 18x relayed, and digest
// authentication refused either way.
//
// Counted once per attempt, when its CDR record is made (call::write_cdr,
// b2bua::refused_cdr), whether or not a CDR file is configured. Control
// thread only, like the b2bua that owns it.
#pragma once

#include "dataplane/api/media_engine.hpp"
#include "sbc/cdr/record.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sbc::b2bua {

/// A Prometheus histogram's data: counts per upper bound (not cumulative),
/// one more for +Inf, the count and the sum.
struct seconds_histogram {
    /// INVITE to 200 spans a PSTN call's post-dial delay (seconds) and a
    /// person's time to pick up (tens of seconds).
    static constexpr std::array<double, 11> bounds{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60};
    std::array<std::uint64_t, bounds.size() + 1> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
    void observe(double seconds) noexcept;
};

struct trunk_tally {
    std::uint64_t attempted = 0;  ///< ended attempts, whatever their outcome
    std::uint64_t answered = 0;   ///< those that were answered (2xx to the caller)
    /// Attempts not answered, by final status class ("3xx".."6xx").
    std::map<std::string, std::uint64_t> failed;
    seconds_histogram setup;  ///< INVITE received to 2xx sent, answered attempts only
    /// INVITE received to the first 18x relayed to the caller (or the
    /// SBC's own 183 of local ringback), counted when it is sent.
    seconds_histogram ringing;
};

/// A digest refusal's place: the trunk, which way (inbound: the SBC
/// refused credentials a peer sent, or asked for some it did not send;
/// outbound: a trunk refused the SBC's, or the SBC could not answer its
/// challenge) and why, from a fixed set of reasons.
struct digest_refusal {
    std::string trunk;
    bool inbound = true;
    std::string reason;
    auto operator<=>(const digest_refusal&) const = default;
};

/// The media quality of the legs on a trunk at their calls' end (the CDR's
/// media.a/b.quality; a leg whose peer sent no RTP is not counted).
struct quality_tally {
    /// Estimated MOS (1-4.5, sbc/media_ctl/quality.hpp): per leg, counts per
    /// upper bound (not cumulative), one more for +Inf.
    static constexpr std::array<double, 7> bounds{1, 2, 3, 3.5, 4, 4.3, 4.5};
    std::array<std::uint64_t, bounds.size() + 1> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
    /// RTP packets from the trunk's peers lost on the way (RFC 3550 A.3;
    /// a leg whose duplicates outnumber its losses adds nothing).
    std::uint64_t rtp_lost = 0;
    void observe(const cdr::leg_quality& q) noexcept;
};

/// Media counters (dataplane::side_counters) summed over both legs.
struct media_tally {
    std::uint64_t rx_packets = 0;  ///< RTP and RTCP received from the peers
    std::uint64_t rx_bytes = 0;    ///< RTP payload bytes received
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_bytes = 0;
    /// By reason, named as `sbcctl stats` names them ("wrong_source", ...).
    std::map<std::string, std::uint64_t> drops;
    void add(const dataplane::side_counters& c);
};

class call_tally {
public:
    /// An attempt that ended, by the trunk it came from (r.from_trunk).
    void count_attempt(const cdr::record& r);
    /// The last counters of a call's media session, as the call ends.
    void count_media(const dataplane::session_stats& st);
    /// The first 18x of a call from `trunk` relayed `seconds` after its INVITE.
    void count_ringing(const std::string& trunk, double seconds);
    /// A digest refusal; `reason` is one of the names conf/README.md lists.
    void count_digest_refusal(const std::string& trunk, bool inbound, std::string_view reason);

    const std::map<std::string, trunk_tally>& trunks() const noexcept { return _trunks; }
    const media_tally& media() const noexcept { return _media; }
    const std::map<digest_refusal, std::uint64_t>& digest_refusals() const noexcept {
        return _digest_refusals;
    }
    /// By the trunk of the leg (the caller's: from_trunk; the callee's: to_trunk).
    const std::map<std::string, quality_tally>& quality() const noexcept { return _quality; }

private:
    std::map<std::string, trunk_tally> _trunks;
    media_tally _media;
    std::map<digest_refusal, std::uint64_t> _digest_refusals;
    std::map<std::string, quality_tally> _quality;
};

}  // namespace sbc::b2bua
