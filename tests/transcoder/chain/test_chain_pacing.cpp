// Pacing (issue 19, item 8): a chain that repacketizes into shorter packets
// sends them at their nominal times, not all when the input arrived. The
// clock is the test's: every push and release names its now_ns.
#include <catch2/catch.hpp>

#include "tests/transcoder/chain/chain_script.hpp"
#include "transcoder/chain/pacing_queue.hpp"

namespace sbc::transcoder {
namespace {

using test::chain_driver;
using test::format;
using test::rtp;

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t start = 1'000 * ms;

chain_driver paced_chain(audio_format in, audio_format out) {
    chain_config cfg;
    cfg.in.audio = std::move(in);
    cfg.out.audio = std::move(out);
    cfg.origin = output_origin{0x5ace, 500, 9000};
    chain_driver d(test::make_chain(cfg));
    d.paced = true;
    return d;
}

/// `count` PCMU packets of `ptime_ms` (G.711: any octets decode), in sequence.
std::vector<std::vector<std::uint8_t>> pcmu_stream(unsigned ptime_ms, std::size_t count) {
    std::vector<std::vector<std::uint8_t>> out;
    const std::size_t samples = 8 * ptime_ms;
    for (std::size_t i = 0; i < count; ++i) {
        std::vector<std::uint8_t> payload(samples, static_cast<std::uint8_t>(0x70 + i % 8));
        out.push_back(rtp(0, static_cast<std::uint16_t>(i), static_cast<std::uint32_t>(samples * i),
                          payload, i == 0));
    }
    return out;
}

/// Plays the chain's clock from `from_ns` to `to_ns` in 0.25 ms steps, as a
/// worker would wake up: released at next_due_ns() whenever it is due.
void run_clock(chain_driver& d, std::int64_t from_ns, std::int64_t to_ns) {
    for (std::int64_t t = from_ns; t <= to_ns; t += ms / 4) {
        if (d.chain->next_due_ns() <= t) {
            d.flush(t);
        }
    }
}

void expect_in_sequence(const std::vector<test::sent>& out) {
    for (std::size_t i = 0; i < out.size(); ++i) {
        INFO("packet " << i);
        CHECK(out[i].header.sequence == static_cast<std::uint16_t>(500 + i));
        CHECK(out[i].header.timestamp == 9000 + 160 * i);
    }
}

}  // namespace

TEST_CASE("pacing: 40 ms in, 20 ms out: the second packet leaves 20 ms after the first") {
    auto d = paced_chain(format("PCMU", 8000, 0, 40), format("PCMA", 8000, 8, 20));
    const auto in = pcmu_stream(40, 10);
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::int64_t at = start + static_cast<std::int64_t>(i) * 40 * ms;
        run_clock(d, at - 40 * ms + ms / 4, at - ms / 4);
        CHECK(d.push(in[i], at) == 1);  // only the first is due now
        CHECK(d.chain->next_due_ns() == at + 20 * ms);
        CHECK(d.chain->waiting() == 1);
    }
    run_clock(d, start + 360 * ms, start + 400 * ms);
    REQUIRE(d.out.size() == 20);
    expect_in_sequence(d.out);
    for (std::size_t i = 0; i < d.out.size(); ++i) {
        INFO("packet " << i);
        CHECK(d.out[i].at_ns == start + static_cast<std::int64_t>(i) * 20 * ms);
    }
    CHECK(d.chain->next_due_ns() == no_due_ns);
}

TEST_CASE("pacing: 60 ms in, 20 ms out: three packets 20 ms apart") {
    auto d = paced_chain(format("PCMU", 8000, 0, 60), format("PCMA", 8000, 8, 20));
    const auto in = pcmu_stream(60, 4);
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::int64_t at = start + static_cast<std::int64_t>(i) * 60 * ms;
        run_clock(d, at - 60 * ms + ms / 4, at - ms / 4);
        d.push(in[i], at);
    }
    run_clock(d, start + 180 * ms, start + 240 * ms);
    REQUIRE(d.out.size() == 12);
    expect_in_sequence(d.out);
    for (std::size_t i = 0; i < d.out.size(); ++i) {
        INFO("packet " << i);
        CHECK(d.out[i].at_ns == start + static_cast<std::int64_t>(i) * 20 * ms);
    }
}

TEST_CASE("pacing: input no longer than the output's packets is sent at once") {
    auto same = paced_chain(format("PCMU", 8000, 0, 20), format("PCMA", 8000, 8, 20));
    auto longer = paced_chain(format("PCMU", 8000, 0, 20), format("PCMA", 8000, 8, 40));
    const auto in = pcmu_stream(20, 6);
    for (std::size_t i = 0; i < in.size(); ++i) {
        const std::int64_t at = start + static_cast<std::int64_t>(i) * 20 * ms;
        CHECK(same.push(in[i], at) == 1);
        CHECK(longer.push(in[i], at) == i % 2);
        CHECK(same.chain->next_due_ns() == no_due_ns);
        CHECK(longer.chain->next_due_ns() == no_due_ns);
    }
}

