// One leg's SDES offer/answer (RFC 4568 7) under each trunk srtp mode: the
// lines the SBC states, the peer lines it takes or refuses, and the keys
// that result for the data plane.
#include <catch2/catch.hpp>

#include <numeric>

#include "sbc/sdp/sdes_leg.hpp"

using namespace sbc::sdp;
using sbc::config::srtp_mode;

namespace {

// Deterministic keys: each call fills with the next run of counting octets,
// so every key made is different and a test can tell them apart.
unsigned char next_octet = 0;
bool counting_keys(std::span<std::uint8_t> out) noexcept {
    for (auto& b : out) {
        b = next_octet++;
    }
    return true;
}
bool failing_keys(std::span<std::uint8_t>) noexcept { return false; }

const std::vector<srtp_suite> all_suites = {
    srtp_suite::aes_cm_128_hmac_sha1_80, srtp_suite::aead_aes_128_gcm, srtp_suite::aead_aes_256_gcm,
    srtp_suite::aes_cm_128_hmac_sha1_32};

// A peer's line with a key of `octet` repeated.
std::string peer_line(unsigned tag, srtp_suite s, std::uint8_t octet) {
    sdes_crypto c{tag, s, sdes_key(std::vector<std::uint8_t>(key_salt_length(s), octet))};
    return format_crypto(c);
}

sdes_crypto parsed_crypto(const std::string& line) {
    auto c = parse_crypto(line);
    REQUIRE(c);
    return std::move(c.value());
}

}  // namespace

TEST_CASE("srtp off: plain RTP, an SAVP offer refused, a=crypto on AVP ignored", "[sdp][sdes]") {
    sdes_leg leg(srtp_mode::off, all_suites, counting_keys);
    auto offer = leg.make_offer();
    REQUIRE(offer);
    CHECK_FALSE(offer->secure_profile);
    CHECK(offer->crypto.empty());

    auto line = peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 7);
    CHECK_FALSE(leg.accept_offer(true, {line}));
    auto ignored = leg.accept_offer(false, {line});
    REQUIRE(ignored);
    CHECK_FALSE(ignored.value());
    CHECK_FALSE(leg.keys());
    CHECK(leg.answer().crypto.empty());
}

TEST_CASE("srtp required: SAVP offer with a key per suite, answer picks one", "[sdp][sdes]") {
    sdes_leg leg(srtp_mode::required, all_suites, counting_keys);
    auto offer = leg.make_offer();
    REQUIRE(offer);
    CHECK(offer->secure_profile);
    REQUIRE(offer->crypto.size() == 4);
    std::vector<sdes_crypto> lines;
    for (const auto& l : offer->crypto) {
        lines.push_back(parsed_crypto(l));
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        CHECK(lines[i].tag == i + 1);
        CHECK(lines[i].suite == all_suites[i]);
        for (std::size_t j = 0; j < i; ++j) {
            CHECK(lines[i].key.bytes() != lines[j].key.bytes());  // never one key for two suites
        }
    }
    // The same keys in a later offer on the leg (a re-INVITE keeps its contexts).
    auto again = leg.make_offer();
    REQUIRE(again);
    CHECK(again->crypto == offer->crypto);

    CHECK_FALSE(leg.accept_answer(true, {}));  // required: no key, no call
    CHECK_FALSE(leg.accept_answer(false, {}));
    // A tag that was not offered, or an offered tag with another suite.
    CHECK_FALSE(leg.accept_answer(true, {peer_line(9, srtp_suite::aead_aes_128_gcm, 1)}));
    CHECK_FALSE(leg.accept_answer(true, {peer_line(2, srtp_suite::aead_aes_256_gcm, 1)}));
    CHECK_FALSE(leg.keys());

    auto before = leg.generation();
    auto answered = leg.accept_answer(true, {peer_line(2, srtp_suite::aead_aes_128_gcm, 0x5a)});
    REQUIRE(answered);
    CHECK(answered.value());
    REQUIRE(leg.keys());
    CHECK(leg.keys()->suite == srtp_suite::aead_aes_128_gcm);
    CHECK(leg.keys()->peer.bytes() == std::vector<std::uint8_t>(28, 0x5a));
    CHECK(leg.keys()->local.bytes() == lines[1].key.bytes());
    CHECK(leg.generation() != before);
    // The same answer again (a 2xx after a 183) changes nothing.
    auto generation = leg.generation();
    REQUIRE(leg.accept_answer(true, {peer_line(2, srtp_suite::aead_aes_128_gcm, 0x5a)}));
    CHECK(leg.generation() == generation);
}

