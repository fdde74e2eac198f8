// The SDES (RFC 4568) side of one call leg's offer/answer: which a=crypto
// lines the SBC states in its SDP on that leg, which of the peer's it takes,
// and the keys that result.
//
// The SBC terminates SRTP on every leg (RFC 3711): the peer's key decrypts
// what the peer sends, a key of the SBC's own encrypts what goes to it, and
// keys never cross from one leg to the other. How a leg behaves follows its
// trunk's `srtp` mode and `srtp_suites`.
//
// The SBC's keys are made once per suite per leg, from OpenSSL's generator,
// and re-used in every later offer or answer on that leg, so that a
// re-INVITE that changes nothing keeps the crypto contexts (RFC 4568 7.1.4
// lets a re-offer keep the keys). They are wiped when the leg goes away.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sdp/sdes.hpp"

namespace sbc::sdp {

/// Fills a buffer with key material; false when the generator failed.
using key_source = bool (*)(std::span<std::uint8_t>) noexcept;

/// What the SBC states about SRTP in an SDP it sends on the leg.
struct local_crypto {
    bool secure_profile = false;      ///< RTP/SAVP rather than RTP/AVP
    std::vector<std::string> crypto;  ///< a=crypto values; they hold keys: never log them
};

/// The keys of an SRTP leg, once offer and answer agree.
struct srtp_keys {
    srtp_suite suite = srtp_suite::aes_cm_128_hmac_sha1_80;
    sdes_key peer;   ///< master key || salt the peer sends with
    sdes_key local;  ///< master key || salt the SBC sends with
};

class sdes_leg {
public:
    /// `keys` defaults to dataplane::srtp::random_fill (OpenSSL's CSPRNG).
    sdes_leg(config::srtp_mode mode, std::vector<srtp_suite> suites, key_source keys = nullptr);
    ~sdes_leg();
    sdes_leg(const sdes_leg&) = delete;
    sdes_leg& operator=(const sdes_leg&) = delete;

    config::srtp_mode mode() const noexcept { return _mode; }

    /// The SBC offers on this leg: off gives RTP/AVP and nothing else;
    /// optional RTP/AVP with one a=crypto line per suite (the peer may take
    /// SRTP or ignore the lines, RFC 4568 7.1.1); required RTP/SAVP with
    /// the same lines. An error only when no key could be made.
    result<local_crypto> make_offer();

    /// The peer answered make_offer(). Its a=crypto line must carry the tag
    /// of one of the offered lines, with that line's suite (RFC 4568 7.1.3).
    /// An error when the answer cannot be used: required and no key, a line
    /// that answers nothing offered, SAVP answered to an AVP-only offer.
    result<bool> accept_answer(bool secure_profile, const std::vector<std::string>& crypto);

    /// The peer offers. Takes its first usable a=crypto line whose suite the
    /// trunk allows (RFC 4568 7.1.2 leaves the choice to the answerer); an
    /// error (to answer with 488) when the mode cannot accept the offer:
    /// RTP/SAVP on an off trunk, no usable line where SRTP is required or
    /// the profile is RTP/SAVP. The keys it yields are only proposed: keys()
    /// changes when answer() is given, so an offer the other leg refuses
    /// (a failed re-INVITE, RFC 3264 8: the old session stays) leaves the
    /// keys in force alone.
    result<bool> accept_offer(bool secure_profile, const std::vector<std::string>& crypto);

    /// The SBC's answer to the offer accept_offer() took: the peer's profile,
    /// and one a=crypto line (the chosen tag and suite, the SBC's key) when
    /// SRTP was taken. Its keys come into force now. It becomes what the SBC
    /// last stated on the leg, so a later re-offer of the same SDP (RFC 3264
    /// 8) is answered against it.
    local_crypto answer();

    /// The leg as another node had it (a call rebuilt from its state
    /// document): `keys` in force, their local key the SBC's for their suite
    /// in later offers and answers (RFC 4568 7.1.4: a re-offer may keep it).
    /// Other suites get keys of their own when first offered. Meant for a
    /// fresh leg; a keyed one loses its keys and proposal.
    void restore(srtp_keys keys);

    /// The keys in force on the leg; nullopt while it is plain RTP.
    const std::optional<srtp_keys>& keys() const noexcept { return _keys; }
    /// Changes whenever keys() does, so a caller can tell when to re-program.
    unsigned generation() const noexcept { return _generation; }

private:
    struct offered_line {
        unsigned tag;
        srtp_suite suite;
    };
    /// The SBC's key for `s` on this leg, made on first use.
    const sdes_key* local_key(srtp_suite s);
    void set_keys(std::optional<srtp_keys> k);
    void propose(std::optional<srtp_keys> k);
    void drop_proposal();
    bool allowed(srtp_suite s) const noexcept;

    config::srtp_mode _mode;
    std::vector<srtp_suite> _suites;
    key_source _source;
    std::vector<std::pair<srtp_suite, sdes_key>> _local_keys;
    /// The lines of the SBC's last SDP on this leg (what an answer may pick).
    std::vector<offered_line> _offered;
    bool _offered_secure_profile = false;
    /// The SBC's answer to the peer's last offer.
    bool _answer_secure_profile = false;
    std::optional<offered_line> _answer_line;
    std::optional<srtp_keys> _keys;
    unsigned _generation = 0;
    /// accept_offer()'s keys (or plain RTP), until answer() puts them in force.
    std::optional<srtp_keys> _proposed;
    bool _has_proposal = false;
};

}  // namespace sbc::sdp
