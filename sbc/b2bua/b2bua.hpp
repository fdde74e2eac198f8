// The back-to-back user agent: receives every new request on every
// interface, decides whether it may become a call (peer ACL, routing,
// offer), and owns the calls it creates.
//
// Object graph: b2bua owns the sip_interfaces (one nta agent each), the
// calls, the trunks' peer tables, the peer ACL built from them, and the
// resolution of peers given by name (peer_names, only when some trunk has
// one); it borrows the configuration and the media engine, which outlive it. A new INVITE is
// screened by an invite_intake (invite_intake.hpp), which starts its call. It also answers the
// control API (its JSON is built in control_api.cpp). Runs entirely on the su_root thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "sbc/admission/call_limiter.hpp"
#include "sbc/admission/flood_guard.hpp"
#include "sbc/admission/shared_admission.hpp"
#include "sbc/api/control_server.hpp"
#include "sbc/auth/nonce.hpp"
#include "sbc/auth/replay_guard.hpp"
#include "sbc/b2bua/call.hpp"
#include "sbc/b2bua/call_tally.hpp"
#include "sbc/b2bua/dialog_closer.hpp"
#include "sbc/b2bua/drain.hpp"
#include "sbc/b2bua/keepalive.hpp"
#include "sbc/b2bua/peer_names.hpp"
#include "sbc/b2bua/registration.hpp"
#include "sbc/b2bua/replaces.hpp"
#include "sbc/b2bua/sip_interface.hpp"
#include "sbc/capture/call_capture.hpp"
#include "sbc/capture/hep_exporter.hpp"
#include "sbc/cdr/writer.hpp"
#include "sbc/common/log.hpp"
#include "sbc/config/config.hpp"
#include "sbc/policy/number_rewriter.hpp"
#include "sbc/policy/peer_acl.hpp"
#include "sbc/policy/router.hpp"
#include "sbc/sofia/nta.hpp"
#include "sbc/trunking/peer_table.hpp"

namespace sbc::b2bua {

/// Methods the SBC accepts from every trunk, advertised in Allow (RFC 3261 20.5).
inline constexpr const char* allowed_methods =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, PRACK, UPDATE";

/// The Allow value for a trunk's peers: REFER (RFC 3515) only where the SBC
/// carries out transfers itself (`refer: handle`); elsewhere it answers 405.
inline const char* allow_for(const config::trunk_config& trunk) noexcept {
    return trunk.refer == config::refer_policy::handle
               ? "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, MESSAGE, PRACK, UPDATE, REFER"
               : allowed_methods;
}

/// Extensions the SBC takes in Require (RFC 3262 reliable provisional
/// responses, RFC 4028 session timers), each negotiated per leg.
inline constexpr const char* supported_extensions = "100rel, timer";

/// How long a nonce of the SBC's challenges stays good; an answer with an
/// older one gets stale=true and is asked again (RFC 7616 3.3).
inline constexpr std::chrono::seconds nonce_lifetime{300};

/// A trunk's number normalization, compiled.
struct trunk_normalizer {
    policy::number_rewriter inbound;
    policy::number_rewriter outbound;
};

/// Told of the calls' changes, on the loop: what a store replicating them
/// to other nodes needs (cluster/replication.hpp).
class call_observer {
public:
    /// Call `c` is established, with nothing under way, and its state moved
    /// since it was last told (or it was never told): snapshot it now.
    virtual void call_changed(const call& c) = 0;
    /// Call `id`, told of before, ended: its state is no more.
    virtual void call_gone(std::uint64_t id) = 0;

protected:
    ~call_observer() = default;
};

class invite_intake;

/// The calls this node holds on a trunk in one direction (what shared
/// limits write to the store when its link comes up).
struct admission_count {
    std::string trunk;
    bool inbound = true;
    unsigned calls = 0;
};

class b2bua final : public api::control_handler {
public:
    /// Binds every interface of `cfg` (throws std::runtime_error when one
    /// cannot be bound). All references must outlive the b2bua.
    b2bua(su_root_t* root, const config::config& cfg, dataplane::media_engine& media);
    ~b2bua() override;

    /// A request (or a stray response) outside any transaction and dialog of
    /// ours, from interface `iface`, before nta keeps any state for it. Takes
    /// `msg`. Screening refusals are stateless; a request that passes gets a
    /// server transaction and is dispatched.
    void on_out_of_dialog_message(sip_interface& iface, msg_t* msg, sip_t* sip);

