#include "sbc/b2bua/call.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "sbc/auth/digest.hpp"
#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/status_map.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/common/log.hpp"
#include "sbc/policy/header_filter.hpp"
#include "sbc/policy/header_rules.hpp"
#include "sbc/sdp/offer_builder.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/msg_ref.hpp"
#include "sbc/sofia/reply.hpp"
#include "transcoder/dtmf/info_body.hpp"

namespace sbc::b2bua {

namespace {

// The ACK of a 2xx to `invite` on `leg`: RFC 3261 13.2.2.4 gives it the
// INVITE's CSeq number. nta sends it and needs nothing more from us.
void ack_2xx(nta_leg_t* leg, nta_outgoing_t* invite, const std::string& contact = {},
             const std::string* sdp_body = nullptr) {
    const auto cseq = fmt::format("{} ACK", nta_outgoing_cseq(invite));
    nta_outgoing_t* ack = nta_outgoing_tcreate(
        leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr, SIPTAG_CSEQ_STR(cseq.c_str()),
        TAG_IF(!contact.empty(), SIPTAG_CONTACT_STR(contact.c_str())),
        TAG_IF(sdp_body, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(sdp_body, SIPTAG_PAYLOAD_STR(sdp_body ? sdp_body->c_str() : "")), TAG_END());
    nta_outgoing_destroy(ack);
}

// A BYE on `leg`; the transaction completes inside nta, nobody waits for it.
void bye(nta_leg_t* leg) {
    nta_outgoing_t* orq =
        nta_outgoing_tcreate(leg, nullptr, nullptr, nullptr, SIP_METHOD_BYE, nullptr, TAG_END());
    nta_outgoing_destroy(orq);
}

// `sdp` with its media two-way again: a=sendonly/recvonly/inactive lines
// become a=sendrecv (RFC 3264 8.4 hold undone).
std::string sendrecv(const std::string& sdp) {
    std::string out = sdp;
    for (std::string_view held : {"a=sendonly", "a=recvonly", "a=inactive"}) {
        for (auto at = out.find(held); at != std::string::npos; at = out.find(held, at)) {
            out.replace(at, held.size(), "a=sendrecv");
        }
    }
    return out;
}

constexpr log::logger sip_log{"sip"};

dataplane::srtp::suite data_plane_suite(config::srtp_suite s) {
    switch (s) {
        case config::srtp_suite::aes_cm_128_hmac_sha1_32:
            return dataplane::srtp::suite::aes_cm_128_hmac_sha1_32;
        case config::srtp_suite::aead_aes_128_gcm:
            return dataplane::srtp::suite::aead_aes_128_gcm;
        case config::srtp_suite::aead_aes_256_gcm:
            return dataplane::srtp::suite::aead_aes_256_gcm;
        case config::srtp_suite::aes_cm_128_hmac_sha1_80:
            break;
    }
    return dataplane::srtp::suite::aes_cm_128_hmac_sha1_80;
}

std::mt19937_64& rng() {
    static std::mt19937_64 engine{std::random_device{}()};
    return engine;
}

// A fresh Call-ID for the outbound leg: random, with nothing of the inbound
// one in it (RFC 5853 3.1; RFC 3261 8.1.1.4 asks for global uniqueness).
std::string new_call_id() { return fmt::format("{:016x}{:016x}", rng()(), rng()()); }

const char* phrase_for(int status) {
    const char* p = sip_status_phrase(status);
    return p != nullptr ? p : "Unknown";
}

// 488 to an offer the SBC cannot take, with a Warning saying why (RFC 3261
// 20.43: code 399, miscellaneous). `why` may quote what the peer sent.
void refuse_offer(nta_incoming_t* irq, const std::string& why) {
    const auto warning = sofia::warning_value("sbc", why);
    sofia::treply(irq, SIP_488_NOT_ACCEPTABLE, SIPTAG_WARNING_STR(warning.c_str()));
}

std::string_view body_of(const sip_t* sip) {
    if (sip == nullptr || sip->sip_payload == nullptr) {
        return {};
    }
    return {sip->sip_payload->pl_data, sip->sip_payload->pl_len};
}
}  // namespace

void refuse_delayed_offer(nta_incoming_t* irq, const config::trunk_config& to) {
    // RFC 3261 21.4.26 and 20.43: 488, with a Warning saying why.
    const auto warning = sofia::warning_value(
        "sbc", fmt::format("trunk {} requires an SDP offer in the INVITE", to.name));
    sip_log.info("INVITE without SDP towards trunk {} (early_offer: reject): 488", to.name);
    sofia::treply(irq, SIP_488_NOT_ACCEPTABLE, SIPTAG_WARNING_STR(warning.c_str()));
}

bool has_sdp(const sip_t* sip) noexcept {
    return sip != nullptr && sip->sip_payload != nullptr && sip->sip_payload->pl_len > 0 &&
           sip->sip_content_type != nullptr &&
           su_casematch(sip->sip_content_type->c_type, "application/sdp");
}

int call_leg::on_request(nta_leg_t* dialog, nta_incoming_t* irq, const sip_t* sip) {
    return _call.on_leg_request(*this, dialog, irq, sip);
}

call::call(b2bua& owner, std::uint64_t id, const config::trunk_config& from_trunk,
           const config::trunk_config& to_trunk)
    : _owner(owner),
      _id(id),
      _legs{call_leg(*this, side::a), call_leg(*this, side::b)},
      _created(std::chrono::steady_clock::now()),
      _state_since(_created) {
    _legs[0].trunk = &from_trunk;
    _legs[1].trunk = &to_trunk;
    for (auto& l : _legs) {
        l.sdp_session_id = rng()() >> 2;  // fits in the 63 bits RFC 4566 NTP-style ids use
        l.sdp_version = 1;
        l.sdes = std::make_unique<sdp::sdes_leg>(l.trunk->srtp, l.trunk->srtp_suites,
                                                 &dataplane::srtp::random_fill);
    }
}

call::~call() {
    for (auto* l : _retired) {
        if (l != nullptr) {
            nta_leg_destroy(l);
        }
    }
    for (const auto& sl : _slots) {
        _owner.release(*sl.trunk, sl.inbound);
    }
    release_transactions();
    for (auto& l : _legs) {
        if (l.nta != nullptr) {
            nta_leg_destroy(l.nta);
        }
    }
    if (_media_open) {
        _owner.media().close_session(_id);
    }
}

std::string call::display_id() const { return std::to_string(_id); }

const std::string& call::media_address(side s) const noexcept {
    const auto& l = _legs[dataplane::index(s)];
    return _owner.interface_named(l.trunk->interface).cfg().media_address;
}

const char* call::state_name() const noexcept {
    switch (_state) {
        case state::trying:
            return "trying";
        case state::early:
            return "early";
        case state::answered:
            return "answered";
        case state::established:
            return "established";
        case state::cancelling:
            return "cancelling";
        case state::terminated:
            return "terminated";
    }
    return "?";
}

void call::set_state(state s) noexcept {
    if (s != _state) {
        _state = s;
        _state_since = std::chrono::steady_clock::now();
    }
}

bool call::media_expected() const noexcept {
    for (const auto& l : _legs) {
        if (l.peer_hold_address || l.peer_direction != sdp::direction::sendrecv) {
            return false;
        }
    }
    return true;
}

int call::start(nta_incoming_t* irq, const sip_t* sip) {
    auto& a = leg(side::a);
    auto& b = leg(side::b);
    a.iface = &_owner.interface_named(a.trunk->interface);
    b.iface = &_owner.interface_named(b.trunk->interface);
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
    if (sip->sip_session_expires != nullptr) {
        _caller_session_expires = std::chrono::seconds(sip->sip_session_expires->x_delta);
        _caller_refresher =
            sip->sip_session_expires->x_refresher ? sip->sip_session_expires->x_refresher : "";
    }
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

    auto opened = _owner.media().open_session(_id, a.iface->cfg().media_address,
                                              b.iface->cfg().media_address);
    if (!opened.ok) {
        sip_log.error("call {}: no media ports: {}", display_id(), opened.error);
        return 503;
    }
    _media_open = true;
    _ports = opened.ports;

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
    nta_outgoing_t* orq = send_outbound_invite(sip, offer);
    if (orq == nullptr) {
        return 500;
    }
    _invite =
        invite_relay{side::a, irq, orq, true, false, offer.has_value(), convert, {}, {}, {}, 0};
    nta_incoming_bind(irq, sofia::transaction_trampoline, this);
    sofia::treply(irq, SIP_100_TRYING);
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
    auto built = offer_for(side::b);
    if (!built) {
        sip_log.error("call {}: cannot build an offer for trunk {}: {}", display_id(),
                      b.trunk->name, built.error_message());
        return make_error(built.error_message());
    }
    sip_log.info("call {}: delayed offer; the SBC offers on trunk {} (early_offer: convert)",
                 display_id(), b.trunk->name);
    return std::optional<std::string>(std::move(built.value()));
}

void call::set_route(const config::route_config* route,
                     std::vector<const config::trunk_config*> next_trunks,
                     policy::call_numbers numbers, cdr::record record,
                     const dataplane::ip_endpoint& source) {
    _source = source;
    _source_ip = source.address();
    _route = route;
    _next_trunks = std::move(next_trunks);
    _numbers = std::move(numbers);
    _cdr = std::move(record);
}

void call::note_end(cdr::party who, std::string why) {
    if (_cdr.disconnected_by == cdr::party::none) {
        _cdr.disconnected_by = who;
        _cdr.disconnect_reason = std::move(why);
    }
}

void call::write_cdr() {
    if (_cdr_written) {
        return;
    }
    _cdr_written = true;
    _cdr.end = cdr::wall_clock::now();
    _cdr.id = display_id();
    _cdr.to_trunk = leg(side::b).trunk->name;
    if (_invite && _invite->initial && _invite->irq != nullptr) {
        // Still pending: release_transactions() answers 500.
        const int st = nta_incoming_status(_invite->irq);
        _cdr.status = st >= 200 ? st : 500;
    } else if (_cdr.status == 0) {
        _cdr.status = _cdr.answer ? 200 : 500;
    }
    if (_cdr.reason.empty()) {
        const char* phrase = phrase_for(_cdr.status);
        _cdr.reason = phrase != nullptr ? phrase : "";
    }
    if (!_numbers_sent.ruri.empty() || !_numbers_sent.from.empty() || !_numbers_sent.to.empty()) {
        _cdr.sent = {_numbers_sent.ruri, _numbers_sent.from, _numbers_sent.to};
    }
    if (_cdr.disconnected_by == cdr::party::none) {
        _cdr.disconnected_by = cdr::party::sbc;
        _cdr.disconnect_reason = fmt::format("{} {}", _cdr.status, _cdr.reason);
    }
    if (auto st = _owner.media().stats(_id)) {
        for (auto s : {side::a, side::b}) {
            const auto& c = st->sides[dataplane::index(s)];
            auto& m = s == side::a ? _cdr.media_a : _cdr.media_b;
            m.codec = codec(s);
            m.packets_received = c.rtp_rx_packets + c.rtcp_rx_packets;
            m.bytes_received = c.rtp_rx_bytes;
            m.packets_sent = c.tx_packets;
            m.bytes_sent = c.tx_bytes;
            m.packets_dropped = c.drops_wrong_source + c.drops_no_destination + c.drops_tx_error +
                                c.drops_truncated + c.srtp_auth_failures + c.srtp_replays +
                                c.srtp_errors + c.drops_transcoded_rtcp;
        }
    }
    _owner.write_cdr(_cdr);
}

bool call::create_inbound_leg(nta_incoming_t* irq, const sip_t* sip) {
    auto& a = leg(side::a);
    a.nta = nta_leg_tcreate(a.iface->agent(), sofia::leg_trampoline, &a,
                            SIPTAG_CALL_ID(sip->sip_call_id), SIPTAG_FROM(sip->sip_to),
                            SIPTAG_TO(sip->sip_from), SIPTAG_CSEQ(sip->sip_cseq), TAG_END());
    if (a.nta == nullptr) {
        return false;
    }
    nta_leg_tag(a.nta, nullptr);
    nta_leg_server_route(a.nta, sip->sip_record_route, sip->sip_contact);
    nta_incoming_tag(irq, nta_leg_get_tag(a.nta));
    return true;
}

nta_outgoing_t* call::send_outbound_invite(const sip_t* sip,
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
    auto ruri =
        fmt::format("sip:{}{}{}:{}{}", ruser, ruser.empty() ? "" : "@", peer_host, peer.port,
                    peer.proto == config::transport::udp
                        ? ""
                        : fmt::format(";transport={}", transport_param(peer.proto)));
    // A registered callee: its Contact is the Request-URI, and the request
    // goes to the address it registered from (it may sit behind a NAT that
    // lets nothing else in).
    std::string next_hop;
    if (_registered) {
        next_hop = ruri;
        ruri = _registered->contact;
    }

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

    auto call_id = new_call_id();
    b.nta = nta_leg_tcreate(b.iface->agent(), sofia::leg_trampoline, &b,
                            SIPTAG_CALL_ID_STR(call_id.c_str()), SIPTAG_FROM_STR(from.c_str()),
                            SIPTAG_TO_STR(to.c_str()), TAG_END());
    if (b.nta == nullptr) {
        return nullptr;
    }
    nta_leg_tag(b.nta, nullptr);
    _numbers_sent = numbers;
    unsigned hops = sip->sip_max_forwards ? sip->sip_max_forwards->mf_count - 1 : 69;
    _outbound = {ruri, b.iface->contact(b.transport), std::to_string(hops), headers, next_hop};
    _auth_answers = 0;
    _callee_min_se = 0;
    return issue_invite(offer);
}

nta_outgoing_t* call::issue_invite(const std::optional<std::string>& offer,
                                   const sofia::authorization& auth) {
    auto& b = leg(side::b);
    const auto& o = _outbound;
    const unsigned expires = std::max(b.trunk->session_timer.expires, _callee_min_se);
    const unsigned min_se = _callee_min_se > 0 ? _callee_min_se : b.trunk->session_timer.min_se;
    nta_outgoing_t* orq = nta_outgoing_tcreate(
        b.nta, sofia::response_trampoline, this,
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
        TAG_IF(!o.headers.empty(), SIPTAG_HEADER_STR(o.headers.c_str())), TAG_END());
    if (orq == nullptr) {
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
    nta_outgoing_destroy(inv.orq);
    _auth_answers = 0;
    inv.orq = issue_invite(_offer);
    return inv.orq != nullptr;
}

bool call::answer_challenge(const sip_t* sip, int status) {
    auto& inv = *_invite;
    const auto& b = leg(side::b);
    if (sip == nullptr || !b.trunk->auth || _state == state::cancelling) {
        return false;
    }
    // RFC 3261 22.2/22.3: the retry carries the credentials header that
    // matches the challenge's.
    auto challenge = auth::choose_challenge(sofia::challenge_values(status, sip));
    if (!challenge) {
        sip_log.warn("call {}: trunk {} sent {} with no digest challenge the SBC can answer",
                     display_id(), b.trunk->name, status);
        return false;
    }
    // Credentials refused once: only a stale nonce (RFC 7616 3.3) earns another try.
    if (_auth_answers >= 2 || (_auth_answers == 1 && !challenge->stale)) {
        sip_log.warn("call {}: trunk {} refused the SBC's credentials ({})", display_id(),
                     b.trunk->name, status);
        return false;
    }
    if (challenge->nonce != _auth_nonce) {
        _auth_nonce = challenge->nonce;
        _auth_nc = 0;
    }
    const auto value = auth::authorization_value(
        *challenge, {b.trunk->auth->username, b.trunk->auth->password},
        {"INVITE", _outbound.ruri, _offer ? std::string_view(*_offer) : std::string_view()},
        ++_auth_nc, auth::make_cnonce());
    if (value.empty()) {
        return false;
    }
    ++_auth_answers;
    sip_log.info("call {}: trunk {} challenged ({}, realm {}); sending credentials", display_id(),
                 b.trunk->name, status, challenge->realm);
    // The challenged transaction is complete (nta acknowledged the 4xx); the
    // retry is a new INVITE on the same dialog-to-be: same Call-ID and From
    // tag, the next CSeq (RFC 3261 22.2). The caller has had its 100 Trying.
    nta_outgoing_destroy(inv.orq);
    inv.orq = issue_invite(_offer, {status, value});
    return inv.orq != nullptr;
}

result<sdp::session_description> call::accept_sdp(side from, const sip_t* sip, sdp_role role) {
    auto sd = sdp::session_description::parse(body_of(sip));
    if (!sd) {
        return make_error(sd.error_message());
    }
    auto& f = leg(from);
    const auto& target = sd->audio();
    auto crypto = sd->crypto_attributes();
    auto keyed = role == sdp_role::offer ? f.sdes->accept_offer(target.secure, crypto)
                                         : f.sdes->accept_answer(target.secure, crypto);
    if (!keyed) {
        return make_error(fmt::format("trunk {} (srtp: {}): {}", f.trunk->name,
                                      config::to_string(f.trunk->srtp), keyed.error_message()));
    }
    if (auto programmed = program_srtp(from); !programmed) {
        return make_error(programmed.error_message());
    }
    f.peer_formats = sdp::media_formats::of(*sd);
    f.peer_direction = target.dir;
    f.peer_hold_address = target.on_hold_address;
    if (!target.on_hold_address && !target.port_zero) {
        _owner.media().set_remote(_id, from, target.rtp, target.rtcp);
    }
    return sd;
}

result<bool> call::program_srtp(side s) {
    auto& l = leg(s);
    if (l.sdes->generation() == l.srtp_programmed) {
        return false;
    }
    const auto& keys = l.sdes->keys();
    std::unique_ptr<dataplane::srtp::stream_crypto> from_peer;
    std::unique_ptr<dataplane::srtp::stream_crypto> to_peer;
    if (keys) {
        auto suite = data_plane_suite(keys->suite);
        auto in = dataplane::srtp::stream_crypto::create(
            suite, keys->peer.bytes(), dataplane::srtp::stream_crypto::direction::unprotect);
        auto out = dataplane::srtp::stream_crypto::create(
            suite, keys->local.bytes(), dataplane::srtp::stream_crypto::direction::protect);
        if (!in || !out) {
            return make_error("cannot set up SRTP: " +
                              (!in ? in.error_message() : out.error_message()));
        }
        from_peer = std::make_unique<dataplane::srtp::stream_crypto>(std::move(in.value()));
        to_peer = std::make_unique<dataplane::srtp::stream_crypto>(std::move(out.value()));
        sip_log.info("call {}: leg {} is SRTP ({})", display_id(), s == side::a ? 'a' : 'b',
                     config::to_string(keys->suite));
    } else if (l.srtp_programmed != 0) {
        sip_log.info("call {}: leg {} is plain RTP again", display_id(), s == side::a ? 'a' : 'b');
    }
    _owner.media().set_srtp(_id, s, std::move(from_peer), std::move(to_peer));
    l.srtp_programmed = l.sdes->generation();
    return true;
}

result<std::string> call::translate_sdp(side from, const sip_t* sip, sdp_role in, sdp_role out) {
    auto sd = accept_sdp(from, sip, in);
    if (!sd) {
        return make_error(sd.error_message());
    }
    std::vector<sdp::format> formats;
    unsigned ptime = 0;
    if (in == out) {
        if (auto planned = plan_codecs(from, *sd, in, formats, ptime); !planned) {
            return make_error(planned.error_message());
        }
    } else {
        // A converted delayed offer (early_offer: convert): the SBC's own
        // offer was built from the trunk's codecs; its answer is relayed as
        // an offer and checked when the answer comes back. Relayed only.
        _pending_offer.reset();
    }
    return rewrite_for(dataplane::other(from), *sd, out, formats, ptime);
}

namespace {

// telephone-event is negotiated only on legs whose trunk carries digits as
// RFC 4733 events; an info or inband trunk's peers get none offered.
std::vector<config::codec> negotiable(const config::trunk_config& t) {
    auto out = t.codecs;
    if (t.dtmf != config::dtmf_mode::rfc4733) {
        std::erase(out, config::codec::telephone_event);
    }
    return out;
}

bool is_event(const sdp::format& f) {
    return sdp::trunk_codec(f) == config::codec::telephone_event;
}

bool is_audio(const sdp::format& f) {
    const auto c = sdp::trunk_codec(f);
    return c && *c != config::codec::telephone_event;
}

// A dynamic payload type no format of `formats` uses (RFC 3551 3: 96-127),
// 101 when free, as the SBC's own offers use it.
std::uint8_t free_payload_type(const std::vector<sdp::format>& formats) {
    auto used = [&](unsigned pt) {
        return std::any_of(formats.begin(), formats.end(),
                           [pt](const sdp::format& f) { return f.payload_type == pt; });
    };
    for (unsigned pt = 101; pt <= 127; ++pt) {
        if (!used(pt)) {
            return static_cast<std::uint8_t>(pt);
        }
    }
    for (unsigned pt = 96; pt < 101; ++pt) {
        if (!used(pt)) {
            return static_cast<std::uint8_t>(pt);
        }
    }
    return 101;
}

}  // namespace

result<bool> call::plan_codecs(side from, const sdp::session_description& sd, sdp_role role,
                               std::vector<sdp::format>& formats, unsigned& ptime) {
    const side to = dataplane::other(from);
    const auto& from_trunk = *leg(from).trunk;
    const auto& to_trunk = *leg(to).trunk;
    if (role == sdp_role::offer) {
        auto offer = sdp::media_formats::of(sd);
        auto plan = plan_offer_between(offer, from_trunk, to_trunk);
        if (!plan) {
            return make_error(plan.error_message());
        }
        formats = plan->formats;
        ptime = plan->ptime;
        _pending_offer = pending_offer{from, std::move(offer), std::move(plan.value())};
        return true;
    }
    if (!_pending_offer || _pending_offer->offerer != to) {
        // Nothing negotiated: the answer passes as it is, its numbers too,
        // so packets keep theirs.
        program_payload_types(sdp::answer_plan{}, to);
        return false;
    }
    const auto& pending = *_pending_offer;
    auto answer = sdp::media_formats::of(sd);
    auto plan = sdp::plan_answer(pending.offer, pending.plan.formats, answer, negotiable(to_trunk),
                                 sdp::registry_transcodes);
    if (!plan) {
        return make_error(plan.error_message());
    }
    if (plan->how == sdp::answer_plan::mode::relay && to_trunk.dtmf == config::dtmf_mode::rfc4733 &&
        std::none_of(plan->formats.begin(), plan->formats.end(), is_event)) {
        // The offerer takes events, the answerer's leg does not: the SBC
        // sends them, so the answer keeps the offerer's telephone-event.
        const auto& offered = pending.offer.formats;
        const auto te = std::find_if(offered.begin(), offered.end(), is_event);
        if (te != offered.end()) {
            plan->formats.push_back(*te);
        }
    }
    if (auto programmed = program_chains(*plan, to, answer); !programmed) {
        return make_error(programmed.error_message());
    }
    formats = plan->formats;
    ptime = plan->ptime;
    return true;
}

result<sdp::offer_plan> call::plan_offer_between(const sdp::media_formats& offer,
                                                 const config::trunk_config& from_trunk,
                                                 const config::trunk_config& to_trunk) {
    auto plan = sdp::plan_offer(offer, negotiable(from_trunk), negotiable(to_trunk),
                                sdp::registry_transcodes);
    if (!plan) {
        return plan;
    }
    auto to_codecs = negotiable(to_trunk);
    if (std::find(to_codecs.begin(), to_codecs.end(), config::codec::telephone_event) !=
            to_codecs.end() &&
        std::none_of(plan->formats.begin(), plan->formats.end(), is_event)) {
        // The offerer's digits come by INFO or as tones: the SBC turns
        // them into events for this leg, so it offers telephone-event
        // (RFC 4733 7.1.1) at the clock of the first codec's RTP clock.
        const auto first = std::find_if(plan->formats.begin(), plan->formats.end(), is_audio);
        const std::uint32_t clock =
            first != plan->formats.end() && first->clock_rate == 48000 ? 48000 : 8000;
        plan->formats.push_back(
            sdp::format{free_payload_type(plan->formats), "telephone-event", clock, 1, "0-16"});
    }
    if (plan->transcoding) {
        sip_log.info("call {}: no codec shared between trunks {} and {}: offering {}'s own",
                     display_id(), from_trunk.name, to_trunk.name, to_trunk.name);
    }
    return plan;
}

result<sdp::media_formats> call::formats_in_use(side s) {
    const auto& l = leg(s);
    auto ours = sdp::session_description::parse(l.last_sdp_sent);
    if (!ours) {
        return make_error(ours.error_message());
    }
    const auto kept = sdp::media_formats::of(*ours).formats;
    // The peer sends with its own numbers: its formats, as far as the SBC's
    // SDP on the leg has them too (RFC 3264 6.1: an answer narrows the offer).
    sdp::media_formats in_use = l.peer_formats;
    std::erase_if(in_use.formats, [&](const sdp::format& f) {
        return std::none_of(kept.begin(), kept.end(), [&](const sdp::format& k) {
            return su_casematch(k.encoding.c_str(), f.encoding.c_str()) &&
                   k.clock_rate == f.clock_rate;
        });
    });
    if (std::none_of(in_use.formats.begin(), in_use.formats.end(), is_audio)) {
        return make_error("no codec in use on the leg that stays");
    }
    return in_use;
}

namespace {

std::string describe(const sdp::format& f) {
    return fmt::format("{}/{}", f.encoding, f.clock_rate);
}

std::string describe(const sdp::chain_side& s) {
    return fmt::format("{}:{}:{}:{}:{}:{}", s.received_payload_type, s.sdp.payload_type,
                       describe(s.sdp), s.sdp.fmtp, s.ptime,
                       s.events ? fmt::format("{}/{}/{}", s.events->received_payload_type,
                                              s.events->payload_type, s.events->clock_rate)
                                : "-");
}

// One side of a relayed stream that needs a chain for DTMF alone: the first
// audio format and the telephone-event of what that side's SDP negotiated.
std::optional<sdp::chain_side> relayed_side(const std::vector<sdp::format>& formats,
                                            unsigned ptime) {
    const auto audio = std::find_if(formats.begin(), formats.end(), is_audio);
    if (audio == formats.end()) {
        return std::nullopt;
    }
    sdp::chain_side s;
    s.sdp = *audio;
    s.ptime = ptime != 0 ? ptime : 20;
    s.audio = sdp::to_audio_format(*audio, s.ptime);
    s.received_payload_type = audio->payload_type;
    const auto te = std::find_if(formats.begin(), formats.end(), is_event);
    if (te != formats.end()) {
        s.events = sdp::event_format{te->payload_type, te->payload_type, te->clock_rate};
    }
    return s;
}

transcoder::dtmf_mode chain_dtmf(config::dtmf_mode m) {
    switch (m) {
        case config::dtmf_mode::info:
            return transcoder::dtmf_mode::info;
        case config::dtmf_mode::inband:
            return transcoder::dtmf_mode::inband;
        case config::dtmf_mode::rfc4733:
            break;
    }
    return transcoder::dtmf_mode::rfc4733;
}

// One direction of a transcoded stream: what `from` sends, as `to` takes it.
transcoder::chain_config chain_between(const sdp::chain_side& from, config::dtmf_mode from_dtmf,
                                       const sdp::chain_side& to, config::dtmf_mode to_dtmf) {
    transcoder::chain_config c;
    c.in.audio = from.audio;
    c.in.audio.payload_type = from.received_payload_type;
    c.in.dtmf = chain_dtmf(from_dtmf);
    if (from.events) {
        c.in.event_payload_type = from.events->received_payload_type;
        c.in.event_clock_rate = from.events->clock_rate;
    }
    c.out.audio = to.audio;
    c.out.audio.payload_type = to.sdp.payload_type;
    c.out.dtmf = chain_dtmf(to_dtmf);
    if (to.events) {
        c.out.event_payload_type = to.events->payload_type;
        c.out.event_clock_rate = to.events->clock_rate;
    }
    // RFC 3550 5.1, 8.1: the SBC is a new source on that leg; random
    // initial sequence number and timestamp, a random SSRC.
    c.origin = transcoder::output_origin{static_cast<std::uint32_t>(rng()()),
                                         static_cast<std::uint16_t>(rng()()),
                                         static_cast<std::uint32_t>(rng()())};
    return c;
}

std::string describe(const dataplane::payload_type_map& m) {
    std::string out;
    for (std::size_t i = 0; i < m.count; ++i) {
        out += fmt::format("{}{}->{}", out.empty() ? "" : " ", m.entries[i].from, m.entries[i].to);
    }
    return out.empty() ? "none" : out;
}

}  // namespace

void call::program_payload_types(const sdp::answer_plan& plan, side offerer) {
    // RFC 3264 6.1: an answerer may renumber a codec; each peer receives
    // with the numbers of its own SDP. The plan's A is the offerer. Codec
    // chains send with each side's numbers already.
    const side answerer = dataplane::other(offerer);
    std::array<dataplane::payload_type_map, 2> maps{};
    if (plan.how == sdp::answer_plan::mode::relay) {
        for (const auto& c : plan.a_to_b) {
            maps[dataplane::index(answerer)].add(c.a, c.b);
        }
        for (const auto& c : plan.b_to_a) {
            maps[dataplane::index(offerer)].add(c.b, c.a);
        }
    }
    for (auto s : {offerer, answerer}) {
        auto& now = _payload_types[dataplane::index(s)];
        const auto& next = maps[dataplane::index(s)];
        if (next == now) {
            continue;
        }
        _owner.media().set_payload_types(_id, s, next);
        now = next;
        sip_log.debug("call {}: payload types to trunk {} renumbered: {}", display_id(),
                      leg(s).trunk->name, describe(next));
    }
}

result<bool> call::program_chains(const sdp::answer_plan& plan, side offerer,
                                  const sdp::media_formats& answer) {
    const side answerer = dataplane::other(offerer);
    auto& o = leg(offerer);
    auto& a = leg(answerer);
    const bool transcode = plan.how == sdp::answer_plan::mode::transcode;
    program_payload_types(plan, offerer);
    std::optional<sdp::chain_side> os;
    std::optional<sdp::chain_side> as;
    if (transcode) {
        os = plan.side_a;
        as = plan.side_b;
    } else {
        const auto first_audio = std::find_if(plan.formats.begin(), plan.formats.end(), is_audio);
        o.codec = a.codec = first_audio != plan.formats.end() ? describe(*first_audio) : "";
        o.ptime = a.ptime = 0;
        if (o.trunk->dtmf != a.trunk->dtmf) {
            // Same codec, different DTMF: a chain each way carries the
            // digits across (the audio passes untouched where it can).
            os = relayed_side(plan.formats, _pending_offer ? _pending_offer->offer.ptime : 0);
            as = relayed_side(answer.formats, answer.ptime);
        }
    }
    if (!os || !as) {
        if (_transcoding) {
            sip_log.info("call {}: media relayed untouched", display_id());
            _owner.media().set_chain(_id, side::a, nullptr);
            _owner.media().set_chain(_id, side::b, nullptr);
            _transcoding.reset();
        }
        return true;
    }
    if (_transcoding && _transcoding->offerer == offerer &&
        describe(_transcoding->offerer_side) == describe(*os) &&
        describe(_transcoding->answerer_side) == describe(*as)) {
        return true;  // the same answer again (183, then 200): the chains stand
    }
    auto to_answerer =
        transcoder::media_chain::make(chain_between(*os, o.trunk->dtmf, *as, a.trunk->dtmf));
    auto to_offerer =
        transcoder::media_chain::make(chain_between(*as, a.trunk->dtmf, *os, o.trunk->dtmf));
    if (!to_answerer || !to_offerer) {
        const auto& why = !to_answerer ? to_answerer.error_message() : to_offerer.error_message();
        if (!transcode) {
            // Digits cannot be converted for this codec; the call still works.
            sip_log.warn("call {}: no DTMF conversion between trunks {} and {}: {}", display_id(),
                         o.trunk->name, a.trunk->name, why);
            return true;
        }
        return make_error(fmt::format("cannot transcode {} <-> {}: {}", describe(os->sdp),
                                      describe(as->sdp), why));
    }
    _owner.media().set_chain(_id, offerer, std::move(to_answerer).value());
    _owner.media().set_chain(_id, answerer, std::move(to_offerer).value());
    _transcoding = transcoding{offerer, *os, *as, transcode};
    if (transcode) {
        o.codec = describe(os->sdp);
        o.ptime = os->ptime;
        a.codec = describe(as->sdp);
        a.ptime = as->ptime;
        sip_log.info("call {}: transcoding {} (trunk {}, {} ms) <-> {} (trunk {}, {} ms)",
                     display_id(), o.codec, o.trunk->name, o.ptime, a.codec, a.trunk->name,
                     a.ptime);
    } else {
        sip_log.info("call {}: DTMF converted between trunk {} ({}) and trunk {} ({})",
                     display_id(), o.trunk->name, config::to_string(o.trunk->dtmf), a.trunk->name,
                     config::to_string(a.trunk->dtmf));
    }
    return true;
}

void call::on_media_dtmf(side from, char digit, std::uint32_t duration_ms) {
    auto& to = leg(dataplane::other(from));
    if (!to.confirmed || to.nta == nullptr) {
        return;
    }
    // The de facto format of SIP INFO DTMF (application/dtmf-relay: Signal
    // and Duration lines), as PBXs and carriers send and take it.
    const auto body = transcoder::dtmf::format_dtmf_relay(digit, duration_ms);
    if (body.empty()) {
        return;
    }
    request_relay r{.irq = nullptr,
                    .orq = nullptr,
                    .to = to._side,
                    .method_id = sip_method_info,
                    .method = "INFO",
                    .content_type = "application/dtmf-relay",
                    .body = body,
                    .headers = {},
                    .auth_answers = 0};
    r.orq = send_relayed(r);
    if (r.orq == nullptr) {
        sip_log.warn("call {}: cannot send INFO for DTMF {} to trunk {}", display_id(), digit,
                     to.trunk->name);
        return;
    }
    sip_log.info("call {}: DTMF {} ({} ms) to trunk {} as INFO", display_id(), digit, duration_ms,
                 to.trunk->name);
    _relays.push_back(std::move(r));
}

result<std::string> call::rewrite_for(side to, const sdp::session_description& sd, sdp_role role,
                                      const std::vector<sdp::format>& formats, unsigned ptime) {
    auto& l = leg(to);
    sdp::rewrite_params p{l.iface->cfg().media_address, _ports.rtp[dataplane::index(to)],
                          l.sdp_session_id, l.sdp_version};
    p.formats = formats;
    p.ptime = ptime;
    if (role == sdp_role::offer) {
        auto offered = l.sdes->make_offer();
        if (!offered) {
            return make_error(offered.error_message());
        }
        p.secure = offered->secure_profile;
        p.crypto = std::move(offered->crypto);
    } else {
        // The leg's own offer is answered now: its keys come into force
        // (sdes_leg::accept_offer), so the data plane switches with the answer.
        auto answered = l.sdes->answer();
        if (auto programmed = program_srtp(to); !programmed) {
            return make_error(programmed.error_message());
        }
        p.secure = answered.secure_profile;
        p.crypto = std::move(answered.crypto);
    }
    auto out = sd.rewrite(p);
    // RFC 3264 8: a changed SDP carries a higher o= version; an unchanged one the same.
    if (!l.last_sdp_sent.empty() && out != l.last_sdp_sent) {
        p.origin_version = ++l.sdp_version;
        out = sd.rewrite(p);
    }
    l.last_sdp_sent = out;
    return out;
}

sdp_role call::response_role_in() const noexcept {
    return _invite->offered ? sdp_role::answer : sdp_role::offer;
}

sdp_role call::response_role_out() const noexcept {
    // A converted delayed offer: the SBC's answer from the callee comes
    // back to the caller as the SBC's offer in the 2xx (RFC 3264 5).
    return _invite->converted ? sdp_role::offer : response_role_in();
}

namespace {
// RFC 3262 3: nta answers a PRACK for our reliable response with this status.
int accept_prack(nta_reliable_magic_t*, nta_reliable_t*, nta_incoming_t*, const sip_t*) {
    return 200;
}
}  // namespace

std::string call::settle_caller_timer() {
    auto& a = leg(side::a);
    if (_caller_session_expires.count() == 0) {
        return {};
    }
    // RFC 4028 9: the UAS keeps the refresher the UAC named; when it named
    // none, the caller refreshes if it can, else the SBC does.
    bool caller_refreshes =
        _caller_refresher == "uac" || (_caller_refresher.empty() && a.peer_timer);
    if (_caller_refresher == "uas") {
        caller_refreshes = false;
    }
    call_leg::session_timer t;
    t.interval = _caller_session_expires;
    t.we_refresh = !caller_refreshes;
    t.last_refresh = std::chrono::steady_clock::now();
    a.timer = t;
    sip_log.info("call {}: leg a session timer {} s, refreshed by {}", display_id(),
                 t.interval.count(), caller_refreshes ? "the caller" : "the SBC");
    std::string lines = fmt::format("Session-Expires: {};refresher={}\r\n", t.interval.count(),
                                    caller_refreshes ? "uac" : "uas");
    if (a.peer_timer) {
        lines += "Require: timer\r\n";  // RFC 4028 9
    }
    return lines;
}

void call::settle_callee_timer(const sip_t* sip) {
    auto& b = leg(side::b);
    if (sip == nullptr || sip->sip_session_expires == nullptr) {
        return;  // RFC 4028 7.2: the callee runs no session timer
    }
    call_leg::session_timer t;
    t.interval = std::chrono::seconds(sip->sip_session_expires->x_delta);
    // On leg b the SBC is the UAC.
    t.we_refresh = sip->sip_session_expires->x_refresher == nullptr ||
                   su_casematch(sip->sip_session_expires->x_refresher, "uac");
    t.last_refresh = std::chrono::steady_clock::now();
    if (t.interval.count() == 0) {
        return;
    }
    b.timer = t;
    b.peer_timer = true;
    sip_log.info("call {}: leg b session timer {} s, refreshed by {}", display_id(),
                 t.interval.count(), t.we_refresh ? "the SBC" : "the callee");
}

std::string call::session_expires_value(const call_leg& l, bool uac) {
    const bool we = l.timer->we_refresh;
    return fmt::format("{};refresher={}", l.timer->interval.count(), we == uac ? "uac" : "uas");
}

void call::send_refresh(side s, const sofia::authorization& auth) {
    auto& l = leg(s);
    const auto value = session_expires_value(l, true);
    l.timer->update = nta_outgoing_tcreate(
        l.nta, sofia::response_trampoline, this, nullptr, SIP_METHOD_UPDATE, nullptr,
        SIPTAG_SUPPORTED_STR(supported_extensions), SIPTAG_SESSION_EXPIRES_STR(value.c_str()),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())), TAG_END());
    if (l.timer->update == nullptr) {
        hang_up(s == side::a ? "session refresh failed on leg a"
                             : "session refresh failed on leg b");
    }
}

void call::check_session_timers(std::chrono::steady_clock::time_point now) {
    if (_state != state::established) {
        return;
    }
    for (auto& l : _legs) {
        if (!l.timer || finished()) {
            continue;
        }
        const auto& t = *l.timer;
        if (t.we_refresh) {
            if (t.update == nullptr && !_reoffer && now - t.last_refresh >= t.interval / 2) {
                if (t.no_update) {
                    reoffer(l._side);  // RFC 4028 9: a re-INVITE refreshes as well
                } else {
                    send_refresh(l._side);
                }
            }
            continue;
        }
        // RFC 4028 10: without a refresh the session ends
        // min(32, interval / 3) seconds before it would expire.
        const auto margin = std::min(std::chrono::seconds(32), t.interval / 3);
        if (now - t.last_refresh >= t.interval - margin) {
            hang_up(l._side == side::a ? "session timer expired on leg a"
                                       : "session timer expired on leg b");
        }
    }
}

namespace {
// `sdp` with the version of its o= line (RFC 4566 5.2) replaced: within a
// dialog the session id stays and the version grows (RFC 3264 8).
std::string with_origin_version(const std::string& sdp, std::uint64_t version) {
    const auto o = sdp.find("o=");
    if (o == std::string::npos) {
        return sdp;
    }
    const auto end = sdp.find_first_of("\r\n", o);
    std::string line = sdp.substr(o, end - o);
    // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
    const auto id_at = line.find(' ');
    const auto version_at = id_at == std::string::npos ? id_at : line.find(' ', id_at + 1);
    const auto version_end =
        version_at == std::string::npos ? version_at : line.find(' ', version_at + 1);
    if (version_end == std::string::npos) {
        return sdp;
    }
    line.replace(version_at + 1, version_end - version_at - 1, std::to_string(version));
    return sdp.substr(0, o) + line + (end == std::string::npos ? "" : sdp.substr(end));
}
}  // namespace

int call::on_refer(call_leg& from, nta_incoming_t* irq, const sip_t* sip) {
    if (from.trunk->refer != config::refer_policy::handle) {
        sofia::treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(allow_for(*from.trunk)));
        return 0;
    }
    if (_state != state::established || _invite || _transfer || _reoffer || _update) {
        return 491;  // RFC 3261 14.1 by analogy: something is already under way
    }
    const sip_refer_to_t* to = sip->sip_refer_to;
    if (to != nullptr && to->r_url->url_headers != nullptr) {
        auto replaces = replaces_in_uri_headers(to->r_url->url_headers);
        if (!replaces) {
            const auto warning = fmt::format("399 sbc \"{}\"", replaces.error_message());
            sofia::treply(irq, 400, "Bad Replaces in Refer-To",
                          SIPTAG_WARNING_STR(warning.c_str()));
            return 0;
        }
        if (*replaces) {
            return on_attended_refer(from, irq, **replaces);
        }
    }
    if (to == nullptr || to->r_url->url_user == nullptr) {
        sofia::treply(irq, 400, "Refer-To with a user required");
        return 0;
    }
    const side referee = dataplane::other(from._side);
    const auto& numbers = referee == side::a ? _numbers : _numbers_sent;
    const std::string referee_user = referee == side::a ? numbers.from : numbers.ruri;
    auto target = _owner.route_transfer(*from.trunk, to->r_url->url_user, referee_user);
    if (target.trunk == nullptr) {
        sip_log.info("call {}: REFER to {} from leg {}: no route ({})", display_id(),
                     to->r_url->url_user, from._side == side::a ? 'a' : 'b', target.status);
        return target.status;
    }
    // The target takes the referrer's side of the media session, with the
    // codecs the SBC offered there; SRTP is the target trunk's own, and a
    // target behind another interface gets that side moved to it.
    if (from.last_sdp_sent.empty()) {
        refuse_offer(irq, "the referrer's leg has no media session to hand over");
        return 0;
    }
    auto& via = _owner.interface_named(target.trunk->interface);
    auto peer_index = _owner.choose_peer(*target.trunk, {});
    if (!peer_index) {
        return 503;
    }
    // The target's trunk counts the new call against its outbound limits.
    if (auto admitted = _owner.admit(*target.trunk, false); !admitted) {
        const auto retry = std::to_string(admitted.retry_after);
        sofia::treply(irq, SIP_503_SERVICE_UNAVAILABLE, SIPTAG_RETRY_AFTER_STR(retry.c_str()));
        return 0;
    }
    _slots.push_back({target.trunk, false});
    const auto& peer = target.trunk->peers[*peer_index];
    const auto peer_host = uri_host(peer.host);
    const auto egress = _owner.normalizer(*target.trunk).outbound;
    const auto callee = egress.apply(config::field_ruri, target.user);
    const auto caller = egress.apply(config::field_from, referee_user);
    const auto ruri = fmt::format("sip:{}@{}:{}{}", callee, peer_host, peer.port,
                                  peer.proto == config::transport::udp
                                      ? ""
                                      : fmt::format(";transport={}", transport_param(peer.proto)));
    const auto from_hdr = fmt::format("<sip:{}@{}>", caller, via.host());
    const auto to_hdr = fmt::format("<sip:{}@{}>", callee, peer_host);
    const auto call_id = new_call_id();
    transfer t;
    t.referrer = from._side;
    t.trunk = target.trunk;
    t.transport = peer.proto;
    t.peer = *peer_index;
    t.slot_inbound = false;
    t.sdp_session_id = from.sdp_session_id;
    t.sdp_version = from.sdp_version;
    t.iface = &via;
    t.sdes = std::make_unique<sdp::sdes_leg>(target.trunk->srtp, target.trunk->srtp_suites,
                                             &dataplane::srtp::random_fill);
    // Every way out below gives back the admission slot and a prepared move.
    auto give_up = [&] {
        _owner.media().cancel_side_move(_id, from._side);
        _pending_offer.reset();
        release_slot(target.trunk, false);
        return 500;
    };
    if (auto offer = transfer_offer(from._side, via, *target.trunk, *t.sdes, t.sdp_session_id,
                                    t.sdp_version, t.media_port)) {
        t.offer = std::move(offer.value());
    } else {
        sip_log.warn("call {}: no offer for the transfer target: {}", display_id(),
                     offer.error_message());
        return give_up();
    }
    // In-dialog requests of the new dialog reach the referrer's leg object,
    // which the new dialog replaces.
    t.leg = nta_leg_tcreate(via.agent(), sofia::leg_trampoline, &from,
                            SIPTAG_CALL_ID_STR(call_id.c_str()), SIPTAG_FROM_STR(from_hdr.c_str()),
                            SIPTAG_TO_STR(to_hdr.c_str()), TAG_END());
    if (t.leg == nullptr) {
        return give_up();
    }
    nta_leg_tag(t.leg, nullptr);
    const auto contact = via.contact(peer.proto);
    t.invite = nta_outgoing_tcreate(
        t.leg, sofia::response_trampoline, this, nullptr, SIP_METHOD_INVITE,
        URL_STRING_MAKE(ruri.c_str()), SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_ALLOW_STR(allow_for(*target.trunk)), SIPTAG_SUPPORTED_STR("timer"),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(t.offer.c_str()), TAG_END());
    if (t.invite == nullptr) {
        nta_leg_destroy(t.leg);
        return give_up();
    }
    sip_log.info("call {}: leg {} transfers to {} on trunk {} (REFER handled by the SBC)",
                 display_id(), from._side == side::a ? 'a' : 'b', callee, target.trunk->name);
    _transfer = std::move(t);
    // RFC 3515 2.4.2: accept, then report progress in NOTIFYs.
    sofia::treply(irq, SIP_202_ACCEPTED);
    notify_referrer(from.nta, 100, false);
    return 0;
}

