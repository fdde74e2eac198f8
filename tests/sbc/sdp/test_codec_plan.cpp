// Codec negotiation across the legs, written as offer/answer scripts: A's
// offer comes in, the SBC plans its offer to B, B answers, the SBC plans its
// answer to A. SDPs are real text parsed by session_description, so the
// scripts go through formats() and ptime() as the call code will.
#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "sbc/sdp/codec_plan.hpp"

using namespace sbc;
using config::codec;
using sdp::format;
using sdp::media_formats;

namespace {

struct known_codec {
    const char* name;
    unsigned pt;  ///< the number a peer uses unless the script names one
    unsigned rate;
    unsigned channels;
};

// What the scripts' peers send by default; static ones without an rtpmap.
constexpr known_codec known[] = {
    {"PCMU", 0, 8000, 1},    {"PCMA", 8, 8000, 1},
    {"G729", 18, 8000, 1},   {"G722", 9, 8000, 1},
    {"GSM", 3, 8000, 1},     {"CN", 13, 8000, 1},
    {"opus", 111, 48000, 2}, {"AMR-WB", 98, 16000, 1},
    {"iLBC", 97, 8000, 1},   {"telephone-event", 101, 8000, 1},
};

// One word of a script: "PCMU", "opus:96" (another number),
// "telephone-event/48000:102" (another clock rate and number).
format word_format(const std::string& word) {
    auto colon = word.find(':');
    auto head = word.substr(0, colon);
    auto slash = head.find('/');
    auto name = head.substr(0, slash);
    for (const auto& k : known) {
        if (name == k.name) {
            format f;
            f.encoding = k.name;
            f.payload_type = static_cast<std::uint8_t>(
                colon == std::string::npos ? k.pt : std::stoul(word.substr(colon + 1)));
            f.clock_rate = slash == std::string::npos ? k.rate : std::stoul(head.substr(slash + 1));
            f.channels = k.channels;
            return f;
        }
    }
    FAIL("unknown codec in script: " << word);
    return {};
}

std::vector<format> script(const std::string& codecs) {
    std::vector<format> out;
    std::istringstream words(codecs);
    for (std::string w; words >> w;) {
        out.push_back(word_format(w));
    }
    return out;
}

// A peer's SDP listing `formats`: static numbers go on the m= line alone,
// as phones send them; dynamic ones get an rtpmap; `fmtp` lines are added.
std::string peer_sdp(const std::vector<format>& formats, unsigned ptime,
                     const std::string& extra = "") {
    std::string m = "m=audio 4000 RTP/AVP";
    std::string attributes;
    for (const auto& f : formats) {
        m += " " + std::to_string(f.payload_type);
        if (f.payload_type >= 96) {
            attributes += "a=rtpmap:" + std::to_string(f.payload_type) + " " + f.encoding + "/" +
                          std::to_string(f.clock_rate) +
                          (f.channels > 1 ? "/" + std::to_string(f.channels) : "") + "\r\n";
        }
        if (!f.fmtp.empty()) {
            attributes += "a=fmtp:" + std::to_string(f.payload_type) + " " + f.fmtp + "\r\n";
        }
    }
    if (ptime != 0) {
        attributes += "a=ptime:" + std::to_string(ptime) + "\r\n";
    }
    return "v=0\r\no=peer 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n" + m +
           "\r\n" + attributes + extra + "a=sendrecv\r\n";
}

media_formats parsed(const std::string& text) {
    auto sd = sdp::session_description::parse(text);
    INFO(text);
    REQUIRE(sd.ok());
    return media_formats::of(*sd);
}

// A's offer: "PCMU PCMA telephone-event"; `extra` holds a=fmtp lines.
media_formats offer_formats(const std::string& codecs, unsigned ptime = 0,
                            const std::string& extra = "") {
    return parsed(peer_sdp(script(codecs), ptime, extra));
}

// B's answer to what the SBC offered it: B picks the codecs named, by name,
// and keeps the offer's numbers and fmtp (RFC 3264 6.1) unless the script
// gives another number.
media_formats answer(const std::vector<format>& offered, const std::string& codecs,
                     unsigned ptime = 0, const std::string& extra = "") {
    std::vector<format> picked;
    std::istringstream words(codecs);
    for (std::string w; words >> w;) {
        auto wanted = word_format(w);
        bool renumbered = w.find(':') != std::string::npos;
        for (const auto& o : offered) {
            if (o.encoding == wanted.encoding && o.clock_rate == wanted.clock_rate) {
                format f = o;
                f.payload_type = renumbered ? wanted.payload_type : o.payload_type;
                if (!extra.empty()) {
                    f.fmtp.clear();  // the script states B's own fmtp
                }
                picked.push_back(f);
                break;
            }
        }
    }
    return parsed(peer_sdp(picked, ptime, extra));
}

// "PCMA PCMU telephone-event": the encodings, in order.
std::string names(const std::vector<format>& formats) {
    std::string out;
    for (const auto& f : formats) {
        out += (out.empty() ? "" : " ") + f.encoding;
    }
    return out;
}

// "8 0 101": the payload type numbers, in order.
std::string numbers(const std::vector<format>& formats) {
    std::string out;
    for (const auto& f : formats) {
        out += (out.empty() ? "" : " ") + std::to_string(f.payload_type);
    }
    return out;
}

void expect_codecs(const std::vector<format>& formats, const std::string& expected) {
    INFO("formats: " << names(formats) << " (" << numbers(formats) << ")");
    CHECK(names(formats) == expected);
}

// The transcoder's registry as transcoder/registry.cpp lists it.
bool transcodable(const format& f) {
    return (f.encoding == "PCMU" && f.clock_rate == 8000) ||
           (f.encoding == "PCMA" && f.clock_rate == 8000) ||
           (f.encoding == "G722" && f.clock_rate == 8000) ||
           (f.encoding == "G729" && f.clock_rate == 8000) ||
           (f.encoding == "opus" && f.clock_rate == 48000);
}

const std::vector<codec> g711_trunk = {codec::pcmu, codec::pcma, codec::telephone_event};

sdp::offer_plan plan_offer(const media_formats& a, const std::vector<codec>& a_trunk,
                           const std::vector<codec>& b_trunk) {
    auto plan = sdp::plan_offer(a, a_trunk, b_trunk, transcodable);
    INFO((plan ? std::string() : plan.error_message()));
    REQUIRE(plan);
    return *plan;
}

sdp::answer_plan plan_answer(const media_formats& a, const sdp::offer_plan& to_b,
                             const media_formats& b, const std::vector<codec>& a_trunk) {
    auto plan = sdp::plan_answer(a, to_b.formats, b, a_trunk, transcodable);
    INFO((plan ? std::string() : plan.error_message()));
    REQUIRE(plan);
    return *plan;
}

}  // namespace

