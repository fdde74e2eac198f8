#include "transcoder/chain/dtmf_bridge.hpp"

#include <algorithm>

namespace sbc::transcoder {

namespace {

// An event with no packet for this long has lost its end packets: three
// update intervals of 50 ms and some (RFC 4733 2.5.1.2 suggests 50 ms).
constexpr std::int64_t event_silence_ns = 250'000'000;

}  // namespace

dtmf_bridge::dtmf_bridge(dtmf_mode in, dtmf_mode out, std::uint32_t in_event_clock,
                         std::uint32_t out_event_clock, unsigned interval_ms)
    : _in(in), _out(out), _in_event_clock(in_event_clock > 0 ? in_event_clock : 8000) {
    if (in == dtmf_mode::rfc4733) {
        _receiver = std::make_unique<dtmf::event_receiver>();
    } else if (in == dtmf_mode::inband) {
        _detector = std::make_unique<dtmf::tone_detector>();
    }
    if (out == dtmf_mode::rfc4733) {
        _sender = std::make_unique<dtmf::event_sender>(out_event_clock > 0 ? out_event_clock : 8000,
                                                       interval_ms > 0 ? interval_ms : 20);
    } else if (out == dtmf_mode::inband) {
        _generator = std::make_unique<dtmf::tone_generator>();
    }
}

dtmf_bridge::~dtmf_bridge() = default;

void dtmf_bridge::on_event_packet(const rtp_view& rtp, std::int64_t now_ns) noexcept {
    if (!_receiver) {
        return;
    }
    _last_event_ns = now_ns;
    (void)_receiver->feed(rtp.timestamp, rtp.marker, rtp.payload);
    deliver_received();
}

void dtmf_bridge::deliver_received() noexcept {
    while (auto d = _receiver->take()) {
        (void)deliver(d->symbol,
                      static_cast<std::uint32_t>(static_cast<std::uint64_t>(d->duration_samples) *
                                                 1000 / _in_event_clock));
    }
}

void dtmf_bridge::expire_events(std::int64_t now_ns) noexcept {
    if (_receiver && _receiver->current() && now_ns - _last_event_ns > event_silence_ns) {
        _receiver->expire();
        deliver_received();
    }
}

void dtmf_bridge::restart_input() noexcept {
    if (_receiver) {
        if (_receiver->current()) {
            _receiver->expire();
            deliver_received();
        }
        _receiver->reset();
    }
    if (_detector) {
        _detector->reset();
    }
}

void dtmf_bridge::on_decoded(std::span<std::int16_t> pcm) noexcept {
    if (!_detector) {
        return;
    }
    // A tone sounding at either end of the block is muted in all of it: the
    // block that confirms a tone's end still holds its tail.
    const bool sounding = _detector->in_tone() != '\0';
    _detector->feed(pcm);
    if (sounding || _detector->in_tone() != '\0') {
        // The digit leaves as an event or INFO: its tone must not reach the
        // other leg as well, or the far end hears it twice.
        std::fill(pcm.begin(), pcm.end(), std::int16_t{0});
    }
    while (auto d = _detector->take()) {
        (void)deliver(d->symbol, d->duration_samples / (dtmf::tone_detector::sample_rate / 1000));
    }
}

void dtmf_bridge::before_encode(std::span<std::int16_t> pcm) noexcept {
    if (_generator && _generator->busy()) {
        (void)_generator->fill(pcm);
    }
}

std::optional<dtmf::event_packet> dtmf_bridge::next_event(std::uint32_t rtp_timestamp) noexcept {
    if (!_sender || !_sender->busy()) {
        return std::nullopt;
    }
    return _sender->next(rtp_timestamp);
}

bool dtmf_bridge::queue(char symbol, std::uint32_t duration_ms) noexcept {
    if (_in != dtmf_mode::info) {
        return false;
    }
    return deliver(symbol, duration_ms);
}

bool dtmf_bridge::deliver(char symbol, std::uint32_t duration_ms) noexcept {
    bool taken = false;
    switch (_out) {
        case dtmf_mode::rfc4733:
            taken = _sender && _sender->start(symbol, duration_ms);
            break;
        case dtmf_mode::inband:
            taken = _generator && _generator->start(symbol, duration_ms);
            break;
        case dtmf_mode::info:
            if (_reports_queued < report_capacity) {
                _reports[(_report_head + _reports_queued) % report_capacity] =
                    reported_digit{symbol, duration_ms};
                ++_reports_queued;
                taken = true;
            }
            break;
    }
    ++(taken ? _digits : _lost);
    return taken;
}

std::optional<reported_digit> dtmf_bridge::take_report() noexcept {
    if (_reports_queued == 0) {
        return std::nullopt;
    }
    const auto d = _reports[_report_head];
    _report_head = (_report_head + 1) % report_capacity;
    --_reports_queued;
    return d;
}

}  // namespace sbc::transcoder