std::optional<call::replacement> call::replacement_for(side s) {
    const side far_side = dataplane::other(s);
    auto& far = leg(far_side);
    if (_state != state::established || !far.confirmed || far.nta == nullptr || !leg(s).confirmed) {
        return std::nullopt;
    }
    replacement r;
    r.trunk = far.trunk;
    r.target.transport = far.transport;
    // RFC 3261 12.2.1.1: requests of the far end's dialog go to its remote
    // target; a new INVITE meant to replace that dialog goes there too.
    r.target.contact = sofia::remote_target(far.nta);
    c_handle<su_home_t, su_home_unref> home(
        static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    if (r.target.contact.empty() || !home) {
        return std::nullopt;
    }
    // It leaves for the address the far end's requests already go to.
    if (far_side == side::a) {
        r.target.source = _source;
    } else if (_registered) {
        r.target.source = _registered->source;
    } else if (far.peer < far.trunk->peers.size()) {
        const auto& peer = far.trunk->peers[far.peer];
        auto at = dataplane::ip_endpoint::from_string(peer.host, peer.port);
        if (!at) {
            return std::nullopt;
        }
        r.target.source = *at;
    } else {
        return std::nullopt;  // a dialog a transfer brought from a registered contact
    }
    // RFC 3891 3: the recipient compares to-tag with its own tag, so the
    // value names the dialog as the far end sees it.
    const sip_replaces_t* rp = nta_leg_make_replaces(far.nta, home.get(), 0);
    if (rp == nullptr || rp->rp_call_id == nullptr) {
        return std::nullopt;
    }
    r.replaces = fmt::format("{};to-tag={};from-tag={}", rp->rp_call_id,
                             rp->rp_to_tag != nullptr ? rp->rp_to_tag : "0",
                             rp->rp_from_tag != nullptr ? rp->rp_from_tag : "0");
    return r;
}

bool call::can_hand_over(side s) const noexcept {
    const auto& l = _legs[dataplane::index(s)];
    return _state == state::established && !_invite && !_transfer && !_reoffer && !_update &&
           l.confirmed && l.nta != nullptr && !(l.timer && l.timer->update != nullptr);
}

call::handed_dialog call::hand_over(side s) {
    auto& l = leg(s);
    handed_dialog h;
    h.nta = l.nta;
    h.iface = l.iface;
    h.trunk = l.trunk;
    h.transport = l.transport;
    h.peer = l.peer;
    h.sdp_session_id = l.sdp_session_id;
    h.sdp_version = l.sdp_version;
    h.peer_100rel = l.peer_100rel;
    h.peer_timer = l.peer_timer;
    h.timer = l.timer;
    h.codec = l.codec;
    h.ptime = l.ptime;
    const bool inbound = s == side::a;
    for (auto it = _slots.begin(); it != _slots.end(); ++it) {
        if (it->trunk == l.trunk && it->inbound == inbound) {
            h.slot_inbound = inbound;  // it moves, unreleased, with the dialog
            _slots.erase(it);
            break;
        }
    }
    l.nta = nullptr;
    l.confirmed = false;
    l.timer.reset();
    return h;
}

int call::on_attended_refer(call_leg& from, nta_incoming_t* irq, const dialog_ref& replaces) {
    call_leg* replaced = _owner.leg_of_dialog(replaces);
    if (replaced == nullptr || &replaced->_call == this || replaces.early_only) {
        // The outcome an INVITE with this Replaces would have had (RFC 3891
        // 3): 481 for a dialog that is not there, 486 for early-only
        // naming a confirmed one. The REFER itself was fine (RFC 3515 2.4.4).
        const int status = replaced != nullptr && replaces.early_only ? 486 : 481;
        sip_log.info("call {}: attended transfer names dialog {} ({}): {}", display_id(),
                     replaces.call_id, replaced == nullptr ? "not ours" : "not replaceable",
                     status);
        sofia::treply(irq, SIP_202_ACCEPTED);
        notify_referrer(from.nta, status, true);
        return 0;
    }
    call& other = replaced->_call;
    const side target = dataplane::other(replaced->_side);
    if (!other.can_hand_over(target)) {
        return 491;  // the other call has something under way
    }
    // Both far ends meet in this call's media session: the target takes the
    // referrer's side (moved to the target's interface if need be).
    const auto& joining = other.leg(target);
    if (from.last_sdp_sent.empty()) {
        refuse_offer(irq, "the referrer's leg has no media session to hand over");
        return 0;
    }
    // The far end is re-keyed in the re-INVITE (RFC 4568 7.1.4 allows it):
    // the keys it had with the other call's session go with that session.
    auto sdes = std::make_unique<sdp::sdes_leg>(joining.trunk->srtp, joining.trunk->srtp_suites,
                                                &dataplane::srtp::random_fill);
    std::uint16_t media_port = 0;
    auto offer = transfer_offer(from._side, *joining.iface, *joining.trunk, *sdes,
                                joining.sdp_session_id, joining.sdp_version + 1, media_port);
    if (!offer) {
        sip_log.warn("call {}: no offer for the attended transfer: {}", display_id(),
                     offer.error_message());
        _owner.media().cancel_side_move(_id, from._side);
        return 500;
    }
    auto handed = other.hand_over(target);
    // In-dialog requests of the taken dialog now reach the referrer's leg
    // object, which it replaces once it answers.
    nta_leg_bind(handed.nta, sofia::leg_trampoline, &from);
    if (handed.slot_inbound) {
        _slots.push_back({handed.trunk, *handed.slot_inbound});
    }
    transfer t;
    t.attended = true;
    t.referrer = from._side;
    t.iface = handed.iface;
    t.media_port = media_port;
    t.leg = handed.nta;
    t.trunk = handed.trunk;
    t.transport = handed.transport;
    t.peer = handed.peer;
    t.slot_inbound = handed.slot_inbound;
    t.timer = handed.timer;
    t.peer_100rel = handed.peer_100rel;
    t.peer_timer = handed.peer_timer;
    t.sdp_session_id = handed.sdp_session_id;
    t.sdp_version = handed.sdp_version + 1;
    t.sdes = std::move(sdes);
    t.offer = std::move(offer.value());
    // RFC 4028 8.1: a re-INVITE restates the dialog's session timer.
    const auto expires = t.timer ? fmt::format("{};refresher={}", t.timer->interval.count(),
                                               t.timer->we_refresh ? "uac" : "uas")
                                 : std::string();
    const auto contact = t.iface->contact(t.transport);
    t.invite = nta_outgoing_tcreate(
        t.leg, sofia::response_trampoline, this, nullptr, SIP_METHOD_INVITE, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_ALLOW_STR(allow_for(*t.trunk)),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(t.offer.c_str()), TAG_END());
    _transfer = std::move(t);
    if (_transfer->invite == nullptr) {
        drop_transfer(true);
        other.hang_up("replaced by an attended transfer");
        return 500;
    }
    sip_log.info("call {}: leg {} joins call {}'s far end on trunk {} (attended transfer)",
                 display_id(), from._side == side::a ? 'a' : 'b', other.display_id(),
                 handed.trunk->name);
    sofia::treply(irq, SIP_202_ACCEPTED);
    notify_referrer(from.nta, 100, false);
    // The referrer's consultation dialog ends as RFC 5589 7.3 has the
    // target end it: with a BYE, once the transfer was accepted.
    other.hang_up("replaced by an attended transfer");
    return 0;
}

void call::drop_transfer(bool dialog_up) {
    auto& t = *_transfer;
    if (t.invite != nullptr) {
        if (nta_outgoing_status(t.invite) < 200) {
            // A ringing target must stop ringing (RFC 3261 9.1); nta
            // acknowledges and ends a 2xx that crosses the CANCEL.
            nta_outgoing_cancel(t.invite);
        }
        nta_outgoing_destroy(t.invite);
    }
    if (dialog_up) {
        bye(t.leg);
    }
    _owner.media().cancel_side_move(_id, t.referrer);
    _pending_offer.reset();
    _retired.push_back(t.leg);
    if (t.slot_inbound) {
        release_slot(t.trunk, *t.slot_inbound);
    }
    _transfer.reset();
}

void call::release_slot(const config::trunk_config* trunk, bool inbound) {
    for (auto it = _slots.begin(); it != _slots.end(); ++it) {
        if (it->trunk == trunk && it->inbound == inbound) {
            _owner.release(*trunk, inbound);
            _slots.erase(it);
            return;
        }
    }
}

void call::reoffer(side s) {
    auto& l = leg(s);
    if (l.last_sdp_sent.empty() || _invite || _reoffer || _update || !l.confirmed) {
        return;
    }
    l.sdp_version += 1;
    l.last_sdp_sent = with_origin_version(sendrecv(l.last_sdp_sent), l.sdp_version);
    const auto contact = l.iface->contact(l.transport);
    const auto expires = l.timer ? session_expires_value(l, true) : std::string();
    auto* orq = nta_outgoing_tcreate(
        l.nta, sofia::response_trampoline, this, nullptr, SIP_METHOD_INVITE, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_ALLOW_STR(allow_for(*l.trunk)),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(l.last_sdp_sent.c_str()),
        TAG_END());
    if (orq != nullptr) {
        _reoffer = own_reinvite{s, orq};
    }
}

void call::on_reoffer_response(const sip_t* sip, int status) {
    if (status < 200) {
        return;
    }
    const side s = _reoffer->to;
    auto& l = leg(s);
    if (status < 300) {
        ack_2xx(l.nta, _reoffer->orq);
        if (l.timer) {
            l.timer->last_refresh = std::chrono::steady_clock::now();
        }
        if (has_sdp(sip)) {
            if (auto sd = accept_sdp(s, sip, sdp_role::answer); !sd) {
                sip_log.warn("call {}: answer to the SBC's re-INVITE unusable: {}", display_id(),
                             sd.error_message());
            }
        }
    } else {
        sip_log.info("call {}: leg {} answered the SBC's re-INVITE with {}; media unchanged",
                     display_id(), s == side::a ? 'a' : 'b', status);
    }
    nta_outgoing_destroy(_reoffer->orq);
    _reoffer.reset();
    if (l.timer && l.timer->we_refresh && (status == 408 || status == 481)) {
        // RFC 4028 10: the refresh failed; the session is over.
        hang_up(s == side::a ? "session refresh failed on leg a"
                             : "session refresh failed on leg b");
    }
}

result<std::string> call::transfer_offer(side referrer, const sip_interface& via,
                                         const config::trunk_config& target, sdp::sdes_leg& sdes,
                                         std::uint64_t session_id, std::uint64_t version,
                                         std::uint16_t& port) {
    const auto& l = leg(referrer);
    auto sd = sdp::session_description::parse(l.last_sdp_sent);
    if (!sd) {
        return make_error(sd.error_message());
    }
    const side stays = dataplane::other(referrer);
    auto in_use = formats_in_use(stays);
    if (!in_use) {
        return make_error(in_use.error_message());
    }
    auto plan = plan_offer_between(*in_use, *leg(stays).trunk, target);
    if (!plan) {
        return make_error(plan.error_message());
    }
    port = _ports.rtp[dataplane::index(referrer)];
    if (&via != l.iface) {
        // Media the target sends must arrive where it can reach: a pair on
        // its own interface, which the referrer's side moves to only once
        // the target answers (until then the referrer's media goes on).
        auto moved = _owner.media().prepare_side_move(_id, referrer, via.cfg().media_address);
        if (!moved.ok) {
            return make_error(moved.error);
        }
        port = moved.ports.rtp[dataplane::index(referrer)];
    }
    sdp::rewrite_params p{via.cfg().media_address, port, session_id, version};
    p.formats = plan->formats;
    p.ptime = plan->ptime;
    auto offered = sdes.make_offer();
    if (!offered) {
        return make_error(offered.error_message());
    }
    p.secure = offered->secure_profile;
    p.crypto = std::move(offered->crypto);
    // The target's answer is planned against the party that stays, as the
    // answer to that party's offer would be (plan_codecs).
    _pending_offer = pending_offer{stays, std::move(in_use.value()), std::move(plan.value())};
    // Transfers usually follow a hold: the new session starts two-way.
    return sendrecv(sd->rewrite(p));
}

void call::notify_referrer(nta_leg_t* dialog, int status, bool final) {
    const auto body = fmt::format("SIP/2.0 {} {}\r\n", status, phrase_for(status));
    nta_outgoing_t* orq = nta_outgoing_tcreate(
        dialog, sofia::response_trampoline, this, nullptr, SIP_METHOD_NOTIFY, nullptr,
        SIPTAG_EVENT_STR("refer"),
        SIPTAG_SUBSCRIPTION_STATE_STR(final ? "terminated;reason=noresource" : "active;expires=60"),
        SIPTAG_CONTENT_TYPE_STR("message/sipfrag;version=2.0"), SIPTAG_PAYLOAD_STR(body.c_str()),
        TAG_END());
    // The NOTIFY completes inside nta; nothing waits for its answer.
    nta_outgoing_destroy(orq);
}

void call::on_transfer_response(const sip_t* sip, int status) {
    auto& t = *_transfer;
    if (status < 200) {
        return;  // the referrer hears the outcome only (RFC 3515 2.4.5 allows that)
    }
    auto& referrer = leg(t.referrer);
    if (status >= 300) {
        sip_log.info("call {}: transfer target answered {}; the call stays as it was", display_id(),
                     status);
        if (referrer.confirmed) {
            notify_referrer(referrer.nta, status, true);
        }
        nta_outgoing_destroy(t.invite);
        t.invite = nullptr;
        // A taken-over dialog outlives a failed re-INVITE (RFC 3261 14.1),
        // but nobody is left on it.
        drop_transfer(t.attended && status != 481 && status != 408);
        if (!referrer.confirmed) {
            hang_up("transfer failed after the referrer left");  // no one left to talk to
        }
        return;
    }
    if (!t.attended && sip != nullptr) {
        if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
            nta_leg_rtag(t.leg, sip->sip_to->a_tag);
        }
        nta_leg_client_route(t.leg, sip->sip_record_route, sip->sip_contact);
    }
    auto sd = sdp::session_description::parse(body_of(sip));
    if (!has_sdp(sip) || !sd) {
        ack_2xx(t.leg, t.invite);
        nta_outgoing_destroy(t.invite);
        t.invite = nullptr;
        sip_log.warn("call {}: transfer target answered without usable SDP; ending it",
                     display_id());
        if (referrer.confirmed) {
            notify_referrer(referrer.nta, 488, true);
        }
        drop_transfer(true);
        if (!referrer.confirmed) {
            hang_up("transfer failed after the referrer left");
        }
        return;
    }
    // RFC 3515 2.4.5: the referrer learns the outcome, and leaves.
    if (referrer.confirmed) {
        notify_referrer(referrer.nta, 200, true);
        send_bye(t.referrer);
    }
    // The target's dialog takes the referrer's place, with its own trunk's
    // slot; the other leg keeps the SBC's media address and port, so its
    // media simply flows to the target.
    release_slot(referrer.trunk, t.referrer == side::a);
    _retired.push_back(referrer.nta);
    referrer.nta = t.leg;
    referrer.trunk = t.trunk;
    referrer.transport = t.transport;
    referrer.peer = t.peer;
    if (t.referrer == side::b) {
        _registered.reset();  // leg b is no longer the contact it was called at
    }
    referrer.confirmed = true;
    referrer.peer_100rel = t.peer_100rel;
    referrer.peer_timer = t.peer_timer;
    referrer.timer = t.timer;
    if (referrer.timer) {
        referrer.timer->last_refresh = std::chrono::steady_clock::now();  // RFC 4028 10
    }
    referrer.last_sdp_sent = t.offer;
    referrer.sdp_session_id = t.sdp_session_id;
    referrer.sdp_version = t.sdp_version;
    // The target's keys (or none) replace the referrer's in the data plane
    // once its answer is taken: program_srtp must not take the new keying's
    // generation for the one already programmed.
    referrer.sdes = std::move(t.sdes);
    referrer.srtp_programmed = ~0U;
    if (t.iface != referrer.iface) {
        // The referrer's side of the media session moves to the target's
        // interface before the answer programs where that side sends.
        _owner.media().commit_side_move(_id, t.referrer);
        _ports.rtp[dataplane::index(t.referrer)] = t.media_port;
        referrer.iface = t.iface;
    }
    std::vector<sdp::format> formats;
    unsigned ptime = 0;
    if (auto accepted = accept_sdp(t.referrer, sip, sdp_role::answer); !accepted) {
        sip_log.warn("call {}: transfer target's answer: {}", display_id(),
                     accepted.error_message());
    } else if (auto planned = plan_codecs(t.referrer, *accepted, sdp_role::answer, formats, ptime);
               !planned) {
        // Relayed as it is; the party that stays may not understand it.
        sip_log.warn("call {}: transfer target's answer does not fit the offer: {}", display_id(),
                     planned.error_message());
    }
    _pending_offer.reset();
    // The ACK goes once the data plane has its orders (the commands reach
    // the worker before any packet the ACK sets off), so the target's first
    // packets already meet its side's new address, keys and codec chain.
    ack_2xx(t.leg, t.invite);
    nta_outgoing_destroy(t.invite);
    t.invite = nullptr;
    sip_log.info("call {}: transfer completed; leg {} is now trunk {}", display_id(),
                 t.referrer == side::a ? 'a' : 'b', t.trunk->name);
    const side stays = dataplane::other(t.referrer);
    _transfer.reset();
    // The party that stays learns of the new session from a re-INVITE (the
    // SBC's same media address, a new SDP version), never from the REFER.
    reoffer(stays);
}

