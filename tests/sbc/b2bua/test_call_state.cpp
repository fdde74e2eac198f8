// The call as data (sbc/b2bua/call_state.hpp, call_state_json.hpp): calls
// in each state read out of a real b2bua, written as the JSON document and
// read back equal, with what the document says checked against what the
// peers saw on the wire.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <functional>
#include <string>
#include <vector>

#include "sbc/b2bua/call_state_json.hpp"
#include "sbc/sdp/sdes.hpp"
#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::b2bua::call_state;
using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;
using sbc::test::carrier_hangs_up;
using sbc::test::sdp_audio;
using sbc::test::topology;
using sbc::test::with_direction;

namespace {

/// The state of the fixture's one call.
call_state only_call(b2bua_fixture& f) {
    const auto ids = f.sbc().call_ids();
    REQUIRE(ids.size() == 1);
    auto s = f.sbc().call_state_of(ids.front());
    REQUIRE(s);
    return std::move(*s);
}

/// Writes `s` out, reads it back, and checks that nothing changed on the way.
call_state round_trip(const call_state& s) {
    const auto text = b2bua::to_json(s);
    INFO(text);
    auto back = b2bua::call_state_from_json(text);
    REQUIRE(back.ok());
    CHECK(back.value() == s);
    // Twice gives the same text: nothing depends on when it is written.
    CHECK(b2bua::to_json(back.value()) == text);
    return std::move(back.value());
}

/// The pbx's key in the SRTP answer: master key || salt, 30 bytes.
std::vector<std::uint8_t> pbx_key() {
    std::vector<std::uint8_t> k(30);
    for (std::size_t i = 0; i < k.size(); ++i) {
        k[i] = static_cast<std::uint8_t>(0xa0 + i);
    }
    return k;
}

/// An RTP/SAVP answer to `offer`: its first a=crypto line's tag and suite
/// with the pbx's own key (RFC 4568 7.1.3).
std::string srtp_answer(const std::string& offer, std::uint16_t port) {
    const auto at = offer.find("a=crypto:");
    REQUIRE(at != std::string::npos);
    const auto line = offer.substr(at + 9, offer.find("\r\n", at) - at - 9);
    const auto tag = line.substr(0, line.find(' '));
    const auto suite_start = line.find(' ') + 1;
    const auto suite = line.substr(suite_start, line.find(' ', suite_start) - suite_start);
    return fmt::format(
        "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=pbx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=audio {} RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"
        "a=crypto:{} {} inline:{}\r\na=sendrecv\r\n",
        port, tag, suite, sdp::base64_encode(pbx_key()));
}

/// A call carrier -> pbx that the pbx answers with `answer(its offer)`.
test::up_call carrier_calls_pbx_answering(
    b2bua_fixture& f, const std::function<std::string(const std::string&)>& answer) {
    test::up_call c;
    c.caller = &f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    c.invite = &f.pbx.expect("INVITE");
    c.invite->reply(200, answer(c.invite->body()));
    c.ok = c.caller->expect(200);
    c.caller->ack();
    f.pbx.expect("ACK");
    return c;
}

void check_dialogs_match_the_wire(const call_state& s, test::up_call& c, b2bua_fixture& f) {
    const auto& a = s.legs[0];
    const auto& b = s.legs[1];
    // Leg a: the caller's dialog, as the carrier sees it from its side.
    CHECK(a.call_id == c.caller->call_id());
    CHECK(a.remote_tag == c.caller->local_tag());
    CHECK(a.local_tag == c.caller->remote_tag());
    CHECK(a.interface == "carrier");
    CHECK(a.trunk == "carrier");
    CHECK(a.confirmed);
    CHECK(a.remote_cseq > 0);                                  // the carrier's INVITE
    CHECK(a.remote_target == "sip:" + f.carrier.host_port());  // its Contact
    // Leg b: the dialog the SBC made towards the pbx (RFC 5853: new Call-ID).
    CHECK(b.call_id == c.callee().call_id());
    CHECK(b.call_id != a.call_id);
    CHECK(b.local_tag == c.callee().remote_tag());
    CHECK(b.remote_tag == c.callee().local_tag());
    CHECK(b.interface == "pbx");
    CHECK(b.trunk == "pbx");
    CHECK(b.local_cseq > 0);  // the SBC's INVITE
    CHECK(b.confirmed);
    CHECK(b.remote_target == "sip:" + f.pbx.host_port());
    CHECK_FALSE(b.sdp_last_sent.empty());
}

}  // namespace

