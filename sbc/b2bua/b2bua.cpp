#include "sbc/b2bua/b2bua.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "sbc/b2bua/invite_intake.hpp"
#include "sbc/b2bua/peer_route.hpp"
#include "sbc/common/text.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

namespace {
constexpr std::chrono::seconds ack_wait{32};  // RFC 3261 13.3.1.4: 64*T1 for the ACK

admission::limits limits_of(const config::call_limits& c) {
    admission::limits l;
    l.max_calls = c.max_calls;
    l.cps = c.cps;
    l.burst = c.burst;
    l.retry_after = c.retry_after;
    return l;
}

dataplane::ip_endpoint source_of(msg_t* msg) {
    const su_addrinfo_t* ai = msg != nullptr ? msg_addrinfo(msg) : nullptr;
    if (ai == nullptr || ai->ai_addr == nullptr) {
        return {};
    }
    auto ep =
        dataplane::ip_endpoint::from_sockaddr(ai->ai_addr, static_cast<socklen_t>(ai->ai_addrlen));
    return ep ? *ep : dataplane::ip_endpoint{};
}

dataplane::ip_endpoint source_of(nta_incoming_t* irq) {
    auto msg = sofia::msg_ref::adopt(nta_incoming_getrequest(irq));
    return source_of(msg.get());
}

// What nta's own dispatch to a leg does with its callback's return value
// (0: answered, or will be; 100-699: answer with it), for the server
// transactions the b2bua makes itself.
void complete(nta_incoming_t* irq, int status) {
    if (status == 0) {
        return;
    }
    if (status < 100 || status > 699 ||
        (nta_incoming_method(irq) == sip_method_invite && status < 300 && status >= 200)) {
        status = 500;
    }
    if (nta_incoming_status(irq) < 200) {
        sofia::treply(irq, status, nullptr);
    }
    if (status >= 200) {
        nta_incoming_destroy(irq);
    }
}

// RFC 3261 18.1.1: nta sends a request of more than 1,300 bytes (an INVITE
// with a large SDP, many forwarded headers) over TCP instead of UDP, but
// only when the interface has a TCP transport; without one it falls back to
// UDP, where a fragmented datagram is easily lost. Said once at start, per
// trunk, so that the operator can add a tcp:// listener.
void warn_udp_without_tcp(const config::config& cfg) {
    for (const auto& t : cfg.trunks) {
        const auto* iface = cfg.find_interface(t.interface);
        if (iface == nullptr || iface->has_listener(config::transport::tcp)) {
            continue;
        }
        const bool udp = std::any_of(t.peers.begin(), t.peers.end(), [](const auto& p) {
            return p.proto == config::transport::udp || (p.is_name && !p.transport_given);
        });
        if (udp) {
            sip_log.warn(
                "trunk {}: peers over UDP and interface {} has no TCP listener: a request over "
                "1,300 bytes to them cannot move to TCP (RFC 3261 18.1.1) and goes over UDP",
                t.name, t.interface);
        }
    }
}

}  // namespace

b2bua::b2bua(su_root_t* root, const config::config& cfg, dataplane::media_engine& media)
    : _root(root),
      _cfg(cfg),
      _media(media),
      _router(cfg),
      _started(std::chrono::steady_clock::now()) {
    for (const auto& i : cfg.interfaces) {
        admission::flood_settings fs;
        fs.rate = i.flood.rate;
        fs.burst = i.flood.burst;
        fs.block_for = std::chrono::seconds(i.flood.block_seconds);
        _guards.emplace(i.name, interface_guard{admission::flood_guard(fs), 0});
        _interfaces.push_back(std::make_unique<sip_interface>(root, i, *this, tls_peers(i.name)));
    }
    for (const auto& t : cfg.trunks) {
        _peers.emplace(t.name, trunking::peer_table(t, trunking::clock::now()));
        const auto now = admission::clock::now();
        _admission.emplace(
            t.name, trunk_admission{admission::call_limiter(limits_of(t.limits.inbound), now),
                                    admission::call_limiter(limits_of(t.limits.outbound), now)});
        if (t.registrar) {
            _locations.emplace(t.name, registrar::location_service(t.registrar->min_expires,
                                                                   t.registrar->max_expires));
        }
        _normalizers.emplace(t.name,
                             trunk_normalizer{policy::number_rewriter(t.normalize.inbound),
                                              policy::number_rewriter(t.normalize.outbound)});
    }
    if (peer_names::needed(cfg)) {
        _names = std::make_unique<peer_names>(root, cfg, _peers, [this] { on_names_changed(); });
    }
    rebuild_acl();
    warn_udp_without_tcp(cfg);
    if (cfg.cdr) {
        // Throws with the path when the file cannot be opened: sbcd then
        // refuses to start rather than lose every record silently.
        _cdr = std::make_unique<cdr::writer>(
            cdr::writer_options{cfg.cdr->file, cfg.cdr->max_bytes, cfg.cdr->keep});
    }
    _active = !(cfg.cluster && cfg.cluster->standby);
    if (_active) {
        start_registrations();
    }
    _reap_timer = su_timer_create(su_root_task(root), 1);  // su_timer needs > 0 ms
    _tick_timer = su_timer_create(su_root_task(root), 200);
    if (_reap_timer == nullptr || _tick_timer == nullptr) {
        throw std::runtime_error("cannot create timers");
    }
    // su_timer_run repeats at the interval given at creation; set_interval is one-shot.
    su_timer_run(_tick_timer, tick_timer_cb, this);
}