TEST_CASE("codec plan: a shared codec is relayed with A's numbers", "[sdp][codec_plan]") {
    auto a = offer_formats("PCMU PCMA telephone-event", 20);
    auto to_b = plan_offer(a, g711_trunk, g711_trunk);
    CHECK_FALSE(to_b.transcoding);
    CHECK(to_b.ptime == 0);  // A's a=ptime passes
    expect_codecs(to_b.formats, "PCMU PCMA telephone-event");
    CHECK(numbers(to_b.formats) == "0 8 101");

    auto b = answer(to_b.formats, "PCMA telephone-event", 30);
    auto to_a = plan_answer(a, to_b, b, g711_trunk);
    CHECK(to_a.how == sdp::answer_plan::mode::relay);
    expect_codecs(to_a.formats, "PCMA telephone-event");
    CHECK(numbers(to_a.formats) == "8 101");
    CHECK(to_a.ptime == 0);  // B's a=ptime:30 passes
    CHECK(to_a.a_to_b.empty());
    CHECK(to_a.b_to_a.empty());
    CHECK_FALSE(to_a.side_a);
    CHECK_FALSE(to_a.side_b);
}

TEST_CASE("codec plan: B's order of preference and both trunks' lists apply", "[sdp][codec_plan]") {
    auto a = offer_formats("opus PCMU G729 PCMA telephone-event");
    // A's trunk excludes G729: the SBC never relays it, though B takes it.
    auto to_b = plan_offer(a, {codec::opus, codec::pcmu, codec::pcma, codec::telephone_event},
                           {codec::pcma, codec::g729, codec::pcmu, codec::telephone_event});
    CHECK_FALSE(to_b.transcoding);
    expect_codecs(to_b.formats, "PCMA PCMU telephone-event");
    CHECK(numbers(to_b.formats) == "8 0 101");
}

