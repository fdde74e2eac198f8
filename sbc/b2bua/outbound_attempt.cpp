// The initial INVITE's way to the callee (outbound_attempt.hpp).

#include "sbc/b2bua/outbound_attempt.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/peer_route.hpp"
#include "sbc/b2bua/status_map.hpp"
#include "sbc/policy/header_filter.hpp"
#include "sbc/policy/header_rules.hpp"
#include "sbc/policy/user_phone.hpp"

namespace sbc::b2bua {

using namespace support;

outbound_attempt::outbound_attempt(call& owner, std::optional<std::string> offer)
    : _call(owner),
      _offer(std::move(offer)),
      _tried{owner.leg(side::b).peer},
      _started(std::chrono::steady_clock::now()) {}

result<std::optional<std::string>> outbound_attempt::offer_for(call& c, const sip_t* sip,
                                                               bool& convert) {
    auto& b = c.leg(side::b);
    convert = false;
    if (has_sdp(sip)) {
        auto translated = c.translate_sdp(side::a, sip, sdp_role::offer);
        if (!translated) {
            return make_error(translated.error_message());
        }
        return std::optional<std::string>(std::move(translated.value()));
    }
    if (b.trunk->early_offer != config::early_offer_policy::convert) {
        return std::optional<std::string>();
    }
    convert = true;
    auto built = c._media.own_offer(side::b, b.origin);
    if (!built) {
        sip_log.error("call {}: cannot build an offer for trunk {}: {}", c.display_id(),
                      b.trunk->name, built.error_message());
        return make_error(built.error_message());
    }
    sip_log.info("call {}: delayed offer; the SBC offers on trunk {} (early_offer: convert)",
                 c.display_id(), b.trunk->name);
    return std::optional<std::string>(std::move(built.value()));
}

bool outbound_attempt::on_response(const sip_t* sip, int status) {
    auto& c = _call;
    _heard = true;
    // RFC 3261 16.7 (as a proxy would serially fork): 408 and 5xx say this
    // peer cannot take the call now, so the next one is tried, even after
    // it rang: carriers often send 18x before giving up. The caller's dialog
    // is the SBC's own, so it never sees the change of peer.
    if ((status == 408 || status >= 500) && status < 600 && c._state != call::state::cancelling) {
        // nta's own 503 is a transport failure; a failed TLS handshake has
        // its reason with the interface (issue 19).
        const bool internal = nta_sip_is_internal(sip);
        auto& b = c.leg(side::b);
        const auto* target = c._owner.target_of(*b.trunk, b.peer);
        auto tls_why = internal && !c._registered && b.iface != nullptr && target != nullptr
                           ? b.iface->tls_failure(target->host, _started)
                           : std::string();
        if (status == 503 && !internal) {
            hold_off_peer(sip);
        }
        try_next_peer(status, !internal,
                      tls_why.empty() ? "failed" : ("failed, " + tls_why).c_str());
        return true;
    }
    if ((status == 401 || status == 407) && answer_challenge(sip, status)) {
        return true;
    }
    return status == 422 && retry_with_min_se(sip);
}

void outbound_attempt::hold_off_peer(const sip_t* sip) {
    auto& c = _call;
    const auto& b = c.leg(side::b);
    // RFC 3263 4.3: after a 503 with Retry-After the element is not tried
    // again until that time (RFC 3261 21.5.4 and 20.33 give its meaning);
    // without one nothing is held off and the next call may try it again.
    // A registered contact is no peer of the table.
    auto* table = c._owner.peers_of(b.trunk->name);
    if (sip == nullptr || sip->sip_retry_after == nullptr || c._registered || table == nullptr ||
        b.peer >= table->size()) {
        return;
    }
    // sofia keeps the delta as an unsigned long: bound it before the
    // conversion, so that a peer asking for years cannot wrap it round.
    const auto asked =
        std::min<unsigned long>(sip->sip_retry_after->af_delta, trunking::max_hold_off.count());
    if (asked == 0) {
        return;
    }
    const auto now = trunking::clock::now();
    const auto until = table->hold_off(b.peer, std::chrono::seconds(static_cast<long>(asked)), now);
    sip_log.info("call {}: peer {} of trunk {} answered 503 with Retry-After {}: held off for {} s",
                 c.display_id(), c._owner.describe_target(*b.trunk, b.peer), b.trunk->name,
                 sip->sip_retry_after->af_delta,
                 std::chrono::duration_cast<std::chrono::seconds>(until - now).count());
}

void outbound_attempt::prack(const sip_t* sip, int status) {
    if (sip == nullptr || sip->sip_rseq == nullptr ||
        !sip_has_feature(sip->sip_require, "100rel")) {
        return;
    }
    auto& inv = *_call._invite;
    auto& to = _call.leg(dataplane::other(inv.from));
    // RFC 3262 4: a reliable provisional response is acknowledged with
    // PRACK, on this leg alone; the caller's leg has its own rules.
    nta_leg_client_reroute(to.nta(), sip->sip_record_route, sip->sip_contact, 1);
    if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr &&
        nta_outgoing_rseq(inv.orq.get()) == 0) {
        // The PRACK belongs to the early dialog: nta wants the INVITE
        // transaction tagged with it first (as sofia's own nua does).
        inv.orq.tag(sip->sip_to->a_tag, sip->sip_rseq);
    }
    std::erase_if(_pracks, [](const auto& p) { return p.status() >= 200; });
    if (auto prack = inv.orq.prack(
            to.nta(), [](const sofia::response&) {}, sip, to.own_via())) {
        _pracks.push_back(std::move(prack));
    } else {
        sip_log.warn("call {}: cannot PRACK {} (RSeq {})", _call.display_id(), status,
                     sip->sip_rseq->rs_response);
    }
}

