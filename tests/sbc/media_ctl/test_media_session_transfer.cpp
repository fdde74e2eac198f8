// media_session in a transfer (conf/README.md, refer: handle): the target is
// offered the referrer's side, on a port pair prepared on its own interface
// when it is reached through another; the pair is taken when the target
// answers and let go when it does not. Codecs are planned as for a new call
// from the party that stays; SRTP is the target trunk's own.
#include <catch2/catch.hpp>

#include <memory>

#include "tests/sbc/media_ctl/media_call.hpp"

using sbc::config::srtp_suite;
using sbc::dataplane::side;
using sbc::media_ctl::sdp_origin;
using sbc::test::carrier_peer;
using sbc::test::contains;
using sbc::test::crypto_of;
using sbc::test::formats_of;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_media;
using sbc::test::pbx_peer;
using sbc::test::peer_crypto;
using sbc::test::target_peer;
using sbc::test::teams_media;
using sbc::test::why;

namespace {

using strings = std::vector<std::string>;

// A blind transfer by the PBX (leg b) under way, as sbc/b2bua starts one:
// the target's keying and dialog identity, and the offer it is sent.
struct transfer {
    std::unique_ptr<sbc::sdp::sdes_leg> sdes;
    sdp_origin origin;
    std::uint16_t port = 0;
    sbc::result<std::string> offer = std::string();
};

transfer start_transfer(media_call& call, const std::string& via, const std::string& trunk) {
    const auto& target = call.trunk(trunk);
    transfer t;
    t.sdes = std::make_unique<sbc::sdp::sdes_leg>(target.srtp, target.srtp_suites);
    t.origin = sdp_origin{call.to_b.session_id, call.to_b.version, {}};
    t.offer = call.media.transfer_offer(side::b, call.to_b.last_sent, via, target, *t.sdes,
                                        t.origin, call.to_a.last_sent, t.port);
    return t;
}

// The target answered: it takes leg b, as sbc/b2bua completes a transfer.
sbc::result<bool> complete(media_call& call, transfer& t, const std::string& trunk,
                           const std::string& via, const sbc::test::peer_sdp& answer) {
    call.media.take_over(side::b, call.trunk(trunk), std::move(t.sdes), via, t.port);
    return call.media.accept_transfer_answer(side::b, answer.text());
}

}  // namespace

TEST_CASE("a target behind another interface gets a pair there, taken when it answers",
          "[media_ctl][transfer]") {
    media_call call;
    call.connect();
    // The PBX put the carrier on hold before it transfers.
    auto hold = pbx_peer();
    hold.direction = "sendonly";
    REQUIRE(call.offer(side::b, hold));
    auto held_answer = carrier_peer();
    held_answer.direction = "recvonly";
    REQUIRE(call.answer(side::a, held_answer));
    REQUIRE(contains(call.to_b.last_sent, "a=recvonly"));

    auto t = start_transfer(call, teams_media, "teams");
    INFO(why(t.offer));
    REQUIRE(t.offer);
    CHECK(call.journal("prepare_side_move") == strings{"prepare_side_move 7 b 127.0.3.1"});
    CHECK(t.port == 40004);
    CHECK(call.programmed().of(side::b).pending_move == teams_media);
    // Until the target answers, the PBX's media goes on where it was.
    CHECK(call.media.rtp_port(side::b) == 40002);
    CHECK(call.media.media_address(side::b) == pbx_media);

    const auto offer = parsed(*t.offer);
    CHECK(offer.audio().rtp.to_string() == "127.0.3.1:40004");
    CHECK(offer.audio().dir == sbc::sdp::direction::sendrecv);  // two-way again
    CHECK_FALSE(contains(*t.offer, pbx_media));
    CHECK_FALSE(contains(*t.offer, "192.0.2.10"));
    CHECK(contains(*t.offer, "o=sbc 2002 2 IN IP4 127.0.3.1\r\n"));
    // The codec the carrier uses, which the target's trunk takes.
    CHECK(formats_of(*t.offer) == strings{"0 PCMU/8000", "101 telephone-event/8000"});

    auto taken = complete(call, t, "teams", teams_media, target_peer());
    INFO(why(taken));
    REQUIRE(taken);
    CHECK(call.journal("commit_side_move") == strings{"commit_side_move 7 b"});
    CHECK(call.programmed().of(side::b).moves == 1);
    CHECK(call.programmed().local[1] == teams_media);
    CHECK(call.media.rtp_port(side::b) == 40004);
    CHECK(call.media.media_address(side::b) == teams_media);
    CHECK(call.programmed().of(side::b).rtp->to_string() == "203.0.113.30:32000");
    CHECK_FALSE(call.media.has_chains());
    CHECK(call.media.codec(side::b) == "PCMU/8000");
    // The carrier keeps its address and port.
    CHECK(call.media.rtp_port(side::a) == 40000);
    CHECK(call.programmed().of(side::a).rtp->to_string() == "192.0.2.10:30000");
}

