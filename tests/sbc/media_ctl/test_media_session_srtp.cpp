// media_session's SRTP (RFC 3711, keyed by RFC 4568 SDES) per trunk `srtp`
// mode: the peer's keys go to the engine, the other leg gets the SBC's own
// keys, never the peer's, and SDP a mode cannot take is an error result.
#include <catch2/catch.hpp>

#include <optional>
#include <tuple>

#include "tests/sbc/media_ctl/media_call.hpp"

using sbc::config::srtp_suite;
using sbc::dataplane::side;
using sbc::test::carrier_peer;
using sbc::test::contains;
using sbc::test::crypto_of;
using sbc::test::inline_key;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_peer;
using sbc::test::peer_crypto;
using sbc::test::why;

namespace {

std::vector<std::uint8_t> octets(srtp_suite s, std::uint8_t octet) {
    return std::vector<std::uint8_t>(sbc::sdp::key_salt_length(s), octet);
}

}  // namespace

TEST_CASE("an SRTP caller's keys are programmed when answered; it gets the SBC's own",
          "[media_ctl][srtp]") {
    media_call call({.carrier = "srtp: required"});
    const auto peer_line = peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11);
    auto offer = carrier_peer();
    offer.profile = "RTP/SAVP";
    offer.attributes = {peer_line};
    auto to_pbx = call.offer(side::a, offer);
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    // The PBX's trunk is plain RTP: no keys at all, the caller's least of all.
    CHECK_FALSE(parsed(*to_pbx).audio().secure);
    CHECK(crypto_of(*to_pbx).empty());
    CHECK_FALSE(contains(*to_pbx, inline_key(peer_line)));
    // Offered keys are only proposed (RFC 3264 8: a refused re-offer keeps the old).
    CHECK(call.journal("set_srtp").empty());
    CHECK_FALSE(call.media.srtp_suite(side::a));

    auto to_carrier = call.answer(side::b, pbx_peer());
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    CHECK(parsed(*to_carrier).audio().secure);
    const auto answered = crypto_of(*to_carrier);
    REQUIRE(answered.size() == 1);
    CHECK(answered[0].tag == 1);  // RFC 4568 7.1.2: the offer's tag and suite
    CHECK(answered[0].suite == srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(answered[0].key.bytes().size() == 30);
    CHECK(answered[0].key.bytes() != octets(srtp_suite::aes_cm_128_hmac_sha1_80, 0x11));
    CHECK_FALSE(contains(*to_carrier, inline_key(peer_line)));

    const auto& a = call.programmed().of(side::a);
    CHECK(a.srtp_in);
    CHECK(a.srtp_out);
    CHECK(a.srtp_set == 1);
    CHECK(call.programmed().of(side::b).srtp_set == 0);
    CHECK(call.media.srtp_suite(side::a) == srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK_FALSE(call.media.srtp_suite(side::b));
}

TEST_CASE("an SRTP trunk is offered the SBC's keys and programmed from its answer",
          "[media_ctl][srtp]") {
    media_call call({.pbx = "srtp: required"});
    auto to_pbx = call.offer(side::a, carrier_peer());
    REQUIRE(to_pbx);
    CHECK(parsed(*to_pbx).audio().secure);
    CHECK(contains(*to_pbx, "m=audio 40002 RTP/SAVP "));
    const auto offered = crypto_of(*to_pbx);
    // One line per suite of the trunk, in its order, each with a key of its own.
    REQUIRE(offered.size() == 4);
    CHECK(offered[0].suite == srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(offered[1].suite == srtp_suite::aead_aes_128_gcm);
    CHECK(offered[2].suite == srtp_suite::aead_aes_256_gcm);
    CHECK(offered[3].suite == srtp_suite::aes_cm_128_hmac_sha1_32);
    CHECK(offered[0].key.bytes() != offered[3].key.bytes());

    const auto peer_line = peer_crypto(2, srtp_suite::aead_aes_128_gcm, 0x22);
    auto answer = pbx_peer();
    answer.profile = "RTP/SAVP";
    answer.attributes = {peer_line};
    auto to_carrier = call.answer(side::b, answer);
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    CHECK_FALSE(parsed(*to_carrier).audio().secure);
    CHECK(crypto_of(*to_carrier).empty());
    CHECK_FALSE(contains(*to_carrier, inline_key(peer_line)));

    const auto& b = call.programmed().of(side::b);
    CHECK(b.srtp_in);
    CHECK(b.srtp_out);
    CHECK(b.srtp_set == 1);
    CHECK(call.programmed().of(side::a).srtp_set == 0);
    CHECK(call.media.srtp_suite(side::b) == srtp_suite::aead_aes_128_gcm);
    CHECK_FALSE(call.media.srtp_suite(side::a));
}

TEST_CASE("srtp: optional takes SRTP when the peer offers a key, RTP when not",
          "[media_ctl][srtp]") {
    media_call call({.carrier = "srtp: optional"});
    auto offer = carrier_peer();
    SECTION("a key on RTP/AVP (RFC 4568 7.1.1)") {
        offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_32, 0x44)};
        call.connect(offer);
        CHECK(call.media.srtp_suite(side::a) == srtp_suite::aes_cm_128_hmac_sha1_32);
        CHECK(call.programmed().of(side::a).srtp_in);
        const auto answered = crypto_of(call.to_a.last_sent);
        REQUIRE(answered.size() == 1);
        CHECK(answered[0].suite == srtp_suite::aes_cm_128_hmac_sha1_32);
        CHECK_FALSE(parsed(call.to_a.last_sent).audio().secure);
    }
    SECTION("no key") {
        call.connect(offer);
        CHECK_FALSE(call.media.srtp_suite(side::a));
        CHECK(call.journal("set_srtp").empty());
        CHECK(crypto_of(call.to_a.last_sent).empty());
    }
}

