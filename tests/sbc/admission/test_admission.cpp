// Admission control: the token bucket, the per-trunk call limiter and the
// per-source flood guard, all on an injected clock (no sleeping, no timing).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "sbc/admission/call_limiter.hpp"
#include "sbc/admission/flood_guard.hpp"
#include "sbc/admission/token_bucket.hpp"

namespace adm = sbc::admission;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_admission {

namespace {

using time_point = adm::clock::time_point;
using verdict = adm::flood_guard::verdict;

// Far from the clock's epoch so that nothing depends on time_point{}.
const time_point t0 = time_point{} + std::chrono::hours(1000);

/// `seconds` after t0.
time_point at(double seconds) {
    return t0 +
           std::chrono::duration_cast<adm::clock::duration>(std::chrono::duration<double>(seconds));
}

/// Takes `n` tokens at `t`; how many were there.
int take(adm::token_bucket& b, int n, time_point t) {
    int taken = 0;
    for (int i = 0; i < n; ++i) {
        taken += b.try_take(t) ? 1 : 0;
    }
    return taken;
}

/// `n` requests from `source` at `t`; how many passed.
int requests(adm::flood_guard& g, std::string_view source, int n, time_point t) {
    int passed = 0;
    for (int i = 0; i < n; ++i) {
        passed += g.on_request(source, t) == verdict::pass ? 1 : 0;
    }
    return passed;
}

/// `n` new calls at `t`; how many were admitted.
int calls(adm::call_limiter& l, int n, time_point t) {
    int admitted = 0;
    for (int i = 0; i < n; ++i) {
        admitted += l.try_admit(t) ? 1 : 0;
    }
    return admitted;
}

}  // namespace

// ---------------------------------------------------------------- token_bucket

TEST_CASE("token bucket: starts full and allows a burst", "[token_bucket]") {
    adm::token_bucket b(1, 3, t0);
    CHECK(b.full(t0));
    CHECK(take(b, 5, t0) == 3);
    CHECK_FALSE(b.full(t0));
}

TEST_CASE("token bucket: refills at the rate", "[token_bucket]") {
    adm::token_bucket b(10, 1, t0);
    REQUIRE(b.try_take(t0));
    CHECK_FALSE(b.try_take(at(0.05)));
    CHECK(b.try_take(at(0.1)));
    CHECK_FALSE(b.try_take(at(0.15)));
    CHECK(b.try_take(at(0.2)));
}

TEST_CASE("token bucket: a long pause refills to burst, no more", "[token_bucket]") {
    adm::token_bucket b(10, 4, t0);
    REQUIRE(take(b, 4, t0) == 4);
    CHECK(b.full(at(3600)));
    CHECK(take(b, 10, at(3600)) == 4);
}

TEST_CASE("token bucket: fractional rate of 0.5/s", "[token_bucket]") {
    adm::token_bucket b(0.5, 1, t0);
    REQUIRE(b.try_take(t0));
    CHECK(b.seconds_until_token(t0) == 2);
    CHECK_FALSE(b.try_take(at(1)));
    CHECK(b.seconds_until_token(at(1)) == 1);
    CHECK_FALSE(b.try_take(at(1.9)));
    CHECK(b.try_take(at(2)));
    CHECK_FALSE(b.try_take(at(2)));
}

TEST_CASE("token bucket: a rate of 0 or below is unlimited", "[token_bucket]") {
    for (double rate : {0.0, -1.0}) {
        adm::token_bucket b(rate, 1, t0);
        CHECK(take(b, 100000, t0) == 100000);
        CHECK(b.seconds_until_token(t0) == 0);
        CHECK(b.full(t0));
    }
}

TEST_CASE("token bucket: seconds until a token, rounded up", "[token_bucket]") {
    adm::token_bucket b(0.25, 2, t0);
    REQUIRE(take(b, 2, t0) == 2);
    CHECK(b.seconds_until_token(t0) == 4);
    CHECK(b.seconds_until_token(at(1)) == 3);
    CHECK(b.seconds_until_token(at(3.5)) == 1);  // half a second left: at least 1
    CHECK(b.seconds_until_token(at(4)) == 0);

    adm::token_bucket fast(10, 1, t0);
    REQUIRE(fast.try_take(t0));
    CHECK(fast.seconds_until_token(t0) == 1);  // 100 ms, rounded up
    CHECK(fast.seconds_until_token(at(0.1)) == 0);
}

TEST_CASE("token bucket: a burst below 1 holds one token", "[token_bucket]") {
    adm::token_bucket b(1, 0, t0);
    CHECK(take(b, 3, t0) == 1);
}

TEST_CASE("token bucket: time going back neither refills nor drains", "[token_bucket]") {
    adm::token_bucket b(1, 1, at(10));
    REQUIRE(b.try_take(at(10)));
    CHECK_FALSE(b.try_take(at(5)));
    CHECK(b.seconds_until_token(at(5)) == 1);
    CHECK(b.try_take(at(11)));
}

// ---------------------------------------------------------------- call_limiter

TEST_CASE("call limiter: verdict names and decision truth", "[call_limiter]") {
    CHECK(adm::to_string(adm::verdict::admitted) == "admitted");
    CHECK(adm::to_string(adm::verdict::too_many_calls) == "max_calls");
    CHECK(adm::to_string(adm::verdict::too_many_per_second) == "cps");
    CHECK(static_cast<bool>(adm::decision{}));
    CHECK_FALSE(
        static_cast<bool>(adm::decision{.what = adm::verdict::too_many_calls, .retry_after = 5}));
}

TEST_CASE("call limiter: no limits admit everything", "[call_limiter]") {
    adm::call_limiter l(adm::limits{}, t0);
    CHECK(calls(l, 10000, t0) == 10000);
    CHECK(l.active() == 10000);
}

TEST_CASE("call limiter: decisions made elsewhere are counted whatever the limits",
          "[call_limiter]") {
    // The cluster's shared limits decide; the node's limiter keeps the
    // count of its own calls, for the store's absence and sbcctl trunks.
    adm::call_limiter l({.max_calls = 1, .cps = 0, .burst = 0, .retry_after = 5}, t0);
    l.count_admitted();
    l.count_admitted();
    CHECK(l.active() == 2);
    CHECK(l.admitted() == 2);
    l.count_refused(adm::verdict::too_many_calls);
    l.count_refused(adm::verdict::too_many_per_second);
    CHECK(l.refused_max_calls() == 1);
    CHECK(l.refused_cps() == 1);
    CHECK_FALSE(l.try_admit(t0));
    l.release();
    l.release();
    CHECK(l.try_admit(t0));
}

TEST_CASE("call limiter: max_calls reached, then a call ends", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 2, .cps = 0, .burst = 0, .retry_after = 30}, t0);
    REQUIRE(calls(l, 2, t0) == 2);

    auto d = l.try_admit(t0);
    CHECK_FALSE(d);
    CHECK(d.what == adm::verdict::too_many_calls);
    CHECK(d.retry_after == 30);
    CHECK(l.active() == 2);

    l.release();
    CHECK(l.active() == 1);
    auto admitted = l.try_admit(t0);
    CHECK(admitted);
    CHECK(admitted.retry_after == 0);
    CHECK(l.active() == 2);
}

