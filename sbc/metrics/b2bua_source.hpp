// The exporter's builder for sbcd: the families of a running b2bua (what
// its control API answers, and its tally of ended calls). Control thread.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace sbc::b2bua {
class b2bua;
}

namespace sbc::metrics {

std::vector<prometheus::MetricFamily> families_of(b2bua::b2bua& b2bua);

}  // namespace sbc::metrics
