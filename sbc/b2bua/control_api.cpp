// The b2bua's answers to the control API (api::control_handler): status,
// calls, trunks, stats, reload and route tests, as the JSON that sbcctl and
// the e2e tests read. Moved out of b2bua.cpp unchanged in content: a key
// renamed or a value reshaped here is a change of the API.
#include <date/date.h>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sbc/api/json_codec.hpp"
#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_state_json.hpp"
#include "sbc/common/log.hpp"
#include "sbc/config/profiles.hpp"
#include "sbc/media_ctl/quality.hpp"
#include "sbc/sdp/sdes.hpp"

namespace sbc::b2bua {

namespace {

std::string iso_time(std::chrono::system_clock::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}
}  // namespace

api::status_info b2bua::status() {
    api::status_info s;
    s.version = SBC_VERSION;
    s.uptime_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - _started).count();
    for (const auto& i : _cfg.interfaces) {
        api::interface_status is;
        is.name = i.name;
        for (const auto& l : i.listen) {
            is.listen.push_back(
                fmt::format("{}://{}:{}", transport_param(l.proto), uri_host(l.host), l.port));
        }
        is.media_address = i.media_address;
        s.interfaces.push_back(std::move(is));
    }
    s.active_calls = _calls.size();
    s.drain = _drain.status(_calls.size(), std::chrono::steady_clock::now());
    return s;
}

std::vector<api::call_info> b2bua::calls() {
    std::vector<api::call_info> out;
    auto now = std::chrono::steady_clock::now();
    for (const auto& [id, c] : _calls) {
        api::call_info ci;
        ci.id = c->display_id();
        ci.from_trunk = c->from_trunk().name;
        ci.to_trunk = c->to_trunk().name;
        ci.state = c->state_name();
        ci.duration_seconds = std::chrono::duration<double>(now - c->created()).count();
        if (auto st = _media.stats(id)) {
            // Relayed, not merely received: what left towards each side's peer.
            ci.packets_a_to_b = st->sides[1].tx_packets;
            ci.packets_b_to_a = st->sides[0].tx_packets;
            for (auto s : {side::a, side::b}) {
                if (const auto q =
                        media_ctl::quality_of(st->sides[dataplane::index(s)], c->codec(s))) {
                    (s == side::a ? ci.quality_a : ci.quality_b) =
                        api::call_quality{q->loss_percent, q->jitter_ms, q->rtt_ms, q->mos};
                }
            }
        }
        ci.codec_a = c->codec(side::a);
        ci.codec_b = c->codec(side::b);
        ci.ptime_a = c->ptime(side::a);
        ci.ptime_b = c->ptime(side::b);
        ci.media = c->transcoded() ? "transcoded" : "relayed";
        ci.ice_ufrag_a = c->ice_ufrag(side::a);
        ci.ice_ufrag_b = c->ice_ufrag(side::b);
        ci.local_ringback = c->local_ringback();
        out.push_back(std::move(ci));
    }
    return out;
}

// ---- trunks ----------------------------------------------------------------