std::string outbound_attempt::headers(const sip_t* sip, const policy::call_numbers& numbers,
                                      std::string& from, std::string& to) {
    auto& c = _call;
    auto& b = c.leg(side::b);
    const auto& egress = c._owner.normalizer(*b.trunk).outbound;
    // The headers: the caller's trunk's inbound rules on what arrived, this
    // trunk's allow-list (RFC 5853 3.1), then this trunk's outbound rules on
    // what leaves, From and To included.
    const auto& a_trunk = *c.leg(side::a).trunk;
    const auto arrived = policy::request_headers(sip);
    policy::rule_context ctx;
    ctx.ruri_user = numbers.ruri;
    ctx.from_user = numbers.from;
    ctx.to_user = numbers.to;
    ctx.from_trunk = a_trunk.name;
    ctx.to_trunk = b.trunk->name;
    ctx.source_ip = c._source_ip;
    ctx.request_headers = &arrived;
    auto fields = arrived;
    policy::apply_header_rules(a_trunk.headers.inbound, fields, ctx);
    const auto& ingress = c._owner.normalizer(a_trunk).inbound;
    fields = policy::allowed_fields(
        fields, b.trunk->forward_headers, [&](config::number_field f, std::string_view v) {
            return egress.apply_to_header(f, ingress.apply_to_header(f, v));
        });
    fields.insert(fields.begin(), {policy::header_field{"From", from}, {"To", to}});
    policy::apply_header_rules(b.trunk->headers.outbound, fields, ctx);
    std::vector<policy::header_field> extra;
    for (auto& f : fields) {
        // RFC 3261 19.1.1: E.164 users marked as telephone numbers where the
        // trunk asks, once the rules have had their say.
        if (b.trunk->user_phone &&
            (policy::same_header(f.name, "From") || policy::same_header(f.name, "To") ||
             policy::same_header(f.name, "P-Asserted-Identity"))) {
            f.value = policy::header_with_user_phone(f.value);
        }
        // Outbound rules change From and To only by their parameters.
        if (policy::same_header(f.name, "From")) {
            from = std::move(f.value);
        } else if (policy::same_header(f.name, "To")) {
            to = std::move(f.value);
        } else {
            extra.push_back(std::move(f));
        }
    }
    auto lines = policy::header_lines(extra);
    if (!c._replaces.empty()) {
        lines += fmt::format("Replaces: {}\r\n", c._replaces);
    }
    return lines;
}

