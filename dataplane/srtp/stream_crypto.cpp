#include "dataplane/srtp/stream_crypto.hpp"

#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include <algorithm>
#include <array>
#include <climits>
#include <string>

#include "dataplane/srtp/crypto_backend.hpp"

namespace sbc::dataplane::srtp {

namespace {

struct suite_policy {
    suite s;
    void (*rtp)(srtp_crypto_policy_t*);
    void (*rtcp)(srtp_crypto_policy_t*);
    std::size_t master;
};

// The _32 suites shorten the SRTP tag only: SRTCP keeps its 80-bit tag
// (RFC 4568 6.2.2, RFC 6188 7.1; RFC 3711 7.5 on why a short tag suits RTP
// alone).
constexpr suite_policy policies[] = {
    {suite::aes_cm_128_hmac_sha1_80, srtp_crypto_policy_set_rtp_default,
     srtp_crypto_policy_set_rtp_default, 30},
    {suite::aes_cm_128_hmac_sha1_32, srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32,
     srtp_crypto_policy_set_rtp_default, 30},
    {suite::aead_aes_128_gcm, srtp_crypto_policy_set_aes_gcm_128_16_auth,
     srtp_crypto_policy_set_aes_gcm_128_16_auth, 28},
    {suite::aead_aes_256_gcm, srtp_crypto_policy_set_aes_gcm_256_16_auth,
     srtp_crypto_policy_set_aes_gcm_256_16_auth, 44},
    {suite::aes_256_cm_hmac_sha1_80, srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
     srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 46},
    {suite::aes_256_cm_hmac_sha1_32, srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32,
     srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 46},
};

const suite_policy& policy_of(suite s) noexcept {
    for (const auto& p : policies) {
        if (p.s == s) {
            return p;
        }
    }
    return policies[0];
}

outcome to_outcome(srtp_err_status_t status) noexcept {
    switch (status) {
        case srtp_err_status_ok:
            return outcome::ok;
        case srtp_err_status_auth_fail:
            return outcome::auth_failed;
        case srtp_err_status_replay_fail:
        case srtp_err_status_replay_old:
            return outcome::replayed;
        case srtp_err_status_bad_param:
        case srtp_err_status_parse_err:
            return outcome::malformed;
        default:
            return outcome::error;
    }
}

template <typename Fn>
outcome transform(srtp_t session, std::uint8_t* buf, std::size_t& len, Fn fn) noexcept {
    if (session == nullptr || len > INT_MAX - max_overhead) {
        return outcome::error;
    }
    int n = static_cast<int>(len);
    auto result = to_outcome(fn(session, buf, &n));
    if (result == outcome::ok) {
        len = static_cast<std::size_t>(n);
    }
    return result;
}

// libsrtp2 clones a stream from the ssrc_any template only at an SSRC's
// first packet, and srtp_set_stream_roc needs the stream: so each continued
// SSRC gets its own, with the same policy, whose pending ROC the first
// packet's index estimate takes (either way, protect or unprotect).
// RFC 3711 3.4: the SRTCP index only has to grow, so reports protected
// and thrown away move it on. An empty receiver report (RFC 3550 6.4.2).
std::string skip_srtcp(srtp_t session, std::uint32_t ssrc, std::uint32_t count) {
    std::array<std::uint8_t, 8 + max_overhead> rr{};
    for (std::uint32_t i = 0; i < count; ++i) {
        rr = {0x80, 201, 0, 1};
        rr[4] = static_cast<std::uint8_t>(ssrc >> 24);
        rr[5] = static_cast<std::uint8_t>(ssrc >> 16);
        rr[6] = static_cast<std::uint8_t>(ssrc >> 8);
        rr[7] = static_cast<std::uint8_t>(ssrc);
        int len = 8;
        if (auto status = srtp_protect_rtcp(session, rr.data(), &len);
            status != srtp_err_status_ok) {
            return "SRTCP index not advanced: libsrtp2 error " +
                   std::to_string(static_cast<int>(status));
        }
    }
    return {};
}

std::string continue_streams(srtp_t session, srtp_policy_t policy, bool protect,
                             std::span<const stream_position> continued) {
    constexpr std::uint32_t max_skip = 1U << 16;
    for (const auto& pos : continued) {
        const std::uint32_t skip = protect ? std::min(pos.srtcp_skip, max_skip) : 0;
        if (pos.roc == 0 && skip == 0) {
            continue;  // where a fresh stream starts anyway
        }
        policy.ssrc.type = ssrc_specific;
        policy.ssrc.value = pos.ssrc;
        policy.next = nullptr;
        if (auto status = srtp_add_stream(session, &policy); status != srtp_err_status_ok) {
            return "SRTP stream not continued: libsrtp2 error " +
                   std::to_string(static_cast<int>(status));
        }
        if (pos.roc != 0) {
            if (auto status = srtp_set_stream_roc(session, pos.ssrc, pos.roc);
                status != srtp_err_status_ok) {
                return "SRTP rollover counter not set: libsrtp2 error " +
                       std::to_string(static_cast<int>(status));
            }
        }
        if (auto error = skip_srtcp(session, pos.ssrc, skip); !error.empty()) {
            return error;
        }
    }
    return {};
}

}  // namespace

std::size_t master_length(suite s) noexcept { return policy_of(s).master; }

const std::string& prepare() {
    // The data plane runs the OpenSSL crypto (DESIGN.md, "SRTP speed").
    static const std::string setup = use_crypto(crypto_backend::openssl);
    return setup;
}

result<stream_crypto> stream_crypto::create(suite s, std::span<const std::uint8_t> master,
                                            direction dir,
                                            std::span<const stream_position> continued) {
    if (const auto& setup = prepare(); !setup.empty()) {
        return make_error("SRTP set-up: " + setup);
    }
    const auto& p = policy_of(s);
    if (master.size() != p.master) {
        return make_error("SRTP master key and salt of the wrong length");
    }
    srtp_policy_t policy{};
    p.rtp(&policy.rtp);
    p.rtcp(&policy.rtcp);
    policy.ssrc.type = dir == direction::protect ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = const_cast<std::uint8_t*>(master.data());  // libsrtp2 copies it
    // RFC 3711 3.3.2 asks for at least 64; a wider window tolerates the
    // reordering of a jittery carrier path.
    policy.window_size = 1024;
    policy.allow_repeat_tx = 0;
    srtp_t session = nullptr;
    if (auto status = srtp_create(&session, &policy); status != srtp_err_status_ok) {
        return make_error("SRTP session not created: libsrtp2 error " +
                          std::to_string(static_cast<int>(status)));
    }
    stream_crypto made(session);
    if (auto error = continue_streams(session, policy, dir == direction::protect, continued);
        !error.empty()) {
        return make_error(error);
    }
    return made;
}

stream_crypto::stream_crypto(stream_crypto&& other) noexcept : _session(other._session) {
    other._session = nullptr;
}

stream_crypto& stream_crypto::operator=(stream_crypto&& other) noexcept {
    if (this != &other) {
        if (_session != nullptr) {
            srtp_dealloc(_session);
        }
        _session = other._session;
        other._session = nullptr;
    }
    return *this;
}

stream_crypto::~stream_crypto() {
    if (_session != nullptr) {
        srtp_dealloc(_session);  // wipes the session keys
    }
}

outcome stream_crypto::protect_rtp(std::uint8_t* buf, std::size_t& len) noexcept {
    return transform(_session, buf, len,
                     [](srtp_t s, std::uint8_t* b, int* n) { return srtp_protect(s, b, n); });
}

outcome stream_crypto::unprotect_rtp(std::uint8_t* buf, std::size_t& len) noexcept {
    return transform(_session, buf, len,
                     [](srtp_t s, std::uint8_t* b, int* n) { return srtp_unprotect(s, b, n); });
}

outcome stream_crypto::protect_rtcp(std::uint8_t* buf, std::size_t& len) noexcept {
    return transform(_session, buf, len,
                     [](srtp_t s, std::uint8_t* b, int* n) { return srtp_protect_rtcp(s, b, n); });
}

outcome stream_crypto::unprotect_rtcp(std::uint8_t* buf, std::size_t& len) noexcept {
    return transform(_session, buf, len, [](srtp_t s, std::uint8_t* b, int* n) {
        return srtp_unprotect_rtcp(s, b, n);
    });
}

std::optional<std::uint32_t> stream_crypto::roc_of(std::uint32_t ssrc) const noexcept {
    std::uint32_t roc = 0;
    if (_session == nullptr || srtp_get_stream_roc(_session, ssrc, &roc) != srtp_err_status_ok) {
        return std::nullopt;
    }
    return roc;
}

bool random_fill(std::span<std::uint8_t> out) noexcept {
    return out.size() <= INT_MAX && RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

}  // namespace sbc::dataplane::srtp
