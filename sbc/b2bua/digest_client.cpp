// The SBC as a digest client (RFC 3261 22.2, RFC 7616) towards trunks with
// credentials: the initial INVITE's challenges and in-dialog ones.

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_string.h>
#include <sofia-sip/su_tag.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "sbc/auth/digest.hpp"
#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/msg_ref.hpp"

namespace sbc::b2bua {

using namespace support;

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
    adopt_invite(issue_invite(_offer, {status, value}));
    return static_cast<bool>(inv.orq);
}

sofia::authorization call::in_dialog_credentials(const dialog& l, const sip_t* sip, int status,
                                                 std::string_view method, std::string_view body,
                                                 unsigned& answers, std::string uri) {
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
    if (uri.empty()) {
        uri = sofia::remote_target(l.nta());
    }
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
    adopt_invite(send_reinvite(to, inv.offer_sent, inv.headers_sent, auth));
    return static_cast<bool>(inv.orq);
}

}  // namespace sbc::b2bua
