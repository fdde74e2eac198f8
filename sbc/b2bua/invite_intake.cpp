#include "sbc/b2bua/invite_intake.hpp"

#include <fmt/format.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <chrono>
#include <utility>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/common/log.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

namespace {

std::string user_of(const url_t* u) {
    return u != nullptr && u->url_user != nullptr ? u->url_user : "";
}

refusal make_refusal(int status, const char* phrase = nullptr) {
    refusal r;
    r.status = status;
    r.phrase = phrase != nullptr ? phrase : "";
    return r;
}
}  // namespace

invite_intake::invite_intake(b2bua& owner, const config::trunk_config& trunk, nta_incoming_t* irq,
                             const sip_t* sip, const dataplane::ip_endpoint& source,
                             std::uint64_t key)
    : _owner(owner), _trunk(trunk), _irq(irq), _sip(sip), _source(source), _key(key) {}

invite_intake::~invite_intake() {
    if (_inbound_held) {
        _owner.release(_trunk, true);
    }
}

int invite_intake::run() {
    // The request's own faults first, then who sends it, then what
    // admitting and routing it costs: a refusal early on spends nothing.
    static constexpr verdict (invite_intake::*checks[])() = {
        &invite_intake::check_max_forwards,    &invite_intake::check_require,
        &invite_intake::check_session_expires, &invite_intake::check_numbers,
        &invite_intake::check_draining,        &invite_intake::check_credentials,
        &invite_intake::admit_inbound,         &invite_intake::check_replaces,
        &invite_intake::check_route,           &invite_intake::choose_target,
    };
    for (; _step < std::size(checks); ++_step) {
        if (auto r = (this->*checks[_step])()) {
            return refuse(*r);
        }
        if (_taken_by_call) {
            return *_taken_by_call;
        }
        if (_waiting) {
            suspend();
            return 0;
        }
    }
    return start_call();
}

void invite_intake::suspend() {
    _held = sofia::server_transaction(_irq);
    _held.on_ack_or_cancel([this](const sip_t* s) {
        if (s != nullptr && s->sip_request != nullptr &&
            s->sip_request->rq_method == sip_method_cancel && !_cancelled) {
            // RFC 3261 9.2: nta answered the CANCEL; the INVITE gets 487.
            _cancelled = true;
            _held.reply(SIP_487_REQUEST_TERMINATED);
        }
    });
}

int invite_intake::resume(admission::decision d) {
    _waiting = false;
    _held.release();  // the transaction is the intake's (and then its call's) again
    if (_cancelled) {
        if (d) {
            _owner.release(*_asked, _asked_inbound);
        }
        return 487;  // answered already: the b2bua lets the transaction go
    }
    _answer = d;
    const int status = run();
    if (_answer && *_answer) {
        // The check that asked did not take it (a peer went down, a binding
        // expired meanwhile): the slot goes back.
        _owner.release(*_asked, _asked_inbound);
    }
    _answer.reset();
    return status;
}

std::optional<admission::decision> invite_intake::decide(const config::trunk_config& t,
                                                         bool inbound) {
    if (_answer && _asked == &t && _asked_inbound == inbound) {
        auto d = _answer;
        _answer.reset();
        return d;
    }
    if (_answer) {
        // An answer for another trunk, not taken: its slot goes back.
        if (*_answer) {
            _owner.release(*_asked, _asked_inbound);
        }
        _answer.reset();
    }
    const auto key = _key;
    auto& owner = _owner;
    auto d = _owner.admit_or_ask(
        t, inbound, [&owner, key](admission::decision a) { owner.resume_intake(key, a); });
    if (!d) {
        _waiting = true;
        _asked = &t;
        _asked_inbound = inbound;
    }
    return d;
}

invite_intake::verdict invite_intake::check_max_forwards() {
    if (_sip->sip_max_forwards != nullptr && _sip->sip_max_forwards->mf_count == 0) {
        return make_refusal(483);  // RFC 3261 16.3 step 3 / 8.2: no hops left
    }
    return std::nullopt;
}

