#include "transcoder/dtmf/event_receiver.hpp"

namespace sbc::transcoder::dtmf {

namespace {

// RFC 3550 timestamps wrap: compare them as serial numbers.
std::int32_t ts_diff(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::int32_t>(a - b);
}

}  // namespace

feed_result event_receiver::feed(std::uint32_t rtp_timestamp, bool marker,
                                 std::span<const std::uint8_t> payload) noexcept {
    feed_result result;
    const std::size_t blocks = event_block_count(payload);
    if (blocks == 0) {
        ++_counters.malformed;
        return result;
    }
    // RFC 4733 2.5.1.5, 2.5.2.4: the timestamp is the first event's start;
    // each later event starts where the one before it ended.
    std::uint32_t ts = rtp_timestamp;
    for (std::size_t i = 0; i < blocks; ++i) {
        const event_payload e = parse_event_block(payload, i);
        handle_block(ts, marker && i == 0, e, result);
        ts += e.duration;
    }
    return result;
}

void event_receiver::handle_block(std::uint32_t ts, bool marker, const event_payload& e,
                                  feed_result& result) noexcept {
    const char symbol = digit_of(e.event);
    if (symbol == '\0') {
        ++_counters.not_dtmf;
        return;
    }
    if (_open && ts == _open->segment_ts) {
        if (e.event != _open->event) {
            ++_counters.stale;  // one timestamp, two events: keep the first
            return;
        }
        // Reordered updates carry shorter durations: keep the longest.
        if (e.duration > _open->segment_duration) {
            _open->segment_duration = e.duration;
        }
        if (e.end) {
            close(&result);
        }
        return;
    }
    if (_newest_ts) {
        const std::int32_t age = ts_diff(*_newest_ts, ts);
        if (age >= 0 && static_cast<std::uint32_t>(age) <= stale_window) {
            // An ended event's retransmitted end or late update, or a packet
            // of an event older than the newest.
            ++_counters.stale;
            return;
        }
    }
    if (_open && !marker && e.event == _open->event && ts - _open->segment_ts == segment_span) {
        // RFC 4733 2.5.2.3: the next segment of a long event.
        _open->before_segment += segment_span;
        _open->segment_ts = ts;
        _open->segment_duration = e.duration;
        _newest_ts = ts;
        if (e.end) {
            close(&result);
        }
        return;
    }
    if (_open) {
        // RFC 4733 2.5.2: a new event while one is open: its end was lost.
        ++_counters.end_missing;
        close(&result);
    }
    _open = open_event{e.event, ts, ts, 0, e.duration};
    _newest_ts = ts;
    result.started = digit_start{symbol, ts};
    if (e.end) {
        close(&result);
    }
}

void event_receiver::close(feed_result* result) noexcept {
    if (!_open) {
        return;
    }
    push(digit{digit_of(_open->event), _open->before_segment + _open->segment_duration,
               _open->start_ts});
    if (result != nullptr) {
        ++result->ended;
    }
    _open.reset();
}

bool event_receiver::expire() noexcept {
    if (!_open) {
        return false;
    }
    ++_counters.end_missing;
    close(nullptr);
    return true;
}

void event_receiver::push(const digit& d) noexcept {
    if (_ring_size == ring_capacity) {
        ++_counters.ring_overflow;
        return;
    }
    _ring[(_ring_head + _ring_size) % ring_capacity] = d;
    ++_ring_size;
}

std::optional<digit> event_receiver::take() noexcept {
    if (_ring_size == 0) {
        return std::nullopt;
    }
    const digit d = _ring[_ring_head];
    _ring_head = (_ring_head + 1) % ring_capacity;
    --_ring_size;
    return d;
}

std::optional<digit_start> event_receiver::current() const noexcept {
    if (!_open) {
        return std::nullopt;
    }
    return digit_start{digit_of(_open->event), _open->start_ts};
}

void event_receiver::reset() noexcept {
    _open.reset();
    _newest_ts.reset();
    _ring_head = 0;
    _ring_size = 0;
}

}  // namespace sbc::transcoder::dtmf
