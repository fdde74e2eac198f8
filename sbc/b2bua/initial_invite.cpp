// The call's initial INVITE: the caller's dialog, the callee's INVITE built
// from scratch (RFC 5853 3.1), failover across peers and trunks, digest
// challenges and 422 retries, the answer relayed back, CANCEL and the ACK.

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/status_map.hpp"
#include "sbc/policy/header_filter.hpp"
#include "sbc/policy/header_rules.hpp"
#include "sbc/sdp/offer_builder.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

void call::learn_caller(const sip_t* sip) {
    auto& a = leg(side::a);
    a.transport = config::transport::udp;
    if (sip->sip_via != nullptr && su_casematch(sip->sip_via->v_protocol, sip_transport_tcp)) {
        a.transport = config::transport::tcp;
    } else if (sip->sip_via != nullptr &&
               su_casematch(sip->sip_via->v_protocol, sip_transport_tls)) {
        a.transport = config::transport::tls;
    }
    // RFC 3262 and 4028 are negotiated per leg: what the caller can do
    // decides leg a, what the SBC offers the callee decides leg b.
    a.peer_100rel = sip_has_feature(sip->sip_supported, "100rel") ||
                    sip_has_feature(sip->sip_require, "100rel");
    a.peer_timer =
        sip_has_feature(sip->sip_supported, "timer") || sip_has_feature(sip->sip_require, "timer");
    _timers.caller_asked(sip);
}

int call::start(nta_incoming_t* irq, const sip_t* sip) {
    auto& a = leg(side::a);
    auto& b = leg(side::b);
    a.iface = &_owner.interface_named(a.trunk->interface);
    b.iface = &_owner.interface_named(b.trunk->interface);
    learn_caller(sip);
    if (_registered) {
        b.transport = _registered->transport;
    } else {
        auto first = _owner.choose_peer(*b.trunk, {});
        if (!first) {
            return 503;  // every peer is down (RFC 3261 21.5.4)
        }
        b.peer = *first;
        b.transport = b.trunk->peers[b.peer].proto;
    }

    _media.set_leg(side::a, *a.trunk, a.iface->cfg().media_address);
    _media.set_leg(side::b, *b.trunk, b.iface->cfg().media_address);
    if (auto opened = _media.open(); !opened) {
        sip_log.error("call {}: no media ports: {}", display_id(), opened.error_message());
        return 503;
    }

    bool convert = false;
    auto prepared = outbound_offer(sip, convert);
    if (!prepared) {
        if (!has_sdp(sip)) {
            return 500;  // the SBC's own offer failed (logged)
        }
        sip_log.info("call {}: unusable offer: {}", display_id(), prepared.error_message());
        refuse_offer(irq, prepared.error_message());
        return -1;
    }
    std::optional<std::string> offer = std::move(prepared.value());

    if (!create_inbound_leg(irq, sip)) {
        return 500;
    }
    _offer = offer;
    _tried.push_back(b.peer);
    _attempt_started = std::chrono::steady_clock::now();
    _invite.emplace();
    _invite->from = side::a;
    _invite->initial = true;
    _invite->offered = offer.has_value();
    _invite->converted = convert;
    auto orq = send_outbound_invite(sip, offer);
    if (!orq) {
        _invite.reset();
        return 500;
    }
    adopt_invite(std::move(orq));
    _invite->oa = _oa.begin(offer_answer::via::initial_invite, side::a);
    _invite->irq = sofia::server_transaction(irq);
    _invite->irq.on_ack_or_cancel([this](const sip_t* s) { on_invite_ack_or_cancel(s); });
    _invite->irq.reply(SIP_100_TRYING);
    return 0;
}

result<std::optional<std::string>> call::outbound_offer(const sip_t* sip, bool& convert) {
    auto& b = leg(side::b);
    convert = false;
    if (has_sdp(sip)) {
        auto translated = translate_sdp(side::a, sip, sdp_role::offer);
        if (!translated) {
            return make_error(translated.error_message());
        }
        return std::optional<std::string>(std::move(translated.value()));
    }
    if (b.trunk->early_offer != config::early_offer_policy::convert) {
        return std::optional<std::string>();
    }
    convert = true;
    auto built = _media.own_offer(side::b, b.origin);
    if (!built) {
        sip_log.error("call {}: cannot build an offer for trunk {}: {}", display_id(),
                      b.trunk->name, built.error_message());
        return make_error(built.error_message());
    }
    sip_log.info("call {}: delayed offer; the SBC offers on trunk {} (early_offer: convert)",
                 display_id(), b.trunk->name);
    return std::optional<std::string>(std::move(built.value()));
}