TEST_CASE("call limiter: retry_after defaults to 5 s for max_calls", "[call_limiter]") {
    adm::limits lim;
    lim.max_calls = 1;
    adm::call_limiter l(lim, t0);
    REQUIRE(l.try_admit(t0));
    CHECK(l.try_admit(t0).retry_after == 5);
}

TEST_CASE("call limiter: cps refused with the time to the next token", "[call_limiter]") {
    SECTION("1 cps") {
        adm::call_limiter l({.max_calls = 0, .cps = 1, .burst = 0, .retry_after = 5}, t0);
        REQUIRE(l.try_admit(t0));
        auto d = l.try_admit(t0);
        CHECK(d.what == adm::verdict::too_many_per_second);
        CHECK(d.retry_after == 1);
        CHECK(l.try_admit(at(1)));
    }
    SECTION("one call per 5 s") {
        adm::call_limiter l({.max_calls = 0, .cps = 0.2, .burst = 0, .retry_after = 5}, t0);
        REQUIRE(l.try_admit(t0));
        CHECK(l.try_admit(t0).retry_after == 5);
        CHECK(l.try_admit(at(2)).retry_after == 3);
        CHECK(l.try_admit(at(4.5)).retry_after == 1);
        CHECK(l.try_admit(at(5)));
    }
}