int call::on_update(call_leg& from, nta_incoming_t* irq, const sip_t* sip) {
    // Any UPDATE the peer sends refreshes its leg's session (RFC 4028 10).
    std::string value;
    if (from.timer) {
        from.timer->last_refresh = std::chrono::steady_clock::now();
        value = session_expires_value(from, false);
    }
    if (has_sdp(sip)) {
        if (_state != state::established) {
            // RFC 3311 5.1 allows early offers in UPDATE only after the
            // initial offer was answered reliably; this SBC relays UPDATE
            // offers in confirmed dialogs.
            sofia::treply(irq, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_RETRY_AFTER_STR("1"));
            return 0;
        }
        if (_invite || _reoffer || _transfer || _update) {
            return 491;  // RFC 3311 5.2: an offer is already outstanding
        }
        auto& to = leg(dataplane::other(from._side));
        if (!to.confirmed) {
            return 481;
        }
        auto translated = translate_sdp(from._side, sip, sdp_role::offer);
        if (!translated) {
            refuse_offer(irq, translated.error_message());
            return 0;
        }
        update_relay u{.from = from._side,
                       .irq = irq,
                       .orq = nullptr,
                       .offer = std::move(translated.value()),
                       .headers = relayed_headers(sip, from, to),
                       .auth_answers = 0};
        u.orq = send_update(u);
        if (u.orq == nullptr) {
            return 500;
        }
        _update = std::move(u);
        return 0;
    }
    // A session refresh alone: answered on this leg.
    sofia::treply(irq, SIP_200_OK,
                  TAG_IF(!value.empty(), SIPTAG_SESSION_EXPIRES_STR(value.c_str())),
                  TAG_IF(!value.empty() && from.peer_timer, SIPTAG_REQUIRE_STR("timer")));
    return 0;
}