    /// Hangs up every call (shutdown). The su_root must keep running for a
    /// moment afterwards for the BYEs and CANCELs to leave.
    void hang_up_all(const char* why);
    std::size_t call_count() const noexcept { return _calls.size(); }
    /// Tells `o` (null: nobody) of every established call's changes, from
    /// the next tick; `o` must outlive the b2bua or be unset first.
    void set_observer(call_observer* o) noexcept;
    /// Keeps each call's SIP (sbcctl trace, pcap) and the correlation of
    /// its legs in `c` (null: nowhere), and sends each call's quality
    /// report at its end to `hep` (null: none); both must outlive the
    /// b2bua or be unset first.
    void set_capture(capture::call_capture* c, capture::hep_exporter* hep) noexcept {
        _capture = c;
        _hep = hep;
    }
    capture::call_capture* capture() const noexcept { return _capture; }
    capture::hep_exporter* hep() const noexcept { return _hep; }
    /// A standby node is bound to the addresses it shares with its partner
    /// but must stay silent on them: no OPTIONS keep-alives and no
    /// registrations, whose answers would reach the partner that holds the
    /// addresses. Active (the default) starts them.
    void set_active(bool active);
    bool active() const noexcept { return _active; }
    /// Told, on the loop, of a user's bindings each time a REGISTER (or
    /// adopt_bindings) changed them: the user's live bindings, none when the
    /// last went. What a store replicating them to the partner node needs;
    /// expiry is not told (the store's copy expires by itself).
    using bindings_fn = std::function<void(const std::string& trunk, const std::string& user,
                                           const std::vector<registrar::binding>& live)>;
    void set_bindings_observer(bindings_fn f) { _bindings_changed = std::move(f); }
    /// Takes in bindings of `user` that another node registered at registrar
    /// trunk `trunk` (location_service::adopt); how many were taken (none
    /// for a trunk that is not a registrar's here).
    std::size_t adopt_bindings(const std::string& trunk, const std::string& user,
                               const std::vector<registrar::binding>& bindings);
    /// Rebuilds a call another node held (call::restore) under a new id of
    /// this node; an error says why it could not be (nothing is left of it).
    result<std::uint64_t> restore_call(const call_state& s);
    /// The interface named so; null for an unknown name.
    sip_interface* find_interface(const std::string& name) noexcept;
    /// A call taken over holds an admission slot of `trunk` here now.
    void adopt_slot(const config::trunk_config& trunk, bool inbound) noexcept;
    /// The ids of the calls held now, in order.
    std::vector<std::uint64_t> call_ids() const;
    /// Call `id` as data (call_state.hpp); nullopt when there is no such call.
    std::optional<call_state> call_state_of(std::uint64_t id) const;
    /// BYEs of finished calls still waiting for their final response (a
    /// trunk with credentials may challenge them).
    std::size_t byes_pending() const noexcept { return _closer.pending(); }
    /// Whether sbcd should exit now because a drain is over: the last call
    /// ended, or its deadline passed with calls left (drain.hpp). sbcd's
    /// main loop asks; the b2bua itself never stops the loop.
    drain_state::verdict drain_check() const;

