// The speexdsp resampler behind sbc::transcoder::resampler.
#include "transcoder/resample/resampler.hpp"

#include <speex/speex_resampler.h>

#include <climits>
#include <stdexcept>
#include <string>

namespace sbc::transcoder {

void resampler::state_deleter::operator()(SpeexResamplerState_* s) const noexcept {
    if (s != nullptr) {
        speex_resampler_destroy(s);
    }
}

resampler::resampler(std::uint32_t from_rate, std::uint32_t to_rate, int quality)
    : _from(from_rate), _to(to_rate) {
    if (from_rate == 0 || to_rate == 0) {
        throw std::runtime_error("resampler: a rate of 0 Hz (" + std::to_string(from_rate) +
                                 " -> " + std::to_string(to_rate) + ")");
    }
    int err = RESAMPLER_ERR_SUCCESS;
    _state.reset(speex_resampler_init(1, from_rate, to_rate, quality, &err));
    if (err != RESAMPLER_ERR_SUCCESS || !_state) {
        throw std::runtime_error("resampler: speexdsp refused " + std::to_string(from_rate) +
                                 " -> " + std::to_string(to_rate) + " Hz at quality " +
                                 std::to_string(quality) + ": " + speex_resampler_strerror(err));
    }
}

int resampler::process(std::span<const std::int16_t> in, std::span<std::int16_t> out) noexcept {
    const std::uint64_t needed = (std::uint64_t{in.size()} * _to + _from - 1) / _from;
    if (needed > out.size() || out.size() > INT_MAX) {
        return -1;
    }
    std::size_t consumed = 0;
    std::size_t written = 0;
    // speexdsp stops at whichever buffer runs out first; with room for the
    // rounded-up output it takes all the input in one call, the loop only
    // guards that promise.
    while (consumed < in.size()) {
        spx_uint32_t in_len = static_cast<spx_uint32_t>(in.size() - consumed);
        spx_uint32_t out_len = static_cast<spx_uint32_t>(out.size() - written);
        if (speex_resampler_process_int(_state.get(), 0, in.data() + consumed, &in_len,
                                        out.data() + written, &out_len) != RESAMPLER_ERR_SUCCESS ||
            in_len == 0) {
            return -1;
        }
        consumed += in_len;
        written += out_len;
    }
    return static_cast<int>(written);
}

void resampler::reset() noexcept { speex_resampler_reset_mem(_state.get()); }

}  // namespace sbc::transcoder