TEST_CASE("call limiter: the default burst is one second of calls", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 0, .cps = 2.5, .burst = 0, .retry_after = 5}, t0);
    CHECK(calls(l, 10, t0) == 3);
}

TEST_CASE("call limiter: an explicit burst", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 0, .cps = 1, .burst = 5, .retry_after = 5}, t0);
    CHECK(calls(l, 10, t0) == 5);
    CHECK(calls(l, 10, at(2)) == 2);
}

TEST_CASE("call limiter: concurrency is checked first and takes no token", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 1, .cps = 1, .burst = 2, .retry_after = 5}, t0);
    REQUIRE(l.try_admit(t0));  // one token left
    CHECK(l.try_admit(t0).what == adm::verdict::too_many_calls);
    CHECK(l.try_admit(t0).what == adm::verdict::too_many_calls);
    l.release();
    CHECK(l.try_admit(t0));  // the refusals left the token
    l.release();
    CHECK(l.try_admit(t0).what == adm::verdict::too_many_per_second);
}

TEST_CASE("call limiter: counters", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 3, .cps = 2, .burst = 0, .retry_after = 5}, t0);
    CHECK(calls(l, 4, t0) == 2);     // 2 admitted, 2 refused for cps
    CHECK(calls(l, 4, at(1)) == 1);  // 3rd admitted, then 3 refused for max_calls
    CHECK(l.admitted() == 3);
    CHECK(l.refused_cps() == 2);
    CHECK(l.refused_max_calls() == 3);
    CHECK(l.active() == 3);
}

TEST_CASE("call limiter: release never goes below zero", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 1, .cps = 0, .burst = 0, .retry_after = 5}, t0);
    l.release();
    CHECK(l.active() == 0);
    REQUIRE(l.try_admit(t0));
    l.release();
    l.release();
    CHECK(l.active() == 0);
    CHECK(l.try_admit(t0));
}

TEST_CASE("call limiter: reconfigure keeps active calls and counters", "[call_limiter]") {
    adm::call_limiter l({.max_calls = 0, .cps = 3, .burst = 0, .retry_after = 5}, t0);
    REQUIRE(calls(l, 4, t0) == 3);

    l.reconfigure({.max_calls = 2, .cps = 3, .burst = 0, .retry_after = 10}, t0);
    CHECK(l.active() == 3);
    CHECK(l.admitted() == 3);
    CHECK(l.refused_cps() == 1);
    auto d = l.try_admit(t0);
    CHECK(d.what == adm::verdict::too_many_calls);
    CHECK(d.retry_after == 10);

    l.release();
    l.release();
    CHECK(l.try_admit(t0));  // the bucket restarted full
    CHECK(l.active() == 2);
}

// ---------------------------------------------------------------- flood_guard

TEST_CASE("flood guard: a source under the rate is never blocked", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 10, .burst = 0, .block_for = std::chrono::seconds(60), .max_sources = 100});
    int passed = 0;
    for (int i = 0; i < 1000; ++i) {
        passed += requests(g, "203.0.113.7", 1, at(i * 0.1));
    }
    CHECK(passed == 1000);
    CHECK(g.blocks() == 0);
    CHECK(g.dropped() == 0);
    CHECK(g.blocked(at(100)).empty());
}