bool call::create_inbound_leg(nta_incoming_t* irq, const sip_t* sip) {
    auto& a = leg(side::a);
    a.leg = sofia::leg::create(a.iface->agent(), a, SIPTAG_CALL_ID(sip->sip_call_id),
                               SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from),
                               SIPTAG_CSEQ(sip->sip_cseq),
                               // The INVITE's CSeq is the dialog's remote sequence
                               // number (RFC 3261 12.1.1), which its state records.
                               NTATAG_REMOTE_CSEQ(sip->sip_cseq->cs_seq));
    if (!a.leg) {
        return false;
    }
    nta_leg_tag(a.nta(), nullptr);
    nta_leg_server_route(a.nta(), sip->sip_record_route, sip->sip_contact);
    a.call_id = sip->sip_call_id->i_id;
    a.local_uri = sofia::uri_text(sip->sip_to->a_url);
    a.remote_uri = sofia::uri_text(sip->sip_from->a_url);
    nta_incoming_tag(irq, nta_leg_get_tag(a.nta()));
    return true;
}

std::string call::outbound_headers(const sip_t* sip, const policy::call_numbers& numbers,
                                   std::string& from, std::string& to) {
    auto& b = leg(side::b);
    const auto& egress = _owner.normalizer(*b.trunk).outbound;
    // The headers: the caller's trunk's inbound rules on what arrived, this
    // trunk's allow-list (RFC 5853 3.1), then this trunk's outbound rules on
    // what leaves, From and To included.
    const auto& a_trunk = *leg(side::a).trunk;
    const auto arrived = policy::request_headers(sip);
    policy::rule_context ctx;
    ctx.ruri_user = numbers.ruri;
    ctx.from_user = numbers.from;
    ctx.to_user = numbers.to;
    ctx.from_trunk = a_trunk.name;
    ctx.to_trunk = b.trunk->name;
    ctx.source_ip = _source_ip;
    ctx.request_headers = &arrived;
    auto fields = arrived;
    policy::apply_header_rules(a_trunk.headers.inbound, fields, ctx);
    const auto& ingress = _owner.normalizer(a_trunk).inbound;
    fields = policy::allowed_fields(
        fields, b.trunk->forward_headers, [&](config::number_field f, std::string_view v) {
            return egress.apply_to_header(f, ingress.apply_to_header(f, v));
        });
    fields.insert(fields.begin(), {policy::header_field{"From", from}, {"To", to}});
    policy::apply_header_rules(b.trunk->headers.outbound, fields, ctx);
    std::vector<policy::header_field> extra;
    for (auto& f : fields) {
        // Outbound rules change From and To only by their parameters.
        if (policy::same_header(f.name, "From")) {
            from = std::move(f.value);
        } else if (policy::same_header(f.name, "To")) {
            to = std::move(f.value);
        } else {
            extra.push_back(std::move(f));
        }
    }
    auto headers = policy::header_lines(extra);
    if (!_replaces.empty()) {
        headers += fmt::format("Replaces: {}\r\n", _replaces);
    }
    return headers;
}