invite_intake::verdict invite_intake::check_require() {
    if (_sip->sip_require == nullptr || _sip->sip_require->k_items == nullptr) {
        return std::nullopt;
    }
    // RFC 3261 8.2.2.3: every extension the caller requires must be one we do.
    std::string unsupported;
    for (size_t i = 0; _sip->sip_require->k_items[i] != nullptr; ++i) {
        const char* item = _sip->sip_require->k_items[i];
        if (!su_casematch(item, "100rel") && !su_casematch(item, "timer")) {
            unsupported += (unsupported.empty() ? "" : ", ") + std::string(item);
        }
    }
    if (unsupported.empty()) {
        return std::nullopt;
    }
    auto r = make_refusal(SIP_420_BAD_EXTENSION);
    r.unsupported = std::move(unsupported);
    return r;
}

invite_intake::verdict invite_intake::check_session_expires() {
    if (_sip->sip_session_expires == nullptr ||
        _sip->sip_session_expires->x_delta >= _trunk.session_timer.min_se) {
        return std::nullopt;
    }
    // RFC 4028 6: too short an interval is refused with our minimum.
    auto r = make_refusal(SIP_422_SESSION_TIMER_TOO_SMALL);
    r.min_se = std::to_string(_trunk.session_timer.min_se);
    return r;
}

invite_intake::verdict invite_intake::check_numbers() {
    _received = {user_of(_sip->sip_request->rq_url), user_of(_sip->sip_from->a_url),
                 user_of(_sip->sip_to->a_url)};
    if (_received.ruri.size() > policy::max_number_length) {
        return make_refusal(414);  // RFC 3261 21.4.12; no dial plan has numbers this long
    }
    if (_received.from.size() > policy::max_number_length ||
        _received.to.size() > policy::max_number_length) {
        return make_refusal(400, "From or To user too long");
    }
    _numbers = _owner.normalizer(_trunk).inbound.apply(_received);
    return std::nullopt;
}

invite_intake::verdict invite_intake::check_draining() {
    if (!_owner._drain.refuses_new_calls()) {
        return std::nullopt;
    }
    // An INVITE whose Replaces names one of our dialogs is a transfer within
    // a call in progress (RFC 3891), which a drain lets finish; check_replaces
    // decides what becomes of it.
    const auto* rp = _sip->sip_replaces;
    if (rp != nullptr && rp->rp_call_id != nullptr && rp->rp_to_tag != nullptr &&
        rp->rp_from_tag != nullptr &&
        _owner.leg_of_dialog({rp->rp_call_id, rp->rp_to_tag, rp->rp_from_tag, false}) != nullptr) {
        return std::nullopt;
    }
    // RFC 3261 21.5.4 and 20.33: this node is going away; the caller's
    // proxy tries another (RFC 3263 4.3).
    auto r = make_refusal(SIP_503_SERVICE_UNAVAILABLE);
    r.retry_after = std::to_string(_owner._drain.retry_after(drain_state::clock::now()));
    r.cdr_reason = "Service Unavailable (draining)";
    return r;
}

invite_intake::verdict invite_intake::check_credentials() {
    if (!_trunk.challenge) {
        return std::nullopt;
    }
    bool stale = false;
    const std::string_view body =
        _sip->sip_payload != nullptr
            ? std::string_view(_sip->sip_payload->pl_data, _sip->sip_payload->pl_len)
            : std::string_view();
    const char* called = _sip->sip_request->rq_url->url_user;
    if (_owner.authenticated(_trunk.name, *_trunk.challenge, _sip->sip_proxy_authorization,
                             "INVITE", body, called != nullptr ? called : "", stale)) {
        return std::nullopt;
    }
    // RFC 3261 22.3: as the caller's next hop the SBC asks with 407.
    auto r = make_refusal(SIP_407_PROXY_AUTH_REQUIRED);
    r.proxy_authenticate = _owner.challenge_value(*_trunk.challenge, stale);
    // The first INVITE of every authenticated call is challenged: only a
    // refused answer is a call attempt worth a record.
    if (_sip->sip_proxy_authorization != nullptr) {
        r.cdr_reason = "Proxy Authentication Required (credentials refused)";
    }
    return r;
}

