// The logic of a drain (sbc/b2bua/drain.hpp) on clocks the test chooses: the
// control command's arguments, Retry-After, when sbcd is to exit, what
// `sbcctl status` shows, and which REGISTERs are refused meanwhile.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>

#include "sbc/b2bua/drain.hpp"

using sbc::b2bua::drain_state;
using namespace std::chrono_literals;

namespace test_drain_state {

const drain_state::clock::time_point t0{std::chrono::hours(1000)};
// 2026-12-07T19:30:00Z
const drain_state::wall_clock::time_point wall0{std::chrono::seconds(1796671800)};

sbc::registrar::register_request registering(std::optional<unsigned> header,
                                             std::vector<std::optional<unsigned>> params) {
    sbc::registrar::register_request r;
    r.user = "2001";
    r.expires = header;
    for (auto p : params) {
        r.contacts.push_back({"sip:2001@192.0.2.7", p, std::nullopt});
    }
    return r;
}

}  // namespace test_drain_state

using namespace test_drain_state;

TEST_CASE("the drain command's arguments are checked", "[drain]") {
    using sbc::b2bua::parse_drain_request;
    auto plain = parse_drain_request({{"cmd", "drain"}});
    REQUIRE(plain);
    CHECK_FALSE(plain->cancel);
    CHECK_FALSE(plain->deadline);
    CHECK_FALSE(plain->hand_over);

    auto timed = parse_drain_request({{"deadline", 90}, {"hand_over", true}});
    REQUIRE(timed);
    CHECK(timed->deadline == 90s);
    CHECK(timed->hand_over);
    CHECK(parse_drain_request({{"cancel", true}, {"deadline", nullptr}})->cancel);

    for (const auto& bad :
         {nlohmann::json{{"deadline", 0}}, nlohmann::json{{"deadline", -5}},
          nlohmann::json{{"deadline", 86401}}, nlohmann::json{{"deadline", "60"}},
          nlohmann::json{{"deadline", 1.5}}, nlohmann::json{{"cancel", "yes"}},
          nlohmann::json{{"cancel", true}, {"deadline", 10}},
          nlohmann::json{{"cancel", true}, {"hand_over", true}}, nlohmann::json::array()}) {
        INFO(bad.dump());
        auto r = parse_drain_request(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error_message().rfind("drain: ", 0) == 0);
    }
}

TEST_CASE("a node that is not draining runs on and sends no Retry-After", "[drain]") {
    drain_state d;
    CHECK_FALSE(d.active());
    CHECK_FALSE(d.refuses_new_calls());
    CHECK(d.check(0, t0) == drain_state::verdict::keep_running);
    CHECK_FALSE(d.status(3, t0));
    CHECK_FALSE(d.cancel());
}

TEST_CASE("without a deadline the drain waits for the last call", "[drain]") {
    drain_state d;
    d.start(std::nullopt, t0, wall0);
    CHECK(d.refuses_new_calls());
    CHECK(d.retry_after(t0) == drain_state::retry_after_default.count());
    CHECK(d.check(5, t0 + 24h) == drain_state::verdict::keep_running);
    CHECK(d.check(0, t0 + 1s) == drain_state::verdict::drained);
    const auto s = d.status(5, t0 + 1s);
    REQUIRE(s);
    CHECK(s->since == "2026-12-07T19:30:00Z");
    CHECK(s->deadline.empty());
    CHECK_FALSE(s->seconds_left);
    CHECK(s->calls_left == 5);
}

TEST_CASE("with a deadline the calls left are hung up when it passes", "[drain]") {
    drain_state d;
    d.start(90s, t0, wall0);
    CHECK(d.check(2, t0 + 89s) == drain_state::verdict::keep_running);
    CHECK(d.check(2, t0 + 90s) == drain_state::verdict::deadline);
    // The last call ending first is the happy end, deadline or not.
    CHECK(d.check(0, t0 + 95s) == drain_state::verdict::drained);
    const auto s = d.status(2, t0 + 30s);
    REQUIRE(s);
    CHECK(s->deadline == "2026-12-07T19:31:30Z");
    CHECK(s->seconds_left == Approx(60));
    CHECK(d.status(2, t0 + 100s)->seconds_left == Approx(0));  // never negative
}

TEST_CASE("Retry-After is the time to the deadline, rounded up, at least 1, capped", "[drain]") {
    drain_state d;
    d.start(3600s, t0, wall0);
    CHECK(d.retry_after(t0) == drain_state::retry_after_cap.count());
    CHECK(d.retry_after(t0 + 3600s - 42s) == 42);
    CHECK(d.retry_after(t0 + 3600s - 1500ms) == 2);
    CHECK(d.retry_after(t0 + 3600s) == 1);
    CHECK(d.retry_after(t0 + 4000s) == 1);
}

TEST_CASE("a second drain sets a new deadline and keeps its start; cancel admits again",
          "[drain]") {
    drain_state d;
    d.start(std::nullopt, t0, wall0);
    d.start(10s, t0 + 60s, wall0 + 60s);
    const auto s = d.status(1, t0 + 60s);
    CHECK(s->since == "2026-12-07T19:30:00Z");
    CHECK(s->deadline == "2026-12-07T19:31:10Z");
    CHECK(d.check(1, t0 + 70s) == drain_state::verdict::deadline);
    d.start(std::nullopt, t0 + 65s, wall0 + 65s);  // no deadline after all
    CHECK(d.check(1, t0 + 70s) == drain_state::verdict::keep_running);

    CHECK(d.cancel());
    CHECK_FALSE(d.refuses_new_calls());
    CHECK(d.check(0, t0 + 70s) == drain_state::verdict::keep_running);
    d.start(std::nullopt, t0 + 80s, wall0 + 80s);
    CHECK(d.status(0, t0 + 80s)->since == "2026-12-07T19:31:20Z");  // a new drain
}

TEST_CASE("only a REGISTER that adds or refreshes a binding is refused while draining", "[drain]") {
    using sbc::b2bua::register_adds_bindings;
    CHECK(register_adds_bindings(registering(std::nullopt, {std::nullopt})));  // the default expiry
    CHECK(register_adds_bindings(registering(3600, {std::nullopt})));
    CHECK(register_adds_bindings(registering(0, {std::nullopt, 60})));  // one stays
    CHECK(register_adds_bindings(registering(3600, {0, std::nullopt})));

    // RFC 3261 10.2.2: removals; 10.2.4: a query.
    CHECK_FALSE(register_adds_bindings(registering(0, {std::nullopt})));
    CHECK_FALSE(register_adds_bindings(registering(3600, {0, 0})));
    CHECK_FALSE(register_adds_bindings(registering(std::nullopt, {})));
    auto all = registering(0, {});
    all.wildcard = true;
    CHECK_FALSE(register_adds_bindings(all));
}
