// The ringing tones a caller expects to hear while the called party is
// alerted, by country, as ITU-T E.180 Supplement 2 lists them: which
// frequencies sound together, at what level, and the on/off cadence.
//
// Pure data and arithmetic on it: the tone_source (tone_source.hpp) turns a
// cadence into PCM; the tests measure the PCM against the same table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace sbc::transcoder {

/// The ringback tones the SBC can play (config: trunk `ringback_tone`).
enum class ringback_tone : std::uint8_t {
    us,  ///< North America: 440 + 480 Hz, 2 s on, 4 s off
    eu,  ///< most of Europe (CEPT): 425 Hz, 1 s on, 4 s off
    uk,  ///< United Kingdom: 400 + 450 Hz, 0.4 on 0.2 off 0.4 on 2.0 off
};

/// One country's ringing tone.
struct ringback_cadence {
    /// The frequencies that sound together (one or two; 0 for none).
    std::array<double, 2> frequencies_hz{};
    /// The level of each frequency in dBm0 (E.180: -19 dBm0 for each of the
    /// two US frequencies, about -16 dBm0 for a single one).
    double level_dbm0 = -19.0;
    /// On and off durations in ms, alternating, starting with on; the cycle
    /// repeats from the start.
    std::array<std::uint32_t, 4> segments_ms{};
    std::size_t segment_count = 0;

    std::span<const std::uint32_t> segments() const noexcept {
        return {segments_ms.data(), segment_count};
    }
    /// One whole cycle in ms.
    std::uint32_t cycle_ms() const noexcept;
};

/// The E.180 Supplement 2 cadence of `tone`.
const ringback_cadence& cadence_of(ringback_tone tone) noexcept;

/// "us", "eu", "uk" (as the configuration spells them).
std::string_view to_string(ringback_tone tone) noexcept;
std::optional<ringback_tone> ringback_tone_named(std::string_view name) noexcept;

}  // namespace sbc::transcoder