namespace {
nlohmann::json session_json(const tls::session_info& s) {
    return {{"peer", s.peer},         {"direction", s.inbound ? "in" : "out"},
            {"protocol", s.protocol}, {"cipher", s.cipher},
            {"subject", s.subject},   {"not_after", s.not_after},
            {"at", iso_time(s.at)}};
}

nlohmann::json failure_json(const tls::failure_info& f) {
    return {{"peer", f.peer},
            {"direction", f.inbound ? "in" : "out"},
            {"reason", f.reason},
            {"at", iso_time(f.at)}};
}

nlohmann::json limit_json(const admission::call_limiter& l, const config::call_limits& c) {
    return nlohmann::json{{"active", l.active()},
                          {"max_calls", c.max_calls},
                          {"cps", c.cps},
                          {"admitted", l.admitted()},
                          {"refused_max_calls", l.refused_max_calls()},
                          {"refused_cps", l.refused_cps()}};
}

nlohmann::json registration_json(const std::string& aor, const registration::status& st) {
    return {{"aor", aor},
            {"state", st.state},
            {"last_result", st.last_result},
            {"failures", st.failures},
            {"expires_in",
             st.expires_at ? nlohmann::json(std::chrono::duration_cast<std::chrono::seconds>(
                                                *st.expires_at - std::chrono::system_clock::now())
                                                .count())
                           : nlohmann::json(nullptr)}};
}

nlohmann::json bindings_json(const registrar::location_service& locations) {
    auto bindings = nlohmann::json::array();
    const auto now = std::chrono::steady_clock::now();
    for (const auto& b : locations.all(now)) {
        bindings.push_back({{"user", b.user},
                            {"contact", b.contact},
                            {"source", b.source.to_string()},
                            {"expires_in", b.seconds_left(now)}});
    }
    return bindings;
}

nlohmann::json health_json(const trunking::peer_health& h) {
    // A hold-off that has run out is no longer news: null, as for none.
    const bool held_off = h.held_off(trunking::clock::now());
    return {{"state", h.up ? "up" : "down"},
            {"since", iso_time(h.since)},
            {"last_result", h.last_result},
            {"last_rtt_ms",
             h.last_rtt ? nlohmann::json(h.last_rtt->count() / 1000.0) : nlohmann::json(nullptr)},
            {"held_off_until",
             held_off ? nlohmann::json(iso_time(*h.held_off_until)) : nlohmann::json(nullptr)}};
}

/// The last TLS session and failure with `host` when its interface has TLS.
void tls_json(nlohmann::json& j, const std::string& host, const tls::interface_tls* tls) {
    const auto* session = tls != nullptr ? tls->last_session(host) : nullptr;
    j["tls"] = session != nullptr ? session_json(*session) : nlohmann::json(nullptr);
    // A failed handshake since the last one that completed (issue 19).
    const auto* failure = tls != nullptr ? tls->last_failure(host) : nullptr;
    j["tls_failure"] = failure != nullptr ? failure_json(*failure) : nlohmann::json(nullptr);
}

nlohmann::json optional_time(const std::optional<std::chrono::system_clock::time_point>& t) {
    return t ? nlohmann::json(iso_time(*t)) : nlohmann::json(nullptr);
}

/// What the resolver knows of a peer's name (RFC 3263): when the answer
/// came and expires, whether it is past that and kept (stale), the last
/// error.
void name_json(nlohmann::json& pj, const dns::name_state& s) {
    pj["name"] = s.name;
    pj["resolved_at"] = optional_time(s.resolved_at);
    pj["expires"] = optional_time(s.expires);
    pj["stale"] = s.stale;
    pj["last_error"] =
        s.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.last_error);
    pj["last_error_at"] = optional_time(s.last_error_at);
}
}  // namespace

nlohmann::json b2bua::peer_json(const config::trunk_config& t, std::size_t peer,
                                const std::map<std::size_t, std::size_t>& calls) {
    const auto& p = t.peers[peer];
    nlohmann::json pj = {
        {"uri", config::to_string(p)}, {"priority", p.priority}, {"weight", p.weight}};
    const auto* table = peers_of(t.name);
    const auto* tls = interface_named(t.interface).tls();
    if (!p.is_name) {
        // One target, the peer's address: its fields are the peer's, as
        // they always were.
        for (std::size_t i = 0; table != nullptr && i < table->size(); ++i) {
            if (table->target_at(i).peer == peer) {
                pj.update(health_json(table->health(i)));
            }
        }
        tls_json(pj, p.host, tls);
        return pj;
    }
    // A name: its targets as it resolved, each with its own health; the
    // peer is up when a current target is.
    auto targets = nlohmann::json::array();
    bool up = false;
    for (std::size_t i = 0; table != nullptr && i < table->size(); ++i) {
        const auto& target = table->target_at(i);
        if (target.peer != peer) {
            continue;
        }
        const auto& h = table->health(i);
        up = up || (target.current && h.up);
        auto tj = nlohmann::json{{"address", target.host},
                                 {"port", target.port},
                                 {"transport", config::to_string(target.proto)},
                                 {"priority", target.priority},
                                 {"weight", target.weight},
                                 {"current", target.current}};
        tj.update(health_json(h));
        auto n = calls.find(i);
        tj["active_calls"] = n != calls.end() ? n->second : 0;
        tls_json(tj, target.host, tls);
        targets.push_back(std::move(tj));
    }
    pj["state"] = up ? "up" : "down";
    pj["targets"] = std::move(targets);
    if (auto state = _names ? _names->state_of(t.name, peer) : std::nullopt) {
        name_json(pj, *state);
    }
    return pj;
}

