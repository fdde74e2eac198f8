// The SBC's side of ICE connectivity checks as an ICE-lite agent (RFC 8445
// 2.5): given a STUN datagram that arrived on a media port whose side has ICE
// credentials, decide whether it is a Binding request that passes the
// checks, and write the response (success or error) that goes back from the
// same port to where it came from. A lite agent sends no checks of its own
// and is always the controlled agent (RFC 8445 6.1.1).
//
// The checks, in RFC 8489 6.3's order:
// 1. basic processing: a well-formed STUN message (stun::parse), a Binding
//    request (indications, the keepalives of RFC 8445 11, and responses are
//    dropped), whose FINGERPRINT is present and right (RFC 8445 7.2.4 has
//    checks carry it; RFC 8489 6.3: a message failing it is discarded);
// 2. the short-term credential mechanism (RFC 8489 9.1.3): without USERNAME
//    or a MESSAGE-INTEGRITY(-SHA256), 400; a USERNAME other than
//    "<local ufrag>:<remote ufrag>" (RFC 8445 7.3), or an integrity value
//    that does not verify with the local password, 401. These responses
//    carry no integrity attribute (RFC 8489 9.1.3: the server cannot know
//    the key);
// 3. unknown comprehension-required attributes: 420 with UNKNOWN-ATTRIBUTES
//    (RFC 8489 6.3.1);
// 4. the role (RFC 8445 7.3.1.1): a request saying its sender is controlled
//    (ICE-CONTROLLED) conflicts with the lite agent, which cannot take the
//    controlling role: 487, the agent keeps its role;
// 5. a success response with XOR-MAPPED-ADDRESS (the request's source, RFC
//    8445 7.3.1.2).
// Every response ends with FINGERPRINT; those of checks 3 to 5 carry
// MESSAGE-INTEGRITY-SHA256 when the request did, else MESSAGE-INTEGRITY
// (RFC 8489 9.1.3), under the local password.
//
// A request that passes and carries USE-CANDIDATE nominates the pair of
// the port it arrived on and its source (RFC 8445 7.3.2, 8.2): answer
// reports it, with the request's PRIORITY, for the relay to act on.
//
// Object graph: the control thread makes one per side's credentials
// (media_engine::set_ice_credentials), which the side's relay_session
// borrows; it is immutable after construction, so the worker calls
// respond() without any synchronisation. respond() allocates nothing and
// throws nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "dataplane/api/ice_credentials.hpp"
#include "dataplane/api/ip_endpoint.hpp"
#include "dataplane/core/stun.hpp"

namespace sbc::dataplane {

class ice_responder {
public:
    /// Room a response needs in respond()'s `out`: the largest one (a 420
    /// listing stun::message::max_unknown attributes, or a success with an
    /// IPv6 address and MESSAGE-INTEGRITY-SHA256) fits in it.
    static constexpr std::size_t max_response = 128;

    /// `credentials` must be usable (ice_credentials::invalid_because()
    /// empty). Control thread.
    explicit ice_responder(const ice_credentials& credentials);
    ice_responder(const ice_responder&) = delete;
    ice_responder& operator=(const ice_responder&) = delete;

    enum class verdict : std::uint8_t {
        drop,     ///< nothing to send back
        success,  ///< a Binding success response is in `out`
        error,    ///< a Binding error response is in `out`
    };
    /// Why a datagram was dropped (verdict::drop), for tests and counters.
    enum class drop_reason : std::uint8_t {
        none,
        malformed,        ///< not a STUN message, or one that does not add up
        not_request,      ///< an indication, a response, or not the Binding method
        bad_fingerprint,  ///< FINGERPRINT missing or wrong
        no_room,          ///< `out` cannot hold the response
    };
    struct answer {
        verdict what = verdict::drop;
        drop_reason why = drop_reason::none;
        std::size_t length = 0;      ///< the response's octets in `out` (success, error)
        unsigned error_code = 0;     ///< error: 400, 401, 420 or 487
        bool nominated = false;      ///< success: the request carried USE-CANDIDATE
        std::uint32_t priority = 0;  ///< success: its PRIORITY (RFC 8445 7.1.1), 0 if none
    };

    /// Checks `request` (a datagram from `source`) and writes the response
    /// to `out`, which may be the request's own buffer (the response then
    /// replaces it: everything needed is read before anything is written).
    /// Any thread; allocates nothing.
    answer respond(std::span<const std::uint8_t> request, const ip_endpoint& source,
                   std::span<std::uint8_t> out) const noexcept;

    const ice_credentials& credentials() const noexcept { return _credentials; }

    /// Whether going from `before` (null: none) to `after` (null: none) is an
    /// ICE restart (RFC 8445 9: new local credentials), as opposed to the
    /// same credentials or only the peer's ufrag learnt from its SDP.
    static bool restarts(const ice_responder* before, const ice_credentials* after) noexcept;

private:
    bool username_valid(std::string_view username) const noexcept;

    const ice_credentials _credentials;
    const stun::integrity_key _key;  // of _credentials.local_pwd
};

}  // namespace sbc::dataplane
