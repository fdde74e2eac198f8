// The SBC's own name on the wire (issue 21 item 2): towards a trunk with
// use_fqdn, the Contact of the SBC's requests and responses and the From
// and Contact of its OPTIONS carry the interface's fqdn (the cloud
// platforms find the tenant by it and refuse an IP address); towards the
// other trunk nothing changes.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using sbc::test::b2bua_fixture;
using sbc::test::carrier_rtp;
using sbc::test::pbx_rtp;
using sbc::test::sdp_audio;

namespace test_own_name {

constexpr const char* own_name = "sbc1.example.test";

sbc::test::topology named_pbx_side(std::vector<std::string> pbx_trunk) {
    sbc::test::topology t;
    t.pbx_fqdn = own_name;
    t.pbx_trunk = std::move(pbx_trunk);
    return t;
}

std::string contact_host(const sip_t* sip) {
    REQUIRE(sip->sip_contact != nullptr);
    return sip->sip_contact->m_url->url_host;
}

std::string via_host(const sip_t* sip) {
    REQUIRE(sip->sip_via != nullptr);
    return sip->sip_via->v_host;
}

TEST_CASE("towards a trunk with use_fqdn the SBC's Contact is its name", "[b2bua][fqdn]") {
    b2bua_fixture f(named_pbx_side({"use_fqdn: true"}));
    auto& caller = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto& invite = f.pbx.expect("INVITE");
    CHECK(contact_host(invite.sip()) == own_name);
    // Via's sent-by too: each request of the SBC's (RFC 3261 18.2.2 still
    // answers to the address the request came from).
    CHECK(via_host(invite.sip()) == own_name);
    invite.reply(200, sdp_audio(pbx_rtp, "pbx"));
    const sip_t* ok = caller.expect(200);
    // The carrier's trunk does not ask for it: its side keeps the address.
    CHECK(contact_host(ok) == "127.0.0.1");
    caller.ack();
    CHECK(via_host(f.pbx.expect("ACK").sip()) == own_name);
    // The SBC's BYE towards the pbx, from the carrier's.
    caller.bye().expect(200);
    auto& bye = f.pbx.expect("BYE");
    CHECK(via_host(bye.sip()) == own_name);
    bye.reply(200);
    REQUIRE(f.calls_gone());
}

TEST_CASE("without use_fqdn an interface's fqdn stays off the wire", "[b2bua][fqdn]") {
    b2bua_fixture f(named_pbx_side({}));
    auto& caller = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto& invite = f.pbx.expect("INVITE");
    CHECK(contact_host(invite.sip()) == "127.0.0.1");
    CHECK(via_host(invite.sip()) == "127.0.0.1");
    invite.reply(486);
    caller.expect(486);
    REQUIRE(f.calls_gone());
}

TEST_CASE("the SBC's OPTIONS to a trunk with use_fqdn name it in From and Contact",
          "[b2bua][fqdn][options]") {
    b2bua_fixture f(named_pbx_side({"use_fqdn: true", "keepalive: {interval: 1, timeout: 1}"}));
    auto& options = f.pbx.expect("OPTIONS");
    const sip_t* sip = options.sip();
    CHECK(std::string(sip->sip_from->a_url->url_host) == own_name);
    // As Microsoft's direct routing shows it: no user part.
    CHECK(sip->sip_from->a_url->url_user == nullptr);
    CHECK(contact_host(sip) == own_name);
    // The sent-by as well, with nta's branch and rport all the same.
    REQUIRE(sip->sip_via != nullptr);
    CHECK(std::string(sip->sip_via->v_host) == own_name);
    CHECK(sip->sip_via->v_branch != nullptr);
    CHECK(sip->sip_via->v_rport != nullptr);
    options.reply(200);
}

TEST_CASE("a trunk's sbc_header goes on the SBC's INVITEs and OPTIONS to it", "[b2bua][fqdn]") {
    b2bua_fixture f(named_pbx_side({"sbc_header: {name: X-MS-SBC, value: sbc/sbcd/test}",
                                    "keepalive: {interval: 1, timeout: 1}"}));
    auto& options = f.pbx.expect("OPTIONS");
    CHECK(options.text().find("\r\nX-MS-SBC: sbc/sbcd/test\r\n") != std::string::npos);
    options.reply(200);
    auto& caller = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    auto* invite = &f.pbx.expect("INVITE");
    while (invite->method() == "OPTIONS") {  // a ping may come first
        invite->reply(200);
        invite = &f.pbx.expect("INVITE");
    }
    CHECK(invite->text().find("\r\nX-MS-SBC: sbc/sbcd/test\r\n") != std::string::npos);
    invite->reply(486);
    caller.expect(486);
    // The carrier's trunk has none.
    REQUIRE(f.calls_gone());
}

}  // namespace test_own_name
