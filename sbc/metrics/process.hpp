// The standard process metrics (Prometheus client conventions:
// process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds), read from /proc/self on
// each scrape. prometheus-cpp has none of its own.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace sbc::metrics {

/// Appends the process families to `out`; one that cannot be read (no
/// /proc) is left out.
void add_process_families(std::vector<prometheus::MetricFamily>& out);

}  // namespace sbc::metrics
