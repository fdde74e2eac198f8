// Retry-After from a failing peer (RFC 3261 21.5.4 and 20.33, RFC 3263 4.3):
// a peer that answers a call 503 with Retry-After N is passed by for N
// seconds by new calls, which its trunk's other peers take meanwhile, and
// `sbcctl trunks` shows until when. A 503 without it changes nothing for the
// next call, and a 603 is never retried elsewhere (test_call_scenarios.cpp).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using sbc::test::b2bua_fixture;
using sbc::test::carrier_rtp;
using sbc::test::pbx_rtp;
using sbc::test::sdp_audio;

namespace test_retry_after {

sbc::test::topology two_pbx_peers() {
    sbc::test::topology t;
    t.pbx_backup_peer = true;
    return t;
}

/// The pbx trunk's peer `i` as `sbcctl trunks --json` shows it.
nlohmann::json pbx_peer(b2bua_fixture& f, std::size_t i) {
    const auto reply = f.sbc().trunks();
    for (const auto& t : reply["trunks"]) {
        if (t["name"] == "pbx") {
            return t["peers"][i];
        }
    }
    FAIL("no trunk pbx");
    return {};
}

TEST_CASE("a peer that answered 503 with Retry-After is passed by until it runs out",
          "[b2bua][failover][retry-after]") {
    b2bua_fixture f(two_pbx_peers());
    auto& first_call =
        f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    f.pbx.expect("INVITE").reply(503, {}, "Retry-After: 120\r\n");
    auto& backup = f.pbx2.expect("INVITE");
    backup.reply(200, sdp_audio(pbx_rtp, "pbx2"));
    first_call.expect(200);
    first_call.ack();
    f.pbx2.expect("ACK");
    auto& bye = first_call.bye();
    f.pbx2.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());

    // sbcctl trunks: the first peer is up (pings say nothing against it)
    // and held off; the backup is not.
    const auto held = pbx_peer(f, 0);
    CHECK(held["state"] == "up");
    REQUIRE(held["held_off_until"].is_string());
    CHECK(pbx_peer(f, 1)["held_off_until"].is_null());

    // A new call goes straight to the backup: the first peer sees nothing.
    auto& second_call =
        f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(carrier_rtp + 2, "carrier"));
    auto& straight = f.pbx2.expect("INVITE");
    CHECK(std::string(straight.sip()->sip_request->rq_url->url_user) == "2001");
    straight.reply(486);
    second_call.expect(486);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();

    // Once the time is up the first peer takes calls again. No test waits
    // two minutes: a hold-off that ended an hour ago takes this one's place.
    auto* table = f.sbc().peers_of("pbx");
    REQUIRE(table != nullptr);
    table->hold_off(0, std::chrono::seconds(1),
                    sbc::trunking::clock::now() - std::chrono::hours(1));
    auto& third_call =
        f.carrier.invite(f.carrier_side_uri("2002"), sdp_audio(carrier_rtp + 4, "carrier"));
    f.pbx.expect("INVITE").reply(486);
    third_call.expect(486);
    REQUIRE(f.calls_gone());
    CHECK(pbx_peer(f, 0)["held_off_until"].is_null());
    f.pbx2.expect_nothing_more();
}

TEST_CASE("a 503 without Retry-After fails over but holds nothing off",
          "[b2bua][failover][retry-after]") {
    b2bua_fixture f(two_pbx_peers());
    auto& first_call =
        f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    f.pbx.expect("INVITE").reply(503);
    f.pbx2.expect("INVITE").reply(486);
    first_call.expect(486);
    REQUIRE(f.calls_gone());
    CHECK(pbx_peer(f, 0)["held_off_until"].is_null());
    // The next call tries the first peer again, as before.
    auto& second_call =
        f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(carrier_rtp + 2, "carrier"));
    f.pbx.expect("INVITE").reply(486);
    second_call.expect(486);
    REQUIRE(f.calls_gone());
    f.pbx2.expect_nothing_more();
}

TEST_CASE("with every peer held off a new call gets 503 and reaches none",
          "[b2bua][failover][retry-after]") {
    b2bua_fixture f(two_pbx_peers());
    auto& first_call =
        f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    f.pbx.expect("INVITE").reply(503, {}, "Retry-After: 60\r\n");
    f.pbx2.expect("INVITE").reply(503, {}, "Retry-After: 60 (maintenance);duration=30\r\n");
    // The last peer's own 503 is mapped as any relayed failure (RFC 3261 16.7).
    first_call.expect(500);
    REQUIRE(f.calls_gone());
    auto& second_call =
        f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(carrier_rtp + 2, "carrier"));
    second_call.expect(503);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
    f.pbx2.expect_nothing_more();
}

TEST_CASE("a 603 is never retried, whatever Retry-After it carries",
          "[b2bua][failover][retry-after]") {
    // RFC 3261 21.6.2: a 603 is the callee's own refusal, and Retry-After
    // on it says when the callee may take calls, not that another peer may.
    b2bua_fixture f(two_pbx_peers());
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    f.pbx.expect("INVITE").reply(603, {}, "Retry-After: 60\r\n");
    call.expect(603);
    REQUIRE(f.calls_gone());
    f.pbx2.expect_nothing_more();
    CHECK(pbx_peer(f, 0)["held_off_until"].is_null());
}

}  // namespace test_retry_after