TEST_CASE("flood guard: over the rate, blocked_now once, then blocked", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 10, .burst = 0, .block_for = std::chrono::seconds(60), .max_sources = 100});
    CHECK(requests(g, "203.0.113.7", 20, t0) == 20);  // default burst: 2 * rate
    CHECK(g.on_request("203.0.113.7", t0) == verdict::blocked_now);
    CHECK(g.on_request("203.0.113.7", t0) == verdict::blocked);
    CHECK(g.on_request("203.0.113.7", at(30)) == verdict::blocked);
    CHECK(g.blocks() == 1);
    CHECK(g.dropped() == 3);

    auto list = g.blocked(at(30));
    REQUIRE(list.size() == 1);
    CHECK(list[0].address == "203.0.113.7");
    CHECK(list[0].since == t0);
    CHECK(list[0].until == at(60));
    CHECK(list[0].dropped == 3);
}

TEST_CASE("flood guard: a block ends by itself with a full bucket", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 3, .block_for = std::chrono::seconds(60), .max_sources = 100});
    REQUIRE(requests(g, "203.0.113.7", 4, t0) == 3);
    CHECK(g.on_request("203.0.113.7", at(59.9)) == verdict::blocked);
    CHECK(g.blocked(at(60)).empty());
    CHECK(requests(g, "203.0.113.7", 3, at(60)) == 3);
    CHECK(g.on_request("203.0.113.7", at(60)) == verdict::blocked_now);
    CHECK(g.blocks() == 2);

    auto list = g.blocked(at(60));
    REQUIRE(list.size() == 1);
    CHECK(list[0].since == at(60));
    CHECK(list[0].dropped == 1);  // this block's own, not the first one's
}

TEST_CASE("flood guard: unblock", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 100});
    REQUIRE(requests(g, "203.0.113.7", 2, t0) == 1);
    REQUIRE(requests(g, "198.51.100.1", 1, t0) == 1);

    CHECK_FALSE(g.unblock("192.0.2.99"));    // unknown
    CHECK_FALSE(g.unblock("198.51.100.1"));  // tracked, not blocked
    CHECK(g.unblock("203.0.113.7"));
    CHECK_FALSE(g.unblock("203.0.113.7"));
    CHECK(g.blocked(t0).empty());
    CHECK(g.on_request("203.0.113.7", t0) == verdict::pass);
}

TEST_CASE("flood guard: other sources are unaffected", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 2, .block_for = std::chrono::seconds(60), .max_sources = 100});
    REQUIRE(requests(g, "203.0.113.7", 10, t0) == 2);
    CHECK(requests(g, "203.0.113.8", 2, t0) == 2);
    CHECK(requests(g, "198.51.100.1", 2, t0) == 2);
    CHECK(g.blocked(t0).size() == 1);
    CHECK(g.tracked() == 3);
}

TEST_CASE("flood guard: IPv6 sources", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 100});
    REQUIRE(requests(g, "2001:db8::1", 2, t0) == 1);
    CHECK(g.on_request("2001:db8::1", t0) == verdict::blocked);
    CHECK(g.on_request("2001:db8::2", t0) == verdict::pass);
    CHECK(g.on_request("2001:db8::1:0", t0) == verdict::pass);

    auto list = g.blocked(t0);
    REQUIRE(list.size() == 1);
    CHECK(list[0].address == "2001:db8::1");
}

TEST_CASE("flood guard: the blocked list is sorted and leaves out expired blocks",
          "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 100});
    requests(g, "203.0.113.9", 2, t0);
    requests(g, "2001:db8::5", 2, at(10));
    requests(g, "198.51.100.4", 2, at(20));

    auto list = g.blocked(at(30));
    REQUIRE(list.size() == 3);
    CHECK(list[0].address == "198.51.100.4");
    CHECK(list[1].address == "2001:db8::5");
    CHECK(list[2].address == "203.0.113.9");

    list = g.blocked(at(65));
    REQUIRE(list.size() == 2);
    CHECK(list[0].address == "198.51.100.4");
    CHECK(list[1].address == "2001:db8::5");
}

