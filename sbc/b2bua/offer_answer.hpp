// The one offer/answer state of a call (RFC 3264, RFC 6337): either idle,
// or one exchange under way, who started it and through what.
//
// A B2BUA sees two dialogs, but their sessions are one: an offer from one
// leg's peer is relayed to the other leg as the SBC's offer, so while it is
// pending neither dialog may start another (RFC 3264 4: one offer at a time
// per session). The SBC's own exchanges (a re-offer after a transfer, a
// refresh by re-INVITE, a transfer's INVITE to its target) hold the same
// state, so every operation asks the same question before it begins:
// `refusal_for()` for an offer a peer sends, `idle()` for one of the SBC's.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "dataplane/api/media_engine.hpp"

namespace sbc::b2bua {

class offer_answer {
public:
    /// What carries the exchange under way.
    enum class via : std::uint8_t {
        initial_invite,  ///< the call's first INVITE (its offer, or its 2xx's)
        reinvite,        ///< a peer's re-INVITE, relayed
        update,          ///< a peer's UPDATE with an offer, relayed (RFC 3311)
        own_reinvite,    ///< the SBC's own re-INVITE to one leg
        transfer,        ///< a transfer's INVITE to its target (RFC 3515)
    };

    /// An exchange under way. `peer`: the leg whose peer made the offer
    /// (the SBC relays it to the other leg); nullopt for the SBC's own.
    struct exchange {
        via what = via::reinvite;
        std::optional<dataplane::side> peer;
    };

    bool idle() const noexcept { return !_current; }
    const std::optional<exchange>& current() const noexcept { return _current; }

    /// The status that refuses an offer the peer of leg `from` sends now,
    /// or 0 when it may begin. 500 with Retry-After when that peer's own
    /// offer is still unanswered (RFC 3261 14.2, RFC 3311 5.2); 491 when
    /// the SBC has an offer out, on that leg or for the session (RFC 3261
    /// 14.2: glare; the peer retries after a random wait, 14.1).
    int refusal_for(dataplane::side from) const noexcept {
        if (!_current) {
            return 0;
        }
        return _current->peer == from ? 500 : 491;
    }

    /// Holds the exchange an operation began; the exchange ends when the
    /// hold is destroyed (the operation answered, failed or was dropped),
    /// so no path can leave the call busy for ever. Move-only.
    class hold {
    public:
        hold() = default;
        hold(hold&& o) noexcept
            : _owner(std::exchange(o._owner, nullptr)), _generation(o._generation) {}
        hold& operator=(hold&& o) noexcept {
            if (this != &o) {
                release();
                _owner = std::exchange(o._owner, nullptr);
                _generation = o._generation;
            }
            return *this;
        }
        hold(const hold&) = delete;
        hold& operator=(const hold&) = delete;
        ~hold() { release(); }
        /// Ends the exchange now.
        void release() noexcept {
            // Only its own exchange: a stale hold never ends a newer one.
            if (_owner != nullptr && _owner->_generation == _generation) {
                _owner->_current.reset();
            }
            _owner = nullptr;
        }

    private:
        friend class offer_answer;
        hold(offer_answer& owner, std::uint64_t generation) noexcept
            : _owner(&owner), _generation(generation) {}
        offer_answer* _owner = nullptr;  ///< outlives the hold (the call declares it first)
        std::uint64_t _generation = 0;
    };

    /// Starts an exchange; the caller checked idle() or refusal_for().
    [[nodiscard]] hold begin(via what, std::optional<dataplane::side> peer) noexcept {
        _current = exchange{what, peer};
        return hold(*this, ++_generation);
    }

private:
    std::optional<exchange> _current;
    std::uint64_t _generation = 0;  ///< of the current exchange
};

/// The Retry-After a 500 refusing a second offer carries: RFC 3311 5.2 asks
/// for a random value between 0 and 10 seconds.
unsigned offer_retry_after() noexcept;

}  // namespace sbc::b2bua
