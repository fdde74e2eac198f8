// What sbcd tells systemd as its STATUS= (sbc/service/b2bua_status.hpp),
// read from a real b2bua: its calls, how many of its trunks' peers are up,
// and a drain under way. The notices themselves: tests/sbc/service.
#include <catch2/catch.hpp>

#include "sbc/service/b2bua_status.hpp"
#include "sbc/trunking/peer_table.hpp"
#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using sbc::test::b2bua_fixture;
using sbc::test::carrier_calls_pbx;

TEST_CASE("the service status counts the calls and the peers up", "[b2bua][service]") {
    sbc::test::topology t;
    t.pbx_backup_peer = true;  // carrier: 1 peer, pbx: 2
    b2bua_fixture f(t);
    auto s = sbc::service::summarize(f.sbc(), false);
    CHECK(s.calls == 0);
    CHECK(s.peers_up == 3);
    CHECK(s.peers_total == 3);
    CHECK_FALSE(s.cluster_active.has_value());
    CHECK_FALSE(s.draining);

    auto c = carrier_calls_pbx(f);
    // pbx2 stops answering its OPTIONS until the table marks it down.
    auto* table = f.sbc().peers_of("pbx");
    REQUIRE(table != nullptr);
    std::size_t backup = table->size();
    for (std::size_t i = 0; i < table->size(); ++i) {
        if (table->target_at(i).peer == 1) {
            backup = i;
        }
    }
    REQUIRE(backup < table->size());
    for (int n = 0; n < 10 && table->health(backup).up; ++n) {
        table->record_failure(backup, "timeout", sbc::trunking::clock::now());
    }
    s = sbc::service::summarize(f.sbc(), true);
    CHECK(s.calls == 1);
    CHECK(s.peers_up == 2);
    CHECK(s.peers_total == 3);
    CHECK(s.cluster_active == true);
    CHECK(sbc::service::status_line(s) == "1 call, 2 of 3 peers up, cluster active");

    REQUIRE(f.sbc().drain({{"cmd", "drain"}, {"deadline", 120}}).value("ok", false));
    s = sbc::service::summarize(f.sbc(), false);
    CHECK(s.draining);
    REQUIRE(s.drain_seconds_left);
    CHECK(*s.drain_seconds_left <= 120);

    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
}
