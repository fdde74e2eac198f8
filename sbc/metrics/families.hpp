// The metric families sbcd exports, built on the control thread from what
// sbcd already counts: the control API's answers (the same JSON `sbcctl
// stats` and `sbcctl trunks` print) and the B2BUA's tally of ended calls.
//
// Names and labels follow Prometheus conventions (prefix sbc_, counters end
// in _total, seconds and bytes, label values from bounded sets: trunk,
// peer, interface, direction, reason, codec pair, worker). conf/README.md
// ("metrics") documents each family.
//
// A pure function of its input, so that tests can feed it made-up numbers.
#pragma once

#include <prometheus/metric_family.h>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <vector>

#include "sbc/b2bua/call_tally.hpp"

namespace sbc::metrics {

/// What the families are built from; all of it read on the control thread.
struct metrics_input {
    std::size_t active_calls = 0;
    bool draining = false;                     ///< a drain is under way (sbcctl drain)
    nlohmann::json trunks;                     ///< control_handler::trunks()
    nlohmann::json stats;                      ///< control_handler::stats()
    const b2bua::call_tally* tally = nullptr;  ///< borrowed; none: no call has ended
};

/// The families of `in`, in a fixed order. Missing or odd fields in the JSON
/// count as absent (no sample), never as an error.
std::vector<prometheus::MetricFamily> build_families(const metrics_input& in);

}  // namespace sbc::metrics
