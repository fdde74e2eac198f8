#include "sbc/node/cluster_limits.hpp"

namespace sbc::node {

cluster_limits::cluster_limits(su_root_t* root, const config::cluster_config& cfg,
                               b2bua::b2bua& calls, cluster::shared_limits_settings settings)
    : _calls(calls) {
    auto counts = [&calls] {
        std::vector<cluster::shared_limits::node_count> out;
        for (const auto& c : calls.admission_counts()) {
            out.push_back({c.trunk, c.inbound, c.calls});
        }
        return out;
    };
    _limits = std::make_unique<cluster::shared_limits>(root, cfg, counts, settings);
    _calls.set_shared_limits(_limits.get());
    _calls.set_shared_view([this](const std::string& trunk, bool inbound) {
        const auto active = _limits->cluster_active(trunk, inbound);
        return nlohmann::json{
            {"active", active ? nlohmann::json(*active) : nlohmann::json(nullptr)},
            {"decided_by", _limits->decided_by(trunk, inbound)},
            {"store_up", _limits->stats().up}};
    });
}

cluster_limits::~cluster_limits() {
    _calls.set_shared_view({});
    _calls.set_shared_limits(nullptr);
}

void cluster_limits::start() { _limits->start(); }

}  // namespace sbc::node
