// RFC 4568 a=crypto lines: what the SBC accepts, refuses and writes.
#include <catch2/catch.hpp>

#include "sbc/sdp/sdes.hpp"

using namespace sbc::sdp;

TEST_CASE("base64 round trips and refuses what is not base64", "[sdp][sdes]") {
    // RFC 4648 10 test vectors.
    CHECK(base64_encode({}) == "");
    CHECK(base64_encode({'f'}) == "Zg==");
    CHECK(base64_encode({'f', 'o'}) == "Zm8=");
    CHECK(base64_encode({'f', 'o', 'o', 'b', 'a', 'r'}) == "Zm9vYmFy");
    CHECK(base64_decode("Zm9vYg==") == std::vector<std::uint8_t>{'f', 'o', 'o', 'b'});
    CHECK(base64_decode("Zm9vYg") == std::vector<std::uint8_t>{'f', 'o', 'o', 'b'});
    CHECK_FALSE(base64_decode("Zm9v*mFy"));
    CHECK_FALSE(base64_decode("Z"));
}

TEST_CASE("an RFC 4568 crypto line is read", "[sdp][sdes]") {
    // RFC 4568 section 4's example key.
    auto c = parse_crypto(
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4");
    REQUIRE_FALSE(c);  // it carries an MKI
    auto plain =
        parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
    REQUIRE(plain);
    CHECK(plain->tag == 1);
    CHECK(plain->suite == srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(plain->key.bytes().size() == 30);
    CHECK(format_crypto(*plain) ==
          "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
    auto lifetime = parse_crypto(
        "2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31");
    REQUIRE(lifetime);
    CHECK(lifetime->tag == 2);
    CHECK(lifetime->suite == srtp_suite::aes_cm_128_hmac_sha1_32);
}

TEST_CASE("GCM suites need keys of their own length", "[sdp][sdes]") {
    std::vector<std::uint8_t> k28(28, 7), k44(44, 9);
    auto g128 = parse_crypto("3 AEAD_AES_128_GCM inline:" + base64_encode(k28));
    REQUIRE(g128);
    CHECK(g128->suite == srtp_suite::aead_aes_128_gcm);
    auto g256 = parse_crypto("4 AEAD_AES_256_GCM inline:" + base64_encode(k44));
    REQUIRE(g256);
    auto wrong = parse_crypto("4 AEAD_AES_256_GCM inline:" + base64_encode(k28));
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error_message() ==
          "a=crypto: the key of AEAD_AES_256_GCM must be 44 octets, not 28");
}

TEST_CASE("AES-256 counter-mode suites take a 46-octet key and salt", "[sdp][sdes]") {
    // RFC 6188 7.1: a 256-bit master key and the 112-bit salt of AES-CM.
    std::vector<std::uint8_t> k46(46, 5), k30(30, 6);
    auto cm80 = parse_crypto("5 AES_256_CM_HMAC_SHA1_80 inline:" + base64_encode(k46));
    REQUIRE(cm80);
    CHECK(cm80->suite == srtp_suite::aes_256_cm_hmac_sha1_80);
    CHECK(cm80->key.bytes() == k46);
    CHECK(format_crypto(*cm80) == "5 AES_256_CM_HMAC_SHA1_80 inline:" + base64_encode(k46));
    auto cm32 = parse_crypto("6 AES_256_CM_HMAC_SHA1_32 inline:" + base64_encode(k46));
    REQUIRE(cm32);
    CHECK(cm32->suite == srtp_suite::aes_256_cm_hmac_sha1_32);
    auto wrong = parse_crypto("5 AES_256_CM_HMAC_SHA1_80 inline:" + base64_encode(k30));
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error_message() ==
          "a=crypto: the key of AES_256_CM_HMAC_SHA1_80 must be 46 octets, not 30");
    // RFC 4568 9.2: suite names are case-sensitive.
    CHECK_FALSE(parse_crypto("5 aes_256_cm_hmac_sha1_80 inline:" + base64_encode(k46)));
}

TEST_CASE("unusable crypto lines say why, without the key", "[sdp][sdes]") {
    const std::string key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    auto why = [](const std::string& line) {
        auto c = parse_crypto(line);
        return c ? std::string("accepted") : c.error_message();
    };
    CHECK(why("x AES_CM_128_HMAC_SHA1_80 inline:" + key) ==
          "a=crypto: the tag is not a number of 1 to 9 digits");
    CHECK(why("1 F8_128_HMAC_SHA1_80 inline:" + key) ==
          "a=crypto: suite 'F8_128_HMAC_SHA1_80' is not supported");
    CHECK(why("1 aes_cm_128_hmac_sha1_80 inline:" + key) ==
          "a=crypto: suite 'aes_cm_128_hmac_sha1_80' is not supported");
    CHECK(why("1 AES_CM_128_HMAC_SHA1_80 inline:" + key + " UNENCRYPTED_SRTP") ==
          "a=crypto: session parameters are not supported");
    CHECK(why("1 AES_CM_128_HMAC_SHA1_80 inline:" + key + ";inline:" + key) ==
          "a=crypto: more than one key is not supported");
    CHECK(why("1 AES_CM_128_HMAC_SHA1_80 uri:http://example.com") ==
          "a=crypto: the key is not 'inline:'");
    CHECK(why("1 AES_CM_128_HMAC_SHA1_80 inline:***") == "a=crypto: the key is not base64");
    CHECK(why("") == "a=crypto: the tag is not a number of 1 to 9 digits");
    for (const auto& line : {"1 AES_CM_128_HMAC_SHA1_80 inline:" + key + "|1:4"}) {
        auto c = parse_crypto(line);
        REQUIRE_FALSE(c);
        CHECK(c.error_message().find(key) == std::string::npos);
    }
}

TEST_CASE("keys are moved, never copied, and emptied when moved from", "[sdp][sdes]") {
    sdes_key a(std::vector<std::uint8_t>(30, 1));
    sdes_key b(std::move(a));
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the wipe is the point
    CHECK(b.bytes().size() == 30);
    static_assert(!std::is_copy_constructible_v<sdes_key>);
}
