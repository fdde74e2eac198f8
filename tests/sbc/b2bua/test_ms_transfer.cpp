// Transfers with Microsoft's proxies (Teams and ACS direct routing), as
// tests/e2e/test_ms_transfer.py shows them on the wire:
// - a REFER whose Refer-To names the proxy itself, without a user, with the
//   target in x-m and the tenant in x-t: the SBC calls back through the
//   referrer's own trunk (its peers, failing over), the Refer-To as the
//   Request-URI and the Referred-By unchanged;
// - an INVITE with Replaces naming a dialog whose other leg is on a trunk
//   with `replaces: terminate`: the SBC accepts it itself (RFC 3891 3) and
//   re-INVITEs that leg, which never sees a Replaces.
// The pbx plays Microsoft's proxy in the REFER tests; the carrier does in
// the Replaces tests.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <sofia-sip/sip_util.h>
#include <nlohmann/json.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using dataplane::side;
using sbc::test::b2bua_fixture;
using sbc::test::body_of;
using sbc::test::carrier_calls_pbx;
using sbc::test::expect_notify;
using sbc::test::request_uri;
using sbc::test::sdp_audio;
using sbc::test::sdp_line;
using sbc::test::sdp_origin;
using sbc::test::up_call;

namespace ms_transfer_test {

constexpr const char* referred_by = "<sip:alice@contoso.example;x-m=alice;x-t=tenant-1>";

// The pbx is Microsoft's proxy: transfers handled, a second proxy behind it.
sbc::test::topology proxy_topology() {
    sbc::test::topology t;
    t.pbx_trunk.push_back("refer: handle");
    t.pbx_backup_peer = true;
    return t;
}

sbc::test::outgoing_request& ms_refer(up_call& c, const std::string& refer_to) {
    return c.callee().send(
        SIP_METHOD_REFER, {}, nullptr,
        fmt::format("Refer-To: {}\r\nReferred-By: {}\r\n", refer_to, referred_by));
}

std::string header_value(const sbc::test::incoming_request& r, const char* name) {
    const auto text = r.text();
    const auto at = text.find(std::string("\r\n") + name + ": ");
    if (at == std::string::npos) {
        return {};
    }
    const auto start = at + 4 + std::string(name).size();
    return text.substr(start, text.find("\r\n", start) - start);
}

// RFC 3891 6.1 as the pbx writes it for its own dialog `d` with the SBC:
// to-tag is the SBC's (the recipient's) tag, from-tag the pbx's.
std::string replaces_for(const sbc::test::peer_dialog& d, bool early_only = false) {
    return fmt::format("Replaces: {};to-tag={};from-tag={}{}\r\n", d.call_id(), d.remote_tag(),
                       d.local_tag(), early_only ? ";early-only" : "");
}

sbc::test::topology replaces_topology() {
    sbc::test::topology t;
    t.carrier_trunk.push_back("replaces: terminate");
    return t;
}

TEST_CASE("Microsoft's REFER to itself with x-m and x-t: the SBC calls back through the trunk",
          "[b2bua][transfer][refer][microsoft]") {
    b2bua_fixture f(proxy_topology());
    auto c = carrier_calls_pbx(f);
    ms_refer(c, "<sip:127.0.0.1;x-m=+15551234567;x-t=tenant-1>").expect(202);

    // The first proxy cannot take it now; the next one can. Each INVITE
    // names the proxy as the Refer-To did and hands the Referred-By back.
    // (It leaves before the 202 and its NOTIFY: the INVITE is what decides
    // that the REFER is accepted.)
    auto& first = f.pbx.expect("INVITE");
    CHECK(first.sip()->sip_call_id->i_id != c.callee().call_id());
    CHECK(request_uri(first) == "sip:127.0.0.1;x-m=+15551234567;x-t=tenant-1");
    CHECK(header_value(first, "Referred-By") == referred_by);
    CHECK(first.sip()->sip_replaces == nullptr);
    expect_notify(f.pbx, 100, false);
    first.reply(503);
    auto& inv = f.pbx2.expect("INVITE");
    CHECK(request_uri(inv) == "sip:127.0.0.1;x-m=+15551234567;x-t=tenant-1");
    CHECK(header_value(inv, "Referred-By") == referred_by);
    CHECK(sdp_line(inv.body(), "c=") == sdp_line(c.invite->body(), "c="));
    inv.reply(200, sdp_audio(32000, "proxy2"));
    f.pbx2.expect("ACK");

    expect_notify(f.pbx, 200, true);
    auto& bye = f.pbx.expect("BYE");
    CHECK(&bye.dialog() == &c.callee());
    bye.reply(200);
    // The carrier hears of it from a re-INVITE only.
    auto& reinvite = f.carrier.expect("INVITE");
    CHECK(&reinvite.dialog() == c.caller);
    CHECK(sdp_origin(reinvite.body()).version == sdp_origin(body_of(c.ok)).version + 1);
    reinvite.reply(200, sdp_audio(30000, "carrier"));
    f.carrier.expect("ACK");
    CHECK(f.media.only_session().of(side::b).rtp->port() == 32000);

    auto& hangup = c.caller->bye();
    auto& relayed = f.pbx2.expect("BYE");
    CHECK(&relayed.dialog() == &inv.dialog());
    relayed.reply(200);
    hangup.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(f.only_cdr()["to_trunk"] == "pbx");
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
    f.pbx2.expect_nothing_more();
}

TEST_CASE("a REFER without a user naming no peer of the trunk is refused; the call stays",
          "[b2bua][transfer][refer][microsoft]") {
    b2bua_fixture f(proxy_topology());
    auto c = carrier_calls_pbx(f);
    const sip_t* refusal =
        ms_refer(c, "<sip:elsewhere.example;x-m=+15551234567;x-t=tenant-1>").expect(403);
    CHECK(refusal->sip_warning != nullptr);
    f.pbx.expect_nothing_more();
    f.pbx2.expect_nothing_more();
    f.carrier.expect_nothing_more();
    CHECK(f.sbc().calls().front().state == "established");
    sbc::test::carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("an INVITE with Replaces towards a replaces: terminate trunk is the SBC's to accept",
          "[b2bua][replaces][microsoft]") {
    b2bua_fixture f(replaces_topology());
    auto c = carrier_calls_pbx(f);
    // The pbx hands its side of the call to a new dialog of its own (an
    // attended transfer it carried out itself).
    auto& n = f.pbx.invite(f.pbx_side_uri("2000"), sdp_audio(31200, "pbx-new"), "1000",
                           replaces_for(c.callee()));

    // The carrier gets a re-INVITE in its own dialog: the SBC's same
    // address and port and o= id (the same version, RFC 3264 8, while
    // nothing changed for it); never a Replaces.
    auto& reinvite = f.carrier.expect("INVITE");
    CHECK(&reinvite.dialog() == c.caller);
    CHECK(reinvite.sip()->sip_replaces == nullptr);
    CHECK(sdp_line(reinvite.body(), "c=") == sdp_line(body_of(c.ok), "c="));
    CHECK(sdp_line(reinvite.body(), "m=") == sdp_line(body_of(c.ok), "m="));
    CHECK(sdp_origin(reinvite.body()).id == sdp_origin(body_of(c.ok)).id);
    reinvite.reply(200, sdp_audio(30000, "carrier"));

    // The new dialog is answered with the SBC's media of the pbx's side;
    // the replaced one ends (RFC 3891 3). The carrier's ACK follows the
    // new caller's.
    const sip_t* ok = n.expect(200);
    CHECK(sdp_line(body_of(ok), "m=") == sdp_line(c.invite->body(), "m="));
    n.ack();
    f.carrier.expect("ACK");
    auto& bye = f.pbx.expect("BYE");
    CHECK(&bye.dialog() == &c.callee());
    bye.reply(200);
    CHECK(f.media.only_session().of(side::b).rtp->port() == 31200);
    REQUIRE(f.sbc().call_count() == 1);

    // One call from now on, both ways: a re-INVITE from the new dialog
    // reaches the carrier, and the carrier's BYE reaches the new dialog.
    auto& hold = n.reinvite(sbc::test::with_direction(sdp_audio(31200, "pbx-new"), "sendonly"));
    auto& relayed = f.carrier.expect("INVITE");
    CHECK(&relayed.dialog() == c.caller);
    relayed.reply(200, sbc::test::with_direction(sdp_audio(30000, "carrier"), "recvonly"));
    hold.expect(200);
    n.ack_reinvite();
    f.carrier.expect("ACK");
    auto& hangup = c.caller->bye();
    auto& bye2 = f.pbx.expect("BYE");
    CHECK(&bye2.dialog() == &n);
    bye2.reply(200);
    hangup.expect(200);
    REQUIRE(f.calls_gone());
    const auto cdr = f.only_cdr();
    CHECK(cdr["from_trunk"] == "carrier");
    CHECK(cdr["to_trunk"] == "pbx");
    CHECK(cdr["disconnected_by"] == "caller");
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("a replacing INVITE the remaining leg refuses: the replaced dialog stays",
          "[b2bua][replaces][microsoft]") {
    b2bua_fixture f(replaces_topology());
    auto c = carrier_calls_pbx(f);
    auto& n = f.pbx.invite(f.pbx_side_uri("2000"), sdp_audio(31200, "pbx-new"), "1000",
                           replaces_for(c.callee()));
    f.carrier.expect("INVITE").reply(488);
    n.expect(488);
    f.pbx.expect_nothing_more();
    CHECK(f.sbc().calls().front().state == "established");
    // The call goes on with the dialog that was named.
    sbc::test::carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

TEST_CASE("RFC 3891 refusals stand with replaces: terminate", "[b2bua][replaces][microsoft]") {
    b2bua_fixture f(replaces_topology());
    auto c = carrier_calls_pbx(f);
    // No such dialog: 481.
    f.pbx
        .invite(f.pbx_side_uri("2000"), sdp_audio(31200, "pbx-new"), "1000",
                "Replaces: nosuchcall;to-tag=a;from-tag=b\r\n")
        .expect(481);
    // early-only naming a confirmed dialog: 486.
    f.pbx
        .invite(f.pbx_side_uri("2000"), sdp_audio(31200, "pbx-new"), "1000",
                replaces_for(c.callee(), true))
        .expect(486);
    f.carrier.expect_nothing_more();
    sbc::test::carrier_hangs_up(f, c);
    REQUIRE(f.calls_gone());
}

}  // namespace ms_transfer_test
