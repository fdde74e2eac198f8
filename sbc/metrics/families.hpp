// The metric families sbcd exports, built on the control thread from what
// sbcd already counts: the control API's answers (the same JSON `sbcctl
// stats` and `sbcctl trunks` print) and the B2BUA's tally of ended calls.
//
// Names and labels follow Prometheus conventions (prefix sbc_, counters end
// in _total, seconds and bytes, label values from bounded sets: trunk,
// peer, interface, direction, method, status class, reason, codec pair,
// worker). Besides the JSON: the SIP tap's counters (sip_counters.hpp),
// nta's retransmission counters and the cluster's store figures. conf/README.md
// ("metrics") documents each family.
//
// A pure function of its input, so that tests can feed it made-up numbers.
#pragma once

#include <prometheus/metric_family.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sbc/b2bua/call_tally.hpp"

namespace sbc::metrics {

class sip_counters;

/// nta's retransmission counters of one interface's agent
/// (nta_agent_get_stats): requests it sent again (timers A and E, RFC 3261
/// 17.1), requests it received again and absorbed. Responses sent again are
/// left out: sofia-sip 1.12's nta declares a counter for them
/// (NTATAG_S_RETRY_RESPONSE) but never increments it.
struct interface_retransmissions {
    std::string interface;
    std::uint64_t requests_sent = 0;
    std::uint64_t requests_received = 0;
};

/// What the families are built from; all of it read on the control thread.
struct metrics_input {
    std::size_t active_calls = 0;
    bool draining = false;                     ///< a drain is under way (sbcctl drain)
    nlohmann::json trunks;                     ///< control_handler::trunks()
    nlohmann::json stats;                      ///< control_handler::stats()
    const b2bua::call_tally* tally = nullptr;  ///< borrowed; none: no call has ended
    /// Borrowed; none: the SIP tap is not listened to, no SIP families.
    const sip_counters* sip = nullptr;
    std::vector<interface_retransmissions> retransmissions;
    /// control_handler::cluster({}) (what `sbcctl cluster` shows); null or
    /// an error answer when the node is not in a cluster.
    nlohmann::json cluster;
};

/// The families of `in`, in a fixed order. Missing or odd fields in the JSON
/// count as absent (no sample), never as an error.
std::vector<prometheus::MetricFamily> build_families(const metrics_input& in);

}  // namespace sbc::metrics
