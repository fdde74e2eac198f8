// media_session (sbc/media_ctl) between a call's SDP and the data plane: the
// port pairs it takes, the SBC's address in every SDP it writes, where it
// tells the engine each peer receives, hold and resume, the SDP identity
// (o= version, RFC 3264 8), its own offers (early_offer: convert), and SDP
// it cannot use.
#include <catch2/catch.hpp>

#include "tests/sbc/media_ctl/media_call.hpp"

using sbc::dataplane::side;
using sbc::media_ctl::sdp_origin;
using sbc::media_ctl::sdp_role;
using sbc::test::carrier_media;
using sbc::test::carrier_peer;
using sbc::test::contains;
using sbc::test::formats_of;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_media;
using sbc::test::pbx_peer;
using sbc::test::peer_sdp;
using sbc::test::why;

TEST_CASE("open takes a port pair on each leg's media address", "[media_ctl]") {
    media_call call({}, false);
    CHECK_FALSE(call.media.is_open());
    CHECK(call.media.rtp_port(side::a) == 0);
    CHECK_FALSE(call.media.stats());

    auto opened = call.media.open();
    REQUIRE(opened);
    CHECK(call.media.is_open());
    CHECK(call.engine.journal() == std::vector<std::string>{"open 7 127.0.1.1 127.0.2.1"});
    // The fake hands out pairs from 40000 up: leg a's first.
    CHECK(call.media.rtp_port(side::a) == 40000);
    CHECK(call.media.rtp_port(side::b) == 40002);
    CHECK(call.media.media_address(side::a) == carrier_media);
    CHECK(call.media.media_address(side::b) == pbx_media);
    CHECK(call.programmed().local == std::array<std::string, 2>{carrier_media, pbx_media});
    CHECK(call.media.stats());
}

TEST_CASE("the session is closed with the call, and only if it was opened", "[media_ctl]") {
    media_call call({}, false);
    {
        sbc::media_ctl::media_session opened(call.engine, 9, "t9");
        opened.set_leg(side::a, call.trunk("carrier"), carrier_media);
        opened.set_leg(side::b, call.trunk("pbx"), pbx_media);
        REQUIRE(opened.open());
        CHECK(call.journal("close").empty());
    }
    CHECK(call.journal("close") == std::vector<std::string>{"close 9"});
    CHECK(call.engine.sessions().at(9).closed);

    {
        sbc::media_ctl::media_session refused(call.engine, 10, "t10");
        refused.set_leg(side::a, call.trunk("carrier"), carrier_media);
        refused.set_leg(side::b, call.trunk("pbx"), pbx_media);
        call.engine.refuse_next_open("no free media port in 40000-40999");
        auto opened = refused.open();
        REQUIRE_FALSE(opened);
        CHECK(opened.error_message() == "no free media port in 40000-40999");
        CHECK_FALSE(refused.is_open());
        CHECK(refused.rtp_port(side::a) == 0);
        CHECK_FALSE(refused.stats());
    }
    CHECK(call.journal("close") == std::vector<std::string>{"close 9"});
}

TEST_CASE("the SDP for the other leg names the SBC's address and port, never the peer's",
          "[media_ctl]") {
    media_call call;
    auto peer_offer = carrier_peer();
    peer_offer.attributes = {"rtcp:30001"};
    auto to_pbx = call.offer(side::a, peer_offer);
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    const auto offer = parsed(*to_pbx);
    CHECK(offer.audio().rtp.to_string() == "127.0.2.1:40002");
    CHECK(offer.audio().rtcp.to_string() == "127.0.2.1:40003");
    CHECK(contains(*to_pbx, "c=IN IP4 127.0.2.1\r\n"));
    CHECK(contains(*to_pbx, "m=audio 40002 RTP/AVP"));
    CHECK(contains(*to_pbx, "o=sbc 2002 1 IN IP4 127.0.2.1\r\n"));  // leg b's identity
    CHECK_FALSE(contains(*to_pbx, "192.0.2.10"));
    CHECK_FALSE(contains(*to_pbx, "30000"));
    CHECK_FALSE(contains(*to_pbx, "30001"));
    CHECK(call.to_b.last_sent == *to_pbx);

    auto to_carrier = call.answer(side::b, pbx_peer());
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    const auto answer = parsed(*to_carrier);
    CHECK(answer.audio().rtp.to_string() == "127.0.1.1:40000");
    CHECK(answer.audio().rtcp.to_string() == "127.0.1.1:40001");
    CHECK(contains(*to_carrier, "o=sbc 1001 1 IN IP4 127.0.1.1\r\n"));
    CHECK_FALSE(contains(*to_carrier, "198.51.100.20"));
    CHECK_FALSE(contains(*to_carrier, "31000"));
    CHECK(call.to_a.last_sent == *to_carrier);
}