void b2bua::start_registrations() {
    if (!_active) {
        return;
    }
    for (const auto& t : _cfg.trunks) {
        if (!t.registration || t.peers.empty() || _registrations.count(t.name) != 0) {
            continue;
        }
        // The registrar is the first peer: its first current target (a
        // name's registration waits for its first answer).
        const auto& table = _peers.at(t.name);
        const trunking::target* registrar = nullptr;
        for (std::size_t i = 0; i < table.size() && registrar == nullptr; ++i) {
            const auto& target = table.target_at(i);
            registrar = target.peer == 0 && target.current ? &target : nullptr;
        }
        if (registrar == nullptr) {
            continue;
        }
        // The carrier sends calls for the AOR to this Contact: its user is
        // the AOR's, its address this interface's.
        const auto& iface = interface_named(t.interface);
        const auto aor_user = t.registration->aor.substr(
            t.registration->aor.find(':') + 1,
            t.registration->aor.find('@') - t.registration->aor.find(':') - 1);
        auto contact = iface.contact(registrar->proto);
        contact.insert(contact.find(':') + 1, aor_user + "@");
        const auto uri = fmt::format("sip:{}:{};transport={}", uri_host(registrar->host),
                                     registrar->port, transport_param(registrar->proto));
        auto r = std::make_unique<registration>(_root, iface.agent(), t, uri, contact);
        r->start();
        _registrations.emplace(t.name, std::move(r));
    }
}

void b2bua::rebuild_acl() {
    // Calls on a target no longer current keep it in the ACL until they end.
    std::set<policy::peer_acl::target_ref> in_use;
    for (const auto& [id, c] : _calls) {
        if (auto target = c->called_target()) {
            in_use.insert(*target);
        }
    }
    _acl = policy::peer_acl(_peers, in_use);
}

void b2bua::on_names_changed() {
    rebuild_acl();
    start_registrations();
}

void b2bua::refresh_names() {
    if (_names) {
        _names->refresh_all();
    }
}

b2bua::~b2bua() {
    _intakes.clear();  // their INVITEs are answered 500 while the agents live
    _registrations.clear();
    _calls.clear();
    // The closer's legs and BYEs belong to the interfaces' agents: freed
    // first (freeing them after the agents freed them crashed sbcd on a
    // stop with a BYE still unanswered).
    _closer.abandon();
    _keepalive.cancel_all();
    su_timer_destroy(_tick_timer);
    su_timer_destroy(_reap_timer);
    _interfaces.clear();
}

tls::peer_lookup b2bua::tls_peers(const std::string& interface) {
    return [this, interface](const std::string& ip) -> std::optional<tls::peer_rule> {
        auto ep = dataplane::ip_endpoint::from_string(ip, 0);
        const auto* trunk = ep ? _acl.trunk_for(interface, *ep) : nullptr;
        if (trunk == nullptr) {
            return std::nullopt;
        }
        return tls::peer_rule{trunk->name, trunk->tls.verify, trunk->tls.identities,
                              dialled_name(*trunk, *ep)};
    };
}

std::string b2bua::dialled_name(const config::trunk_config& trunk,
                                const dataplane::ip_endpoint& address) {
    // RFC 5922 7.1, RFC 6125 6.2: the peer's certificate must carry the
    // name as configured (the URI's host), never one a DNS answer gave
    // (an SRV target), which an attacker on the resolver's path could pick.
    const auto* table = peers_of(trunk.name);
    for (std::size_t i = 0; table != nullptr && i < table->size(); ++i) {
        const auto& t = table->target_at(i);
        const auto host = dataplane::ip_endpoint::from_string(t.host, 0);
        const auto& peer = trunk.peers.at(t.peer);
        if (peer.is_name && host && host->same_address(address)) {
            return peer.host;
        }
    }
    return {};
}

trunking::peer_table* b2bua::peers_of(const std::string& trunk) {
    auto it = _peers.find(trunk);
    return it == _peers.end() ? nullptr : &it->second;
}

b2bua::peer_count b2bua::count_peers_up() const {
    peer_count n;
    for (const auto& t : _cfg.trunks) {
        n.total += t.peers.size();
        auto it = _peers.find(t.name);
        if (it == _peers.end()) {
            continue;
        }
        const auto& table = it->second;
        std::vector<bool> up(t.peers.size(), false);
        for (std::size_t i = 0; i < table.size(); ++i) {
            const auto& target = table.target_at(i);
            if (target.current && target.peer < up.size() && table.health(i).up) {
                up[target.peer] = true;
            }
        }
        n.up += static_cast<std::size_t>(std::count(up.begin(), up.end(), true));
    }
    return n;
}