nta_outgoing_t* call::send_update(const update_relay& u, const sofia::authorization& auth) {
    auto& to = leg(dataplane::other(u.from));
    const auto contact = to.iface->contact(to.transport);
    const auto expires = to.timer ? session_expires_value(to, true) : std::string();
    return nta_outgoing_tcreate(
        to.nta, sofia::response_trampoline, this, nullptr, SIP_METHOD_UPDATE, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(u.offer.c_str()),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!u.headers.empty(), SIPTAG_HEADER_STR(u.headers.c_str())), TAG_END());
}

void call::on_update_response(const sip_t* sip, int status) {
    if (status < 200) {
        return;
    }
    auto& u = *_update;
    auto& from = leg(u.from);
    auto& to = leg(dataplane::other(u.from));
    if (status == 401 || status == 407) {
        // RFC 3261 22.2: the same offer again, with credentials, as a new
        // transaction of the dialog; the caller never sees the challenge.
        const auto auth = in_dialog_credentials(to, sip, status, "UPDATE", u.offer, u.auth_answers);
        if (!auth.empty()) {
            nta_outgoing_destroy(u.orq);
            u.orq = send_update(u, auth);
            if (u.orq != nullptr) {
                return;
            }
            status = 500;  // answered below; there is no transaction to destroy
        }
    }
    std::string timer_lines;
    const auto now = std::chrono::steady_clock::now();
    if (status < 300 && to.timer) {
        to.timer->last_refresh = now;
    }
    if (status < 300 && from.timer) {
        timer_lines = fmt::format("Session-Expires: {}\r\n", session_expires_value(from, false));
        if (from.peer_timer) {
            timer_lines += "Require: timer\r\n";
        }
    }
    if (status >= 300) {
        // The offer failed on the other leg: so it did on this one, and
        // the session stays as it was (RFC 3311 5.2).
        auto mapped = map_final_status(status);
        reply(u.irq, from, mapped.code, nullptr, nullptr, nullptr);
    } else if (!has_sdp(sip)) {
        sip_log.warn("call {}: trunk {} answered an UPDATE offer without SDP", display_id(),
                     to.trunk->name);
        reply(u.irq, from, 500, "No answer to the offer", nullptr, nullptr);
    } else if (auto answer = translate_sdp(to._side, sip, sdp_role::answer); !answer) {
        sip_log.warn("call {}: answer to an UPDATE unusable: {}", display_id(),
                     answer.error_message());
        reply(u.irq, from, 488, nullptr, nullptr, nullptr);
    } else {
        reply(u.irq, from, status, nullptr, sip, &answer.value(), timer_lines);
    }
    nta_incoming_destroy(u.irq);
    nta_outgoing_destroy(u.orq);
    _update.reset();
}

