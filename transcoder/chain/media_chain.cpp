#include "transcoder/chain/media_chain.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include "transcoder/opus/opus.hpp"
#include "transcoder/resample/resampler.hpp"

namespace sbc::transcoder {

namespace {

// A gap longer than this is a silence period or a restart, not loss: it is
// not concealed (RFC 7587 / RFC 3551 4.1: the receiver resynchronises on the
// marker bit) — 120 ms is also the longest Opus packet, hence PLC's limit.
constexpr std::uint32_t max_conceal_ms = 120;
// A sequence jump larger than this is the sender restarting its numbering.
constexpr std::int16_t max_sequence_jump = 100;

std::string name_of(const audio_format& f) {
    return f.encoding + "/" + std::to_string(f.clock_rate);
}

}  // namespace

media_chain::media_chain(const chain_config& cfg)
    : _cfg(cfg),
      _in_clock{cfg.in.audio.clock_rate, cfg.in.audio.clock_rate},
      _out_clock{cfg.out.audio.clock_rate, cfg.out.audio.clock_rate} {}

media_chain::~media_chain() = default;

result<std::unique_ptr<media_chain>> media_chain::make(const chain_config& cfg) {
    const codec_info* in = find_codec(cfg.in.audio.encoding, cfg.in.audio.clock_rate);
    if (in == nullptr || in->pcm_rates.empty()) {
        return make_error("no decoder for " + name_of(cfg.in.audio));
    }
    const codec_info* out = find_codec(cfg.out.audio.encoding, cfg.out.audio.clock_rate);
    if (out == nullptr || out->pcm_rates.empty()) {
        return make_error("no encoder for " + name_of(cfg.out.audio));
    }
    const unsigned ptime = cfg.out.audio.ptime_ms;
    if (ptime < 10 || ptime > 60 || ptime % 10 != 0) {
        return make_error("ptime " + std::to_string(ptime) + " ms for " + name_of(cfg.out.audio) +
                          ": 10 to 60 ms in steps of 10");
    }
    try {
        return build(cfg, *in, *out);
    } catch (const std::runtime_error& e) {
        // The codec, resampler and tone factories report what their library
        // refused by throwing (codec.hpp); it stops here as an error value.
        return make_error(e.what());
    }
}

result<std::unique_ptr<media_chain>> media_chain::build(const chain_config& cfg,
                                                        const codec_info& in,
                                                        const codec_info& out) {
    std::unique_ptr<media_chain> c(new media_chain(cfg));
    // A digit for a leg that takes events needs their payload type there.
    const bool bridge = cfg.in.dtmf != cfg.out.dtmf &&
                        !(cfg.out.dtmf == dtmf_mode::rfc4733 && cfg.out.event_payload_type < 0);
    const bool tones =
        bridge && (cfg.in.dtmf == dtmf_mode::inband || cfg.out.dtmf == dtmf_mode::inband);
    // Same codec, the chain is there for DTMF: the payloads pass as they
    // are, nothing is decoded (no loss of quality, no codec cost).
    c->_passthrough = &in == &out && !tones && cfg.in.audio.annexb == cfg.out.audio.annexb;
    if (!c->_passthrough) {
        if (auto failed = c->make_codecs(in, out)) {
            return std::move(*failed);
        }
        // Tones are detected and generated at 8000 Hz (the configuration
        // allows inband only on G.711 trunks).
        if (tones && ((cfg.in.dtmf == dtmf_mode::inband && c->decode_rate() != 8000) ||
                      (cfg.out.dtmf == dtmf_mode::inband && c->pcm_rate() != 8000))) {
            return make_error("inband DTMF needs an 8000 Hz codec on its leg");
        }
    }
    if (bridge) {
        // A passthrough chain frames events by the input's packets.
        const unsigned frame_ms = c->_passthrough ? cfg.in.audio.ptime_ms : cfg.out.audio.ptime_ms;
        c->_dtmf = std::make_unique<dtmf_bridge>(cfg.in.dtmf, cfg.out.dtmf, cfg.in.event_clock_rate,
                                                 cfg.out.event_clock_rate, frame_ms);
    }
    c->_out_seq = cfg.origin.sequence;
    c->_out_head_ts = cfg.origin.timestamp;
    return c;
}

std::optional<error> media_chain::make_codecs(const codec_info& in, const codec_info& out) {
    const std::uint32_t enc_rate = encoder_pcm_rate(out, _cfg.out.audio);
    const std::uint32_t dec_rate = decoder_pcm_rate(in, enc_rate);
    _out_clock.pcm_rate = enc_rate;
    _in_clock.pcm_rate = dec_rate;
    _encoder = out.make_encoder(_cfg.out.audio, enc_rate);
    // Each packet must advance the timestamp by whole ticks, or the
    // output's timestamps would drift from its audio.
    if (!_out_clock.whole_ticks(_encoder->packet_samples())) {
        return make_error("packets of " + std::to_string(_encoder->packet_samples()) +
                          " samples at " + std::to_string(enc_rate) +
                          " Hz are not whole ticks of the RTP clock of " + name_of(_cfg.out.audio));
    }
    _decoder = in.make_decoder(_cfg.in.audio, dec_rate);
    // Only Opus carries in-band FEC (RFC 7587 3.3); other decoders' recover()
    // conceals, which the `recovered` counter must not claim.
    _in_has_fec = &in == &opus_codec;
    if (dec_rate != enc_rate) {
        _resampler = std::make_unique<resampler>(dec_rate, enc_rate);
    }
    if (_encoder->packet_samples() > _fifo.size() / 2) {
        return make_error("packets of " + name_of(_cfg.out.audio) + " too long");
    }
    return std::nullopt;
}

std::size_t media_chain::push(std::span<const std::uint8_t> packet, std::int64_t now_ns,
                              packet_sink& sink) noexcept {
    const std::size_t before = sink.size();
    _now_ns = now_ns;
    if (_dtmf) {
        _dtmf->expire_events(now_ns);
    }
    make_room(sink);
    const std::size_t first = sink.size();
    const std::size_t fifo_before = _fifo_len;
    _pcm_added = 0;
    push_packet(packet, sink);
    pace(first, fifo_before, sink);
    _paced.release(now_ns, sink);
    publish_dtmf_counters();
    return sink.size() - before;
}

void media_chain::make_room(packet_sink& sink) noexcept {
    // What one input packet can make (120 ms of Opus in 10 ms packets, and
    // events) must fit behind what waits. Without room, the oldest leave
    // early rather than be lost: a sender far ahead of real time (a burst
    // after a network stall) gets its packets sooner, in order.
    const std::size_t reserve = _paced.capacity() / 2;
    while (_paced.capacity() - _paced.size() < reserve && _paced.release_oldest(sink)) {
    }
}

void media_chain::pace(std::size_t first, std::size_t fifo_before, packet_sink& sink) noexcept {
    const auto made = sink.packets().subspan(first);
    if (made.empty()) {
        return;
    }
    constexpr std::int64_t ns_per_ms = 1'000'000;
    const std::int64_t out_ms = _cfg.out.audio.ptime_ms;
    const std::int64_t ptime_ns = out_ms * ns_per_ms;
    // In whole milliseconds, so that a resampler's 159 or 161 samples still
    // read as the 20 ms they are.
    const std::uint32_t rate = _out_clock.pcm_rate;
    const auto ms_of = [rate](std::size_t samples) {
        return static_cast<std::int64_t>((samples * 1000 + rate / 2) / rate);
    };
    const std::int64_t in_ms = ms_of(_pcm_added);
    const std::int64_t step_ms = in_ms > 0 ? std::gcd(in_ms, out_ms) : out_ms;
    // The first packet made ends (out_ms - waiting) into this input, which
    // ends in_ms after the input began: it is due (in_ms - step_ms) after
    // its nominal place at the input's end, i.e. out_ms - waiting - step_ms
    // from now (never before now).
    const std::int64_t waiting_ns = static_cast<std::int64_t>(fifo_before) * 1'000'000'000 / rate;
    const std::int64_t offset_ns =
        std::max<std::int64_t>(0, ptime_ns - std::min(waiting_ns, ptime_ns) - step_ms * ns_per_ms);
    std::int64_t due = _now_ns;
    std::int64_t audio = 0;
    std::size_t keep = 0;  // leading packets due now, with nothing waiting before them
    bool holding = !_paced.empty();
    for (const auto& p : made) {
        // The n-th audio packet made now is due n ptimes later; an event
        // or CN packet goes with the audio packet before it.
        if (p.len > 1 && (p.data[1] & 0x7f) == _cfg.out.audio.payload_type) {
            due = _now_ns + offset_ns + audio++ * ptime_ns;
        }
        if (!_paced.empty()) {
            due = std::max(due, _paced.last_due_ns());  // never ahead of one made before
        }
        if (!holding && due <= _now_ns) {
            ++keep;
            continue;
        }
        holding = true;
        if (!_paced.hold({p.data, p.len}, due)) {
            _sink_full.add();  // make_room() left too little room: lost
        }
    }
    sink.truncate(first + keep);
}

void media_chain::push_packet(std::span<const std::uint8_t> packet, packet_sink& sink) noexcept {
    const std::int64_t now_ns = _now_ns;
    _packets_in.add();
    const auto rtp = parse_rtp(packet);
    if (!rtp) {
        _malformed.add();
        return;
    }
    if (_started && rtp->ssrc != _in_ssrc) {
        // A new source (RFC 3550 8.2: the peer restarted its stream): what is
        // held of the old one is played, then a new input timeline starts;
        // the output carries on, with a marker for the receiver to resync.
        while (_reorder.size() > 0) {
            give_up_gap(sink);
        }
        discontinuity(0, sink);
        _started = false;
        if (_dtmf) {
            _dtmf->restart_input();
        }
    }
    if (!_started) {
        _started = true;
        _in_ssrc = rtp->ssrc;
        _expected_seq = rtp->sequence;
        _in_audio_started = false;
        _event_seen = false;
    }
    const auto ahead = static_cast<std::int16_t>(rtp->sequence - _expected_seq);
    if (ahead < 0) {
        _late.add();
    } else if (ahead == 0) {
        accept(packet, sink);
    } else if (ahead > max_sequence_jump) {
        while (_reorder.size() > 0) {
            give_up_gap(sink);
        }
        _expected_seq = rtp->sequence;
        accept(packet, sink);
    } else if (_reorder.hold(rtp->sequence, packet, now_ns)) {
        if (_reorder.full()) {
            give_up_gap(sink);
        }
    } else {
        // No room to wait (or too large to copy): the gap is lost now.
        while (_reorder.size() > 0) {
            give_up_gap(sink);
        }
        const auto still_ahead = static_cast<std::int16_t>(rtp->sequence - _expected_seq);
        if (still_ahead < 0) {
            _late.add();
        } else {
            _gap_seen = still_ahead > 0;
            _expected_seq = rtp->sequence;
            accept(packet, sink);
        }
    }
}

std::size_t media_chain::flush_due(std::int64_t now_ns, packet_sink& sink) noexcept {
    const std::size_t before = sink.size();
    _now_ns = now_ns;
    if (_dtmf) {
        _dtmf->expire_events(now_ns);
    }
    if (_reorder.size() > 0 && now_ns - _reorder.oldest_arrival_ns() >= _cfg.reorder_hold_ns) {
        make_room(sink);
        const std::size_t first = sink.size();
        const std::size_t fifo_before = _fifo_len;
        _pcm_added = 0;
        while (_reorder.size() > 0 &&
               now_ns - _reorder.oldest_arrival_ns() >= _cfg.reorder_hold_ns) {
            give_up_gap(sink);
        }
        pace(first, fifo_before, sink);
    }
    _paced.release(now_ns, sink);
    return sink.size() - before;
}

void media_chain::accept(std::span<const std::uint8_t> packet, packet_sink& sink) noexcept {
    process(packet, sink);
    ++_expected_seq;
    drain_in_order(sink);
}

void media_chain::drain_in_order(packet_sink& sink) noexcept {
    for (auto* e = _reorder.earliest(_expected_seq); e != nullptr && e->sequence == _expected_seq;
         e = _reorder.earliest(_expected_seq)) {
        process(e->packet(), sink);
        _reorder.release(*e);
        _reordered.add();
        ++_expected_seq;
    }
}

void media_chain::give_up_gap(packet_sink& sink) noexcept {
    auto* e = _reorder.earliest(_expected_seq);
    if (e == nullptr) {
        return;
    }
    _gap_seen = true;
    _expected_seq = e->sequence;
    drain_in_order(sink);
}

void media_chain::process(std::span<const std::uint8_t> packet, packet_sink& sink) noexcept {
    const auto rtp = parse_rtp(packet);
    if (!rtp) {
        _malformed.add();
        return;
    }
    if (rtp->payload_type == _cfg.in.audio.payload_type) {
        if (_passthrough) {
            forward_audio(*rtp, sink);
        } else {
            process_audio(*rtp, sink);
        }
    } else if (rtp->payload_type == _cfg.in.event_payload_type) {
        if (_dtmf && _dtmf->in() == dtmf_mode::rfc4733) {
            _dtmf->on_event_packet(*rtp, _now_ns);
        } else if (_dtmf) {
            // The leg's digits come by INFO or as tones: events besides them
            // would reach the other leg twice.
            _events_dropped.add();
        } else {
            process_event(*rtp, sink);
        }
    } else if (rtp->payload_type == _cfg.in.cn_payload_type) {
        process_cn(*rtp, sink);
    } else {
        _unknown_payload.add();
    }
    _gap_seen = false;
}

void media_chain::process_audio(const rtp_view& rtp, packet_sink& sink) noexcept {
    if (!_in_audio_started) {
        _in_audio_started = true;
        _in_next_ts = rtp.timestamp;
    }
    // Ticks of the input's RTP clock, not samples (G.722: one per two).
    const auto gap = static_cast<std::int32_t>(rtp.timestamp - _in_next_ts);
    if (gap != 0) {
        const auto max_conceal =
            static_cast<std::int32_t>(_in_clock.clock_rate / 1000 * max_conceal_ms);
        if (gap > 0 && _gap_seen && gap <= max_conceal) {
            conceal(static_cast<std::uint32_t>(gap), rtp.payload);
        } else {
            discontinuity(gap, sink);
            _in_next_ts = rtp.timestamp;
        }
    }
    if (rtp.marker) {
        // RFC 3551 4.1: the sender marks the first packet after silence; so
        // does the chain, on the first packet it sends with this audio.
        _marker_pending = true;
    }
    const int n = _decoder->decode(rtp.payload, _decoded);
    if (n < 0) {
        // Treated as lost: the next packet conceals it.
        _malformed.add();
        _gap_seen = true;
        return;
    }
    if (n == 0) {
        return;
    }
    _last_decoded = static_cast<std::size_t>(n);
    if (_dtmf && decode_rate() == 8000) {
        _dtmf->on_decoded({_decoded.data(), _last_decoded});
    }
    append_pcm({_decoded.data(), _last_decoded});
    _in_next_ts = rtp.timestamp + _in_clock.ticks_of(_last_decoded);
    encode_ready(sink);
}

void media_chain::conceal(std::uint32_t in_ticks, std::span<const std::uint8_t> next) noexcept {
    std::size_t remaining = _in_clock.samples_of(in_ticks);
    std::size_t chunk = _last_decoded;
    if (chunk == 0) {
        chunk = std::size_t{decode_rate()} * _cfg.in.audio.ptime_ms / 1000;
    }
    chunk = std::clamp<std::size_t>(chunk, 1, _decoded.size());
    while (remaining > 0) {
        const std::size_t n = std::min(chunk, remaining);
        std::span<std::int16_t> pcm{_decoded.data(), n};
        // The last lost packet is the one whose in-band FEC the next packet
        // may carry (RFC 7587 3.3); earlier ones can only be concealed.
        const bool last = n == remaining;
        int got = last ? _decoder->recover(next, pcm) : _decoder->conceal(pcm);
        if (got <= 0) {
            std::fill(pcm.begin(), pcm.end(), std::int16_t{0});
            got = static_cast<int>(n);
        }
        if (last && _in_has_fec) {
            _recovered.add();
        }
        _concealed.add();
        const std::size_t filled = std::min(n, static_cast<std::size_t>(got));
        if (_dtmf && decode_rate() == 8000) {
            // A tone concealed is still a tone: muted and heard like one.
            _dtmf->on_decoded({_decoded.data(), filled});
        }
        append_pcm({_decoded.data(), filled});
        remaining -= n;
    }
    _in_next_ts += in_ticks;
}

void media_chain::append_pcm(std::span<const std::int16_t> pcm) noexcept {
    if (_resampler) {
        const int n = _resampler->process(pcm, _resampled);
        if (n <= 0) {
            return;
        }
        pcm = {_resampled.data(), static_cast<std::size_t>(n)};
    }
    const std::size_t room = _fifo.size() - _fifo_len;
    const std::size_t n = std::min(room, pcm.size());
    std::copy_n(pcm.begin(), n, _fifo.begin() + static_cast<std::ptrdiff_t>(_fifo_len));
    _fifo_len += n;
    _pcm_added += n;
}

void media_chain::discontinuity(std::int32_t in_gap, packet_sink& sink) noexcept {
    // The audio before the gap leaves now, completed with silence, so that
    // nothing waits in the chain across a silence period.
    std::size_t pad = 0;
    if (_fifo_len > 0) {
        const std::size_t need = _encoder->packet_samples();
        pad = need - _fifo_len % need;
        std::fill_n(_fifo.begin() + static_cast<std::ptrdiff_t>(_fifo_len), pad, std::int16_t{0});
        _fifo_len += pad;
        encode_ready(sink);
    }
    if (in_gap > 0) {
        const std::int64_t skip = static_cast<std::int64_t>(out_ticks_of_in(in_gap)) -
                                  static_cast<std::int64_t>(_out_clock.ticks_of(pad));
        if (skip > 0) {
            _out_head_ts += static_cast<std::uint32_t>(skip);
        }
    }
    _marker_pending = true;
}

void media_chain::encode_ready(packet_sink& sink) noexcept {
    const std::size_t need = _encoder->packet_samples();
    std::size_t off = 0;
    for (; _fifo_len - off >= need; off += need) {
        if (_dtmf && pcm_rate() == 8000) {
            _dtmf->before_encode({_fifo.data() + off, need});
        }
        const auto slot = sink.slot();
        if (slot.empty()) {
            _sink_full.add();
        } else {
            const int len =
                _encoder->encode({_fifo.data() + off, need}, slot.subspan(rtp_header_octets));
            if (len > 0) {
                write_rtp_header(slot, _marker_pending, _cfg.out.audio.payload_type, _out_seq++,
                                 _out_head_ts, _cfg.origin.ssrc);
                sink.commit(rtp_header_octets + static_cast<std::size_t>(len));
                _packets_out.add();
                _marker_pending = false;
            } else if (len == 0) {
                // DTX (RFC 7587 3.4, RFC 3551 4.5.6 with Annex B): nothing to
                // send; the packet after the silence starts a talk spurt.
                _dtx_suppressed.add();
                _marker_pending = true;
            } else {
                _malformed.add();
            }
        }
        send_event_due(_out_head_ts, sink);
        _out_head_ts += _out_clock.ticks_of(need);  // whole ticks: make_codecs() checked
    }
    if (off > 0) {
        std::copy_n(_fifo.begin() + static_cast<std::ptrdiff_t>(off), _fifo_len - off,
                    _fifo.begin());
        _fifo_len -= off;
    }
}

std::uint32_t media_chain::out_ticks_of_in(std::int64_t in_ticks) const noexcept {
    // Clock to clock, whatever either side's PCM rate: G.722 (8000) to Opus
    // (48000) is six ticks per tick, though the audio goes from 16000 Hz.
    return static_cast<std::uint32_t>(in_ticks * _out_clock.clock_rate / _in_clock.clock_rate);
}

std::uint32_t media_chain::out_time_of(std::uint32_t in_ts) noexcept {
    if (!_in_audio_started) {
        // No audio yet (a sender that suppresses silence may start with
        // events): this packet anchors the input timeline, and the audio
        // that follows is placed against it like after a silence.
        _in_audio_started = true;
        _in_next_ts = in_ts;
    }
    return out_head_of_next_input() +
           out_ticks_of_in(static_cast<std::int32_t>(in_ts - _in_next_ts));
}

std::uint32_t media_chain::out_head_of_next_input() const noexcept {
    // An odd number of 16 kHz samples waiting for an 8000 Hz clock (G.722)
    // rounds down: an event placed here is at most half a tick early.
    return _out_head_ts + _out_clock.ticks_of(_fifo_len);
}

void media_chain::process_event(const rtp_view& rtp, packet_sink& sink) noexcept {
    if (_cfg.out.event_payload_type < 0 || rtp.payload.empty() || rtp.payload.size() % 4 != 0) {
        _events_dropped.add();
        return;
    }
    // RFC 4733 2.3 and 2.5.1: every packet of one event carries its start
    // time; the chain maps that start once and reuses it for the event's
    // updates and retransmitted ends. The event shares the stream's
    // timestamp space (RFC 4733 2.1), so it is placed against the audio.
    std::uint32_t out_ts = 0;
    if (_event_seen && rtp.timestamp == _last_event_in_ts) {
        out_ts = _last_event_out_ts;
    } else {
        out_ts = out_time_of(rtp.timestamp);
        _event_seen = true;
        _last_event_in_ts = rtp.timestamp;
        _last_event_out_ts = out_ts;
    }
    std::array<std::uint8_t, 64> payload{};
    const std::size_t len = std::min(rtp.payload.size(), payload.size());
    std::copy_n(rtp.payload.begin(), len, payload.begin());
    if (_cfg.in.event_clock_rate != _cfg.out.event_clock_rate && _cfg.in.event_clock_rate > 0) {
        // RFC 4733 2.5.1.3: the duration is in timestamp units of the clock.
        for (std::size_t i = 0; i + 4 <= len; i += 4) {
            const std::uint64_t d =
                static_cast<std::uint64_t>(payload[i + 2] << 8 | payload[i + 3]) *
                _cfg.out.event_clock_rate / _cfg.in.event_clock_rate;
            const auto scaled = static_cast<std::uint16_t>(std::min<std::uint64_t>(d, 0xffff));
            payload[i + 2] = static_cast<std::uint8_t>(scaled >> 8);
            payload[i + 3] = static_cast<std::uint8_t>(scaled);
        }
    }
    emit(rtp.marker, static_cast<std::uint8_t>(_cfg.out.event_payload_type), out_ts,
         {payload.data(), len}, sink);
}

void media_chain::process_cn(const rtp_view& rtp, packet_sink& sink) noexcept {
    if (_cfg.out.cn_payload_type < 0) {
        _cn_dropped.add();
        return;
    }
    // RFC 3389 4: the CN payload (noise level, spectrum) does not depend on
    // the audio codec, so it crosses unchanged, at the mapped time.
    emit(false, static_cast<std::uint8_t>(_cfg.out.cn_payload_type), out_time_of(rtp.timestamp),
         rtp.payload, sink);
}

bool media_chain::emit(bool marker, std::uint8_t pt, std::uint32_t ts,
                       std::span<const std::uint8_t> payload, packet_sink& sink) noexcept {
    const auto slot = sink.slot();
    if (slot.empty() || payload.size() > slot.size() - rtp_header_octets) {
        _sink_full.add();
        return false;
    }
    write_rtp_header(slot, marker, pt, _out_seq++, ts, _cfg.origin.ssrc);
    std::copy(payload.begin(), payload.end(), slot.begin() + rtp_header_octets);
    sink.commit(rtp_header_octets + payload.size());
    _packets_out.add();
    return true;
}

void media_chain::forward_audio(const rtp_view& rtp, packet_sink& sink) noexcept {
    // In ticks of the RTP clock (G.722: 160 per 20 ms, for 320 samples).
    const std::uint32_t step = _in_clock.clock_rate / 1000 * _cfg.in.audio.ptime_ms;
    if (!_in_audio_started) {
        // The output timeline goes on from where it was (a new source, or
        // the first packet at the origin): a fixed offset from the input's.
        _in_audio_started = true;
        _in_next_ts = rtp.timestamp;
        _marker_pending = true;
    }
    const std::uint32_t out_ts = _out_head_ts + (rtp.timestamp - _in_next_ts);
    if (emit(rtp.marker || _marker_pending, _cfg.out.audio.payload_type, out_ts, rtp.payload,
             sink)) {
        _marker_pending = false;
    }
    send_event_due(out_ts, sink);
    _out_head_ts = out_ts + step;
    _in_next_ts = rtp.timestamp + step;
}

void media_chain::send_event_due(std::uint32_t ts, packet_sink& sink) noexcept {
    if (!_dtmf || _cfg.out.event_payload_type < 0) {
        return;
    }
    if (auto ev = _dtmf->next_event(ts)) {
        emit(ev->marker, static_cast<std::uint8_t>(_cfg.out.event_payload_type), ev->rtp_timestamp,
             ev->payload, sink);
    }
}

bool media_chain::queue_digit(char symbol, std::uint32_t duration_ms) noexcept {
    const bool queued = _dtmf && _dtmf->queue(symbol, duration_ms);
    publish_dtmf_counters();
    return queued;
}

void media_chain::publish_dtmf_counters() noexcept {
    // The bridge counts in plain fields (worker only); stats() reads these.
    if (_dtmf) {
        _dtmf_digits.value.store(_dtmf->digits(), std::memory_order_relaxed);
        _dtmf_lost.value.store(_dtmf->lost_digits(), std::memory_order_relaxed);
    }
}

std::optional<reported_digit> media_chain::take_digit() noexcept {
    if (!_dtmf) {
        return std::nullopt;
    }
    return _dtmf->take_report();
}

void media_chain::continue_from(const output_origin& o) noexcept {
    _cfg.origin.ssrc = o.ssrc;
    _out_seq = o.sequence;
    _out_head_ts = o.timestamp;
    _marker_pending = true;
}

output_origin media_chain::next_origin() const noexcept {
    return output_origin{_cfg.origin.ssrc, _out_seq, out_head_of_next_input()};
}

chain_stats media_chain::stats() const noexcept {
    chain_stats s;
    s.packets_in = _packets_in.get();
    s.packets_out = _packets_out.get();
    s.malformed = _malformed.get();
    s.unknown_payload = _unknown_payload.get();
    s.late = _late.get();
    s.reordered = _reordered.get();
    s.concealed = _concealed.get();
    s.recovered = _recovered.get();
    s.events_dropped = _events_dropped.get();
    s.cn_dropped = _cn_dropped.get();
    s.dtx_suppressed = _dtx_suppressed.get();
    s.sink_full = _sink_full.get();
    s.dtmf_digits = _dtmf_digits.get();
    s.dtmf_lost = _dtmf_lost.get();
    return s;
}

}  // namespace sbc::transcoder