namespace {
nlohmann::json interface_tls_json(const tls::interface_tls& tls) {
    const auto& c = tls.counters();
    return {{"certificate_subject", tls.certificate_subject()},
            {"certificate_not_after", tls.certificate_not_after()},
            {"handshakes",
             {{"completed", c.completed},
              {"no_certificate", c.no_certificate},
              {"untrusted", c.untrusted},
              {"expired", c.expired},
              {"name_mismatch", c.name_mismatch},
              {"unknown_peer", c.unknown_peer},
              {"refused_by_peer", c.refused_by_peer},
              {"protocol", c.protocol},
              {"cipher", c.cipher},
              {"other", c.other}}}};
}
}  // namespace

nlohmann::json b2bua::trunk_json(const config::trunk_config& t) {
    std::size_t calls = 0;
    for (const auto& [id, c] : _calls) {
        calls += (&c->from_trunk() == &t || &c->to_trunk() == &t) ? 1 : 0;
    }
    nlohmann::json tj = {{"name", t.name},
                         {"interface", t.interface},
                         {"profile", config::to_string(t.profile)},
                         {"active_calls", calls},
                         {"keepalive_interval", t.keepalive.interval_seconds},
                         {"peers", nlohmann::json::array()}};
    const auto& adm = _admission.at(t.name);
    tj["admission"] = {{"inbound", limit_json(adm.inbound, t.limits.inbound)},
                       {"outbound", limit_json(adm.outbound, t.limits.outbound)}};
    if (_shared_view) {
        // Shared limits: the count across the cluster, and whether the
        // store or this node's own limiter decided last.
        tj["admission"]["inbound"]["cluster"] = _shared_view(t.name, true);
        tj["admission"]["outbound"]["cluster"] = _shared_view(t.name, false);
    }
    tj["registration"] = nullptr;
    if (auto r = _registrations.find(t.name); r != _registrations.end()) {
        tj["registration"] = registration_json(t.registration->aor, r->second->state());
    }
    if (auto l = _locations.find(t.name); l != _locations.end()) {
        tj["registrations"] = bindings_json(l->second);
    }
    // The calls on each target of this trunk (leg b: the targets the SBC called).
    std::map<std::size_t, std::size_t> on_target;
    for (const auto& [id, c] : _calls) {
        if (auto target = c->called_target(); target && target->first == t.name) {
            ++on_target[target->second];
        }
    }
    for (std::size_t i = 0; i < t.peers.size(); ++i) {
        tj["peers"].push_back(peer_json(t, i, on_target));
    }
    return tj;
}

nlohmann::json b2bua::interface_json(const sip_interface& i) const {
    nlohmann::json ij = {{"name", i.name()}, {"tls", nullptr}};
    const auto& guard = _guards.at(i.name());
    const auto now = admission::clock::now();
    auto blocked = nlohmann::json::array();
    for (const auto& b : guard.flood.blocked(now)) {
        blocked.push_back(
            {{"address", b.address},
             {"seconds_left",
              std::chrono::duration_cast<std::chrono::seconds>(b.until - now).count()},
             {"dropped", b.dropped}});
    }
    ij["access"] = {
        {"allow_sources", nlohmann::json::array()}, {"refused_sources", guard.refused_sources},
        {"dropped_udp", i.filtered_drops()},        {"flood_blocks", guard.flood.blocks()},
        {"flood_dropped", guard.flood.dropped()},   {"blocked", blocked}};
    for (const auto& c : i.cfg().allow_sources) {
        ij["access"]["allow_sources"].push_back(c.text);
    }
    if (const auto* tls = i.tls()) {
        ij["tls"] = interface_tls_json(*tls);
    }
    return ij;
}

