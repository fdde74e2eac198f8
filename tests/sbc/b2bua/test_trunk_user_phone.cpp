// user_phone (RFC 3261 19.1.1): towards a trunk that asks for it, the
// Request-URI, From, To and P-Asserted-Identity of the SBC's INVITE carry
// ";user=phone" where their user is an E.164 number, as Microsoft's direct
// routing shows them; other users, and other trunks, are left alone.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using sbc::test::b2bua_fixture;
using sbc::test::pbx_rtp;
using sbc::test::sdp_audio;

namespace test_trunk_user_phone {

sbc::test::topology carrier_wants_user_phone(bool on) {
    sbc::test::topology t;
    t.carrier_trunk = {"forward_headers: [P-Asserted-Identity]"};
    if (on) {
        t.carrier_trunk.emplace_back("user_phone: true");
    }
    return t;
}

std::string params(const url_t* url) {
    return url != nullptr && url->url_params != nullptr ? url->url_params : "";
}

const std::string pai = "P-Asserted-Identity: \"Desk\" <sip:+4930555200@pbx.example.test>\r\n";

TEST_CASE("E.164 users towards a user_phone trunk carry user=phone", "[b2bua][user_phone]") {
    b2bua_fixture f(carrier_wants_user_phone(true));
    auto& call =
        f.pbx.invite(f.pbx_side_uri("+14155550100"), sdp_audio(pbx_rtp, "pbx"), "+4930555200", pai);
    auto& invite = f.carrier.expect("INVITE");
    const sip_t* sip = invite.sip();
    CHECK(std::string(sip->sip_request->rq_url->url_user) == "+14155550100");
    CHECK(params(sip->sip_request->rq_url) == "user=phone");
    CHECK(params(sip->sip_to->a_url) == "user=phone");
    CHECK(params(sip->sip_from->a_url) == "user=phone");
    CHECK(invite.text().find("P-Asserted-Identity: \"Desk\" "
                             "<sip:+4930555200@pbx.example.test;user=phone>\r\n") !=
          std::string::npos);
    invite.reply(486);
    call.expect(486);
    REQUIRE(f.calls_gone());
}

TEST_CASE("users that are no E.164 number keep their URIs as they are", "[b2bua][user_phone]") {
    b2bua_fixture f(carrier_wants_user_phone(true));
    auto& call = f.pbx.invite(f.pbx_side_uri("030123456"), sdp_audio(pbx_rtp, "pbx"), "2001",
                              "P-Asserted-Identity: <sip:2001@pbx.example.test>\r\n");
    auto& invite = f.carrier.expect("INVITE");
    const sip_t* sip = invite.sip();
    CHECK(params(sip->sip_request->rq_url).empty());
    CHECK(params(sip->sip_to->a_url).empty());
    CHECK(params(sip->sip_from->a_url).empty());
    CHECK(invite.text().find("user=phone") == std::string::npos);
    invite.reply(486);
    call.expect(486);
    REQUIRE(f.calls_gone());
}

TEST_CASE("a trunk without user_phone gets E.164 users without it", "[b2bua][user_phone]") {
    b2bua_fixture f(carrier_wants_user_phone(false));
    auto& call =
        f.pbx.invite(f.pbx_side_uri("+14155550100"), sdp_audio(pbx_rtp, "pbx"), "+4930555200", pai);
    auto& invite = f.carrier.expect("INVITE");
    CHECK(invite.text().find("user=phone") == std::string::npos);
    invite.reply(486);
    call.expect(486);
    REQUIRE(f.calls_gone());
}

}  // namespace test_trunk_user_phone