sofia::client_transaction outbound_attempt::send(const sip_t* sip) {
    auto& c = _call;
    auto& b = c.leg(side::b);
    // A registered callee is reached at its source address, as a peer
    // given by address is.
    config::peer_config peer;
    trunking::target target;
    if (c._registered) {
        peer.host = target.host = c._registered->source.address();
        peer.port = target.port = c._registered->source.port();
        peer.proto = target.proto = c._registered->transport;
    } else if (const auto* t = c._owner.target_of(*b.trunk, b.peer)) {
        target = *t;
        peer = b.trunk->peers.at(t->peer);
    } else {
        return {};
    }
    // The outbound leg is built from nothing of the inbound one but the user
    // parts of the addresses (RFC 5853 3.1).
    // The numbers are the caller's after its trunk's inbound normalization,
    // rewritten by this trunk's outbound rules.
    const auto& egress = c._owner.normalizer(*b.trunk).outbound;
    const auto numbers = egress.apply(c._numbers);
    const auto& ruser = numbers.ruri;
    const auto& to_user = numbers.to;
    std::string display =
        sip->sip_from->a_display ? std::string(sip->sip_from->a_display) + " " : "";
    auto from = fmt::format("{}<sip:{}{}{}>", display, numbers.from,
                            numbers.from.empty() ? "" : "@", b.iface->host());
    auto route = route_to(peer, target, ruser);
    auto to = fmt::format("<sip:{}{}{}>", to_user, to_user.empty() ? "" : "@", route.to_host);
    auto ruri = b.trunk->user_phone ? policy::with_user_phone(route.ruri) : std::move(route.ruri);
    // A named peer: the request goes to the target its name resolved to.
    std::string next_hop = std::move(route.next_hop);
    // A registered callee: its Contact is the Request-URI, and the request
    // goes to the address it registered from (it may sit behind a NAT that
    // lets nothing else in).
    if (c._registered) {
        next_hop = ruri;
        ruri = c._registered->contact;
    }

    const auto lines = headers(sip, numbers, from, to) + support::sbc_header_line(*b.trunk);
    auto call_id = new_call_id();
    b.leg = sofia::leg::create(b.iface->agent(), b, SIPTAG_CALL_ID_STR(call_id.c_str()),
                               SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()));
    if (!b.leg) {
        return {};
    }
    nta_leg_tag(b.nta(), nullptr);
    remember_identity(b, call_id, from, to);
    c.capture_leg(side::b);
    c._numbers_sent = numbers;
    unsigned hops = sip->sip_max_forwards ? sip->sip_max_forwards->mf_count - 1 : 69;
    _sent = {ruri, b.iface->contact(b.transport, b.trunk->use_fqdn), std::to_string(hops), lines,
             next_hop};
    _auth_answers = 0;
    _callee_min_se = 0;
    return issue();
}

sofia::client_transaction outbound_attempt::issue(const sofia::authorization& auth) {
    auto& b = _call.leg(side::b);
    const auto& o = _sent;
    const auto& offer = _offer;
    const unsigned expires = std::max(b.trunk->session_timer.expires, _callee_min_se);
    const unsigned min_se = _callee_min_se > 0 ? _callee_min_se : b.trunk->session_timer.min_se;
    const auto via = b.own_via();
    auto orq = sofia::client_transaction::send(
        b.nta(), _call.invite_callback(),
        o.next_hop.empty() ? nullptr : URL_STRING_MAKE(o.next_hop.c_str()), SIP_METHOD_INVITE,
        URL_STRING_MAKE(o.ruri.c_str()), SIPTAG_CONTACT_STR(o.contact.c_str()),
        SIPTAG_MAX_FORWARDS_STR(o.max_forwards.c_str()), SIPTAG_ALLOW_STR(allow_for(*b.trunk)),
        TAG_IF(offer, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(offer, SIPTAG_PAYLOAD_STR(offer ? offer->c_str() : "")),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(expires > 0, SIPTAG_SESSION_EXPIRES_STR(std::to_string(expires).c_str())),
        TAG_IF(expires > 0, SIPTAG_MIN_SE_STR(std::to_string(min_se).c_str())),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!o.headers.empty(), SIPTAG_HEADER_STR(o.headers.c_str())), SBC_OWN_VIA(via));
    if (!orq) {
        sip_log.error("call {}: cannot send INVITE to {}", _call.display_id(), o.ruri);
    }
    return orq;
}

