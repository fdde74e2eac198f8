// The SBC's own offers (early_offer: convert) and the check of their answers.
#include <catch2/catch.hpp>

#include "sbc/sdp/offer_builder.hpp"

using namespace sbc;
using config::codec;

namespace {
const sdp::rewrite_params v4{"127.0.1.1", 20000, 42, 1};

std::string answer_with(const std::string& m_line, const std::string& attributes = "") {
    return "v=0\r\no=peer 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" + m_line +
           "\r\n" + attributes;
}
}  // namespace

TEST_CASE("an offer lists the trunk's codecs in order, on the SBC's address", "[sdp][offer]") {
    auto offer = sdp::build_offer({codec::pcmu, codec::pcma, codec::telephone_event}, v4);
    REQUIRE(offer);
    CHECK(*offer ==
          "v=0\r\n"
          "o=sbc 42 1 IN IP4 127.0.1.1\r\n"
          "s=sbc\r\n"
          "c=IN IP4 127.0.1.1\r\n"
          "t=0 0\r\n"
          "m=audio 20000 RTP/AVP 0 8 101\r\n"
          "a=rtpmap:0 PCMU/8000\r\n"
          "a=rtpmap:8 PCMA/8000\r\n"
          "a=rtpmap:101 telephone-event/8000\r\n"
          "a=fmtp:101 0-16\r\n"
          "a=ptime:20\r\n"
          "a=sendrecv\r\n"
          "a=rtcp:20001\r\n");
    // It is an SDP the SBC itself accepts.
    auto parsed = sdp::session_description::parse(*offer);
    REQUIRE(parsed);
    CHECK(parsed->audio().rtp.to_string() == "127.0.1.1:20000");
}

TEST_CASE("opus and G.729 carry their rtpmap and fmtp; IPv6 addresses say IP6", "[sdp][offer]") {
    auto offer = sdp::build_offer({codec::opus, codec::g729},
                                  sdp::rewrite_params{"2001:db8::1", 20002, 7, 3});
    REQUIRE(offer);
    CHECK(offer->find("m=audio 20002 RTP/AVP 111 18\r\n") != std::string::npos);
    CHECK(offer->find("a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n") !=
          std::string::npos);
    CHECK(offer->find("a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n") != std::string::npos);
    CHECK(offer->find("c=IN IP6 2001:db8::1\r\n") != std::string::npos);
    CHECK(sdp::session_description::parse(*offer));
}

TEST_CASE("G.722 is offered as static type 9 on its 8000 Hz RTP clock", "[sdp][offer]") {
    auto offer = sdp::build_offer({codec::g722, codec::pcma, codec::telephone_event}, v4);
    REQUIRE(offer);
    CHECK(offer->find("m=audio 20000 RTP/AVP 9 8 101\r\n") != std::string::npos);
    // RFC 3551 4.5.2: G722/8000, though it samples at 16000 Hz.
    CHECK(offer->find("a=rtpmap:9 G722/8000\r\n") != std::string::npos);
    CHECK(offer->find("a=fmtp:9") == std::string::npos);
    CHECK(sdp::own_format(codec::g722) == sdp::format{9, "G722", 8000, 1, ""});
    auto parsed = sdp::session_description::parse(*offer);
    REQUIRE(parsed);
    CHECK(parsed->formats().front() == sdp::format{9, "G722", 8000, 1, ""});
    // An answer naming type 9 without an rtpmap fits (RFC 3551 6).
    CHECK(sdp::check_answer(*offer, answer_with("m=audio 4000 RTP/AVP 9")));
}

TEST_CASE("an offer needs an audio codec", "[sdp][offer]") {
    CHECK_FALSE(sdp::build_offer({codec::telephone_event}, v4));
    CHECK_FALSE(sdp::build_offer({}, v4));
}

TEST_CASE("an answer fits when it names a codec the offer had", "[sdp][offer]") {
    auto offer = *sdp::build_offer({codec::opus, codec::pcma, codec::telephone_event}, v4);
    CHECK(sdp::check_answer(offer, answer_with("m=audio 4000 RTP/AVP 8")));
    // A dynamic payload type is matched by name and rate, not number.
    CHECK(sdp::check_answer(offer, answer_with("m=audio 4000 RTP/AVP 96 101",
                                               "a=rtpmap:96 opus/48000/2\r\n"
                                               "a=rtpmap:101 telephone-event/8000\r\n")));
}

TEST_CASE("an answer that fits nothing says why", "[sdp][offer]") {
    auto offer = *sdp::build_offer({codec::pcmu, codec::pcma, codec::telephone_event}, v4);
    auto g722 = sdp::check_answer(offer, answer_with("m=audio 4000 RTP/AVP 9"));
    REQUIRE_FALSE(g722);
    CHECK(g722.error_message() ==
          "the answer names no codec the offer had (offered PCMU, PCMA, telephone-event; "
          "answered G722)");
    auto rejected = sdp::check_answer(offer, answer_with("m=audio 0 RTP/AVP 0"));
    REQUIRE_FALSE(rejected);
    CHECK(rejected.error_message() == "the answer rejects the audio stream (port 0)");
    // DTMF events alone carry no call.
    CHECK_FALSE(sdp::check_answer(
        offer, answer_with("m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000\r\n")));
    CHECK_FALSE(sdp::check_answer(offer, "garbage"));
    CHECK_FALSE(sdp::check_answer(offer, ""));
}
