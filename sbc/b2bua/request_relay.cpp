// In-dialog requests that carry no offer (INFO, MESSAGE), relayed from one
// leg to the other with the receiving trunk's header rules, and DTMF the
// data plane heard, sent as INFO.

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/request_relay.hpp"
#include "sbc/policy/header_filter.hpp"
#include "sbc/policy/header_rules.hpp"
#include "sbc/sofia/reply.hpp"
#include "transcoder/dtmf/info_body.hpp"

namespace sbc::b2bua {

using namespace support;

void call::on_media_dtmf(side from, char digit, std::uint32_t duration_ms) {
    auto& to = leg(dataplane::other(from));
    if (!to.confirmed || to.nta() == nullptr) {
        return;
    }
    // The de facto format of SIP INFO DTMF (application/dtmf-relay: Signal
    // and Duration lines), as PBXs and carriers send and take it.
    const auto body = transcoder::dtmf::format_dtmf_relay(digit, duration_ms);
    if (body.empty()) {
        return;
    }
    forget_finished_relays();
    auto relay = std::make_unique<request_relay>(
        *this, sofia::server_transaction(),
        request_relay::request{.to = to._side,
                               .method_id = sip_method_info,
                               .method = "INFO",
                               .content_type = "application/dtmf-relay",
                               .body = body,
                               .headers = {}});
    if (!relay->send()) {
        sip_log.warn("call {}: cannot send INFO for DTMF {} to trunk {}", display_id(), digit,
                     to.trunk->name);
        return;
    }
    sip_log.info("call {}: DTMF {} ({} ms) to trunk {} as INFO", display_id(), digit, duration_ms,
                 to.trunk->name);
    _relays.push_back(std::move(relay));
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

int call::relay_request(call_leg& from, sofia::server_transaction& request, const sip_t* sip) {
    auto& to = leg(dataplane::other(from._side));
    if (!to.confirmed) {
        return 481;
    }
    if (sip->sip_request->rq_method == sip_method_info && _media.has_chains() &&
        from.trunk->dtmf == config::dtmf_mode::info && to.trunk->dtmf != config::dtmf_mode::info &&
        sip->sip_content_type != nullptr && sip->sip_content_type->c_type != nullptr) {
        // A digit from an INFO trunk, for a leg that takes events or tones:
        // the data plane carries it; the INFO ends here.
        if (auto d = transcoder::dtmf::parse_info(sip->sip_content_type->c_type, body_of(sip))) {
            sip_log.info("call {}: DTMF {} ({} ms) from trunk {} by INFO", display_id(), d->symbol,
                         d->duration_ms, from.trunk->name);
            _media.send_dtmf(from._side, d->symbol, d->duration_ms);
            return 200;
        }
    }
    request_relay::request r{.to = to._side,
                             .method_id = sip->sip_request->rq_method,
                             .method = sip->sip_request->rq_method_name,
                             .content_type = {},
                             .body = std::string(body_of(sip)),
                             .headers = relayed_headers(sip, from, to)};
    if (const auto* ct = sip->sip_content_type; ct != nullptr && ct->c_type != nullptr) {
        r.content_type = ct->c_type;
        for (auto* p = ct->c_params; p != nullptr && *p != nullptr; ++p) {
            r.content_type += fmt::format(";{}", *p);
        }
    }
    forget_finished_relays();
    auto relay = std::make_unique<request_relay>(*this, std::move(request), std::move(r));
    if (!relay->send()) {
        return 0;  // the relay's server transaction answered 500 as it went
    }
    _relays.push_back(std::move(relay));
    return 0;
}

void call::forget_finished_relays() {
    std::erase_if(_relays, [](const auto& r) { return r->done(); });
}

request_relay::request_relay(call& owner, sofia::server_transaction from, request r)
    : _call(owner), _from(std::move(from)), _request(std::move(r)) {}

bool request_relay::send(const sofia::authorization& auth) {
    auto& to = _call.leg(_request.to);
    const bool body = !_request.content_type.empty();
    // The body as it came (it may hold any bytes); nta copies it.
    sip_payload_t payload[1];
    sip_payload_init(payload);
    payload->pl_data = const_cast<char*>(_request.body.data());
    payload->pl_len = _request.body.size();
    const auto via = to.own_via();
    _out = sofia::client_transaction::send(
        to.nta(), [this](const sofia::response& r) { on_response(r); }, nullptr, _request.method_id,
        _request.method.c_str(), nullptr,
        TAG_IF(body, SIPTAG_CONTENT_TYPE_STR(_request.content_type.c_str())),
        TAG_IF(body, SIPTAG_PAYLOAD(payload)),
        TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
        TAG_IF(!_request.headers.empty(), SIPTAG_HEADER_STR(_request.headers.c_str())),
        SBC_OWN_VIA(via));
    return static_cast<bool>(_out);
}

void request_relay::abandon() {
    if (_from && !_from.answered()) {
        _from.reply(SIP_481_NO_TRANSACTION);
    }
    _out = {};
    _done = true;
}

void request_relay::on_response(const sofia::response& r) {
    if (r.provisional() || _done) {
        return;
    }
    if (r.status == 401 || r.status == 407) {
        const auto auth = _call.in_dialog_credentials(
            _call.leg(_request.to), r.sip, r.status, _request.method, _request.body, _auth_answers);
        if (!auth.empty()) {
            // RFC 3261 22.2: the same request again, a new transaction.
            if (send(auth)) {
                return;
            }
            _from.reply(SIP_500_INTERNAL_SERVER_ERROR);
            _done = true;
            return;
        }
    }
    if (_from) {  // empty: a request of the SBC's own (DTMF INFO)
        _from.reply(r.status, phrase_for(r.status));
    }
    _done = true;
}

}  // namespace sbc::b2bua