TEST_CASE("flood guard: off at rate 0", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 0, .burst = 0, .block_for = std::chrono::seconds(60), .max_sources = 100});
    CHECK(requests(g, "203.0.113.7", 100000, t0) == 100000);
    CHECK(g.tracked() == 0);
    CHECK(g.blocks() == 0);
}

TEST_CASE("flood guard: reconfigure keeps current blocks", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 100});
    REQUIRE(requests(g, "203.0.113.7", 2, t0) == 1);
    REQUIRE(requests(g, "198.51.100.1", 1, t0) == 1);

    SECTION("a new rate and a shorter block") {
        g.reconfigure(
            {.rate = 2, .burst = 2, .block_for = std::chrono::seconds(10), .max_sources = 100});
        CHECK(g.on_request("203.0.113.7", at(30)) == verdict::blocked);
        CHECK(requests(g, "198.51.100.1", 2, t0) == 2);  // started over, with the new burst
        CHECK(g.on_request("198.51.100.1", t0) == verdict::blocked_now);

        auto list = g.blocked(t0);
        REQUIRE(list.size() == 2);
        CHECK(list[0].until == at(10));  // 198.51.100.1, the new block_for
        CHECK(list[1].until == at(60));  // 203.0.113.7 as it was
        CHECK(g.on_request("198.51.100.1", at(10)) == verdict::pass);
        CHECK(g.on_request("203.0.113.7", at(59)) == verdict::blocked);
        CHECK(g.on_request("203.0.113.7", at(60)) == verdict::pass);
    }
    SECTION("the guard turned off") {
        g.reconfigure(
            {.rate = 0, .burst = 0, .block_for = std::chrono::seconds(60), .max_sources = 100});
        CHECK(g.on_request("203.0.113.7", at(30)) == verdict::blocked);
        CHECK(requests(g, "198.51.100.1", 1000, at(30)) == 1000);
        CHECK(g.tracked() == 1);
        CHECK(g.on_request("203.0.113.7", at(60)) == verdict::pass);
        CHECK(g.tracked() == 0);
    }
}

// Eviction: a source's bucket shows whether it was remembered. A remembered,
// recently busy source is refused sooner than a forgotten one, which starts full.

TEST_CASE("flood guard: a full table forgets idle sources first", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 2, .block_for = std::chrono::seconds(60), .max_sources = 3});
    REQUIRE(requests(g, "192.0.2.1", 2, t0) == 2);       // A: empty, full again at 2 s
    REQUIRE(requests(g, "192.0.2.2", 1, at(0.5)) == 1);  // B: full again at 1.5 s
    REQUIRE(requests(g, "192.0.2.3", 2, at(0.6)) == 2);  // C: empty, full again at 2.6 s

    // At 1.6 s B is idle; A is the least recently seen but still busy.
    REQUIRE(g.on_request("192.0.2.4", at(1.6)) == verdict::pass);
    CHECK(g.tracked() == 3);
    CHECK(g.on_request("192.0.2.1", at(1.6)) == verdict::pass);         // 1.6 tokens
    CHECK(g.on_request("192.0.2.1", at(1.6)) == verdict::blocked_now);  // remembered
    CHECK(g.on_request("192.0.2.3", at(1.6)) == verdict::pass);         // 1.0 token
    CHECK(g.on_request("192.0.2.3", at(1.6)) == verdict::blocked_now);  // remembered
}