const trunking::target* b2bua::target_of(const config::trunk_config& trunk, std::size_t i) {
    const auto* table = peers_of(trunk.name);
    return table != nullptr && i < table->size() ? &table->target_at(i) : nullptr;
}

bool b2bua::names_peer(const config::trunk_config& trunk, std::string_view host) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) {
        return false;
    }
    for (const auto& p : trunk.peers) {
        if (p.is_name ? iequals(p.host, host) : p.host == host) {
            return true;
        }
    }
    const auto* table = peers_of(trunk.name);
    for (std::size_t i = 0; table != nullptr && i < table->size(); ++i) {
        if (table->target_at(i).host == host) {
            return true;
        }
    }
    return false;
}

std::string b2bua::describe_target(const config::trunk_config& trunk, std::size_t i) {
    const auto* t = target_of(trunk, i);
    return t != nullptr ? describe(trunk.peers.at(t->peer), *t) : fmt::format("target {}", i);
}

void b2bua::note_unresolved(const config::trunk_config& trunk, const std::string& context) {
    const auto* table = peers_of(trunk.name);
    for (std::size_t i = 0; table != nullptr && i < trunk.peers.size(); ++i) {
        const auto& p = trunk.peers[i];
        if (p.is_name && !table->has_current(i) && _unresolved_log.allow()) {
            const auto state = _names ? _names->state_of(trunk.name, i) : std::nullopt;
            sip_log.warn("{}: trunk {}: peer {} has no targets ({})", context, trunk.name,
                         config::to_string(p),
                         state && !state->last_error.empty() ? state->last_error
                         : state && state->resolutions == 0  ? "not resolved yet"
                                                             : "resolved to nothing");
        }
    }
}

call_leg* b2bua::leg_of_dialog(const dialog_ref& ref) {
    sip_replaces_t rp[1];
    sip_replaces_init(rp);
    rp->rp_call_id = ref.call_id.c_str();
    rp->rp_to_tag = ref.to_tag.c_str();
    rp->rp_from_tag = ref.from_tag.c_str();
    for (auto& iface : _interfaces) {
        nta_leg_t* dialog = nta_leg_by_replaces(iface->agent(), rp);
        if (dialog == nullptr) {
            continue;
        }
        // Other legs (keep-alives, registrations) have
        // handlers of their own kind; a dialog a transfer retired is no
        // longer its call_leg's.
        auto* l = dynamic_cast<call_leg*>(sofia::leg::handler_of(dialog));
        if (l != nullptr && l->nta() == dialog) {
            return l;
        }
    }
    return nullptr;
}

void b2bua::close_dialog(nta_leg_t* leg, const config::trunk_config& trunk, std::string via) {
    _closer.close(leg, {trunk.auth->username, trunk.auth->password}, trunk.name, std::move(via));
}

void b2bua::write_cdr(const cdr::record& r) {
    _tally.count_attempt(r);
    if (_cdr) {
        _cdr->write(r);
    }
}

void b2bua::reopen_cdr() {
    if (_cdr) {
        _cdr->reopen();
    }
}

void b2bua::refused_cdr(const sip_t* sip, nta_incoming_t* irq, const config::trunk_config& trunk,
                        const config::route_config* route, const policy::call_numbers& received,
                        const policy::call_numbers& normalized, int status, const char* reason) {
    if (!_cdr) {
        cdr::record counted;
        counted.from_trunk = trunk.name;
        counted.status = status;
        _tally.count_attempt(counted);
        return;
    }
    cdr::record r;
    r.id = "-";
    r.call_id = sip->sip_call_id != nullptr && sip->sip_call_id->i_id != nullptr
                    ? sip->sip_call_id->i_id
                    : "";
    r.start = r.end = cdr::wall_clock::now();
    r.source = source_of(irq).to_string();
    r.from_trunk = trunk.name;
    r.route = route != nullptr ? route->name : "";
    r.received = {received.ruri, received.from, received.to};
    r.normalized = {normalized.ruri, normalized.from, normalized.to};
    r.status = status;
    r.reason = reason != nullptr ? reason : "";
    r.disconnected_by = cdr::party::sbc;
    r.disconnect_reason = fmt::format("{} {}", status, r.reason);
    write_cdr(r);
}

namespace {
bool limited(const config::call_limits& c) { return c.max_calls > 0 || c.cps > 0; }

const config::call_limits& limits_in(const config::trunk_config& t, bool inbound) {
    return inbound ? t.limits.inbound : t.limits.outbound;
}
}  // namespace

admission::decision b2bua::admit(const config::trunk_config& trunk, bool inbound) {
    auto& a = _admission.at(trunk.name);
    const auto d = (inbound ? a.inbound : a.outbound).try_admit(admission::clock::now());
    if (d && _shared != nullptr && limited(limits_in(trunk, inbound))) {
        _shared->count(trunk.name, inbound);
    }
    return d;
}