invite_intake::verdict invite_intake::admit_inbound() {
    const auto d = decide(_trunk, true);
    if (!d) {
        return std::nullopt;  // waiting
    }
    if (!*d) {
        return over_limit(_trunk, *d, "inbound");
    }
    // From here on every refusal gives the slot back (~invite_intake).
    _inbound_held = true;
    return std::nullopt;
}

invite_intake::verdict invite_intake::check_replaces() {
    const auto* rp = _sip->sip_replaces;
    if (rp == nullptr) {
        return std::nullopt;
    }
    // RFC 3891: the caller means to take the place of the party in one of
    // our dialogs. That dialog's far end is the callee, whatever the routes
    // say, and it gets the Replaces that names its own dialog.
    call_leg* named = nullptr;
    if (rp->rp_call_id != nullptr && rp->rp_to_tag != nullptr && rp->rp_from_tag != nullptr) {
        named = _owner.leg_of_dialog({rp->rp_call_id, rp->rp_to_tag, rp->rp_from_tag, false});
    }
    if (named != nullptr && rp->rp_early_only && named->confirmed) {
        // RFC 3891 3: early-only names a confirmed dialog: 486.
        sip_log.info("INVITE from trunk {} replaces confirmed dialog {} early-only: 486",
                     _trunk.name, rp->rp_call_id);
        auto r = make_refusal(486);
        r.cdr_reason = "Busy Here (Replaces early-only)";
        return r;
    }
    if (named != nullptr && !rp->rp_early_only && named->_call.terminates_replaces(named->_side)) {
        // The other leg's trunk takes no Replaces: the SBC accepts the
        // INVITE itself, in the named call (replacing_invite.cpp).
        const int status = named->_call.take_replacing_invite(named->_side, _trunk, _irq, _sip);
        if (status == 0) {
            _inbound_held = false;  // the call holds the slot now
        }
        _taken_by_call = status;
        return std::nullopt;
    }
    if (named != nullptr && !rp->rp_early_only) {
        _replacing = named->_call.replacement_for(named->_side);
    }
    if (!_replacing) {
        // RFC 3891 3: no such dialog (or none that can be replaced).
        sip_log.info("INVITE from trunk {} replaces dialog {}: not ours or not up, 481",
                     _trunk.name, rp->rp_call_id != nullptr ? rp->rp_call_id : "");
        auto r = make_refusal(481);
        r.cdr_reason = "Call/Transaction Does Not Exist (Replaces)";
        return r;
    }
    sip_log.info("INVITE from trunk {} replaces call {}'s dialog: to {} on trunk {}", _trunk.name,
                 named->_call.display_id(), _replacing->target.contact, _replacing->trunk->name);
    return std::nullopt;
}

invite_intake::verdict invite_intake::check_route() {
    if (_replacing) {
        return std::nullopt;  // not routed: the replaced dialog's far end is the callee
    }
    _request = policy::make_request(_trunk, _numbers, _source, std::chrono::system_clock::now());
    _route = _owner._router.match(_request);
    if (_route == nullptr) {
        if (_owner._refusal_log.allow()) {
            sip_log.info("INVITE for '{}' from trunk {}: no route, 404", _numbers.ruri,
                         _trunk.name);
        }
        auto r = make_refusal(404);
        r.cdr_reason = "Not Found (no route)";
        return r;
    }
    if (!_route->reject) {
        return std::nullopt;
    }
    const auto code = static_cast<int>(_route->reject->code);
    sip_log.info("INVITE for '{}' from trunk {}: route {} rejects it with {}", _numbers.ruri,
                 _trunk.name, _route->name, _route->reject->code);
    const char* phrase =
        _route->reject->reason.empty() ? sip_status_phrase(code) : _route->reject->reason.c_str();
    auto r = make_refusal(code, phrase != nullptr ? phrase : "Rejected");
    r.cdr_reason = r.phrase;
    return r;
}

