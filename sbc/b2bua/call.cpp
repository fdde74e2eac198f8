// A call through the SBC: its life from start to end, the dispatch of
// requests and responses to the operation they belong to, and its CDR.
// The operations themselves are in files of their own (call.hpp lists them).

#include "sbc/b2bua/call.hpp"

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
#include "sbc/media_ctl/quality.hpp"
#include "sbc/policy/header_filter.hpp"
#include "sbc/policy/header_rules.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

using namespace support;

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

int call_leg::on_request(sofia::server_transaction& request, const sip_t* sip) {
    const auto ctx = _call.log_scope(_side);
    return _call.on_leg_request(*this, request, sip);
}

call::call(b2bua& owner, std::uint64_t id, const config::trunk_config& from_trunk,
           const config::trunk_config& to_trunk)
    : _owner(owner),
      _id(id),
      _legs{call_leg(*this, side::a), call_leg(*this, side::b)},
      _created(std::chrono::steady_clock::now()),
      _state_since(_created),
      _media(owner.media(), id, std::to_string(id)),
      _digest(std::to_string(id), &owner.tally()) {
    _legs[0].trunk = &from_trunk;
    _legs[1].trunk = &to_trunk;
}

call::~call() {
    for (const auto& sl : _slots) {
        _owner.release(*sl.trunk, sl.inbound);
    }
    release_transactions();
}

std::string call::display_id() const { return std::to_string(_id); }

void call::capture_dialog(const dialog& d) {
    auto* capture = _owner.capture();
    if (capture != nullptr && !d.call_id.empty()) {
        capture->claim(display_id(), d.call_id, d.trunk != nullptr ? d.trunk->name : "",
                       _numbers.from, _numbers.to);
    }
}

void call::check_session_timers(std::chrono::steady_clock::time_point now) {
    if (_state == state::established) {
        _timers.check(now);
    }
}

sofia::authorization call::in_dialog_credentials(const dialog& l, const sip_t* sip, int status,
                                                 std::string_view method, std::string_view body,
                                                 unsigned& answers, std::string uri) {
    // The digest-uri repeats the Request-URI (RFC 7616 3.4.6): the dialog's
    // remote target.
    if (uri.empty()) {
        uri = sofia::remote_target(l.nta());
    }
    return _digest.answer(*l.trunk, sip, status, method, uri, body, answers);
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
    if (_invite && _invite->initial() && _invite->irq) {
        // Still pending: release_transactions() answers 500.
        const int st = _invite->irq.status();
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
    if (auto st = _media.stats()) {
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
            if (const auto q = media_ctl::quality_of(c, m.codec)) {
                m.quality = cdr::leg_quality{q->expected,  q->lost,   q->loss_percent,
                                             q->jitter_ms, q->rtt_ms, q->mos};
                report_quality(s, m, c);
            }
        }
        _owner.count_media(*st);
    }
    _owner.write_cdr(_cdr);
}

void call::report_quality(side s, const cdr::leg_media& m, const dataplane::side_counters& c) {
    auto* hep = _owner.hep();
    const auto& l = leg(s);
    if (hep == nullptr || !m.quality || !c.latched_rtp || l.iface == nullptr) {
        return;
    }
    // Between the leg's media addresses: from the peer whose RTP was
    // measured to the SBC's port that received it.
    const auto local =
        dataplane::ip_endpoint::from_string(l.iface->cfg().media_address, _media.rtp_port(s));
    if (!local) {
        return;
    }
    const auto& q = *m.quality;
    const nlohmann::json report = {
        {"type", "sbc_leg_quality"},
        {"call", display_id()},
        {"leg", s == side::a ? "a" : "b"},
        {"call_id", l.call_id},
        {"trunk", l.trunk != nullptr ? l.trunk->name : ""},
        {"codec", m.codec},
        {"packets_received", m.packets_received},
        {"rtp_expected", q.rtp_expected},
        {"rtp_lost", q.rtp_lost},
        {"loss_percent", q.loss_percent},
        {"jitter_ms", q.jitter_ms},
        {"rtt_ms", q.rtt_ms ? nlohmann::json(*q.rtt_ms) : nlohmann::json()},
        {"mos", q.mos}};
    const auto correlation =
        _owner.capture() != nullptr ? _owner.capture()->correlation_of(_cdr.call_id) : _cdr.call_id;
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    // A Call-ID from the network need not be UTF-8: replaced, not thrown.
    hep->send_report(correlation, *c.latched_rtp, *local,
                     report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), now_us);
}

result<std::string> call::translate_sdp(side from, const sip_t* sip, sdp_role in, sdp_role out) {
    return _media.translate(from, body_of(sip), in, out, leg(dataplane::other(from)).origin);
}

sdp_role call::response_role_in() const noexcept {
    return _invite->offered ? sdp_role::answer : sdp_role::offer;
}

