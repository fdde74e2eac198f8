// The SBC as a digest client (RFC 3261 22.2, RFC 7616) towards the trunks
// of one call: the Authorization or Proxy-Authorization that answers a
// 401/407 to one of its requests, with the trunk's credentials.
//
// It keeps what RFC 7616 asks a client to keep across requests: the nonce
// in use and its nonce count (3.4), so the call's requests count up on one
// nonce whichever operation sends them. Each operation counts its own
// answers: credentials refused once earn another try only when the new
// challenge says the nonce was stale (3.3).
//
// Object graph: a call owns one; it borrows nothing. Control thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sbc/config/config.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua {

class digest_client {
public:
    /// `log_id` names the call in log lines.
    explicit digest_client(std::string log_id) : _log_id(std::move(log_id)) {}

    /// The answer to the 401/407 `sip` (`status`) to a `method` request
    /// for `uri` with `body`, sent on `trunk`, counting it in `answers`;
    /// empty, logged, when the trunk has no credentials, the challenge
    /// cannot be answered, or an answer was refused already.
    sofia::authorization answer(const config::trunk_config& trunk, const sip_t* sip, int status,
                                std::string_view method, std::string_view uri,
                                std::string_view body, unsigned& answers);

private:
    std::string _log_id;
    std::string _nonce;
    std::uint32_t _nc = 0;
};

}  // namespace sbc::b2bua
