#include "sbc/b2bua/digest_client.hpp"

#include "sbc/auth/digest.hpp"
#include "sbc/b2bua/call_support.hpp"

namespace sbc::b2bua {

sofia::authorization digest_client::answer(const config::trunk_config& trunk, const sip_t* sip,
                                           int status, std::string_view method,
                                           std::string_view uri, std::string_view body,
                                           unsigned& answers) {
    if (sip == nullptr || uri.empty()) {
        return {};
    }
    if (!trunk.auth) {
        refused(trunk, "no_credentials");
        return {};
    }
    // RFC 3261 22.2/22.3: the retry carries the credentials header that
    // matches the challenge's.
    auto challenge = auth::choose_challenge(sofia::challenge_values(status, sip));
    if (!challenge) {
        sip_log.warn(
            "call {}: trunk {} sent {} to a {} with no digest challenge the SBC can answer",
            _log_id, trunk.name, status, method);
        refused(trunk, "unsupported_challenge");
        return {};
    }
    // Credentials refused once: only a stale nonce (RFC 7616 3.3) earns another try.
    if (answers >= 2 || (answers == 1 && !challenge->stale)) {
        sip_log.warn("call {}: trunk {} refused the SBC's credentials for a {} ({})", _log_id,
                     trunk.name, method, status);
        refused(trunk, "refused");
        return {};
    }
    if (challenge->nonce != _nonce) {
        _nonce = challenge->nonce;
        _nc = 0;
    }
    auto value = auth::authorization_value(*challenge, {trunk.auth->username, trunk.auth->password},
                                           {method, uri, body}, ++_nc, auth::make_cnonce());
    if (value.empty()) {
        refused(trunk, "unsupported_challenge");  // no hash for its algorithm here
        return {};
    }
    ++answers;
    sip_log.info("call {}: trunk {} challenged a {} ({}, realm {}); sending credentials", _log_id,
                 trunk.name, method, status, challenge->realm);
    return {status, std::move(value)};
}

void digest_client::refused(const config::trunk_config& trunk, std::string_view reason) {
    if (_tally != nullptr) {
        _tally->count_digest_refusal(trunk.name, false, reason);
    }
}

}  // namespace sbc::b2bua
