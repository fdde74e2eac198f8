// Real speech for the codec tests, and the measures they take of it.
//
// The speech is made at test time by espeak-ng (a formant synthesiser: a
// voice with pitch, formants and silences between words, which the codecs
// treat as speech) into a temporary directory, and converted to the rate a
// test asks for with the project's resampler. A machine without espeak-ng
// fails the test that asks, with a message saying so: it never skips.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sbc::transcoder::test {

/// A few seconds of mono 16-bit speech at `rate` Hz, whole packets of 10 ms
/// long; made once per process and rate.
const std::vector<std::int16_t>& speech(std::uint32_t rate);

/// The signal-to-noise ratio in dB of `decoded` against `original`, over
/// their common length, with `decoded` taken `delay` samples late.
double snr_db(std::span<const std::int16_t> original, std::span<const std::int16_t> decoded,
              std::size_t delay = 0);

/// The mean square of a signal.
double energy(std::span<const std::int16_t> signal);

/// `n` samples of a sine at `hz` with amplitude `amplitude`, sampled at `rate`.
std::vector<std::int16_t> sine(double hz, double amplitude, std::uint32_t rate, std::size_t n);

}  // namespace sbc::transcoder::test
