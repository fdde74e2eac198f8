#include "transcoder/dtmf/tone_generator.hpp"

#include <algorithm>
#include <stdexcept>

#include <spandsp.h>

#include "transcoder/dtmf/telephone_event.hpp"

namespace sbc::transcoder::dtmf {

void tone_generator::state_deleter::operator()(dtmf_tx_state_s* s) const noexcept {
    if (s != nullptr) {
        dtmf_tx_free(s);
    }
}

tone_generator::tone_generator() : _tx(dtmf_tx_init(nullptr)) {
    if (!_tx) {
        throw std::runtime_error("spandsp: dtmf_tx_init failed");
    }
}

bool tone_generator::start(char symbol, unsigned duration_ms) noexcept {
    if (!is_dtmf_key(symbol) || _queued == queue_capacity) {
        return false;
    }
    // spandsp's dtmf_tx knows the upper-case keys only.
    const char key = digit_of(*event_of(symbol));
    _queue[(_queue_head + _queued) % queue_capacity] =
        pending{key, std::clamp(duration_ms, min_duration_ms, max_duration_ms)};
    ++_queued;
    return true;
}

bool tone_generator::load_next() noexcept {
    if (_queued == 0) {
        return false;
    }
    const pending d = _queue[_queue_head];
    _queue_head = (_queue_head + 1) % queue_capacity;
    --_queued;
    dtmf_tx_set_timing(_tx.get(), static_cast<int>(d.duration_ms), static_cast<int>(gap_ms));
    dtmf_tx_put(_tx.get(), &d.symbol, 1);
    _playing = true;
    return true;
}

std::size_t tone_generator::fill(std::span<std::int16_t> pcm) noexcept {
    std::size_t written = 0;
    while (written < pcm.size()) {
        if (!_playing && !load_next()) {
            break;
        }
        const int want = static_cast<int>(pcm.size() - written);
        const int got = dtmf_tx(_tx.get(), pcm.data() + written, want);
        written += static_cast<std::size_t>(std::max(got, 0));
        if (got < want) {
            _playing = false;  // spandsp's digit (tone and gap) is played out
        }
    }
    return written;
}

void tone_generator::clear() noexcept {
    _queue_head = 0;
    _queued = 0;
    // spandsp has no call to abandon a tone: a fresh state does it. No
    // allocation: dtmf_tx_init re-initialises the state it is given.
    dtmf_tx_init(_tx.get());
    _playing = false;
}

}  // namespace sbc::transcoder::dtmf
