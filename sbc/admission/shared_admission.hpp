// Admission limits that hold across the nodes of a cluster: the interface
// through which the b2bua asks a store shared by every node (the cluster's
// Redis, sbc/cluster/shared_limits) whether a trunk may take one more call,
// and tells it of the calls this node holds.
//
// The store decides exactly (one atomic step for every node); when it cannot
// be asked, or its answer is late, the b2bua's own call_limiter decides for
// this node alone. Plain types only: the b2bua does not see Redis.
// Single-threaded (the SIP thread).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "sbc/admission/call_limiter.hpp"

namespace sbc::admission {

/// What the store answered.
struct shared_answer {
    decision what;
    unsigned cluster_active = 0;  ///< calls up on every live node after this decision
};

class shared_admission {
public:
    /// Gets the store's answer, or nullopt when none came in time (the
    /// caller decides itself). Always called later, from the loop, once.
    using answer_fn = std::function<void(std::optional<shared_answer>)>;

    /// Asks whether `trunk` may take one more call in the direction
    /// (`inbound`) under `l`; a yes counts it for this node. False, without
    /// calling `done`, when the store cannot be asked now.
    virtual bool ask(const std::string& trunk, bool inbound, const limits& l, answer_fn done) = 0;
    /// A call this node holds without the store's yes (decided locally, a
    /// transfer, a call taken over): counted for this node, never refused.
    virtual void count(const std::string& trunk, bool inbound) = 0;
    /// A call counted for this node ended.
    virtual void release(const std::string& trunk, bool inbound) = 0;

protected:
    ~shared_admission() = default;
};

}  // namespace sbc::admission
