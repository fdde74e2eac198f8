// SRTP crypto: the OpenSSL-backed AES-CM and HMAC-SHA1 against RFC 3711 and
// against libsrtp2's own implementation, and libsrtp2's replay and
// authentication checks on top of them.
#include <srtp2/srtp.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dataplane/srtp/crypto_backend.hpp"
#include "dataplane/srtp/openssl_crypto.hpp"
#include "dataplane/srtp/stream_crypto.hpp"

using namespace sbc::dataplane::srtp;

extern "C" {
extern const srtp_cipher_type_t srtp_aes_icm_128;
extern const srtp_cipher_type_t srtp_aes_gcm_128;
extern const srtp_cipher_type_t srtp_aes_gcm_256;
}

namespace {

std::vector<uint8_t> hex(const std::string& text) {
    std::vector<uint8_t> out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    }
    return out;
}

/// The AES-CM keystream for `key`+`salt` with a zero IV, as `type` makes it.
std::vector<uint8_t> keystream(const srtp_cipher_type_t& type, const std::vector<uint8_t>& key_salt,
                               std::size_t octets) {
    srtp_cipher_t* c = nullptr;
    REQUIRE(type.alloc(&c, static_cast<int>(key_salt.size()), 0) == srtp_err_status_ok);
    REQUIRE(type.init(c->state, key_salt.data()) == srtp_err_status_ok);
    uint8_t iv[16] = {};
    REQUIRE(type.set_iv(c->state, iv, srtp_direction_encrypt) == srtp_err_status_ok);
    std::vector<uint8_t> out(octets, 0);
    unsigned int len = static_cast<unsigned int>(octets);
    REQUIRE(type.encrypt(c->state, out.data(), &len) == srtp_err_status_ok);
    type.dealloc(c);
    return out;
}

struct session {
    srtp_t s = nullptr;
    session(void (*set_policy)(srtp_crypto_policy_t*), const std::vector<uint8_t>& key,
            bool outbound) {
        srtp_policy_t p{};
        set_policy(&p.rtp);
        set_policy(&p.rtcp);
        p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
        p.key = const_cast<uint8_t*>(key.data());
        p.window_size = 128;
        REQUIRE(srtp_create(&s, &p) == srtp_err_status_ok);
    }
    ~session() { srtp_dealloc(s); }
};

/// An RTP packet (RFC 3550 5.1) with a G.711 payload of 160 octets.
std::vector<uint8_t> rtp_packet(uint16_t seq, uint32_t ts, uint32_t ssrc, std::mt19937& rng) {
    std::vector<uint8_t> p(12 + 160 + SRTP_MAX_TRAILER_LEN);
    p[0] = 0x80;
    p[1] = 8;
    p[2] = static_cast<uint8_t>(seq >> 8);
    p[3] = static_cast<uint8_t>(seq);
    for (int i = 0; i < 4; ++i) {
        p[4 + i] = static_cast<uint8_t>(ts >> (24 - 8 * i));
        p[8 + i] = static_cast<uint8_t>(ssrc >> (24 - 8 * i));
    }
    for (int i = 12; i < 172; ++i) {
        p[static_cast<std::size_t>(i)] = static_cast<uint8_t>(rng());
    }
    return p;
}

/// Protects `count` packets with a fresh session on the given backend.
std::vector<std::vector<uint8_t>> protect_all(crypto_backend backend,
                                              void (*set_policy)(srtp_crypto_policy_t*),
                                              const std::vector<uint8_t>& key, int count) {
    REQUIRE(use_crypto(backend).empty());
    session tx(set_policy, key, true);
    std::mt19937 rng(42);
    std::vector<std::vector<uint8_t>> out;
    for (int i = 0; i < count; ++i) {
        // Sequence numbers wrap, so the roll-over counter is exercised too.
        auto p = rtp_packet(static_cast<uint16_t>(65530 + i), 160u * static_cast<uint32_t>(i),
                            0x11223344, rng);
        int len = 172;
        REQUIRE(srtp_protect(tx.s, p.data(), &len) == srtp_err_status_ok);
        p.resize(static_cast<std::size_t>(len));
        out.push_back(p);
    }
    return out;
}

