// This node's part in a redundant pair (conf/README.md, "cluster"): it
// replicates its established calls to the cluster's store as they change,
// and when keepalived makes it master (`sbcctl cluster active`, from the
// notify script) it takes its partner's calls over, rebuilding each from
// the state its partner wrote.
//
// Object graph: main owns the node beside the b2bua, which it observes
// (b2bua::call_observer) and answers `sbcctl cluster` for; the node owns
// the call store (cluster/call_store.hpp) and borrows the b2bua. Runs on
// the su_root thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/cluster/call_store.hpp"
#include "sbc/config/config.hpp"
#include "sbc/dns/loop_timer.hpp"
#include "sbc/node/binding_replica.hpp"

namespace sbc::node {

class cluster_node final : public b2bua::call_observer {
public:
    /// Throws std::runtime_error when the configuration's key is unusable.
    cluster_node(su_root_t* root, const config::cluster_config& cfg, b2bua::b2bua& calls);
    ~cluster_node();
    cluster_node(const cluster_node&) = delete;
    cluster_node& operator=(const cluster_node&) = delete;

    /// Connects to the store, and forgets the calls this node wrote in a
    /// previous life (they died with it, or its partner took them over).
    void start();

    /// This node holds the shared addresses now: it speaks on them and
    /// takes over the calls its partner wrote.
    void become_active();
    /// Its partner holds them: it stays silent.
    void become_standby();

    /// `sbcctl drain --hand-over` (new calls are refused already): once no
    /// call is being set up, every call is written to the store; then the
    /// node releases its addresses (hand_over_file: keepalived's track_file
    /// puts its instance in FAULT), its partner becomes master and takes the
    /// calls over from the store, deleting this node's copies; seeing them
    /// gone, the node drops its calls without a word and sbcd exits (a
    /// drain with no call left). An error when the node is not in a pair or
    /// not active.
    result<bool> hand_over();

    /// The reply to `sbcctl cluster` ({"action": "show"|"active"|"standby"}).
    nlohmann::json control(const nlohmann::json& args);

    // b2bua::call_observer
    void call_changed(const b2bua::call& c) override;
    void call_gone(std::uint64_t id) override;

private:
    /// Rebuilds each of the partner's calls that `docs` hold.
    void restore(cluster::node_calls found);
    /// Every live call written again (the store's queue overflowed).
    void resync();
    nlohmann::json show() const;
    /// The standby's warm copy: the partner's calls read again every
    /// second, so that a take-over with the store down still has them.
    void refresh_warm_copy();
    void forget_warm_copy();
    /// One step of the hand-over, every 100 ms while it runs.
    void hand_over_step();
    /// Writes `value` to the hand-over file (keepalived's track_file), by a
    /// rename so that keepalived never reads half a write.
    void write_hand_over_file(const char* value);

    const config::cluster_config& _cfg;
    b2bua::b2bua& _calls;
    std::unique_ptr<cluster::call_store> _store;
    binding_replica _registrations;  ///< the registrar's bindings, in the store too
    bool _active = false;
    bool _taking_over = false;
    struct take_over_record {
        std::chrono::system_clock::time_point at{};
        std::chrono::steady_clock::time_point began{};
        double took_ms = 0;
        std::size_t restored = 0;
        std::size_t failed = 0;
        std::vector<std::string> errors;  ///< the first few
    };
    std::optional<take_over_record> _last_take_over;
    std::uint64_t _take_overs = 0;
    /// The hand-over: none, writing the calls, released (the addresses),
    /// done (the partner has the calls).
    enum class hand_over_phase { none, writing, released, done };
    hand_over_phase _hand_over = hand_over_phase::none;
    bool _hand_over_resynced = false;
    bool _hand_over_checking = false;  ///< a load of this node's keys is under way
    dns::loop_timer _hand_over_timer;
    /// The partner's calls as last read (standby only), refreshed from its
    /// index (call_store::refresh_copy), and when that last succeeded
    /// (none yet: the copy is not to be used).
    std::shared_ptr<cluster::node_copy> _warm;
    std::optional<std::chrono::steady_clock::time_point> _warm_at;
    bool _warm_loading = false;
    dns::loop_timer _warm_timer;
};

}  // namespace sbc::node
