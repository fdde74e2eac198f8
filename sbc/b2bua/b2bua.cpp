#include "sbc/b2bua/b2bua.hpp"
#include "sbc/api/json_codec.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

namespace {
constexpr log::logger sip_log{"sip"};
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
}  // namespace

b2bua::b2bua(su_root_t* root, const config::config& cfg, dataplane::media_engine& media)
    : _root(root),
      _cfg(cfg),
      _media(media),
      _router(cfg),
      _acl(cfg),
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
    if (cfg.cdr) {
        // Throws with the path when the file cannot be opened: sbcd then
        // refuses to start rather than lose every record silently.
        _cdr = std::make_unique<cdr::writer>(
            cdr::writer_options{cfg.cdr->file, cfg.cdr->max_bytes, cfg.cdr->keep});
    }
    for (const auto& t : cfg.trunks) {
        if (!t.registration || t.peers.empty()) {
            continue;
        }
        // The carrier sends calls for the AOR to this Contact: its user is
        // the AOR's, its address this interface's.
        const auto& iface = interface_named(t.interface);
        const auto transport = t.peers.front().proto;
        const auto aor_user = t.registration->aor.substr(
            t.registration->aor.find(':') + 1,
            t.registration->aor.find('@') - t.registration->aor.find(':') - 1);
        auto contact = iface.contact(transport);
        contact.insert(contact.find(':') + 1, aor_user + "@");
        auto r = std::make_unique<registration>(root, iface.agent(), t,
                                                config::to_string(t.peers.front()), contact);
        r->start();
        _registrations.emplace(t.name, std::move(r));
    }
    _reap_timer = su_timer_create(su_root_task(root), 1);  // su_timer needs > 0 ms
    _tick_timer = su_timer_create(su_root_task(root), 200);
    if (_reap_timer == nullptr || _tick_timer == nullptr) {
        throw std::runtime_error("cannot create timers");
    }
    // su_timer_run repeats at the interval given at creation; set_interval is one-shot.
    su_timer_run(_tick_timer, tick_timer_cb, this);
}

b2bua::~b2bua() {
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
        return tls::peer_rule{trunk->name, trunk->tls.verify, trunk->tls.identities};
    };
}

trunking::peer_table* b2bua::peers_of(const std::string& trunk) {
    auto it = _peers.find(trunk);
    return it == _peers.end() ? nullptr : &it->second;
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
        auto* l = dynamic_cast<call_leg*>(nta_leg_magic(dialog, sofia::leg_trampoline));
        if (l != nullptr && l->nta == dialog) {
            return l;
        }
    }
    return nullptr;
}

void b2bua::close_dialog(nta_leg_t* leg, const config::trunk_config& trunk) {
    _closer.close(leg, {trunk.auth->username, trunk.auth->password}, trunk.name);
}

void b2bua::write_cdr(const cdr::record& r) {
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
    _cdr->write(r);
}

admission::decision b2bua::admit(const config::trunk_config& trunk, bool inbound) {
    auto& a = _admission.at(trunk.name);
    return (inbound ? a.inbound : a.outbound).try_admit(admission::clock::now());
}

