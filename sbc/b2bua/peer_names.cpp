#include "sbc/b2bua/peer_names.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "sbc/common/log.hpp"

namespace sbc::b2bua {

namespace {

constexpr log::logger names_log{"trunk"};

config::transport config_transport(dns::transport t) noexcept {
    switch (t) {
        case dns::transport::tcp:
            return config::transport::tcp;
        case dns::transport::tls:
            return config::transport::tls;
        case dns::transport::udp:
            break;
    }
    return config::transport::udp;
}

}  // namespace

std::vector<trunking::target> targets_of(const config::peer_config& peer,
                                         const std::vector<dns::target>& answer) {
    std::vector<trunking::target> out;
    for (const auto& a : answer) {
        trunking::target t;
        t.host = a.address;
        t.port = a.port;
        t.proto = config_transport(a.proto);
        // sip_lookup gives the addresses of the domain itself (no SRV
        // records, or a port in the URI) priority and weight 0 and the
        // peer's own host: they keep what the configuration says.
        const bool from_srv = !(a.host == peer.host && a.priority == 0 && a.weight == 0);
        t.priority = from_srv ? a.priority : peer.priority;
        t.weight = from_srv ? a.weight : peer.weight;
        out.push_back(std::move(t));
    }
    return out;
}

dns::transport_set transports_of(const config::interface_config& iface) {
    auto set = dns::transport_set();
    for (const auto& l : iface.listen) {
        set = set.with(l.proto == config::transport::tls   ? dns::transport::tls
                       : l.proto == config::transport::tcp ? dns::transport::tcp
                                                           : dns::transport::udp);
    }
    return set;
}

bool peer_names::needed(const config::config& cfg) {
    return std::any_of(cfg.trunks.begin(), cfg.trunks.end(), [](const config::trunk_config& t) {
        return std::any_of(t.peers.begin(), t.peers.end(),
                           [](const config::peer_config& p) { return p.is_name; });
    });
}

peer_names::peer_names(su_root_t* root, const config::config& cfg,
                       std::map<std::string, trunking::peer_table>& tables, change_fn on_change)
    : _cfg(cfg), _tables(tables), _on_change(std::move(on_change)) {
    _watch =
        std::make_unique<dns::name_watch>(root, config::resolver_settings(cfg.dns),
                                          [this](const dns::name_state& s) { on_resolved(s); });
    for (const auto& t : cfg.trunks) {
        add_trunk(t);
    }
}

peer_names::~peer_names() = default;

void peer_names::add_trunk(const config::trunk_config& trunk) {
    const auto* iface = _cfg.find_interface(trunk.interface);
    const auto allowed = iface != nullptr ? transports_of(*iface) : dns::transport_set::all();
    for (std::size_t i = 0; i < trunk.peers.size(); ++i) {
        const auto& peer = trunk.peers[i];
        if (!peer.is_name) {
            continue;
        }
        auto key = _watch->add(config::to_string(peer), allowed);
        if (!key) {
            // The configuration's parser took it: the two parsers disagree.
            names_log.error("trunk {}: peer {} cannot be resolved: {}", trunk.name,
                            config::to_string(peer), key.error_message());
            continue;
        }
        _bindings.push_back({trunk.name, i, key.value()});
        // A name another trunk watches already has its answer: no change
        // is coming for this binding.
        auto targets = _watch->targets(key.value());
        auto table = _tables.find(trunk.name);
        if (!targets.empty() && table != _tables.end()) {
            table->second.set_resolved(i, targets_of(peer, targets), trunking::clock::now());
        }
    }
}

void peer_names::remove_trunk(const std::string& name) {
    for (auto it = _bindings.begin(); it != _bindings.end();) {
        if (it->trunk == name) {
            _watch->remove(it->key);
            it = _bindings.erase(it);
        } else {
            ++it;
        }
    }
}

void peer_names::refresh_all() {
    for (const auto& s : _watch->states()) {
        _watch->refresh(s.name);
    }
}

std::optional<dns::name_state> peer_names::state_of(const std::string& trunk,
                                                    std::size_t peer) const {
    for (const auto& b : _bindings) {
        if (b.trunk == trunk && b.peer == peer) {
            return _watch->state(b.key);
        }
    }
    return std::nullopt;
}

void peer_names::on_resolved(const dns::name_state& s) {
    const auto now = trunking::clock::now();
    bool changed = false;
    for (const auto& b : _bindings) {
        if (b.key != s.name) {
            continue;
        }
        auto table = _tables.find(b.trunk);
        if (table == _tables.end()) {
            continue;
        }
        const auto& peer = table->second.trunk().peers.at(b.peer);
        if (table->second.set_resolved(b.peer, targets_of(peer, s.targets), now)) {
            changed = true;
            if (s.targets.empty()) {
                names_log.warn("trunk {}: peer {} has no targets any more", b.trunk, s.name);
            }
        }
    }
    if (changed && _on_change) {
        _on_change();
    }
}

}  // namespace sbc::b2bua