void b2bua::release(const config::trunk_config& trunk, bool inbound) noexcept {
    auto it = _admission.find(trunk.name);
    if (it != _admission.end()) {
        (inbound ? it->second.inbound : it->second.outbound).release();
        if (_shared != nullptr && limited(limits_in(trunk, inbound))) {
            _shared->release(trunk.name, inbound);
        }
    }
}

std::optional<admission::decision> b2bua::admit_or_ask(
    const config::trunk_config& trunk, bool inbound,
    std::function<void(admission::decision)> done) {
    const auto& cl = limits_in(trunk, inbound);
    if (_shared == nullptr || !limited(cl)) {
        return admit(trunk, inbound);
    }
    // The trunk's configuration outlives the b2bua's calls and intakes (a
    // reload replaces no trunk), and the shared limits never call back
    // once destroyed: `trunk` and `this` are good when the answer comes.
    const bool asked = _shared->ask(
        trunk.name, inbound, limits_of(cl),
        [this, &trunk, inbound, done = std::move(done)](std::optional<admission::shared_answer> a) {
            if (!a) {
                // No answer in time: this node decides for itself.
                done(admit(trunk, inbound));
                return;
            }
            auto& adm = _admission.at(trunk.name);
            auto& local = inbound ? adm.inbound : adm.outbound;
            if (a->what) {
                local.count_admitted();  // the store counted it already
            } else {
                local.count_refused(a->what.what);
                if (a->what.what == admission::verdict::too_many_calls) {
                    a->what.retry_after = limits_in(trunk, inbound).retry_after;
                }
            }
            done(a->what);
        });
    if (!asked) {
        return admit(trunk, inbound);  // the store is away: counted when it is back
    }
    return std::nullopt;
}

std::vector<admission_count> b2bua::admission_counts() const {
    std::vector<admission_count> out;
    for (const auto& t : _cfg.trunks) {
        const auto& a = _admission.at(t.name);
        if (limited(t.limits.inbound)) {
            out.push_back({t.name, true, a.inbound.active()});
        }
        if (limited(t.limits.outbound)) {
            out.push_back({t.name, false, a.outbound.active()});
        }
    }
    return out;
}

namespace {
auth::algorithm digest_of(config::digest_algorithm a) {
    switch (a) {
        case config::digest_algorithm::sha256:
            return auth::algorithm::sha256;
        case config::digest_algorithm::sha512_256:
            return auth::algorithm::sha512_256;
        case config::digest_algorithm::md5:
            break;
    }
    return auth::algorithm::md5;
}

}  // namespace

bool b2bua::authenticated(const config::challenge_config& challenge, const msg_auth_t* credentials,
                          std::string_view method, std::string_view body,
                          std::string_view ruri_user, bool& stale, std::string* who) {
    stale = false;
    for (const auto& value : sofia::auth_values(credentials)) {
        auto a = auth::parse_authorization(value);
        // Only the configured algorithm: a client must not pick a weaker one.
        if (!a || a->realm != challenge.realm || a->algo != digest_of(challenge.algorithm)) {
            continue;
        }
        auto user =
            std::find_if(challenge.users.begin(), challenge.users.end(),
                         [&](const config::credentials& c) { return c.username == a->username; });
        if (user == challenge.users.end()) {
            continue;
        }
        const auto fresh = _nonces.check(a->nonce, challenge.realm,
                                         std::chrono::system_clock::now(), nonce_lifetime);
        if (fresh == auth::nonce_issuer::check_result::invalid) {
            continue;
        }
        // The digest-uri is covered by the response itself. When it names a
        // user, that must be the number called (a proxy on the way may rewrite
        // the host part, not the number), so that an answer cannot be
        // replayed to call elsewhere.
        if (!ruri_user.empty()) {
            const auto colon = a->uri.find(':');
            const auto at = a->uri.find('@');
            if (colon != std::string::npos && at != std::string::npos && at > colon &&
                std::string_view(a->uri).substr(colon + 1, at - colon - 1) != ruri_user) {
                continue;
            }
        }
        if (!auth::verify(*a, user->password, {method, "", body})) {
            continue;
        }
        if (fresh == auth::nonce_issuer::check_result::stale) {
            stale = true;
            continue;
        }
        // The same nonce count again is a replay of captured credentials
        // (RFC 7616 3.4.5): the sender gets a new nonce, as for a stale one,
        // which only a client that knows the password can use.
        const auto nc =
            a->qop.empty() ? 0 : static_cast<std::uint32_t>(std::stoul(a->nc, nullptr, 16));
        if (!_replays.accept(a->nonce, nc, std::chrono::steady_clock::now())) {
            sip_log.warn("digest credentials of {} replayed (nonce count {}); challenged again",
                         a->username, nc);
            stale = true;
            continue;
        }
        if (who != nullptr) {
            *who = a->username;
        }
        return true;
    }
    return false;
}

std::string b2bua::challenge_value(const config::challenge_config& challenge, bool stale) {
    return auth::challenge_value(challenge.realm,
                                 _nonces.make(challenge.realm, std::chrono::system_clock::now()),
                                 digest_of(challenge.algorithm), stale);
}