TEST_CASE("an offer is answered with its first line whose suite the trunk allows",
          "[media_ctl][srtp]") {
    media_call call({.carrier = "srtp: required, srtp_suites: [AEAD_AES_256_GCM]"});
    auto offer = carrier_peer();
    offer.profile = "RTP/SAVP";
    offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11),
                        peer_crypto(2, srtp_suite::aead_aes_256_gcm, 0x12)};
    call.connect(offer);
    CHECK(call.media.srtp_suite(side::a) == srtp_suite::aead_aes_256_gcm);
    const auto answered = crypto_of(call.to_a.last_sent);
    REQUIRE(answered.size() == 1);
    CHECK(answered[0].tag == 2);
    CHECK(answered[0].suite == srtp_suite::aead_aes_256_gcm);
    CHECK(answered[0].key.bytes().size() == 44);
    CHECK(answered[0].key.bytes() != octets(srtp_suite::aead_aes_256_gcm, 0x12));
}

TEST_CASE("a Zoom-style offer is answered with AES-256 counter mode when the trunk prefers it",
          "[media_ctl][srtp]") {
    // Zoom BYOC offers the GCM suites, then AES_256_CM_HMAC_SHA1_80, then the
    // AES-128 ones; a trunk that lists AES-256-CM only gets that line.
    media_call call({.carrier = "srtp: required, srtp_suites: [AES_256_CM_HMAC_SHA1_80]"});
    auto offer = carrier_peer();
    offer.profile = "RTP/SAVP";
    offer.attributes = {peer_crypto(1, srtp_suite::aead_aes_256_gcm, 0x21),
                        peer_crypto(2, srtp_suite::aead_aes_128_gcm, 0x22),
                        peer_crypto(3, srtp_suite::aes_256_cm_hmac_sha1_80, 0x23),
                        peer_crypto(4, srtp_suite::aes_cm_128_hmac_sha1_80, 0x24)};
    call.connect(offer);
    CHECK(call.media.srtp_suite(side::a) == srtp_suite::aes_256_cm_hmac_sha1_80);
    const auto answered = crypto_of(call.to_a.last_sent);
    REQUIRE(answered.size() == 1);
    CHECK(answered[0].tag == 3);
    CHECK(answered[0].suite == srtp_suite::aes_256_cm_hmac_sha1_80);
    CHECK(answered[0].key.bytes().size() == 46);
}

