// SDP security descriptions (RFC 4568): the a=crypto attribute that carries
// SRTP keys in the SDP of each leg.
//
// The SBC terminates SRTP on each leg (issue 4): it reads the peer's keys
// from its a=crypto lines and offers keys of its own, never the other
// leg's. Only what the data plane can do is accepted: the suites of RFC 4568
// 6.2, RFC 6188 7.1 (AES-256 counter mode) and RFC 7714 14.2 listed below, one inline key per line,
// no MKI, and no session parameters; anything else makes that line unusable (RFC 4568 6.3: the
// answerer picks a line it supports). Keys live in sdes_key, which wipes its bytes when it goes
// away.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"

namespace sbc::sdp {

/// The suites of RFC 4568 6.2 and RFC 7714 14.2 below; config::to_string
/// names them as SDP does.
using srtp_suite = config::srtp_suite;

std::optional<srtp_suite> suite_from_string(std::string_view name) noexcept;
/// Master key + master salt octets: 30 for AES-CM-128, 46 for AES-CM-256,
/// 28 / 44 for GCM.
std::size_t key_salt_length(srtp_suite s) noexcept;

/// Key material that is wiped (explicit_bzero) when it is destroyed or
/// replaced. Move-only, so that no stray copy outlives the stream.
class sdes_key {
public:
    sdes_key() = default;
    explicit sdes_key(std::vector<std::uint8_t> bytes) : _bytes(std::move(bytes)) {}
    sdes_key(sdes_key&& other) noexcept;
    sdes_key& operator=(sdes_key&& other) noexcept;
    sdes_key(const sdes_key&) = delete;
    sdes_key& operator=(const sdes_key&) = delete;
    ~sdes_key();

    const std::vector<std::uint8_t>& bytes() const noexcept { return _bytes; }
    bool empty() const noexcept { return _bytes.empty(); }

private:
    void wipe() noexcept;
    std::vector<std::uint8_t> _bytes;
};

/// One a=crypto line.
struct sdes_crypto {
    unsigned tag = 1;  ///< 1..999999999, matches an answer to its offer line
    srtp_suite suite = srtp_suite::aes_cm_128_hmac_sha1_80;
    sdes_key key;  ///< master key || master salt
};

/// Parses the value of an a=crypto attribute ("1 AES_CM_128_HMAC_SHA1_80
/// inline:..."). Errors say why the line is unusable; they never contain key
/// material, so they may be logged.
result<sdes_crypto> parse_crypto(std::string_view value);

/// The attribute value for `c` ("1 AES_CM_128_HMAC_SHA1_80 inline:...").
/// The result holds key material: send it, never log it.
std::string format_crypto(const sdes_crypto& c);

/// RFC 4648 4 base64, as the inline key uses.
std::string base64_encode(const std::vector<std::uint8_t>& bytes);
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace sbc::sdp