const config::trunk_config* b2bua::registrar_trunk_for(const std::string& interface,
                                                       const dataplane::ip_endpoint& source) const {
    for (const auto& t : _cfg.trunks) {
        if (t.registrar && t.interface == interface &&
            policy::in_blocks(t.registrar->sources, source)) {
            return &t;
        }
    }
    return nullptr;
}

namespace {
config::transport transport_of(const sip_via_t* via) {
    if (via != nullptr && su_casematch(via->v_protocol, sip_transport_tcp)) {
        return config::transport::tcp;
    }
    if (via != nullptr && su_casematch(via->v_protocol, sip_transport_tls)) {
        return config::transport::tls;
    }
    return config::transport::udp;
}

/// The Contact values of a REGISTER into `r` (RFC 3261 10.3 step 6); false
/// when one is too long to keep.
bool read_contacts(const sip_t* sip, registrar::register_request& r) {
    for (const sip_contact_t* m = sip->sip_contact; m != nullptr; m = m->m_next) {
        if (m->m_url->url_type == url_any) {
            r.wildcard = true;
            continue;
        }
        char uri[512];
        const auto n = url_e(uri, sizeof uri, m->m_url);
        if (n <= 0 || static_cast<std::size_t>(n) >= sizeof uri) {
            return false;
        }
        registrar::contact_param c;
        c.uri.assign(uri, static_cast<std::size_t>(n));
        if (m->m_expires != nullptr) {
            c.expires = static_cast<unsigned>(std::strtoul(m->m_expires, nullptr, 10));
        }
        if (m->m_q != nullptr) {
            c.q = std::strtod(m->m_q, nullptr);
        }
        r.contacts.push_back(std::move(c));
    }
    return true;
}
}  // namespace

int b2bua::on_register(const config::trunk_config& trunk, nta_incoming_t* irq, const sip_t* sip) {
    const auto& reg = *trunk.registrar;
    std::string who;
    if (trunk.challenge) {
        bool stale = false;
        if (!authenticated(*trunk.challenge, sip->sip_authorization, "REGISTER", "", "", stale,
                           &who)) {
            // RFC 3261 22.1 and 10.3 step 3: a registrar asks with 401.
            const auto value = challenge_value(*trunk.challenge, stale);
            sofia::treply(irq, SIP_401_UNAUTHORIZED, SIPTAG_WWW_AUTHENTICATE_STR(value.c_str()));
            return 0;
        }
    }
    const url_t* to = sip->sip_to != nullptr ? sip->sip_to->a_url : nullptr;
    if (to == nullptr || to->url_user == nullptr || *to->url_user == '\0') {
        sofia::treply(irq, 400, "No user in To");
        return 0;
    }
    // RFC 3261 10.3 step 4: a user registers its own address-of-record only.
    if (trunk.challenge && who != to->url_user) {
        sofia::treply(irq, 403, "Not your address-of-record");
        return 0;
    }
    // RFC 3261 10.3 step 1: only the domain this registrar is for.
    if (!reg.domain.empty() &&
        (to->url_host == nullptr || !su_casematch(to->url_host, reg.domain.c_str()))) {
        sofia::treply(irq, 404, "Not our domain");
        return 0;
    }
    registrar::register_request r;
    r.user = to->url_user;
    r.call_id = sip->sip_call_id != nullptr && sip->sip_call_id->i_id != nullptr
                    ? sip->sip_call_id->i_id
                    : "";
    r.cseq = sip->sip_cseq != nullptr ? sip->sip_cseq->cs_seq : 0;
    r.source = source_of(irq);
    r.transport = transport_of(sip->sip_via);
    if (sip->sip_expires != nullptr) {
        r.expires = static_cast<unsigned>(sip->sip_expires->ex_delta);
    }
    if (!read_contacts(sip, r)) {
        sofia::treply(irq, 400, "Contact too long");
        return 0;
    }
    // Draining: the registrant moves to another registrar before this one
    // goes away; a binding's removal is still served (drain.hpp).
    if (register_adds_bindings(r) && refuse_while_draining(irq)) {
        return 0;
    }
    return apply_register(trunk, irq, r);
}