    // For calls.
    sip_interface& interface_named(const std::string& name);
    dataplane::media_engine& media() noexcept { return _media; }
    const config::config& cfg() const noexcept { return _cfg; }
    /// A call reached `terminated`; it is destroyed on the next loop turn,
    /// outside of any sofia callback that may still be using it.
    void schedule_reap();
    /// Health and selection state of a trunk's peers; null for an unknown name.
    trunking::peer_table* peers_of(const std::string& trunk);
    /// How many of the trunks' configured peers are up (one given by name:
    /// when a current target of it is), and how many there are: what sbcd
    /// tells systemd (sbc/service/status_line.hpp).
    struct peer_count {
        std::size_t up = 0;
        std::size_t total = 0;
    };
    peer_count count_peers_up() const;
    /// Target `i` of `trunk`'s table (what dialog::peer holds); null when
    /// there is none.
    const trunking::target* target_of(const config::trunk_config& trunk, std::size_t i);
    /// Whether `host` (a URI's host, an IPv6 address in brackets or not)
    /// is one of `trunk`'s peers: a name it was configured with (compared
    /// without case), an address it was given, or an address one of its
    /// names resolved to.
    bool names_peer(const config::trunk_config& trunk, std::string_view host);
    /// For logs: target `i` of `trunk` (peer_route.hpp's describe()).
    std::string describe_target(const config::trunk_config& trunk, std::size_t i);
    /// Logs, after `context` ("call 12", "INVITE from trunk pbx"), each
    /// peer of `trunk` given by name that has no target (not resolved yet,
    /// or resolved to nothing): why the trunk had no peer to take a call.
    /// Rate-limited.
    void note_unresolved(const config::trunk_config& trunk, const std::string& context);
    /// Resolves every peer name again now, whatever its TTL (sbcctl reload,
    /// tests); what changes arrives later, on the loop.
    void refresh_names();
    /// Appends a call attempt's record to the CDR file, when there is one,
    /// and counts the attempt (tally()).
    void write_cdr(const cdr::record& r);
    /// Counts an ending call's last media counters (tally()).
    void count_media(const dataplane::session_stats& st) { _tally.count_media(st); }
    /// Attempts and media of the calls that have ended, for the metrics.
    const call_tally& tally() const noexcept { return _tally; }
    /// For the calls' and registrations' own counts (first 18x, digest refusals).
    call_tally& tally() noexcept { return _tally; }
    /// Reopens the CDR file (SIGHUP: after an external logrotate).
    void reopen_cdr();
    /// Admission of a call to or from `trunk` (its limits for that
    /// direction); a call that was admitted releases when it ends.
    /// Decided here, at once; with shared limits an admitted call is
    /// counted in the store as well (transfers, replacements, failover).
    admission::decision admit(const config::trunk_config& trunk, bool inbound);
    void release(const config::trunk_config& trunk, bool inbound) noexcept;
    /// Admission that asks the cluster's shared limits when there are
    /// some for the trunk and direction: the decision now, or nullopt when
    /// `done` will get it later from the loop (the store's, or the local
    /// limiter's when the store does not answer in time).
    std::optional<admission::decision> admit_or_ask(const config::trunk_config& trunk, bool inbound,
                                                    std::function<void(admission::decision)> done);
    /// Limits shared with the other nodes of a cluster (null: none); `s`
    /// must outlive the b2bua or be unset first.
    void set_shared_limits(admission::shared_admission* s) noexcept { _shared = s; }
    /// The calls held per limited trunk and direction.
    std::vector<admission_count> admission_counts() const;
    /// What `sbcctl trunks` shows of a trunk's shared limits in one
    /// direction (the cluster-wide count, who decided last).
    void set_shared_view(std::function<nlohmann::json(const std::string&, bool)> f) {
        _shared_view = std::move(f);
    }
    /// Where a transfer (REFER) from `from` to the user `target` goes: the
    /// first trunk of the matching route with a peer up, after `from`'s
    /// inbound normalization of `target`; or the SIP status that says why not.
    struct transfer_route {
        const config::trunk_config* trunk = nullptr;
        std::string user;  ///< the target after normalization
        int status = 0;    ///< when trunk is null
    };
    transfer_route route_transfer(const config::trunk_config& from, const std::string& target,
                                  const std::string& referee_user);
    /// The leg of one of our calls whose dialog `ref` names (RFC 3891 3: its
    /// to-tag is the SBC's tag, its from-tag the peer's), or null.
    call_leg* leg_of_dialog(const dialog_ref& ref);
    /// Ends a finished call's dialog with a BYE that answers the trunk's
    /// digest challenge, if it sends one; the closer owns `leg` from now on.
    void close_dialog(nta_leg_t* leg, const config::trunk_config& trunk, std::string via);
    /// The compiled normalization rules of `trunk`.
    const trunk_normalizer& normalizer(const config::trunk_config& trunk) const;
    /// The next target of `trunk` for a call that has tried the targets
    /// `tried` (failover): an index into its peer table.
    std::optional<std::size_t> choose_peer(const config::trunk_config& trunk,
                                           const std::vector<std::size_t>& tried);