TEST_CASE("codec plan: telephone-event only where both trunks list it", "[sdp][codec_plan]") {
    auto a = offer_formats("PCMU telephone-event");
    expect_codecs(plan_offer(a, g711_trunk, {codec::pcmu}).formats, "PCMU");
    expect_codecs(plan_offer(a, {codec::pcmu}, g711_trunk).formats, "PCMU");
    expect_codecs(plan_offer(a, g711_trunk, g711_trunk).formats, "PCMU telephone-event");

    // Events go with the audio's clock (RFC 4733): opus takes /48000.
    auto wide = offer_formats("opus telephone-event/48000:102 telephone-event");
    auto opus_trunk = std::vector<codec>{codec::opus, codec::telephone_event};
    auto to_b = plan_offer(wide, opus_trunk, opus_trunk);
    expect_codecs(to_b.formats, "opus telephone-event");
    CHECK(numbers(to_b.formats) == "111 102");

    // Only /8000 offered with opus: better than no events at all.
    expect_codecs(plan_offer(offer_formats("opus telephone-event"), opus_trunk, opus_trunk).formats,
                  "opus telephone-event");

    // B answers without events: the answer to A has none either.
    auto to_a = plan_answer(wide, to_b, answer(to_b.formats, "opus"), opus_trunk);
    expect_codecs(to_a.formats, "opus");
}

TEST_CASE("codec plan: events the SBC added for B never reach a trunk that excludes them",
          "[sdp][codec_plan]") {
    // A's trunk takes digits as tones (telephone-event not negotiable): the
    // call code offers B events of its own (101), which B answers; A's offer
    // carried events at 96 all the same, and must not get them back.
    auto a = offer_formats("PCMA telephone-event:96");
    const std::vector<codec> a_trunk = {codec::pcma};
    auto to_b = plan_offer(a, a_trunk, g711_trunk);
    expect_codecs(to_b.formats, "PCMA");
    to_b.formats.push_back(word_format("telephone-event"));
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "PCMA telephone-event"), a_trunk);
    CHECK(to_a.how == sdp::answer_plan::mode::relay);
    expect_codecs(to_a.formats, "PCMA");
    CHECK(to_a.a_to_b.empty());
    CHECK(to_a.b_to_a.empty());
}

TEST_CASE("codec plan: comfort noise goes with a relayed codec of its clock", "[sdp][codec_plan]") {
    auto a = offer_formats("PCMU CN telephone-event");
    expect_codecs(plan_offer(a, g711_trunk, g711_trunk).formats, "PCMU CN telephone-event");
    // Not on a fresh offer: the chain makes its own silence.
    auto to_b = plan_offer(a, g711_trunk, {codec::g729});
    CHECK(to_b.transcoding);
    expect_codecs(to_b.formats, "G729");
}

TEST_CASE("codec plan: B renumbering a codec is relayed with A's numbers to A",
          "[sdp][codec_plan]") {
    auto a = offer_formats("opus:96 telephone-event");
    auto opus_trunk = std::vector<codec>{codec::opus, codec::telephone_event};
    auto to_b = plan_offer(a, opus_trunk, opus_trunk);
    CHECK(numbers(to_b.formats) == "96 101");
    // RFC 3264 6.1 says SHOULD keep the number; B did not.
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "opus:111 telephone-event"), opus_trunk);
    CHECK(to_a.how == sdp::answer_plan::mode::relay);
    CHECK(numbers(to_a.formats) == "96 101");
    REQUIRE(to_a.a_to_b.size() == 1);
    CHECK(to_a.a_to_b[0] == sdp::payload_type_change{96, 111});
    // B should send 96 (RFC 3264 5.1); if it sends its own 111, that maps too.
    REQUIRE(to_a.b_to_a.size() == 1);
    CHECK(to_a.b_to_a[0] == sdp::payload_type_change{96, 111});
}

