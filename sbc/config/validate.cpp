// The checks that span several entries of the configuration: unique names,
// references between sections, listeners that would fight over one socket,
// and peers that their interface cannot reach or that two trunks claim.
#include "sbc/config/address.hpp"
#include "sbc/config/decode.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace sbc::config::detail {

namespace {

YAML::Mark mark_of(const decoded& d, const std::string& path, source_mark fallback) {
    if (auto it = d.marks.find(path); it != d.marks.end()) {
        return it->second;
    }
    YAML::Mark m;
    m.line = fallback.line - 1;
    m.column = fallback.column - 1;
    return m;
}

template <typename Entry>
std::string defined_names(const std::vector<Entry>& entries) {
    constexpr std::size_t max_listed = 10;
    std::string out;
    std::size_t listed = 0;
    for (const auto& e : entries) {
        if (e.name.empty() ||
            &e != &*std::find_if(entries.begin(), entries.end(),
                                 [&](const Entry& f) { return f.name == e.name; })) {
            continue;  // unnamed, or a duplicate reported on its own
        }
        if (listed == max_listed) {
            return out + ", ...";
        }
        out += listed == 0 ? "" : ", ";
        out += e.name;
        ++listed;
    }
    return out.empty() ? "none" : out;
}

template <typename Entry>
void check_unique_names(const decoded& d, const std::vector<Entry>& entries,
                        const std::vector<std::string>& paths, std::string_view kind,
                        problem_list& p) {
    std::map<std::string, std::size_t> first;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& name = entries[i].name;
        if (name.empty()) {
            continue;  // already reported as a bad or missing name
        }
        auto [it, inserted] = first.emplace(name, i);
        if (!inserted) {
            const auto path = join_path(paths[i], "name");
            p.add(mark_of(d, path, entries[i].mark), path,
                  fmt::format("expected a unique {} name ({} is already defined on line {})", kind,
                              quote(name), entries[it->second].mark.line));
        }
    }
}

template <typename Entry>
void check_reference(const decoded& d, const std::vector<Entry>& targets, bool all_names_known,
                     std::string_view kind, const std::string& name, const std::string& path,
                     source_mark owner, problem_list& p) {
    if (name.empty() || !all_names_known) {
        return;  // a bad name was reported already; an unreadable target may be the one meant
    }
    for (const auto& t : targets) {
        if (t.name == name) {
            return;
        }
    }
    p.add(mark_of(d, path, owner), path,
          fmt::format("expected the name of {} (defined: {}) (got {})", kind,
                      defined_names(targets), quote(name)));
}

void check_references(const decoded& d, problem_list& p) {
    const auto& cfg = d.cfg;
    for (std::size_t i = 0; i < cfg.trunks.size(); ++i) {
        const auto& t = cfg.trunks[i];
        check_reference(d, cfg.interfaces, d.all_interface_names, "an interface", t.interface,
                        join_path(d.trunk_paths[i], "interface"), t.mark, p);
        const auto iface = std::find_if(cfg.interfaces.begin(), cfg.interfaces.end(),
                                        [&](const auto& x) { return x.name == t.interface; });
        if (t.use_fqdn && iface != cfg.interfaces.end() && iface->fqdn.empty()) {
            // Set by the trunk, or by its profile (then pointed at the trunk).
            const auto path = join_path(d.trunk_paths[i], "use_fqdn");
            p.add(mark_of(d, path, t.mark), path,
                  fmt::format("the SBC names itself by its fqdn towards this trunk, and "
                              "interface {} has none (give it an fqdn, or set use_fqdn: false)",
                              t.interface));
        }
    }
    for (std::size_t i = 0; i < cfg.routes.size(); ++i) {
        const auto& r = cfg.routes[i];
        const auto& path = d.route_paths[i];
        if (r.from_trunk) {
            check_reference(d, cfg.trunks, d.all_trunk_names, "a trunk", *r.from_trunk,
                            join_path(path, "from_trunk"), r.mark, p);
        }
        if (r.from_interface) {
            check_reference(d, cfg.interfaces, d.all_interface_names, "an interface",
                            *r.from_interface, join_path(path, "from_interface"), r.mark, p);
        }
        for (std::size_t t = 0; t < r.to_trunks.size(); ++t) {
            // A list's entries have their own marks ("to_trunk[1]").
            auto at = fmt::format("{}[{}]", join_path(path, "to_trunk"), t);
            if (d.marks.count(at) == 0) {
                at = join_path(path, "to_trunk");
            }
            check_reference(d, cfg.trunks, d.all_trunk_names, "a trunk", r.to_trunks[t], at, r.mark,
                            p);
        }
        // The media session is anchored on the first trunk's interface
        // before the INVITE leaves; a later trunk of the list reuses it.
        const auto* first = cfg.find_trunk(r.to_trunks.empty() ? "" : r.to_trunks.front());
        for (std::size_t t = 1; first != nullptr && t < r.to_trunks.size(); ++t) {
            const auto* other = cfg.find_trunk(r.to_trunks[t]);
            if (other != nullptr && other->interface != first->interface) {
                auto at = fmt::format("{}[{}]", join_path(path, "to_trunk"), t);
                p.add(mark_of(d, at, r.mark), at,
                      fmt::format("expected a trunk on interface {}, as {} is: the trunks of a "
                                  "route share an interface (got {} on {})",
                                  first->interface, first->name, quote(other->name),
                                  other->interface));
            }
        }
    }
}