sofia::client_transaction call::send_outbound_invite(const sip_t* sip,
                                                     const std::optional<std::string>& offer) {
    auto& b = leg(side::b);
    config::peer_config peer;
    if (_registered) {
        peer.host = _registered->source.address();
        peer.port = _registered->source.port();
        peer.proto = _registered->transport;
    } else {
        peer = b.trunk->peers[b.peer];
    }
    // The outbound leg is built from nothing of the inbound one but the user
    // parts of the addresses (RFC 5853 3.1).
    // The numbers are the caller's after its trunk's inbound normalization,
    // rewritten by this trunk's outbound rules.
    const auto& egress = _owner.normalizer(*b.trunk).outbound;
    const auto numbers = egress.apply(_numbers);
    const auto& ruser = numbers.ruri;
    const auto& to_user = numbers.to;
    std::string display =
        sip->sip_from->a_display ? std::string(sip->sip_from->a_display) + " " : "";
    auto from = fmt::format("{}<sip:{}{}{}>", display, numbers.from,
                            numbers.from.empty() ? "" : "@", b.iface->host());
    auto peer_host = uri_host(peer.host);
    auto to = fmt::format("<sip:{}{}{}>", to_user, to_user.empty() ? "" : "@", peer_host);
    auto ruri = peer_uri(ruser, peer);
    // A registered callee: its Contact is the Request-URI, and the request
    // goes to the address it registered from (it may sit behind a NAT that
    // lets nothing else in).
    std::string next_hop;
    if (_registered) {
        next_hop = ruri;
        ruri = _registered->contact;
    }

    const auto headers = outbound_headers(sip, numbers, from, to);
    auto call_id = new_call_id();
    b.leg = sofia::leg::create(b.iface->agent(), b, SIPTAG_CALL_ID_STR(call_id.c_str()),
                               SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()));
    if (!b.leg) {
        return {};
    }
    nta_leg_tag(b.nta(), nullptr);
    remember_identity(b, call_id, from, to);
    _numbers_sent = numbers;
    unsigned hops = sip->sip_max_forwards ? sip->sip_max_forwards->mf_count - 1 : 69;
    _outbound = {ruri, b.iface->contact(b.transport), std::to_string(hops), headers, next_hop};
    _auth_answers = 0;
    _callee_min_se = 0;
    return issue_invite(offer);
}

sofia::client_transaction call::issue_invite(const std::optional<std::string>& offer,
                                             const sofia::authorization& auth) {
    auto& b = leg(side::b);
    const auto& o = _outbound;
    const unsigned expires = std::max(b.trunk->session_timer.expires, _callee_min_se);
    const unsigned min_se = _callee_min_se > 0 ? _callee_min_se : b.trunk->session_timer.min_se;
    auto orq = sofia::client_transaction::send(
        b.nta(), invite_callback(),
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
        TAG_IF(!o.headers.empty(), SIPTAG_HEADER_STR(o.headers.c_str())));
    if (!orq) {
        sip_log.error("call {}: cannot send INVITE to {}", display_id(), o.ruri);
    }
    return orq;
}

bool call::retry_with_min_se(const sip_t* sip) {
    auto& inv = *_invite;
    const auto& b = leg(side::b);
    if (sip == nullptr || sip->sip_min_se == nullptr || _state == state::cancelling ||
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
                 display_id(), b.trunk->name, asked);
    // As for a challenge: a new INVITE on the same dialog-to-be, the next
    // CSeq. Credentials, if the trunk asks again, are answered afresh.
    _auth_answers = 0;
    adopt_invite(issue_invite(_offer));
    return static_cast<bool>(inv.orq);
}

void call::on_invite_response(const sip_t* sip, int status) {
    auto& inv = *_invite;
    if (inv.initial) {
        _attempt_heard = true;
    }
    // RFC 3261 16.7 (as a proxy would serially fork): 408 and 5xx say this
    // peer cannot take the call now, so the next one is tried, even after
    // it rang: carriers often send 18x before giving up. The caller's dialog
    // is the SBC's own, so it never sees the change of peer.
    if (inv.initial && (status == 408 || status >= 500) && status < 600 &&
        _state != state::cancelling) {
        // nta's own 503 is a transport failure; a failed TLS handshake has
        // its reason with the interface (issue 19).
        const bool internal = nta_sip_is_internal(sip);
        auto& b = leg(side::b);
        auto tls_why = internal && !_registered && b.iface != nullptr
                           ? b.iface->tls_failure(b.trunk->peers[b.peer].host, _attempt_started)
                           : std::string();
        try_next_peer(status, !internal,
                      tls_why.empty() ? "failed" : ("failed, " + tls_why).c_str());
        return;
    }
    if (inv.initial && (status == 401 || status == 407) && answer_challenge(sip, status)) {
        return;
    }
    if (!inv.initial && (status == 401 || status == 407) &&
        answer_reinvite_challenge(sip, status)) {
        return;
    }
    if (inv.initial && status == 422 && retry_with_min_se(sip)) {
        return;
    }
    if (status < 200) {
        on_invite_provisional(sip, status);
        return;
    }
    if (status < 300) {
        on_invite_success(sip, status);
        return;
    }
    if (inv.initial) {
        on_initial_final_failure(status, sip);
        return;
    }
    auto mapped = map_final_status(status);
    reply(inv.irq.get(), leg(inv.from), mapped.code, nullptr, nullptr, nullptr);
    _invite.reset();
}