TEST_CASE("call state: an early call, ringing", "[b2bua][state]") {
    b2bua_fixture f;
    auto& caller = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(180);
    caller.expect(180);

    const auto s = only_call(f);
    CHECK(s.state == "early");
    CHECK(s.under_way == b2bua::operation::initial_invite);
    CHECK(s.legs[0].call_id == caller.call_id());
    CHECK_FALSE(s.legs[0].confirmed);
    CHECK(s.legs[1].remote_tag == inv.dialog().local_tag());  // the early dialog
    CHECK(s.media.open);
    REQUIRE(s.media.legs[0].peer_rtp);
    CHECK(s.media.legs[0].peer_rtp->port == 30000);
    REQUIRE(s.media.pending);  // the carrier's offer, waiting for its answer
    CHECK(s.media.pending->offerer == dataplane::side::a);
    CHECK(s.slots.size() >= 1);
    CHECK(s.route == "carrier-to-pbx");
    CHECK(s.cdr.call_id == caller.call_id());
    round_trip(s);

    inv.reply(486);
    caller.expect(486);
    REQUIRE(f.calls_gone());
}

TEST_CASE("call state: a confirmed call", "[b2bua][state]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const auto s = only_call(f);
    CHECK(s.state == "established");
    CHECK(s.under_way == b2bua::operation::none);
    check_dialogs_match_the_wire(s, c, f);
    const auto& session = f.media.only_session();
    CHECK(s.media.legs[0].rtp_port == session.ports.rtp[0]);
    CHECK(s.media.legs[1].rtp_port == session.ports.rtp[1]);
    REQUIRE(s.media.legs[1].peer_rtp);
    CHECK(s.media.legs[1].peer_rtp->port == 31000);
    CHECK(s.media.legs[0].codec == "PCMU/8000");
    CHECK_FALSE(s.media.transcoding);
    CHECK(s.media.pending);  // the last offer, for an answer repeated (183, then 200)
    CHECK(s.media.legs[0].srtp == std::nullopt);
    CHECK(s.cdr.answer.has_value());
    round_trip(s);

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("call state: a call on hold", "[b2bua][state]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const auto before = only_call(f);
    auto& hold = c.caller->reinvite(with_direction(sdp_audio(30000, "carrier"), "sendonly"));
    f.pbx.expect("INVITE").reply(200, with_direction(sdp_audio(31000, "pbx"), "recvonly"));
    hold.expect(200);
    c.caller->ack_reinvite();
    f.pbx.expect("ACK");

    const auto s = only_call(f);
    CHECK(s.media.legs[0].peer_direction == sdp::direction::sendonly);
    CHECK(s.media.legs[1].peer_direction == sdp::direction::recvonly);
    CHECK(s.legs[1].sdp_version == before.legs[1].sdp_version + 1);  // RFC 3264 8
    CHECK(s.legs[1].sdp_last_sent.find("a=sendonly") != std::string::npos);
    CHECK(s.legs[0].remote_cseq > before.legs[0].remote_cseq);
    CHECK(s.legs[1].local_cseq > before.legs[1].local_cseq);
    round_trip(s);

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("call state: a transcoded call", "[b2bua][state]") {
    topology t;
    t.pbx_trunk = {"codecs: [PCMA]"};
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx_answering(f, [](const std::string& offer) {
        CHECK(offer.find("PCMA/8000") != std::string::npos);
        return std::string(
            "v=0\r\no=pbx 1 1 IN IP4 127.0.0.1\r\ns=pbx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio 31000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n");
    });

    const auto s = only_call(f);
    REQUIRE(s.media.transcoding);
    CHECK(s.media.transcoding->codecs);
    CHECK(s.media.transcoding->offerer == dataplane::side::a);
    CHECK(s.media.transcoding->offerer_side.format.encoding == "PCMU");
    CHECK(s.media.transcoding->answerer_side.format.encoding == "PCMA");
    CHECK(s.media.legs[0].codec == "PCMU/8000");
    CHECK(s.media.legs[1].codec == "PCMA/8000");
    round_trip(s);

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("call state: an SRTP leg, its keys marked as secrets", "[b2bua][state][srtp]") {
    topology t;
    t.pbx_trunk = {"srtp: required"};
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx_answering(f, [](const std::string& offer) {
        CHECK(offer.find("RTP/SAVP") != std::string::npos);
        return srtp_answer(offer, 31000);
    });
    const auto& inv = *c.invite;

    const auto s = only_call(f);
    CHECK_FALSE(s.media.legs[0].srtp);
    REQUIRE(s.media.legs[1].srtp);
    const auto& keys = *s.media.legs[1].srtp;
    CHECK(keys.suite == config::srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(keys.peer.bytes() == pbx_key());
    CHECK(keys.local.bytes().size() == 30);
    // The SBC's own key is the one its offer carried.
    CHECK(inv.body().find(sdp::base64_encode(keys.local.bytes())) != std::string::npos);
    const auto back = round_trip(s);

    SECTION("every copy of a key is inside a marked secret") {
        auto doc = b2bua::to_json_value(s);
        unsigned secrets = 0;
        b2bua::for_each_secret(doc, [&](nlohmann::json& marked) {
            ++secrets;
            marked = {{"$sealed", "x"}};
        });
        // The two keys, and the SDP sent to the pbx that carries the SBC's.
        CHECK(secrets == 3);
        const auto sealed = doc.dump();
        CHECK(sealed.find(sdp::base64_encode(pbx_key())) == std::string::npos);
        CHECK(sealed.find(sdp::base64_encode(keys.local.bytes())) == std::string::npos);
        CHECK(sealed.find("a=crypto") == std::string::npos);
    }

    SECTION("a rollover the data plane reports is written, and read back") {
        // What a store is told: the document is written again on a rollover.
        struct counting_observer final : b2bua::call_observer {
            void call_changed(const b2bua::call&) override { ++changed; }
            void call_gone(std::uint64_t) override {}
            unsigned changed = 0;
        } seen;
        f.sbc().set_observer(&seen);
        REQUIRE(f.loop.run_until([&] { return seen.changed == 1; }));
        const auto id = f.media.sessions().begin()->first;
        f.media.inject_srtp_rollover(id, dataplane::side::b, false, 0x5eed0001, 1);
        REQUIRE(f.loop.run_until([&] { return seen.changed == 2; }));
        f.media.inject_srtp_rollover(id, dataplane::side::b, true, 0x0badcafe, 2);
        REQUIRE(f.loop.run_until([&] { return seen.changed == 3; }));
        f.media.inject_srtcp_sent(id, dataplane::side::b, 0x0badcafe, 256);
        REQUIRE(f.loop.run_until([&] { return seen.changed == 4; }));
        // Leg a is plain RTP: nothing to carry, nothing written.
        f.media.inject_srtp_rollover(id, dataplane::side::a, true, 0x1234, 1);
        CHECK_FALSE(
            f.loop.run_until([&] { return seen.changed > 4; }, std::chrono::milliseconds(300)));
        f.sbc().set_observer(nullptr);

        const auto rolled = only_call(f);
        const auto& srtp = *rolled.media.legs[1].srtp;
        CHECK(srtp.peer_stream == media_ctl::srtp_position_state{0x5eed0001, 1});
        CHECK(srtp.local_stream == media_ctl::srtp_position_state{0x0badcafe, 2});
        CHECK(srtp.local_srtcp == media_ctl::srtcp_position_state{0x0badcafe, 256});
        CHECK_FALSE(rolled.media.legs[0].srtp);
        round_trip(rolled);
        auto doc = b2bua::to_json_value(rolled);
        CHECK(doc["media"]["legs"][1]["srtp"]["local_stream"] ==
              nlohmann::json{{"ssrc", 0x0badcafe}, {"roc", 2}});
        // A document written before the counters came reads as ROC 0.
        doc["media"]["legs"][1]["srtp"].erase("peer_stream");
        doc["media"]["legs"][1]["srtp"].erase("local_stream");
        doc["media"]["legs"][1]["srtp"].erase("local_srtcp");
        auto older = b2bua::call_state_from_json(doc.dump());
        REQUIRE(older.ok());
        CHECK_FALSE(older.value().media.legs[1].srtp->peer_stream);
        CHECK_FALSE(older.value().media.legs[1].srtp->local_stream);
        CHECK_FALSE(older.value().media.legs[1].srtp->local_srtcp);
    }

    SECTION("the control API shows the document with the secrets redacted") {
        auto reply = f.sbc().call_document({{"id", s.id}});
        REQUIRE(reply.contains("call"));
        const auto& leg_b = reply["call"]["media"]["legs"][1];
        CHECK(leg_b["srtp"]["peer"] == nlohmann::json{{"$secret", "redacted"}});
        CHECK(leg_b["srtp"]["local"] == nlohmann::json{{"$secret", "redacted"}});
        CHECK(reply.dump().find(sdp::base64_encode(pbx_key())) == std::string::npos);
        CHECK(f.sbc().call_document({{"id", s.id + 1}})["error"] ==
              fmt::format("no call {}", s.id + 1));
        CHECK(f.sbc().call_document({{"id", "1"}}).contains("error"));
        CHECK(f.sbc().call_document(nlohmann::json::object()).contains("error"));
    }

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("call state: a document that does not fit is refused, naming the key", "[b2bua][state]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    const auto doc = b2bua::to_json_value(only_call(f));
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());

    auto refused = [](const nlohmann::json& j) {
        auto r = b2bua::call_state_from_json(j.dump());
        REQUIRE_FALSE(r.ok());
        return r.error_message();
    };
    CHECK(b2bua::call_state_from_json(std::string("{\"version\": ")).error_message() ==
          "not a JSON document");
    CHECK(refused(nlohmann::json::array()) == "document: expected an object");
    auto j = doc;
    j["version"] = 2;
    CHECK(refused(j).find("version 2") != std::string::npos);
    j = doc;
    j["legs"][1].erase("call_id");
    CHECK(refused(j) == "legs[1].call_id: missing");
    j = doc;
    j["media"]["legs"][0]["rtp_port"] = "40000";
    CHECK(refused(j).rfind("media.legs[0].rtp_port: expected an integer", 0) == 0);
    j = doc;
    j["media"]["legs"][0]["rtp_port"] = 70000;
    CHECK(refused(j).rfind("media.legs[0].rtp_port: expected an integer", 0) == 0);
    j = doc;
    j["legs"][0]["transport"] = "sctp";
    CHECK(refused(j).rfind("legs[0].transport:", 0) == 0);
    j = doc;
    j["legs"].erase(1);
    CHECK(refused(j) == "legs: expected two dialogs");
    j = doc;
    j["media"]["legs"][1]["srtp"] = {{"suite", "AES_CM_128_HMAC_SHA1_80"},
                                     {"peer", {{"$secret", "not base64!"}}},
                                     {"local", {{"$secret", ""}}}};
    CHECK(refused(j) == "media.legs[1].srtp.peer: expected a secret in base64");
    j = doc;
    j["media"]["legs"][1]["srtp"] = {{"suite", "AES_CM_128_HMAC_SHA1_80"},
                                     {"peer", {{"$sealed", "x"}}},
                                     {"local", {{"$secret", ""}}}};
    CHECK(refused(j).rfind("media.legs[1].srtp.peer: expected a secret", 0) == 0);
}

TEST_CASE("call state: a call in the middle of a blind transfer", "[b2bua][state][transfer]") {
    topology t;
    t.pbx_trunk.push_back("refer: handle");
    t.target_trunk = true;
    b2bua_fixture f(t);
    auto c = carrier_calls_pbx(f);
    const auto before = only_call(f);
    test::refer(c.callee(), "<sip:3000@sbc.example>").expect(202);
    test::expect_notify(f.pbx, 100, false);
    auto& inv = f.target.expect("INVITE");
    inv.reply(180);

    const auto s = only_call(f);
    CHECK(s.state == "established");
    CHECK(s.under_way == b2bua::operation::transfer);
    REQUIRE(s.transfer);
    CHECK(s.transfer->referrer == dataplane::side::b);
    CHECK_FALSE(s.transfer->attended);
    const auto& target = s.transfer->target;
    CHECK(target.call_id == inv.sip()->sip_call_id->i_id);
    CHECK(target.trunk == "target");
    CHECK(target.remote_uri.find("3000@") != std::string::npos);
    CHECK_FALSE(target.confirmed);
    CHECK(target.sdp_last_sent == inv.body());
    CHECK(s.transfer->media_port != 0);
    // The referrer's dialog is still the call's leg b until the target answers.
    CHECK(s.legs[1].call_id == before.legs[1].call_id);
    CHECK(s.legs[1].remote_cseq > before.legs[1].remote_cseq);  // the REFER
    round_trip(s);

    inv.reply(486);
    test::expect_notify(f.pbx, 486, true);
    const auto after = only_call(f);
    CHECK_FALSE(after.transfer);
    CHECK(after.under_way == b2bua::operation::none);
    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("call state: a leg's RTCP multiplexing, and a document from before it",
          "[b2bua][state]") {
    b2bua_fixture f;
    auto c = carrier_calls_pbx(f);
    auto s = only_call(f);
    CHECK_FALSE(s.media.legs[0].rtcp_mux);
    s.media.legs[0].rtcp_mux = true;
    const auto back = round_trip(s);
    CHECK(back.media.legs[0].rtcp_mux);
    CHECK_FALSE(back.media.legs[1].rtcp_mux);

    // Written since restores came: a document without the key was not muxed.
    auto j = b2bua::to_json_value(s);
    CHECK(j["media"]["legs"][0]["rtcp_mux"] == true);
    j["media"]["legs"][0].erase("rtcp_mux");
    auto old = b2bua::call_state_from_json(j.dump());
    REQUIRE(old.ok());
    CHECK_FALSE(old.value().media.legs[0].rtcp_mux);

    carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}
