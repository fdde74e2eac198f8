// One leg's RTP clock against the PCM rate a codec chain decodes or encodes
// that leg's audio at. They are not the same thing and often not the same
// number: G.722 samples at 16000 Hz on an 8000 Hz clock (RFC 3551 4.5.2: 160
// ticks for a 20 ms packet of 320 samples), Opus's clock is 48000 Hz at
// whatever rate it is coded (RFC 7587 4.1), and a chain may decode G.722 at
// 8000 Hz or Opus at 16000. Every conversion between timestamp ticks and
// sample counts in the chain goes through this type, so that none assumes
// one tick per sample or a whole number of ticks per sample.
//
// A plain value, used by the owning worker; nothing here allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sbc::transcoder {

struct rtp_clock {
    std::uint32_t clock_rate = 8000;  ///< RTP timestamp ticks per second (the rtpmap's rate)
    std::uint32_t pcm_rate = 8000;    ///< PCM samples per second

    /// The ticks `samples` samples last, rounded down (RFC 3550 5.1: the
    /// timestamp counts the clock, not the samples).
    constexpr std::uint32_t ticks_of(std::uint64_t samples) const noexcept {
        return static_cast<std::uint32_t>(samples * clock_rate / pcm_rate);
    }

    /// The samples `ticks` ticks last, rounded down.
    constexpr std::size_t samples_of(std::uint64_t ticks) const noexcept {
        return static_cast<std::size_t>(ticks * pcm_rate / clock_rate);
    }

    /// Whether `samples` samples last a whole number of ticks: what a packet
    /// must, for its successor's timestamp to be exact.
    constexpr bool whole_ticks(std::uint64_t samples) const noexcept {
        return samples * clock_rate % pcm_rate == 0;
    }
};

}  // namespace sbc::transcoder