void call::on_invite_provisional(const sip_t* sip, int status) {
    auto& inv = *_invite;
    if (status == 100 || !inv.initial || _state == state::cancelling) {
        return;
    }
    auto& to = leg(dataplane::other(inv.from));
    if (sip != nullptr && sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
        nta_leg_rtag(to.nta(), sip->sip_to->a_tag);  // the early dialog (RFC 3261 12.1.2)
    }
    if (sip != nullptr && sip->sip_rseq != nullptr && sip_has_feature(sip->sip_require, "100rel")) {
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
                to.nta(), [](const sofia::response&) {}, sip)) {
            _pracks.push_back(std::move(prack));
        } else {
            sip_log.warn("call {}: cannot PRACK {} (RSeq {})", display_id(), status,
                         sip->sip_rseq->rs_response);
        }
    }
    std::optional<std::string> body;
    if (has_sdp(sip)) {
        auto translated = translate_sdp(to._side, sip, response_role_in(), response_role_out());
        if (translated) {
            body = std::move(translated.value());
        } else {
            sip_log.info("call {}: {} with unusable SDP relayed without it: {}", display_id(),
                         status, translated.error_message());
        }
    }
    // A caller that supports 100rel gets its 18x reliably (RFC 3262).
    reply(inv.irq.get(), leg(side::a), status, nullptr, sip, body ? &*body : nullptr, {},
          leg(side::a).peer_100rel);
    set_state(state::early);
}

void call::check_failover(std::chrono::steady_clock::time_point now) {
    if (!_invite || !_invite->initial || _attempt_heard ||
        (_state != state::trying && _state != state::early)) {
        return;  // an earlier peer may have rung before it failed: still early
    }
    auto limit = std::chrono::seconds(to_trunk().failover_timeout_seconds);
    if (now - _attempt_started >= limit) {
        try_next_peer(408, false, "did not answer in time");
    }
}

bool call::try_next_peer(int status, bool from_peer, const char* why) {
    auto& inv = *_invite;
    auto& b = leg(side::b);
    // A registered contact has no other peer to fail over to.
    std::optional<std::size_t> next;
    if (!_registered) {
        next = _owner.choose_peer(*b.trunk, _tried);
    }
    sip_log.info("call {}: {} of trunk {} {} ({}){}", display_id(),
                 _registered ? "registered contact " + _registered->contact
                             : "peer " + config::to_string(b.trunk->peers[b.peer]),
                 b.trunk->name, why, status,
                 next ? ", trying " + config::to_string(b.trunk->peers[*next]) : ", none left");
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
        note_end(from_peer ? cdr::party::callee : cdr::party::sbc,
                 fmt::format("{} {} ({})", status, phrase_for(status), why));
        reply(inv.irq.get(), leg(side::a), code, nullptr, nullptr, nullptr);
        finish();
        return false;
    }
    b.peer = *next;
    b.transport = b.trunk->peers[b.peer].proto;
    _tried.push_back(b.peer);
    _attempt_started = std::chrono::steady_clock::now();
    _attempt_heard = false;
    if (sip != nullptr) {
        adopt_invite(send_outbound_invite(sip, _offer));
    }
    if (!inv.orq) {
        reply(inv.irq.get(), leg(side::a), 500, nullptr, nullptr, nullptr);
        finish();
        return false;
    }
    return true;
}

std::optional<std::size_t> call::usable_next_trunk(const config::trunk_config& trunk,
                                                   const sip_t* sip) {
    auto first = _owner.choose_peer(trunk, {});
    if (!first) {
        sip_log.info("call {}: trunk {} has no peer up; skipped", display_id(), trunk.name);
        return std::nullopt;
    }
    if (!has_sdp(sip) && trunk.early_offer == config::early_offer_policy::reject) {
        sip_log.info("call {}: trunk {} takes no delayed offer; skipped", display_id(), trunk.name);
        return std::nullopt;
    }
    if (trunk.registrar) {
        sip_log.info(
            "call {}: trunk {} reaches registered contacts only as a route's first "
            "trunk; skipped",
            display_id(), trunk.name);
        return std::nullopt;
    }
    if (auto admitted = _owner.admit(trunk, false); !admitted) {
        sip_log.info("call {}: trunk {} is at its {} limit; skipped", display_id(), trunk.name,
                     admission::to_string(admitted.what));
        return std::nullopt;
    }
    return first;
}

