// Trunk limits shared by the active nodes of a cluster, counted in Redis
// (conf/README.md, "cluster" and "limits"): concurrent calls and calls per
// second per trunk and direction, exact whatever node an INVITE reaches.
//
// Keys, under the cluster's prefix:
//   <prefix>:limit:<trunk>:<in|out>  hash node -> calls that node holds
//   <prefix>:cps:<trunk>:<in|out>    hash tokens, ts: the shared token bucket
//   <prefix>:limit-nodes             hash node -> lease end (server ms)
// One Lua script (EVAL, atomic in Redis) sums the counts of the nodes whose
// lease runs, checks max_calls and then the bucket (a call refused for
// max_calls takes no token, as in call_limiter), and counts the call for
// the asking node: two nodes racing for the last slot are put in order by
// Redis, and exactly one gets it. The clock is the server's (TIME), so the
// nodes' clocks need not agree.
//
// A node renews its lease every lease/3; a dead node's counts stop counting
// when its lease ends, and the next admission deletes them. A release is a
// HINCRBY -1 that nobody waits for. What the store cannot know for sure
// (commands lost with a connection) is set right when the link comes up
// again: the node writes the count of every trunk from its own calls
// (`counts_fn`) before anything else goes out on the new connection.
//
// An answer later than `wait` leaves the decision to the b2bua's local
// limiter (ask()'s callback gets nullopt); if that late answer admitted the
// call, the count is given back, and a call the b2bua admitted itself is
// counted with count().
//
// Control thread only. Owns its own redis_link (the call store's link has
// its own up/down handlers and queue); callbacks are never called after
// the destructor began.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sbc/admission/shared_admission.hpp"
#include "sbc/cluster/redis_link.hpp"
#include "sbc/config/config.hpp"
#include "sbc/dns/loop_timer.hpp"

namespace sbc::cluster {

struct shared_limits_settings {
    /// How long an INVITE waits for the store before the local limiter
    /// decides (RFC 3261 17.2.1: no 100 Trying is owed within 200 ms).
    std::chrono::milliseconds wait{200};
    /// How long a node's counts stand without a renewal.
    std::chrono::milliseconds lease{10000};
};

struct shared_limits_stats {
    bool up = false;
    std::uint64_t store_admitted = 0;  ///< decided by the store
    std::uint64_t store_refused = 0;
    std::uint64_t late = 0;       ///< answers that came after `wait` (the local limiter decided)
    std::uint64_t not_asked = 0;  ///< the store was down: decided locally at once
    std::uint64_t resyncs = 0;    ///< counts written whole on a (re)connection
    std::string last_error;
};

class shared_limits final : public admission::shared_admission {
public:
    /// One count this node holds: trunk, inbound, calls.
    struct node_count {
        std::string trunk;
        bool inbound = true;
        unsigned calls = 0;
    };
    /// Every limited trunk and direction with this node's calls on it.
    using counts_fn = std::function<std::vector<node_count>()>;

    /// The link's settings from `cfg.store`, named "sbc-<node>-limits".
    /// Throws std::invalid_argument on a bad store address.
    shared_limits(su_root_t* root, const config::cluster_config& cfg, counts_fn counts,
                  shared_limits_settings settings = {});
    ~shared_limits();
    shared_limits(const shared_limits&) = delete;
    shared_limits& operator=(const shared_limits&) = delete;

    /// Connects (and keeps reconnecting while the store is away).
    void start();

    // admission::shared_admission
    bool ask(const std::string& trunk, bool inbound, const admission::limits& l,
             answer_fn done) override;
    void count(const std::string& trunk, bool inbound) override;
    void release(const std::string& trunk, bool inbound) override;

    /// The calls on every live node that the store last reported for a
    /// trunk and direction (nullopt: it never did).
    std::optional<unsigned> cluster_active(const std::string& trunk, bool inbound) const;
    /// "store" or "local": who decided the trunk's last admission.
    std::string decided_by(const std::string& trunk, bool inbound) const;
    shared_limits_stats stats() const;
    const std::string& node() const noexcept { return _node; }

    /// "<prefix>:limit:<trunk>:<in|out>".
    std::string count_key(const std::string& trunk, bool inbound) const;

private:
    struct request {
        answer_fn done;
        std::string trunk;
        bool inbound = true;
        bool answered = false;  ///< `done` was called (by the answer or the wait)
    };
    void on_up();
    void renew_lease();
    void delta(const std::string& trunk, bool inbound, int by);
    void answered(std::uint64_t id, const reply* r);
    void check_waits();

    std::string _prefix;
    std::string _node;
    counts_fn _counts;
    shared_limits_settings _settings;
    std::uint64_t _next_id = 1;
    std::map<std::uint64_t, request> _requests;  ///< sent, not yet answered by the store
    /// The requests' deadlines, in the order sent (RESP answers in order).
    std::deque<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> _waits;
    dns::loop_timer _wait_timer;
    struct view {
        std::optional<unsigned> active;
        bool by_store = false;
    };
    std::map<std::pair<std::string, bool>, view> _views;
    shared_limits_stats _stats;
    dns::loop_timer _lease_timer;
    bool _closing = false;
    /// Last: destroyed first, while what its callbacks touch still lives.
    std::unique_ptr<redis_link> _link;
};

}  // namespace sbc::cluster
