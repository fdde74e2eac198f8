// media_session's codec plan (sdp/codec_plan.hpp) as the data plane gets
// it: legs that share a codec are relayed, renumbered where the answerer
// chose other payload types (RFC 3264 6.1); legs that share none get a codec
// chain each way; trunks of different DTMF modes get chains for the digits.
#include <catch2/catch.hpp>

#include "tests/sbc/media_ctl/media_call.hpp"

using sbc::dataplane::side;
using sbc::test::carrier_peer;
using sbc::test::contains;
using sbc::test::formats_of;
using sbc::test::media_call;
using sbc::test::parsed;
using sbc::test::pbx_peer;
using sbc::test::why;

namespace {

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("legs that share a codec are relayed untouched", "[media_ctl][codecs]") {
    media_call call({.pbx = "codecs: [PCMA, PCMU, telephone-event]"});
    auto offer = carrier_peer();
    offer.rtpmaps = {"0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"};
    offer.attributes = {"fmtp:101 0-15", "ptime:30"};
    auto to_pbx = call.offer(side::a, offer);
    REQUIRE(to_pbx);
    // The shared formats, the caller's numbers, in the receiving trunk's order;
    // the caller's ptime passes (the packets are the caller's).
    CHECK(formats_of(*to_pbx) == strings{"8 PCMA/8000", "0 PCMU/8000", "101 telephone-event/8000"});
    CHECK(parsed(*to_pbx).ptime() == 30);

    auto answer = pbx_peer();
    answer.rtpmaps = {"8 PCMA/8000", "101 telephone-event/8000"};
    auto to_carrier = call.answer(side::b, answer);
    REQUIRE(to_carrier);
    CHECK(formats_of(*to_carrier) == strings{"8 PCMA/8000", "101 telephone-event/8000"});

    CHECK_FALSE(call.media.has_chains());
    CHECK_FALSE(call.media.transcoded());
    CHECK(call.journal("set_chain").empty());
    // The same numbers on both legs: nothing to rewrite.
    CHECK(call.journal("set_payload_types").empty());
    CHECK(call.media.codec(side::a) == "PCMA/8000");
    CHECK(call.media.codec(side::b) == "PCMA/8000");
    CHECK(call.media.ptime(side::a) == 0);
    CHECK(call.media.ptime(side::b) == 0);
}

TEST_CASE("a relayed codec the answerer renumbered gets a payload type map each way",
          "[media_ctl][codecs]") {
    media_call call;
    auto offer = carrier_peer();  // PCMU 0, telephone-event 101
    REQUIRE(call.offer(side::a, offer));
    auto answer = pbx_peer();
    answer.rtpmaps = {"0 PCMU/8000", "96 telephone-event/8000"};
    auto to_carrier = call.answer(side::b, answer);
    REQUIRE(to_carrier);
    // RFC 3264 6.1: the caller is answered with its own numbers...
    CHECK(formats_of(*to_carrier) == strings{"0 PCMU/8000", "101 telephone-event/8000"});
    // ... and each peer receives the numbers of its own SDP.
    const auto& to_b = call.programmed().of(side::b).payload_types;
    REQUIRE(to_b.count == 1);
    CHECK(to_b.entries[0].from == 101);
    CHECK(to_b.entries[0].to == 96);
    const auto& to_a = call.programmed().of(side::a).payload_types;
    REQUIRE(to_a.count == 1);
    CHECK(to_a.entries[0].from == 96);
    CHECK(to_a.entries[0].to == 101);
    CHECK(call.journal("set_payload_types").size() == 2);
    CHECK_FALSE(call.media.has_chains());

    // The same answer again (183, then 200) changes nothing in the engine.
    REQUIRE(call.answer(side::b, answer));
    CHECK(call.journal("set_payload_types").size() == 2);

    // A re-offer answered with the offer's numbers stops the rewriting.
    REQUIRE(call.offer(side::a, offer));
    REQUIRE(call.answer(side::b, pbx_peer()));
    CHECK(call.journal("set_payload_types").size() == 4);
    CHECK(call.programmed().of(side::a).payload_types.empty());
    CHECK(call.programmed().of(side::b).payload_types.empty());
}

TEST_CASE("PCMU against a PCMA-only trunk is transcoded both ways", "[media_ctl][codecs]") {
    media_call call({.pbx = "codecs: [PCMA]"});
    auto to_pbx = call.offer(side::a, carrier_peer());
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    // No codec shared: the PBX is offered its own trunk's, packetized by the SBC.
    CHECK(formats_of(*to_pbx) == strings{"8 PCMA/8000"});
    CHECK(parsed(*to_pbx).ptime() == 20);
    CHECK(call.journal("set_chain").empty());  // until the answer

    auto answer = pbx_peer();
    answer.rtpmaps = {"8 PCMA/8000"};
    answer.attributes = {"ptime:30"};
    auto to_carrier = call.answer(side::b, answer);
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    // The caller gets a codec of its own offer, with its numbers.
    CHECK(formats_of(*to_carrier) == strings{"0 PCMU/8000", "101 telephone-event/8000"});
    CHECK(parsed(*to_carrier).ptime() == 20);

    CHECK(call.media.transcoded());
    CHECK(call.media.has_chains());
    CHECK(call.programmed().of(side::a).chain);
    CHECK(call.programmed().of(side::b).chain);
    CHECK(call.media.codec(side::a) == "PCMU/8000");
    CHECK(call.media.ptime(side::a) == 20);
    CHECK(call.media.codec(side::b) == "PCMA/8000");
    CHECK(call.media.ptime(side::b) == 30);
    // Chains send with each side's numbers already: no payload type map.
    CHECK(call.journal("set_payload_types").empty());

    // The same answer again leaves the chains standing.
    REQUIRE(call.answer(side::b, answer));
    CHECK(call.journal("set_chain").size() == 2);
}

TEST_CASE("opus against a G.729 trunk is transcoded, events at each side's clock",
          "[media_ctl][codecs]") {
    media_call call(
        {.carrier = "codecs: [opus, telephone-event]", .pbx = "codecs: [G729, telephone-event]"});
    auto offer = carrier_peer();
    offer.rtpmaps = {"111 opus/48000/2", "101 telephone-event/48000"};
    offer.attributes = {"fmtp:111 useinbandfec=1"};
    auto to_pbx = call.offer(side::a, offer);
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    CHECK(formats_of(*to_pbx) == strings{"18 G729/8000", "101 telephone-event/8000"});
    CHECK(contains(*to_pbx, "a=fmtp:18 annexb=no\r\n"));

    auto answer = pbx_peer();
    answer.rtpmaps = {"18 G729/8000", "101 telephone-event/8000"};
    answer.attributes = {"fmtp:18 annexb=no"};
    auto to_carrier = call.answer(side::b, answer);
    INFO(why(to_carrier));
    REQUIRE(to_carrier);
    CHECK(formats_of(*to_carrier) == strings{"111 opus/48000", "101 telephone-event/48000"});

    CHECK(call.media.transcoded());
    CHECK(call.programmed().of(side::a).chain);
    CHECK(call.programmed().of(side::b).chain);
    CHECK(call.media.codec(side::a) == "opus/48000");
    CHECK(call.media.codec(side::b) == "G729/8000");
    CHECK(call.media.ptime(side::a) == 20);
    CHECK(call.media.ptime(side::b) == 20);
}

TEST_CASE("a re-offer with a shared codec turns a transcoded call back into a relay",
          "[media_ctl][codecs]") {
    media_call call({.pbx = "codecs: [PCMA, telephone-event]"});
    auto pcma = pbx_peer();
    pcma.rtpmaps = {"8 PCMA/8000", "101 telephone-event/8000"};
    call.connect(carrier_peer(), pcma);
    REQUIRE(call.media.transcoded());

    auto both = carrier_peer();
    both.rtpmaps = {"0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"};
    auto to_pbx = call.offer(side::a, both);
    REQUIRE(to_pbx);
    CHECK(formats_of(*to_pbx) == strings{"8 PCMA/8000", "101 telephone-event/8000"});
    CHECK(parsed(*to_pbx).ptime() == 0);
    REQUIRE(call.answer(side::b, pcma));

    CHECK_FALSE(call.media.transcoded());
    CHECK_FALSE(call.media.has_chains());
    CHECK_FALSE(call.programmed().of(side::a).chain);
    CHECK_FALSE(call.programmed().of(side::b).chain);
    CHECK(call.programmed().of(side::a).chains_set == 2);
    CHECK(call.programmed().of(side::b).chains_set == 2);
    CHECK(call.media.codec(side::a) == "PCMA/8000");
    CHECK(call.media.codec(side::b) == "PCMA/8000");
}

TEST_CASE("trunks of different DTMF modes get chains for the digits, not the codec",
          "[media_ctl][codecs][dtmf]") {
    media_call call({.carrier = "dtmf: info"});
    auto offer = carrier_peer();
    offer.rtpmaps = {"0 PCMU/8000"};  // an INFO trunk's peer: no events
    auto to_pbx = call.offer(side::a, offer);
    REQUIRE(to_pbx);
    // RFC 4733 7.1.1: the SBC makes the events for the PBX, so it offers them.
    CHECK(formats_of(*to_pbx) == strings{"0 PCMU/8000", "101 telephone-event/8000"});
    auto to_carrier = call.answer(side::b, pbx_peer());
    REQUIRE(to_carrier);
    CHECK(formats_of(*to_carrier) == strings{"0 PCMU/8000"});

    CHECK(call.media.has_chains());
    CHECK_FALSE(call.media.transcoded());
    CHECK(call.programmed().of(side::a).chain);
    CHECK(call.programmed().of(side::b).chain);
    CHECK(call.media.codec(side::a) == "PCMU/8000");
    CHECK(call.media.codec(side::b) == "PCMU/8000");

    // A digit the carrier sent in an INFO goes into the chain towards the PBX.
    call.media.send_dtmf(side::a, '5', 160);
    CHECK(call.programmed().of(side::a).dtmf_sent == std::vector<char>{'5'});
}

TEST_CASE("an offer with no codec to relay or transcode is an error result",
          "[media_ctl][codecs]") {
    for (const auto& rtpmaps :
         {strings{"9 G722/8000"}, strings{"101 telephone-event/8000"}, strings{"97 iLBC/8000"}}) {
        DYNAMIC_SECTION(rtpmaps.front()) {
            media_call call;
            auto offer = carrier_peer();
            offer.rtpmaps = rtpmaps;
            auto to_pbx = call.offer(side::a, offer);
            CHECK_FALSE(to_pbx);
            CHECK(call.to_b.last_sent.empty());
            CHECK(call.journal("set_chain").empty());
        }
    }
}