nlohmann::json b2bua::trunks() {
    auto out = nlohmann::json::object();
    auto& trunks = out["trunks"] = nlohmann::json::array();
    for (const auto& t : _cfg.trunks) {
        trunks.push_back(trunk_json(t));
    }
    auto& ifaces = out["interfaces"] = nlohmann::json::array();
    for (const auto& i : _interfaces) {
        ifaces.push_back(interface_json(*i));
    }
    return out;
}

// ---- reload ----------------------------------------------------------------

nlohmann::json b2bua::reload() {
    std::optional<config::config> fresh;
    try {
        fresh = config::load_file(_cfg.source_file);
    } catch (const config::config_error& e) {
        sip_log.warn("reload of {} refused: {} problem(s)", _cfg.source_file, e.problems().size());
        return {{"ok", false}, {"errors", e.problems()}};
    }
    // DESIGN.md: a reload that passes applies to new calls only. Today that
    // is the interfaces' TLS certificates, keys and trust stores: the rest
    // of the configuration is bound to the running agents and calls.
    std::vector<std::string> applied;
    std::vector<std::string> errors;
    if (_cdr) {
        // After an external logrotate moved the file away.
        reopen_cdr();
        applied.push_back(fmt::format("cdr: {} reopened", _cdr->path()));
    }
    for (auto& i : _interfaces) {
        const auto* now = fresh->find_interface(i->name());
        if (i->tls() == nullptr || now == nullptr || !now->tls) {
            continue;
        }
        if (auto error = i->tls()->reload(*now->tls)) {
            errors.push_back(fmt::format("interface {}: tls: {}", i->name(), *error));
        } else {
            applied.push_back(
                fmt::format("interface {}: TLS certificate, key and trust store", i->name()));
        }
    }
    if (!errors.empty()) {
        return {{"ok", false}, {"errors", errors}, {"applied", applied}};
    }
    if (_names) {
        // The trunks (and their names) stay as they are until a restart;
        // their answers are asked for anew, whatever their TTLs.
        refresh_names();
        applied.push_back("dns: every peer name resolved again");
    }
    sip_log.info("reloaded {}", _cfg.source_file);
    return {{"ok", true},
            {"applied", applied},
            {"restart_needed",
             "changes to interfaces, trunks, routes and media take effect when sbcd restarts"}};
}

// ---- stats -----------------------------------------------------------------

