// The codec registry: the one table that lists what the SBC can transcode.
// A new codec adds its codec_info in its own folder and one line here.
#include <algorithm>
#include <array>
#include <cctype>

#include "transcoder/api/codec.hpp"
#include "transcoder/g711/g711.hpp"
#include "transcoder/g722/g722.hpp"
#include "transcoder/g729/g729.hpp"
#include "transcoder/opus/opus.hpp"

namespace sbc::transcoder {

namespace {

constexpr std::array registry{
    &pcmu_codec, &pcma_codec, &g722_codec, &g729_codec, &opus_codec,
};

bool same_name(std::string_view a, std::string_view b) noexcept {
    // RFC 4566 6: encoding names are case-insensitive ("opus", "PCMU").
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

}  // namespace

std::span<const codec_info* const> registered_codecs() noexcept { return registry; }

const codec_info* find_codec(std::string_view encoding, std::uint32_t clock_rate) noexcept {
    for (const codec_info* c : registry) {
        if (c->clock_rate == clock_rate && same_name(c->encoding, encoding)) {
            return c;
        }
    }
    return nullptr;
}

std::uint32_t encoder_pcm_rate(const codec_info& to, const audio_format& f) noexcept {
    // RFC 7587 7.1: maxplaybackrate is the highest rate the receiver can
    // render; encoding above it only wastes bits, so the encoder runs at the
    // lowest supported rate that covers it.
    for (std::uint32_t rate : to.pcm_rates) {
        if (rate >= f.max_playback_rate) {
            return rate;
        }
    }
    return to.pcm_rates.empty() ? 8000 : to.pcm_rates.back();
}

std::uint32_t decoder_pcm_rate(const codec_info& from, std::uint32_t pcm_rate) noexcept {
    // pcm_rates is sorted, lowest first: the first rate at or above the
    // chain's keeps all of its band (G.722 decoded at 16000 for Opus at
    // 12000, not at 8000 without the 4-6 kHz the Opus side carries).
    for (std::uint32_t rate : from.pcm_rates) {
        if (rate >= pcm_rate) {
            return rate;
        }
    }
    return from.pcm_rates.empty() ? 8000 : from.pcm_rates.back();
}

}  // namespace sbc::transcoder