TEST_CASE("srtp required: an offer must carry a usable key", "[sdp][sdes]") {
    sdes_leg leg(srtp_mode::required, {srtp_suite::aes_cm_128_hmac_sha1_80}, counting_keys);
    CHECK_FALSE(leg.accept_offer(false, {}));
    CHECK_FALSE(leg.accept_offer(true, {}));
    // Only suites the trunk allows; MKI lines are unusable (RFC 4568 6.3 lets
    // the answerer pick any line it supports).
    CHECK_FALSE(leg.accept_offer(true, {peer_line(1, srtp_suite::aead_aes_128_gcm, 3)}));
    auto taken = leg.accept_offer(
        true, {"1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
               peer_line(2, srtp_suite::aead_aes_128_gcm, 3),
               peer_line(3, srtp_suite::aes_cm_128_hmac_sha1_80, 4)});
    REQUIRE(taken);
    CHECK(taken.value());
    CHECK_FALSE(leg.keys());  // in force with the answer only
    auto answer = leg.answer();
    REQUIRE(leg.keys());
    CHECK(leg.keys()->peer.bytes() == std::vector<std::uint8_t>(30, 4));
    CHECK(answer.secure_profile);
    REQUIRE(answer.crypto.size() == 1);
    auto ours = parsed_crypto(answer.crypto[0]);
    CHECK(ours.tag == 3);
    CHECK(ours.suite == srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(ours.key.bytes() == leg.keys()->local.bytes());
    CHECK(ours.key.bytes() != leg.keys()->peer.bytes());

    // A later re-offer of the same SDP (RFC 3264 8) is answered against the
    // line the SBC stated: tag 3.
    REQUIRE(leg.accept_answer(true, {peer_line(3, srtp_suite::aes_cm_128_hmac_sha1_80, 4)}));
    CHECK(leg.keys()->peer.bytes() == std::vector<std::uint8_t>(30, 4));
}

TEST_CASE("srtp optional: AVP with keys; SRTP only when the peer takes it", "[sdp][sdes]") {
    sdes_leg leg(srtp_mode::optional, all_suites, counting_keys);
    auto offer = leg.make_offer();
    REQUIRE(offer);
    CHECK_FALSE(offer->secure_profile);
    CHECK(offer->crypto.size() == 4);

    auto plain = leg.accept_answer(false, {});
    REQUIRE(plain);
    CHECK_FALSE(plain.value());
    CHECK_FALSE(leg.keys());

    REQUIRE(leg.accept_answer(false, {peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 9)}));
    CHECK(leg.keys());

    // Offers: plain RTP is fine, SAVP without a usable key is not.
    auto plain_offer = leg.accept_offer(false, {});
    REQUIRE(plain_offer);
    CHECK_FALSE(plain_offer.value());
    CHECK(leg.keys());  // until the answer
    CHECK(leg.answer().crypto.empty());
    CHECK_FALSE(leg.keys());
    CHECK_FALSE(leg.accept_offer(true, {"1 F8_128_HMAC_SHA1_80 inline:AAAA"}));
    auto best_effort =
        leg.accept_offer(false, {peer_line(5, srtp_suite::aes_cm_128_hmac_sha1_32, 2)});
    REQUIRE(best_effort);
    CHECK(best_effort.value());
    CHECK_FALSE(leg.answer().secure_profile);  // the answer keeps the offer's profile
}

TEST_CASE("srtp: no key is ever made up when the generator fails", "[sdp][sdes]") {
    sdes_leg leg(srtp_mode::required, all_suites, failing_keys);
    CHECK_FALSE(leg.make_offer());
    CHECK_FALSE(leg.accept_offer(true, {peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 1)}));
    CHECK_FALSE(leg.keys());
}

TEST_CASE("srtp: a re-offer's keys wait for the answer, and a refused one changes nothing",
          "[sdp][sdes]") {
    sdes_leg leg(srtp_mode::required, all_suites, counting_keys);
    REQUIRE(leg.accept_offer(true, {peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 1)}));
    leg.answer();
    REQUIRE(leg.keys());
    const auto generation = leg.generation();
    const auto local = leg.keys()->local.bytes();

    // A re-INVITE re-keys (RFC 4568 7.1.4); the other leg refuses it, so no
    // answer is given (RFC 3264 8: the old session stays).
    REQUIRE(leg.accept_offer(true, {peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 2)}));
    CHECK(leg.generation() == generation);
    CHECK(leg.keys()->peer.bytes() == std::vector<std::uint8_t>(30, 1));
    // The SBC's own next offer on the leg drops the refused proposal.
    REQUIRE(leg.make_offer());
    REQUIRE(leg.accept_answer(true, {peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 1)}));
    CHECK(leg.keys()->peer.bytes() == std::vector<std::uint8_t>(30, 1));

    // Answered this time: the new peer key is in force, the SBC's stays.
    REQUIRE(leg.accept_offer(true, {peer_line(1, srtp_suite::aes_cm_128_hmac_sha1_80, 3)}));
    leg.answer();
    CHECK(leg.generation() != generation);
    CHECK(leg.keys()->peer.bytes() == std::vector<std::uint8_t>(30, 3));
    CHECK(leg.keys()->local.bytes() == local);
}