    // api::control_handler
    api::status_info status() override;
    std::vector<api::call_info> calls() override;
    nlohmann::json trunks() override;
    nlohmann::json stats() override;
    nlohmann::json reload() override;
    nlohmann::json route_test(const nlohmann::json& args) override;
    nlohmann::json call_document(const nlohmann::json& args) override;
    nlohmann::json cluster(const nlohmann::json& args) override;
    /// Who carries out `sbcctl drain --hand-over` (the cluster node): it
    /// writes the calls for the partner and releases the addresses; an
    /// error when it cannot start.
    void set_hand_over(std::function<result<bool>()> f) { _hand_over = std::move(f); }
    /// The partner has taken every call over: they are dropped here without
    /// a word (no BYE, no CDR: the partner ends them and writes their
    /// records), and the registrations are left for the partner to keep.
    void abandon_all();
    /// Who answers `sbcctl cluster` (the cluster node, when there is one).
    void set_cluster_api(std::function<nlohmann::json(const nlohmann::json&)> f) {
        _cluster_api = std::move(f);
    }
    nlohmann::json drain(const nlohmann::json& args) override;  // drain_control.cpp
    nlohmann::json trace(const nlohmann::json& args) override;  // control_api.cpp
    nlohmann::json sip_capture(const nlohmann::json& args) override;
    nlohmann::json capture_stats() const;  ///< stats()'s "capture": the store's and HEP's

private:
    /// The screening of a new INVITE reads the router, the registrar's
    /// bindings, the digest checks and the refusal log, and adds the call.
    friend class invite_intake;

    /// What screening decided for a request outside our dialogs.
    struct screening {
        int status = 0;  ///< 0: passes (trunk set), >0: refuse statelessly, <0: drop
        const config::trunk_config* trunk = nullptr;
        unsigned retry_after = 0;  ///< with a 503
    };
    screening screen(sip_interface& iface, const dataplane::ip_endpoint& source, const sip_t* sip);
    int on_out_of_dialog_request(const config::trunk_config& trunk, nta_incoming_t* irq,
                                 const sip_t* sip);
    /// An INVITE outside any dialog: its checks and its call (invite_intake).
    int on_new_invite(const config::trunk_config& trunk, nta_incoming_t* irq, const sip_t* sip);
    /// An intake waiting for the shared limits' answer goes on with `d`.
    void resume_intake(std::uint64_t key, admission::decision d);
    int answer_options(const config::trunk_config& trunk, nta_incoming_t* irq);
    /// While draining: answers `irq` 503 with the drain's Retry-After and
    /// returns true (drain_control.cpp).
    bool refuse_while_draining(nta_incoming_t* irq);
    /// A REGISTER from a trunk that is a registrar's (RFC 3261 10.3).
    int on_register(const config::trunk_config& trunk, nta_incoming_t* irq, const sip_t* sip);
    /// Applies a REGISTER that passed its checks to the trunk's bindings
    /// and answers it (RFC 3261 10.3 steps 7 and 8).
    int apply_register(const config::trunk_config& trunk, nta_incoming_t* irq,
                       const registrar::register_request& r);
    /// Registers every trunk with `registration` at its first peer, once
    /// that peer has a target (start-up; a name's first resolution).
    void start_registrations();
    /// Makes the ACL anew from the peer tables: current targets, and the
    /// retired ones that calls still use.
    void rebuild_acl();
    /// A named peer's targets changed (peer_names): the ACL follows, and a
    /// registration waiting for its registrar's address starts.
    void on_names_changed();
    /// The registrar trunk on `interface` whose sources hold `source`.
    const config::trunk_config* registrar_trunk_for(const std::string& interface,
                                                    const dataplane::ip_endpoint& source) const;
    /// Digest check of a request from a trunk with `challenge` (RFC 3261
    /// 22.1): true when one of `credentials` (Authorization or
    /// Proxy-Authorization values) is valid; else `stale` says whether a
    /// correct answer came with an expired nonce.
    /// `ruri_user`, when not empty, must be the user of the digest-uri, so
    /// that a captured answer cannot be replayed to call another number.
    /// `who` receives the authenticated username. A refusal is counted
    /// for `trunk` (tally()'s digest refusals) with the furthest step the
    /// best of the credentials passed.
    bool authenticated(const std::string& trunk, const config::challenge_config& challenge,
                       const msg_auth_t* credentials, std::string_view method,
                       std::string_view body, std::string_view ruri_user, bool& stale,
                       std::string* who = nullptr);
    /// The WWW-Authenticate / Proxy-Authenticate value of a new challenge.
    std::string challenge_value(const config::challenge_config& challenge, bool stale);
    /// The CDR of an INVITE refused before it became a call (no route, a
    /// reject rule, no trunk available).
    void refused_cdr(const sip_t* sip, nta_incoming_t* irq, const config::trunk_config& trunk,
                     const config::route_config* route, const policy::call_numbers& received,
                     const policy::call_numbers& normalized, int status, const char* reason);
    /// Which trunk, and so which TLS requirements, a remote address on
    /// `interface` belongs to (the same source-address rule as the ACL).
    tls::peer_lookup tls_peers(const std::string& interface);
    /// The host name of `trunk`'s peer that resolved to `address`; empty
    /// when that address is a peer given by address (TLS then checks no name).
    std::string dialled_name(const config::trunk_config& trunk,
                             const dataplane::ip_endpoint& address);
    // The control API's parts (control_api.cpp).
    nlohmann::json trunk_json(const config::trunk_config& t);
    /// Peer `peer` of `t`: its health, or for a name its targets (with
    /// `calls`: the calls on each target) and what the resolver knows.
    nlohmann::json peer_json(const config::trunk_config& t, std::size_t peer,
                             const std::map<std::size_t, std::size_t>& calls);
    nlohmann::json interface_json(const sip_interface& i) const;
    /// Media packet totals over all calls, for stats().
    struct media_totals {
        std::uint64_t rx = 0;
        std::uint64_t tx = 0;
        std::uint64_t auth = 0;  ///< SRTP authentication failures and replays
    };
    nlohmann::json legs_json(const call& c, const dataplane::session_stats& st, std::int64_t now_ns,
                             media_totals& totals) const;
    /// What a route test's matching `route` does with `numbers`.
    nlohmann::json route_action(const config::route_config& route,
                                const policy::call_numbers& numbers);
    void reap();
    void tick();
    static void reap_timer_cb(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg);
    static void tick_timer_cb(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg);

