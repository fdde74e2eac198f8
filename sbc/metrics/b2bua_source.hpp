// The exporter's builder for sbcd: the families of a running b2bua (what
// its control API answers, its tally of ended calls, its interfaces' nta
// counters, the cluster's store when there is one) and of the SIP
// counters. Control thread.
#pragma once

#include <prometheus/metric_family.h>

#include <memory>
#include <vector>

namespace sbc::b2bua {
class b2bua;
}

namespace sbc::metrics {

class sip_counters;

/// `sip`: borrowed, may be null (no SIP families).
std::vector<prometheus::MetricFamily> families_of(b2bua::b2bua& b2bua,
                                                  const sip_counters* sip = nullptr);

/// SIP counters for the b2bua's interfaces, with the addresses their
/// listeners are bound to; they count nothing until added to the SIP tap
/// (sbc/capture/sip_tap.hpp).
std::unique_ptr<sip_counters> make_sip_counters(b2bua::b2bua& b2bua);

}  // namespace sbc::metrics