int b2bua::apply_register(const config::trunk_config& trunk, nta_incoming_t* irq,
                          const registrar::register_request& r) {
    const auto now = std::chrono::steady_clock::now();
    auto outcome = _locations.at(trunk.name).apply(r, now);
    if (outcome.status == 423) {
        const auto min = std::to_string(outcome.min_expires);
        sofia::treply(irq, SIP_423_INTERVAL_TOO_BRIEF, SIPTAG_MIN_EXPIRES_STR(min.c_str()));
        return 0;
    }
    if (outcome.status != 200) {
        sofia::treply(irq, outcome.status, outcome.phrase.c_str());
        return 0;
    }
    // RFC 3261 10.3 step 8: every current binding, each with its expiry.
    std::string contacts;
    for (const auto& b : outcome.bindings) {
        contacts += fmt::format("{}<{}>;expires={}", contacts.empty() ? "" : ", ", b.contact,
                                b.seconds_left(now));
    }
    sip_log.info("REGISTER {} from {} on trunk {}: {} binding(s)", r.user, r.source.to_string(),
                 trunk.name, outcome.bindings.size());
    if (_bindings_changed && (r.wildcard || !r.contacts.empty())) {
        _bindings_changed(trunk.name, r.user, outcome.bindings);
    }
    // RFC 1123 date (RFC 3261 20.17), so that phones without a clock learn the time.
    const auto date = fmt::format(
        "{:%a, %d %b %Y %H:%M:%S} GMT",
        fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
    sofia::treply(irq, SIP_200_OK, TAG_IF(!contacts.empty(), SIPTAG_CONTACT_STR(contacts.c_str())),
                  SIPTAG_DATE_STR(date.c_str()));
    return 0;
}

b2bua::transfer_route b2bua::route_transfer(const config::trunk_config& from,
                                            const std::string& target,
                                            const std::string& referee_user) {
    transfer_route out;
    if (target.size() > policy::max_number_length) {
        out.status = 414;
        return out;
    }
    const auto numbers =
        normalizer(from).inbound.apply(policy::call_numbers{target, referee_user, target});
    // The referrer's own address does not stand for the target's caller:
    // routes with source blocks do not match a transfer.
    const auto* route =
        _router.match(policy::make_request(from, numbers, {}, std::chrono::system_clock::now()));
    if (route == nullptr || route->reject) {
        out.status = route == nullptr ? 404 : static_cast<int>(route->reject->code);
        return out;
    }
    out.user = numbers.ruri;
    for (const auto& name : route->to_trunks) {
        const auto* t = _cfg.find_trunk(name);
        if (!t->registrar && choose_peer(*t, {})) {
            out.trunk = t;
            return out;
        }
    }
    out.status = 503;
    return out;
}

const trunk_normalizer& b2bua::normalizer(const config::trunk_config& trunk) const {
    return _normalizers.at(trunk.name);
}

std::optional<std::size_t> b2bua::choose_peer(const config::trunk_config& trunk,
                                              const std::vector<std::size_t>& tried) {
    auto* table = peers_of(trunk.name);
    return table != nullptr ? table->choose(tried, _rng, trunking::clock::now()) : std::nullopt;
}

sip_interface& b2bua::interface_named(const std::string& name) {
    for (auto& i : _interfaces) {
        if (i->name() == name) {
            return *i;
        }
    }
    // The configuration was validated: every trunk names an interface.
    throw std::logic_error("unknown interface " + name);
}

void b2bua::on_out_of_dialog_message(sip_interface& iface, msg_t* msg, sip_t* sip) {
    nta_agent_t* agent = iface.agent();
    if (sip == nullptr || sip->sip_request == nullptr ||
        sip->sip_request->rq_method == sip_method_ack) {
        // A response to nothing we sent, or an ACK of no transaction of ours
        // (RFC 3261 17.2.3 matching failed): nothing to answer.
        nta_msg_discard(agent, msg);
        return;
    }
    const auto source = source_of(msg);
    const auto verdict = screen(iface, source, sip);
    if (verdict.status < 0) {
        nta_msg_discard(agent, msg);
        return;
    }
    if (verdict.status > 0) {
        // Stateless (RFC 3261 16.11 does the same for a proxy): a refused
        // source's retransmissions each get the same answer and cost no
        // transaction, which a flood would otherwise fill memory with.
        const auto retry = std::to_string(verdict.retry_after);
        nta_msg_treply(agent, msg, verdict.status, nullptr,
                       TAG_IF(verdict.retry_after > 0, SIPTAG_RETRY_AFTER_STR(retry.c_str())),
                       TAG_END());
        return;
    }
    nta_incoming_t* irq = nta_incoming_create(agent, nullptr, msg, sip, TAG_END());
    if (irq == nullptr) {
        return;  // nta took the message and could not keep it; the peer retransmits
    }
    // The journal's TRUNK and PEER of what this request logs (log.hpp).
    const log::context ctx{{}, verdict.trunk->name, source.to_string()};
    complete(irq, on_out_of_dialog_request(*verdict.trunk, irq, sip));
}

b2bua::screening b2bua::screen(sip_interface& iface, const dataplane::ip_endpoint& source,
                               const sip_t* sip) {
    auto& guard = _guards.at(iface.name());
    const auto& allowed = iface.cfg().allow_sources;
    if (!allowed.empty() && !policy::in_blocks(allowed, source)) {
        ++guard.refused_sources;
        if (_refusal_log.allow()) {
            sip_log.warn("{} from {} on {}: source not in allow_sources, 403",
                         sip->sip_request->rq_method_name, source.to_string(), iface.name());
        }
        return {403};
    }
    switch (guard.flood.on_request(source.address(), admission::clock::now())) {
        case admission::flood_guard::verdict::pass:
            break;
        case admission::flood_guard::verdict::blocked_now:
            sip_log.warn("{} on {}: too many requests; source blocked for {} s", source.address(),
                         iface.name(), iface.cfg().flood.block_seconds);
            // RFC 3261 21.5.4: one 503 tells a peer that means well when to
            // come back; what follows during the block is dropped, counted.
            return {503, nullptr, iface.cfg().flood.block_seconds};
        case admission::flood_guard::verdict::blocked:
            return {-1};
    }
    const auto* trunk = _acl.trunk_for(iface.name(), source);
    if (trunk == nullptr) {
        // Phones and PBXs that register come from address blocks, not peers.
        trunk = registrar_trunk_for(iface.name(), source);
    }
    if (trunk == nullptr) {
        if (_refusal_log.allow()) {
            sip_log.warn("{} from {} on {}: not a peer of any trunk, 403",
                         sip->sip_request->rq_method_name, source.to_string(), iface.name());
        }
        return {403};
    }
    return {0, trunk};
}

int b2bua::on_out_of_dialog_request(const config::trunk_config& trunk, nta_incoming_t* irq,
                                    const sip_t* sip) {
    switch (sip->sip_request->rq_method) {
        case sip_method_invite:
            if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
                // RFC 3261 12.2.2: a request for a dialog we do not know.
                return 481;
            }
            return on_new_invite(trunk, irq, sip);
        case sip_method_options:
            return answer_options(trunk, irq);
        case sip_method_register:
            if (trunk.registrar) {
                return on_register(trunk, irq, sip);
            }
            sofia::treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(allow_for(trunk)));
            return 0;
        case sip_method_cancel:  // RFC 3261 9.2: no transaction for it to cancel
        case sip_method_bye:
        case sip_method_info:
        case sip_method_message:
        case sip_method_update:
        case sip_method_prack:
            return 481;
        default:
            sofia::treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(allow_for(trunk)));
            return 0;
    }
}