namespace {
nlohmann::json transcoder_json(const transcoder::chain_stats& t) {
    return {{"packets_in", t.packets_in},
            {"packets_out", t.packets_out},
            {"malformed", t.malformed},
            {"unknown_payload", t.unknown_payload},
            {"late", t.late},
            {"reordered", t.reordered},
            {"concealed", t.concealed},
            {"recovered", t.recovered},
            {"events_dropped", t.events_dropped},
            {"cn_dropped", t.cn_dropped},
            {"dtx_suppressed", t.dtx_suppressed},
            {"sink_full", t.sink_full},
            {"dtmf_digits", t.dtmf_digits},
            {"dtmf_lost", t.dtmf_lost}};
}

nlohmann::json side_json(const dataplane::side_counters& c, const config::trunk_config& trunk,
                         std::optional<config::srtp_suite> suite, std::int64_t now_ns) {
    nlohmann::json j{
        {"trunk", trunk.name},
        {"srtp", suite ? nlohmann::json(config::to_string(*suite)) : nlohmann::json(nullptr)},
        {"rtp_rx_packets", c.rtp_rx_packets},
        {"rtp_rx_bytes", c.rtp_rx_bytes},
        {"rtcp_rx_packets", c.rtcp_rx_packets},
        {"tx_packets", c.tx_packets},
        {"tx_bytes", c.tx_bytes},
        {"drops",
         {{"wrong_source", c.drops_wrong_source},
          {"no_destination", c.drops_no_destination},
          {"tx_error", c.drops_tx_error},
          {"truncated", c.drops_truncated},
          {"srtp_auth", c.srtp_auth_failures},
          {"srtp_replay", c.srtp_replays},
          {"srtp_protect", c.srtp_errors}}},
        // ICE connectivity checks (STUN) on this side's ports: answered,
        // refused (400, 401, 420, 487), or dropped for want of ICE.
        {"stun",
         {{"answered", c.stun_answered},
          {"rejected", c.stun_rejected},
          {"dropped", c.stun_dropped}}},
        {"latched",
         c.latched_rtp ? nlohmann::json(c.latched_rtp->to_string()) : nlohmann::json(nullptr)},
        {"last_rx_ms_ago", c.last_rx_ns == 0 ? nlohmann::json(nullptr)
                                             : nlohmann::json((now_ns - c.last_rx_ns) / 1000000)},
    };
    if (c.local_tone || c.local_tone_packets > 0) {
        // Local ringback the SBC played to this leg's peer, and what the
        // other leg's peer sent meanwhile that it did not hear.
        j["local_tone"] = {{"playing", c.local_tone}, {"packets", c.local_tone_packets}};
    }
    if (c.drops_local_tone > 0) {
        j["drops"]["local_tone"] = c.drops_local_tone;
    }
    if (c.chain) {
        // The codec chain of what this leg's peer sends (decoded, re-encoded
        // for the other leg).
        j["transcoder"] = transcoder_json(*c.chain);
        j["drops"]["transcoded_rtcp"] = c.drops_transcoded_rtcp;
    }
    return j;
}

// What the leg's peer sends, as received (RFC 3550 A.3, A.8; 6.4.1 for the
// round trip), and the MOS estimated from it; null before its first RTP.
nlohmann::json quality_json(const dataplane::side_counters& c, std::string_view codec) {
    const auto q = media_ctl::quality_of(c, codec);
    if (!q) {
        return nullptr;
    }
    return {{"received", q->received},
            {"expected", q->expected},
            {"lost", q->lost},
            {"loss_percent", q->loss_percent},
            {"jitter_ms", q->jitter_ms},
            {"rtt_ms", q->rtt_ms ? nlohmann::json(*q->rtt_ms) : nlohmann::json(nullptr)},
            {"mos", q->mos}};
}

nlohmann::json workers_json(dataplane::media_engine& media) {
    auto workers = nlohmann::json::array();
    for (const auto& w : media.worker_counters()) {
        workers.push_back({{"index", w.index},
                           {"busy_fraction", w.busy_fraction},
                           {"bursts", w.bursts},
                           {"packets", w.packets}});
    }
    return workers;
}

nlohmann::json ports_json(const dataplane::media_engine& media) {
    auto ports = nlohmann::json::array();
    for (const auto& p : media.port_counters()) {
        ports.push_back({{"device", p.device},
                         {"rx_packets", p.rx_packets},
                         {"rx_bytes", p.rx_bytes},
                         {"tx_packets", p.tx_packets},
                         {"tx_bytes", p.tx_bytes},
                         {"rx_missed", p.rx_missed},
                         {"rx_errors", p.rx_errors},
                         {"tx_errors", p.tx_errors},
                         {"to_kernel", p.to_kernel},
                         {"from_kernel", p.from_kernel},
                         {"unresolved", p.unresolved},
                         {"tx_full", p.tx_full},
                         {"kernel_full", p.kernel_full},
                         {"dispatch_full", p.dispatch_full},
                         {"checksum_offload", p.checksum_offload}});
    }
    return ports;
}
}  // namespace

