// A node's registrar bindings in Redis: one key per address-of-record,
// `<prefix>:reg:<node>:<trunk>:<user>`, holding that user's bindings as a
// JSON document (registrar/binding_document.hpp) and expiring in Redis when
// the last of them does (SET ... PXAT), so that bindings no phone refreshed
// leave the store without a word from the node. When the node takes over
// its partner's addresses it reads the partner's keys back (load_node) and
// deletes them (forget_node).
//
// Writes never block and never fail a REGISTER: put() and erase() mark the
// key dirty in a bounded state_queue (the latest document per user), which
// drains through the store's own redis_link as it has room. A write the
// link loses is given back and written again when the link is back; a
// change refused by a full queue is counted (stats().dropped) and the
// user's binding is missing from the store until the phone refreshes it.
// Bindings hold no secret: nothing is sealed.
//
// Control thread only. Owns its redis_link; the owner must not destroy the
// store from its callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbc/cluster/key_scan.hpp"
#include "sbc/cluster/redis_link.hpp"
#include "sbc/cluster/state_queue.hpp"
#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/dns/loop_timer.hpp"

namespace sbc::cluster {

struct binding_store_stats {
    bool up = false;
    std::size_t queued = 0;      ///< users whose latest change waits to be written
    std::size_t in_flight = 0;   ///< writes sent and not yet answered
    std::uint64_t dropped = 0;   ///< changes refused by a full queue
    std::uint64_t written = 0;   ///< SETs acknowledged
    std::uint64_t deleted = 0;   ///< DELs acknowledged
    std::uint64_t failures = 0;  ///< writes not done (link lost, error reply), retried
    std::string last_error;
};

/// What load_node() found.
struct node_bindings {
    std::vector<nlohmann::json> documents;  ///< one per user, as written
    std::vector<std::string> unreadable;    ///< "KEY: why"
};

class binding_store {
public:
    /// The link's settings from `cfg.store`, named "sbc-<node>-reg".
    /// Throws std::invalid_argument on a bad store address.
    binding_store(su_root_t* root, const config::cluster_config& cfg);
    ~binding_store();
    binding_store(const binding_store&) = delete;
    binding_store& operator=(const binding_store&) = delete;

    /// Connects (and keeps reconnecting while the store is away).
    void start();

    /// Queues the user's bindings document, to be written to expire at
    /// `expires_at` (the last binding's expiry).
    void put(const std::string& trunk, const std::string& user, const nlohmann::json& doc,
             std::chrono::system_clock::time_point expires_at);
    /// Queues the deletion of the user's key (its last binding was removed).
    void erase(const std::string& trunk, const std::string& user);

    using load_fn = std::function<void(result<node_bindings>)>;
    /// Every bindings document node `node` wrote that has not expired. An
    /// error when the store is not connected or the link was lost
    /// meanwhile. `done` is called later, from the loop, never inside.
    void load_node(const std::string& node, load_fn done);
    /// Deletes node `node`'s keys; retried from the start if the link is
    /// lost meanwhile. `done` (optional) gets the number deleted.
    void forget_node(const std::string& node, std::function<void(std::size_t)> done = {});

    /// "<prefix>:reg:<node>:<trunk>:<user>".
    std::string key_of(const std::string& node, const std::string& trunk,
                       const std::string& user) const;
    binding_store_stats stats() const;

    struct job;

private:
    void kick();
    void pump();
    void pump_writes();
    void step(job& j);
    node_bindings read_back(job& j);
    void end(job& j, const std::string& error, bool lost);
    void written(state_queue::item item, const reply* r);

    std::string _prefix;
    std::string _node;
    state_queue _queue;
    std::vector<std::unique_ptr<job>> _jobs;
    std::size_t _in_flight = 0;
    std::uint64_t _written = 0;
    std::uint64_t _deleted = 0;
    std::uint64_t _failures = 0;
    std::string _last_error;
    bool _closing = false;
    dns::loop_timer _kick;  ///< runs pump() on the loop's next turn
    /// Last: destroyed first, while what its callbacks touch still lives.
    std::unique_ptr<redis_link> _link;
};

}  // namespace sbc::cluster
