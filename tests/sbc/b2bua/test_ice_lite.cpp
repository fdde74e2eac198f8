// ICE-lite (RFC 8445 2.5) on a trunk with `ice: lite`, through the B2BUA:
// the SBC's credentials stay the same across the 183 and the 200 (RFC 8839
// 4.4), the data plane is told them with the peer's ufrag, and neither the
// peer's ICE nor the SBC's reaches a trunk without ICE.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sbc/b2bua/call_state_json.hpp"
#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

namespace ice_lite_tier_test {

using sbc::dataplane::side;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::sdp_audio;

// A full ICE agent's SDP: the fixture's with credentials and a candidate.
std::string with_ice(std::string sdp, const std::string& ufrag, const std::string& pwd) {
    sdp.insert(sdp.find("m=audio"), "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\n");
    sdp += "a=candidate:1 1 UDP 2130706431 127.0.0.1 30000 typ host\r\n";
    return sdp;
}

// The value of `attribute` ("a=ice-ufrag:") in `sdp`, "" when absent.
std::string value_of(const std::string& sdp, const std::string& attribute) {
    const auto at = sdp.find(attribute);
    if (at == std::string::npos) {
        return {};
    }
    const auto start = at + attribute.size();
    return sdp.substr(start, sdp.find("\r\n", start) - start);
}

sbc::test::topology carrier_lite() {
    sbc::test::topology t;
    t.carrier_trunk.push_back("ice: lite");
    return t;
}

const sbc::test::fake_session& only_session(const b2bua_fixture& f) {
    REQUIRE(f.media.sessions().size() == 1);
    return f.media.sessions().begin()->second;
}

TEST_CASE("ice: lite answers the carrier's ICE offer with the same credentials in 183 and 200",
          "[b2bua][ice]") {
    b2bua_fixture f(carrier_lite());
    auto& call =
        f.carrier.invite(f.carrier_side_uri("2000"),
                         with_ice(sdp_audio(30000, "carrier"), "CarR", "CarrierPasswordOf22Chr"));
    auto& inv = f.pbx.expect("INVITE");
    const auto to_pbx = body_of(inv.sip());
    CHECK(to_pbx.find("ice-") == std::string::npos);
    CHECK(to_pbx.find("candidate") == std::string::npos);

    inv.reply(183, sdp_audio(31000, "pbx"));
    const auto early = body_of(call.expect(183));
    inv.reply(200, sdp_audio(31000, "pbx"));
    const auto final = body_of(call.expect(200));
    call.ack();
    f.pbx.expect("ACK");

    CHECK(early.find("a=ice-lite\r\n") != std::string::npos);
    const auto ufrag = value_of(early, "a=ice-ufrag:");
    const auto pwd = value_of(early, "a=ice-pwd:");
    CHECK(ufrag.size() >= 4);
    CHECK(pwd.size() >= 22);
    CHECK(value_of(final, "a=ice-ufrag:") == ufrag);
    CHECK(value_of(final, "a=ice-pwd:") == pwd);
    CHECK(final.find("CarR") == std::string::npos);

    const auto& a = only_session(f).of(side::a);
    REQUIRE(a.ice);
    CHECK(a.ice->local_ufrag == ufrag);
    CHECK(a.ice->local_pwd == pwd);
    CHECK(a.ice->remote_ufrag == "CarR");
    CHECK(a.ice_set == 1);  // the 200 restated the 183: nothing re-programmed
    CHECK_FALSE(only_session(f).of(side::b).ice);

    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
}

TEST_CASE("ice: lite offers the carrier ICE and learns its ufrag from the answer", "[b2bua][ice]") {
    b2bua_fixture f(carrier_lite());
    auto& call = f.pbx.invite(f.pbx_side_uri("14155550100"), sdp_audio(31000, "pbx"));
    auto& inv = f.carrier.expect("INVITE");
    const auto offer = body_of(inv.sip());
    CHECK(offer.find("a=ice-lite\r\n") != std::string::npos);
    const auto ufrag = value_of(offer, "a=ice-ufrag:");
    CHECK_FALSE(ufrag.empty());
    CHECK(offer.find("a=candidate:1 1 UDP 2130706431 127.0.0.1 ") != std::string::npos);

    inv.reply(200, with_ice(sdp_audio(30000, "carrier"), "CarR", "CarrierPasswordOf22Chr"));
    const auto answer = body_of(call.expect(200));
    call.ack();
    f.carrier.expect("ACK");
    CHECK(answer.find("ice-") == std::string::npos);

    // The carrier is the callee here: leg b.
    const auto& b = only_session(f).of(side::b);
    REQUIRE(b.ice);
    CHECK(b.ice->local_ufrag == ufrag);
    CHECK(b.ice->remote_ufrag == "CarR");
    CHECK_FALSE(only_session(f).of(side::a).ice);

    auto& bye = call.bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
}

TEST_CASE("ice: the call state carries each leg's ICE, the passwords as secrets",
          "[b2bua][ice][state]") {
    b2bua_fixture f(carrier_lite());
    auto& call =
        f.carrier.invite(f.carrier_side_uri("2000"),
                         with_ice(sdp_audio(30000, "carrier"), "CarR", "CarrierPasswordOf22Chr"));
    auto& inv = f.pbx.expect("INVITE");
    inv.reply(200, sdp_audio(31000, "pbx"));
    const auto answer = body_of(call.expect(200));
    call.ack();
    f.pbx.expect("ACK");
    const auto pwd = value_of(answer, "a=ice-pwd:");

    const auto ids = f.sbc().call_ids();
    REQUIRE(ids.size() == 1);
    auto s = f.sbc().call_state_of(ids.front());
    REQUIRE(s);
    const auto& a = s->media.legs[0];
    REQUIRE(a.ice);
    CHECK(a.ice->in_use);
    CHECK(a.ice->local_ufrag == value_of(answer, "a=ice-ufrag:"));
    CHECK(a.ice->local_pwd.bytes() == std::vector<std::uint8_t>(pwd.begin(), pwd.end()));
    CHECK(a.ice->peer_ufrag == "CarR");
    CHECK_FALSE(s->media.legs[1].ice);

    const auto text = sbc::b2bua::to_json(*s);
    auto back = sbc::b2bua::call_state_from_json(text);
    REQUIRE(back.ok());
    CHECK(back.value() == *s);

    auto doc = sbc::b2bua::to_json_value(*s);
    unsigned secrets = 0;
    sbc::b2bua::for_each_secret(doc, [&](nlohmann::json& marked) {
        ++secrets;
        marked = {{"$sealed", "x"}};
    });
    // The SBC's pwd, the peer's, and the SDP sent to the carrier with the SBC's.
    CHECK(secrets == 3);
    CHECK(doc.dump().find(pwd) == std::string::npos);
    CHECK(doc.dump().find("CarrierPasswordOf22Chr") == std::string::npos);
    // sbcctl call-state: the ufrag, never the pwd.
    auto shown = f.sbc().call_document({{"id", s->id}}).dump();
    CHECK(shown.find(a.ice->local_ufrag) != std::string::npos);
    CHECK(shown.find(pwd) == std::string::npos);

    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
}

}  // namespace ice_lite_tier_test
