// This node's registrar bindings, kept in the cluster's store so that they
// survive the node (issue 22; conf/README.md, "cluster"): every change a
// REGISTER makes to a registrar trunk's bindings is written under the
// node's name, and when the node takes its partner's addresses over it
// loads the partner's bindings into its own location services, writes
// them as its own and deletes the partner's copies. A call to a user
// registered at the partner then reaches the phone at the address it
// registered from (the binding's source), as if it had registered here.
//
// At start the node loads what it wrote itself in a previous life: those
// bindings are the phones' registrations still, until they expire.
//
// Object graph: the cluster node owns the replica; the replica owns the
// binding store and borrows the b2bua, whose bindings observer it is (and
// unsets in its destructor). Control thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/cluster/binding_store.hpp"
#include "sbc/config/config.hpp"

namespace sbc::node {

class binding_replica {
public:
    /// Throws std::invalid_argument on a bad store address.
    binding_replica(su_root_t* root, const config::cluster_config& cfg, b2bua::b2bua& b2bua);
    ~binding_replica();
    binding_replica(const binding_replica&) = delete;
    binding_replica& operator=(const binding_replica&) = delete;

    /// Connects to the store and loads the bindings this node wrote before.
    void start();
    /// Takes node `node`'s bindings over (none for an empty name): loaded,
    /// adopted, written as this node's, and the partner's keys deleted.
    void take_over(const std::string& node);

    /// For `sbcctl cluster`: the store's figures and the last take-over.
    nlohmann::json show() const;

private:
    void changed(const std::string& trunk, const std::string& user,
                 const std::vector<registrar::binding>& live);
    /// Adopts what `found` holds; how many bindings were taken.
    std::size_t adopt(const cluster::node_bindings& found, const std::string& node);

    const config::cluster_config& _cfg;
    b2bua::b2bua& _b2bua;
    cluster::binding_store _store;
    std::size_t _adopted = 0;  ///< bindings taken in by the last load
    std::size_t _unreadable = 0;
    std::string _last_error;
};

}  // namespace sbc::node
