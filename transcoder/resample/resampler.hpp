// The PCM rate converter of the codec chain: when the decoder of one leg
// and the encoder of the other work at different rates (G.711 at 8000 Hz,
// Opus at 48000 Hz), the chain runs one resampler per direction between
// them. A wrapper around speexdsp's resampler (a windowed-sinc filter),
// which keeps the filter history between calls, so packets join seamlessly.
//
// Made on the control thread with the chain (it allocates); from then on
// only the worker that owns the chain calls it, and no call allocates.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

// speexdsp's opaque state, named here so the header stays free of its
// include (SpeexResamplerState is a typedef of this struct).
struct SpeexResamplerState_;

namespace sbc::transcoder {

class resampler {
public:
    /// A mono converter from `from_rate` to `to_rate` Hz. `quality` is
    /// speexdsp's 0 (fastest) to 10 (best); 3 is its VoIP setting. Throws
    /// std::runtime_error naming what speexdsp refused.
    resampler(std::uint32_t from_rate, std::uint32_t to_rate, int quality = 3);

    /// Converts all of `in` into `out`. Returns the samples written, which
    /// varies by one from call to call when the ratio is not an integer, or
    /// -1 when `out` is shorter than in.size() * to / from rounded up.
    /// The filter delays the signal by a few milliseconds.
    int process(std::span<const std::int16_t> in, std::span<std::int16_t> out) noexcept;

    /// Forgets the filter history, as at a new talk spurt or stream.
    void reset() noexcept;

    std::uint32_t from_rate() const noexcept { return _from; }
    std::uint32_t to_rate() const noexcept { return _to; }

private:
    struct state_deleter {
        void operator()(SpeexResamplerState_* s) const noexcept;
    };

    std::unique_ptr<SpeexResamplerState_, state_deleter> _state;
    std::uint32_t _from;
    std::uint32_t _to;
};

}  // namespace sbc::transcoder
