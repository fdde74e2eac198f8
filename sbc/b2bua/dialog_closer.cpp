#include "sbc/b2bua/dialog_closer.hpp"

#include <algorithm>

#include "sbc/common/log.hpp"
#include "sbc/sofia/auth_headers.hpp"

namespace sbc::b2bua {

class dialog_closer::closing final : public sofia::leg_handler, public sofia::response_handler {
public:
    closing(nta_leg_t* leg, auth::credentials who, std::string trunk, std::string via)
        : _leg(leg), _who(std::move(who)), _trunk(std::move(trunk)), _via(std::move(via)) {
        nta_leg_bind(_leg, sofia::leg_trampoline, this);
        send({});
    }
    ~closing() {
        if (_bye != nullptr) {
            nta_outgoing_destroy(_bye);
        }
        nta_leg_destroy(_leg);
    }
    closing(const closing&) = delete;
    closing& operator=(const closing&) = delete;

    bool done() const noexcept { return _bye == nullptr; }

    // The peer's requests on a dialog being closed: its own BYE crossing
    // ours is fine; anything else is for a dialog that is over.
    int on_request(nta_leg_t*, nta_incoming_t*, const sip_t* sip) override {
        const auto method = sip->sip_request->rq_method;
        if (method == sip_method_bye) {
            return 200;
        }
        return method == sip_method_ack ? 0 : 481;
    }

    int on_response(nta_outgoing_t* orq, const sip_t* sip) override {
        const int status = sip != nullptr && sip->sip_status ? sip->sip_status->st_status
                                                             : nta_outgoing_status(orq);
        if (status < 200) {
            return 0;
        }
        nta_outgoing_destroy(_bye);
        _bye = nullptr;
        if ((status == 401 || status == 407) && answer(sip, status)) {
            return 0;
        }
        if (status >= 300) {
            sip_log.warn("BYE to trunk {} answered {}; its side of the call may stay up", _trunk,
                         status);
        }
        return 0;
    }

private:
    void send(const sofia::authorization& auth) {
        _bye = nta_outgoing_tcreate(
            _leg, sofia::response_trampoline, this, nullptr, SIP_METHOD_BYE, nullptr,
            TAG_IF(auth.www(), SIPTAG_AUTHORIZATION_STR(auth.value.c_str())),
            TAG_IF(auth.proxy(), SIPTAG_PROXY_AUTHORIZATION_STR(auth.value.c_str())),
            SBC_OWN_VIA(_via), TAG_END());
    }

    // RFC 3261 22.2: the same request again with credentials, as a new
    // transaction (the next CSeq); refused credentials get no second try
    // unless the nonce was only stale (RFC 7616 3.3).
    bool answer(const sip_t* sip, int status) {
        auto challenge = auth::choose_challenge(sofia::challenge_values(status, sip));
        if (!challenge || _answers >= 2 || (_answers == 1 && !challenge->stale)) {
            sip_log.warn("BYE to trunk {} challenged ({}) and not answerable", _trunk, status);
            return false;
        }
        const auto uri = sofia::remote_target(_leg);
        if (uri.empty()) {
            return false;
        }
        _nc = challenge->nonce == _nonce ? _nc + 1 : 1;
        _nonce = challenge->nonce;
        const auto value =
            auth::authorization_value(*challenge, _who, {"BYE", uri, {}}, _nc, auth::make_cnonce());
        if (value.empty()) {
            return false;
        }
        ++_answers;
        sip_log.info("BYE to trunk {} challenged ({}, realm {}); sending credentials", _trunk,
                     status, challenge->realm);
        send({status, value});
        return _bye != nullptr;
    }

    nta_leg_t* _leg;
    auth::credentials _who;
    std::string _trunk;
    std::string _via;
    nta_outgoing_t* _bye = nullptr;
    unsigned _answers = 0;
    std::string _nonce;
    std::uint32_t _nc = 0;
};

dialog_closer::dialog_closer() = default;
dialog_closer::~dialog_closer() = default;

void dialog_closer::close(nta_leg_t* leg, auth::credentials who, std::string trunk,
                          std::string via) {
    auto c = std::make_unique<closing>(leg, std::move(who), std::move(trunk), std::move(via));
    if (!c->done()) {
        _closing.push_back(std::move(c));
    }
}

void dialog_closer::reap() {
    std::erase_if(_closing, [](const auto& c) { return c->done(); });
}

void dialog_closer::abandon() {
    if (const auto left = pending(); left > 0) {
        sip_log.warn("stopping with {} BYE(s) unanswered", left);
    }
    _closing.clear();
}

std::size_t dialog_closer::pending() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(_closing.begin(), _closing.end(), [](const auto& c) { return !c->done(); }));
}

}  // namespace sbc::b2bua