// Two listeners on one transport, address and port cannot both bind; a
// wildcard address (0.0.0.0, ::) takes the port on every address of its family.
// TCP and TLS listeners share the TCP port space.
void check_listener_overlaps(const decoded& d, problem_list& p) {
    using port_key = std::tuple<bool, int, std::uint16_t>;
    using exact_key = std::tuple<bool, int, std::array<unsigned char, 16>, std::uint16_t>;
    std::map<exact_key, std::size_t> exact;
    std::map<port_key, std::size_t> any_on_port;
    std::map<port_key, std::size_t> wildcard;
    for (std::size_t i = 0; i < d.listeners.size(); ++i) {
        const auto& l = d.listeners[i];
        const auto ip = parse_ip(l.value.host);
        if (!ip) {
            continue;  // cannot happen: the host was parsed into this canonical form
        }
        const bool stream = l.value.proto != transport::udp;
        const port_key pk{stream, ip->family, l.value.port};
        const exact_key ek{stream, ip->family, ip->bytes, l.value.port};
        std::optional<std::size_t> other;
        if (auto it = exact.find(ek); it != exact.end()) {
            other = it->second;
        } else if (auto w = wildcard.find(pk); w != wildcard.end()) {
            other = w->second;
        } else if (auto a = any_on_port.find(pk); ip->is_unspecified() && a != any_on_port.end()) {
            other = a->second;
        }
        if (other) {
            const auto& o = d.listeners[*other];
            p.add(l.mark, l.path,
                  fmt::format("expected a transport, address and port no other listener uses "
                              "({} on line {} takes it) (got {})",
                              o.path, position(o.mark).first, l.got));
            continue;
        }
        exact.emplace(ek, i);
        any_on_port.emplace(pk, i);
        if (ip->is_unspecified()) {
            wildcard.emplace(pk, i);
        }
    }
}

