// A node's calls in Redis: each established call's state document under
// `<prefix>:call:<node>:<call id>`, written from the control thread's loop
// as it changes and deleted when the call ends; and, for the node taking
// over, every document a node wrote, read back.
//
// Writes never block and never fail a call: put() and erase() only mark the
// key dirty in a bounded state_queue (the latest document per call), which
// drains through the redis_link as it has room (at most max_in_flight
// commands out). A write the link loses is given back and written again
// when it comes back. When the queue overflowed (the store was away longer
// than queue_limit changes), the owner is asked (on_resync) to put() every
// live call again, and the node's keys that no live call has are deleted.
// Every reconnection has the owner put() every live call again too (no
// key is deleted then): a Redis that restarted without persistence comes
// back empty, and calls that did not change while it was away would be
// missing from it.
//
// The value stored is an envelope {"seq": N, "doc": DOC}: DOC is the call
// state document with its secrets sealed (sealer::seal_document), N grows
// with every put() of this node (from the wall clock in microseconds at
// start, then +1), so of two copies of a call the reader can tell the newer.
// Each write also sets the call's N in the node's index, the hash
// `<prefix>:calls:<node>` (call id -> N), in the same script, so that the
// partner keeping a copy (refresh_copy) reads a few dozen bytes per call
// and fetches only the documents that changed, not every document every
// time.
//
// Control thread only. Owns its redis_link; the owner owns the store and
// must not destroy it from its callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbc/cluster/key_scan.hpp"
#include "sbc/cluster/redis_link.hpp"
#include "sbc/cluster/sealer.hpp"
#include "sbc/cluster/state_queue.hpp"
#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/dns/loop_timer.hpp"

namespace sbc::cluster {

struct store_stats {
    bool up = false;             ///< the link is connected and authenticated
    std::size_t queued = 0;      ///< calls whose latest change waits to be written
    std::size_t in_flight = 0;   ///< writes sent and not yet answered
    std::uint64_t dropped = 0;   ///< changes refused by a full queue (each one a resync)
    std::uint64_t written = 0;   ///< SETs the store acknowledged
    std::uint64_t deleted = 0;   ///< DELs the store acknowledged
    std::uint64_t failures = 0;  ///< writes not done (link lost, error reply), retried
    std::uint64_t resyncs = 0;   ///< full rewrites asked of the owner
    /// How long the oldest change not yet acknowledged has waited (0: none).
    std::chrono::milliseconds lag{0};
    std::string last_error;  ///< the store's or the link's, "" while none
    link_stats link;
};

/// One call document as a node stored it.
struct stored_call {
    std::uint64_t call_id = 0;
    std::uint64_t seq = 0;  ///< the writer's sequence number: higher is newer
    nlohmann::json doc;     ///< opened: secrets as {"$secret": ...}
};

/// What load_node() found.
struct node_calls {
    std::vector<stored_call> calls;
    /// Keys that were there and could not be read, each "KEY: why" (not
    /// JSON, not an envelope, a secret that would not open).
    std::vector<std::string> unreadable;
};

/// A node's calls as its partner keeps them between take-overs
/// (refresh_copy), by call id.
struct node_copy {
    std::unordered_map<std::uint64_t, stored_call> calls;
    /// Documents of the last refresh that could not be read, "KEY: why".
    std::vector<std::string> unreadable;
    /// As load_node() would have found them.
    node_calls to_node_calls() const;
};

/// What one refresh_copy() did.
struct copy_refresh {
    std::size_t listed = 0;   ///< calls in the node's index
    std::size_t fetched = 0;  ///< documents read because they were new or changed
    std::size_t dropped = 0;  ///< calls gone from the index, dropped from the copy
};

class call_store {
public:
    /// The link's settings from `cfg.store` (AUTH user/password, timeout),
    /// named "sbc-<node>" (CLIENT SETNAME). Without a sealer, documents are
    /// stored as given (tests, benchmarks; a node with secrets passes one).
    /// Throws std::invalid_argument on a bad store address.
    call_store(su_root_t* root, const config::cluster_config& cfg, std::optional<sealer> s);
    ~call_store();
    call_store(const call_store&) = delete;
    call_store& operator=(const call_store&) = delete;

    /// Connects (and keeps reconnecting while the store is away).
    void start();

    /// Queues the call's latest state document (secrets as {"$secret":..}):
    /// sealed, serialized, written by SET when the link has room. A full
    /// queue drops it (counted) and later asks for a resync.
    void put(std::uint64_t call_id, const nlohmann::json& doc);
    /// Queues the deletion of the call's document (DEL), when the call ends.
    void erase(std::uint64_t call_id);

