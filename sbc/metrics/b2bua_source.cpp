#include "sbc/metrics/b2bua_source.hpp"

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/metrics/families.hpp"
#include "sbc/metrics/sip_counters.hpp"

// After sbc/sofia/nta.hpp (through b2bua.hpp), which must be the first to
// include nta.h: it sets the callback context types.
#include <sofia-sip/nta_tag.h>

namespace sbc::metrics {

namespace {

std::vector<interface_retransmissions> retransmissions_of(b2bua::b2bua& b2bua) {
    std::vector<interface_retransmissions> out;
    for (const auto& cfg : b2bua.cfg().interfaces) {
        const auto* iface = b2bua.find_interface(cfg.name);
        if (iface == nullptr || iface->agent() == nullptr) {
            continue;
        }
        usize_t sent = 0;
        usize_t received = 0;
        nta_agent_get_stats(iface->agent(), NTATAG_S_RETRY_REQUEST_REF(sent),
                            NTATAG_S_RECV_RETRY_REF(received), TAG_END());
        out.push_back({cfg.name, sent, received});
    }
    return out;
}

}  // namespace

std::vector<prometheus::MetricFamily> families_of(b2bua::b2bua& b2bua, const sip_counters* sip) {
    metrics_input in;
    const auto status = b2bua.status();
    in.active_calls = status.active_calls;
    in.draining = status.drain.has_value();
    in.trunks = b2bua.trunks();
    in.stats = b2bua.stats();
    in.tally = &b2bua.tally();
    in.sip = sip;
    in.retransmissions = retransmissions_of(b2bua);
    in.cluster = b2bua.cluster({{"action", "show"}});
    return build_families(in);
}

std::unique_ptr<sip_counters> make_sip_counters(b2bua::b2bua& b2bua) {
    std::vector<interface_addresses> interfaces;
    for (const auto& cfg : b2bua.cfg().interfaces) {
        interface_addresses a{cfg.name, {}};
        const auto* iface = b2bua.find_interface(cfg.name);
        for (const auto& l : cfg.listen) {
            // Port 0 (in-process tests): the port the kernel chose.
            const auto port = l.port != 0 || iface == nullptr ? l.port : iface->bound_port(l.proto);
            if (auto ep = dataplane::ip_endpoint::from_string(l.host, port)) {
                a.listeners.push_back(*ep);
            }
        }
        interfaces.push_back(std::move(a));
    }
    return std::make_unique<sip_counters>(std::move(interfaces));
}

}  // namespace sbc::metrics
