#include "transcoder/tone/ringback_cadence.hpp"

#include <numeric>

namespace sbc::transcoder {

std::uint32_t ringback_cadence::cycle_ms() const noexcept {
    const auto s = segments();
    return std::accumulate(s.begin(), s.end(), std::uint32_t{0});
}

const ringback_cadence& cadence_of(ringback_tone tone) noexcept {
    // ITU-T E.180 Supplement 2 (Various tones used in national networks).
    static const ringback_cadence us{{440.0, 480.0}, -19.0, {2000, 4000, 0, 0}, 2};
    static const ringback_cadence eu{{425.0, 0.0}, -16.0, {1000, 4000, 0, 0}, 2};
    static const ringback_cadence uk{{400.0, 450.0}, -19.0, {400, 200, 400, 2000}, 4};
    switch (tone) {
        case ringback_tone::eu:
            return eu;
        case ringback_tone::uk:
            return uk;
        case ringback_tone::us:
            break;
    }
    return us;
}

std::string_view to_string(ringback_tone tone) noexcept {
    switch (tone) {
        case ringback_tone::eu:
            return "eu";
        case ringback_tone::uk:
            return "uk";
        case ringback_tone::us:
            break;
    }
    return "us";
}

std::optional<ringback_tone> ringback_tone_named(std::string_view name) noexcept {
    for (auto t : {ringback_tone::us, ringback_tone::eu, ringback_tone::uk}) {
        if (name == to_string(t)) {
            return t;
        }
    }
    return std::nullopt;
}

}  // namespace sbc::transcoder