    using load_fn = std::function<void(result<node_calls>)>;
    /// Every call document of node `node` (SCAN MATCH <prefix>:call:<node>:*,
    /// then MGET), opened. An error when the store is not connected or the
    /// connection was lost meanwhile. `done` is always called later, from
    /// the loop, never inside this call.
    void load_node(const std::string& node, load_fn done);

    /// Deletes node `node`'s keys (after a takeover moved its calls to this
    /// node), its index last. Retried from the start if the link is lost
    /// meanwhile; `done` (optional) gets the number of call keys deleted.
    void forget_node(const std::string& node, std::function<void(std::size_t)> done = {});

    using refresh_fn = std::function<void(result<copy_refresh>)>;
    /// Brings `copy` up to date with node `node`'s calls: one HGETALL of
    /// the node's index, then MGET of the documents whose N the copy does
    /// not have; calls the index no longer lists leave the copy. On an
    /// error (the store away, the link lost) the copy keeps what it had,
    /// apart from documents already fetched. Documents a node wrote without
    /// an index (sbcd before it had one) are not seen: load_node() reads
    /// by key. `done` is called later, from the loop, never inside.
    void refresh_copy(const std::string& node, std::shared_ptr<node_copy> copy, refresh_fn done);

    /// Called when the queue had overflowed and the link has room again (and
    /// when the link came up again after it was lost, to rewrite only):
    /// the owner put()s every live call, synchronously, inside the callback.
    /// After an overflow, the node's keys that none of them has (calls that
    /// ended while their deletion was dropped) are deleted afterwards.
    void on_resync(std::function<void()> f);
    /// Asks for a resync now (as after an overflow).
    void resync();

    /// "<prefix>:call:<node>:<call id>".
    std::string key_of(const std::string& node, std::uint64_t call_id) const;
    /// "<prefix>:calls:<node>": the node's index, call id -> N.
    std::string index_of(const std::string& node) const;
    const std::string& node() const noexcept { return _node; }
    store_stats stats() const;

    struct job;
    struct refresh_job;

private:
    void kick();
    void overflowed();
    void pump();
    void pump_writes();
    void step(job& j);
    node_calls opened(job& j);
    void step_refresh(refresh_job& r);
    void indexed(refresh_job& r, const reply* answer);
    void fetched(refresh_job& r, const reply* answer);
    void end_refresh(refresh_job& r, const std::string& error);
    /// A stored envelope read back as a call, or why it cannot be.
    result<stored_call> open_envelope(const std::string& key, std::string_view id_text,
                                      const std::string& value);
    void end(job& j, const std::string& error, bool lost = false);
    void written(state_queue::item item, const reply* r);
    void pause_writes();
    void finish_resync(const std::vector<std::string>& keys);
    void rewrite_live();
    std::string seal_and_wrap(const nlohmann::json& doc);

    std::string _prefix;
    std::string _node;
    std::string _own_prefix;  ///< "<prefix>:call:<node>:"
    std::string _own_index;   ///< index_of(_node)
    std::optional<sealer> _sealer;
    state_queue _queue;
    std::uint64_t _seq;
    std::function<void()> _resync_fn;
    bool _resync_wanted = false;
    bool _resync_running = false;
    bool _connected_before = false;  ///< a later connection may find the store emptied
    /// Keys put() since the running resync's scan began: live, kept.
    std::unordered_set<std::string> _resync_live;
    std::deque<state_queue::clock::time_point> _in_flight_since;  ///< writes, oldest first
    std::vector<std::unique_ptr<job>> _jobs;                      ///< scans under way
    std::vector<std::unique_ptr<refresh_job>> _refreshes;         ///< copies being refreshed
    bool _paused = false;  ///< writes wait after an error reply
    std::uint64_t _written = 0;
    std::uint64_t _deleted = 0;
    std::uint64_t _failures = 0;
    std::uint64_t _resyncs = 0;
    std::string _last_error;
    bool _closing = false;   ///< in the destructor: the owner's callbacks stay quiet
    dns::loop_timer _kick;   ///< runs pump() on the loop's next turn
    dns::loop_timer _pause;  ///< ends a pause of the writes
    /// Last: destroyed first, while what its callbacks touch still lives.
    std::unique_ptr<redis_link> _link;
};

}  // namespace sbc::cluster
