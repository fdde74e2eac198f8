// The resampler: a tone through 8000 -> 48000 -> 8000 keeps its frequency
// and energy; the output bound; a ratio that is not an integer.
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "tests/transcoder/speech.hpp"
#include "transcoder/resample/resampler.hpp"

using sbc::transcoder::resampler;
using sbc::transcoder::test::energy;
using sbc::transcoder::test::sine;

namespace {

/// Runs `in` through `r` in packets of `chunk` samples.
std::vector<std::int16_t> run(resampler& r, const std::vector<std::int16_t>& in,
                              std::size_t chunk) {
    std::vector<std::int16_t> out;
    std::vector<std::int16_t> buf(chunk * r.to_rate() / r.from_rate() + 1);
    for (std::size_t at = 0; at + chunk <= in.size(); at += chunk) {
        const int n = r.process(std::span(in).subspan(at, chunk), buf);
        REQUIRE(n >= 0);
        out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    return out;
}

/// Upward zero crossings per second.
double frequency(const std::vector<std::int16_t>& s, std::uint32_t rate) {
    int crossings = 0;
    for (std::size_t i = 1; i < s.size(); ++i) {
        crossings += (s[i - 1] < 0 && s[i] >= 0) ? 1 : 0;
    }
    return crossings * static_cast<double>(rate) / static_cast<double>(s.size());
}

}  // namespace

TEST_CASE("resampler 8000 -> 48000 -> 8000 keeps a tone", "[resampler]") {
    const auto tone = sine(1000, 10000, 8000, 8000);  // one second
    resampler up(8000, 48000);
    resampler down(48000, 8000);
    CHECK(up.from_rate() == 8000);
    CHECK(up.to_rate() == 48000);

    const auto high = run(up, tone, 160);
    REQUIRE(high.size() == 48000);
    const auto back = run(down, high, 960);
    REQUIRE(back.size() == 8000);

    // Past the filters' start-up (a few ms each).
    const std::vector<std::int16_t> high_tail(high.begin() + 4800, high.end());
    const std::vector<std::int16_t> back_tail(back.begin() + 800, back.end());
    const std::vector<std::int16_t> tone_tail(tone.begin() + 800, tone.end());
    const double e = energy(tone_tail);
    INFO("energy in " << e << ", at 48000 " << energy(high_tail) << ", back " << energy(back_tail));
    CHECK(energy(high_tail) == Approx(e).epsilon(0.03));
    CHECK(energy(back_tail) == Approx(e).epsilon(0.03));
    CHECK(frequency(high_tail, 48000) == Approx(1000).epsilon(0.01));
    CHECK(frequency(back_tail, 8000) == Approx(1000).epsilon(0.01));
}

TEST_CASE("resampler refuses an output too small and keeps odd ratios whole", "[resampler]") {
    resampler up(8000, 48000);
    std::vector<std::int16_t> in(160);
    std::vector<std::int16_t> out(959);
    CHECK(up.process(in, out) == -1);
    out.resize(960);
    CHECK(up.process(in, out) == 960);
    CHECK(up.process({}, out) == 0);

    // 22050 -> 8000 (espeak-ng's rate to G.711's): each call writes at most
    // the rounded-up share, and over many calls the exact total.
    resampler down(22050, 8000);
    const auto tone = sine(440, 8000, 22050, 22050);
    std::size_t total = 0;
    std::vector<std::int16_t> buf(161);
    for (std::size_t at = 0; at + 441 <= tone.size(); at += 441) {
        const int n = down.process(std::span(tone).subspan(at, 441), buf);
        REQUIRE(n >= 159);
        REQUIRE(n <= 161);
        total += static_cast<std::size_t>(n);
    }
    CHECK(total >= 7990);
    CHECK(total <= 8000);
    down.reset();
    CHECK(down.process(std::span(tone).first(441), buf) >= 0);

    CHECK_THROWS_AS(resampler(0, 8000), std::runtime_error);
    CHECK_THROWS_AS(resampler(8000, 16000, 11), std::runtime_error);
}