TEST_CASE("a transfer that ends without its target lets the prepared pair go",
          "[media_ctl][transfer]") {
    media_call call;
    call.connect();
    auto t = start_transfer(call, teams_media, "teams");
    REQUIRE(t.offer);
    REQUIRE(call.programmed().of(side::b).pending_move);

    call.media.cancel_transfer(side::b);
    CHECK(call.journal("cancel_side_move") == strings{"cancel_side_move 7 b"});
    CHECK_FALSE(call.programmed().of(side::b).pending_move);
    CHECK(call.programmed().of(side::b).moves == 0);
    CHECK(call.programmed().local[1] == pbx_media);
    CHECK(call.media.rtp_port(side::b) == 40002);
    CHECK(call.media.media_address(side::b) == pbx_media);

    // The call goes on as it was: the PBX's next answer is planned against
    // the carrier's re-offer, not against the offer the target never took.
    auto to_pbx = call.offer(side::a, carrier_peer());
    REQUIRE(to_pbx);
    CHECK(parsed(*to_pbx).audio().rtp.to_string() == "127.0.2.1:40002");
    REQUIRE(call.answer(side::b, pbx_peer()));
    CHECK(call.programmed().of(side::b).rtp->to_string() == "198.51.100.20:31000");
}

TEST_CASE("a target on the referrer's interface keeps the referrer's pair",
          "[media_ctl][transfer]") {
    media_call call;
    call.connect();
    auto t = start_transfer(call, pbx_media, "pbx");
    REQUIRE(t.offer);
    CHECK(call.journal("prepare_side_move").empty());
    CHECK(t.port == 40002);
    CHECK(parsed(*t.offer).audio().rtp.to_string() == "127.0.2.1:40002");

    auto target = target_peer();
    REQUIRE(complete(call, t, "pbx", pbx_media, target));
    CHECK(call.journal("commit_side_move").empty());
    CHECK(call.media.rtp_port(side::b) == 40002);
    CHECK(call.programmed().of(side::b).rtp->to_string() == "203.0.113.30:32000");
}

TEST_CASE("a target whose trunk takes other codecs is transcoded once it answers",
          "[media_ctl][transfer][codecs]") {
    media_call call({.teams = "codecs: [G729]"});
    call.connect();
    REQUIRE_FALSE(call.media.has_chains());

    auto t = start_transfer(call, teams_media, "teams");
    INFO(why(t.offer));
    REQUIRE(t.offer);
    CHECK(formats_of(*t.offer) == strings{"18 G729/8000"});
    CHECK(parsed(*t.offer).ptime() == 20);

    auto answer = target_peer();
    answer.rtpmaps = {"18 G729/8000"};
    answer.attributes = {"fmtp:18 annexb=no"};
    auto taken = complete(call, t, "teams", teams_media, answer);
    INFO(why(taken));
    REQUIRE(taken);
    CHECK(call.media.transcoded());
    CHECK(call.programmed().of(side::a).chain);
    CHECK(call.programmed().of(side::b).chain);
    // The party that stays keeps its codec.
    CHECK(call.media.codec(side::a) == "PCMU/8000");
    CHECK(call.media.codec(side::b) == "G729/8000");
}

