// SDP: what a peer's offer or answer says, and what the SBC sends instead.
//
// Each case reads as an offer/answer step: a peer's SDP comes in, the test
// checks where the SBC will send media (audio()) and what the other leg
// receives (rewrite()). Peer addresses come from the documentation ranges.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "sbc/sdp/session_description.hpp"

using sbc::sdp::direction;
using sbc::sdp::format;
using sbc::sdp::rewrite_params;
using sbc::sdp::session_description;

namespace {

// A desk phone's INVITE offer: session-level c=, G.711 both laws and
// RFC 4733 telephone-events, some descriptive lines that name the user.
const std::string phone_offer =
    "v=0\r\n"
    "o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
    "s=Talk\r\n"
    "i=Alice's desk phone\r\n"
    "u=http://pbx.example.com/alice\r\n"
    "e=alice@example.com\r\n"
    "p=+1 617 555-6011\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "b=AS:84\r\n"
    "t=0 0\r\n"
    "a=tool:DeskPhone 4.2 build 17\r\n"
    "m=audio 49170 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=maxptime:40\r\n"
    "a=sendrecv\r\n";

// The SBC's side of the other leg.
const char* const sbc_address = "203.0.113.5";

rewrite_params sbc_side(std::uint16_t port = 20000, std::uint64_t version = 1) {
    return rewrite_params{sbc_address, port, 4242, version};
}

session_description offer(const std::string& text) {
    auto sd = session_description::parse(text);
    INFO(text);
    INFO((sd.ok() ? std::string() : sd.error_message()));
    REQUIRE(sd.ok());
    return std::move(sd.value());
}

// What the other leg receives; it must itself be valid SDP naming the SBC.
std::string answer_sent(const session_description& sd, const rewrite_params& p = sbc_side()) {
    auto out = sd.rewrite(p);
    INFO(out);
    REQUIRE_FALSE(out.empty());
    auto again = session_description::parse(out);
    INFO((again.ok() ? std::string() : again.error_message()));
    REQUIRE(again.ok());
    if (!again->audio().port_zero) {
        REQUIRE(again->audio().rtp.address() == p.local_address);
        REQUIRE(again->audio().rtp.port() == p.local_rtp_port);
        REQUIRE(again->audio().rtcp.port() == p.local_rtp_port + 1);
    }
    return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

void expect_absent(const std::string& out, const std::vector<std::string>& leaks) {
    for (const auto& leak : leaks) {
        INFO("must not appear: " << leak);
        INFO(out);
        REQUIRE_FALSE(contains(out, leak));
    }
}

// RFC 4566 5: every line ends in CRLF, none in a bare LF or CR.
void expect_crlf_lines(const std::string& out) {
    REQUIRE(out.size() >= 2);
    REQUIRE(out.substr(out.size() - 2) == "\r\n");
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\n') {
            REQUIRE(i > 0);
            REQUIRE(out[i - 1] == '\r');
        }
        if (out[i] == '\r') {
            REQUIRE(i + 1 < out.size());
            REQUIRE(out[i + 1] == '\n');
        }
    }
}

std::string with(std::string text, const std::string& from, const std::string& to) {
    auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

std::string refusal(const std::string& text) {
    auto sd = session_description::parse(text);
    INFO(text);
    REQUIRE_FALSE(sd.ok());
    REQUIRE_FALSE(sd.error_message().empty());
    return sd.error_message();
}

}  // namespace

TEST_CASE("sdp: a phone's offer says where it receives audio", "[sdp]") {
    auto sd = offer(phone_offer);
    CHECK(sd.audio().rtp.to_string() == "192.0.2.10:49170");
    CHECK(sd.audio().rtcp.to_string() == "192.0.2.10:49171");  // RFC 3550 11: RTP + 1
    CHECK(sd.audio().dir == direction::sendrecv);
    CHECK_FALSE(sd.audio().on_hold_address);
    CHECK_FALSE(sd.audio().port_zero);
}

