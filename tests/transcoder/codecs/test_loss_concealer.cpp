// loss_concealer: spandsp's PLC through its wrapper, with the history ring
// at each of its positions when a gap starts (spandsp 0.0.6 would move
// overlapping memory there; the wrapper realigns the ring first).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "tests/transcoder/speech.hpp"
#include "transcoder/plc/loss_concealer.hpp"

using namespace sbc::transcoder;

TEST_CASE("loss_concealer fills a gap alike wherever its history ring stands", "[plc]") {
    // The same 640 samples of voice end the history each time (the ring
    // keeps 280), after 0 to 8 packets of other audio: the ring's write
    // position differs every time, what it holds does not, so neither may
    // the fill-in nor the blend into the next packet.
    const auto voice = test::sine(200, 8000, 8000, 640);
    const auto noise = test::sine(1234, 3000, 8000, 160);
    std::vector<std::int16_t> first_fill;
    std::vector<std::int16_t> first_next;
    for (int before = 0; before <= 8; ++before) {
        INFO(before << " packets before");
        loss_concealer plc;
        std::vector<std::int16_t> pcm;
        for (int i = 0; i < before; ++i) {
            pcm = noise;
            plc.received(pcm);
        }
        for (std::size_t at = 0; at < voice.size(); at += 160) {
            pcm.assign(voice.begin() + static_cast<std::ptrdiff_t>(at),
                       voice.begin() + static_cast<std::ptrdiff_t>(at + 160));
            plc.received(pcm);
        }
        std::vector<std::int16_t> fill(160, 12345);
        REQUIRE(plc.fill(fill) == 160);
        CHECK(std::find(fill.begin(), fill.end(), std::int16_t{12345}) == fill.end());
        CHECK(test::energy(fill) > 1e6);
        std::vector<std::int16_t> next(voice.begin(), voice.begin() + 160);
        plc.received(next);
        if (before == 0) {
            first_fill = fill;
            first_next = next;
        } else {
            CHECK(fill == first_fill);
            CHECK(next == first_next);
        }
    }
}

TEST_CASE("loss_concealer fills long gaps with silence once faded", "[plc]") {
    loss_concealer plc;
    auto pcm = test::sine(200, 8000, 8000, 480);
    plc.received(pcm);
    std::vector<std::int16_t> gap(800, 12345);
    REQUIRE(plc.fill(gap) == 800);
    // 400 samples of fading repetition, then nothing (spandsp's 50 ms at
    // 8000 Hz).
    CHECK(test::energy(std::span(gap).first(100)) > 1e6);
    CHECK(std::all_of(gap.begin() + 420, gap.end(), [](std::int16_t s) { return s == 0; }));
    std::vector<std::int16_t> empty;
    CHECK(plc.fill(empty) == 0);
    plc.received(empty);
}