bool call::next_trunk(const sip_t* sip) {
    auto& inv = *_invite;
    auto& b = leg(side::b);
    while (!_next_trunks.empty()) {
        const auto* trunk = _next_trunks.front();
        _next_trunks.erase(_next_trunks.begin());
        auto first = usable_next_trunk(*trunk, sip);
        if (!first) {
            continue;
        }
        release_slot(b.trunk, false);
        _slots.push_back({trunk, false});
        // A registered callee belonged to the trunk left behind.
        _registered.reset();
        // A route's trunks share an interface (config validation), so the
        // media session stays; the leg's keys, codecs and offer are the new
        // trunk's.
        sip_log.info("call {}: trying trunk {}", display_id(), trunk->name);
        b.trunk = trunk;
        _media.set_leg(side::b, *trunk, b.iface->cfg().media_address);
        b.origin.last_sent.clear();
        bool convert = false;
        auto offer = outbound_offer(sip, convert);
        if (!offer) {
            sip_log.info("call {}: no offer for trunk {}: {}; skipped", display_id(), trunk->name,
                         offer.error_message());
            continue;
        }
        _offer = std::move(offer.value());
        inv.offered = _offer.has_value();
        inv.converted = convert;
        b.peer = *first;
        b.transport = trunk->peers[b.peer].proto;
        _tried.assign(1, b.peer);
        _attempt_started = std::chrono::steady_clock::now();
        _attempt_heard = false;
        adopt_invite(send_outbound_invite(sip, _offer));
        if (inv.orq) {
            return true;
        }
        b.leg = {};
    }
    return false;
}

std::string call::timers_after_2xx(const sip_t* sip) {
    auto& inv = *_invite;
    auto& from = leg(inv.from);
    auto& to = leg(dataplane::other(inv.from));
    if (inv.initial) {
        _timers.settle_callee(sip);
        return _timers.settle_caller();
    }
    // A re-INVITE answered is a refresh on both its legs (RFC 4028 10),
    // and the 2xx to the requester restates its leg's timer (RFC 4028 9).
    const auto now = std::chrono::steady_clock::now();
    if (to.timer) {
        to.timer->last_refresh = now;
    }
    std::string lines;
    if (from.timer) {
        from.timer->last_refresh = now;
        lines = fmt::format("Session-Expires: {}\r\n", session_timers::expires_value(from, false));
        if (from.peer_timer) {
            lines += "Require: timer\r\n";
        }
    }
    return lines;
}

void call::on_invite_success(const sip_t* sip, int status) {
    auto& inv = *_invite;
    auto& from = leg(inv.from);
    auto& to = leg(dataplane::other(inv.from));
    if (sip != nullptr) {
        if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
            nta_leg_rtag(to.nta(), sip->sip_to->a_tag);
        }
        nta_leg_client_route(to.nta(), sip->sip_record_route, sip->sip_contact);
    }
    to.confirmed = true;
    if (_state == state::cancelling) {
        // RFC 3261 9.1: the 2xx crossed our CANCEL; the callee's dialog is
        // up and must be acknowledged and ended.
        send_ack(to._side, nullptr);
        send_bye(to._side);
        finish();
        return;
    }
    std::optional<std::string> body;
    if (inv.converted && !has_sdp(sip)) {
        // RFC 3264 4: our offer must be answered in the 2xx.
        sip_log.warn("call {}: trunk {} answered the SBC's offer with a 2xx without SDP",
                     display_id(), to.trunk->name);
    }
    if (has_sdp(sip) || inv.converted) {
        auto translated =
            has_sdp(sip) ? translate_sdp(to._side, sip, response_role_in(), response_role_out())
                         : result<std::string>(make_error("no SDP answer in the 2xx"));
        if (!translated) {
            sip_log.warn("call {}: 2xx with unusable SDP: {}", display_id(),
                         translated.error_message());
            send_ack(to._side, nullptr);
            if (inv.initial) {
                send_bye(to._side);
                reply(inv.irq.get(), from, 502, nullptr, nullptr, nullptr);
                finish();
            } else {
                reply(inv.irq.get(), from, 488, nullptr, nullptr, nullptr);
                release_transactions();
            }
            return;
        }
        body = std::move(translated.value());
    }
    if (inv.converted) {
        inv.offer_in_2xx = *body;  // the answer in the ACK is checked against it
    }
    const auto timer_lines = timers_after_2xx(sip);
    reply(inv.irq.get(), from, status, nullptr, sip, body ? &*body : nullptr, timer_lines);
    inv.answered = true;
    if (inv.initial) {
        _cdr.answer = cdr::wall_clock::now();
        _cdr.status = status;
        from.confirmed = true;
        set_state(state::answered);
    }
}