TEST_CASE("codec plan: a renumbered telephone-event maps both ways (issue 19)",
          "[sdp][codec_plan]") {
    auto a = offer_formats("PCMA telephone-event:96");
    auto trunk = std::vector<codec>{codec::pcma, codec::telephone_event};
    auto to_b = plan_offer(a, trunk, trunk);
    CHECK(numbers(to_b.formats) == "8 96");
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "PCMA telephone-event:101"), trunk);
    CHECK(to_a.how == sdp::answer_plan::mode::relay);
    CHECK(numbers(to_a.formats) == "8 96");
    CHECK(to_a.a_to_b == std::vector<sdp::payload_type_change>{{96, 101}});
    CHECK(to_a.b_to_a == std::vector<sdp::payload_type_change>{{96, 101}});
}

TEST_CASE("codec plan: B's own number is not mapped back when the offer used it elsewhere",
          "[sdp][codec_plan]") {
    // B answers opus as 101, the number the offer gave telephone-event: a
    // packet from B with 101 cannot be told apart, so only A -> B maps.
    auto a = offer_formats("opus:96 telephone-event:101");
    auto trunk = std::vector<codec>{codec::opus, codec::telephone_event};
    auto to_b = plan_offer(a, trunk, trunk);
    CHECK(numbers(to_b.formats) == "96 101");
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "opus:101"), trunk);
    CHECK(to_a.how == sdp::answer_plan::mode::relay);
    CHECK(to_a.a_to_b == std::vector<sdp::payload_type_change>{{96, 101}});
    CHECK(to_a.b_to_a.empty());
}

TEST_CASE("codec plan: the relayed answer carries B's fmtp under A's number", "[sdp][codec_plan]") {
    auto a = offer_formats("opus:96", 0, "a=fmtp:96 useinbandfec=1; stereo=1\r\n");
    auto opus_trunk = std::vector<codec>{codec::opus};
    auto to_b = plan_offer(a, opus_trunk, opus_trunk);
    REQUIRE(to_b.formats.size() == 1);
    CHECK(to_b.formats[0].fmtp == "useinbandfec=1; stereo=1");  // A's, offered on
    auto b = answer(to_b.formats, "opus", 0, "a=fmtp:96 maxplaybackrate=16000\r\n");
    auto to_a = plan_answer(a, to_b, b, opus_trunk);
    REQUIRE(to_a.formats.size() == 1);
    CHECK(to_a.formats[0].payload_type == 96);
    CHECK(to_a.formats[0].fmtp == "maxplaybackrate=16000");
}

TEST_CASE("codec plan: nothing shared: B gets its trunk's codecs, A an answer of its own",
          "[sdp][codec_plan]") {
    auto a = offer_formats("PCMU PCMA telephone-event", 30);
    const std::vector<codec> b_trunk = {codec::g729, codec::opus, codec::telephone_event};
    auto to_b = plan_offer(a, g711_trunk, b_trunk);
    CHECK(to_b.transcoding);
    CHECK(to_b.ptime == 20);
    // Built afresh as build_offer does: the SBC's own numbers and fmtp.
    expect_codecs(to_b.formats, "G729 opus telephone-event");
    CHECK(numbers(to_b.formats) == "18 111 101");
    CHECK(to_b.formats[0].fmtp == "annexb=no");
    CHECK(to_b.formats[1].channels == 2);

    auto b = answer(to_b.formats, "G729 telephone-event", 40);
    auto to_a = plan_answer(a, to_b, b, g711_trunk);
    REQUIRE(to_a.how == sdp::answer_plan::mode::transcode);
    // RFC 3264 6.1: A gets a codec of its own offer, with its number.
    expect_codecs(to_a.formats, "PCMU telephone-event");
    CHECK(numbers(to_a.formats) == "0 101");
    CHECK(to_a.ptime == 30);

    REQUIRE(to_a.side_a);
    CHECK(to_a.side_a->audio.encoding == "PCMU");
    CHECK(to_a.side_a->audio.payload_type == 0);
    CHECK(to_a.side_a->audio.clock_rate == 8000);
    CHECK(to_a.side_a->audio.ptime_ms == 30);
    CHECK(to_a.side_a->received_payload_type == 0);
    REQUIRE(to_a.side_a->events);
    CHECK(to_a.side_a->events->payload_type == 101);
    CHECK(to_a.side_a->events->clock_rate == 8000);

    REQUIRE(to_a.side_b);
    CHECK(to_a.side_b->audio.encoding == "G729");
    CHECK(to_a.side_b->audio.payload_type == 18);
    CHECK(to_a.side_b->audio.ptime_ms == 40);
    CHECK_FALSE(to_a.side_b->audio.annexb);  // the SBC offered annexb=no
    REQUIRE(to_a.side_b->events);
    CHECK(to_a.side_b->events->payload_type == 101);
}

