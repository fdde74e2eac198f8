// ice_responder: the checks of a connectivity check, in the order the top of
// ice_responder.hpp gives, and the response they lead to.
#include "dataplane/core/ice_responder.hpp"

#include <algorithm>
#include <array>

namespace sbc::dataplane {

namespace {

// RFC 8489 14.8's recommended reason phrases; RFC 8445 19.2 adds 487's.
std::string_view reason_of(unsigned code) noexcept {
    switch (code) {
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthenticated";
        case 420:
            return "Unknown Attribute";
        case 487:
            return "Role Conflict";
        default:
            return {};
    }
}

std::uint32_t value32(std::span<const std::uint8_t> v) noexcept {
    return v.size() < 4 ? 0
                        : (std::uint32_t{v[0]} << 24) | (std::uint32_t{v[1]} << 16) |
                              (std::uint32_t{v[2]} << 8) | std::uint32_t{v[3]};
}

}  // namespace

ice_responder::ice_responder(const ice_credentials& credentials)
    : _credentials(credentials), _key(credentials.local_pwd) {}

bool ice_responder::restarts(const ice_responder* before, const ice_credentials* after) noexcept {
    if (before == nullptr || after == nullptr) {
        return true;
    }
    const auto& b = before->_credentials;
    return b.local_ufrag != after->local_ufrag || b.local_pwd != after->local_pwd;
}

bool ice_responder::username_valid(std::string_view username) const noexcept {
    // RFC 8445 7.3: "LFRAG:RFRAG", the receiver's fragment first. Before the
    // peer's SDP has come, any non-empty RFRAG (RFC 8445 7.3: checks may
    // arrive before the answer).
    const std::string_view local = _credentials.local_ufrag;
    const std::string_view remote = _credentials.remote_ufrag;
    if (username.size() <= local.size() || username.substr(0, local.size()) != local ||
        username[local.size()] != ':') {
        return false;
    }
    const auto rest = username.substr(local.size() + 1);
    return remote.empty() ? !rest.empty() : rest == remote;
}

ice_responder::answer ice_responder::respond(std::span<const std::uint8_t> request,
                                             const ip_endpoint& source,
                                             std::span<std::uint8_t> out) const noexcept {
    answer a;
    stun::message m;
    if (stun::parse(request, m) != stun::parse_error::none) {
        a.why = drop_reason::malformed;
        return a;
    }
    if (m.type != stun::type::binding_request) {
        a.why = drop_reason::not_request;
        return a;
    }
    if (!stun::fingerprint_valid(m)) {
        a.why = drop_reason::bad_fingerprint;
        return a;
    }

    // Everything the response needs is taken from `m` before `out`, which
    // may be the request's buffer, is written.
    const bool sha256 = m.message_integrity_sha256.present();
    unsigned code = 0;
    if (!m.username.present() || (!sha256 && !m.message_integrity.present())) {
        code = 400;
    } else if (!username_valid(m.text(m.username)) ||
               !(sha256 ? stun::integrity_sha256_valid(m, _key) : stun::integrity_valid(m, _key))) {
        code = 401;
    } else if (m.unknown_count > 0) {
        code = 420;
    } else if (m.ice_controlled.present()) {
        code = 487;
    }
    const bool authenticated = code == 0 || code == 420 || code == 487;
    std::array<std::uint16_t, stun::message::max_unknown> unknown = m.unknown;
    const std::size_t unknown_count = std::min(m.unknown_count, unknown.size());
    const bool nominated = m.use_candidate.present();
    const std::uint32_t priority = value32(m.value(m.priority));

    stun::writer w(out, code == 0 ? stun::type::binding_success : stun::type::binding_error, m.id);
    if (code == 0) {
        w.add_xor_address(stun::attribute::xor_mapped_address, source);
    } else {
        w.add_error_code(code, reason_of(code));
        if (code == 420) {
            w.add_unknown_attributes(std::span<const std::uint16_t>(unknown.data(), unknown_count));
        }
    }
    if (authenticated) {
        if (sha256) {
            w.add_message_integrity_sha256(_key);
        } else {
            w.add_message_integrity(_key);
        }
    }
    w.add_fingerprint();
    if (!w.ok()) {
        a.why = drop_reason::no_room;
        return a;
    }
    a.what = code == 0 ? verdict::success : verdict::error;
    a.length = w.size();
    a.error_code = code;
    a.nominated = code == 0 && nominated;
    a.priority = code == 0 ? priority : 0;
    return a;
}

}  // namespace sbc::dataplane