invite_intake::verdict invite_intake::choose_target() {
    if (_replacing) {
        return admit_replacement();
    }
    // The first trunk of the route that has a peer up and can take the
    // INVITE; the ones after it are tried when it fails (call::next_trunk).
    const auto& names = _route->to_trunks;
    for (; _trunk_index < names.size(); ++_trunk_index) {
        const auto* t = _owner.cfg().find_trunk(names[_trunk_index]);
        if (_target != nullptr) {
            _next_trunks.push_back(t);
            continue;
        }
        consider(*t, _search);
        if (_waiting) {
            return std::nullopt;  // resumed at this trunk
        }
    }
    return _target != nullptr ? std::nullopt : no_target(_search);
}

void invite_intake::consider(const config::trunk_config& t, target_search& search) {
    if (t.registrar) {
        // The callee is whoever registered the dialled number's user; the
        // binding goes with the call only when this trunk is its target.
        const auto user = _owner.normalizer(t).outbound.apply(config::field_ruri, _numbers.ruri);
        auto found = _owner._locations.at(t.name).lookup(user, std::chrono::steady_clock::now());
        if (!found) {
            search.unregistered = true;
            return;
        }
        const auto d = decide(t, false);
        if (!d) {
            return;  // waiting
        }
        if (*d) {
            _target = &t;
            _registered = std::move(found);
        } else if (!search.over_limit) {
            search.over_limit.emplace(&t, *d);
        }
    } else if (t.early_offer == config::early_offer_policy::reject && !has_sdp(_sip)) {
        search.delayed_refused = true;
    } else if (_owner.choose_peer(t, {})) {
        const auto d = decide(t, false);
        if (!d) {
            return;  // waiting
        }
        if (*d) {
            _target = &t;
        } else if (!search.over_limit) {
            search.over_limit.emplace(&t, *d);
        }
    } else if (_owner._refusal_log.allow()) {
        sip_log.warn("INVITE from trunk {}: every peer of trunk {} is down", _trunk.name, t.name);
        // A name with no targets is why, when it is (never a wait for DNS).
        _owner.note_unresolved(t, "INVITE from trunk " + _trunk.name);
    }
}

invite_intake::verdict invite_intake::no_target(const target_search& search) const {
    if (search.delayed_refused) {
        // RFC 3261 21.4.26 and 20.43: 488, with a Warning saying why (as
        // refuse_delayed_offer() words it for a call's later trunks).
        const auto& to = *_owner.cfg().find_trunk(_route->to_trunks.front());
        sip_log.info("INVITE without SDP towards trunk {} (early_offer: reject): 488", to.name);
        auto r = make_refusal(SIP_488_NOT_ACCEPTABLE);
        r.warning = sofia::warning_value(
            "sbc", fmt::format("trunk {} requires an SDP offer in the INVITE", to.name));
        r.cdr_reason = "Not Acceptable Here";
        return r;
    }
    if (search.over_limit) {
        return over_limit(*search.over_limit->first, search.over_limit->second, "outbound");
    }
    if (search.unregistered) {
        // RFC 3261 21.4.18: the callee is known but not reachable now.
        auto r = make_refusal(480);
        r.cdr_reason = "Temporarily Unavailable (not registered)";
        return r;
    }
    auto r = make_refusal(503);
    r.cdr_reason = "Service Unavailable (no peer up)";
    return r;
}

