#include "sbc/service/status_line.hpp"

#include <fmt/format.h>

#include <cmath>

namespace sbc::service {

std::string status_line(const summary& s) {
    auto line = fmt::format("{} call{}, {} of {} peers up", s.calls, s.calls == 1 ? "" : "s",
                            s.peers_up, s.peers_total);
    if (s.cluster_active) {
        line += *s.cluster_active ? ", cluster active" : ", cluster standby";
    }
    if (s.draining) {
        line += ", draining";
        if (s.drain_seconds_left) {
            line += fmt::format(" (deadline in {} s)",
                                static_cast<long long>(std::ceil(*s.drain_seconds_left)));
        }
    }
    return line;
}

}  // namespace sbc::service
