// ICE in SDP (RFC 8839) as the SBC reads a peer's and writes its own as an
// ICE-lite agent (RFC 8445 2.5): the peer's credentials found at media or
// session level, and the SBC's a=ice-lite, credentials and host candidates
// in what it sends, with the peer's ICE lines never passing.
#include <catch2/catch.hpp>

#include <string>

#include "dataplane/api/ice_credentials.hpp"
#include "sbc/sdp/ice.hpp"
#include "sbc/sdp/offer_builder.hpp"
#include "sbc/sdp/session_description.hpp"

namespace ice_sdp_test {

using sbc::sdp::ice_attributes;
using sbc::sdp::rewrite_params;
using sbc::sdp::session_description;

// A full ICE agent's offer (as Teams' media processor sends): credentials
// at session level, candidates on the stream, one of them on an address
// the other leg must never learn.
const std::string ice_offer =
    "v=0\r\n"
    "o=peer 1 1 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "a=ice-ufrag:Peer\r\n"
    "a=ice-pwd:PeerPasswordOf22Chars+/\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
    "a=candidate:1 1 UDP 2130706431 192.0.2.10 49170 typ host\r\n"
    "a=candidate:2 1 UDP 1694498815 203.0.113.99 61000 typ srflx raddr 192.0.2.10 rport "
    "49170\r\n"
    "a=ice-options:trickle\r\n"
    "a=sendrecv\r\n";

std::string with_media_credentials(const std::string& ufrag, const std::string& pwd) {
    std::string s = ice_offer;
    s += "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\n";
    return s;
}

session_description parse_or_fail(const std::string& body) {
    auto sd = session_description::parse(body);
    INFO((sd ? std::string() : sd.error_message()));
    REQUIRE(sd);
    return std::move(sd.value());
}

const ice_attributes sbc_credentials{"SBCu", "SbcPasswordOf22Chars+/x"};

rewrite_params params() {
    rewrite_params p{"127.0.1.1", 40000, 55, 1};
    p.ice = sbc_credentials;
    return p;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_CASE("ice: a peer's credentials are read at session level, media level first", "[sdp][ice]") {
    auto session_level = parse_or_fail(ice_offer).ice();
    REQUIRE(session_level);
    CHECK(session_level->ufrag == "Peer");
    CHECK(session_level->pwd == "PeerPasswordOf22Chars+/");

    // RFC 8839 5.4: a media-level attribute overrides the session's.
    auto media_level =
        parse_or_fail(with_media_credentials("Mine", "MediaPasswordOf22Chars")).ice();
    REQUIRE(media_level);
    CHECK(media_level->ufrag == "Mine");
    CHECK(media_level->pwd == "MediaPasswordOf22Chars");
}

TEST_CASE("ice: no credentials, half of them, or ones outside RFC 8839's grammar mean no ICE",
          "[sdp][ice]") {
    std::string no_ice = ice_offer;
    no_ice.erase(no_ice.find("a=ice-ufrag"), std::string("a=ice-ufrag:Peer\r\n").size());
    CHECK_FALSE(parse_or_fail(no_ice).ice());  // a pwd alone
    CHECK_FALSE(parse_or_fail(with_media_credentials("abc", "MediaPasswordOf22Chars")).ice());
    CHECK_FALSE(parse_or_fail(with_media_credentials("abcd", "short")).ice());
    CHECK_FALSE(parse_or_fail(with_media_credentials("ab-d", "MediaPasswordOf22Chars")).ice());
}

TEST_CASE("ice: host candidates follow RFC 8445 5.1.2.1 and RFC 8839 5.1", "[sdp][ice]") {
    CHECK(sbc::sdp::host_candidate_priority(1) == 2130706431U);
    CHECK(sbc::sdp::host_candidate_priority(2) == 2130706430U);
    CHECK(sbc::sdp::host_candidate(1, "127.0.1.1", 40000) ==
          "1 1 UDP 2130706431 127.0.1.1 40000 typ host");
    CHECK(sbc::sdp::host_candidate(2, "2001:db8::1", 40001) ==
          "1 2 UDP 2130706430 2001:db8::1 40001 typ host");
}

TEST_CASE("ice: the SBC's SDP carries its own ICE-lite lines and never the peer's", "[sdp][ice]") {
    const auto out = parse_or_fail(ice_offer).rewrite(params());
    INFO(out);
    CHECK(contains(out, "a=ice-lite\r\n"));
    CHECK(contains(out, "a=ice-options:ice2\r\n"));
    CHECK(contains(out, "a=ice-ufrag:SBCu\r\n"));
    CHECK(contains(out, "a=ice-pwd:SbcPasswordOf22Chars+/x\r\n"));
    CHECK(contains(out, "a=candidate:1 1 UDP 2130706431 127.0.1.1 40000 typ host\r\n"));
    CHECK(contains(out, "a=candidate:1 2 UDP 2130706430 127.0.1.1 40001 typ host\r\n"));
    CHECK_FALSE(contains(out, "Peer"));
    CHECK_FALSE(contains(out, "192.0.2.10"));
    CHECK_FALSE(contains(out, "203.0.113.99"));
    CHECK_FALSE(contains(out, "trickle"));
    // a=ice-lite is a session-level attribute (RFC 8839 5.3).
    CHECK(out.find("a=ice-lite") < out.find("m=audio"));

    // What the SBC wrote reads back as its own credentials.
    auto back = parse_or_fail(out).ice();
    REQUIRE(back);
    CHECK(*back == sbc_credentials);
}

TEST_CASE("ice: a muxed answer has one component, an offer of mux keeps RTCP's", "[sdp][ice]") {
    auto p = params();
    p.rtcp_mux = sbc::sdp::rtcp_mux_attribute::answer;
    const auto muxed = parse_or_fail(ice_offer).rewrite(p);
    CHECK(contains(muxed, "a=candidate:1 1 UDP"));
    CHECK_FALSE(contains(muxed, "a=candidate:1 2 UDP"));
    p.rtcp_mux = sbc::sdp::rtcp_mux_attribute::offer;
    CHECK(contains(parse_or_fail(ice_offer).rewrite(p), "a=candidate:1 2 UDP"));
}

TEST_CASE("ice: without ICE params nothing of ICE is written, the peer's included", "[sdp][ice]") {
    auto p = params();
    p.ice.reset();
    const auto out = parse_or_fail(ice_offer).rewrite(p);
    CHECK_FALSE(contains(out, "ice-"));
    CHECK_FALSE(contains(out, "candidate"));
}

TEST_CASE("ice: the SBC's own offer carries the same lines", "[sdp][ice]") {
    auto built = sbc::sdp::build_offer({sbc::config::codec::pcmu}, params());
    REQUIRE(built);
    const auto& out = built.value();
    INFO(out);
    CHECK(contains(out, "a=ice-lite\r\n"));
    CHECK(contains(out, "a=ice-ufrag:SBCu\r\n"));
    CHECK(contains(out, "a=candidate:1 1 UDP 2130706431 127.0.1.1 40000 typ host\r\n"));
    CHECK(contains(out, "a=candidate:1 2 UDP 2130706430 127.0.1.1 40001 typ host\r\n"));
    auto back = parse_or_fail(out).ice();
    REQUIRE(back);
    CHECK(*back == sbc_credentials);
}

TEST_CASE("ice: fresh credentials are RFC 8839's and differ each time", "[sdp][ice]") {
    auto random = [](std::span<std::uint8_t> out) noexcept {
        static std::uint8_t next = 0;
        for (auto& b : out) {
            b = next++;
        }
        return true;
    };
    auto one = sbc::sdp::make_ice_credentials(random);
    auto two = sbc::sdp::make_ice_credentials(random);
    REQUIRE(one);
    REQUIRE(two);
    CHECK(one->ufrag.size() == 8);
    CHECK(one->pwd.size() == 24);
    const sbc::dataplane::ice_credentials made{one->ufrag, one->pwd, {}};
    CHECK(made.invalid_because().empty());
    CHECK(*one != *two);
    CHECK_FALSE(
        sbc::sdp::make_ice_credentials([](std::span<std::uint8_t>) noexcept { return false; }));
}

}  // namespace ice_sdp_test