invite_intake::verdict invite_intake::admit_replacement() {
    // Admitted as any call to the far end's trunk.
    if (auto d = _owner.admit(*_replacing->trunk, false); !d) {
        return over_limit(*_replacing->trunk, d, "outbound");
    }
    _target = _replacing->trunk;
    _registered = std::move(_replacing->target);
    return std::nullopt;
}

refusal invite_intake::over_limit(const config::trunk_config& t, const admission::decision& d,
                                  const char* direction) const {
    if (_owner._refusal_log.allow()) {
        sip_log.warn("INVITE from trunk {}: trunk {} is over its {} {} limit, 503", _trunk.name,
                     t.name, direction, admission::to_string(d.what));
    }
    // RFC 3261 21.5.4 and 20.33: come back when a slot or a token is free.
    auto r = make_refusal(SIP_503_SERVICE_UNAVAILABLE);
    r.retry_after = std::to_string(d.retry_after);
    r.cdr_reason = fmt::format("Service Unavailable ({} {})", direction,
                               d.what == admission::verdict::too_many_calls ? "max_calls" : "cps");
    return r;
}

int invite_intake::refuse(const refusal& r) {
    sofia::treply(_irq, r.status, r.phrase.empty() ? nullptr : r.phrase.c_str(),
                  TAG_IF(!r.unsupported.empty(), SIPTAG_UNSUPPORTED_STR(r.unsupported.c_str())),
                  TAG_IF(!r.min_se.empty(), SIPTAG_MIN_SE_STR(r.min_se.c_str())),
                  TAG_IF(!r.proxy_authenticate.empty(),
                         SIPTAG_PROXY_AUTHENTICATE_STR(r.proxy_authenticate.c_str())),
                  TAG_IF(!r.retry_after.empty(), SIPTAG_RETRY_AFTER_STR(r.retry_after.c_str())),
                  TAG_IF(!r.warning.empty(), SIPTAG_WARNING_STR(r.warning.c_str())));
    if (r.cdr_reason) {
        _owner.refused_cdr(_sip, _irq, _trunk, _route, _received, _numbers, r.status,
                           r.cdr_reason->c_str());
    }
    // Answered: nta's dispatch (b2bua's complete()) sees the final status
    // sent and lets the transaction go once its timers are done.
    return r.status;
}

cdr::record invite_intake::seed(const std::string& route_name) const {
    cdr::record seed;
    seed.call_id = _sip->sip_call_id != nullptr && _sip->sip_call_id->i_id != nullptr
                       ? _sip->sip_call_id->i_id
                       : "";
    seed.start = cdr::wall_clock::now();
    seed.source = _source.to_string();
    seed.from_trunk = _trunk.name;
    seed.route = route_name;
    seed.received = {_received.ruri, _received.from, _received.to};
    seed.normalized = {_numbers.ruri, _numbers.from, _numbers.to};
    return seed;
}

int invite_intake::start_call() {
    const std::string route_name = _route != nullptr ? _route->name : "replaces";
    const auto id = _owner._next_call_id++;
    auto c = std::make_unique<call>(_owner, id, _trunk, *_target);
    c->set_route(_route, std::move(_next_trunks), _numbers, seed(route_name), _source);
    if (_registered) {
        c->set_registered_target(std::move(*_registered));
    }
    c->set_replaces(_replacing ? std::move(_replacing->replaces) : std::string());
    c->hold_admission(true, true);  // the call gives both slots back when it ends
    _inbound_held = false;
    const int status = c->start(_irq, _sip);
    if (status != 0) {
        _owner.refused_cdr(_sip, _irq, _trunk, _route, _received, _numbers,
                           status > 0 ? status : 488,
                           status > 0 ? sip_status_phrase(status) : "Not Acceptable Here");
        return status > 0 ? status : 0;  // < 0: start() answered already
    }
    sip_log.info("call {}: {} -> {} by route {}", c->display_id(), _trunk.name, _target->name,
                 route_name);
    _owner._calls.emplace(id, std::move(c));
    return 0;
}

}  // namespace sbc::b2bua
