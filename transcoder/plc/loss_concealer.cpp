// spandsp's PLC behind loss_concealer.
#include "transcoder/plc/loss_concealer.hpp"

#include <algorithm>
#include <stdexcept>

// spandsp after the standard headers (it needs <cstdint>), and its lrint
// and lrintf macros undone after it (a unity build may include <cmath>
// behind this file).
#include <spandsp/telephony.h>
// telephony.h first: plc.h uses its SPAN_DECLARE.
#include <spandsp/plc.h>
#undef lrint
#undef lrintf

namespace sbc::transcoder {

struct loss_concealer::state {
    plc_state_t plc{};
};

loss_concealer::loss_concealer() : _state(std::make_unique<state>()) {
    if (plc_init(&_state->plc) == nullptr) {
        throw std::runtime_error("spandsp plc_init failed");
    }
}

loss_concealer::~loss_concealer() = default;

void loss_concealer::received(std::span<std::int16_t> pcm) noexcept {
    if (!pcm.empty()) {
        plc_rx(&_state->plc, pcm.data(), static_cast<int>(pcm.size()));
    }
}

int loss_concealer::fill(std::span<std::int16_t> pcm) noexcept {
    if (pcm.empty()) {
        return 0;
    }
    // spandsp 0.0.6 (Debian 12) starts a fill-in by rotating its history
    // ring so that the oldest sample comes first, with memcpy over ranges
    // that overlap whenever the write position is in the ring's first half
    // (undefined behaviour; AddressSanitizer stops on it). The same
    // rotation done here first, with std::rotate, leaves it nothing to move.
    plc_state_t& s = _state->plc;
    std::rotate(std::begin(s.history), std::begin(s.history) + s.buf_ptr, std::end(s.history));
    s.buf_ptr = 0;
    return plc_fillin(&s, pcm.data(), static_cast<int>(pcm.size()));
}

}  // namespace sbc::transcoder
