// SDP: what a peer's offer or answer says, and what the SBC sends instead.
#include <catch2/catch.hpp>

#include <string>

#include "sbc/sdp/session_description.hpp"

using sbc::sdp::direction;
using sbc::sdp::rewrite_params;
using sbc::sdp::session_description;

namespace {

const std::string phone_offer =
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 10.9.8.7\r\n"
    "s=Talk\r\n"
    "i=Alice's desk phone\r\n"
    "c=IN IP4 10.9.8.7\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n";

rewrite_params sbc_side(std::uint16_t port = 20000, std::uint64_t version = 1) {
    return rewrite_params{"127.0.2.1", port, 4242, version};
}

session_description offer(const std::string& text) {
    auto sd = session_description::parse(text);
    INFO(text);
    REQUIRE(sd.ok());
    return std::move(sd.value());
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("sdp: a phone's offer gives where it receives audio", "[sdp]") {
    auto sd = offer(phone_offer);
    REQUIRE(sd.audio().rtp.to_string() == "10.9.8.7:49170");
    REQUIRE(sd.audio().rtcp.to_string() == "10.9.8.7:49171");
    REQUIRE(sd.audio().dir == direction::sendrecv);
    REQUIRE_FALSE(sd.audio().on_hold_address);
    REQUIRE_FALSE(sd.audio().port_zero);
}

TEST_CASE("sdp: the rewrite names only the SBC and keeps the codecs", "[sdp]") {
    auto out = offer(phone_offer).rewrite(sbc_side());
    REQUIRE_FALSE(contains(out, "10.9.8.7"));
    REQUIRE_FALSE(contains(out, "alice"));
    REQUIRE_FALSE(contains(out, "desk phone"));
    REQUIRE(contains(out, "o=sbc 4242 1 IN IP4 127.0.2.1\r\n"));
    REQUIRE(contains(out, "c=IN IP4 127.0.2.1\r\n"));
    REQUIRE(contains(out, "m=audio 20000 RTP/AVP 0 8 101\r\n"));
    REQUIRE(contains(out, "a=rtcp:20001\r\n"));
    REQUIRE(contains(out, "a=rtpmap:101 telephone-event/8000\r\n"));
    REQUIRE(contains(out, "a=fmtp:101 0-16\r\n"));
    REQUIRE(contains(out, "a=ptime:20\r\n"));
    REQUIRE(contains(out, "a=sendrecv\r\n"));
    // What the SBC sends parses, and points at the SBC.
    auto again = offer(out);
    REQUIRE(again.audio().rtp.to_string() == "127.0.2.1:20000");
    REQUIRE(again.audio().rtcp.to_string() == "127.0.2.1:20001");
}

TEST_CASE("sdp: media-level c= and a=rtcp with an address", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8\r\nc=IN IP4 192.0.2.20\r\n"
        "a=rtcp:4444 IN IP4 192.0.2.30\r\n");
    REQUIRE(sd.audio().rtp.to_string() == "192.0.2.20:4000");
    REQUIRE(sd.audio().rtcp.to_string() == "192.0.2.30:4444");
    auto out = sd.rewrite(sbc_side(20002));
    for (const char* peer : {"192.0.2.10", "192.0.2.20", "192.0.2.30", "4444"}) {
        INFO(peer);
        REQUIRE_FALSE(contains(out, peer));
    }
    REQUIRE(contains(out, "a=rtcp:20003\r\n"));
}

TEST_CASE("sdp: IPv6 peers and an IPv6 SBC address", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n"
        "m=audio 5004 RTP/AVP 0\r\n");
    REQUIRE(sd.audio().rtp.to_string() == "[2001:db8::5]:5004");
    auto out = sd.rewrite({"2001:db8:1::1", 20010, 1, 1});
    REQUIRE(contains(out, "c=IN IP6 2001:db8:1::1\r\n"));
    REQUIRE_FALSE(contains(out, "2001:db8::5"));
}

TEST_CASE("sdp: ICE candidates and credentials of the peer never cross", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
        "a=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\na=group:BUNDLE 0\r\n"
        "m=audio 6000 RTP/AVP 0\r\n"
        "a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host\r\n"
        "a=candidate:2 1 UDP 1694498815 198.51.100.7 6000 typ srflx raddr 10.0.1.1 rport 8998\r\n"
        "a=end-of-candidates\r\na=rtcp-mux\r\n");
    auto out = sd.rewrite(sbc_side());
    for (const char* leak :
         {"10.0.1.1", "198.51.100.7", "F7gI", "ice-pwd", "candidate", "BUNDLE", "rtcp-mux"}) {
        INFO(leak);
        REQUIRE_FALSE(contains(out, leak));
    }
}

TEST_CASE("sdp: hold with a=sendonly passes as it is", "[sdp]") {
    std::string held = phone_offer;
    held.replace(held.find("a=sendrecv"), 10, "a=sendonly");
    auto sd = offer(held);
    REQUIRE(sd.audio().dir == direction::sendonly);
    auto out = sd.rewrite(sbc_side());
    REQUIRE(contains(out, "a=sendonly\r\n"));
    REQUIRE_FALSE(contains(out, "a=sendrecv"));
}

TEST_CASE("sdp: old-style hold (c=0.0.0.0) becomes a=sendonly on our address", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\n");
    REQUIRE(sd.audio().on_hold_address);
    auto out = sd.rewrite(sbc_side());
    REQUIRE_FALSE(contains(out, "0.0.0.0"));
    REQUIRE(contains(out, "a=sendonly\r\n"));
    REQUIRE(contains(out, "c=IN IP4 127.0.2.1\r\n"));
}

TEST_CASE("sdp: streams other than the first audio are declined with port 0", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=video 5002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "m=audio 5000 RTP/AVP 0\r\n");
    REQUIRE(sd.audio().rtp.port() == 5000);
    auto out = sd.rewrite(sbc_side());
    REQUIRE(contains(out, "m=video 0 RTP/AVP 96\r\n"));
    REQUIRE(contains(out, "m=audio 20000 RTP/AVP 0\r\n"));
    REQUIRE_FALSE(contains(out, "H264"));
}

TEST_CASE("sdp: a rejected audio stream stays rejected", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 0\r\n");
    REQUIRE(sd.audio().port_zero);
    REQUIRE(contains(sd.rewrite(sbc_side()), "m=audio 0 RTP/AVP 0\r\n"));
}

TEST_CASE("sdp: the origin version is whatever the caller keeps", "[sdp]") {
    auto sd = offer(phone_offer);
    REQUIRE(contains(sd.rewrite(sbc_side(20000, 7)), "o=sbc 4242 7 IN IP4"));
}

TEST_CASE("sdp: unusable descriptions are refused with a reason", "[sdp]") {
    auto refused = [](const std::string& text) {
        auto sd = session_description::parse(text);
        INFO(text);
        REQUIRE_FALSE(sd.ok());
        REQUIRE_FALSE(sd.error_message().empty());
    };
    refused("");
    refused("this is not sdp at all");
    refused(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=video 5000 RTP/AVP 96\r\n");  // no audio
    refused(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 pbx.example.com\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n");  // a host name, not an address
    refused(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n");  // no c= at all
}

TEST_CASE("sdp: every truncation of a valid offer is parsed or refused, never crashes", "[sdp]") {
    for (size_t n = 0; n <= phone_offer.size(); ++n) {
        auto sd = session_description::parse(std::string_view(phone_offer).substr(0, n));
        if (sd.ok()) {
            auto out = sd->rewrite(sbc_side());
            REQUIRE_FALSE(contains(out, "10.9.8.7"));
        }
    }
}
