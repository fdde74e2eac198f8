// The SRTP transform of one direction of one stream: a libsrtp2 session
// that protects (towards an SRTP peer) or unprotects (from one) RTP and
// RTCP in place.
//
// Created by the control plane with the stream's suite and master key, then
// handed to the worker that owns the stream; on the worker, protect() and
// unprotect() allocate nothing and take no lock (libsrtp2 keeps its state in
// the session). The master key is copied into libsrtp2 and the caller's
// copy is the caller's to wipe; libsrtp2 wipes its own when the session is
// deallocated.
//
// Rollover counters (RFC 3711 3.3.1): the index of an SRTP packet is
// ROC * 2^16 + SEQ, and neither end sends the ROC. A session made on a node
// that takes a call over from another starts each stream where the other
// left it (create()'s `continued`), or after 65536 packets of a stream its
// peer and this node disagree on every packet's index and so on its key
// stream and tag. roc_of() reads a stream's counter for that hand-over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "sbc/common/result.hpp"

struct srtp_ctx_t_;

namespace sbc::dataplane::srtp {

/// The SRTP crypto suites of RFC 4568 6.2, RFC 6188 7.1 and RFC 7714 14.2
/// the data plane does.
enum class suite {
    aes_cm_128_hmac_sha1_80,
    aes_cm_128_hmac_sha1_32,
    aead_aes_128_gcm,
    aead_aes_256_gcm,
    aes_256_cm_hmac_sha1_80,
    aes_256_cm_hmac_sha1_32,
};

/// Master key + salt octets of `s` (30 for AES-CM-128, 46 for AES-CM-256,
/// 28 and 44 for GCM).
std::size_t master_length(suite s) noexcept;

/// Octets protect() may add to an RTP packet (the tag: 10, 4 or 16) or an
/// RTCP packet (the 4-octet SRTCP index and the tag), for the suites above
/// and no MKI: buffers need this much room past the data.
inline constexpr std::size_t max_overhead = 32;

enum class outcome { ok, auth_failed, replayed, malformed, error };

/// Where one stream (one SSRC) of a session stands: its rollover counter,
/// and for a protecting session how many SRTCP indices to use up before its
/// first real RTCP packet. libsrtp2 cannot set the SRTCP index; RFC 3711
/// 3.4 only asks that it grow, so a session that continues another's
/// protects and discards that many scratch reports, to stay ahead of what
/// the peer's replay list has seen.
struct stream_position {
    std::uint32_t ssrc = 0;
    std::uint32_t roc = 0;
    std::uint32_t srtcp_skip = 0;
};

class stream_crypto {
public:
    enum class direction { protect, unprotect };

    /// A session for `dir` with `master` (master_length(s) octets). Each
    /// of `continued` with a non-zero ROC gets a stream of its own whose
    /// first packet's index is estimated from that ROC (RFC 3711 3.3.1):
    /// the stream goes on where a session on another node left it; a
    /// protecting session also uses up its `srtcp_skip` SRTCP indices
    /// (65536 at most). Errors name the problem, never the key.
    static result<stream_crypto> create(suite s, std::span<const std::uint8_t> master,
                                        direction dir,
                                        std::span<const stream_position> continued = {});

    stream_crypto(stream_crypto&&) noexcept;
    stream_crypto& operator=(stream_crypto&&) noexcept;
    ~stream_crypto();

    /// RTP/RTCP in `buf[0..len)`, with room for max_overhead more octets;
    /// `len` becomes the new length. A packet that fails authentication or
    /// the replay check is left for the caller to drop and count.
    outcome protect_rtp(std::uint8_t* buf, std::size_t& len) noexcept;
    outcome unprotect_rtp(std::uint8_t* buf, std::size_t& len) noexcept;
    outcome protect_rtcp(std::uint8_t* buf, std::size_t& len) noexcept;
    outcome unprotect_rtcp(std::uint8_t* buf, std::size_t& len) noexcept;

    /// The rollover counter of the stream of `ssrc`; nullopt before the
    /// session has seen (or been given, create()) that SSRC. Owning worker
    /// (it reads the session protect() and unprotect() write).
    std::optional<std::uint32_t> roc_of(std::uint32_t ssrc) const noexcept;

private:
    explicit stream_crypto(srtp_ctx_t_* session) noexcept : _session(session) {}
    srtp_ctx_t_* _session = nullptr;
};

/// Sets libsrtp2 up for the data plane (the OpenSSL ciphers, after
/// libsrtp2's self-tests of each), once per process; create() does it
/// otherwise at its first call. sbcd calls it at start, so that neither its
/// first SRTP call nor a take-over of many (sbc/node/cluster_node) pays
/// the tests. "" or what libsrtp2 refused. Control thread.
const std::string& prepare();

/// Fills `out` from OpenSSL's CSPRNG, for a fresh master key (RFC 4568 6.1:
/// keys are random and never reused across sessions). The caller owns and
/// wipes the buffer. False if the generator failed (then use no key).
bool random_fill(std::span<std::uint8_t> out) noexcept;

}  // namespace sbc::dataplane::srtp
