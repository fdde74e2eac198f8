#include "transcoder/dtmf/event_sender.hpp"

#include <algorithm>

namespace sbc::transcoder::dtmf {

namespace {

std::uint32_t ms_to_units(std::uint32_t ms, std::uint32_t clock_rate) noexcept {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(ms) * clock_rate / 1000);
}

}  // namespace

event_sender::event_sender(std::uint32_t clock_rate, unsigned interval_ms) noexcept
    : _clock_rate(clock_rate),
      _interval(std::max<std::uint32_t>(1, ms_to_units(interval_ms, clock_rate))) {}

bool event_sender::start(char symbol, std::uint32_t duration_ms) noexcept {
    const auto event = event_of(symbol);
    if (!event || _queued == queue_capacity) {
        return false;
    }
    const std::uint32_t duration =
        std::max(_interval, ms_to_units(std::min(duration_ms, max_duration_ms), _clock_rate));
    _queue[(_queue_head + _queued) % queue_capacity] = pending{*event, duration};
    ++_queued;
    return true;
}

event_packet event_sender::make(bool end, std::uint16_t duration) const noexcept {
    event_packet p;
    write_event(event_payload{_event, end, default_volume, duration}, p.payload);
    p.rtp_timestamp = _segment_ts;
    p.end = end;
    return p;
}

std::optional<event_packet> event_sender::next(std::uint32_t rtp_timestamp) noexcept {
    if (!_active) {
        if (_queued == 0) {
            return std::nullopt;
        }
        const pending d = _queue[_queue_head];
        _queue_head = (_queue_head + 1) % queue_capacity;
        --_queued;
        _active = true;
        _event = d.event;
        _total = d.duration;
        _elapsed = 0;
        _segment_ts = rtp_timestamp;
        _segment_start = 0;
        _first = true;
        _ends_sent = 0;
    }

    event_packet p;
    if (_elapsed < _total) {
        const std::uint32_t elapsed = std::min(_elapsed + _interval, _total);
        _elapsed = elapsed;
        if (elapsed - _segment_start > segment_span) {
            // RFC 4733 2.5.1.3: close this segment at the largest duration,
            // and go on in a new one, timestamped where this one ends.
            p = make(false, static_cast<std::uint16_t>(segment_span));
            _segment_start += segment_span;
            _segment_ts += segment_span;
        } else {
            const bool end = elapsed == _total;
            p = make(end, static_cast<std::uint16_t>(elapsed - _segment_start));
            _ends_sent = end ? 1 : 0;
        }
    } else {
        // RFC 4733 2.5.1.4: the final packet again, same duration.
        p = make(true, static_cast<std::uint16_t>(_total - _segment_start));
        ++_ends_sent;
    }
    p.marker = _first;
    _first = false;
    if (_ends_sent >= end_repeats) {
        _active = false;
    }
    return p;
}

void event_sender::clear() noexcept {
    _active = false;
    _queue_head = 0;
    _queued = 0;
}

}  // namespace sbc::transcoder::dtmf