void call::reply(nta_incoming_t* irq, call_leg& on, int status, const char* phrase,
                 const sip_t* relayed, const std::string* sdp_body,
                 const std::string& extra_headers, bool reliable) {
    auto headers = relayed ? policy::forwarded_headers(relayed, on.trunk->forward_headers) : "";
    headers += extra_headers;
    auto contact = on.iface->contact(on.transport);
    bool dialog_response = status > 100 && status < 300;
    const tagi_t tags[] = {
        {TAG_IF(dialog_response, SIPTAG_CONTACT_STR(contact.c_str()))},
        {TAG_IF(dialog_response, SIPTAG_ALLOW_STR(allow_for(*on.trunk)))},
        {TAG_IF(sdp_body, SIPTAG_CONTENT_TYPE_STR("application/sdp"))},
        {TAG_IF(sdp_body, SIPTAG_PAYLOAD_STR(sdp_body ? sdp_body->c_str() : ""))},
        {TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str()))},
        {TAG_END()},
    };
    phrase = phrase ? phrase : phrase_for(status);
    // RFC 3262: nta adds Require: 100rel and RSeq and retransmits until the
    // PRACK; it declines when the request did not support 100rel.
    if (reliable && nta_reliable_treply(irq, accept_prack, nullptr, status, phrase,
                                        TAG_NEXT(tags)) != nullptr) {
        return;
    }
    sofia::treply(irq, status, phrase, TAG_NEXT(tags));
}

