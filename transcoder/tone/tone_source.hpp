// A ringback tone as an RTP stream: the SBC's own source towards one leg's
// peer (local ringback, while the called party is alerted and sends no
// early media), paced in real time like a codec chain's output.
//
// The tone is one ITU-T E.180 cadence (ringback_cadence.hpp) at the
// encoder's PCM rate: the waveform of one common period of its frequencies
// is computed once, when the source is made; playing reads that table and
// the cadence, so producing a packet allocates nothing. The packets carry
// the source's own SSRC, sequence numbers that go up by one, timestamps
// that go up by the packet's duration at the format's RTP clock, and the
// marker bit on the first (RFC 3550 5.1, RFC 3551 4.1: a talk spurt starts).
//
// Object graph: the control plane makes a tone_source (make(), which
// creates the encoder and may allocate) and hands it to the worker that
// owns the stream, as it does a media_chain; from then on only that worker
// calls start(), next_due_ns() and release(), which allocate nothing, take
// no lock and never throw. Any thread may read packets_sent().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "sbc/common/result.hpp"
#include "transcoder/api/codec.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/chain/packet_sink.hpp"
#include "transcoder/tone/ringback_cadence.hpp"

namespace sbc::transcoder {

struct tone_config {
    ringback_tone tone = ringback_tone::us;
    /// The format the receiving peer takes (its payload type, ptime).
    audio_format out;
    /// The stream's SSRC and first sequence number and timestamp (random,
    /// RFC 3550 5.1, chosen by the control plane).
    output_origin origin;
};

class tone_source {
public:
    /// Control thread. The source, or an error naming why it cannot be
    /// encoded (a codec the registry lacks, a packet longer than 120 ms,
    /// what the codec library refused). Throws only std::bad_alloc.
    static result<std::unique_ptr<tone_source>> make(const tone_config& cfg);

    ~tone_source();
    tone_source(const tone_source&) = delete;
    tone_source& operator=(const tone_source&) = delete;

    /// Owning worker. The first packet is due at `now_ns` (steady clock).
    void start(std::int64_t now_ns) noexcept;
    /// Owning worker. When the next packet is due; no_due_ns before start().
    std::int64_t next_due_ns() const noexcept { return _started ? _due_ns : no_due_ns; }

    /// Owning worker. Appends to `sink` the packets due by `now_ns`, as many
    /// as it has slots for; returns how many. A worker that fell more than
    /// a few packets behind skips the audio it missed (the timestamps jump
    /// with it, RFC 3550 5.1) rather than sending it in a burst.
    std::size_t release(std::int64_t now_ns, packet_sink& sink) noexcept;

    /// Owning worker (and tests). The next `pcm.size()` samples of the
    /// tone at pcm_rate(), advancing through the cadence.
    void fill(std::span<std::int16_t> pcm) noexcept;

    std::uint32_t pcm_rate() const noexcept { return _pcm_rate; }
    std::size_t packet_samples() const noexcept { return _packet_samples; }
    const tone_config& config() const noexcept { return _cfg; }

    /// Any thread: packets made so far.
    std::uint64_t packets_sent() const noexcept { return _sent.load(std::memory_order_relaxed); }

private:
    explicit tone_source(const tone_config& cfg);
    /// Makes the encoder and the waveform table; an error when it cannot.
    std::optional<error> prepare();
    bool emit(packet_sink& sink) noexcept;

    tone_config _cfg;
    const ringback_cadence* _cadence = nullptr;
    std::unique_ptr<encoder> _encoder;
    std::uint32_t _pcm_rate = 8000;
    std::size_t _packet_samples = 160;
    std::uint32_t _ticks_per_packet = 160;  // RTP clock ticks per packet
    std::int64_t _packet_ns = 20'000'000;
    std::vector<std::int16_t> _period;  // one common period of the frequencies
    std::size_t _ramp = 16;             // samples faded in and out (2 ms): no clicks
    std::array<std::size_t, 4> _segment_samples{};

    // Owning worker only.
    bool _started = false;
    std::int64_t _due_ns = 0;
    std::uint16_t _seq = 0;
    std::uint32_t _ts = 0;
    bool _marker = true;
    std::size_t _phase = 0;                 // index into _period
    std::size_t _segment = 0;               // current cadence segment
    std::size_t _offset = 0;                // samples into it
    std::array<std::int16_t, 5760> _pcm{};  // one packet: up to 120 ms at 48 kHz

    std::atomic<std::uint64_t> _sent{0};  // written by the owning worker only
};

}  // namespace sbc::transcoder