nlohmann::json b2bua::legs_json(const call& c, const dataplane::session_stats& st,
                                std::int64_t now_ns, media_totals& totals) const {
    auto legs = nlohmann::json::object();
    for (auto s : {side::a, side::b}) {
        const auto& counters = st.sides[dataplane::index(s)];
        const auto& trunk = s == side::a ? c.from_trunk() : c.to_trunk();
        auto leg = side_json(counters, trunk, c.srtp_suite(s), now_ns);
        leg["codec"] = c.codec(s);
        leg["ptime"] = c.ptime(s);
        leg["quality"] = quality_json(counters, c.codec(s));
        const auto& addr = c.media_address(s);
        leg["local"] = addr.find(':') == std::string::npos
                           ? fmt::format("{}:{}", addr, c.local_rtp_port(s))
                           : fmt::format("[{}]:{}", addr, c.local_rtp_port(s));
        legs[s == side::a ? "a" : "b"] = std::move(leg);
        totals.rx += counters.rtp_rx_packets + counters.rtcp_rx_packets;
        totals.tx += counters.tx_packets;
        totals.auth += counters.srtp_auth_failures + counters.srtp_replays;
    }
    return legs;
}

nlohmann::json b2bua::stats() {
    auto calls = nlohmann::json::array();
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count();
    media_totals totals;
    // Transcoded calls by codec pair ("G729/8000 <-> PCMA/8000", sorted so
    // that a pair counts the same whichever leg has which codec).
    std::map<std::string, std::uint64_t> transcoded;
    for (const auto& [id, c] : _calls) {
        if (c->transcoded()) {
            auto x = c->codec(side::a);
            auto y = c->codec(side::b);
            if (y < x) {
                std::swap(x, y);
            }
            ++transcoded[x + " <-> " + y];
        }
        auto st = _media.stats(id);
        if (!st) {
            continue;
        }
        calls.push_back({{"id", c->display_id()},
                         {"state", c->state_name()},
                         {"media", c->transcoded() ? "transcoded" : "relayed"},
                         {"legs", legs_json(*c, *st, now_ns, totals)}});
    }
    return {{"calls", calls},
            {"capture", capture_stats()},
            {"media",
             {{"backend", _cfg.media.backend},
              {"open_sessions", _media.open_sessions()},
              {"free_port_pairs", _media.free_port_pairs()},
              {"rx_packets", totals.rx},
              {"tx_packets", totals.tx},
              {"srtp_auth_drops", totals.auth},
              {"transcoded_calls", transcoded},
              {"workers", workers_json(_media)},
              {"ports", ports_json(_media)}}}};
}

// ---- route_test ------------------------------------------------------------

namespace {
nlohmann::json route_numbers_json(const policy::call_numbers& n) {
    return {{"ruri", n.ruri}, {"from", n.from}, {"to", n.to}};
}

std::string arg(const nlohmann::json& args, const char* key) {
    auto it = args.find(key);
    return it != args.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "2026-12-02T09:30:00Z", "2026-12-02T09:30:00+01:00" or "2026-12-02T09:30Z"
// (RFC 3339 without fractions, seconds optional).
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view t) {
    auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
        if (at + n > t.size()) {
            return std::nullopt;
        }
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (t[i] < '0' || t[i] > '9') {
                return std::nullopt;
            }
            v = v * 10 + (t[i] - '0');
        }
        return v;
    };
    auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2);
    if (!y || !mo || !d || !h || !mi || t.size() < 17 || t[4] != '-' || t[7] != '-' ||
        (t[10] != 'T' && t[10] != ' ') || t[13] != ':' || *h > 23 || *mi > 59) {
        return std::nullopt;
    }
    std::size_t at = 16;
    int sec = 0;
    if (t[at] == ':') {
        auto s = num(at + 1, 2);
        if (!s || *s > 60) {
            return std::nullopt;
        }
        sec = *s;
        at += 3;
    }
    int offset = 0;
    if (at + 1 == t.size() && (t[at] == 'Z' || t[at] == 'z')) {
        offset = 0;
    } else if (at + 6 == t.size() && (t[at] == '+' || t[at] == '-') && t[at + 3] == ':') {
        auto oh = num(at + 1, 2), om = num(at + 4, 2);
        if (!oh || !om || *oh > 23 || *om > 59) {
            return std::nullopt;
        }
        offset = (t[at] == '-' ? -1 : 1) * (*oh * 60 + *om);
    } else {
        return std::nullopt;
    }
    const date::year_month_day ymd{date::year{*y}, date::month{static_cast<unsigned>(*mo)},
                                   date::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return date::sys_days(ymd) + std::chrono::hours(*h) + std::chrono::minutes(*mi - offset) +
           std::chrono::seconds(sec);
}

