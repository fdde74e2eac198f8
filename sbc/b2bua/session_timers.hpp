// RFC 4028 session timers of a call's two legs: negotiated per leg (what
// the caller asked, what the callee's 2xx settled), refreshed by the SBC
// where it is the refresher (UPDATE, or re-INVITE where the peer takes no
// UPDATE), and the call ended when a peer lets its session expire.
//
// The timer itself (interval, refresher, last refresh) is part of each
// dialog (dialog.hpp), so it moves with a dialog a transfer hands over;
// this class holds what runs: the refresh in flight on each leg, and what
// the caller's INVITE asked until its 2xx settles leg a.
//
// Object graph: a call owns one and is borrowed back (the legs, the SBC's
// re-INVITE, hanging up); the refreshes are owned client transactions.
// Control thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/api/media_engine.hpp"
#include "sbc/b2bua/dialog.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/client_transaction.hpp"

namespace sbc::b2bua {

class call;
using dataplane::side;

class session_timers {
public:
    explicit session_timers(call& owner) : _call(owner) {}

    /// What the caller's INVITE asks of leg a's timer (Session-Expires and
    /// its refresher), settled when the 2xx goes out.
    void caller_asked(const sip_t* invite);
    /// What the caller asked, as a call's state recorded it (a call taken
    /// over from another node).
    void restore_caller(std::chrono::seconds expires, std::string refresher) {
        _caller_expires = expires;
        _caller_refresher = std::move(refresher);
    }
    std::chrono::seconds caller_expires() const noexcept { return _caller_expires; }
    const std::string& caller_refresher() const noexcept { return _caller_refresher; }

    /// Leg a's timer as the 2xx to the caller settles it; the 2xx's
    /// Session-Expires and Require lines ("" when the caller asked none).
    std::string settle_caller();
    /// Leg b's timer from the callee's 2xx.
    void settle_callee(const sip_t* ok);
    /// The timer a 2xx to an INVITE of the SBC's settles (RFC 4028 7.2, the
    /// SBC as UAC); none when the 2xx has no Session-Expires.
    static std::optional<session_timer> from_2xx(const sip_t* ok);
    /// The Session-Expires value for a transaction on dialog `d` in which
    /// the SBC is the UAC (`uac`) or the UAS: RFC 4028 names the refresher
    /// relative to the transaction, not the dialog.
    static std::string expires_value(const dialog& d, bool uac);

    /// Sends the refreshes due on legs the SBC refreshes, and ends the call
    /// when a leg's peer let its session expire. The call is established.
    void check(std::chrono::steady_clock::time_point now);
    /// A refresh of the SBC's is in flight on leg `s`.
    bool refreshing(side s) const noexcept { return static_cast<bool>(_refreshes[index(s)]); }
    /// Drops the refreshes in flight (the call ends).
    void cancel() { _refreshes = {}; }

private:
    static std::size_t index(side s) noexcept { return dataplane::index(s); }
    /// A refresh (UPDATE, RFC 4028 9) on leg `s`, with an Authorization or
    /// Proxy-Authorization header when given.
    void send_refresh(side s, const sofia::authorization& auth = {});
    void on_refresh_response(side s, const sofia::response& r);

    call& _call;
    std::array<sofia::client_transaction, 2> _refreshes;
    std::chrono::seconds _caller_expires{0};  ///< 0: the caller asked nothing
    std::string _caller_refresher;            ///< "uac", "uas" or "" (the SBC chooses)
};

}  // namespace sbc::b2bua