TEST_CASE("sdp: the offer sent on names only the SBC and keeps the codecs", "[sdp]") {
    auto out = answer_sent(offer(phone_offer));
    expect_absent(out, {"192.0.2.10", "alice", "Alice", "desk phone", "pbx.example.com", "617",
                        "DeskPhone", "Talk", "i=", "u=", "e=", "p="});
    CHECK(contains(out, "v=0\r\n"));
    CHECK(contains(out, "s=sbc\r\n"));
    CHECK(contains(out, "c=IN IP4 203.0.113.5\r\n"));
    CHECK(contains(out, "t=0 0\r\n"));
    CHECK(contains(out, "m=audio 20000 RTP/AVP 0 8 101\r\n"));
    CHECK(contains(out, "a=rtpmap:0 PCMU/8000\r\n"));
    CHECK(contains(out, "a=rtpmap:8 PCMA/8000\r\n"));
    CHECK(contains(out, "a=rtpmap:101 telephone-event/8000\r\n"));
    CHECK(contains(out, "a=fmtp:101 0-16\r\n"));
    CHECK(contains(out, "a=ptime:20\r\n"));
    CHECK(contains(out, "a=maxptime:40\r\n"));
    CHECK(contains(out, "a=rtcp:20001\r\n"));
    CHECK(contains(out, "a=sendrecv\r\n"));
    CHECK(contains(out, "b=AS:84\r\n"));
    expect_crlf_lines(out);
}

TEST_CASE("sdp: o= is the SBC's, with the session id and version the leg keeps", "[sdp]") {
    auto sd = offer(phone_offer);
    CHECK(contains(answer_sent(sd, sbc_side(20000, 1)), "o=sbc 4242 1 IN IP4 203.0.113.5\r\n"));
    // RFC 3264 8: a re-offer carries the next version; the caller counts.
    CHECK(contains(answer_sent(sd, sbc_side(20000, 2)), "o=sbc 4242 2 IN IP4 203.0.113.5\r\n"));
    // The peer's own o= version (2890844527) is not ours to carry.
    CHECK_FALSE(contains(sd.rewrite(sbc_side()), "2890844527"));
    CHECK_FALSE(contains(sd.rewrite(sbc_side()), "2890844526"));
}

TEST_CASE("sdp: the same offer rewritten twice gives the same text", "[sdp]") {
    // The B2BUA compares texts to decide whether the o= version goes up.
    auto sd = offer(phone_offer);
    CHECK(sd.rewrite(sbc_side()) == sd.rewrite(sbc_side()));
    CHECK(sd.rewrite(sbc_side()) != sd.rewrite(sbc_side(20002)));
}

TEST_CASE("sdp: a media-level c= applies to its stream and does not cross", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8\r\nc=IN IP4 198.51.100.20\r\n");
    CHECK(sd.audio().rtp.to_string() == "198.51.100.20:4000");
    auto out = answer_sent(sd);
    expect_absent(out, {"192.0.2.1", "198.51.100.20"});
    // One c= only, at session level, covering the stream.
    CHECK(out.find("c=") == out.rfind("c="));
}

TEST_CASE("sdp: a media-level c= without a session-level one is enough", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8\r\nc=IN IP4 198.51.100.20\r\n");
    CHECK(sd.audio().rtp.to_string() == "198.51.100.20:4000");
    CHECK(contains(answer_sent(sd), "c=IN IP4 203.0.113.5\r\n"));
}

TEST_CASE("sdp: a=rtcp with an address sends RTCP there, and ours replaces it", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8\r\na=rtcp:4444 IN IP4 198.51.100.30\r\n");
    CHECK(sd.audio().rtp.to_string() == "192.0.2.10:4000");
    CHECK(sd.audio().rtcp.to_string() == "198.51.100.30:4444");
    auto out = answer_sent(sd, sbc_side(20002));
    expect_absent(out, {"192.0.2.10", "198.51.100.30", "4444"});
    CHECK(contains(out, "a=rtcp:20003\r\n"));
    CHECK(out.find("a=rtcp") == out.rfind("a=rtcp"));
}

TEST_CASE("sdp: a=rtcp with a port only keeps the RTP address", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 8\r\na=rtcp:5000\r\n");
    CHECK(sd.audio().rtcp.to_string() == "192.0.2.10:5000");
}