TEST_CASE("each peer's offer or answer programs where it receives RTP and RTCP", "[media_ctl]") {
    media_call call;
    auto peer_offer = carrier_peer();
    peer_offer.attributes = {"rtcp:30011"};  // RFC 3605: RTCP elsewhere than RTP + 1
    REQUIRE(call.offer(side::a, peer_offer));
    const auto& a = call.programmed().of(side::a);
    REQUIRE(a.rtp);
    CHECK(a.rtp->to_string() == "192.0.2.10:30000");
    CHECK(a.rtcp->to_string() == "192.0.2.10:30011");
    CHECK(a.remotes_set == 1);
    CHECK(call.programmed().of(side::b).remotes_set == 0);

    REQUIRE(call.answer(side::b, pbx_peer()));
    const auto& b = call.programmed().of(side::b);
    REQUIRE(b.rtp);
    CHECK(b.rtp->to_string() == "198.51.100.20:31000");
    CHECK(b.rtcp->to_string() == "198.51.100.20:31001");
    CHECK(call.journal("set_remote") ==
          std::vector<std::string>{"set_remote 7 a 192.0.2.10:30000 192.0.2.10:30011",
                                   "set_remote 7 b 198.51.100.20:31000 198.51.100.20:31001"});
    CHECK(call.media.media_expected());

    // A re-INVITE from a new address re-points that side (and re-arms latching).
    auto moved = carrier_peer();
    moved.address = "192.0.2.11";
    moved.port = 30100;
    REQUIRE(call.offer(side::a, moved));
    CHECK(call.programmed().of(side::a).rtp->to_string() == "192.0.2.11:30100");
    CHECK(call.programmed().of(side::a).remotes_set == 2);
}

TEST_CASE("hold by direction stops media being expected; resume brings it back",
          "[media_ctl][hold]") {
    for (const std::string held : {"sendonly", "inactive"}) {
        DYNAMIC_SECTION("a=" << held) {
            media_call call;
            call.connect();
            REQUIRE(call.media.media_expected());

            // RFC 3264 8.4: a re-offer with the stream sendonly or inactive.
            auto hold = carrier_peer();
            hold.direction = held;
            auto to_pbx = call.offer(side::a, hold);
            REQUIRE(to_pbx);
            CHECK(contains(*to_pbx, "a=" + held + "\r\n"));
            CHECK(parsed(*to_pbx).audio().rtp.to_string() == "127.0.2.1:40002");
            CHECK_FALSE(call.media.media_expected());
            auto held_answer = pbx_peer();
            held_answer.direction = held == "sendonly" ? "recvonly" : "inactive";
            REQUIRE(call.answer(side::b, held_answer));
            CHECK_FALSE(call.media.media_expected());

            REQUIRE(call.offer(side::a, carrier_peer()));
            CHECK_FALSE(call.media.media_expected());  // until the PBX is two-way again
            auto resumed = call.answer(side::b, pbx_peer());
            REQUIRE(resumed);
            CHECK(contains(*resumed, "a=sendrecv\r\n"));
            CHECK(call.media.media_expected());
        }
    }
}

TEST_CASE("an old-style hold (c=0.0.0.0) programs no remote and the SBC's address stays",
          "[media_ctl][hold]") {
    media_call call;
    call.connect();
    REQUIRE(call.programmed().of(side::b).remotes_set == 1);

    // RFC 3264 8.4: the PBX puts the carrier on hold the old way.
    auto hold = pbx_peer();
    hold.connection = "0.0.0.0";
    auto to_carrier = call.offer(side::b, hold);
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    CHECK(call.programmed().of(side::b).remotes_set == 1);
    CHECK(call.programmed().of(side::b).rtp->to_string() == "198.51.100.20:31000");
    CHECK_FALSE(call.media.media_expected());
    const auto offer = parsed(*to_carrier);
    CHECK(offer.audio().rtp.to_string() == "127.0.1.1:40000");
    CHECK_FALSE(offer.audio().on_hold_address);
    CHECK(offer.audio().dir == sbc::sdp::direction::sendonly);
    CHECK_FALSE(contains(*to_carrier, "0.0.0.0"));

    REQUIRE(call.answer(side::a, carrier_peer()));
    auto resume = pbx_peer();
    resume.port = 31500;
    REQUIRE(call.offer(side::b, resume));
    CHECK(call.media.media_expected());
    CHECK(call.programmed().of(side::b).rtp->to_string() == "198.51.100.20:31500");
    CHECK(call.programmed().of(side::b).remotes_set == 2);
}