std::string_view family_name(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

// The interface sends to a peer from one of its own listeners (RFC 3261
// 18.1.1: a request goes out of the transport it names), so it needs one of
// the peer's transport and address family.
void check_peer_reachable(const decoded& d, const placed<peer_config>& peer, problem_list& p) {
    const auto& trunk = d.cfg.trunks[peer.owner];
    const interface_config* iface = d.cfg.find_interface(trunk.interface);
    if (iface == nullptr) {
        return;  // reported as an undefined interface
    }
    if (peer.value.is_name && !peer.value.transport_given) {
        return;  // NAPTR records choose the transport (RFC 3263 4.1)
    }
    const auto peer_ip = parse_ip(peer.value.host);
    for (const auto& l : iface->listen) {
        const auto ip = parse_ip(l.host);
        // A name's targets may be of either family; its transport is known.
        if (ip && l.proto == peer.value.proto && (!peer_ip || ip->family == peer_ip->family)) {
            return;
        }
    }
    if (iface->listen.empty()) {
        return;  // its listeners are all wrong, and reported so
    }
    if (!peer_ip) {
        p.add(peer.mark, peer.path,
              fmt::format("expected a peer interface {} can reach: it has no {} listener (got {})",
                          quote(iface->name), to_string(peer.value.proto), peer.got));
        return;
    }
    p.add(
        peer.mark, peer.path,
        fmt::format("expected a peer interface {} can reach: it has no {} listener on {} (got {})",
                    quote(iface->name), to_string(peer.value.proto), family_name(peer_ip->family),
                    peer.got));
}

// Requests are matched to a trunk by their source address on the interface
// they arrive at (sbc::policy::peer_acl), so an address can belong to one
// trunk per interface only.
void check_peers(const decoded& d, problem_list& p) {
    std::map<std::pair<std::string, std::string>, std::size_t> owner_of;
    for (std::size_t i = 0; i < d.peers.size(); ++i) {
        const auto& peer = d.peers[i];
        check_peer_reachable(d, peer, p);
        const auto& trunk = d.cfg.trunks[peer.owner];
        if (trunk.interface.empty()) {
            continue;
        }
        // The source filter of allow_sources would drop the peer's own
        // responses and requests.
        const auto* iface = d.cfg.find_interface(trunk.interface);
        const auto ip = parse_ip(peer.value.host);
        if (iface != nullptr && !iface->allow_sources.empty() && ip &&
            std::none_of(iface->allow_sources.begin(), iface->allow_sources.end(),
                         [&](const cidr& c) { return c.contains(ip->family, ip->bytes.data()); })) {
            p.add(peer.mark, peer.path,
                  fmt::format("expected an address inside the allow_sources of interface {} "
                              "(requests from elsewhere are dropped) (got {})",
                              quote(trunk.interface), peer.got));
        }
        auto [it, inserted] = owner_of.emplace(std::pair{trunk.interface, peer.value.host}, i);
        const auto& first = d.peers[it->second];
        if (!inserted && first.owner != peer.owner) {
            p.add(peer.mark, peer.path,
                  fmt::format(
                      "expected an address no other trunk on interface {} has; requests "
                      "are told apart by source address ({} of trunk {} on line {}) (got {})",
                      quote(trunk.interface), first.path, quote(d.cfg.trunks[first.owner].name),
                      position(first.mark).first, peer.got));
        }
    }
}

// A tls:// listener serves the interface's certificate and checks its peers'
// against its trust store, so it cannot work without the tls section.
void check_tls_identities(const decoded& d, problem_list& p) {
    for (std::size_t i = 0; i < d.cfg.interfaces.size() && i < d.interface_paths.size(); ++i) {
        const auto& iface = d.cfg.interfaces[i];
        if (iface.has_listener(transport::tls) && !iface.tls) {
            const auto mark = d.marks.find(join_path(d.interface_paths[i], "name"));
            p.add(mark != d.marks.end() ? mark->second : YAML::Mark{}, d.interface_paths[i],
                  "required key missing: tls (expected the certificate, private_key and "
                  "ca_file of an interface with a tls:// listener)");
        }
    }
}

// Each DPDK port names a defined interface, at most one port per interface,
// and with backend dpdk every interface's media address has its port (the
// data plane has no other way to send from it).
void check_dpdk_ports(const decoded& d, problem_list& p) {
    const auto& dc = d.cfg.media.dpdk;
    for (std::size_t i = 0; i < dc.ports.size(); ++i) {
        const auto& port = dc.ports[i];
        const auto path = fmt::format("{}.ports[{}]", d.dpdk_path, i);
        const auto key = join_path(path, "interface");
        if (!port.interface.empty() && d.all_interface_names &&
            d.cfg.find_interface(port.interface) == nullptr) {
            p.add(mark_of(d, key, port.mark), key,
                  fmt::format("'{}' is not a defined interface (defined: {})", port.interface,
                              defined_names(d.cfg.interfaces)));
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (dc.ports[j].interface == port.interface) {
                p.add(mark_of(d, key, port.mark), key,
                      fmt::format("interface '{}' has a DPDK port already", port.interface));
            }
        }
    }
    if (d.cfg.media.backend != "dpdk" || dc.ports.empty()) {
        return;
    }
    for (std::size_t i = 0; i < d.cfg.interfaces.size() && i < d.interface_paths.size(); ++i) {
        const auto& iface = d.cfg.interfaces[i];
        if (std::none_of(dc.ports.begin(), dc.ports.end(),
                         [&](const dpdk_port_config& pc) { return pc.interface == iface.name; })) {
            const auto key = join_path(d.interface_paths[i], "name");
            p.add(mark_of(d, key, iface.mark), key,
                  fmt::format("interface '{}' has no DPDK port (media.dpdk.ports) for its media "
                              "address, which backend dpdk needs",
                              iface.name));
        }
    }
}

// A node of a pair binds shared addresses it may not hold, and keepalived
// moves them between hosts. The dpdk backend puts each media address on its
// TAP at start, so both nodes of a pair would answer ARP for it at once: a
// pair runs the kernel backend (conf/README.md, "Running a redundant pair").
void check_cluster_backend(const decoded& d, problem_list& p) {
    if (!d.cfg.cluster || d.cfg.media.backend != "dpdk") {
        return;
    }
    const std::string key = "media.backend";
    p.add(mark_of(d, key, source_mark{}), key,
          "backend dpdk cannot run a node of a cluster: it holds the media addresses on its "
          "TAP interfaces from the start, so both nodes would claim the shared addresses; "
          "use backend kernel with cluster");
}

}  // namespace

void validate(const decoded& d, problem_list& p) {
    check_unique_names(d, d.cfg.interfaces, d.interface_paths, "interface", p);
    check_unique_names(d, d.cfg.trunks, d.trunk_paths, "trunk", p);
    check_unique_names(d, d.cfg.routes, d.route_paths, "route", p);
    check_references(d, p);
    check_listener_overlaps(d, p);
    check_peers(d, p);
    check_tls_identities(d, p);
    check_dpdk_ports(d, p);
    check_cluster_backend(d, p);
}

}  // namespace sbc::config::detail