int call::on_leg_request(call_leg& l, nta_leg_t* dialog, nta_incoming_t* irq, const sip_t* sip) {
    if (finished()) {
        return 481;
    }
    const auto method = sip->sip_request->rq_method;
    if (dialog != l.nta) {
        // A dialog that is not (or no longer) the leg's: the transfer's new
        // dialog before it answered, or one a transfer replaced. Its BYE
        // only closes it (a BYE crossing ours); nothing reaches the call.
        if (method == sip_method_bye) {
            return 200;
        }
        return method == sip_method_ack ? 0 : 481;
    }
    if (_transfer && l._side == _transfer->referrer && method == sip_method_bye) {
        // RFC 5589 2.2: the transferor may hang up as soon as the transfer
        // is accepted; the transferee's call goes on towards the target.
        sip_log.info("call {}: the referrer left during the transfer", display_id());
        l.confirmed = false;
        return 200;
    }
    switch (method) {
        case sip_method_invite:
            return on_reinvite(l, irq, sip);
        case sip_method_bye:
            return on_bye(l);
        case sip_method_ack:
        case sip_method_cancel:
            return 0;  // ours arrive through the bound transaction
        case sip_method_options:
            sofia::treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(allow_for(*l.trunk)),
                          SIPTAG_ACCEPT_STR("application/sdp"));
            return 0;
        case sip_method_info:
        case sip_method_message:
            return relay_request(l, irq, sip);
        case sip_method_update:
            return on_update(l, irq, sip);
        case sip_method_refer:
            return on_refer(l, irq, sip);
        default:
            sofia::treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(allow_for(*l.trunk)));
            return 0;
    }
}