TEST_CASE("sdp: IPv6 peers, and an IPv6 or IPv4 SBC address", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP6 2001:db8::5\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n"
        "m=audio 5004 RTP/AVP 0\r\na=rtcp:5009 IN IP6 2001:db8::6\r\n");
    CHECK(sd.audio().rtp.to_string() == "[2001:db8::5]:5004");
    CHECK(sd.audio().rtcp.to_string() == "[2001:db8::6]:5009");

    auto out6 = answer_sent(sd, {"2001:db8:1::1", 20010, 1, 1});
    CHECK(contains(out6, "o=sbc 1 1 IN IP6 2001:db8:1::1\r\n"));
    CHECK(contains(out6, "c=IN IP6 2001:db8:1::1\r\n"));
    expect_absent(out6, {"2001:db8::5", "2001:db8::6", "IP4"});

    // The other leg may well be IPv4: the address family follows our side.
    auto out4 = answer_sent(sd);
    CHECK(contains(out4, "c=IN IP4 203.0.113.5\r\n"));
    expect_absent(out4, {"2001:db8", "IP6"});
}

TEST_CASE("sdp: ICE candidates and credentials of the peer never cross", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
        "a=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\na=ice-lite\r\n"
        "a=ice-options:trickle\r\na=group:BUNDLE 0\r\n"
        "m=audio 6000 RTP/AVP 0\r\n"
        "a=mid:0\r\n"
        "a=ice-ufrag:Kq8z\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n"
        "a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host\r\n"
        "a=candidate:2 1 UDP 1694498815 198.51.100.7 6000 typ srflx raddr 10.0.1.1 rport 8998\r\n"
        "a=remote-candidates:1 192.0.2.3 45664\r\n"
        "a=end-of-candidates\r\na=ice-mismatch\r\na=rtcp-mux\r\n"
        "a=ssrc:4242 cname:alice@10.0.1.1\r\n");
    CHECK(sd.audio().rtp.to_string() == "198.51.100.7:6000");
    auto out = answer_sent(sd);
    expect_absent(
        out, {"10.0.1.1", "198.51.100.7", "192.0.2.3", "F7gI", "Kq8z", "x9cml", "asd88", "ice-",
              "candidate", "BUNDLE", "group", "rtcp-mux", "mid:", "cname", "8998", "45664"});
    CHECK(contains(out, "m=audio 20000 RTP/AVP 0\r\n"));
}

TEST_CASE("sdp: the peer's SDES keys never cross; profile and keys are the SBC's", "[sdp]") {
    const std::string peer_line =
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 7000 RTP/SAVP 0\r\n"
        "a=crypto:" +
        peer_line + "\r\n");
    CHECK(sd.audio().secure);
    CHECK(sd.crypto_attributes() == std::vector<std::string>{peer_line});

    auto plain = answer_sent(sd);  // RTP on the other leg
    CHECK(contains(plain, "m=audio 20000 RTP/AVP 0\r\n"));
    expect_absent(plain, {"crypto", "PS1uQ"});

    auto p = sbc_side();
    p.secure = true;
    p.crypto = {"2 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw"};
    auto secure = answer_sent(sd, p);
    CHECK(contains(secure, "m=audio 20000 RTP/SAVP 0\r\n"));
    CHECK(contains(
        secure, "a=crypto:2 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw\r\n"));
    expect_absent(secure, {"PS1uQ"});

    auto from_plain = offer(phone_offer);
    CHECK_FALSE(from_plain.audio().secure);
    CHECK(contains(answer_sent(from_plain, p), "m=audio 20000 RTP/SAVP 0 8 101\r\n"));
}

