// The settings of a Redis link to the cluster's store, from the
// configuration: one place for what the call store, the binding store and
// the shared limits each connect with (address, AUTH, timeout, TLS).
#pragma once

#include <string>

#include "sbc/cluster/redis_link.hpp"
#include "sbc/config/config.hpp"

namespace sbc::cluster {

/// `client_name` is what CLIENT SETNAME gives the connection.
link_settings store_link_settings(const config::cluster_config& cfg, std::string client_name);

}  // namespace sbc::cluster
