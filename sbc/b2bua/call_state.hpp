// A call as data: everything a node needs to carry on with a call that
// another node set up (its two dialogs, the media session, what the call
// holds and has recorded so far), read out of a live call by
// call::snapshot() and written as a versioned JSON document by
// call_state_json.hpp (the format is documented in conf/README.md, "Call
// state document").
//
// Plain values with equality: a round trip through JSON gives an equal
// value, which the tests check for calls in every state. Times are wall
// clock (a steady clock means nothing on another node); trunks and
// interfaces are named, not pointed to, so the state outlives a reload of
// the configuration. Secrets (SRTP keys) are sbc::secret and marked in the
// document, so a store can encrypt them before they leave the process.
//
// What an operation under way holds that no other node could resume (a
// transaction in flight, a timer of nta's) is not here: the state of a call
// mid-operation says which operation, and a node taking the call over ends
// it as a failure of that operation would.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sbc/cdr/record.hpp"
#include "sbc/config/config.hpp"
#include "sbc/media_ctl/media_state.hpp"
#include "sbc/policy/number_rewriter.hpp"

namespace sbc::b2bua {

/// The version of the document this build writes. It reads this one only:
/// a node meeting a newer document leaves the call to a node that knows it.
inline constexpr int call_state_version = 1;

using wall_time = std::chrono::system_clock::time_point;

/// The dialog's session timer (RFC 4028), once settled.
struct session_timer_state {
    std::uint32_t interval_s = 0;
    bool we_refresh = false;
    bool no_update = false;
    wall_time last_refresh{};
    bool operator==(const session_timer_state&) const = default;
};

/// One dialog of the call (RFC 3261 12) and what the SBC said on it.
struct dialog_state {
    // What identifies the dialog and orders its requests (RFC 3261 12.2).
    std::string call_id;
    std::string local_uri;  ///< the URI of the SBC's From/To in this dialog
    std::string remote_uri;
    std::string local_tag;
    std::string remote_tag;
    std::uint32_t local_cseq = 0;        ///< of the SBC's last request
    std::uint32_t remote_cseq = 0;       ///< of the peer's last request (0: none yet)
    std::vector<std::string> route_set;  ///< "<uri>" entries, in the order requests use them
    std::string remote_target;
    // Where it goes.
    std::string interface;
    std::string trunk;
    config::transport transport = config::transport::udp;
    /// The target called: an index into the trunk's peer table (dialog::peer),
    /// which holds the targets of names as they resolved in this process.
    std::size_t peer = 0;
    // What was negotiated on it.
    bool confirmed = false;
    bool peer_100rel = false;
    bool peer_timer = false;
    std::optional<session_timer_state> timer;
    // The SBC's SDP identity on it (RFC 3264 8).
    std::uint64_t sdp_session_id = 0;
    std::uint64_t sdp_version = 1;
    std::string sdp_last_sent;
    bool operator==(const dialog_state&) const = default;
};

/// The operation under way when the state was read; none when idle.
enum class operation {
    none,
    initial_invite,  ///< the call is being set up
    reinvite,        ///< a relayed re-INVITE
    update,          ///< a relayed UPDATE with an offer
    reoffer,         ///< the SBC's own re-INVITE
    transfer,        ///< a transfer (see call_state::transfer)
};

/// A transfer under way: the dialog towards its target, which takes the
/// referrer's place when the target answers.
struct transfer_state {
    dataplane::side referrer = dataplane::side::b;
    dialog_state target;
    bool attended = false;
    std::uint16_t media_port = 0;  ///< the RTP port the target was offered
    std::optional<bool> slot_inbound;
    bool operator==(const transfer_state&) const = default;
};

/// An admission slot the call holds on a trunk (its concurrent-call limit).
struct slot_state {
    std::string trunk;
    bool inbound = false;
    bool operator==(const slot_state&) const = default;
};

struct call_state {
    int version = call_state_version;
    std::uint64_t id = 0;
    std::string state;  ///< call::state_name(): "early", "established"...
    wall_time created{};
    wall_time state_since{};
    std::array<dialog_state, 2> legs;  ///< a: the caller's, b: the callee's
    media_ctl::media_state media;
    operation under_way = operation::none;
    std::optional<transfer_state> transfer;
    std::vector<slot_state> slots;
    std::string route;
    std::vector<std::string> next_trunks;  ///< the route's trunks still to try
    policy::call_numbers numbers;          ///< the caller's, after inbound normalization
    policy::call_numbers numbers_sent;     ///< as the INVITE to leg b carried them
    std::string source;                    ///< the caller's "ip:port"
    std::string replaces;                  ///< Replaces the INVITE to leg b carried (RFC 3891)
    std::uint32_t caller_session_expires_s = 0;
    std::string caller_refresher;
    std::chrono::nanoseconds media_timeout{};  ///< armed in the data plane
    cdr::record cdr;                           ///< the record so far
    bool operator==(const call_state&) const = default;
};

const char* to_string(operation o) noexcept;

}  // namespace sbc::b2bua
