#include "transcoder/dtmf/tone_detector.hpp"

#include <algorithm>
#include <stdexcept>

#include <spandsp.h>

namespace sbc::transcoder::dtmf {

void tone_detector::state_deleter::operator()(dtmf_rx_state_s* s) const noexcept {
    if (s != nullptr) {
        dtmf_rx_free(s);
    }
}

tone_detector::tone_detector() : _rx(dtmf_rx_init(nullptr, nullptr, nullptr)) {
    if (!_rx) {
        throw std::runtime_error("spandsp: dtmf_rx_init failed");
    }
    // With a realtime callback spandsp reports each confirmed change (and no
    // longer fills its digit buffer): what gives the durations.
    dtmf_rx_set_realtime_callback(_rx.get(), &tone_detector::on_tone, this);
}

void tone_detector::on_tone(void* self, int code, int level, int delay) noexcept {
    // Trampoline only. `level` (dBm0) is not needed; `delay` is the time
    // since the last change in some spandsp versions and 0 in others, so
    // the detector counts samples itself.
    (void)level;
    (void)delay;
    static_cast<tone_detector*>(self)->tone_changed(code);
}

void tone_detector::feed(std::span<const std::int16_t> pcm) noexcept {
    // spandsp calls back at the end of the block that confirms a change. The
    // pieces fed end on block boundaries, so a callback during a piece
    // happened at its end (_position).
    while (!pcm.empty()) {
        const std::size_t to_boundary = block_samples - _position % block_samples;
        const std::size_t n = std::min(pcm.size(), to_boundary);
        _position += n;
        dtmf_rx(_rx.get(), pcm.data(), static_cast<int>(n));
        pcm = pcm.subspan(n);
    }
}

void tone_detector::tone_changed(int code) noexcept {
    const std::uint64_t at = _position;
    if (_current != '\0') {
        // The tone ended, or spandsp went straight to another digit.
        const std::uint64_t duration = at - _current_start;
        push(detected_digit{
            _current, _current_start > latency_samples ? _current_start - latency_samples : 0,
            static_cast<std::uint32_t>(std::min<std::uint64_t>(duration, UINT32_MAX))});
    }
    _current = static_cast<char>(code);
    _current_start = at;
}

void tone_detector::push(const detected_digit& d) noexcept {
    if (_ring_size == ring_capacity) {
        ++_overflows;
        return;
    }
    _ring[(_ring_head + _ring_size) % ring_capacity] = d;
    ++_ring_size;
}

std::optional<detected_digit> tone_detector::take() noexcept {
    if (_ring_size == 0) {
        return std::nullopt;
    }
    const detected_digit d = _ring[_ring_head];
    _ring_head = (_ring_head + 1) % ring_capacity;
    --_ring_size;
    return d;
}

void tone_detector::reset() noexcept {
    // dtmf_rx_init on the existing state re-initialises it without
    // allocating, and clears the callback: set it again.
    dtmf_rx_init(_rx.get(), nullptr, nullptr);
    dtmf_rx_set_realtime_callback(_rx.get(), &tone_detector::on_tone, this);
    _position = 0;
    _current = '\0';
    _ring_head = 0;
    _ring_size = 0;
}

}  // namespace sbc::transcoder::dtmf
