// A call over TCP on both legs (RFC 3261 18), as tests/e2e/test_sbc.py
// tcp_both_legs shows it with sipp: the carrier calls the SBC's TCP
// listener, the SBC reaches the pbx, a trunk peer with transport=tcp, over
// TCP, and each Contact the SBC gives says so, so that in-dialog requests
// come back over TCP too. Both peers listen on TCP only: a message sent
// over UDP would be lost and the test would fail.
#include <catch2/catch.hpp>

#include <sofia-sip/su_string.h>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::sdp_audio;

namespace {

bool contact_says_tcp(const sip_t* sip) {
    REQUIRE(sip->sip_contact != nullptr);
    const char* params = sip->sip_contact->m_url->url_params;
    return params != nullptr && su_strcasestr(params, "transport=tcp") != nullptr;
}

}  // namespace

TEST_CASE("a call over TCP on both legs", "[b2bua][call][tcp]") {
    sbc::test::topology t;
    t.tcp = true;
    b2bua_fixture f(t);
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& inv = f.pbx.expect("INVITE");
    CHECK(su_casematch(inv.sip()->sip_via->v_protocol, "SIP/2.0/TCP"));
    CHECK(contact_says_tcp(inv.sip()));
    inv.reply(180);
    call.expect(180);
    inv.reply(200, sdp_audio(31000, "pbx"));
    const sip_t* ok = call.expect(200);
    CHECK(contact_says_tcp(ok));
    call.ack();
    f.pbx.expect("ACK");

    // In-dialog requests both ways, each to the Contact the other side gave.
    auto& info = call.send(SIP_METHOD_INFO, "Signal=5\r\n", "application/dtmf-relay");
    f.pbx.expect("INFO").reply(200);
    info.expect(200);
    auto& bye = inv.dialog().bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}