    su_root_t* _root;
    const config::config& _cfg;
    dataplane::media_engine& _media;
    policy::router _router;
    policy::peer_acl _acl;
    std::vector<std::unique_ptr<sip_interface>> _interfaces;
    std::map<std::string, trunking::peer_table> _peers;
    /// After _peers, whose tables it fills; null when no peer has a name.
    std::unique_ptr<peer_names> _names;
    std::map<std::string, trunk_normalizer> _normalizers;
    std::unique_ptr<cdr::writer> _cdr;
    call_tally _tally;
    struct trunk_admission {
        admission::call_limiter inbound;
        admission::call_limiter outbound;
    };
    std::map<std::string, trunk_admission> _admission;
    admission::shared_admission* _shared = nullptr;
    std::function<nlohmann::json(const std::string&, bool)> _shared_view;
    /// INVITEs whose admission waits for the store's answer (invite_intake).
    std::map<std::uint64_t, std::unique_ptr<invite_intake>> _intakes;
    std::uint64_t _next_intake = 1;
    /// Per interface: the flood guard and what the access checks refused.
    struct interface_guard {
        admission::flood_guard flood;
        std::uint64_t refused_sources = 0;  ///< from outside allow_sources
    };
    std::map<std::string, interface_guard> _guards;
    /// Stateless nonces for the challenges (a random key per start), and
    /// the nonce counts seen with each, against replays.
    auth::nonce_issuer _nonces;
    auth::replay_guard _replays{nonce_lifetime};
    std::map<std::string, registrar::location_service> _locations;        ///< per registrar trunk
    std::map<std::string, std::unique_ptr<registration>> _registrations;  ///< per `register` trunk
    keepalive _keepalive{*this};
    std::mt19937 _rng{std::random_device{}()};
    dialog_closer _closer;  ///< emptied after the calls, before the interfaces (~b2bua)
    std::map<std::uint64_t, std::unique_ptr<call>> _calls;
    std::function<nlohmann::json(const nlohmann::json&)> _cluster_api;
    std::function<result<bool>()> _hand_over;
    bool _handed_over = false;  ///< abandon_all(): the partner holds the calls now
    call_observer* _observer = nullptr;
    capture::call_capture* _capture = nullptr;
    capture::hep_exporter* _hep = nullptr;
    bindings_fn _bindings_changed;
    /// Per call told of: the state_mark() it had then.
    std::map<std::uint64_t, std::uint64_t> _told;
    bool _active = true;
    /// Tells the observer of the calls whose state moved (tick).
    void tell_changes();
    std::uint64_t _next_call_id = 1;
    su_timer_t* _reap_timer = nullptr;
    su_timer_t* _tick_timer = nullptr;
    std::chrono::steady_clock::time_point _started;
    log::rate_limit _refusal_log{20};
    log::rate_limit _unresolved_log{20};
    drain_state _drain;  ///< sbcctl drain: new calls refused, sbcd exits when the calls ended
};

}  // namespace sbc::b2bua
