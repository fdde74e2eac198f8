// codec_plan against the transcoder's real registry (transcoder/registry.cpp)
// rather than the scripts' stand-in: what the call code will pass. Its own
// executable, so the sdp unit tests do not link the codec libraries.
#include <catch2/catch.hpp>

#include "sbc/sdp/codec_plan.hpp"
#include "sbc/sdp/offer_builder.hpp"

using namespace sbc;
using config::codec;
using sdp::format;

TEST_CASE("codec plan: the registry transcodes the trunk codecs, not events or noise",
          "[sdp][codec_plan][registry]") {
    for (auto c : {codec::pcmu, codec::pcma, codec::g722, codec::g729, codec::opus}) {
        INFO(config::to_string(c));
        CHECK(sdp::registry_transcodes(sdp::own_format(c)));
    }
    CHECK(sdp::registry_transcodes({96, "OPUS", 48000, 2, ""}));
    CHECK_FALSE(sdp::registry_transcodes(sdp::own_format(codec::telephone_event)));
    CHECK_FALSE(sdp::registry_transcodes({13, "CN", 8000, 1, ""}));
    CHECK(sdp::registry_transcodes({9, "G722", 8000, 1, ""}));
    CHECK_FALSE(sdp::registry_transcodes({96, "G722", 16000, 1, ""}));  // RFC 3551 4.5.2
    CHECK_FALSE(sdp::registry_transcodes({3, "GSM", 8000, 1, ""}));
    CHECK_FALSE(sdp::registry_transcodes({96, "", 0, 1, ""}));
}

TEST_CASE("codec plan: G.711 to G.729 through the registry", "[sdp][codec_plan][registry]") {
    sdp::media_formats a{{{0, "PCMU", 8000, 1, ""}, {101, "telephone-event", 8000, 1, "0-16"}}, 20};
    const std::vector<codec> a_trunk = {codec::pcmu, codec::telephone_event};
    const std::vector<codec> b_trunk = {codec::g729, codec::telephone_event};
    auto to_b = sdp::plan_offer(a, a_trunk, b_trunk, sdp::registry_transcodes);
    REQUIRE(to_b);
    CHECK(to_b->transcoding);
    sdp::media_formats b{{to_b->formats[0], to_b->formats[1]}, 20};
    auto to_a = sdp::plan_answer(a, to_b->formats, b, a_trunk, sdp::registry_transcodes);
    REQUIRE(to_a);
    CHECK(to_a->how == sdp::answer_plan::mode::transcode);
    REQUIRE(to_a->side_b);
    CHECK(to_a->side_b->audio.encoding == "G729");
}

TEST_CASE("codec plan: G.722 to PCMA through the registry", "[sdp][codec_plan][registry]") {
    sdp::media_formats a{{{9, "G722", 8000, 1, ""}, {101, "telephone-event", 8000, 1, "0-16"}}, 20};
    const std::vector<codec> a_trunk = {codec::g722, codec::telephone_event};
    const std::vector<codec> b_trunk = {codec::pcma, codec::telephone_event};
    auto to_b = sdp::plan_offer(a, a_trunk, b_trunk, sdp::registry_transcodes);
    REQUIRE(to_b);
    CHECK(to_b->transcoding);
    REQUIRE(to_b->formats.size() == 2);
    CHECK(to_b->formats[0].encoding == "PCMA");
    sdp::media_formats b{{to_b->formats[0], to_b->formats[1]}, 20};
    auto to_a = sdp::plan_answer(a, to_b->formats, b, a_trunk, sdp::registry_transcodes);
    REQUIRE(to_a);
    CHECK(to_a->how == sdp::answer_plan::mode::transcode);
    REQUIRE(to_a->side_a);
    CHECK(to_a->side_a->audio.encoding == "G722");
    CHECK(to_a->side_a->audio.clock_rate == 8000);
    CHECK(transcoder::find_codec(to_a->side_a->audio.encoding, to_a->side_a->audio.clock_rate) !=
          nullptr);
}
