#include "sbc/b2bua/call_tally.hpp"

#include <chrono>

namespace sbc::b2bua {

void seconds_histogram::observe(double seconds) noexcept {
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) {
        ++i;
    }
    ++buckets[i];
    ++count;
    sum += seconds;
}

void quality_tally::observe(const cdr::leg_quality& q) noexcept {
    std::size_t i = 0;
    while (i < bounds.size() && q.mos > bounds[i]) {
        ++i;
    }
    ++buckets[i];
    ++count;
    sum += q.mos;
    if (q.rtp_lost > 0) {
        rtp_lost += static_cast<std::uint64_t>(q.rtp_lost);
    }
}

void media_tally::add(const dataplane::side_counters& c) {
    rx_packets += c.rtp_rx_packets + c.rtcp_rx_packets;
    rx_bytes += c.rtp_rx_bytes;
    tx_packets += c.tx_packets;
    tx_bytes += c.tx_bytes;
    drops["wrong_source"] += c.drops_wrong_source;
    drops["no_destination"] += c.drops_no_destination;
    drops["tx_error"] += c.drops_tx_error;
    drops["truncated"] += c.drops_truncated;
    drops["srtp_auth"] += c.srtp_auth_failures;
    drops["srtp_replay"] += c.srtp_replays;
    drops["srtp_protect"] += c.srtp_errors;
    drops["transcoded_rtcp"] += c.drops_transcoded_rtcp;
    drops["local_tone"] += c.drops_local_tone;
}

void call_tally::count_attempt(const cdr::record& r) {
    for (const auto& [trunk, m] :
         {std::pair{&r.from_trunk, &r.media_a}, std::pair{&r.to_trunk, &r.media_b}}) {
        if (m->quality && !trunk->empty()) {
            _quality[*trunk].observe(*m->quality);
        }
    }
    auto& t = _trunks[r.from_trunk];
    ++t.attempted;
    if (r.answer) {
        ++t.answered;
        // The wall clock may have been stepped back meanwhile: 0, as the CDR does.
        const auto setup = std::chrono::duration<double>(*r.answer - r.start).count();
        t.setup.observe(setup > 0 ? setup : 0);
        return;
    }
    const int status = r.status >= 300 && r.status <= 699 ? r.status : 500;
    ++t.failed[std::to_string(status / 100) + "xx"];
}

void call_tally::count_media(const dataplane::session_stats& st) {
    for (const auto& side : st.sides) {
        _media.add(side);
    }
}

void call_tally::count_ringing(const std::string& trunk, double seconds) {
    _trunks[trunk].ringing.observe(seconds > 0 ? seconds : 0);
}

void call_tally::count_digest_refusal(const std::string& trunk, bool inbound,
                                      std::string_view reason) {
    ++_digest_refusals[{trunk, inbound, std::string(reason)}];
}

}  // namespace sbc::b2bua