void b2bua::release(const config::trunk_config& trunk, bool inbound) noexcept {
    auto it = _admission.find(trunk.name);
    if (it != _admission.end()) {
        (inbound ? it->second.inbound : it->second.outbound).release();
    }
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
    r.transport = config::transport::udp;
    if (sip->sip_via != nullptr && su_casematch(sip->sip_via->v_protocol, sip_transport_tcp)) {
        r.transport = config::transport::tcp;
    } else if (sip->sip_via != nullptr &&
               su_casematch(sip->sip_via->v_protocol, sip_transport_tls)) {
        r.transport = config::transport::tls;
    }
    if (sip->sip_expires != nullptr) {
        r.expires = static_cast<unsigned>(sip->sip_expires->ex_delta);
    }
    for (const sip_contact_t* m = sip->sip_contact; m != nullptr; m = m->m_next) {
        if (m->m_url->url_type == url_any) {
            r.wildcard = true;
            continue;
        }
        char uri[512];
        const auto n = url_e(uri, sizeof uri, m->m_url);
        if (n <= 0 || static_cast<std::size_t>(n) >= sizeof uri) {
            sofia::treply(irq, 400, "Contact too long");
            return 0;
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
    return table != nullptr ? table->choose(tried, _rng) : std::nullopt;
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
    const auto verdict = screen(iface, source_of(msg), sip);
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
    // RFC 3261 11.2: what we would accept in an INVITE.
    sofia::treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(allow_for(trunk)),
                  SIPTAG_ACCEPT_STR("application/sdp"), SIPTAG_SUPPORTED_STR(supported_extensions));
    return 0;
}

int b2bua::on_new_invite(const config::trunk_config& trunk, nta_incoming_t* irq, const sip_t* sip) {
    if (sip->sip_max_forwards != nullptr && sip->sip_max_forwards->mf_count == 0) {
        return 483;  // RFC 3261 16.3 step 3 / 8.2: no hops left
    }
    if (sip->sip_require != nullptr && sip->sip_require->k_items != nullptr) {
        // RFC 3261 8.2.2.3: every extension the caller requires must be one we do.
        std::string unsupported;
        for (size_t i = 0; sip->sip_require->k_items[i] != nullptr; ++i) {
            const char* item = sip->sip_require->k_items[i];
            if (!su_casematch(item, "100rel") && !su_casematch(item, "timer")) {
                unsupported += (unsupported.empty() ? "" : ", ") + std::string(item);
            }
        }
        if (!unsupported.empty()) {
            sofia::treply(irq, SIP_420_BAD_EXTENSION, SIPTAG_UNSUPPORTED_STR(unsupported.c_str()));
            return 0;
        }
    }
    if (sip->sip_session_expires != nullptr &&
        sip->sip_session_expires->x_delta < trunk.session_timer.min_se) {
        // RFC 4028 6: too short an interval is refused with our minimum.
        const auto min = std::to_string(trunk.session_timer.min_se);
        sofia::treply(irq, SIP_422_SESSION_TIMER_TOO_SMALL, SIPTAG_MIN_SE_STR(min.c_str()));
        return 0;
    }
    auto user_of = [](const url_t* u) -> std::string {
        return u != nullptr && u->url_user != nullptr ? u->url_user : "";
    };
    const policy::call_numbers received{user_of(sip->sip_request->rq_url),
                                        user_of(sip->sip_from->a_url), user_of(sip->sip_to->a_url)};
    if (received.ruri.size() > policy::max_number_length) {
        return 414;  // RFC 3261 21.4.12; no dial plan has numbers this long
    }
    if (received.from.size() > policy::max_number_length ||
        received.to.size() > policy::max_number_length) {
        sofia::treply(irq, 400, "From or To user too long");
        return 0;
    }
    const auto numbers = normalizer(trunk).inbound.apply(received);
    if (trunk.challenge) {
        bool stale = false;
        const std::string_view body =
            sip->sip_payload != nullptr
                ? std::string_view(sip->sip_payload->pl_data, sip->sip_payload->pl_len)
                : std::string_view();
        const char* called = sip->sip_request->rq_url->url_user;
        if (!authenticated(*trunk.challenge, sip->sip_proxy_authorization, "INVITE", body,
                           called != nullptr ? called : "", stale)) {
            // RFC 3261 22.3: as the caller's next hop the SBC asks with 407.
            const auto value = challenge_value(*trunk.challenge, stale);
            sofia::treply(irq, SIP_407_PROXY_AUTH_REQUIRED,
                          SIPTAG_PROXY_AUTHENTICATE_STR(value.c_str()));
            // The first INVITE of every authenticated call is challenged:
            // only a refused answer is a call attempt worth a record.
            if (sip->sip_proxy_authorization != nullptr) {
                refused_cdr(sip, irq, trunk, nullptr, received, numbers, 407,
                            "Proxy Authentication Required (credentials refused)");
            }
            return 0;
        }
    }
    auto refuse_over_limit = [&](const config::trunk_config& t, const admission::decision& d,
                                 const char* direction) {
        if (_refusal_log.allow()) {
            sip_log.warn("INVITE from trunk {}: trunk {} is over its {} {} limit, 503", trunk.name,
                         t.name, direction, admission::to_string(d.what));
        }
        const auto retry = std::to_string(d.retry_after);
        // RFC 3261 21.5.4 and 20.33: come back when a slot or a token is free.
        sofia::treply(irq, SIP_503_SERVICE_UNAVAILABLE, SIPTAG_RETRY_AFTER_STR(retry.c_str()));
    };
    const auto inbound = admit(trunk, true);
    if (!inbound) {
        refuse_over_limit(trunk, inbound, "inbound");
        refused_cdr(sip, irq, trunk, nullptr, received, numbers, 503,
                    inbound.what == admission::verdict::too_many_calls
                        ? "Service Unavailable (inbound max_calls)"
                        : "Service Unavailable (inbound cps)");
        return 0;
    }
    // From here on every return gives the slot back unless a call took it.
    struct inbound_slot {
        b2bua& self;
        const config::trunk_config& trunk;
        bool held = true;
        ~inbound_slot() {
            if (held) {
                self.release(trunk, true);
            }
        }
    } slot{*this, trunk};
    const auto req =
        policy::make_request(trunk, numbers, source_of(irq), std::chrono::system_clock::now());
    // The CDR of a call as far as routing knows it; the call completes it.
    auto seed_for = [&](const std::string& route_name) {
        cdr::record seed;
        seed.call_id = sip->sip_call_id != nullptr && sip->sip_call_id->i_id != nullptr
                           ? sip->sip_call_id->i_id
                           : "";
        seed.start = cdr::wall_clock::now();
        seed.source = req.source.to_string();
        seed.from_trunk = trunk.name;
        seed.route = route_name;
        seed.received = {received.ruri, received.from, received.to};
        seed.normalized = {numbers.ruri, numbers.from, numbers.to};
        return seed;
    };
    // The call to `to`, by `route` (null: an INVITE with Replaces, which is
    // not routed); it holds both admission slots from now on.
    auto start_call = [&](const config::trunk_config& to, const config::route_config* route,
                          std::vector<const config::trunk_config*> next_trunks,
                          std::optional<registrar::binding> registered, std::string replaces) {
        const std::string route_name = route != nullptr ? route->name : "replaces";
        auto id = _next_call_id++;
        auto c = std::make_unique<call>(*this, id, trunk, to);
        c->set_route(route, std::move(next_trunks), numbers, seed_for(route_name), req.source);
        if (registered) {
            c->set_registered_target(std::move(*registered));
        }
        c->set_replaces(std::move(replaces));
        c->hold_admission(true, true);  // the call gives both slots back when it ends
        slot.held = false;
        int status = c->start(irq, sip);
        if (status != 0) {
            refused_cdr(sip, irq, trunk, route, received, numbers, status > 0 ? status : 488,
                        status > 0 ? sip_status_phrase(status) : "Not Acceptable Here");
            return status > 0 ? status : 0;  // < 0: start() answered already
        }
        sip_log.info("call {}: {} -> {} by route {}", c->display_id(), trunk.name, to.name,
                     route_name);
        _calls.emplace(id, std::move(c));
        return 0;
    };
    std::optional<call::replacement> replacing;
    if (sip->sip_replaces != nullptr) {
        // RFC 3891: the caller means to take the place of the party in one of
        // our dialogs. That dialog's far end is the callee, whatever the
        // routes say, and it gets the Replaces that names its own dialog.
        const auto* rp = sip->sip_replaces;
        call_leg* named = nullptr;
        if (rp->rp_call_id != nullptr && rp->rp_to_tag != nullptr && rp->rp_from_tag != nullptr &&
            !rp->rp_early_only) {
            named = leg_of_dialog({rp->rp_call_id, rp->rp_to_tag, rp->rp_from_tag, false});
        }
        if (named != nullptr) {
            replacing = named->_call.replacement_for(named->_side);
        }
        if (!replacing) {
            // RFC 3891 3: no such dialog (or none that can be replaced).
            sip_log.info("INVITE from trunk {} replaces dialog {}: not ours or not up, 481",
                         trunk.name, rp->rp_call_id != nullptr ? rp->rp_call_id : "");
            refused_cdr(sip, irq, trunk, nullptr, received, numbers, 481,
                        "Call/Transaction Does Not Exist (Replaces)");
            return 481;
        }
        sip_log.info("INVITE from trunk {} replaces call {}'s dialog: to {} on trunk {}",
                     trunk.name, named->_call.display_id(), replacing->target.contact,
                     replacing->trunk->name);
    }
    const auto* route = replacing ? nullptr : _router.match(req);
    if (replacing) {
        // Admitted as any call to the far end's trunk.
        if (auto d = admit(*replacing->trunk, false); !d) {
            refuse_over_limit(*replacing->trunk, d, "outbound");
            refused_cdr(sip, irq, trunk, nullptr, received, numbers, 503,
                        d.what == admission::verdict::too_many_calls
                            ? "Service Unavailable (outbound max_calls)"
                            : "Service Unavailable (outbound cps)");
            return 0;
        }
        return start_call(*replacing->trunk, nullptr, {}, std::move(replacing->target),
                          std::move(replacing->replaces));
    }
    if (route == nullptr) {
        if (_refusal_log.allow()) {
            sip_log.info("INVITE for '{}' from trunk {}: no route, 404", numbers.ruri, trunk.name);
        }
        refused_cdr(sip, irq, trunk, nullptr, received, numbers, 404, "Not Found (no route)");
        return 404;
    }
    if (route->reject) {
        sip_log.info("INVITE for '{}' from trunk {}: route {} rejects it with {}", numbers.ruri,
                     trunk.name, route->name, route->reject->code);
        const char* phrase = route->reject->reason.empty()
                                 ? sip_status_phrase(static_cast<int>(route->reject->code))
                                 : route->reject->reason.c_str();
        phrase = phrase != nullptr ? phrase : "Rejected";
        sofia::treply(irq, static_cast<int>(route->reject->code), phrase);
        refused_cdr(sip, irq, trunk, route, received, numbers,
                    static_cast<int>(route->reject->code), phrase);
        return 0;
    }
    // The first trunk of the route that has a peer up and can take the
    // INVITE; the ones after it are tried when it fails (call::next_trunk).
    const config::trunk_config* target = nullptr;
    std::vector<const config::trunk_config*> next_trunks;
    bool delayed_refused = false;
    std::optional<std::pair<const config::trunk_config*, admission::decision>> over_limit;
    std::optional<registrar::binding> registered;
    bool unregistered = false;
    for (const auto& name : route->to_trunks) {
        const auto* t = _cfg.find_trunk(name);
        if (target != nullptr) {
            next_trunks.push_back(t);
        } else if (t->registrar) {
            // The callee is whoever registered the dialled number's user.
            const auto user = normalizer(*t).outbound.apply(config::field_ruri, numbers.ruri);
            registered = _locations.at(t->name).lookup(user, std::chrono::steady_clock::now());
            if (!registered) {
                unregistered = true;
            } else if (auto d = admit(*t, false)) {
                target = t;
            } else if (!over_limit) {
                over_limit.emplace(t, d);
                registered.reset();
            }
        } else if (t->early_offer == config::early_offer_policy::reject && !has_sdp(sip)) {
            delayed_refused = true;
        } else if (choose_peer(*t, {})) {
            if (auto d = admit(*t, false)) {
                target = t;
            } else if (!over_limit) {
                over_limit.emplace(t, d);
            }
        } else if (_refusal_log.allow()) {
            sip_log.warn("INVITE from trunk {}: every peer of trunk {} is down", trunk.name,
                         t->name);
        }
    }
    if (target == nullptr && delayed_refused) {
        refuse_delayed_offer(irq, *_cfg.find_trunk(route->to_trunks.front()));
        refused_cdr(sip, irq, trunk, route, received, numbers, 488, "Not Acceptable Here");
        return 0;
    }
    if (target == nullptr && over_limit) {
        refuse_over_limit(*over_limit->first, over_limit->second, "outbound");
        refused_cdr(sip, irq, trunk, route, received, numbers, 503,
                    over_limit->second.what == admission::verdict::too_many_calls
                        ? "Service Unavailable (outbound max_calls)"
                        : "Service Unavailable (outbound cps)");
        return 0;
    }
    if (target == nullptr && unregistered) {
        // RFC 3261 21.4.18: the callee is known but not reachable now.
        refused_cdr(sip, irq, trunk, route, received, numbers, 480,
                    "Temporarily Unavailable (not registered)");
        return 480;
    }
    if (target == nullptr) {
        refused_cdr(sip, irq, trunk, route, received, numbers, 503,
                    "Service Unavailable (no peer up)");
        return 503;
    }
    return start_call(*target, route, std::move(next_trunks), std::move(registered), {});
}

void b2bua::schedule_reap() { su_timer_set(_reap_timer, reap_timer_cb, this); }

void b2bua::reap_timer_cb(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<b2bua*>(arg)->reap();
}

void b2bua::tick_timer_cb(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    static_cast<b2bua*>(arg)->tick();
}

void b2bua::reap() {
    for (auto it = _calls.begin(); it != _calls.end();) {
        if (it->second->finished()) {
            it = _calls.erase(it);
        } else {
            ++it;
        }
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
            continue;
        }
        if (ev.what == dataplane::media_event::kind::dtmf) {
            c.on_media_dtmf(ev.s, ev.digit, ev.duration_ms);
            continue;
        }
        // The worker disarmed the timer when it fired.
        c.set_armed_media_timeout({});
        if (c.current_state() == st::established && c.media_expected()) {
            c.hang_up("media timeout");
        }
    }
    auto now = std::chrono::steady_clock::now();
    _keepalive.tick(now);
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
}