TEST_CASE("sdp: transports sofia does not know keep their name and codec lines", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 7000 RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtcp-fb:111 transport-cc\r\n");
    CHECK(sd.audio().secure);
    auto p = sbc_side();
    p.secure = true;
    auto out = answer_sent(sd, p);
    CHECK(contains(out, "m=audio 20000 RTP/SAVPF 111 0\r\n"));
    CHECK(contains(out, "a=rtpmap:111 opus/48000/2\r\n"));
    CHECK(contains(out, "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
    CHECK(contains(out, "a=rtcp-fb:111 transport-cc\r\n"));
    // Feedback stays; only the S goes where the other leg is plain RTP.
    CHECK(contains(answer_sent(sd), "m=audio 20000 RTP/AVPF 111 0\r\n"));
}

TEST_CASE("sdp: hold with a=sendonly passes as it is", "[sdp]") {
    auto sd = offer(with(phone_offer, "a=sendrecv", "a=sendonly"));
    CHECK(sd.audio().dir == direction::sendonly);
    CHECK_FALSE(sd.audio().on_hold_address);
    auto out = answer_sent(sd);
    CHECK(contains(out, "a=sendonly\r\n"));
    CHECK_FALSE(contains(out, "a=sendrecv"));
}

TEST_CASE("sdp: the direction is the stream's, else the session's, else sendrecv", "[sdp]") {
    const std::string head =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
    // RFC 4566 6: session level applies to streams that say nothing.
    auto session_level = offer(head + "a=recvonly\r\nm=audio 4000 RTP/AVP 0\r\n");
    CHECK(session_level.audio().dir == direction::recvonly);
    // The stream's own attribute wins; the session-level one does not cross.
    auto media_level = offer(head + "a=recvonly\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n");
    CHECK(media_level.audio().dir == direction::inactive);
    auto out = answer_sent(media_level);
    CHECK(contains(out, "a=inactive\r\n"));
    CHECK_FALSE(contains(out, "a=recvonly"));
    // Nothing said: sendrecv, and we say so on the stream.
    auto silent = offer(head + "m=audio 4000 RTP/AVP 0\r\n");
    CHECK(silent.audio().dir == direction::sendrecv);
    CHECK(contains(answer_sent(silent), "a=sendrecv\r\n"));
}

TEST_CASE("sdp: old-style hold (c=0.0.0.0) becomes a=sendonly on our address", "[sdp]") {
    // RFC 3264 8.4: RFC 2543 hold. The relay needs our real address in c=.
    auto sd = offer(
        "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\n");
    CHECK(sd.audio().on_hold_address);
    CHECK(sd.audio().dir == direction::sendrecv);
    auto out = answer_sent(sd);
    expect_absent(out, {"0.0.0.0", "a=sendrecv"});
    CHECK(contains(out, "a=sendonly\r\n"));
    CHECK(contains(out, "c=IN IP4 203.0.113.5\r\n"));
}

TEST_CASE("sdp: old-style hold of a stream that was not sending becomes inactive", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 2 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 ::\r\nt=0 0\r\n"
        "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n");
    CHECK(sd.audio().on_hold_address);
    CHECK(sd.audio().dir == direction::recvonly);
    auto out = answer_sent(sd);
    CHECK(contains(out, "a=inactive\r\n"));
    expect_absent(out, {"a=recvonly", "a=sendonly"});
}

TEST_CASE("sdp: streams other than the first audio are declined with port 0", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=video 5002 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 packetization-mode=1\r\nc=IN IP4 198.51.100.9\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        "m=image 5004 udptl t38\r\na=T38FaxVersion:0\r\n"
        "m=audio 5006 RTP/AVP 8\r\n");
    CHECK(sd.audio().rtp.port() == 5000);
    auto out = answer_sent(sd);
    // RFC 3264 6: each keeps its m= line and format list, in order.
    auto video = out.find("m=video 0 RTP/AVP 96 97\r\n");
    auto audio = out.find("m=audio 20000 RTP/AVP 0\r\n");
    auto image = out.find("m=image 0 udptl t38\r\n");
    auto second_audio = out.find("m=audio 0 RTP/AVP 8\r\n");
    REQUIRE(video != std::string::npos);
    REQUIRE(audio != std::string::npos);
    REQUIRE(image != std::string::npos);
    REQUIRE(second_audio != std::string::npos);
    CHECK(video < audio);
    CHECK(audio < image);
    CHECK(image < second_audio);
    expect_absent(
        out, {"H264", "packetization", "T38FaxVersion", "198.51.100.9", "5002", "5004", "5006"});
}

TEST_CASE("sdp: an audio stream the peer rejected stays rejected", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 0 RTP/AVP 0\r\n");
    CHECK(sd.audio().port_zero);
    auto out = answer_sent(sd);
    CHECK(contains(out, "m=audio 0 RTP/AVP 0\r\n"));
    CHECK_FALSE(contains(out, "a=rtcp"));
}

TEST_CASE("sdp: bandwidth lines pass, unless sofia cannot name their type", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nb=CT:128\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\nb=AS:80\r\nb=TIAS:64000\r\n");
    auto out = answer_sent(sd);
    CHECK(contains(out, "b=CT:128\r\n"));
    CHECK(contains(out, "b=AS:80\r\n"));
    // TIAS is in bit/s; it must never leave as AS (kbit/s).
    CHECK_FALSE(contains(out, "64000"));
}