TEST_CASE("codec plan: the transcoded side A follows A's trunk order", "[sdp][codec_plan]") {
    auto a = offer_formats("PCMU PCMA opus telephone-event");
    auto a_trunk = std::vector<codec>{codec::opus, codec::pcma, codec::pcmu};
    auto to_b = plan_offer(a, a_trunk, {codec::g729});
    CHECK(to_b.transcoding);
    expect_codecs(to_b.formats, "G729");  // B's list has no telephone-event
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "G729"), a_trunk);
    REQUIRE(to_a.how == sdp::answer_plan::mode::transcode);
    // A's trunk lists no telephone_event: none in the answer to A.
    expect_codecs(to_a.formats, "opus");
    CHECK(to_a.formats[0].fmtp == "useinbandfec=1");  // the SBC's receiving parameters
    CHECK(to_a.ptime == 20);
    REQUIRE(to_a.side_a);
    CHECK(to_a.side_a->audio.channels == 2);
    CHECK(to_a.side_a->ptime == 20);
    CHECK_FALSE(to_a.side_a->events);
    CHECK_FALSE(to_a.side_b->events);
}

TEST_CASE("codec plan: what cannot be carried is refused for a 488", "[sdp][codec_plan]") {
    // Only GSM offered, which no trunk of B's lists nor the transcoder knows.
    auto gsm =
        sdp::plan_offer(offer_formats("GSM telephone-event"), g711_trunk, g711_trunk, transcodable);
    REQUIRE_FALSE(gsm);
    CHECK(gsm.error_message() ==
          "no codec in common, and none offered (GSM, telephone-event) that the SBC can "
          "transcode");
    // G.722 the transcoder knows, but A's trunk does not list it.
    CHECK_FALSE(sdp::plan_offer(offer_formats("G722"), g711_trunk, g711_trunk, transcodable));
    // A codec the transcoder knows, but not on A's own trunk list.
    CHECK_FALSE(sdp::plan_offer(offer_formats("G729"), g711_trunk, {codec::opus}, transcodable));
    // Events alone carry no call.
    CHECK_FALSE(
        sdp::plan_offer(offer_formats("telephone-event"), g711_trunk, g711_trunk, transcodable));
    // B's trunk lists nothing the transcoder can handle.
    auto none = sdp::plan_offer(offer_formats("PCMU"), g711_trunk, {codec::g729},
                                [](const format& f) { return f.encoding == "PCMU"; });
    REQUIRE_FALSE(none);
    CHECK(none.error_message() ==
          "no codec in common, and the called trunk lists none the SBC can transcode");
}

TEST_CASE("codec plan: an answer naming nothing offered is an error", "[sdp][codec_plan]") {
    auto a = offer_formats("PCMU PCMA telephone-event");
    auto to_b = plan_offer(a, g711_trunk, g711_trunk);
    auto b = parsed(peer_sdp(script("G722 telephone-event"), 0));
    auto plan = sdp::plan_answer(a, to_b.formats, b, g711_trunk, transcodable);
    REQUIRE_FALSE(plan);
    CHECK(plan.error_message() ==
          "the answer names no codec that was offered (offered PCMU, PCMA, telephone-event; "
          "answered G722, telephone-event)");
}

TEST_CASE("codec plan: a re-offer may turn a relay into a transcoded call", "[sdp][codec_plan]") {
    const std::vector<codec> b_trunk = {codec::pcma, codec::g729, codec::telephone_event};
    // First offer: PCMA is shared.
    auto a1 = offer_formats("PCMA PCMU telephone-event");
    auto to_b1 = plan_offer(a1, g711_trunk, b_trunk);
    CHECK_FALSE(to_b1.transcoding);
    auto r1 = plan_answer(a1, to_b1, answer(to_b1.formats, "PCMA telephone-event"), g711_trunk);
    CHECK(r1.how == sdp::answer_plan::mode::relay);
    // The re-INVITE drops PCMA: the same functions now plan a chain.
    auto a2 = offer_formats("PCMU telephone-event");
    auto to_b2 = plan_offer(a2, g711_trunk, b_trunk);
    CHECK(to_b2.transcoding);
    expect_codecs(to_b2.formats, "PCMA G729 telephone-event");
    auto r2 = plan_answer(a2, to_b2, answer(to_b2.formats, "PCMA telephone-event"), g711_trunk);
    CHECK(r2.how == sdp::answer_plan::mode::transcode);
    expect_codecs(r2.formats, "PCMU telephone-event");
    REQUIRE(r2.side_b);
    CHECK(r2.side_b->audio.encoding == "PCMA");
}