int b2bua::answer_options(const config::trunk_config& trunk, nta_incoming_t* irq) {
    if (refuse_while_draining(irq)) {
        return 0;  // peers that probe with OPTIONS take their calls elsewhere
    }
    // RFC 3261 11.2: what we would accept in an INVITE.
    sofia::treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(allow_for(trunk)),
                  SIPTAG_ACCEPT_STR("application/sdp"), SIPTAG_SUPPORTED_STR(supported_extensions));
    return 0;
}

int b2bua::on_new_invite(const config::trunk_config& trunk, nta_incoming_t* irq, const sip_t* sip) {
    const auto key = _next_intake++;
    auto intake = std::make_unique<invite_intake>(*this, trunk, irq, sip, source_of(irq), key);
    const int status = intake->run();
    if (intake->waiting()) {
        // Admission asked the cluster's store: the intake goes on when the
        // answer (or the wait's end) comes, from resume_intake().
        _intakes.emplace(key, std::move(intake));
        return 0;
    }
    return status;
}

void b2bua::resume_intake(std::uint64_t key, admission::decision d) {
    auto it = _intakes.find(key);
    if (it == _intakes.end()) {
        return;
    }
    nta_incoming_t* irq = it->second->irq();
    const int status = it->second->resume(d);
    if (it->second->waiting()) {
        return;  // it asked again (the route's next trunk)
    }
    _intakes.erase(it);
    complete(irq, status);
}

void b2bua::schedule_reap() { su_timer_set(_reap_timer, reap_timer_cb, this); }

void b2bua::reap_timer_cb(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<b2bua*>(arg)->reap();
}

void b2bua::tick_timer_cb(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<b2bua*>(arg)->tick();
}

void b2bua::reap() {
    bool reaped = false;
    for (auto it = _calls.begin(); it != _calls.end();) {
        if (it->second->finished()) {
            if (_told.erase(it->first) != 0 && _observer != nullptr) {
                _observer->call_gone(it->first);
            }
            it = _calls.erase(it);
            reaped = true;
        } else {
            ++it;
        }
    }
    // A call that ended may have been the last on a target no longer current.
    if (reaped && _names) {
        rebuild_acl();
    }
}