void call::on_initial_final_failure(int status, const sip_t* sip) {
    auto& inv = *_invite;
    if (_state != state::cancelling) {
        auto mapped = map_final_status(status);
        sip_log.info("call {}: callee answered {}, caller gets {}", display_id(), status,
                     mapped.code);
        const char* phrase = sip != nullptr && sip->sip_status != nullptr
                                 ? sip->sip_status->st_phrase
                                 : phrase_for(status);
        note_end(cdr::party::callee, fmt::format("{} {}", status, phrase ? phrase : ""));
        reply(inv.irq.get(), leg(inv.from), mapped.code, nullptr, sip, nullptr);
    }
    finish();
}

void call::on_cancel() {
    auto& inv = *_invite;
    if (inv.answered) {
        return;  // too late: RFC 3261 9.2, the 2xx stands
    }
    sip_log.info("call {}: CANCEL from the caller", display_id());
    if (inv.initial) {
        note_end(cdr::party::caller, "CANCEL");
    }
    inv.irq.reply(SIP_487_REQUEST_TERMINATED);
    inv.orq.cancel();
    if (inv.initial) {
        set_state(state::cancelling);  // until the callee's final response
    }
}

void call::on_ack(const sip_t* sip) {
    auto& inv = *_invite;
    if (!inv.answered) {
        return;
    }
    if (inv.converted) {
        on_converted_ack(sip);
        return;
    }
    std::optional<std::string> body;
    if (has_sdp(sip)) {
        // Delayed offer (RFC 3264 5): the answer arrives in the ACK.
        auto translated = translate_sdp(inv.from, sip, sdp_role::answer);
        if (translated) {
            body = std::move(translated.value());
        } else {
            sip_log.warn("call {}: ACK with unusable SDP: {}", display_id(),
                         translated.error_message());
        }
    }
    send_ack(dataplane::other(inv.from), body ? &*body : nullptr);
    complete_invite();
}

void call::complete_invite() {
    auto& inv = *_invite;
    if (inv.initial) {
        set_state(state::established);
        sip_log.info("call {}: established", display_id());
    }
    _invite.reset();
}

void call::on_converted_ack(const sip_t* sip) {
    auto& inv = *_invite;
    const side from = inv.from;
    const side to = dataplane::other(from);
    std::string problem;
    if (!has_sdp(sip)) {
        problem = "the ACK carries no SDP answer";
    } else if (auto fit = sdp::check_answer(inv.offer_in_2xx, body_of(sip)); !fit) {
        problem = fit.error_message();
    } else if (auto accepted = _media.accept(from, body_of(sip), sdp_role::answer); !accepted) {
        problem = accepted.error_message();
    }
    // The other leg has its answer already (in its 2xx): its ACK is bare.
    send_ack(to, nullptr);
    if (!problem.empty()) {
        // RFC 3264 gives no way to refuse an answer in an ACK; the session
        // cannot work, so both dialogs are ended (RFC 3261 13.2.2.4).
        sip_log.warn(
            "call {}: the answer in the ACK from trunk {} does not fit the SBC's offer "
            "({}); BYE to both legs",
            display_id(), leg(from).trunk->name, problem);
        for (auto& l : _legs) {
            if (l.confirmed) {
                send_bye(l._side);
            }
        }
        finish();  // releases the INVITE transactions too
        return;
    }
    complete_invite();
}

bool call::answer_challenge(const sip_t* sip, int status) {
    auto& inv = *_invite;
    const auto& b = leg(side::b);
    if (_state == state::cancelling) {
        return false;
    }
    const auto auth =
        _digest.answer(*b.trunk, sip, status, "INVITE", _outbound.ruri,
                       _offer ? std::string_view(*_offer) : std::string_view(), _auth_answers);
    if (auth.empty()) {
        return false;
    }
    // The challenged transaction is complete (nta acknowledged the 4xx); the
    // retry is a new INVITE on the same dialog-to-be: same Call-ID and From
    // tag, the next CSeq (RFC 3261 22.2). The caller has had its 100 Trying.
    adopt_invite(issue_invite(_offer, auth));
    return static_cast<bool>(inv.orq);
}

}  // namespace sbc::b2bua