int call::on_reinvite(call_leg& from, nta_incoming_t* irq, const sip_t* sip) {
    if (_invite || _reoffer || _transfer || _update) {
        return 491;  // RFC 3261 14.2: an INVITE (or an UPDATE's offer) is in progress
    }
    if (from.timer) {
        from.timer->last_refresh = std::chrono::steady_clock::now();  // RFC 4028 10
    }
    if (_state != state::established) {
        sofia::treply(irq, SIP_500_INTERNAL_SERVER_ERROR, SIPTAG_RETRY_AFTER_STR("1"));
        return 0;
    }
    auto& to = leg(dataplane::other(from._side));
    if (to.trunk->early_offer == config::early_offer_policy::reject && !has_sdp(sip)) {
        refuse_delayed_offer(irq, *to.trunk);
        return 0;
    }
    std::optional<std::string> offer;
    if (has_sdp(sip)) {
        auto translated = translate_sdp(from._side, sip, sdp_role::offer);
        if (!translated) {
            refuse_offer(irq, translated.error_message());
            return 0;
        }
        offer = std::move(translated.value());
    }
    const bool convert = !offer && to.trunk->early_offer == config::early_offer_policy::convert;
    if (convert) {
        auto built = offer_for(to._side);
        if (!built) {
            return 500;
        }
        offer = std::move(built.value());
    }
    auto headers = relayed_headers(sip, from, to);
    nta_outgoing_t* orq = send_reinvite(to, offer, headers);
    if (orq == nullptr) {
        return 500;
    }
    _invite =
        invite_relay{from._side, irq, orq, false, false, offer.has_value(), convert, {}, {}, {}, 0};
    _invite->offer_sent = std::move(offer);
    _invite->headers_sent = std::move(headers);
    nta_incoming_bind(irq, sofia::transaction_trampoline, this);
    sofia::treply(irq, SIP_100_TRYING);
    return 0;
}

std::string call::relayed_headers(const sip_t* sip, const call_leg& from, const call_leg& to) {
    // The dialog's numbers as `to` knows them: the callee's leg got the
    // ones sent in the INVITE, the caller's leg has its own.
    const auto& numbers = to._side == side::b ? _numbers_sent : _numbers;
    const auto arrived = policy::request_headers(sip);
    policy::rule_context ctx;
    ctx.ruri_user = numbers.ruri;
    ctx.from_user = numbers.from;
    ctx.to_user = numbers.to;
    ctx.from_trunk = from.trunk->name;
    ctx.to_trunk = to.trunk->name;
    ctx.source_ip = _source_ip;
    ctx.request_headers = &arrived;
    ctx.method = sip->sip_request->rq_method_name;
    auto fields = arrived;
    policy::apply_header_rules(from.trunk->headers.inbound, fields, ctx);
    const auto& ingress = _owner.normalizer(*from.trunk).inbound;
    const auto& egress = _owner.normalizer(*to.trunk).outbound;
    fields = policy::allowed_fields(
        fields, to.trunk->forward_headers, [&](config::number_field f, std::string_view v) {
            return egress.apply_to_header(f, ingress.apply_to_header(f, v));
        });
    policy::apply_header_rules(to.trunk->headers.outbound, fields, ctx);
    // From and To belong to the dialog (RFC 3261 12.2.1.1): nta writes them.
    std::erase_if(fields, [](const policy::header_field& f) {
        return policy::same_header(f.name, "From") || policy::same_header(f.name, "To");
    });
    return policy::header_lines(fields);
}

nta_outgoing_t* call::send_reinvite(call_leg& to, const std::optional<std::string>& offer,
                                    const std::string& headers, const sofia::authorization& auth) {
    const auto contact = to.iface->contact(to.transport);
    // RFC 4028 7.1/8.1: a re-INVITE on a leg with a session timer restates
    // it, or the 2xx would end the timer there.
    const auto expires = to.timer ? session_expires_value(to, true) : std::string();
    return nta_outgoing_tcreate(
        to.nta, sofia::response_trampoline, this, nullptr, SIP_METHOD_INVITE, nullptr,
        SIPTAG_CONTACT_STR(contact.c_str()), SIPTAG_ALLOW_STR(allow_for(*to.trunk)),
        SIPTAG_SUPPORTED_STR(supported_extensions),
        TAG_IF(!expires.empty(), SIPTAG_SESSION_EXPIRES_STR(expires.c_str())),
        TAG_IF(offer, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(offer, SIPTAG_PAYLOAD_STR(offer ? offer->c_str() : "")),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())), TAG_END());
}

sofia::authorization call::in_dialog_credentials(call_leg& l, const sip_t* sip, int status,
                                                 std::string_view method, std::string_view body,
                                                 unsigned& answers) {
    if (sip == nullptr || !l.trunk->auth) {
        return {};
    }
    auto challenge = auth::choose_challenge(sofia::challenge_values(status, sip));
    // Credentials refused once: only a stale nonce (RFC 7616 3.3) earns another try.
    if (!challenge || answers >= 2 || (answers == 1 && !challenge->stale)) {
        sip_log.warn("call {}: trunk {} challenged a {} ({}) and refused the answer", display_id(),
                     l.trunk->name, method, status);
        return {};
    }
    const auto uri = sofia::remote_target(l.nta);
    if (uri.empty()) {
        return {};
    }
    if (challenge->nonce != _auth_nonce) {
        _auth_nonce = challenge->nonce;
        _auth_nc = 0;
    }
    auto value =
        auth::authorization_value(*challenge, {l.trunk->auth->username, l.trunk->auth->password},
                                  {method, uri, body}, ++_auth_nc, auth::make_cnonce());
    if (!value.empty()) {
        ++answers;
        sip_log.info("call {}: trunk {} challenged a {} ({}); sending credentials", display_id(),
                     l.trunk->name, method, status);
    }
    return {status, std::move(value)};
}

bool call::answer_reinvite_challenge(const sip_t* sip, int status) {
    auto& inv = *_invite;
    auto& to = leg(dataplane::other(inv.from));
    const auto auth = in_dialog_credentials(
        to, sip, status, "INVITE",
        inv.offer_sent ? std::string_view(*inv.offer_sent) : std::string_view(), inv.auth_answers);
    if (auth.empty()) {
        return false;
    }
    // RFC 3261 22.2: the same request as a new transaction of the dialog.
    nta_outgoing_destroy(inv.orq);
    inv.orq = send_reinvite(to, inv.offer_sent, inv.headers_sent, auth);
    return inv.orq != nullptr;
}

int call::relay_request(call_leg& from, nta_incoming_t* irq, const sip_t* sip) {
    auto& to = leg(dataplane::other(from._side));
    if (!to.confirmed) {
        return 481;
    }
    if (sip->sip_request->rq_method == sip_method_info && _transcoding &&
        from.trunk->dtmf == config::dtmf_mode::info && to.trunk->dtmf != config::dtmf_mode::info &&
        sip->sip_content_type != nullptr && sip->sip_content_type->c_type != nullptr) {
        // A digit from an INFO trunk, for a leg that takes events or tones:
        // the data plane carries it; the INFO ends here.
        if (auto d = transcoder::dtmf::parse_info(sip->sip_content_type->c_type, body_of(sip))) {
            sip_log.info("call {}: DTMF {} ({} ms) from trunk {} by INFO", display_id(), d->symbol,
                         d->duration_ms, from.trunk->name);
            _owner.media().send_dtmf(_id, from._side, d->symbol, d->duration_ms);
            return 200;
        }
    }
    request_relay r{.irq = irq,
                    .orq = nullptr,
                    .to = to._side,
                    .method_id = sip->sip_request->rq_method,
                    .method = sip->sip_request->rq_method_name,
                    .content_type = {},
                    .body = std::string(body_of(sip)),
                    .headers = relayed_headers(sip, from, to),
                    .auth_answers = 0};
    if (const auto* ct = sip->sip_content_type; ct != nullptr && ct->c_type != nullptr) {
        r.content_type = ct->c_type;
        for (auto* p = ct->c_params; p != nullptr && *p != nullptr; ++p) {
            r.content_type += fmt::format(";{}", *p);
        }
    }
    r.orq = send_relayed(r);
    if (r.orq == nullptr) {
        return 500;
    }
    _relays.push_back(std::move(r));
    return 0;
}

nta_outgoing_t* call::send_relayed(const request_relay& r, const sofia::authorization& auth) {
    auto& to = leg(r.to);
    const bool body = !r.content_type.empty();
    // The body as it came (it may hold any bytes); nta copies it.
    sip_payload_t payload[1];
    sip_payload_init(payload);
    payload->pl_data = const_cast<char*>(r.body.data());
    payload->pl_len = r.body.size();
    return nta_outgoing_tcreate(
        to.nta, sofia::response_trampoline, this, nullptr, r.method_id, r.method.c_str(), nullptr,
        TAG_IF(body, SIPTAG_CONTENT_TYPE_STR(r.content_type.c_str())),
        TAG_IF(body, SIPTAG_PAYLOAD(payload)),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!r.headers.empty(), SIPTAG_HEADER_STR(r.headers.c_str())), TAG_END());
}

int call::on_bye(call_leg& from) {
    sip_log.info("call {}: BYE from side {}", display_id(), from._side == side::a ? "a" : "b");
    note_end(from._side == side::a ? cdr::party::caller : cdr::party::callee, "BYE");
    auto& to = leg(dataplane::other(from._side));
    if (_invite && _invite->initial && !_invite->answered) {
        // RFC 3261 15: a caller may end an early dialog with BYE; towards the
        // callee that is a CANCEL.
        sofia::treply(_invite->irq, SIP_487_REQUEST_TERMINATED);
        nta_outgoing_cancel(_invite->orq);
    } else if (_invite && _invite->answered) {
        send_ack(dataplane::other(_invite->from), nullptr);
    }
    if (to.confirmed) {
        send_bye(to._side);
    }
    finish();
    return 200;
}

int call::on_response(nta_outgoing_t* orq, const sip_t* sip) {
    int status =
        sip != nullptr && sip->sip_status ? sip->sip_status->st_status : nta_outgoing_status(orq);
    if (_invite && orq == _invite->orq) {
        on_invite_response(sip, status);
        return 0;
    }
    if (_transfer && orq == _transfer->invite) {
        on_transfer_response(sip, status);
        return 0;
    }
    if (_reoffer && orq == _reoffer->orq) {
        on_reoffer_response(sip, status);
        return 0;
    }
    if (_update && orq == _update->orq) {
        on_update_response(sip, status);
        return 0;
    }
    if (auto p = std::find(_pracks.begin(), _pracks.end(), orq); p != _pracks.end()) {
        if (status >= 200) {
            nta_outgoing_destroy(orq);
            _pracks.erase(p);
        }
        return 0;
    }
    for (auto& l : _legs) {
        if (!l.timer || l.timer->update != orq || status < 200) {
            continue;
        }
        nta_outgoing_destroy(orq);
        l.timer->update = nullptr;
        sofia::authorization auth;
        if (status == 401 || status == 407) {
            auth = in_dialog_credentials(l, sip, status, "UPDATE", {}, l.timer->auth_answers);
        }
        if (!auth.empty()) {
            // RFC 3261 22.2: the refresh again, with credentials.
            send_refresh(l._side, auth);
        } else if (status < 300) {
            l.timer->last_refresh = std::chrono::steady_clock::now();
            l.timer->auth_answers = 0;
        } else if (status == 405 || status == 501) {
            // The peer takes no UPDATE: refresh by re-INVITE from now on.
            l.timer->no_update = true;
            reoffer(l._side);
        } else if (status != 491) {
            // RFC 4028 10: a refresh that fails ends the session; 491 (glare)
            // is tried again on the next tick.
            hang_up(l._side == side::a ? "session refresh failed on leg a"
                                       : "session refresh failed on leg b");
        }
        return 0;
    }
    for (auto it = _relays.begin(); it != _relays.end(); ++it) {
        if (it->orq != orq) {
            continue;
        }
        if (status == 401 || status == 407) {
            const auto auth = in_dialog_credentials(leg(it->to), sip, status, it->method, it->body,
                                                    it->auth_answers);
            if (!auth.empty()) {
                // RFC 3261 22.2: the same request again, a new transaction.
                nta_outgoing_destroy(it->orq);
                it->orq = send_relayed(*it, auth);
                if (it->orq != nullptr) {
                    return 0;
                }
                if (it->irq != nullptr) {
                    sofia::treply(it->irq, SIP_500_INTERNAL_SERVER_ERROR);
                    nta_incoming_destroy(it->irq);
                }
                _relays.erase(it);
                return 0;
            }
        }
        if (status >= 200) {
            if (it->irq != nullptr) {  // null: a request of the SBC's own (DTMF INFO)
                sofia::treply(it->irq, status, phrase_for(status));
                nta_incoming_destroy(it->irq);
            }
            nta_outgoing_destroy(it->orq);
            _relays.erase(it);
        }
        return 0;
    }
    return 0;
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
    reply(inv.irq, leg(inv.from), mapped.code, nullptr, nullptr, nullptr);
    nta_incoming_destroy(inv.irq);
    nta_outgoing_destroy(inv.orq);
    _invite.reset();
}