TEST_CASE("the o= version grows only when the SDP sent changes", "[media_ctl][origin]") {
    media_call call;
    call.connect();
    const auto first_offer = call.to_b.last_sent;
    const auto first_answer = call.to_a.last_sent;
    CHECK(call.to_b.version == 1);
    CHECK(call.to_a.version == 1);

    // RFC 3264 8: a re-offer that changes nothing, and its answer, keep the version.
    auto again = call.offer(side::a, carrier_peer());
    REQUIRE(again);
    CHECK(*again == first_offer);
    REQUIRE(call.answer(side::b, pbx_peer()));
    CHECK(call.to_a.last_sent == first_answer);
    CHECK(call.to_b.version == 1);
    CHECK(call.to_a.version == 1);

    // A hold changes the SDP: the next version, the same session id.
    auto hold = carrier_peer();
    hold.direction = "sendonly";
    auto held = call.offer(side::a, hold);
    REQUIRE(held);
    CHECK(call.to_b.version == 2);
    CHECK(contains(*held, "o=sbc 2002 2 IN IP4 127.0.2.1\r\n"));
    CHECK(call.to_a.version == 1);  // leg a's dialog has sent nothing new
}

TEST_CASE("sendrecv() undoes a hold and with_origin_version() replaces only the version",
          "[media_ctl][origin]") {
    using sbc::media_ctl::sendrecv;
    using sbc::media_ctl::with_origin_version;
    const std::string sdp =
        "v=0\r\no=sbc 77 3 IN IP4 127.0.2.1\r\ns=sbc\r\nc=IN IP4 127.0.2.1\r\nt=0 0\r\n"
        "m=audio 40002 RTP/AVP 0\r\na=sendonly\r\n";
    CHECK(with_origin_version(sdp, 4) ==
          "v=0\r\no=sbc 77 4 IN IP4 127.0.2.1\r\ns=sbc\r\nc=IN IP4 127.0.2.1\r\nt=0 0\r\n"
          "m=audio 40002 RTP/AVP 0\r\na=sendonly\r\n");
    CHECK(with_origin_version(sdp, 12345678901234) ==
          "v=0\r\no=sbc 77 12345678901234 IN IP4 127.0.2.1\r\ns=sbc\r\nc=IN IP4 "
          "127.0.2.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=sendonly\r\n");
    // Nothing to replace: the text as it was.
    CHECK(with_origin_version("v=0\r\ns=-\r\n", 2) == "v=0\r\ns=-\r\n");
    CHECK(with_origin_version("o=sbc 77\r\n", 2) == "o=sbc 77\r\n");
    CHECK(with_origin_version("", 2).empty());

    const auto two_way = sendrecv(sdp);
    CHECK(contains(two_way, "a=sendrecv\r\n"));
    CHECK_FALSE(contains(two_way, "a=sendonly"));
    for (const std::string held : {"a=recvonly", "a=inactive"}) {
        CHECK(sendrecv("m=audio 1 RTP/AVP 0\r\n" + held + "\r\n") ==
              "m=audio 1 RTP/AVP 0\r\na=sendrecv\r\n");
    }
    CHECK(sendrecv(two_way) == two_way);

    const auto fresh = sdp_origin::fresh();
    CHECK(fresh.version == 1);
    CHECK(fresh.session_id < (std::uint64_t{1} << 63));
    CHECK(fresh.last_sent.empty());
}