TEST_CASE("sdp: port ranges and line endings of any kind", "[sdp]") {
    // m= with a port count (RFC 4566 5.14): we anchor one port pair.
    auto ranged = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000/2 RTP/AVP 0\r\n");
    CHECK(contains(answer_sent(ranged), "m=audio 20000 RTP/AVP 0\r\n"));

    // Bare LF or bare CR from sloppy senders; what leaves ends in CRLF.
    for (const char* eol : {"\n", "\r"}) {
        std::string text = std::string("v=0") + eol + "o=- 1 1 IN IP4 192.0.2.1" + eol + "s=-" +
                           eol + "c=IN IP4 192.0.2.1" + eol + "t=0 0" + eol +
                           "m=audio 5000 RTP/AVP 0" + eol + "a=ptime:30";  // no final eol
        auto sd = offer(text);
        CHECK(sd.audio().rtp.to_string() == "192.0.2.1:5000");
        auto out = answer_sent(sd);
        CHECK(contains(out, "m=audio 20000 RTP/AVP 0\r\n"));
        CHECK(contains(out, "a=ptime:30\r\n"));
        expect_crlf_lines(out);
    }
}

TEST_CASE("sdp: lines the parser passes over never reach the other leg", "[sdp]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n"
        "x=10.1.2.3\r\n"  // no such line type
        "a=x-nat:10.1.2.4\r\n"
        "a=tool:softphone on host10\r\n");
    expect_absent(answer_sent(sd), {"10.1.2.3", "10.1.2.4", "x=", "x-nat", "host10"});
}