void call::on_invite_provisional(const sip_t* sip, int status) {
    auto& inv = *_invite;
    if (status == 100 || !inv.initial || _state == state::cancelling) {
        return;
    }
    auto& to = leg(dataplane::other(inv.from));
    if (sip != nullptr && sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
        nta_leg_rtag(to.nta, sip->sip_to->a_tag);  // the early dialog (RFC 3261 12.1.2)
    }
    if (sip != nullptr && sip->sip_rseq != nullptr && sip_has_feature(sip->sip_require, "100rel")) {
        // RFC 3262 4: a reliable provisional response is acknowledged with
        // PRACK, on this leg alone; the caller's leg has its own rules.
        nta_leg_client_reroute(to.nta, sip->sip_record_route, sip->sip_contact, 1);
        if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr &&
            nta_outgoing_rseq(inv.orq) == 0) {
            // The PRACK belongs to the early dialog: nta wants the INVITE
            // transaction tagged with it first (as sofia's own nua does).
            if (auto* tagged = nta_outgoing_tagged(inv.orq, sofia::response_trampoline, this,
                                                   sip->sip_to->a_tag, sip->sip_rseq)) {
                nta_outgoing_destroy(inv.orq);
                inv.orq = tagged;
            }
        }
        if (auto* prack = nta_outgoing_prack(to.nta, inv.orq, sofia::response_trampoline, this,
                                             nullptr, sip, TAG_END())) {
            _pracks.push_back(prack);
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
    reply(inv.irq, leg(side::a), status, nullptr, sip, body ? &*body : nullptr, {},
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
    // The abandoned attempt: no CANCEL before a provisional response (RFC
    // 3261 9.1); destroying the transaction stops its retransmissions.
    nta_outgoing_destroy(inv.orq);
    inv.orq = nullptr;
    nta_leg_destroy(b.nta);
    b.nta = nullptr;
    auto request = sofia::msg_ref::adopt(nta_incoming_getrequest(inv.irq));
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
        reply(inv.irq, leg(side::a), code, nullptr, nullptr, nullptr);
        finish();
        return false;
    }
    b.peer = *next;
    b.transport = b.trunk->peers[b.peer].proto;
    _tried.push_back(b.peer);
    _attempt_started = std::chrono::steady_clock::now();
    _attempt_heard = false;
    inv.orq = sip != nullptr ? send_outbound_invite(sip, _offer) : nullptr;
    if (inv.orq == nullptr) {
        reply(inv.irq, leg(side::a), 500, nullptr, nullptr, nullptr);
        finish();
        return false;
    }
    return true;
}

bool call::next_trunk(const sip_t* sip) {
    auto& inv = *_invite;
    auto& b = leg(side::b);
    while (!_next_trunks.empty()) {
        const auto* trunk = _next_trunks.front();
        _next_trunks.erase(_next_trunks.begin());
        auto first = _owner.choose_peer(*trunk, {});
        if (!first) {
            sip_log.info("call {}: trunk {} has no peer up; skipped", display_id(), trunk->name);
            continue;
        }
        if (!has_sdp(sip) && trunk->early_offer == config::early_offer_policy::reject) {
            sip_log.info("call {}: trunk {} takes no delayed offer; skipped", display_id(),
                         trunk->name);
            continue;
        }
        if (trunk->registrar) {
            sip_log.info(
                "call {}: trunk {} reaches registered contacts only as a route's first "
                "trunk; skipped",
                display_id(), trunk->name);
            continue;
        }
        if (auto admitted = _owner.admit(*trunk, false); !admitted) {
            sip_log.info("call {}: trunk {} is at its {} limit; skipped", display_id(), trunk->name,
                         admission::to_string(admitted.what));
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
        b.sdes = std::make_unique<sdp::sdes_leg>(trunk->srtp, trunk->srtp_suites,
                                                 &dataplane::srtp::random_fill);
        b.srtp_programmed = 0;
        b.last_sdp_sent.clear();
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
        inv.orq = send_outbound_invite(sip, _offer);
        if (inv.orq != nullptr) {
            return true;
        }
        if (b.nta != nullptr) {
            nta_leg_destroy(b.nta);
            b.nta = nullptr;
        }
    }
    return false;
}

void call::on_invite_success(const sip_t* sip, int status) {
    auto& inv = *_invite;
    auto& from = leg(inv.from);
    auto& to = leg(dataplane::other(inv.from));
    if (sip != nullptr) {
        if (sip->sip_to != nullptr && sip->sip_to->a_tag != nullptr) {
            nta_leg_rtag(to.nta, sip->sip_to->a_tag);
        }
        nta_leg_client_route(to.nta, sip->sip_record_route, sip->sip_contact);
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
                reply(inv.irq, from, 502, nullptr, nullptr, nullptr);
                finish();
            } else {
                reply(inv.irq, from, 488, nullptr, nullptr, nullptr);
                release_transactions();
            }
            return;
        }
        body = std::move(translated.value());
    }
    if (inv.converted) {
        inv.offer_in_2xx = *body;  // the answer in the ACK is checked against it
    }
    std::string timer_lines;
    if (inv.initial) {
        settle_callee_timer(sip);
        timer_lines = settle_caller_timer();
    } else {
        // A re-INVITE answered is a refresh on both its legs (RFC 4028 10),
        // and the 2xx to the requester restates its leg's timer (RFC 4028 9).
        const auto now = std::chrono::steady_clock::now();
        if (to.timer) {
            to.timer->last_refresh = now;
        }
        if (from.timer) {
            from.timer->last_refresh = now;
            timer_lines =
                fmt::format("Session-Expires: {}\r\n", session_expires_value(from, false));
            if (from.peer_timer) {
                timer_lines += "Require: timer\r\n";
            }
        }
    }
    reply(inv.irq, from, status, nullptr, sip, body ? &*body : nullptr, timer_lines);
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
        reply(inv.irq, leg(inv.from), mapped.code, nullptr, sip, nullptr);
    }
    finish();
}

int call::on_ack_or_cancel(nta_incoming_t* irq, const sip_t* sip) {
    if (!_invite || irq != _invite->irq) {
        return 0;
    }
    if (sip == nullptr) {
        // Timer H fired: our 2xx was never acknowledged (RFC 3261 13.3.1.4).
        hang_up("no ACK for the 2xx");
        return 0;
    }
    if (sip->sip_request->rq_method == sip_method_cancel) {
        on_cancel();
    } else if (sip->sip_request->rq_method == sip_method_ack) {
        on_ack(sip);
    }
    return 0;
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
    sofia::treply(inv.irq, SIP_487_REQUEST_TERMINATED);
    nta_outgoing_cancel(inv.orq);
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
    nta_incoming_destroy(inv.irq);
    nta_outgoing_destroy(inv.orq);
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
    } else if (auto accepted = accept_sdp(from, sip, sdp_role::answer); !accepted) {
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

result<std::string> call::offer_for(side to) {
    auto& l = leg(to);
    if (!l.last_sdp_sent.empty()) {
        return l.last_sdp_sent;  // RFC 3264 8: the same session, the same o= version
    }
    auto offered = l.sdes->make_offer();
    if (!offered) {
        return make_error(offered.error_message());
    }
    sdp::rewrite_params p{l.iface->cfg().media_address,
                          _ports.rtp[dataplane::index(to)],
                          l.sdp_session_id,
                          l.sdp_version,
                          offered->secure_profile,
                          std::move(offered->crypto)};
    auto built = sdp::build_offer(l.trunk->codecs, p);
    if (built) {
        l.last_sdp_sent = built.value();
    }
    return built;
}

void call::send_ack(side to, const std::string* sdp_body) {
    auto& l = leg(to);
    ack_2xx(l.nta, _invite->orq, l.iface->contact(l.transport), sdp_body);
}

void call::send_bye(side to) {
    auto& l = leg(to);
    if (l.trunk->auth) {
        // A trunk with credentials may challenge the BYE (RFC 3261 22.1):
        // the b2bua's closer answers it, and outlives this call.
        _owner.close_dialog(std::exchange(l.nta, nullptr), *l.trunk);
    } else {
        bye(l.nta);
    }
    l.confirmed = false;
}

void call::hang_up(const char* why) {
    if (finished()) {
        return;
    }
    sip_log.info("call {}: hanging up ({})", display_id(), why);
    note_end(cdr::party::sbc, why);
    if (_invite) {
        if (_invite->answered) {
            send_ack(dataplane::other(_invite->from), nullptr);
        } else if (nta_incoming_status(_invite->irq) < 200) {
            sofia::treply(_invite->irq, _invite->initial ? 503 : 500,
                          phrase_for(_invite->initial ? 503 : 500));
            nta_outgoing_cancel(_invite->orq);
        }
    }
    for (auto& l : _legs) {
        if (l.confirmed) {
            send_bye(l._side);
        }
    }
    finish();
}

void call::finish() {
    write_cdr();
    set_state(state::terminated);
    release_transactions();
    _owner.schedule_reap();
}

void call::release_transactions() {
    if (_transfer) {
        drop_transfer(_transfer->attended);
    }
    if (_reoffer) {
        nta_outgoing_destroy(_reoffer->orq);
        _reoffer.reset();
    }
    if (_update) {
        if (nta_incoming_status(_update->irq) < 200) {
            sofia::treply(_update->irq, SIP_500_INTERNAL_SERVER_ERROR);
        }
        nta_incoming_destroy(_update->irq);
        nta_outgoing_destroy(_update->orq);
        _update.reset();
    }
    for (auto* p : _pracks) {
        nta_outgoing_destroy(p);
    }
    _pracks.clear();
    for (auto& l : _legs) {
        if (l.timer && l.timer->update != nullptr) {
            nta_outgoing_destroy(l.timer->update);
            l.timer->update = nullptr;
        }
    }
    if (_invite) {
        if (_invite->irq != nullptr && nta_incoming_status(_invite->irq) < 200) {
            sofia::treply(_invite->irq, SIP_500_INTERNAL_SERVER_ERROR);
        }
        nta_incoming_destroy(_invite->irq);
        nta_outgoing_destroy(_invite->orq);
        _invite.reset();
    }
    for (auto& r : _relays) {
        if (nta_incoming_status(r.irq) < 200) {
            sofia::treply(r.irq, SIP_481_NO_TRANSACTION);
        }
        nta_incoming_destroy(r.irq);
        nta_outgoing_destroy(r.orq);
    }
    _relays.clear();
}

}  // namespace sbc::b2bua
