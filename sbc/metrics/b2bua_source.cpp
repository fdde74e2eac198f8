#include "sbc/metrics/b2bua_source.hpp"

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/metrics/families.hpp"

namespace sbc::metrics {

std::vector<prometheus::MetricFamily> families_of(b2bua::b2bua& b2bua) {
    metrics_input in;
    const auto status = b2bua.status();
    in.active_calls = status.active_calls;
    in.draining = status.drain.has_value();
    in.trunks = b2bua.trunks();
    in.stats = b2bua.stats();
    in.tally = &b2bua.tally();
    return build_families(in);
}

}  // namespace sbc::metrics
