#include "sbc/cluster/store_link.hpp"

#include <chrono>
#include <utility>

namespace sbc::cluster {

link_settings store_link_settings(const config::cluster_config& cfg, std::string client_name) {
    link_settings s;
    s.address = cfg.store.address;
    s.user = cfg.store.user;
    s.password = cfg.store.password;
    s.client_name = std::move(client_name);
    s.timeout = std::chrono::milliseconds(cfg.store.timeout_ms);
    if (const auto& t = cfg.store.tls) {
        s.tls = link_tls{t->ca_file, t->cert_file, t->key_file, t->server_name, t->verify};
    }
    return s;
}

}  // namespace sbc::cluster