TEST_CASE("codec plan: trunk codecs are known by name and clock", "[sdp][codec_plan]") {
    CHECK(sdp::trunk_codec({0, "PCMU", 8000, 1, ""}) == codec::pcmu);
    CHECK(sdp::trunk_codec({8, "pcma", 8000, 1, ""}) == codec::pcma);
    CHECK(sdp::trunk_codec({96, "OPUS", 48000, 2, ""}) == codec::opus);
    CHECK(sdp::trunk_codec({101, "telephone-event", 48000, 1, ""}) == codec::telephone_event);
    CHECK_FALSE(sdp::trunk_codec({96, "opus", 16000, 1, ""}));
    CHECK_FALSE(sdp::trunk_codec({13, "CN", 8000, 1, ""}));
    CHECK_FALSE(sdp::trunk_codec({3, "GSM", 8000, 1, ""}));
    // RFC 3551 4.5.2: G.722's RTP clock is 8000 Hz, whatever its audio.
    CHECK(sdp::trunk_codec({9, "G722", 8000, 1, ""}) == codec::g722);
    CHECK(sdp::trunk_codec({9, "g722", 8000, 1, ""}) == codec::g722);
    CHECK_FALSE(sdp::trunk_codec({96, "G722", 16000, 1, ""}));
}

TEST_CASE("codec plan: G.722 is relayed between trunks that both take it", "[sdp][codec_plan]") {
    const std::vector<codec> wideband = {codec::g722, codec::pcmu, codec::telephone_event};
    auto a = offer_formats("G722 PCMU telephone-event");
    auto to_b =
        plan_offer(a, wideband, {codec::pcma, codec::g722, codec::pcmu, codec::telephone_event});
    CHECK_FALSE(to_b.transcoding);
    CHECK(to_b.ptime == 0);
    // B's order: G.722 before PCMU; PCMA was not offered.
    expect_codecs(to_b.formats, "G722 PCMU telephone-event");
    CHECK(numbers(to_b.formats) == "9 0 101");
    CHECK(to_b.formats[0].clock_rate == 8000);

    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "G722 telephone-event"), wideband);
    CHECK(to_a.how == sdp::answer_plan::mode::relay);
    expect_codecs(to_a.formats, "G722 telephone-event");
    CHECK(numbers(to_a.formats) == "9 101");
    CHECK(to_a.a_to_b.empty());
    CHECK(to_a.b_to_a.empty());
    CHECK_FALSE(to_a.side_a);
}