void b2bua::hang_up_all(const char* why) {
    // Shutdown: the registrations end too (best effort, Expires: 0).
    for (auto& [name, r] : _registrations) {
        r->unregister();
    }
    for (auto& [id, c] : _calls) {
        c->hang_up(why);
    }
    reap();
}

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
        }
        ci.codec_a = c->codec(side::a);
        ci.codec_b = c->codec(side::b);
        ci.ptime_a = c->ptime(side::a);
        ci.ptime_b = c->ptime(side::b);
        ci.media = c->transcoded() ? "transcoded" : "relayed";
        out.push_back(std::move(ci));
    }
    return out;
}

}  // namespace sbc::b2bua

namespace sbc::b2bua {

namespace {
std::string iso_time(std::chrono::system_clock::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

nlohmann::json session_json(const tls::session_info& s) {
    return {{"peer", s.peer},         {"direction", s.inbound ? "in" : "out"},
            {"protocol", s.protocol}, {"cipher", s.cipher},
            {"subject", s.subject},   {"not_after", s.not_after},
            {"at", iso_time(s.at)}};
}
}  // namespace

nlohmann::json b2bua::trunks() {
    auto out = nlohmann::json::object();
    auto& trunks = out["trunks"] = nlohmann::json::array();
    for (const auto& t : _cfg.trunks) {
        std::size_t calls = 0;
        for (const auto& [id, c] : _calls) {
            calls += (&c->from_trunk() == &t || &c->to_trunk() == &t) ? 1 : 0;
        }
        nlohmann::json tj = {{"name", t.name},
                             {"interface", t.interface},
                             {"active_calls", calls},
                             {"keepalive_interval", t.keepalive.interval_seconds},
                             {"peers", nlohmann::json::array()}};
        const auto& adm = _admission.at(t.name);
        auto limit_json = [](const admission::call_limiter& l, const config::call_limits& c) {
            return nlohmann::json{{"active", l.active()},
                                  {"max_calls", c.max_calls},
                                  {"cps", c.cps},
                                  {"admitted", l.admitted()},
                                  {"refused_max_calls", l.refused_max_calls()},
                                  {"refused_cps", l.refused_cps()}};
        };
        tj["admission"] = {{"inbound", limit_json(adm.inbound, t.limits.inbound)},
                           {"outbound", limit_json(adm.outbound, t.limits.outbound)}};
        tj["registration"] = nullptr;
        if (auto r = _registrations.find(t.name); r != _registrations.end()) {
            const auto& st = r->second->state();
            tj["registration"] = {
                {"aor", t.registration->aor},
                {"state", st.state},
                {"last_result", st.last_result},
                {"failures", st.failures},
                {"expires_in",
                 st.expires_at
                     ? nlohmann::json(std::chrono::duration_cast<std::chrono::seconds>(
                                          *st.expires_at - std::chrono::system_clock::now())
                                          .count())
                     : nlohmann::json(nullptr)}};
        }
        if (auto l = _locations.find(t.name); l != _locations.end()) {
            auto bindings = nlohmann::json::array();
            const auto now = std::chrono::steady_clock::now();
            for (const auto& b : l->second.all(now)) {
                bindings.push_back({{"user", b.user},
                                    {"contact", b.contact},
                                    {"source", b.source.to_string()},
                                    {"expires_in", b.seconds_left(now)}});
            }
            tj["registrations"] = bindings;
        }
        const auto* table = peers_of(t.name);
        const auto* tls = interface_named(t.interface).tls();
        for (std::size_t i = 0; i < t.peers.size(); ++i) {
            const auto& p = t.peers[i];
            nlohmann::json pj = {
                {"uri", config::to_string(p)}, {"priority", p.priority}, {"weight", p.weight}};
            if (table != nullptr) {
                const auto& h = table->health(i);
                pj["state"] = h.up ? "up" : "down";
                pj["since"] = iso_time(h.since);
                pj["last_result"] = h.last_result;
                pj["last_rtt_ms"] = h.last_rtt ? nlohmann::json(h.last_rtt->count() / 1000.0)
                                               : nlohmann::json(nullptr);
            }
            const auto* session = tls != nullptr ? tls->last_session(p.host) : nullptr;
            pj["tls"] = session != nullptr ? session_json(*session) : nlohmann::json(nullptr);
            // A failed handshake since the last one that completed (issue 19).
            const auto* failure = tls != nullptr ? tls->last_failure(p.host) : nullptr;
            pj["tls_failure"] = failure != nullptr
                                    ? nlohmann::json{{"peer", failure->peer},
                                                     {"direction", failure->inbound ? "in" : "out"},
                                                     {"reason", failure->reason},
                                                     {"at", iso_time(failure->at)}}
                                    : nlohmann::json(nullptr);
            tj["peers"].push_back(std::move(pj));
        }
        trunks.push_back(std::move(tj));
    }
    auto& ifaces = out["interfaces"] = nlohmann::json::array();
    for (const auto& i : _interfaces) {
        nlohmann::json ij = {{"name", i->name()}, {"tls", nullptr}};
        const auto& guard = _guards.at(i->name());
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
            {"dropped_udp", i->filtered_drops()},       {"flood_blocks", guard.flood.blocks()},
            {"flood_dropped", guard.flood.dropped()},   {"blocked", blocked}};
        for (const auto& c : i->cfg().allow_sources) {
            ij["access"]["allow_sources"].push_back(c.text);
        }
        if (const auto* tls = i->tls()) {
            const auto& c = tls->counters();
            ij["tls"] = {{"certificate_subject", tls->certificate_subject()},
                         {"certificate_not_after", tls->certificate_not_after()},
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
        ifaces.push_back(std::move(ij));
    }
    return out;
}

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
    sip_log.info("reloaded {}", _cfg.source_file);
    return {{"ok", true},
            {"applied", applied},
            {"restart_needed",
             "changes to interfaces, trunks, routes and media take effect when sbcd restarts"}};
}

}  // namespace sbc::b2bua

namespace sbc::b2bua {

namespace {
nlohmann::json side_json(const dataplane::side_counters& c, const config::trunk_config& trunk,
                         std::optional<config::srtp_suite> suite, std::int64_t now_ns) {
    nlohmann::json j{
        {"trunk", trunk.name},
        {"srtp", suite ? nlohmann::json(config::to_string(*suite)) : nlohmann::json(nullptr)},
        {"rtp_rx_packets", c.rtp_rx_packets},
        {"rtp_rx_bytes", c.rtp_rx_bytes},
        {"rtcp_rx_packets", c.rtcp_rx_packets},
        {"tx_packets", c.tx_packets},
        {"drops",
         {{"wrong_source", c.drops_wrong_source},
          {"no_destination", c.drops_no_destination},
          {"tx_error", c.drops_tx_error},
          {"truncated", c.drops_truncated},
          {"srtp_auth", c.srtp_auth_failures},
          {"srtp_replay", c.srtp_replays},
          {"srtp_protect", c.srtp_errors}}},
        {"latched",
         c.latched_rtp ? nlohmann::json(c.latched_rtp->to_string()) : nlohmann::json(nullptr)},
        {"last_rx_ms_ago", c.last_rx_ns == 0 ? nlohmann::json(nullptr)
                                             : nlohmann::json((now_ns - c.last_rx_ns) / 1000000)},
    };
    if (c.chain) {
        // The codec chain of what this leg's peer sends (decoded, re-encoded
        // for the other leg).
        const auto& t = *c.chain;
        j["transcoder"] = {{"packets_in", t.packets_in},
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
        j["drops"]["transcoded_rtcp"] = c.drops_transcoded_rtcp;
    }
    return j;
}
}  // namespace

nlohmann::json b2bua::stats() {
    auto calls = nlohmann::json::array();
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count();
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
    std::uint64_t auth = 0;
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
        auto legs = nlohmann::json::object();
        for (auto s : {side::a, side::b}) {
            const auto& counters = st->sides[dataplane::index(s)];
            const auto& trunk = s == side::a ? c->from_trunk() : c->to_trunk();
            auto leg = side_json(counters, trunk, c->srtp_suite(s), now_ns);
            leg["codec"] = c->codec(s);
            leg["ptime"] = c->ptime(s);
            const auto& addr = c->media_address(s);
            leg["local"] = addr.find(':') == std::string::npos
                               ? fmt::format("{}:{}", addr, c->local_rtp_port(s))
                               : fmt::format("[{}]:{}", addr, c->local_rtp_port(s));
            legs[s == side::a ? "a" : "b"] = std::move(leg);
            rx += counters.rtp_rx_packets + counters.rtcp_rx_packets;
            tx += counters.tx_packets;
            auth += counters.srtp_auth_failures + counters.srtp_replays;
        }
        calls.push_back({{"id", c->display_id()},
                         {"state", c->state_name()},
                         {"media", c->transcoded() ? "transcoded" : "relayed"},
                         {"legs", legs}});
    }
    auto workers = nlohmann::json::array();
    for (const auto& w : _media.worker_counters()) {
        workers.push_back({{"index", w.index},
                           {"busy_fraction", w.busy_fraction},
                           {"bursts", w.bursts},
                           {"packets", w.packets}});
    }
    auto ports = nlohmann::json::array();
    for (const auto& p : _media.port_counters()) {
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
    return {{"calls", calls},
            {"media",
             {{"backend", _cfg.media.backend},
              {"open_sessions", _media.open_sessions()},
              {"free_port_pairs", _media.free_port_pairs()},
              {"rx_packets", rx},
              {"tx_packets", tx},
              {"srtp_auth_drops", auth},
              {"transcoded_calls", transcoded},
              {"workers", workers},
              {"ports", ports}}}};
}

}  // namespace sbc::b2bua

namespace sbc::b2bua {

namespace {
nlohmann::json numbers_json(const policy::call_numbers& n) {
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
}  // namespace

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
    const auto source = arg(args, "source");
    if (!source.empty()) {
        auto ep = dataplane::ip_endpoint::from_string(source, 0);
        if (!ep) {
            return api::make_error_reply(fmt::format("'{}' is not an IP address", source));
        }
        req.source = *ep;
    } else if (!trunk->peers.empty()) {
        // A call from the trunk comes from one of its peers.
        req.source = dataplane::ip_endpoint::from_string(trunk->peers.front().host, 0)
                         .value_or(dataplane::ip_endpoint{});
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
    nlohmann::json out{{"from_trunk", trunk->name},
                       {"source", req.source.valid() ? req.source.address() : ""},
                       {"at", date::format("%FT%TZ", date::floor<std::chrono::seconds>(req.now))},
                       {"received", numbers_json(received)},
                       {"normalized", numbers_json(numbers)}};
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
    if (route->reject) {
        const char* phrase = sip_status_phrase(static_cast<int>(route->reject->code));
        out["action"] = {{"reject",
                          {{"code", route->reject->code},
                           {"reason", !route->reject->reason.empty() ? route->reject->reason
                                      : phrase != nullptr            ? phrase
                                                                     : ""}}}};
        return out;
    }
    auto trunks = nlohmann::json::array();
    for (const auto& name : route->to_trunks) {
        const auto* t = _cfg.find_trunk(name);
        auto* table = peers_of(name);
        trunks.push_back({{"trunk", name},
                          {"numbers", numbers_json(normalizer(*t).outbound.apply(numbers))},
                          {"peers_up", table != nullptr && table->choose({}, _rng).has_value()}});
    }
    out["action"] = {{"trunks", trunks}};
    return out;
}

}  // namespace sbc::b2bua
