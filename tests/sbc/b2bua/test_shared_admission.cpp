// Admission against limits shared with other nodes (admission::shared_admission,
// the cluster's Redis in sbcd; a scripted store here): a new INVITE for a
// limited trunk waits for the store's answer before anything goes on, the
// store's yes and no are kept, no answer in time or no store at all leave the
// decision to the node's own limiter, a CANCEL while it waits is answered 487
// and gives the slot back, and every call counted ends with a release.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using sbc::test::b2bua_fixture;
using sbc::test::carrier_rtp;
using sbc::test::pbx_rtp;
using sbc::test::sdp_audio;

namespace test_shared_admission {

namespace adm = sbc::admission;

/// The store as the test scripts it: asks are kept until the test answers.
class scripted_store final : public adm::shared_admission {
public:
    struct asked {
        std::string trunk;
        bool inbound = true;
        adm::limits limits;
        answer_fn done;
    };
    std::vector<asked> asks;
    bool reachable = true;
    std::vector<std::string> counted;
    std::vector<std::string> released;

    bool ask(const std::string& trunk, bool inbound, const adm::limits& l,
             answer_fn done) override {
        if (!reachable) {
            return false;
        }
        asks.push_back({trunk, inbound, l, std::move(done)});
        return true;
    }
    void count(const std::string& trunk, bool inbound) override {
        counted.push_back(trunk + (inbound ? ":in" : ":out"));
    }
    void release(const std::string& trunk, bool inbound) override {
        released.push_back(trunk + (inbound ? ":in" : ":out"));
    }

    void answer(std::size_t i, adm::verdict v) {
        adm::shared_answer a;
        a.what.what = v;
        a.cluster_active = 1;
        asks.at(i).done(a);
    }
};

sbc::test::topology limited_carrier() {
    sbc::test::topology t;
    t.carrier_trunk.push_back("limits: {inbound: {max_calls: 1, retry_after: 7}}");
    return t;
}

nlohmann::json carrier_inbound(b2bua_fixture& f) {
    const auto reply = f.sbc().trunks();  // kept: the loop walks into it
    for (const auto& t : reply["trunks"]) {
        if (t["name"] == "carrier") {
            return t["admission"]["inbound"];
        }
    }
    FAIL("no trunk carrier");
    return {};
}

// Declared before the fixture, so that it outlives the b2bua that holds it.
struct with_store {
    scripted_store store;
    b2bua_fixture f{limited_carrier()};
    with_store() { f.sbc().set_shared_limits(&store); }
};

TEST_CASE("a new INVITE waits for the shared limits' yes", "[b2bua][shared-limits]") {
    with_store w;
    auto& f = w.f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    REQUIRE(f.loop.run_until([&] { return w.store.asks.size() == 1; }));
    CHECK(w.store.asks[0].trunk == "carrier");
    CHECK(w.store.asks[0].inbound);
    CHECK(w.store.asks[0].limits.max_calls == 1);
    f.pbx.expect_nothing_more();  // nothing goes on before the answer

    w.store.answer(0, adm::verdict::admitted);
    f.pbx.expect("INVITE").reply(200, sdp_audio(pbx_rtp, "pbx"));
    call.expect(200);
    call.ack();
    f.pbx.expect("ACK");
    const auto in = carrier_inbound(f);
    CHECK(in["active"] == 1);
    CHECK(in["admitted"] == 1);
    CHECK(w.store.counted.empty());  // the store counted it itself

    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    CHECK(w.store.released == std::vector<std::string>{"carrier:in"});
    CHECK(carrier_inbound(f)["active"] == 0);
}

TEST_CASE("the shared limits' no is a 503 with the trunk's Retry-After", "[b2bua][shared-limits]") {
    with_store w;
    auto& f = w.f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    REQUIRE(f.loop.run_until([&] { return w.store.asks.size() == 1; }));
    w.store.answer(0, adm::verdict::too_many_calls);
    const sip_t* refused = call.expect(503);
    REQUIRE(refused->sip_retry_after != nullptr);
    CHECK(refused->sip_retry_after->af_delta == 7);
    f.pbx.expect_nothing_more();
    CHECK(carrier_inbound(f)["refused_max_calls"] == 1);
    CHECK(carrier_inbound(f)["active"] == 0);
    CHECK(w.store.released.empty());
}

TEST_CASE("without the store's answer the node's own limiter decides", "[b2bua][shared-limits]") {
    with_store w;
    auto& f = w.f;

    SECTION("no answer in time") {
        auto& call =
            f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
        REQUIRE(f.loop.run_until([&] { return w.store.asks.size() == 1; }));
        w.store.asks[0].done(std::nullopt);
        f.pbx.expect("INVITE").reply(486);
        call.expect(486);
    }
    SECTION("no store to ask") {
        w.store.reachable = false;
        auto& call =
            f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
        f.pbx.expect("INVITE").reply(486);
        call.expect(486);
        CHECK(w.store.asks.empty());
    }
    REQUIRE(f.calls_gone());
    // Admitted here, so counted in the store; given back when it ended.
    CHECK(w.store.counted == std::vector<std::string>{"carrier:in"});
    CHECK(w.store.released == std::vector<std::string>{"carrier:in"});
}

TEST_CASE("a CANCEL while the INVITE waits is answered 487 and its slot given back",
          "[b2bua][shared-limits]") {
    with_store w;
    auto& f = w.f;
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(carrier_rtp, "carrier"));
    REQUIRE(f.loop.run_until([&] { return w.store.asks.size() == 1; }));
    REQUIRE(call.cancel());
    call.expect(487);
    w.store.answer(0, adm::verdict::admitted);
    f.loop.drain();
    f.pbx.expect_nothing_more();
    CHECK(w.store.released == std::vector<std::string>{"carrier:in"});
    CHECK(carrier_inbound(f)["active"] == 0);
    CHECK(f.sbc().call_count() == 0);
}

}  // namespace test_shared_admission