bool outbound_attempt::retry_with_min_se(const sip_t* sip) {
    auto& c = _call;
    const auto& b = c.leg(side::b);
    if (sip == nullptr || sip->sip_min_se == nullptr || c._state == call::state::cancelling ||
        _callee_min_se > 0) {
        return false;
    }
    const auto asked = sip->sip_min_se->min_delta;
    // A Min-SE no larger than what was asked is no reason to try again; one
    // over a day is not a session timer anyone runs.
    if (asked <= b.trunk->session_timer.expires || asked > 86400) {
        return false;
    }
    _callee_min_se = static_cast<unsigned>(asked);
    sip_log.info("call {}: trunk {} wants a session interval of at least {} s (422); retrying",
                 c.display_id(), b.trunk->name, asked);
    // As for a challenge: a new INVITE on the same dialog-to-be, the next
    // CSeq. Credentials, if the trunk asks again, are answered afresh.
    _auth_answers = 0;
    c.adopt_invite(issue());
    return static_cast<bool>(c._invite->orq);
}

void outbound_attempt::check_failover(std::chrono::steady_clock::time_point now) {
    if (_heard) {
        return;
    }
    auto limit = std::chrono::seconds(_call.to_trunk().failover_timeout_seconds);
    if (now - _started >= limit) {
        try_next_peer(408, false, "did not answer in time");
    }
}

bool outbound_attempt::try_next_peer(int status, bool from_peer, const char* why) {
    auto& c = _call;  // the call may end on the way, and this attempt with it
    auto& inv = *c._invite;
    auto& b = c.leg(side::b);
    // A registered contact has no other peer to fail over to.
    std::optional<std::size_t> next;
    if (!c._registered) {
        next = c._owner.choose_peer(*b.trunk, _tried);
    }
    sip_log.info("call {}: {} of trunk {} {} ({}){}", c.display_id(),
                 c._registered ? "registered contact " + c._registered->contact
                               : "peer " + c._owner.describe_target(*b.trunk, b.peer),
                 b.trunk->name, why, status,
                 next ? ", trying " + c._owner.describe_target(*b.trunk, *next) : ", none left");
    if (!next && !c._registered) {
        c._owner.note_unresolved(*b.trunk, "call " + c.display_id());
    }
    // The abandoned attempt is cancelled (RFC 3261 9.1): nta holds the
    // CANCEL until a provisional response comes, so a peer that was only
    // slow, its 180 already on the way, stops ringing. Destroying the
    // transaction alone would leave it ringing for a caller who is talking
    // to someone else.
    inv.orq.cancel();
    inv.orq = {};
    b.leg = {};
    auto request = inv.irq.request();
    const sip_t* sip = request ? sip_object(request.get()) : nullptr;
    if (!next && sip != nullptr && next_trunk(sip)) {
        return true;
    }
    if (!next) {
        // The last peer's own answer is mapped like any failure (a peer's 503
        // becomes 500, RFC 3261 16.7); when no peer answered at all (silence,
        // connection or TLS failure) the SBC cannot serve the call: 503
        // (RFC 3261 21.5.4).
        int code = from_peer ? map_final_status(status).code : 503;
        c.note_end(from_peer ? cdr::party::callee : cdr::party::sbc,
                   fmt::format("{} {} ({})", status, phrase_for(status), why));
        c.reply(inv.irq.get(), c.leg(side::a), code, nullptr, nullptr, nullptr);
        c.finish();
        return false;
    }
    b.peer = *next;
    b.transport = c._owner.target_of(*b.trunk, b.peer)->proto;
    _tried.push_back(b.peer);
    _started = std::chrono::steady_clock::now();
    _heard = false;
    if (sip != nullptr) {
        c.adopt_invite(send(sip));
    }
    if (!inv.orq) {
        c.reply(inv.irq.get(), c.leg(side::a), 500, nullptr, nullptr, nullptr);
        c.finish();
        return false;
    }
    return true;
}