const auto key_30 = hex("E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6");
const auto key_28 =
    hex("000102030405060708090A0B0C0D0E0F"
        "A0A1A2A3A4A5A6A7A8A9AAAB");
const auto key_44 =
    hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
        "A0A1A2A3A4A5A6A7A8A9AAAB");
const auto key_46 =
    hex("F0F04914B513F2763A1B1FA130F10E2998F6F6E43E4309D1E622A0E332B9F1B6"
        "3B04803DE51EE7C96423AB5B78D2");

}  // namespace

TEST_CASE("OpenSSL AES-CM gives RFC 3711 B.2's keystream", "[srtp]") {
    // RFC 3711 appendix B.2: session key, salt, and the first keystream blocks.
    auto key_salt =
        hex("2B7E151628AED2A6ABF7158809CF4F3C"
            "F0F1F2F3F4F5F6F7F8F9FAFBFCFD");
    auto expected =
        hex("E03EAD0935C95E80E166B16DD92B4EB4"
            "D23513162B02D0F72A43A2FE4A5F97AB"
            "41E95B3BB0A2E8DD477901E4FCA894C0");
    CHECK(keystream(openssl_aes_icm_128(), key_salt, 48) == expected);
    CHECK(keystream(srtp_aes_icm_128, key_salt, 48) == expected);
}

TEST_CASE("the OpenSSL types pass libsrtp2's own test cases", "[srtp]") {
    REQUIRE(use_crypto(crypto_backend::libsrtp).empty());
    CHECK(srtp_cipher_type_self_test(&openssl_aes_icm_128()) == srtp_err_status_ok);
    CHECK(srtp_cipher_type_self_test(&openssl_aes_icm_256()) == srtp_err_status_ok);
    CHECK(srtp_cipher_type_self_test(&openssl_aes_gcm_128()) == srtp_err_status_ok);
    CHECK(srtp_cipher_type_self_test(&openssl_aes_gcm_256()) == srtp_err_status_ok);
    CHECK(srtp_auth_type_self_test(&openssl_hmac_sha1()) == srtp_err_status_ok);
    // And libsrtp2 accepts them in its crypto kernel (it runs the tests again).
    CHECK(use_crypto(crypto_backend::openssl).empty());
    CHECK(use_crypto(crypto_backend::libsrtp).empty());
}