/// Sets `req`'s source and time from the test's `source` and `at`, or the
/// error reply that says which of them is wrong. Without `source`, a call
/// comes from `peer_address` (the trunk's first target), when there is one.
std::optional<nlohmann::json> apply_source_and_time(const nlohmann::json& args,
                                                    const std::string& peer_address,
                                                    policy::route_request& req) {
    const auto source = arg(args, "source");
    if (!source.empty()) {
        auto ep = dataplane::ip_endpoint::from_string(source, 0);
        if (!ep) {
            return api::make_error_reply(fmt::format("'{}' is not an IP address", source));
        }
        req.source = *ep;
    } else if (!peer_address.empty()) {
        // A call from the trunk comes from one of its peers.
        req.source =
            dataplane::ip_endpoint::from_string(peer_address, 0).value_or(dataplane::ip_endpoint{});
    }
    const auto at = arg(args, "at");
    if (!at.empty()) {
        auto t = parse_time(at);
        if (!t) {
            return api::make_error_reply(fmt::format(
                "'{}' is not a time: expected 2026-12-02T09:30:00Z or 2026-12-02T09:30+01:00", at));
        }
        req.now = *t;
    }
    return std::nullopt;
}

nlohmann::json reject_json(const config::route_config& route) {
    const char* phrase = sip_status_phrase(static_cast<int>(route.reject->code));
    return {{"reject",
             {{"code", route.reject->code},
              {"reason", !route.reject->reason.empty() ? route.reject->reason
                         : phrase != nullptr           ? phrase
                                                       : ""}}}};
}
}  // namespace

nlohmann::json b2bua::route_action(const config::route_config& route,
                                   const policy::call_numbers& numbers) {
    if (route.reject) {
        return reject_json(route);
    }
    auto trunks = nlohmann::json::array();
    for (const auto& name : route.to_trunks) {
        const auto* t = _cfg.find_trunk(name);
        auto* table = peers_of(name);
        trunks.push_back(
            {{"trunk", name},
             {"numbers", route_numbers_json(normalizer(*t).outbound.apply(numbers))},
             {"peers_up",
              table != nullptr && table->choose({}, _rng, trunking::clock::now()).has_value()}});
    }
    return {{"trunks", trunks}};
}

nlohmann::json b2bua::route_test(const nlohmann::json& args) {
    const auto from_trunk = arg(args, "from_trunk");
    const auto* trunk = _cfg.find_trunk(from_trunk);
    if (trunk == nullptr) {
        return api::make_error_reply(fmt::format("unknown trunk '{}'", from_trunk));
    }
    policy::call_numbers received{arg(args, "ruri"), arg(args, "from"), arg(args, "to")};
    if (received.to.empty()) {
        received.to = received.ruri;  // as most callers send it
    }
    const auto numbers = normalizer(*trunk).inbound.apply(received);
    auto req = policy::make_request(*trunk, numbers, {}, std::chrono::system_clock::now());
    // The first peer's first target: its address, or the first its name
    // resolved to (none yet: no source).
    std::string peer_address;
    if (const auto* table = peers_of(trunk->name)) {
        for (std::size_t i = 0; i < table->size() && peer_address.empty(); ++i) {
            const auto& target = table->target_at(i);
            peer_address = target.peer == 0 && target.current ? target.host : "";
        }
    }
    if (auto error = apply_source_and_time(args, peer_address, req)) {
        return *error;
    }
    nlohmann::json out{{"from_trunk", trunk->name},
                       {"source", req.source.valid() ? req.source.address() : ""},
                       {"at", date::format("%FT%TZ", date::floor<std::chrono::seconds>(req.now))},
                       {"received", route_numbers_json(received)},
                       {"normalized", route_numbers_json(numbers)}};
    auto& rules = out["rules"] = nlohmann::json::array();
    for (const auto& v : _router.explain(req)) {
        rules.push_back({{"rule", v.rule}, {"matched", v.matched}, {"why", v.why}});
    }
    const auto* route = _router.match(req);
    if (route == nullptr) {
        out["route"] = nullptr;
        out["action"] = {{"reject", {{"code", 404}, {"reason", "Not Found"}}}};
        return out;
    }
    out["route"] = route->name;
    out["action"] = route_action(*route, numbers);
    return out;
}

