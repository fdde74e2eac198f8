// The worker's pacing wheel: sessions whose chains hold packets, found by
// their due time without a scan of every session, with the test's clock.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <vector>

#include "dataplane/core/pacing_wheel.hpp"

using namespace sbc::dataplane;

namespace {

struct fake_session {
    int id = 0;
    pace_hook<fake_session> hook;
};

using wheel = pacing_wheel<fake_session, &fake_session::hook>;

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t t0 = 5'000'000 * ms;  // a steady clock some time after boot

std::vector<int> release(wheel& w, std::int64_t now) {
    std::vector<int> fired;
    w.release(now, [&](fake_session& s) { fired.push_back(s.id); });
    return fired;
}

}  // namespace

TEST_CASE("pacing_wheel: sessions fire at their due time, earliest first known") {
    wheel w;
    std::array<fake_session, 3> s{{{1, {}}, {2, {}}, {3, {}}}};
    CHECK(w.empty());
    CHECK(w.next_due_ns() == sbc::transcoder::no_due_ns);
    w.schedule(s[0], t0 + 20 * ms);
    w.schedule(s[1], t0 + 20 * ms + 300'000);  // the same slot, later
    w.schedule(s[2], t0 + 40 * ms);
    CHECK(w.size() == 3);
    CHECK(w.next_due_ns() == t0 + 20 * ms);
    CHECK(release(w, t0 + 20 * ms - 1).empty());
    CHECK(release(w, t0 + 20 * ms) == std::vector<int>{1});
    CHECK(w.next_due_ns() == t0 + 20 * ms + 300'000);
    CHECK(release(w, t0 + 21 * ms) == std::vector<int>{2});
    CHECK(w.next_due_ns() == t0 + 40 * ms);
    // Rescheduled to an earlier time.
    w.schedule(s[2], t0 + 30 * ms);
    CHECK(w.next_due_ns() == t0 + 30 * ms);
    CHECK(release(w, t0 + 35 * ms) == std::vector<int>{3});
    CHECK(w.empty());
}

TEST_CASE("pacing_wheel: forgetting and no_due_ns take a session off") {
    wheel w;
    std::array<fake_session, 2> s{{{1, {}}, {2, {}}}};
    w.schedule(s[0], t0 + 5 * ms);
    w.schedule(s[1], t0 + 5 * ms);
    w.forget(s[0]);
    w.forget(s[0]);  // twice is harmless
    w.schedule(s[1], sbc::transcoder::no_due_ns);
    CHECK(w.empty());
    CHECK(release(w, t0 + 10 * ms).empty());
}

TEST_CASE("pacing_wheel: a session rescheduled from fire waits for the next release") {
    wheel w;
    fake_session s{1, {}};
    w.schedule(s, t0);
    int fired = 0;
    // fire() reschedules it, still due (a full sink left packets behind):
    // the same release does not loop on it.
    w.release(t0, [&](fake_session& f) {
        ++fired;
        w.schedule(f, t0);
    });
    CHECK(fired == 1);
    CHECK(w.next_due_ns() == t0);
    w.release(t0 + ms, [&](fake_session& f) {
        ++fired;
        w.schedule(f, t0 + 20 * ms);
    });
    CHECK(fired == 2);
    CHECK(w.next_due_ns() == t0 + 20 * ms);
}

TEST_CASE("pacing_wheel: times past the wheel's span and long sleeps") {
    wheel w;
    std::array<fake_session, 3> s{{{1, {}}, {2, {}}, {3, {}}}};
    w.schedule(s[0], t0);
    w.schedule(s[1], t0 + 2'000 * ms);  // beyond 268 ms: parked in the last slot
    CHECK(w.next_due_ns() == t0);
    CHECK(release(w, t0) == std::vector<int>{1});
    // Each release turns the wheel; the far one is never fired early.
    for (std::int64_t t = t0; t < t0 + 2'000 * ms; t += 7 * ms) {
        CHECK(release(w, t).empty());
        CHECK(w.next_due_ns() <= t0 + 2'000 * ms);
    }
    CHECK(release(w, t0 + 2'000 * ms) == std::vector<int>{2});
    // A worker that slept for seconds fires what is late, once.
    w.schedule(s[2], t0 + 2'010 * ms);
    CHECK(release(w, t0 + 9'000 * ms) == std::vector<int>{3});
    CHECK(w.empty());
}

TEST_CASE("pacing_wheel: many sessions, each fired once at its time") {
    wheel w;
    std::vector<fake_session> s(500);
    for (std::size_t i = 0; i < s.size(); ++i) {
        s[i].id = static_cast<int>(i);
        w.schedule(s[i], t0 + static_cast<std::int64_t>(i % 120) * ms + 1);
    }
    std::vector<int> count(s.size());
    for (std::int64_t t = t0; t <= t0 + 130 * ms; t += ms / 2) {
        w.release(t, [&](fake_session& f) {
            ++count[static_cast<std::size_t>(f.id)];
            const std::int64_t due = t0 + (f.id % 120) * ms + 1;
            CHECK(t >= due);
            CHECK(t - due < ms / 2);
        });
    }
    CHECK(w.empty());
    CHECK(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
}
