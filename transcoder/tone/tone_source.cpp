#include "transcoder/tone/tone_source.hpp"

#include <cmath>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include "transcoder/chain/rtp_packet.hpp"

namespace sbc::transcoder {

namespace {

constexpr double pi = 3.14159265358979323846;
// The most packets one release() sends to catch up; a worker further
// behind skips ahead instead (see release()).
constexpr int max_catch_up = 3;

// The peak amplitude of a sine at `dbm0`: G.711's full-scale sine is
// +3.14 dBm0 (ITU-T G.711 table 5/6's digital milliwatt is 0 dBm0).
double amplitude_of(double dbm0) { return 32767.0 * std::pow(10.0, (dbm0 - 3.14) / 20.0); }

}  // namespace

tone_source::tone_source(const tone_config& cfg) : _cfg(cfg), _cadence(&cadence_of(cfg.tone)) {}

tone_source::~tone_source() = default;

result<std::unique_ptr<tone_source>> tone_source::make(const tone_config& cfg) {
    std::unique_ptr<tone_source> t(new tone_source(cfg));
    if (auto problem = t->prepare()) {
        return *problem;
    }
    return t;
}

std::optional<error> tone_source::prepare() {
    const codec_info* info = find_codec(_cfg.out.encoding, _cfg.out.clock_rate);
    if (info == nullptr) {
        return make_error("no encoder for " + _cfg.out.encoding + "/" +
                          std::to_string(_cfg.out.clock_rate));
    }
    if (_cfg.out.ptime_ms < 10 || _cfg.out.ptime_ms > 120) {
        return make_error("ptime " + std::to_string(_cfg.out.ptime_ms) + " ms is out of 10-120");
    }
    _pcm_rate = encoder_pcm_rate(*info, _cfg.out);
    try {
        _encoder = info->make_encoder(_cfg.out, _pcm_rate);
    } catch (const std::runtime_error& e) {
        return make_error(_cfg.out.encoding + " encoder: " + e.what());
    }
    _packet_samples = _encoder->packet_samples();
    if (_packet_samples == 0 || _packet_samples > _pcm.size()) {
        return make_error(_cfg.out.encoding + " packets of " + std::to_string(_packet_samples) +
                          " samples");
    }
    _ticks_per_packet = _cfg.out.ptime_ms * _cfg.out.clock_rate / 1000;
    _packet_ns = std::int64_t{_cfg.out.ptime_ms} * 1'000'000;

    // The sum of the frequencies repeats after rate / gcd(rate, f1, f2)
    // samples (all are whole hertz), a few hundred at most.
    std::uint32_t g = _pcm_rate;
    for (double f : _cadence->frequencies_hz) {
        if (f > 0) {
            g = std::gcd(g, static_cast<std::uint32_t>(f));
        }
    }
    _period.resize(_pcm_rate / g);
    const double a = amplitude_of(_cadence->level_dbm0);
    for (std::size_t n = 0; n < _period.size(); ++n) {
        double v = 0;
        for (double f : _cadence->frequencies_hz) {
            if (f > 0) {
                v += a * std::sin(2 * pi * f * static_cast<double>(n) / _pcm_rate);
            }
        }
        _period[n] = static_cast<std::int16_t>(std::lround(v));
    }
    const auto segments = _cadence->segments();
    for (std::size_t i = 0; i < segments.size(); ++i) {
        _segment_samples[i] = std::size_t{segments[i]} * _pcm_rate / 1000;
    }
    _ramp = _pcm_rate / 500;
    _seq = _cfg.origin.sequence;
    _ts = _cfg.origin.timestamp;
    return std::nullopt;
}

void tone_source::start(std::int64_t now_ns) noexcept {
    _started = true;
    _due_ns = now_ns;
    _marker = true;
}

void tone_source::fill(std::span<std::int16_t> pcm) noexcept {
    const std::size_t segments = _cadence->segment_count;
    for (auto& s : pcm) {
        const std::size_t len = _segment_samples[_segment];
        if (_segment % 2 == 0) {
            // Faded in and out over _ramp samples.
            const std::size_t edge = std::min(_offset, len - 1 - _offset);
            const std::int32_t v = _period[_phase];
            s = edge >= _ramp ? static_cast<std::int16_t>(v)
                              : static_cast<std::int16_t>(v * static_cast<std::int32_t>(edge) /
                                                          static_cast<std::int32_t>(_ramp));
        } else {
            s = 0;
        }
        if (++_phase == _period.size()) {
            _phase = 0;
        }
        if (++_offset == len) {
            _offset = 0;
            _segment = (_segment + 1) % segments;
        }
    }
}

bool tone_source::emit(packet_sink& sink) noexcept {
    auto slot = sink.slot();
    if (slot.empty()) {
        return false;
    }
    fill({_pcm.data(), _packet_samples});
    const int n = _encoder->encode({_pcm.data(), _packet_samples}, slot.subspan(rtp_header_octets));
    if (n > 0) {
        write_rtp_header(slot, _marker, _cfg.out.payload_type, _seq, _ts, _cfg.origin.ssrc);
        sink.commit(rtp_header_octets + static_cast<std::size_t>(n));
        ++_seq;
        _marker = false;
        _sent.store(_sent.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    _ts += _ticks_per_packet;
    _due_ns += _packet_ns;
    return true;
}

std::size_t tone_source::release(std::int64_t now_ns, packet_sink& sink) noexcept {
    if (!_started) {
        return 0;
    }
    if (const std::int64_t late = now_ns - _due_ns; late > max_catch_up * _packet_ns) {
        // RFC 3550 5.1: the timestamp reflects the sampling instant, so the
        // audio skipped still moves it on; sequence numbers do not (no
        // packet was lost, none was sent).
        const std::int64_t skipped = late / _packet_ns;
        _ts += static_cast<std::uint32_t>(skipped) * _ticks_per_packet;
        _due_ns += skipped * _packet_ns;
    }
    const std::size_t before = sink.size();
    while (_due_ns <= now_ns && emit(sink)) {
    }
    return sink.size() - before;
}

}  // namespace sbc::transcoder
