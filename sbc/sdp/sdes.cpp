#include "sbc/sdp/sdes.hpp"

#include <fmt/format.h>
#include <string.h>  // explicit_bzero

#include <array>
#include <charconv>

namespace sbc::sdp {

namespace {

struct suite_info {
    srtp_suite suite;
    std::size_t key_salt;
};

constexpr std::array<suite_info, 6> suites = {{
    {srtp_suite::aes_cm_128_hmac_sha1_80, 30},
    {srtp_suite::aes_cm_128_hmac_sha1_32, 30},
    {srtp_suite::aead_aes_128_gcm, 28},
    {srtp_suite::aead_aes_256_gcm, 44},
    {srtp_suite::aes_256_cm_hmac_sha1_80, 46},  // RFC 6188 7.1: a 256-bit key, 112-bit salt
    {srtp_suite::aes_256_cm_hmac_sha1_32, 46},
}};

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) noexcept {
    auto pos = alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

/// Splits at the first run of spaces.
std::pair<std::string_view, std::string_view> next_field(std::string_view s) {
    auto start = s.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        return {{}, {}};
    }
    s.remove_prefix(start);
    auto end = s.find(' ');
    if (end == std::string_view::npos) {
        return {s, {}};
    }
    return {s.substr(0, end), s.substr(end)};
}

}  // namespace

std::optional<srtp_suite> suite_from_string(std::string_view name) noexcept {
    for (const auto& i : suites) {
        if (config::to_string(i.suite) == name) {  // RFC 4568 9.2: suite names are case-sensitive
            return i.suite;
        }
    }
    return std::nullopt;
}

std::size_t key_salt_length(srtp_suite s) noexcept {
    for (const auto& i : suites) {
        if (i.suite == s) {
            return i.key_salt;
        }
    }
    return 0;
}

sdes_key::sdes_key(sdes_key&& other) noexcept : _bytes(std::move(other._bytes)) { other.wipe(); }

sdes_key& sdes_key::operator=(sdes_key&& other) noexcept {
    if (this != &other) {
        wipe();
        _bytes = std::move(other._bytes);
        other.wipe();
    }
    return *this;
}

sdes_key::~sdes_key() { wipe(); }

void sdes_key::wipe() noexcept {
    if (!_bytes.empty()) {
        explicit_bzero(_bytes.data(), _bytes.size());
    }
    _bytes.clear();
}

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        std::uint32_t v = static_cast<std::uint32_t>(bytes[i]) << 16;
        if (i + 1 < bytes.size()) {
            v |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
        }
        if (i + 2 < bytes.size()) {
            v |= bytes[i + 2];
        }
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    // Padding is optional in practice: some peers leave it off.
    while (!text.empty() && text.back() == '=') {
        text.remove_suffix(1);
    }
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::vector<std::uint8_t> out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = sextet(c);
        if (v < 0) {
            return std::nullopt;
        }
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
        }
    }
    return out;
}

result<sdes_crypto> parse_crypto(std::string_view value) {
    // RFC 4568 9.1: crypto-attribute = tag 1*WSP crypto-suite 1*WSP key-params
    //                                   *(1*WSP session-param)
    auto [tag_text, rest1] = next_field(value);
    auto [suite_text, rest2] = next_field(rest1);
    auto [key_params, rest3] = next_field(rest2);
    auto [session_param, rest4] = next_field(rest3);
    (void)rest4;
    sdes_crypto c;
    auto [end, ec] = std::from_chars(tag_text.data(), tag_text.data() + tag_text.size(), c.tag);
    if (ec != std::errc{} || end != tag_text.data() + tag_text.size() || tag_text.empty() ||
        tag_text.size() > 9) {
        return make_error("a=crypto: the tag is not a number of 1 to 9 digits");
    }
    auto suite = suite_from_string(suite_text);
    if (!suite) {
        return make_error(
            fmt::format("a=crypto: suite '{}' is not supported", suite_text.substr(0, 40)));
    }
    c.suite = *suite;
    if (!session_param.empty()) {
        // RFC 4568 6.3: a line whose session parameters are not understood
        // must not be used (UNENCRYPTED_SRTP, KDR, FEC_ORDER, WSH...).
        return make_error("a=crypto: session parameters are not supported");
    }
    if (key_params.find(';') != std::string_view::npos) {
        return make_error("a=crypto: more than one key is not supported");
    }
    if (key_params.substr(0, 7) != "inline:") {
        return make_error("a=crypto: the key is not 'inline:'");
    }
    key_params.remove_prefix(7);
    auto bar = key_params.find('|');
    auto key_text = key_params.substr(0, bar);
    if (bar != std::string_view::npos) {
        auto extra = key_params.substr(bar + 1);
        // A lifetime ("2^31" or a number) alone is fine: the SBC re-keys
        // with a new offer long before; an MKI ("1:4") is not supported.
        if (extra.find(':') != std::string_view::npos ||
            extra.find('|') != std::string_view::npos) {
            return make_error("a=crypto: MKI is not supported");
        }
    }
    auto key = base64_decode(key_text);
    if (!key) {
        return make_error("a=crypto: the key is not base64");
    }
    if (key->size() != key_salt_length(c.suite)) {
        auto got = key->size();
        explicit_bzero(key->data(), key->size());
        return make_error(fmt::format("a=crypto: the key of {} must be {} octets, not {}",
                                      to_string(c.suite), key_salt_length(c.suite), got));
    }
    c.key = sdes_key(std::move(*key));
    return c;
}

std::string format_crypto(const sdes_crypto& c) {
    return fmt::format("{} {} inline:{}", c.tag, to_string(c.suite), base64_encode(c.key.bytes()));
}

}  // namespace sbc::sdp
