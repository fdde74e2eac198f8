// This node's part in the trunk limits the active nodes of a cluster share
// (conf/README.md, "cluster"): the shared limits in the store
// (cluster/shared_limits.hpp) joined to the b2bua's admission, which asks
// them, tells them of its calls, and shows their counts in `sbcctl trunks`.
//
// Object graph: main owns it beside the b2bua, which it borrows and which
// outlives it; it owns the shared limits. Runs on the su_root thread.
#pragma once

#include <memory>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/cluster/shared_limits.hpp"
#include "sbc/config/config.hpp"

namespace sbc::node {

class cluster_limits {
public:
    /// Throws std::invalid_argument on a bad store address.
    cluster_limits(su_root_t* root, const config::cluster_config& cfg, b2bua::b2bua& calls,
                   cluster::shared_limits_settings settings = {});
    /// The b2bua decides alone from then on.
    ~cluster_limits();
    cluster_limits(const cluster_limits&) = delete;
    cluster_limits& operator=(const cluster_limits&) = delete;

    /// Connects to the store.
    void start();
    cluster::shared_limits& limits() noexcept { return *_limits; }

private:
    b2bua::b2bua& _calls;
    std::unique_ptr<cluster::shared_limits> _limits;
};

}  // namespace sbc::node