TEST_CASE("pacing: lengths that do not divide leave evenly spaced, at most D later") {
    // 30 ms in, 20 ms out: the inputs complete one packet, then two, then
    // one...; with D = 30 - gcd(30, 20) = 20 ms they leave every 20 ms, the
    // first 10 ms after the input that completed it, none later than 20 ms.
    // 20 ms in, 30 ms out: D = 10 ms, every 30 ms.
    struct shape {
        unsigned in_ms, out_ms;
        std::int64_t first_ns;
    };
    for (const auto& sh : {shape{30, 20, 10 * ms}, shape{20, 30, 0}}) {
        INFO(sh.in_ms << " ms in, " << sh.out_ms << " ms out");
        auto d = paced_chain(format("PCMU", 8000, 0, sh.in_ms), format("PCMA", 8000, 8, sh.out_ms));
        const auto in = pcmu_stream(sh.in_ms, 12);
        for (std::size_t i = 0; i < in.size(); ++i) {
            const std::int64_t at = start + static_cast<std::int64_t>(i * sh.in_ms) * ms;
            run_clock(d, at - sh.in_ms * ms + ms / 4, at - ms / 4);
            d.push(in[i], at);
        }
        run_clock(d, start + 11 * sh.in_ms * ms + ms / 4, start + (12 * sh.in_ms + 60) * ms);
        REQUIRE(d.out.size() == 12 * sh.in_ms / sh.out_ms);
        // The first is complete once enough input arrived: the second input
        // for 20 -> 30 ms.
        const std::int64_t first = start + (sh.in_ms < sh.out_ms ? sh.in_ms * ms : 0) + sh.first_ns;
        for (std::size_t i = 0; i < d.out.size(); ++i) {
            INFO("packet " << i);
            CHECK(d.out[i].at_ns == first + static_cast<std::int64_t>(i * sh.out_ms) * ms);
        }
    }
}

TEST_CASE("pacing: a packet arriving early goes out behind what still waits, in order") {
    auto d = paced_chain(format("PCMU", 8000, 0, 40), format("PCMA", 8000, 8, 20));
    const auto in = pcmu_stream(40, 3);
    d.push(in[0], start);           // 500 now, 501 at +20
    d.push(in[1], start + 5 * ms);  // early (network bunching): 502 and 503 wait behind 501
    REQUIRE(d.out.size() == 1);
    CHECK(d.chain->waiting() == 3);
    CHECK(d.chain->next_due_ns() == start + 20 * ms);
    d.flush(start + 20 * ms);  // 501 and 502 (due at +20 at the latest, not before 501)
    d.flush(start + 25 * ms);  // 503, 20 ms after 502 was due at the earliest
    REQUIRE(d.out.size() == 4);
    CHECK(d.out[1].at_ns == start + 20 * ms);
    CHECK(d.out[2].at_ns == start + 20 * ms);
    CHECK(d.out[3].at_ns == start + 25 * ms);
    // The next one on time: no delay has built up.
    d.push(in[2], start + 80 * ms);
    REQUIRE(d.out.size() == 5);
    CHECK(d.out[4].at_ns == start + 80 * ms);
    CHECK(d.chain->next_due_ns() == start + 100 * ms);
    expect_in_sequence(d.out);
}

TEST_CASE("pacing: a chain replacing another sends what the old one held first") {
    auto d = paced_chain(format("PCMU", 8000, 0, 40), format("PCMA", 8000, 8, 20));
    const auto in = pcmu_stream(40, 2);
    d.push(in[0], start);
    chain_config cfg = d.chain->config();
    auto next = test::make_chain(cfg);
    next->continue_from(d.chain->next_origin());
    next->take_waiting(*d.chain);
    CHECK(d.chain->waiting() == 0);
    auto old = std::move(d.chain);
    d.chain = std::move(next);
    CHECK(d.chain->next_due_ns() == start + 20 * ms);
    d.flush(start + 20 * ms);
    d.push(in[1], start + 40 * ms);
    d.flush(start + 60 * ms);
    REQUIRE(d.out.size() == 4);
    expect_in_sequence(d.out);
    CHECK(d.out[2].header.marker);  // the new chain's first
}

TEST_CASE("pacing: a sender far ahead of real time is sent early rather than lost") {
    auto d = paced_chain(format("PCMU", 8000, 0, 60), format("PCMA", 8000, 8, 20));
    const auto in = pcmu_stream(60, 40);
    for (const auto& p : in) {
        d.push(p, start);  // two seconds of audio at once
    }
    run_clock(d, start, start + 200 * ms);
    REQUIRE(d.out.size() == 120);
    expect_in_sequence(d.out);
    CHECK(d.chain->stats().sink_full == 0);
}

TEST_CASE("pacing_queue: holds copies in order and releases those due") {
    pacing_queue q(3);
    packet_sink sink(2);
    const std::vector<std::uint8_t> a{1, 2, 3}, b{4}, c{5, 6}, e{7};
    CHECK(q.next_due_ns() == no_due_ns);
    REQUIRE(q.hold(a, 10));
    REQUIRE(q.hold(b, 20));
    REQUIRE(q.hold(c, 20));
    CHECK_FALSE(q.hold(e, 30));  // full
    CHECK(q.next_due_ns() == 10);
    CHECK(q.last_due_ns() == 20);
    CHECK(q.release(9, sink) == 0);
    CHECK(q.release(20, sink) == 2);  // the sink has two slots
    REQUIRE(sink.size() == 2);
    CHECK(std::vector<std::uint8_t>(sink.packets()[0].data, sink.packets()[0].data + 3) == a);
    CHECK(sink.packets()[1].len == 1);
    CHECK(sink.packets()[1].data[0] == 4);
    CHECK(q.size() == 1);
    sink.clear();

    pacing_queue other(4);
    REQUIRE(other.hold(e, 40));
    CHECK(other.take_from(q) == 1);  // behind its own
    CHECK(q.empty());
    CHECK(other.release(100, sink) == 2);
    CHECK(sink.packets()[0].data[0] == 7);
    CHECK(sink.packets()[1].data[0] == 5);
    REQUIRE(other.hold(a, 50));
    CHECK(other.clear() == 1);
    CHECK(other.next_due_ns() == no_due_ns);
}

}  // namespace sbc::transcoder