void b2bua::tick() {
    _media.poll();
    _closer.reap();
    using st = call::state;
    for (const auto& ev : _media.take_events()) {
        auto it = _calls.find(ev.id);
        if (it == _calls.end()) {
            continue;
        }
        call& c = *it->second;
        if (ev.what == dataplane::media_event::kind::latched) {
            // Symmetric RTP: the peer's real source (behind a NAT it differs
            // from its SDP), where the SBC now sends that leg's media.
            sip_log.info("call {}: leg {} media latched to {}", c.display_id(),
                         ev.s == side::a ? 'a' : 'b', ev.latched.to_string());
            c.note_change();
            continue;
        }
        if (ev.what == dataplane::media_event::kind::dtmf) {
            c.on_media_dtmf(ev.s, ev.digit, ev.duration_ms);
            continue;
        }
        if (ev.what == dataplane::media_event::kind::srtp_rollover) {
            // RFC 3711 3.3.1: a node that takes the call over must go on
            // with this counter, so the document is written again.
            c.on_srtp_rollover(ev);
            continue;
        }
        // The worker disarmed the timer when it fired.
        c.set_armed_media_timeout({});
        if (c.current_state() == st::established && c.media_expected()) {
            c.hang_up("media timeout");
        }
    }
    auto now = std::chrono::steady_clock::now();
    if (_active) {
        _keepalive.tick(now);
    }
    const std::chrono::nanoseconds timeout = std::chrono::seconds(_cfg.media.timeout_seconds);
    for (auto& [id, c] : _calls) {
        if (c->current_state() == st::answered && now - c->state_since() > ack_wait) {
            c->hang_up("no ACK for the 2xx");
            continue;
        }
        c->check_failover(now);
        c->check_session_timers(now);
        // The data plane watches the media of established calls that are
        // not on hold (RFC 3264 8.4: a held stream may rightly be silent);
        // the clock restarts whenever it is armed anew.
        const auto wanted = c->current_state() == st::established && c->media_expected()
                                ? timeout
                                : std::chrono::nanoseconds{};
        if (wanted != c->armed_media_timeout()) {
            _media.set_media_timeout(id, wanted);
            c->set_armed_media_timeout(wanted);
        }
    }
    reap();
    tell_changes();
}

void b2bua::tell_changes() {
    if (_observer == nullptr) {
        return;
    }
    for (const auto& [id, c] : _calls) {
        if (c->current_state() != call::state::established || c->under_way() != operation::none) {
            continue;
        }
        const auto mark = c->state_mark();
        auto [it, fresh] = _told.try_emplace(id, mark);
        if (fresh || it->second != mark) {
            it->second = mark;
            _observer->call_changed(*c);
        }
    }
}

void b2bua::set_observer(call_observer* o) noexcept {
    _observer = o;
    _told.clear();
}

void b2bua::set_active(bool active) {
    if (active == _active) {
        return;
    }
    _active = active;
    sip_log.info("node is {} now", active ? "active" : "standby");
    if (active) {
        start_registrations();
    }
}

sip_interface* b2bua::find_interface(const std::string& name) noexcept {
    for (auto& i : _interfaces) {
        if (i->name() == name) {
            return i.get();
        }
    }
    return nullptr;
}

void b2bua::adopt_slot(const config::trunk_config& trunk, bool inbound) noexcept {
    auto it = _admission.find(trunk.name);
    if (it != _admission.end()) {
        (inbound ? it->second.inbound : it->second.outbound).adopt();
        if (_shared != nullptr && limited(limits_in(trunk, inbound))) {
            _shared->count(trunk.name, inbound);
        }
    }
}

std::size_t b2bua::adopt_bindings(const std::string& trunk, const std::string& user,
                                  const std::vector<registrar::binding>& bindings) {
    const auto it = _locations.find(trunk);
    if (it == _locations.end()) {
        return 0;
    }
    const auto now = std::chrono::steady_clock::now();
    std::size_t taken = 0;
    for (auto b : bindings) {
        b.user = user;
        taken += it->second.adopt(b, now) ? 1 : 0;
    }
    if (_bindings_changed && taken > 0) {
        _bindings_changed(trunk, user, it->second.bindings_of(user, now));
    }
    return taken;
}

result<std::uint64_t> b2bua::restore_call(const call_state& s) {
    const auto* from = _cfg.find_trunk(s.legs[0].trunk);
    const auto* to = _cfg.find_trunk(s.legs[1].trunk);
    if (from == nullptr || to == nullptr) {
        return error{
            fmt::format("no trunk {}", from == nullptr ? s.legs[0].trunk : s.legs[1].trunk)};
    }
    const auto id = _next_call_id++;
    auto c = std::make_unique<call>(*this, id, *from, *to);
    if (auto r = c->restore(s); !r) {
        return error{r.error_message()};
    }
    _calls.emplace(id, std::move(c));
    if (_names) {
        rebuild_acl();
    }
    return id;
}

std::vector<std::uint64_t> b2bua::call_ids() const {
    std::vector<std::uint64_t> ids;
    for (const auto& [id, c] : _calls) {
        ids.push_back(id);
    }
    return ids;
}

std::optional<call_state> b2bua::call_state_of(std::uint64_t id) const {
    const auto it = _calls.find(id);
    if (it == _calls.end()) {
        return std::nullopt;
    }
    return it->second->snapshot();
}

void b2bua::abandon_all() {
    _handed_over = true;
    sip_log.info("the partner holds this node's {} call(s) now: dropping them quietly",
                 _calls.size());
    _told.clear();
    _calls.clear();
}

void b2bua::hang_up_all(const char* why) {
    // Shutdown: the registrations end too (best effort, Expires: 0), unless
    // the partner took this node's place: its registrations, from the same
    // shared address, are the same bindings.
    for (auto& [name, r] : _registrations) {
        if (!_handed_over) {
            r->unregister();
        }
    }
    for (auto& [id, c] : _calls) {
        c->hang_up(why);
    }
    reap();
}

}  // namespace sbc::b2bua