TEST_CASE("codec plan: G.722 is transcoded where one trunk lacks it", "[sdp][codec_plan]") {
    SECTION("A offers G.722, B takes PCMA") {
        const std::vector<codec> a_trunk = {codec::g722, codec::telephone_event};
        auto a = offer_formats("G722 telephone-event");
        auto to_b = plan_offer(a, a_trunk, {codec::pcma, codec::telephone_event});
        CHECK(to_b.transcoding);
        expect_codecs(to_b.formats, "PCMA telephone-event");
        auto to_a = plan_answer(a, to_b, answer(to_b.formats, "PCMA telephone-event"), a_trunk);
        REQUIRE(to_a.how == sdp::answer_plan::mode::transcode);
        expect_codecs(to_a.formats, "G722 telephone-event");
        CHECK(numbers(to_a.formats) == "9 101");
        REQUIRE(to_a.side_a);
        CHECK(to_a.side_a->audio.encoding == "G722");
        CHECK(to_a.side_a->audio.clock_rate == 8000);
        CHECK(to_a.side_a->audio.payload_type == 9);
        CHECK(to_a.side_a->audio.ptime_ms == 20);
        // RFC 4733 2.1: events at the audio's RTP clock, 8000 beside G.722.
        REQUIRE(to_a.side_a->events);
        CHECK(to_a.side_a->events->clock_rate == 8000);
        REQUIRE(to_a.side_b);
        CHECK(to_a.side_b->audio.encoding == "PCMA");
    }
    SECTION("A offers PCMU, B takes G.722 first: the SBC's own offer names it") {
        auto a = offer_formats("PCMU telephone-event");
        const std::vector<codec> b_trunk = {codec::g722, codec::opus, codec::telephone_event};
        auto to_b = plan_offer(a, g711_trunk, b_trunk);
        CHECK(to_b.transcoding);
        CHECK(to_b.ptime == 20);
        expect_codecs(to_b.formats, "G722 opus telephone-event");
        CHECK(numbers(to_b.formats) == "9 111 101");
        CHECK(to_b.formats[0] == format{9, "G722", 8000, 1, ""});
        auto to_a =
            plan_answer(a, to_b, answer(to_b.formats, "G722 telephone-event", 30), g711_trunk);
        REQUIRE(to_a.how == sdp::answer_plan::mode::transcode);
        expect_codecs(to_a.formats, "PCMU telephone-event");
        REQUIRE(to_a.side_b);
        CHECK(to_a.side_b->audio.encoding == "G722");
        CHECK(to_a.side_b->audio.clock_rate == 8000);
        CHECK(to_a.side_b->audio.ptime_ms == 30);
        REQUIRE(to_a.side_b->events);
        CHECK(to_a.side_b->events->clock_rate == 8000);
    }
    SECTION("A offers G.722 and Opus; the trunks share only Opus") {
        auto a = offer_formats("G722 opus telephone-event");
        auto to_b = plan_offer(a, {codec::g722, codec::opus}, {codec::opus, codec::pcmu});
        CHECK_FALSE(to_b.transcoding);
        expect_codecs(to_b.formats, "opus");
    }
}

TEST_CASE("codec plan: opus fmtp (RFC 7587 7.1) becomes the transcoder's format",
          "[sdp][codec_plan][fmtp]") {
    auto opus = [](const std::string& fmtp) {
        return sdp::to_audio_format({111, "opus", 48000, 2, fmtp}, 0);
    };
    auto plain = opus("");
    CHECK(plain.encoding == "opus");
    CHECK(plain.clock_rate == 48000);
    CHECK(plain.channels == 2);
    CHECK(plain.payload_type == 111);
    CHECK(plain.ptime_ms == 20);
    CHECK(plain.max_playback_rate == 48000);
    CHECK(plain.sprop_max_capture_rate == 48000);
    CHECK_FALSE(plain.stereo);
    CHECK_FALSE(plain.use_inband_fec);
    CHECK_FALSE(plain.use_dtx);
    CHECK(plain.max_average_bitrate == 0);

    auto full = opus(
        "maxplaybackrate=16000;sprop-maxcapturerate=24000;stereo=1;useinbandfec=1;usedtx=1;"
        "maxaveragebitrate=32000");
    CHECK(full.max_playback_rate == 16000);
    CHECK(full.sprop_max_capture_rate == 24000);
    CHECK(full.stereo);
    CHECK(full.use_inband_fec);
    CHECK(full.use_dtx);
    CHECK(full.max_average_bitrate == 32000);

    // Spaces and case do not matter.
    auto spaced = opus(" MaxPlaybackRate = 8000 ;  USEINBANDFEC=1 ; ");
    CHECK(spaced.max_playback_rate == 8000);
    CHECK(spaced.use_inband_fec);

    // Garbage is ignored: each parameter keeps its default.
    auto garbage = opus(
        "maxplaybackrate=fast;stereo=2;useinbandfec=;usedtx;"
        "maxaveragebitrate=999999999999;=1;;;x=y;minptime=10");
    CHECK(garbage.max_playback_rate == 48000);
    CHECK_FALSE(garbage.stereo);
    CHECK_FALSE(garbage.use_inband_fec);
    CHECK_FALSE(garbage.use_dtx);
    CHECK(garbage.max_average_bitrate == 0);
    // Out of range: rates clamp to Opus's 8-48 kHz, bit rates outside
    // 6000-510000 are ignored.
    auto range = opus("maxplaybackrate=96000;sprop-maxcapturerate=4000;maxaveragebitrate=100");
    CHECK(range.max_playback_rate == 48000);
    CHECK(range.sprop_max_capture_rate == 8000);
    CHECK(range.max_average_bitrate == 0);
    CHECK(opus("maxplaybackrate=0").max_playback_rate == 48000);
}

