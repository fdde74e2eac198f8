// make_dpdk_engine where sbcd was built without DPDK (-Ddpdk=disabled, or
// libdpdk-dev missing): the configuration may still say dpdk, and sbcd then
// says why it cannot start.
#include <stdexcept>

#include "dataplane/api/media_engine.hpp"

namespace sbc::dataplane {

std::unique_ptr<media_engine> make_dpdk_engine(const engine_config&) {
    throw std::runtime_error("dpdk: this sbcd was built without DPDK (install libdpdk-dev)");
}

}  // namespace sbc::dataplane