std::optional<std::size_t> outbound_attempt::usable_next_trunk(const config::trunk_config& trunk,
                                                               const sip_t* sip) {
    const auto id = _call.display_id();
    auto first = _call._owner.choose_peer(trunk, {});
    if (!first) {
        sip_log.info("call {}: trunk {} has no peer up; skipped", id, trunk.name);
        _call._owner.note_unresolved(trunk, "call " + id);
        return std::nullopt;
    }
    if (!has_sdp(sip) && trunk.early_offer == config::early_offer_policy::reject) {
        sip_log.info("call {}: trunk {} takes no delayed offer; skipped", id, trunk.name);
        return std::nullopt;
    }
    if (trunk.registrar) {
        sip_log.info(
            "call {}: trunk {} reaches registered contacts only as a route's first "
            "trunk; skipped",
            id, trunk.name);
        return std::nullopt;
    }
    if (auto admitted = _call._owner.admit(trunk, false); !admitted) {
        sip_log.info("call {}: trunk {} is at its {} limit; skipped", id, trunk.name,
                     admission::to_string(admitted.what));
        return std::nullopt;
    }
    return first;
}

bool outbound_attempt::next_trunk(const sip_t* sip) {
    auto& c = _call;
    auto& inv = *c._invite;
    auto& b = c.leg(side::b);
    while (!c._next_trunks.empty()) {
        const auto* trunk = c._next_trunks.front();
        c._next_trunks.erase(c._next_trunks.begin());
        auto first = usable_next_trunk(*trunk, sip);
        if (!first) {
            continue;
        }
        c.release_slot(b.trunk, false);
        c._slots.push_back({trunk, false});
        // A registered callee belonged to the trunk left behind.
        c._registered.reset();
        // A route's trunks share an interface (config validation), so the
        // media session stays; the leg's keys, codecs and offer are the new
        // trunk's.
        sip_log.info("call {}: trying trunk {}", c.display_id(), trunk->name);
        b.trunk = trunk;
        c._media.set_leg(side::b, *trunk, b.iface->cfg().media_address);
        b.origin.last_sent.clear();
        bool convert = false;
        auto offer = offer_for(c, sip, convert);
        if (!offer) {
            sip_log.info("call {}: no offer for trunk {}: {}; skipped", c.display_id(), trunk->name,
                         offer.error_message());
            continue;
        }
        _offer = std::move(offer.value());
        inv.offered = _offer.has_value();
        inv.converted = convert;
        b.peer = *first;
        b.transport = c._owner.target_of(*trunk, b.peer)->proto;
        _tried.assign(1, b.peer);
        _started = std::chrono::steady_clock::now();
        _heard = false;
        c.adopt_invite(send(sip));
        if (inv.orq) {
            return true;
        }
        b.leg = {};
    }
    return false;
}

bool outbound_attempt::answer_challenge(const sip_t* sip, int status) {
    auto& c = _call;
    const auto& b = c.leg(side::b);
    if (c._state == call::state::cancelling) {
        return false;
    }
    const auto auth =
        c._digest.answer(*b.trunk, sip, status, "INVITE", _sent.ruri,
                         _offer ? std::string_view(*_offer) : std::string_view(), _auth_answers);
    if (auth.empty()) {
        return false;
    }
    // The challenged transaction is complete (nta acknowledged the 4xx); the
    // retry is a new INVITE on the same dialog-to-be: same Call-ID and From
    // tag, the next CSeq (RFC 3261 22.2). The caller has had its 100 Trying.
    c.adopt_invite(issue(auth));
    return static_cast<bool>(c._invite->orq);
}

}  // namespace sbc::b2bua
