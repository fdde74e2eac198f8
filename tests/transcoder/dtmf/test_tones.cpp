// tone_generator and tone_detector: spandsp's DTMF tones generated, then
// detected again frame by frame as a codec chain would (20 ms at 8000 Hz),
// clean, under noise and a speech-level tone, and silence detecting nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "transcoder/dtmf/telephone_event.hpp"
#include "transcoder/dtmf/tone_detector.hpp"
#include "transcoder/dtmf/tone_generator.hpp"

using namespace sbc::transcoder::dtmf;

namespace {

constexpr std::size_t frame = 160;  // 20 ms at 8000 Hz
constexpr double pi = 3.14159265358979323846;

// All the PCM the generator produces for `keys`, then `tail` of silence.
std::vector<std::int16_t> generate(std::string_view keys, unsigned on_ms, std::size_t tail) {
    tone_generator gen;
    for (char c : keys) {
        REQUIRE(gen.start(c, on_ms));
    }
    std::vector<std::int16_t> pcm;
    std::int16_t buf[frame];
    while (gen.busy()) {
        const std::size_t n = gen.fill(buf);
        pcm.insert(pcm.end(), buf, buf + n);
    }
    pcm.resize(pcm.size() + tail, 0);
    return pcm;
}

std::vector<detected_digit> detect(tone_detector& det, const std::vector<std::int16_t>& pcm) {
    std::vector<detected_digit> out;
    for (std::size_t i = 0; i < pcm.size(); i += frame) {
        const std::size_t n = std::min(frame, pcm.size() - i);
        det.feed(std::span(pcm.data() + i, n));
        while (auto d = det.take()) {
            out.push_back(*d);
        }
    }
    return out;
}

std::string symbols(const std::vector<detected_digit>& digits) {
    std::string s;
    for (const auto& d : digits) {
        s += d.symbol;
    }
    return s;
}

// A deterministic noise source (the test must not depend on a seed).
struct lcg {
    std::uint32_t state = 12345;
    int next(int amplitude) {
        state = state * 1664525u + 1013904223u;
        return static_cast<int>((state >> 8) % (2 * amplitude + 1)) - amplitude;
    }
};

std::int16_t saturate(int v) { return static_cast<std::int16_t>(std::clamp(v, -32768, 32767)); }

}  // namespace

TEST_CASE("every key generated is detected once, in order, with its duration") {
    constexpr std::string_view keys = "1234567890*#ABCD";
    constexpr unsigned on_ms = 100;
    const auto pcm = generate(keys, on_ms, 800);
    constexpr std::size_t on = on_ms * 8;
    constexpr std::size_t period = on + tone_generator::gap_ms * 8;
    CHECK(pcm.size() == keys.size() * period + 800);

    tone_detector det;
    const auto digits = detect(det, pcm);
    CHECK(symbols(digits) == keys);
    REQUIRE(digits.size() == keys.size());
    for (std::size_t i = 0; i < digits.size(); ++i) {
        INFO("digit " << i);
        // spandsp decides per block, on and off: within two blocks either way.
        CHECK(std::abs(static_cast<int>(digits[i].duration_samples) - static_cast<int>(on)) <=
              static_cast<int>(2 * tone_detector::block_samples));
        CHECK(std::abs(static_cast<long>(digits[i].start_sample) - static_cast<long>(i * period)) <=
              static_cast<long>(tone_detector::block_samples));
    }
    CHECK(det.in_tone() == '\0');
    CHECK(det.overflows() == 0);
}

TEST_CASE("in_tone is set while a tone sounds") {
    const auto pcm = generate("7", 200, 400);
    tone_detector det;
    // Up to the middle of the tone.
    det.feed(std::span(pcm.data(), 800));
    CHECK(det.in_tone() == '7');
    CHECK_FALSE(det.take());
    det.feed(std::span(pcm.data() + 800, pcm.size() - 800));
    CHECK(det.in_tone() == '\0');
    const auto d = det.take();
    REQUIRE(d);
    CHECK(d->symbol == '7');
}

TEST_CASE("the shortest tones (40 ms, Q.24) are still detected") {
    const auto pcm = generate("159#", 40, 800);
    tone_detector det;
    CHECK(symbols(detect(det, pcm)) == "159#");
}

TEST_CASE("tones under noise and a speech-level tone are detected") {
    constexpr std::string_view keys = "1234567890*#ABCD";
    auto pcm = generate(keys, 80, 800);
    // Leading speech before the first digit.
    pcm.insert(pcm.begin(), 4000, 0);
    lcg noise;
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        // White noise about 25 dB below the tones, and a 220 Hz tone about
        // 12 dB below them, as a voice behind the keypad would be.
        const double voice = 2000.0 * std::sin(2.0 * pi * 220.0 * static_cast<double>(i) / 8000.0);
        pcm[i] = saturate(pcm[i] + noise.next(600) + static_cast<int>(voice));
    }
    tone_detector det;
    CHECK(symbols(detect(det, pcm)) == keys);
}

TEST_CASE("silence and noise alone detect nothing") {
    tone_detector det;
    const std::vector<std::int16_t> silence(8000 * 3, 0);
    CHECK(detect(det, silence).empty());
    std::vector<std::int16_t> hiss(8000 * 3);
    lcg noise;
    for (auto& s : hiss) {
        s = saturate(noise.next(3000));
    }
    CHECK(detect(det, hiss).empty());
    CHECK(det.in_tone() == '\0');
}

TEST_CASE("the generator writes only what it has and leaves the rest") {
    tone_generator gen;
    CHECK_FALSE(gen.busy());
    std::vector<std::int16_t> buf(2000, 1234);
    CHECK(gen.fill(buf) == 0);
    CHECK(buf[0] == 1234);

    REQUIRE(gen.start('5', 100));
    CHECK(gen.busy());
    const std::size_t n = gen.fill(buf);
    CHECK(n == (100 + tone_generator::gap_ms) * 8);
    CHECK(buf[n] == 1234);
    CHECK(buf[n - 1] == 0);  // the gap is silence
    bool sounding = false;
    for (std::size_t i = 0; i < 800; ++i) {
        sounding = sounding || std::abs(buf[i]) > 1000;
    }
    CHECK(sounding);
    gen.fill(buf);  // tells the generator spandsp ran dry
    CHECK_FALSE(gen.busy());
}

TEST_CASE("the generator refuses what has no tone, and clear stops at once") {
    tone_generator gen;
    CHECK_FALSE(gen.start(flash_symbol, 100));
    CHECK_FALSE(gen.start('x', 100));
    CHECK_FALSE(gen.busy());
    for (std::size_t i = 0; i < tone_generator::queue_capacity; ++i) {
        CHECK(gen.start('1', 100));
    }
    CHECK_FALSE(gen.start('1', 100));

    std::int16_t buf[frame];
    CHECK(gen.fill(buf) == frame);
    gen.clear();
    CHECK_FALSE(gen.busy());
    CHECK(gen.fill(buf) == 0);
    // And it works again afterwards.
    CHECK(gen.start('d', 60));
    CHECK(gen.fill(buf) == frame);
}