TEST_CASE("sdp: unusable descriptions are refused with a reason", "[sdp]") {
    const std::string head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n";
    refusal("");
    refusal("this is not sdp at all");
    refusal("v=0\r\n");
    refusal("\r\n\r\n");
    refusal(
        "v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\n");
    CHECK(refusal(head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 5000 RTP/AVP 96\r\n") ==
          "no audio m= line");
    CHECK(
        contains(refusal(head + "c=IN IP4 pbx.example.com\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"),
                 "pbx.example.com"));
    refusal(head + "t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n");  // no c= at all
    // The video stream has a c=, the audio stream none.
    refusal(head +
            "t=0 0\r\nm=video 5002 RTP/AVP 96\r\nc=IN IP4 192.0.2.1\r\n"
            "m=audio 5000 RTP/AVP 0\r\n");
    refusal(head + "c=IN IP4 2001:db8::1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n");
    refusal(head + "c=IN IP4 233.252.0.1/127\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n");
    refusal(head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n");
    refusal(head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\na=rtcp:x\r\n");
    refusal(head +
            "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
            "a=rtcp:5001 IN IP4 rtcp.example.com\r\n");
    refusal(head + "c=ATM NSAP 47.0091.8100\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n");
}

TEST_CASE("sdp: m= lines that would make sofia allocate forever are refused first", "[sdp]") {
    // Debian's sofia-sip loops on a non-RTP transport whose format list has
    // a character outside its token set; this test would exhaust memory
    // rather than fail if the check in front of sofia went missing.
    const std::string head =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
    for (const char* m :
         {"m=audio 49170 RT /AVP 0 8 101", "m=image 5004 udptl //x", "m=image 5004 udptl\t/x",
          "m=audio 5000x RTP//AVP 0", "m=audio 5000 RTP/AVP 0 8@", "m=audio 5000 RTP/ 0",
          "m=audio 5000", "m=audio -5000 RTP/AVP 0", "m=audio 5000/x RTP/AVP 0"}) {
        INFO(m);
        CHECK(refusal(head + m + "\r\n") == "malformed SDP: bad m= line");
        // The same wherever the line sits, however lines end.
        CHECK_FALSE(session_description::parse(head + "m=audio 5000 RTP/AVP 0\n" + m).ok());
    }
    // Within the grammar: tabs, runs of blanks, port counts, token formats.
    auto sd = offer(head + "m=audio\t5000/2  RTP/AVP\t0 8 \r\nm=application 9 TCP/MSRP *\r\n");
    CHECK(sd.audio().rtp.port() == 5000);
}

TEST_CASE("sdp: direction names are the SDP attribute names", "[sdp]") {
    CHECK(std::string(to_string(direction::sendrecv)) == "sendrecv");
    CHECK(std::string(to_string(direction::sendonly)) == "sendonly");
    CHECK(std::string(to_string(direction::recvonly)) == "recvonly");
    CHECK(std::string(to_string(direction::inactive)) == "inactive");
}

TEST_CASE("sdp: every truncation of a valid offer is parsed or refused, never crashes", "[sdp]") {
    for (std::size_t n = 0; n <= phone_offer.size(); ++n) {
        auto sd = session_description::parse(std::string_view(phone_offer).substr(0, n));
        if (sd.ok()) {
            auto out = sd->rewrite(sbc_side());
            INFO(n);
            REQUIRE_FALSE(contains(out, "192.0.2.10"));
            REQUIRE(session_description::parse(out).ok());
        }
    }
}

TEST_CASE("sdp: corrupted offers are parsed or refused, never crash", "[sdp]") {
    // A fixed pseudo-random sequence, so a failure reproduces.
    std::uint32_t state = 12345;
    auto next = [&state] {
        state = state * 1664525U + 1013904223U;
        return state >> 8;
    };
    const std::string alphabet = " \t\r\n=:/.0123456789amcovstbIPN\x01\xff";
    for (int round = 0; round < 2000; ++round) {
        std::string text = phone_offer;
        int edits = 1 + static_cast<int>(next() % 4);
        for (int e = 0; e < edits; ++e) {
            auto at = next() % text.size();
            auto c = alphabet[next() % alphabet.size()];
            switch (next() % 3) {
                case 0:
                    text[at] = c;
                    break;
                case 1:
                    text.insert(text.begin() + at, c);
                    break;
                default:
                    text.erase(at, 1 + next() % 8);
                    break;
            }
        }
        auto sd = session_description::parse(text);
        if (sd.ok()) {
            auto out = sd->rewrite(sbc_side());
            INFO(text);
            REQUIRE(session_description::parse(out).ok());
            // The formats read from it can be written back.
            auto p = sbc_side();
            p.formats = sd->formats();
            p.ptime = sd->ptime();
            REQUIRE(session_description::parse(sd->rewrite(p)).ok());
        }
    }
}

TEST_CASE("sdp: formats() names static payload types without an rtpmap", "[sdp][formats]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0 8 18 9 13 3 10 96 111 101 19\r\n"
        "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=fmtp:18 annexb=no\r\n");
    auto f = sd.formats();
    REQUIRE(f.size() == 11);
    CHECK(f[0] == format{0, "PCMU", 8000, 1, ""});
    CHECK(f[1] == format{8, "PCMA", 8000, 1, ""});
    CHECK(f[2] == format{18, "G729", 8000, 1, "annexb=no"});
    CHECK(f[3] == format{9, "G722", 8000, 1, ""});  // RFC 3551 4.5.2: 8000 despite 16 kHz
    CHECK(f[4] == format{13, "CN", 8000, 1, ""});
    CHECK(f[5] == format{3, "GSM", 8000, 1, ""});
    CHECK(f[6] == format{10, "L16", 44100, 2, ""});
    CHECK(f[7] == format{96, "", 0, 1, ""});  // dynamic, no rtpmap: nothing known
    CHECK(f[8] == format{111, "opus", 48000, 2, "useinbandfec=1"});
    CHECK(f[9] == format{101, "telephone-event", 8000, 1, "0-16"});
    CHECK(f[10] == format{19, "", 0, 1, ""});  // reserved
    // An rtpmap on a static number wins over the table.
    auto named = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 pcmu/8000\r\n");
    CHECK(named.formats().at(0).encoding == "pcmu");
}

TEST_CASE("sdp: formats() of a transport sofia does not know as RTP", "[sdp][formats]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 7000 RTP/SAVPF 111 0 101\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:101 telephone-event/48000\r\n"
        "a=rtpmap:0 garbage\r\na=ptime:40\r\n");
    auto f = sd.formats();
    REQUIRE(f.size() == 3);
    CHECK(f[0] == format{111, "opus", 48000, 2, "minptime=10;useinbandfec=1"});
    CHECK(f[1] == format{0, "PCMU", 8000, 1, ""});  // a malformed rtpmap: the table's
    CHECK(f[2] == format{101, "telephone-event", 48000, 1, ""});
    CHECK(sd.ptime() == 40);
}

TEST_CASE("sdp: ptime() is the stream's, else the session's, else 0", "[sdp][formats]") {
    CHECK(offer(phone_offer).ptime() == 20);
    CHECK(offer(with(phone_offer, "a=ptime:20\r\n", "")).ptime() == 0);
    CHECK(offer(with(phone_offer, "a=ptime:20", "a=ptime:abc")).ptime() == 0);
    CHECK(offer(with(phone_offer, "a=ptime:20", "a=ptime:-5")).ptime() == 0);
    auto session_level =
        with(with(phone_offer, "a=ptime:20\r\n", ""), "t=0 0\r\n", "t=0 0\r\na=ptime:30\r\n");
    CHECK(offer(session_level).ptime() == 30);
}

TEST_CASE("sdp: rewrite with the SBC's formats puts exactly those on the stream",
          "[sdp][formats]") {
    auto sd = offer(phone_offer);  // PCMU PCMA telephone-event, ptime 20, maxptime 40
    auto p = sbc_side();
    p.formats = {{8, "PCMA", 8000, 1, ""},
                 {18, "G729", 8000, 1, "annexb=no"},
                 {111, "opus", 48000, 2, "useinbandfec=1"},
                 {101, "telephone-event", 8000, 1, "0-15"}};
    p.ptime = 30;
    auto out = answer_sent(sd, p);
    CHECK(contains(out,
                   "m=audio 20000 RTP/AVP 8 18 111 101\r\n"
                   "a=rtpmap:8 PCMA/8000\r\n"
                   "a=rtpmap:18 G729/8000\r\n"
                   "a=fmtp:18 annexb=no\r\n"
                   "a=rtpmap:111 opus/48000/2\r\n"
                   "a=fmtp:111 useinbandfec=1\r\n"
                   "a=rtpmap:101 telephone-event/8000\r\n"
                   "a=fmtp:101 0-15\r\n"
                   "a=ptime:30\r\n"));
    expect_absent(out, {"PCMU", "a=rtpmap:0", "0-16", "a=ptime:20", "maxptime"});
    expect_crlf_lines(out);
    // What leaves reads back as what was asked for.
    auto again = offer(out);
    CHECK(again.formats() == p.formats);
    CHECK(again.ptime() == 30);

    // ptime 0: the peer's a=ptime and a=maxptime pass.
    p.ptime = 0;
    out = answer_sent(sd, p);
    CHECK(contains(out, "a=ptime:20\r\n"));
    CHECK(contains(out, "a=maxptime:40\r\n"));
}

TEST_CASE("sdp: replaced formats keep feedback only for the codec it was stated for",
          "[sdp][formats]") {
    auto sd = offer(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 useinbandfec=1\r\na=rtcp-fb:111 transport-cc\r\na=rtcp-fb:* nack\r\n");
    auto p = sbc_side();
    p.formats = {{111, "opus", 48000, 2, "useinbandfec=1"}};
    auto out = answer_sent(sd, p);
    CHECK(contains(out, "m=audio 20000 RTP/AVPF 111\r\n"));
    CHECK(contains(out, "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\n"));
    CHECK(contains(out, "a=rtcp-fb:111 transport-cc\r\n"));
    CHECK(contains(out, "a=rtcp-fb:* nack\r\n"));
    CHECK(offer(out).formats() == p.formats);
    // 111 now names another codec: the peer's feedback for it does not hold.
    p.formats = {{111, "G729", 8000, 1, ""}, {0, "PCMU", 8000, 1, ""}};
    out = answer_sent(sd, p);
    CHECK(contains(out, "m=audio 20000 RTP/AVPF 111 0\r\n"));
    expect_absent(out, {"opus", "rtcp-fb", "useinbandfec"});
    CHECK(offer(out).formats() == p.formats);
}

TEST_CASE("sdp: formats that cannot be written are left out", "[sdp][formats]") {
    auto p = sbc_side();
    p.formats = {{0, "PCMU", 8000, 1, ""},
                 {200, "PCMA", 8000, 1, ""},
                 {96, "bad name", 8000, 1, ""},
                 {97, "x", 8000, 1, "a\r\nc=IN IP4 10.0.0.1"},
                 {98, "", 8000, 1, ""}};
    auto out = answer_sent(offer(phone_offer), p);
    CHECK(contains(out, "m=audio 20000 RTP/AVP 0\r\n"));
    expect_absent(out, {"PCMA", "bad", "10.0.0.1", " 96", " 97", " 98"});
}