sdp_role call::response_role_out() const noexcept {
    // A converted delayed offer: the SBC's answer from the callee comes
    // back to the caller as the SBC's offer in the 2xx (RFC 3264 5).
    return _invite->converted ? sdp_role::offer : response_role_in();
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

void call::reply(nta_incoming_t* irq, call_leg& on, int status, const char* phrase,
                 const sip_t* relayed, const std::string* sdp_body,
                 const std::string& extra_headers, bool reliable) {
    auto headers = relayed ? policy::forwarded_headers(relayed, on.trunk->forward_headers) : "";
    headers += extra_headers;
    auto contact = on.iface->contact(on.transport, on.trunk->use_fqdn);
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

int call::on_leg_request(call_leg& l, sofia::server_transaction& request, const sip_t* sip) {
    if (finished()) {
        return 481;
    }
    nta_incoming_t* irq = request.get();
    const auto method = sip->sip_request->rq_method;
    if (_transfer && l._side == _transfer->referrer() && method == sip_method_bye) {
        // RFC 5589 2.2: the transferor may hang up as soon as the transfer
        // is accepted; the transferee's call goes on towards the target.
        sip_log.info("call {}: the referrer left during the transfer", display_id());
        l.confirmed = false;
        return 200;
    }
    switch (method) {
        case sip_method_invite:
            return on_reinvite(l, request, sip);
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
            return relay_request(l, request, sip);
        case sip_method_update:
            return update_relay::on_update(*this, l, request, sip);
        case sip_method_refer:
            return call_transfer::on_refer(*this, l, irq, sip);
        default:
            sofia::treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR(allow_for(*l.trunk)));
            return 0;
    }
}

int call::on_bye(call_leg& from) {
    sip_log.info("call {}: BYE from side {}", display_id(), from._side == side::a ? "a" : "b");
    note_end(from._side == side::a ? cdr::party::caller : cdr::party::callee, "BYE");
    auto& to = leg(dataplane::other(from._side));
    if (_invite && _invite->initial() && !_invite->answered) {
        // RFC 3261 15: a caller may end an early dialog with BYE; towards the
        // callee that is a CANCEL.
        _invite->irq.reply(SIP_487_REQUEST_TERMINATED);
        _invite->orq.cancel();
    } else if (_invite && !_invite->answered) {
        // A re-INVITE pending in the dialog that ends (RFC 3261 15.1.2:
        // answered 487); the BYE ends the other leg's copy of it too.
        _invite->irq.reply(SIP_487_REQUEST_TERMINATED);
    } else if (_invite && _invite->answered) {
        send_ack(dataplane::other(_invite->from), nullptr);
    }
    if (to.confirmed) {
        send_bye(to._side);
    }
    finish();
    return 200;
}

void call::on_invite_ack_or_cancel(const sip_t* sip) {
    if (!_invite) {
        return;
    }
    const auto ctx = log_scope(_invite->from);
    if (sip == nullptr) {
        // Timer H fired: our 2xx was never acknowledged (RFC 3261 13.3.1.4).
        hang_up("no ACK for the 2xx");
        return;
    }
    if (sip->sip_request->rq_method == sip_method_cancel) {
        on_cancel();
    } else if (sip->sip_request->rq_method == sip_method_ack) {
        on_ack(sip);
    }
}

sofia::client_transaction::response_callback call::invite_callback() {
    const auto serial = ++_invite_serial;
    return [this, serial](const sofia::response& r) {
        if (_invite && _invite->serial == serial) {
            const auto ctx = log_scope(dataplane::other(_invite->from));
            on_invite_response(r.sip, r.status);
        }
    };
}

void call::adopt_invite(sofia::client_transaction orq) {
    _invite->orq = std::move(orq);
    _invite->serial = _invite_serial;
}

void call::send_ack(side to, const std::string* sdp_body) {
    auto& l = leg(to);
    ack_2xx(l.nta(), _invite->orq.get(), l.iface->contact(l.transport, l.trunk->use_fqdn), sdp_body,
            l.own_via());
}

void call::send_bye(side to) {
    auto& l = leg(to);
    if (l.trunk->auth) {
        // A trunk with credentials may challenge the BYE (RFC 3261 22.1):
        // the b2bua's closer answers it, and outlives this call.
        _owner.close_dialog(l.leg.release(), *l.trunk, l.own_via());
    } else {
        bye(l.nta(), l.own_via());
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
        } else if (_invite->irq.status() < 200) {
            _invite->irq.reply(_invite->initial() ? 503 : 500,
                               phrase_for(_invite->initial() ? 503 : 500));
            _invite->orq.cancel();
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

void call::drop_transfer(bool dialog_up) {
    _transfer->close(dialog_up);
    _transfer.reset();
}

void call::release_transactions() {
    if (_transfer) {
        drop_transfer(_transfer->attended());
    }
    if (_invite && _invite->replaced) {
        // A replacing INVITE left unanswered: a call that ends takes the
        // replaced dialog with it, one that goes on keeps it.
        auto replaced = std::move(*_invite->replaced);
        _invite->replaced.reset();
        if (finished()) {
            if (replaced.confirmed) {
                bye(replaced.nta());
            }
            _retired.push_back(std::move(replaced.leg));
        } else {
            put_back(_invite->from, std::move(replaced));
        }
    }
    _reoffer.reset();
    _update.reset();  // an UPDATE still unanswered gets 500
    _timers.cancel();
    _invite.reset();  // a request still unanswered gets 500
    for (auto& r : _relays) {
        r->abandon();
    }
    _relays.clear();
}

log::context call::log_scope(side s) const {
    const auto& l = _legs[dataplane::index(s)];
    std::string peer;
    if (s == side::a) {
        peer = _source.to_string();
    } else if (l.trunk != nullptr && !_registered) {
        if (const auto* t = _owner.target_of(*l.trunk, l.peer)) {
            const auto ep = dataplane::ip_endpoint::from_string(t->host, t->port);
            peer = ep ? ep->to_string() : t->host;
        }
    }
    return log::context{display_id(), l.trunk != nullptr ? l.trunk->name : std::string{},
                        std::move(peer)};
}

std::optional<std::pair<std::string, std::size_t>> call::called_target() const {
    const auto& b = _legs[1];
    if (_registered || b.trunk == nullptr) {
        return std::nullopt;
    }
    return std::pair{b.trunk->name, b.peer};
}

}  // namespace sbc::b2bua
