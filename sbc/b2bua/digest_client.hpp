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

#include "sbc/b2bua/call_tally.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sofia/auth_headers.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua {

class digest_client {
public:
    /// `log_id` names the call in log lines; `tally` (borrowed, may be
    /// null) counts the challenges that could not be answered.
    explicit digest_client(std::string log_id, call_tally* tally = nullptr)
        : _log_id(std::move(log_id)), _tally(tally) {}

    /// The answer to the 401/407 `sip` (`status`) to a `method` request
    /// for `uri` with `body`, sent on `trunk`, counting it in `answers`;
    /// empty, logged and counted as an outbound digest refusal, when the
    /// trunk has no credentials, the challenge cannot be answered, or an
    /// answer was refused already.
    sofia::authorization answer(const config::trunk_config& trunk, const sip_t* sip, int status,
                                std::string_view method, std::string_view uri,
                                std::string_view body, unsigned& answers);

private:
    void refused(const config::trunk_config& trunk, std::string_view reason);

    std::string _log_id;
    call_tally* _tally;
    std::string _nonce;
    std::uint32_t _nc = 0;
};

}  // namespace sbc::b2bua