TEST_CASE("codec plan: G.729 Annex B (RFC 4856 2.1.9) is on unless refused",
          "[sdp][codec_plan][fmtp]") {
    auto g729 = [](const std::string& fmtp) {
        return sdp::to_audio_format({18, "G729", 8000, 1, fmtp}, 30).annexb;
    };
    CHECK(g729(""));  // absent means yes
    CHECK(g729("annexb=yes"));
    CHECK_FALSE(g729("annexb=no"));
    CHECK_FALSE(g729(" AnnexB = No "));
    CHECK(g729("annexb=maybe"));  // garbage: the default
    CHECK(g729("garbage"));
    CHECK(sdp::to_audio_format({18, "G729", 8000, 1, ""}, 30).ptime_ms == 30);
    // Not G.729: never Annex B.
    CHECK_FALSE(sdp::to_audio_format({0, "PCMU", 8000, 1, "annexb=yes"}, 0).annexb);

    // On a transcoded leg both SDPs must allow it: A offered nothing (yes),
    // and the SBC's answer to A repeats A's fmtp.
    auto a = offer_formats("G729");
    auto to_b = plan_offer(a, {codec::g729}, {codec::pcma});
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "PCMA"), {codec::g729});
    REQUIRE(to_a.side_a);
    CHECK(to_a.side_a->audio.annexb);
    CHECK(to_a.formats[0].fmtp.empty());
    auto refused = offer_formats("G729", 0, "a=fmtp:18 annexb=no\r\n");
    to_a = plan_answer(refused, plan_offer(refused, {codec::g729}, {codec::pcma}),
                       answer(to_b.formats, "PCMA"), {codec::g729});
    REQUIRE(to_a.side_a);
    CHECK_FALSE(to_a.side_a->audio.annexb);
    CHECK(to_a.formats[0].fmtp == "annexb=no");
}

TEST_CASE("codec plan: formats without a transcoder entry never reach the chain",
          "[sdp][codec_plan]") {
    // A offers iLBC (not transcodable) before PCMU: side A is PCMU.
    auto a = offer_formats("iLBC PCMU");
    auto to_b = plan_offer(a, {codec::pcmu}, {codec::g729});
    auto to_a = plan_answer(a, to_b, answer(to_b.formats, "G729"), {codec::pcmu});
    expect_codecs(to_a.formats, "PCMU");
}

TEST_CASE("codec plan: the SBC's own answer to A for local ringback", "[sdp][codec_plan]") {
    auto a = offer_formats("PCMA PCMU telephone-event", 30);
    auto local = sdp::plan_local_answer(a, g711_trunk, transcodable);
    REQUIRE(local);
    // A's trunk prefers PCMU: the SBC answers it, with A's number and events.
    expect_codecs(local->formats, "PCMU telephone-event");
    CHECK(numbers(local->formats) == "0 101");
    REQUIRE(local->side_a);
    CHECK(local->side_a->ptime == 30);
    CHECK_FALSE(local->side_b);

    auto to_b = plan_offer(a, g711_trunk, g711_trunk);
    SECTION("B answering that codec is relayed") {
        auto to_a = sdp::plan_answer(a, to_b.formats, answer(to_b.formats, "PCMU"), g711_trunk,
                                     transcodable, local->side_a->sdp);
        REQUIRE(to_a);
        CHECK(to_a->how == sdp::answer_plan::mode::relay);
    }
    SECTION("B answering another is transcoded to the codec A was answered with") {
        auto to_a = sdp::plan_answer(a, to_b.formats, answer(to_b.formats, "PCMA"), g711_trunk,
                                     transcodable, local->side_a->sdp);
        REQUIRE(to_a);
        CHECK(to_a->how == sdp::answer_plan::mode::transcode);
        expect_codecs(to_a->formats, "PCMU telephone-event");
        REQUIRE(to_a->side_b);
        CHECK(to_a->side_b->sdp.encoding == "PCMA");
    }
    SECTION("nothing A offers can be encoded: no local answer") {
        auto amr = offer_formats("AMR-WB iLBC");
        CHECK_FALSE(sdp::plan_local_answer(amr, g711_trunk, transcodable));
    }
}