TEST_CASE("OpenSSL-backed SRTP is byte for byte libsrtp2's", "[srtp]") {
    struct suite {
        const char* name;
        void (*policy)(srtp_crypto_policy_t*);
        const std::vector<uint8_t>* key;
    };
    for (const auto& s :
         {suite{"AES_CM_128_HMAC_SHA1_80", srtp_crypto_policy_set_rtp_default, &key_30},
          suite{"AES_CM_128_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32, &key_30},
          suite{"AES_CM_256_HMAC_SHA1_80", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
                &key_46}}) {
        INFO(s.name);
        auto native = protect_all(crypto_backend::libsrtp, s.policy, *s.key, 20);
        auto ours = protect_all(crypto_backend::openssl, s.policy, *s.key, 20);
        CHECK(native == ours);
        // And each side reads the other's.
        REQUIRE(use_crypto(crypto_backend::libsrtp).empty());
        session rx(s.policy, *s.key, false);
        for (auto p : ours) {
            int len = static_cast<int>(p.size());
            CHECK(srtp_unprotect(rx.s, p.data(), &len) == srtp_err_status_ok);
            CHECK(len == 172);
        }
    }
    REQUIRE(use_crypto(crypto_backend::openssl).empty());
}

namespace {

// RFC 7714 16: the vectors are given with session keys, so they exercise the
// AEAD transform below libsrtp2's key derivation (RFC 3711 B.3 covers that).
// The packet: SSRC 5501a0b2, sequence number f17b, ROC 0, payload "Gallia
// est omnis divisa in partes tres".
const auto rfc7714_salt = hex("517569642070726f2071756f");
const auto rfc7714_rtp = hex(
    "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e2070617274657320"
    "74726573");

/// RTP through an AEAD cipher type as libsrtp2 drives it for SRTP (RFC 7714
/// 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt; 9.1: the header is the
/// AAD); returns header || ciphertext || tag.
std::vector<uint8_t> aead_protect(const srtp_cipher_type_t& type, const std::vector<uint8_t>& key,
                                  const std::vector<uint8_t>& packet) {
    srtp_cipher_t* c = nullptr;
    REQUIRE(type.alloc(&c, static_cast<int>(key.size() + 12), 16) == srtp_err_status_ok);
    REQUIRE(type.init(c->state, key.data()) == srtp_err_status_ok);
    uint8_t iv[12] = {0, 0, packet[8], packet[9], packet[10], packet[11],
                      0, 0, 0,         0,         packet[2],  packet[3]};
    for (int i = 0; i < 12; ++i) {
        iv[i] ^= rfc7714_salt[static_cast<std::size_t>(i)];
    }
    REQUIRE(type.set_iv(c->state, iv, srtp_direction_encrypt) == srtp_err_status_ok);
    REQUIRE(type.set_aad(c->state, packet.data(), 12) == srtp_err_status_ok);
    // Room for the tag: libsrtp2's NSS type writes it behind the data.
    std::vector<uint8_t> out = packet;
    out.resize(packet.size() + 16);
    unsigned int len = static_cast<unsigned int>(packet.size() - 12);
    REQUIRE(type.encrypt(c->state, out.data() + 12, &len) == srtp_err_status_ok);
    uint8_t tag[16];
    uint32_t tag_len = sizeof tag;
    REQUIRE(type.get_tag(c->state, tag, &tag_len) == srtp_err_status_ok);
    REQUIRE(tag_len == 16);
    out.resize(packet.size());
    out.insert(out.end(), tag, tag + tag_len);
    type.dealloc(c);
    return out;
}

}  // namespace

TEST_CASE("OpenSSL AES-GCM gives RFC 7714 16's packets, as libsrtp2's own does", "[srtp]") {
    REQUIRE(use_crypto(crypto_backend::openssl).empty());  // srtp_init: NSS for libsrtp2's own
    const auto key_128 = hex("000102030405060708090a0b0c0d0e0f");
    const auto key_256 = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    // RFC 7714 16.1.1 and 16.2.1, "Encrypted and tagged packet".
    const auto srtp_128 = hex(
        "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b"
        "36de3adf8833899d7f27beb16a9152cf765ee4390cce");
    const auto srtp_256 = hex(
        "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f"
        "1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13");
    CHECK(aead_protect(openssl_aes_gcm_128(), key_128, rfc7714_rtp) == srtp_128);
    CHECK(aead_protect(openssl_aes_gcm_256(), key_256, rfc7714_rtp) == srtp_256);
    CHECK(aead_protect(srtp_aes_gcm_128, key_128, rfc7714_rtp) == srtp_128);
    CHECK(aead_protect(srtp_aes_gcm_256, key_256, rfc7714_rtp) == srtp_256);
}

TEST_CASE("GCM refuses a tampered packet", "[srtp]") {
    auto packets =
        protect_all(crypto_backend::openssl, srtp_crypto_policy_set_aes_gcm_128_16_auth, key_28, 2);
    session rx(srtp_crypto_policy_set_aes_gcm_128_16_auth, key_28, false);
    auto tampered = packets[0];
    tampered[20] ^= 0x80;
    int len = static_cast<int>(tampered.size());
    CHECK(srtp_unprotect(rx.s, tampered.data(), &len) == srtp_err_status_auth_fail);
    auto good = packets[0];
    len = static_cast<int>(good.size());
    CHECK(srtp_unprotect(rx.s, good.data(), &len) == srtp_err_status_ok);
    CHECK(len == 172);
}

TEST_CASE("replayed and tampered packets are refused", "[srtp]") {
    auto packets =
        protect_all(crypto_backend::openssl, srtp_crypto_policy_set_rtp_default, key_30, 3);
    session rx(srtp_crypto_policy_set_rtp_default, key_30, false);
    auto first = packets[0];
    int len = static_cast<int>(first.size());
    REQUIRE(srtp_unprotect(rx.s, first.data(), &len) == srtp_err_status_ok);
    // RFC 3711 3.3.2: the same index again is a replay.
    auto again = packets[0];
    len = static_cast<int>(again.size());
    CHECK(srtp_unprotect(rx.s, again.data(), &len) == srtp_err_status_replay_fail);
    // One flipped bit in the payload fails authentication.
    auto tampered = packets[1];
    tampered[40] ^= 0x01;
    len = static_cast<int>(tampered.size());
    CHECK(srtp_unprotect(rx.s, tampered.data(), &len) == srtp_err_status_auth_fail);
    // The untampered packet still passes after the tampered one was refused.
    auto good = packets[1];
    len = static_cast<int>(good.size());
    CHECK(srtp_unprotect(rx.s, good.data(), &len) == srtp_err_status_ok);
}

TEST_CASE("stream_crypto protects and unprotects RTP and RTCP for every suite", "[srtp]") {
    using sbc::dataplane::srtp::outcome;
    using sbc::dataplane::srtp::stream_crypto;
    using sbc::dataplane::srtp::suite;
    // The tag each suite adds to RTP, and to RTCP after the 4-octet SRTCP
    // index: the _32 suites shorten only the SRTP tag (RFC 4568 6.2.2,
    // RFC 6188 7.1); GCM's tag is 16 octets (RFC 7714 14.2).
    struct expected_tags {
        suite s;
        std::size_t rtp;
        std::size_t rtcp;
    };
    for (auto [s, rtp_tag, rtcp_tag] : {expected_tags{suite::aes_cm_128_hmac_sha1_80, 10, 10},
                                        expected_tags{suite::aes_cm_128_hmac_sha1_32, 4, 10},
                                        expected_tags{suite::aead_aes_128_gcm, 16, 16},
                                        expected_tags{suite::aead_aes_256_gcm, 16, 16},
                                        expected_tags{suite::aes_256_cm_hmac_sha1_80, 10, 10},
                                        expected_tags{suite::aes_256_cm_hmac_sha1_32, 4, 10}}) {
        INFO(static_cast<int>(s));
        std::vector<std::uint8_t> master(sbc::dataplane::srtp::master_length(s));
        REQUIRE(sbc::dataplane::srtp::random_fill(master));
        auto tx = stream_crypto::create(s, master, stream_crypto::direction::protect);
        auto rx = stream_crypto::create(s, master, stream_crypto::direction::unprotect);
        REQUIRE(tx);
        REQUIRE(rx);
        std::mt19937 rng(7);
        auto packet = rtp_packet(100, 16000, 0xCAFEF00D, rng);
        const std::vector<std::uint8_t> original(packet.begin(), packet.begin() + 172);
        std::size_t len = 172;
        REQUIRE(tx->protect_rtp(packet.data(), len) == outcome::ok);
        CHECK(len == 172 + rtp_tag);
        CHECK(!std::equal(original.begin() + 12, original.end(), packet.begin() + 12));
        auto copy = packet;
        std::size_t copy_len = len;
        REQUIRE(rx->unprotect_rtp(packet.data(), len) == outcome::ok);
        CHECK(len == 172);
        CHECK(std::equal(original.begin(), original.end(), packet.begin()));
        CHECK(rx->unprotect_rtp(copy.data(), copy_len) == outcome::replayed);
        // An RTCP receiver report (RFC 3550 6.4.2) with no report blocks.
        std::vector<std::uint8_t> rtcp(8 + sbc::dataplane::srtp::max_overhead, 0);
        rtcp[0] = 0x80;
        rtcp[1] = 201;
        rtcp[3] = 1;
        rtcp[7] = 0x0D;
        std::size_t rlen = 8;
        REQUIRE(tx->protect_rtcp(rtcp.data(), rlen) == outcome::ok);
        CHECK(rlen == 8 + 4 + rtcp_tag);
        rtcp[8] ^= 0x01;  // in the SRTCP index: authentication fails
        CHECK(rx->unprotect_rtcp(rtcp.data(), rlen) == outcome::auth_failed);
    }
    std::vector<std::uint8_t> short_key(10);
    CHECK_FALSE(stream_crypto::create(suite::aead_aes_128_gcm, short_key,
                                      stream_crypto::direction::protect));
}

namespace {

using sbc::dataplane::srtp::stream_crypto;
using sbc::dataplane::srtp::stream_position;

constexpr std::uint32_t roc_ssrc = 0x5EED0001;

/// `count` packets of `roc_ssrc` from sequence number `first_seq` on (it
/// wraps), protected by `tx`.
std::vector<std::vector<uint8_t>> protect_run(stream_crypto& tx, std::uint16_t first_seq, int count,
                                              std::mt19937& rng) {
    std::vector<std::vector<uint8_t>> out;
    for (int i = 0; i < count; ++i) {
        auto p = rtp_packet(static_cast<std::uint16_t>(first_seq + i),
                            160u * static_cast<std::uint32_t>(i), roc_ssrc, rng);
        std::size_t len = 172;
        REQUIRE(tx.protect_rtp(p.data(), len) == outcome::ok);
        p.resize(len);
        out.push_back(p);
    }
    return out;
}

/// How many of `packets` `rx` accepts.
int accepted(stream_crypto& rx, std::vector<std::vector<uint8_t>> packets) {
    int ok = 0;
    for (auto& p : packets) {
        std::size_t len = p.size();
        ok += rx.unprotect_rtp(p.data(), len) == outcome::ok ? 1 : 0;
    }
    return ok;
}

stream_crypto make(stream_crypto::direction dir, const std::vector<uint8_t>& key,
                   std::span<const stream_position> continued = {}) {
    auto made = stream_crypto::create(suite::aes_cm_128_hmac_sha1_80, key, dir, continued);
    REQUIRE(made);
    return std::move(made.value());
}

}  // namespace

TEST_CASE("a stream's rollover counter counts the wraps of its sequence numbers", "[srtp][roc]") {
    auto tx = make(stream_crypto::direction::protect, key_30);
    CHECK_FALSE(tx.roc_of(roc_ssrc));  // no stream before its first packet
    std::mt19937 rng(3);
    protect_run(tx, 65530, 5, rng);
    CHECK(tx.roc_of(roc_ssrc) == 0u);
    protect_run(tx, 65535, 3, rng);  // 65535, 0, 1
    CHECK(tx.roc_of(roc_ssrc) == 1u);
    CHECK_FALSE(tx.roc_of(roc_ssrc + 1));
}

TEST_CASE("a sender made again continues the stream's rollover counter", "[srtp][roc]") {
    std::mt19937 rng(5);
    auto tx = make(stream_crypto::direction::protect, key_30);
    auto rx = make(stream_crypto::direction::unprotect, key_30);
    REQUIRE(accepted(rx, protect_run(tx, 65530, 10, rng)) == 10);  // ends at seq 3, ROC 1
    REQUIRE(tx.roc_of(roc_ssrc) == 1u);

    SECTION("continued: the receiver takes its packets") {
        const stream_position pos{roc_ssrc, 1};
        auto again = make(stream_crypto::direction::protect, key_30, {&pos, 1});
        CHECK(accepted(rx, protect_run(again, 20, 5, rng)) == 5);
        CHECK(again.roc_of(roc_ssrc) == 1u);
    }
    SECTION("not continued: the receiver refuses them (index off by 2^16)") {
        auto again = make(stream_crypto::direction::protect, key_30);
        CHECK(accepted(rx, protect_run(again, 20, 5, rng)) == 0);
    }
}

TEST_CASE("a receiver made again continues the stream's rollover counter", "[srtp][roc]") {
    std::mt19937 rng(9);
    auto tx = make(stream_crypto::direction::protect, key_30);
    auto rx = make(stream_crypto::direction::unprotect, key_30);
    REQUIRE(accepted(rx, protect_run(tx, 65530, 10, rng)) == 10);
    REQUIRE(rx.roc_of(roc_ssrc) == 1u);
    const auto later = protect_run(tx, 20, 5, rng);

    SECTION("continued") {
        const stream_position pos{roc_ssrc, 1};
        auto again = make(stream_crypto::direction::unprotect, key_30, {&pos, 1});
        CHECK(accepted(again, later) == 5);
        CHECK(again.roc_of(roc_ssrc) == 1u);
    }
    SECTION("not continued") {
        auto again = make(stream_crypto::direction::unprotect, key_30);
        CHECK(accepted(again, later) == 0);
    }
    SECTION("a ROC of 0 continues as a fresh stream does") {
        const stream_position pos{roc_ssrc, 0};
        auto fresh_tx = make(stream_crypto::direction::protect, key_30);
        auto again = make(stream_crypto::direction::unprotect, key_30, {&pos, 1});
        CHECK(accepted(again, protect_run(fresh_tx, 100, 3, rng)) == 3);
    }
}

namespace {

/// An empty SRTCP receiver report (RFC 3550 6.4.2) from `roc_ssrc`,
/// protected by `tx`.
std::vector<uint8_t> protected_report(stream_crypto& tx) {
    std::vector<uint8_t> rr(8 + max_overhead, 0);
    rr[0] = 0x80;
    rr[1] = 201;
    rr[3] = 1;
    for (int i = 0; i < 4; ++i) {
        rr[4 + static_cast<std::size_t>(i)] = static_cast<uint8_t>(roc_ssrc >> (24 - 8 * i));
    }
    std::size_t len = 8;
    REQUIRE(tx.protect_rtcp(rr.data(), len) == outcome::ok);
    rr.resize(len);
    return rr;
}

outcome unprotect_report(stream_crypto& rx, std::vector<uint8_t> rr) {
    std::size_t len = rr.size();
    return rx.unprotect_rtcp(rr.data(), len);
}

}  // namespace

TEST_CASE("a sender made again starts its SRTCP index past the skipped ones", "[srtp][roc]") {
    auto tx = make(stream_crypto::direction::protect, key_30);
    auto rx = make(stream_crypto::direction::unprotect, key_30);
    for (int i = 0; i < 300; ++i) {
        REQUIRE(unprotect_report(rx, protected_report(tx)) == outcome::ok);
    }
    SECTION("continued: 300 reported, 256 more skipped (RFC 3711 3.4: the index grows)") {
        const stream_position pos{roc_ssrc, 0, 300 + 256};
        auto again = make(stream_crypto::direction::protect, key_30, {&pos, 1});
        CHECK(unprotect_report(rx, protected_report(again)) == outcome::ok);
        CHECK(unprotect_report(rx, protected_report(again)) == outcome::ok);
    }
    SECTION("not continued: the receiver's replay list refuses the index it saw") {
        auto again = make(stream_crypto::direction::protect, key_30);
        CHECK(unprotect_report(rx, protected_report(again)) == outcome::replayed);
    }
    SECTION("a receiver ignores the skip") {
        const stream_position pos{roc_ssrc, 0, 300};
        auto rx_again = make(stream_crypto::direction::unprotect, key_30, {&pos, 1});
        CHECK(unprotect_report(rx_again, protected_report(tx)) == outcome::ok);
    }
}