TEST_CASE("flood guard: without idle sources the least recently seen goes", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 3, .block_for = std::chrono::seconds(60), .max_sources = 3});
    REQUIRE(requests(g, "192.0.2.1", 2, t0) == 2);                  // A
    REQUIRE(requests(g, "192.0.2.2", 2, at(0.1)) == 2);             // B
    REQUIRE(requests(g, "192.0.2.3", 2, at(0.2)) == 2);             // C
    REQUIRE(g.on_request("192.0.2.1", at(0.25)) == verdict::pass);  // A seen again: B is oldest

    REQUIRE(g.on_request("192.0.2.4", at(0.3)) == verdict::pass);
    CHECK(g.tracked() == 3);
    // A remembered: 0.35 tokens left.
    CHECK(g.on_request("192.0.2.1", at(0.35)) == verdict::blocked_now);
    // B forgotten: a full bucket of 3 (it displaces C, now the oldest unblocked).
    CHECK(requests(g, "192.0.2.2", 3, at(0.35)) == 3);
    CHECK(g.on_request("192.0.2.1", at(0.35)) == verdict::blocked);
}

TEST_CASE("flood guard: blocked sources are kept while others can go", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 2});
    REQUIRE(g.on_request("192.0.2.1", t0) == verdict::pass);
    REQUIRE(g.on_request("192.0.2.1", t0) == verdict::blocked_now);
    REQUIRE(g.on_request("192.0.2.2", at(0.1)) == verdict::pass);

    CHECK(g.on_request("192.0.2.3", at(0.2)) == verdict::pass);  // displaces .2
    CHECK(g.on_request("192.0.2.4", at(0.3)) == verdict::pass);  // displaces .3
    CHECK(g.tracked() == 2);
    CHECK(g.on_request("192.0.2.1", at(0.4)) == verdict::blocked);
    CHECK(g.blocked(at(0.4)).size() == 1);
}

TEST_CASE("flood guard: when all are blocked the block ending first goes", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 2});
    REQUIRE(requests(g, "192.0.2.1", 2, t0) == 1);      // blocked until 60 s
    REQUIRE(requests(g, "192.0.2.2", 2, at(10)) == 1);  // blocked until 70 s

    CHECK(g.on_request("192.0.2.3", at(20)) == verdict::pass);
    CHECK(g.tracked() == 2);
    auto list = g.blocked(at(20));
    REQUIRE(list.size() == 1);
    CHECK(list[0].address == "192.0.2.2");
    CHECK(g.on_request("192.0.2.2", at(21)) == verdict::blocked);
    // .1 was forgotten; coming back it displaces .3 (idle by now), not the block.
    CHECK(g.on_request("192.0.2.1", at(21)) == verdict::pass);
    CHECK(g.on_request("192.0.2.2", at(21)) == verdict::blocked);
}

TEST_CASE("flood guard: memory stays bounded under 100000 spoofed sources", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 10, .burst = 0, .block_for = std::chrono::seconds(60), .max_sources = 10000});
    // A flooder blocked before the spoofed flood stays blocked through it.
    REQUIRE(requests(g, "203.0.113.7", 21, t0) == 20);

    std::size_t most = 0;
    for (int i = 0; i < 100000; ++i) {
        auto source = "10." + std::to_string((i >> 16) & 0xff) + "." +
                      std::to_string((i >> 8) & 0xff) + "." + std::to_string(i & 0xff);
        REQUIRE(g.on_request(source, at(1 + i * 1e-6)) == verdict::pass);
        most = std::max(most, g.tracked());
    }
    CHECK(most == 10000);
    CHECK(g.tracked() == 10000);
    CHECK(g.on_request("203.0.113.7", at(2)) == verdict::blocked);
    CHECK(g.blocks() == 1);
}

TEST_CASE("flood guard: a smaller max_sources applies at once", "[flood_guard]") {
    adm::flood_guard g(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 100});
    for (int i = 0; i < 50; ++i) {
        g.on_request("192.0.2." + std::to_string(i), t0);
    }
    REQUIRE(g.tracked() == 50);
    g.reconfigure(
        {.rate = 1, .burst = 1, .block_for = std::chrono::seconds(60), .max_sources = 10});
    CHECK(g.tracked() == 10);
}

}  // namespace test_admission