TEST_CASE("SDP the trunk's srtp mode cannot take is an error result", "[media_ctl][srtp]") {
    SECTION("no a=crypto from a trunk that requires SRTP") {
        media_call call({.carrier = "srtp: required"});
        for (const std::string profile : {"RTP/AVP", "RTP/SAVP"}) {
            auto offer = carrier_peer();
            offer.profile = profile;
            auto out = call.offer(side::a, offer);
            REQUIRE_FALSE(out);
            CHECK(contains(out.error_message(), "trunk carrier (srtp: required)"));
        }
        CHECK(call.journal("set_").empty());
        CHECK(call.to_b.last_sent.empty());
    }
    SECTION("a key no one can use") {
        media_call call({.carrier = "srtp: required, srtp_suites: [AEAD_AES_256_GCM]"});
        auto offer = carrier_peer();
        offer.profile = "RTP/SAVP";
        offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11),
                            "crypto:2 AEAD_AES_256_GCM inline:not-base64!!"};
        CHECK_FALSE(call.offer(side::a, offer));
        CHECK(call.journal("set_").empty());
    }
    SECTION("RTP/SAVP to a trunk with srtp off") {
        media_call call;
        auto offer = carrier_peer();
        offer.profile = "RTP/SAVP";
        offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11)};
        CHECK_FALSE(call.offer(side::a, offer));
        CHECK(call.journal("set_").empty());
    }
    SECTION("an answer without a key from a trunk that requires SRTP") {
        media_call call({.pbx = "srtp: required"});
        REQUIRE(call.offer(side::a, carrier_peer()));
        CHECK_FALSE(call.answer(side::b, pbx_peer()));
        CHECK(call.journal("set_srtp").empty());
        CHECK(call.to_a.last_sent.empty());
    }
    SECTION("an answer whose line answers nothing offered") {
        media_call call({.pbx = "srtp: required, srtp_suites: [AES_CM_128_HMAC_SHA1_80]"});
        REQUIRE(call.offer(side::a, carrier_peer()));
        auto answer = pbx_peer();
        answer.profile = "RTP/SAVP";
        answer.attributes = {peer_crypto(1, srtp_suite::aead_aes_128_gcm, 0x22)};
        CHECK_FALSE(call.answer(side::b, answer));
        CHECK(call.journal("set_srtp").empty());
    }
}

TEST_CASE("a re-offer that keeps the keys keeps the SRTP contexts; a new key replaces them",
          "[media_ctl][srtp]") {
    media_call call({.carrier = "srtp: required"});
    auto offer = carrier_peer();
    offer.profile = "RTP/SAVP";
    offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11)};
    call.connect(offer);
    const auto first_answer = call.to_a.last_sent;
    REQUIRE(call.programmed().of(side::a).srtp_set == 1);
    // Both streams rolled over and the SBC sent SRTCP (media_event::kind::
    // srtp_rollover), as the state document carries them.
    for (const bool to_peer : {false, true}) {
        sbc::dataplane::media_event ev;
        ev.what = sbc::dataplane::media_event::kind::srtp_rollover;
        ev.s = side::a;
        ev.to_peer = to_peer;
        ev.ssrc = to_peer ? 0x100 : 0x200;
        ev.roc = 1;
        CHECK(call.media.note_srtp_rollover(ev));
    }
    sbc::dataplane::media_event srtcp;
    srtcp.what = sbc::dataplane::media_event::kind::srtp_rollover;
    srtcp.s = side::a;
    srtcp.to_peer = true;
    srtcp.srtcp = true;
    srtcp.ssrc = 0x100;
    srtcp.srtcp_sent = 256;
    CHECK(call.media.note_srtp_rollover(srtcp));
    srtcp.s = side::b;
    CHECK_FALSE(call.media.note_srtp_rollover(srtcp));  // plain RTP: nothing to carry
    const auto positions = [&] {
        const auto st = call.media.state().legs[0].srtp;
        REQUIRE(st);
        return std::make_tuple(st->peer_stream, st->local_stream, st->local_srtcp);
    };
    using sbc::media_ctl::srtcp_position_state;
    using sbc::media_ctl::srtp_position_state;
    const auto rolled = std::make_tuple(std::optional{srtp_position_state{0x200, 1}},
                                        std::optional{srtp_position_state{0x100, 1}},
                                        std::optional{srtcp_position_state{0x100, 256}});
    CHECK(positions() == rolled);

    // RFC 4568 7.1.4: a re-offer may keep the keys; the SBC keeps its own too.
    call.connect(offer);
    CHECK(call.to_a.last_sent == first_answer);
    CHECK(call.programmed().of(side::a).srtp_set == 1);
    CHECK(positions() == rolled);  // the same contexts go on

    auto rekeyed = offer;
    rekeyed.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x55)};
    call.connect(rekeyed);
    CHECK(call.programmed().of(side::a).srtp_set == 2);
    CHECK(call.programmed().of(side::a).srtp_in);
    // The peer's new key starts its streams at ROC 0; the SBC's key stayed,
    // so its new protect context goes on with its streams (RFC 4568 7.1.4).
    CHECK(positions() == std::make_tuple(std::optional<srtp_position_state>{}, std::get<1>(rolled),
                                         std::get<2>(rolled)));
    // The SBC's own key for the suite stays the leg's.
    CHECK(crypto_of(call.to_a.last_sent)[0].key.bytes() == crypto_of(first_answer)[0].key.bytes());
    // Other suite: new keys both ways, every stream at 0.
    auto other_suite = offer;
    other_suite.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_32, 0x66)};
    call.connect(other_suite);
    CHECK(call.programmed().of(side::a).srtp_set == 3);
    CHECK(positions() == decltype(rolled){});
}
