// The trunks' peers given by host name, kept resolved (RFC 3263) in the
// background by a dns::name_watch, their answers made the targets of the
// trunks' peer tables (sbc/trunking): the b2bua's calls, pings and ACL read
// the tables and never wait on DNS.
//
// Each named peer of each trunk is watched under its canonical name; two
// trunks (or two peers) with one name share its resolution (the watch counts
// them). When an answer changes, every (trunk, peer) bound to that name gets
// the new targets (peer_table::set_resolved), then `on_change` runs, for the
// b2bua to rebuild its ACL. Targets an answer no longer has stay in the
// tables, out of selection, so calls on them go on.
//
// Object graph: the b2bua owns this (only when some trunk has a named peer,
// so that a configuration of IP peers needs no resolver); this owns the
// name_watch and borrows the b2bua's tables, which outlive it. su_root
// thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbc/config/config.hpp"
#include "sbc/dns/name_watch.hpp"
#include "sbc/trunking/peer_table.hpp"

namespace sbc::b2bua {

/// The targets of `peer` (a named peer) from an answer for its name: SRV
/// priority and weight where the answer has them (RFC 2782), the peer's
/// configured ones for addresses found by A/AAAA alone (a port in the URI,
/// or a domain without SRV records, RFC 3263 4.2).
std::vector<trunking::target> targets_of(const config::peer_config& peer,
                                         const std::vector<dns::target>& answer);

/// The transports a peer of a trunk on `iface` can be reached by: those its
/// listeners serve (RFC 3263 4.1: a client uses only what it supports).
dns::transport_set transports_of(const config::interface_config& iface);

class peer_names {
public:
    using change_fn = std::function<void()>;

    /// True when some trunk of `cfg` has a peer given by name.
    static bool needed(const config::config& cfg);

    /// Watches every named peer of `cfg`'s trunks; their first resolution
    /// starts on the loop's next turn. Throws std::invalid_argument for a
    /// `dns:` section the resolver refuses (the configuration check said so
    /// already) and std::runtime_error when the resolver cannot start.
    peer_names(su_root_t* root, const config::config& cfg,
               std::map<std::string, trunking::peer_table>& tables, change_fn on_change);
    ~peer_names();
    peer_names(const peer_names&) = delete;
    peer_names& operator=(const peer_names&) = delete;

    /// Watches the named peers of `trunk`, whose table is in the tables
    /// given at construction (a reload that adds a trunk).
    void add_trunk(const config::trunk_config& trunk);
    /// Stops watching the names of trunk `name` (a reload that drops it);
    /// a name another trunk uses stays watched.
    void remove_trunk(const std::string& name);

    /// Resolves every name again now (sbcctl reload; tests).
    void refresh_all();

    /// What the watch knows of the name of `trunk`'s peer `peer`; nothing
    /// for a peer given by address.
    std::optional<dns::name_state> state_of(const std::string& trunk, std::size_t peer) const;

private:
    struct binding {
        std::string trunk;
        std::size_t peer = 0;
        std::string key;  ///< the name as the watch knows it
    };
    void on_resolved(const dns::name_state& s);

    const config::config& _cfg;
    std::map<std::string, trunking::peer_table>& _tables;
    change_fn _on_change;
    std::vector<binding> _bindings;
    std::unique_ptr<dns::name_watch> _watch;  ///< last: its callbacks use the above
};

}  // namespace sbc::b2bua
