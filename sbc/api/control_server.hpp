// The control API: a unix stream socket that sbcctl talks to.
//
// Protocol: the client sends one JSON object on one line, {"cmd": "status"},
// {"cmd": "calls"}, {"cmd": "trunks"}, {"cmd": "reload"}, {"cmd": "drain"}
// (control_handler lists them all), and reads one JSON object on one line
// back, then the server closes the connection. Errors are {"error": "..."}. json_codec.hpp holds
// the field names of the replies.
//
// Threads: the server lives on the control-plane su_root thread; it never
// blocks (non-blocking sockets registered with su_root).
//
// Object graph: sbcd's main owns one control_server; the server owns its
// listening socket, one idle timer and the open client connections; the
// control_handler (the rest of sbcd) is borrowed and must outlive the server.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// sofia-sip's root, forward-declared so this header stays free of sofia
// includes (STYLE.md, Layout); the typedef matches <sofia-sip/su_wait.h>.
struct su_root_s;
typedef struct su_root_s su_root_t;

namespace sbc::api {

struct interface_status {
    std::string name;
    std::vector<std::string> listen;  ///< e.g. "udp://127.0.1.1:5060"
    std::string media_address;
};

/// A drain under way (`sbcctl drain`): when it started, its deadline and
/// the calls it still waits for.
struct drain_status {
    std::string since;                   ///< ISO 8601, UTC: "2026-12-07T19:30:00Z"
    std::string deadline;                ///< likewise; "" when there is none
    std::optional<double> seconds_left;  ///< to the deadline; none without one
    std::size_t calls_left = 0;
};

struct status_info {
    std::string version;
    double uptime_seconds = 0;
    std::vector<interface_status> interfaces;
    std::size_t active_calls = 0;
    std::optional<drain_status> drain;  ///< none: the node admits new calls
};

/// One leg's reception quality, compact (see sbc/media_ctl/quality.hpp).
struct call_quality {
    double loss_percent = 0;
    double jitter_ms = 0;
    std::optional<double> rtt_ms;  ///< none without RTCP reports from the peer
    double mos = 0;
};

struct call_info {
    std::string id;
    std::string from_trunk;
    std::string to_trunk;
    std::string state;  ///< "trying", "early", "established", "terminating"
    double duration_seconds = 0;
    std::uint64_t packets_a_to_b = 0;  ///< RTP+RTCP from the caller's side towards the callee's
    std::uint64_t packets_b_to_a = 0;
    /// Each leg's audio codec ("PCMA/8000"; "" before an answer) and ptime
    /// (0: the peers' own, relayed), and whether the media is "relayed" or
    /// "transcoded".
    std::string codec_a;
    std::string codec_b;
    unsigned ptime_a = 0;
    unsigned ptime_b = 0;
    std::string media = "relayed";
    /// Each leg's ICE-lite (RFC 8445 2.5): the SBC's a=ice-ufrag there while
    /// it answers the peer's checks, "" when ICE is not used on the leg.
    /// Never the password.
    std::string ice_ufrag_a;
    std::string ice_ufrag_b;
    /// The caller hears the SBC's local ringback tone (trunk `ringback: local`).
    bool local_ringback = false;
    /// What each leg's peer sends, as the SBC receives it; none before its
    /// first RTP packet.
    std::optional<call_quality> quality_a;
    std::optional<call_quality> quality_b;
};

/// What the server asks the rest of sbcd. Called on the su_root thread.
class control_handler {
public:
    virtual ~control_handler() = default;
    virtual status_info status() = 0;
    virtual std::vector<call_info> calls() = 0;
    /// {"trunks": [...], "interfaces": [...]}: peers with their health and
    /// TLS sessions, per-interface TLS certificates and handshake counters
    /// (the fields are documented in conf/README.md, "sbcctl trunks").
    virtual nlohmann::json trunks() = 0;
    /// {"calls": [...], "media": {...}}: each call's media counters per leg
    /// (packets, bytes, drops by reason, SRTP failures, last packet) and the
    /// media engine's totals (documented in conf/README.md, "sbcctl stats").
    virtual nlohmann::json stats() = 0;
    /// Re-reads the configuration file: {"ok": true, "applied": [...],
    /// "restart_needed": [...]} or {"ok": false, "errors": [...]}.
    virtual nlohmann::json reload() = 0;
    /// `sbcctl route test`: which route a call with these numbers
    /// ({"from_trunk", "ruri", "from", "to", "source", "at"}) would take and
    /// why, without placing it.
    virtual nlohmann::json route_test(const nlohmann::json& args) {
        (void)args;
        return {{"error", "route_test is not supported here"}};
    }
    /// `sbcctl call-state ID`: the call's state document ({"id": N}),
    /// with its secrets redacted (conf/README.md, "Call state document").
    virtual nlohmann::json call_document(const nlohmann::json& args) {
        (void)args;
        return {{"error", "call_state is not supported here"}};
    }
    /// `sbcctl cluster [active|standby]`: this node's role, partner, store
    /// and replication ({"action": "show"|"active"|"standby"}).
    virtual nlohmann::json cluster(const nlohmann::json& args) {
        (void)args;
        return {{"error", "cluster is not supported here"}};
    }
    /// `sbcctl drain`: stop admitting new calls and exit once the calls in
    /// progress ended ({"deadline": seconds, "cancel": bool, "hand_over":
    /// bool}, each optional); {"ok": true, "drain": {...} or null}.
    virtual nlohmann::json drain(const nlohmann::json& args) {
        (void)args;
        return {{"error", "drain is not supported here"}};
    }
    /// `sbcctl trace [FILTER]`: the SIP messages of the recent and current
    /// calls matching {"filter"} after {"since"} (a sequence number; 0: all
    /// kept), without their bytes: {"next", "messages", "calls"}.
    virtual nlohmann::json trace(const nlohmann::json& args) {
        (void)args;
        return {{"error", "trace is not supported here"}};
    }
    /// `sbcctl pcap CALL`: every kept SIP message of the call {"call"} (its
    /// ID or a leg's Call-ID) with its bytes.
    virtual nlohmann::json sip_capture(const nlohmann::json& args) {
        (void)args;
        return {{"error", "sip_capture is not supported here"}};
    }
};

/// Answers one request line (without its '\n') with one reply line (without
/// '\n'): the JSON reply to "status" or "calls", or {"error": "..."} for bad
/// JSON, a missing or unknown "cmd", or a handler that threw. Never throws.
/// @param request  untrusted bytes from a client
/// @param handler  asked for the data; called on the caller's thread
std::string dispatch(std::string_view request, control_handler& handler);

/// Limits of the server; the defaults are what sbcd uses, tests shorten them.
struct control_server_options {
    /// A client that makes no progress (reading its request or taking our
    /// reply) for this long is dropped, so a stuck sbcctl cannot pin an fd.
    std::chrono::milliseconds idle_timeout{5000};
    /// Longest request line accepted; every valid request is a few dozen bytes.
    std::size_t max_request_bytes = 64 * 1024;
    /// Clients served at once; more are accepted and closed at once, so a
    /// local flood cannot exhaust sbcd's file descriptors.
    std::size_t max_connections = 32;
};

/// The unix-socket server of the control API.
///
/// Construction creates the socket at `path` (and its parent directory, mode
/// 0755, if missing), replacing a stale socket left by a dead process. It
/// throws std::runtime_error if the path is too long, is something other than
/// a socket, another live process answers on it, or a system call fails.
/// The destructor closes every connection and unlinks the socket file.
///
/// Mode of the socket: 0666 when the path is under /tmp/ (the demo and the
/// tests, where sbcd may run as root and sbcctl as the user), 0660 elsewhere
/// (/run/sbc/: only sbcd's user and group may control it). The socket's
/// mode is the only access control the API has.
///
/// Threads: constructed, used and destroyed on the thread that runs `root`.
class control_server {
public:
    /// @param root     the su_root whose loop drives the server; borrowed, must
    ///                 outlive the server
    /// @param path     file-system path of the socket (at most 107 bytes)
    /// @param handler  answers the requests; borrowed, must outlive the server
    control_server(su_root_t* root, std::string path, control_handler& handler);
    control_server(su_root_t* root, std::string path, control_handler& handler,
                   control_server_options options);
    ~control_server();

    control_server(const control_server&) = delete;
    control_server& operator=(const control_server&) = delete;

    const std::string& path() const noexcept;
    /// Client connections open right now (for tests and diagnostics).
    std::size_t connection_count() const noexcept;

    /// Opaque; declared public only so that sofia's C callbacks can name it.
    struct impl;

private:
    std::unique_ptr<impl> _impl;
};

}  // namespace sbc::api