TEST_CASE("the target's SRTP is its own trunk's", "[media_ctl][transfer][srtp]") {
    SECTION("a plain call handed to an SRTP target") {
        media_call call({.teams = "srtp: required"});
        call.connect();
        auto t = start_transfer(call, teams_media, "teams");
        REQUIRE(t.offer);
        CHECK(parsed(*t.offer).audio().secure);
        CHECK(crypto_of(*t.offer).size() == 4);

        auto answer = target_peer();
        answer.profile = "RTP/SAVP";
        answer.attributes = {peer_crypto(3, srtp_suite::aead_aes_256_gcm, 0x66)};
        auto taken = complete(call, t, "teams", teams_media, answer);
        INFO(why(taken));
        REQUIRE(taken);
        CHECK(call.programmed().of(side::b).srtp_in);
        CHECK(call.programmed().of(side::b).srtp_out);
        CHECK(call.media.srtp_suite(side::b) == srtp_suite::aead_aes_256_gcm);
        CHECK(call.programmed().of(side::a).srtp_set == 0);
    }
    SECTION("an SRTP referrer hands the call to a plain target") {
        media_call call({.pbx = "srtp: required"});
        auto srtp_answer = pbx_peer();
        srtp_answer.profile = "RTP/SAVP";
        srtp_answer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x77)};
        call.connect(carrier_peer(), srtp_answer);
        REQUIRE(call.media.srtp_suite(side::b));

        auto t = start_transfer(call, teams_media, "teams");
        REQUIRE(t.offer);
        CHECK_FALSE(parsed(*t.offer).audio().secure);
        CHECK(crypto_of(*t.offer).empty());

        REQUIRE(complete(call, t, "teams", teams_media, target_peer()));
        CHECK(call.programmed().of(side::b).srtp_set == 2);
        CHECK_FALSE(call.programmed().of(side::b).srtp_in);
        CHECK_FALSE(call.programmed().of(side::b).srtp_out);
        CHECK_FALSE(call.media.srtp_suite(side::b));
    }
}

TEST_CASE("what a transfer cannot use is an error result", "[media_ctl][transfer]") {
    media_call call;
    call.connect();
    SECTION("garbage for the SDP the referrer was sent") {
        std::uint16_t port = 0;
        sbc::sdp::sdes_leg sdes(sbc::config::srtp_mode::off, {});
        auto offer = call.media.transfer_offer(side::b, "garbage", teams_media, call.trunk("teams"),
                                               sdes, call.to_b, call.to_a.last_sent, port);
        CHECK_FALSE(offer);
        offer = call.media.transfer_offer(side::b, call.to_b.last_sent, teams_media,
                                          call.trunk("teams"), sdes, call.to_b, "", port);
        CHECK_FALSE(offer);
        CHECK(call.journal("prepare_side_move").empty());
    }
    SECTION("a target's answer that names nothing offered") {
        auto t = start_transfer(call, teams_media, "teams");
        REQUIRE(t.offer);
        auto answer = target_peer();
        answer.rtpmaps = {"8 PCMA/8000"};
        auto taken = complete(call, t, "teams", teams_media, answer);
        REQUIRE_FALSE(taken);
        CHECK(contains(taken.error_message(), "the answer does not fit the offer"));
    }
    SECTION("a target's answer that is not SDP") {
        auto t = start_transfer(call, teams_media, "teams");
        REQUIRE(t.offer);
        call.media.take_over(side::b, call.trunk("teams"), std::move(t.sdes), teams_media, t.port);
        CHECK_FALSE(call.media.accept_transfer_answer(side::b, "v=0\r\nm=audio\r\n"));
        CHECK_FALSE(call.media.accept_transfer_answer(side::b, ""));
    }
}