// ---- call_state ------------------------------------------------------------

nlohmann::json b2bua::call_document(const nlohmann::json& args) {
    const auto id = args.find("id");
    if (id == args.end() || !id->is_number_unsigned()) {
        return {{"error", "call_state needs \"id\": the call's number (sbcctl calls)"}};
    }
    const auto state = call_state_of(id->get<std::uint64_t>());
    if (!state) {
        return {{"error", fmt::format("no call {}", id->get<std::uint64_t>())}};
    }
    auto doc = to_json_value(*state);
    // Keys stay in the process: the control socket is for people and scripts.
    for_each_secret(doc, [](nlohmann::json& secret) { secret = {{"$secret", "redacted"}}; });
    return {{"call", std::move(doc)}};
}

nlohmann::json b2bua::cluster(const nlohmann::json& args) {
    if (!_cluster_api) {
        return {{"error", "this node is not in a cluster (no cluster: in its configuration)"}};
    }
    return _cluster_api(args);
}

}  // namespace sbc::b2bua

// ---- trace, sip_capture ----------------------------------------------------

namespace sbc::b2bua {
namespace {

// One poll of sbcctl trace returns at most this many messages; it asks
// again from where the answer stopped.
constexpr std::size_t trace_batch = 500;

}  // namespace

nlohmann::json b2bua::capture_stats() const {
    if (_capture == nullptr) {
        return nullptr;
    }
    auto j = _capture->stats();
    j["hep"] = _hep != nullptr ? _hep->stats() : nlohmann::json();
    return j;
}

nlohmann::json b2bua::trace(const nlohmann::json& args) {
    if (_capture == nullptr) {
        return {{"error", "no SIP capture in this process"}};
    }
    std::uint64_t since = 0;
    if (auto it = args.find("since"); it != args.end() && it->is_number_unsigned()) {
        since = it->get<std::uint64_t>();
    }
    return _capture->trace(arg(args, "filter"), since, trace_batch);
}

nlohmann::json b2bua::sip_capture(const nlohmann::json& args) {
    if (_capture == nullptr) {
        return {{"error", "no SIP capture in this process"}};
    }
    const auto which = arg(args, "call");
    const auto* c = _capture->find(which);
    if (c == nullptr) {
        return {{"error", fmt::format("no call {} among the calls kept (capture.calls)", which)}};
    }
    auto messages = nlohmann::json::array();
    for (const auto& m : c->messages) {
        // base64: a body need not be UTF-8, and JSON strings must be.
        messages.push_back({{"seq", m.seq},
                            {"t_us", m.wall_us},
                            {"dir", capture::to_string(m.direction)},
                            {"transport", capture::to_string(m.transport)},
                            {"local", m.local.to_string()},
                            {"remote", m.remote.to_string()},
                            {"call_id", m.call_id},
                            {"summary", m.summary},
                            {"bytes", sdp::base64_encode(std::vector<std::uint8_t>(
                                          m.bytes.begin(), m.bytes.end()))}});
    }
    return {{"call", c->id},         {"from", c->from},         {"to", c->to},
            {"trunks", c->trunks},   {"call_ids", c->call_ids}, {"ended", c->ended},
            {"dropped", c->dropped}, {"messages", messages}};
}

}  // namespace sbc::b2bua