TEST_CASE("own_offer builds the SBC's offer from the trunk's codecs, once",
          "[media_ctl][early_offer]") {
    media_call call({.pbx = "early_offer: convert, codecs: [PCMA, G729, telephone-event]"});
    auto offer = call.media.own_offer(side::b, call.to_b);
    INFO(why(offer));
    REQUIRE(offer);
    CHECK(parsed(*offer).audio().rtp.to_string() == "127.0.2.1:40002");
    CHECK(contains(*offer, "o=sbc 2002 1 IN IP4 127.0.2.1\r\n"));
    CHECK(formats_of(*offer) ==
          std::vector<std::string>{"8 PCMA/8000", "18 G729/8000", "101 telephone-event/8000"});
    CHECK(parsed(*offer).audio().dir == sbc::sdp::direction::sendrecv);
    CHECK_FALSE(parsed(*offer).audio().secure);
    CHECK(call.to_b.last_sent == *offer);
    CHECK(call.journal("set_").empty());  // nothing to program before the answer

    // RFC 3264 8: asked again, the same offer, the same version.
    auto again = call.media.own_offer(side::b, call.to_b);
    REQUIRE(again);
    CHECK(*again == *offer);
    CHECK(call.to_b.version == 1);

    // The trunk's answer comes back to the caller as the SBC's offer there.
    auto pbx_answer = pbx_peer();
    pbx_answer.rtpmaps = {"8 PCMA/8000", "101 telephone-event/8000"};
    auto to_carrier = call.media.translate(side::b, pbx_answer.text(), sdp_role::answer,
                                           sdp_role::offer, call.to_a);
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    CHECK(parsed(*to_carrier).audio().rtp.to_string() == "127.0.1.1:40000");
    CHECK(formats_of(*to_carrier) ==
          std::vector<std::string>{"8 PCMA/8000", "101 telephone-event/8000"});
    CHECK(call.programmed().of(side::b).rtp->to_string() == "198.51.100.20:31000");
    call.media.drop_pending_offer();

    // The caller's answer (in the ACK) completes the media path.
    auto carrier_answer = carrier_peer();
    carrier_answer.rtpmaps = {"8 PCMA/8000", "101 telephone-event/8000"};
    REQUIRE(call.media.accept(side::a, carrier_answer.text(), sdp_role::answer));
    CHECK(call.programmed().of(side::a).rtp->to_string() == "192.0.2.10:30000");
    CHECK(call.media.media_expected());
    CHECK_FALSE(call.media.has_chains());
}

TEST_CASE("own_offer on an SRTP trunk offers the SBC's keys", "[media_ctl][early_offer][srtp]") {
    media_call call({.pbx = "early_offer: convert, srtp: required, srtp_suites: "
                            "[AES_CM_128_HMAC_SHA1_80, AEAD_AES_256_GCM]"});
    auto offer = call.media.own_offer(side::b, call.to_b);
    REQUIRE(offer);
    CHECK(parsed(*offer).audio().secure);
    const auto lines = sbc::test::crypto_of(*offer);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].suite == sbc::config::srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(lines[1].suite == sbc::config::srtp_suite::aead_aes_256_gcm);
    CHECK(lines[0].key.bytes() != lines[1].key.bytes());
}

TEST_CASE("own_offer offers telephone-event only to a trunk that takes RFC 4733 events",
          "[media_ctl][early_offer]") {
    // config.hpp: telephone-event is negotiated on a trunk only in rfc4733
    // mode; an info trunk keeps the default codec list, events included.
    media_call call({.pbx = "early_offer: convert, dtmf: info"});
    auto offer = call.media.own_offer(side::b, call.to_b);
    REQUIRE(offer);
    CHECK(formats_of(*offer) == std::vector<std::string>{"0 PCMU/8000", "8 PCMA/8000"});
}

TEST_CASE("SDP that cannot be used is an error result, never an exception", "[media_ctl]") {
    const std::string head =
        "v=0\r\no=peer 42 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n";
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"empty", ""},
        {"garbage", "this is not SDP at all\r\n\x01\x02\xff"},
        {"no m= line", head},
        {"a video stream only", head + "m=video 30000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"},
        {"port above 65535", head + "m=audio 99999 RTP/AVP 0\r\n"},
        {"port not a number", head + "m=audio abc RTP/AVP 0\r\n"},
        {"no c= line",
         "v=0\r\no=peer 42 1 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\n"
         "m=audio 30000 RTP/AVP 0\r\n"},
        {"a host name in c=",
         "v=0\r\no=peer 42 1 IN IP4 192.0.2.10\r\ns=-\r\n"
         "c=IN IP4 pbx.example\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"},
    };
    for (const auto& [what, body] : bodies) {
        DYNAMIC_SECTION(what) {
            media_call call;
            for (auto role : {sdp_role::offer, sdp_role::answer}) {
                INFO((role == sdp_role::offer ? "offer" : "answer"));
                sbc::result<std::string> out = std::string();
                REQUIRE_NOTHROW(out = call.media.translate(side::a, body, role, role, call.to_b));
                CHECK_FALSE(out);
                if (!out) {
                    CHECK_FALSE(out.error_message().empty());
                }
            }
            CHECK(call.to_b.last_sent.empty());
            CHECK(call.journal("set_remote").empty());
            CHECK(call.journal("set_chain").empty());
        }
    }
}

TEST_CASE("an answer naming nothing that was offered is an error result", "[media_ctl]") {
    media_call call;
    REQUIRE(call.offer(side::a, carrier_peer()));
    auto odd = pbx_peer();
    odd.rtpmaps = {"18 G729/8000"};  // offered PCMU only
    auto to_carrier = call.answer(side::b, odd);
    REQUIRE_FALSE(to_carrier);
    CHECK(call.to_a.last_sent.empty());
    CHECK(call.journal("set_chain").empty());
}
