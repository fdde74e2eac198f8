// The codec chain of one direction of a transcoded stream: RTP of one leg's
// codec in, RTP of the other leg's codec out (decode -> PCM -> [resample] ->
// encode), with everything a receiver expects of a stream the SBC now
// originates: its own SSRC, continuous sequence numbers and timestamps at the
// output codec's clock, the marker bit on talk-spurt starts (RFC 3551 4.1),
// and packets of the output leg's ptime whatever the input's (10 to 60 ms).
//
// Clocks: timestamps count each leg's RTP clock, sample counts the PCM rate
// the decoder or encoder works at, and the two differ (G.722: 16 kHz audio
// on an 8000 Hz clock, RFC 3551 4.5.2; Opus: any rate on 48000, RFC 7587
// 4.1). The chain keeps one rtp_clock per leg and converts through it only.
//
// Object graph: the control plane makes a media_chain per direction once the
// two legs' SDP say the stream is transcoded (make() creates the codec state,
// which allocates) and hands it to the worker that owns the stream; from then
// on only that worker calls push() and flush_due(), which allocate nothing,
// take no lock and never throw. Any thread may read stats().
//
// Pacing: output packets leave at their nominal times, not when the input
// that completed them arrived. One input packet may complete several (60 ms
// in, three of 20 ms out), or the lengths may not divide (30 ms in, 20 ms
// out: one packet, then two, then one). An output packet whose audio ends
// E before the end of the input that completed it is due E after the
// input's arrival plus a fixed delay D = input ptime - gcd(input ptime,
// output ptime), the least delay with which every packet is ready by its
// nominal time: 40 -> 20 ms sends at +0 and +20 ms (D = 20), 30 -> 20 ms
// every 20 ms with 10 ms added to some (D = 20), equal lengths at once
// (D = 0). Packets not due yet wait in the chain's pacing_queue, in order,
// and the worker releases them when due (it asks next_due_ns() and calls
// flush_due() then). So the chain adds no jitter of its own (RFC 3550
// 6.4.1), and never more delay than D.
//
// Loss and order: a packet ahead of the expected sequence number waits in a
// small reordering buffer; a gap that does not fill in time is concealed by
// the decoder (Opus PLC, or its in-band FEC when the next packet carries it;
// bcg729's erasure handling; spandsp's PLC for G.711 and G.722).
// Telephone-events (RFC 4733) and comfort noise (RFC 3389) are carried
// across with their payload type, timestamp and clock mapped, or dropped
// and counted when the output leg did not negotiate them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "sbc/common/result.hpp"
#include "transcoder/api/codec.hpp"
#include "transcoder/chain/dtmf_bridge.hpp"
#include "transcoder/chain/pacing_queue.hpp"
#include "transcoder/chain/packet_sink.hpp"
#include "transcoder/chain/reorder_buffer.hpp"
#include "transcoder/chain/rtp_clock.hpp"
#include "transcoder/chain/rtp_packet.hpp"

namespace sbc::transcoder {

class resampler;

/// What one leg's peer sends or takes on the transcoded stream.
struct stream_format {
    audio_format audio;
    int event_payload_type = -1;  ///< telephone-event (RFC 4733), -1 when not negotiated
    std::uint32_t event_clock_rate = 8000;
    int cn_payload_type = -1;             ///< CN (RFC 3389), -1 when not negotiated
    dtmf_mode dtmf = dtmf_mode::rfc4733;  ///< how the leg's peer carries digits
};

/// Where the chain's output stream starts: a chain that replaces another
/// after a re-INVITE continues its predecessor's SSRC, sequence and timestamp.
struct output_origin {
    std::uint32_t ssrc = 0;
    std::uint16_t sequence = 0;
    std::uint32_t timestamp = 0;
};

struct chain_config {
    stream_format in;   ///< what the sending leg's peer sends
    stream_format out;  ///< what the receiving leg's peer takes
    output_origin origin;
    /// How long a packet ahead of a gap waits for the missing one.
    std::int64_t reorder_hold_ns = 60'000'000;
};

/// Counters of one chain (single writer: the owning worker).
struct chain_stats {
    std::uint64_t packets_in = 0;
    std::uint64_t packets_out = 0;
    std::uint64_t malformed = 0;        ///< not RTP, or a payload the decoder refused
    std::uint64_t unknown_payload = 0;  ///< a payload type the input leg did not negotiate
    std::uint64_t late = 0;             ///< behind the stream (already concealed) or duplicated
    std::uint64_t reordered = 0;        ///< held and then played in order
    std::uint64_t concealed = 0;        ///< lost packets filled by PLC or FEC
    std::uint64_t recovered = 0;        ///< of those, recovered from in-band FEC
    std::uint64_t events_dropped = 0;   ///< telephone-events the output leg cannot take
    std::uint64_t cn_dropped = 0;
    std::uint64_t dtx_suppressed = 0;  ///< output packets not sent (DTX)
    std::uint64_t sink_full = 0;       ///< produced packets the worker had no slot for
    std::uint64_t dtmf_digits = 0;     ///< digits converted between the legs' DTMF modes
    std::uint64_t dtmf_lost = 0;       ///< digits the output leg could not take
};

class media_chain {
public:
    /// Control thread. Creates the codecs; or an error naming what cannot
    /// be transcoded (an unknown codec, a ptime out of 10-60 ms, what a codec
    /// library refused), for the caller to answer the offer with (STYLE.md,
    /// Errors: run-time control code returns errors, it does not throw).
    /// Throws only std::bad_alloc.
    static result<std::unique_ptr<media_chain>> make(const chain_config& cfg);

    ~media_chain();
    media_chain(const media_chain&) = delete;
    media_chain& operator=(const media_chain&) = delete;

    /// Owning worker. One RTP packet from the input leg's peer (SRTP already
    /// removed). The packets due by `now_ns` are appended to `sink` (what it
    /// completes and is due later waits: see Pacing above); returns how many.
    std::size_t push(std::span<const std::uint8_t> packet, std::int64_t now_ns,
                     packet_sink& sink) noexcept;

    /// Owning worker, periodically and at next_due_ns(): gives up on a gap
    /// whose later packets have waited reorder_hold_ns, concealing it and
    /// playing them, and appends to `sink` the packets due by `now_ns`.
    std::size_t flush_due(std::int64_t now_ns, packet_sink& sink) noexcept;

    /// Owning worker. Only the second half of flush_due(): the packets due
    /// by `now_ns` that were waiting, into `sink`.
    std::size_t release_due(std::int64_t now_ns, packet_sink& sink) noexcept {
        return _paced.release(now_ns, sink);
    }

    /// Owning worker. When the oldest packet waiting is due (steady clock,
    /// as the now_ns given to push), or no_due_ns when none waits.
    std::int64_t next_due_ns() const noexcept { return _paced.next_due_ns(); }
    /// Owning worker. How many packets wait for their time.
    std::size_t waiting() const noexcept { return _paced.size(); }

    /// Owning worker. Forgets the packets waiting (their destination is
    /// gone: the other leg is on hold). Returns how many.
    std::size_t drop_waiting() noexcept { return _paced.clear(); }

    /// Owning worker. A digit the input leg's peer sent in SIP INFO, to go
    /// to the output leg as it takes digits. False when the input leg does
    /// not use INFO, or the output cannot queue it.
    bool queue_digit(char symbol, std::uint32_t duration_ms) noexcept;

    /// Owning worker. The oldest digit the output leg takes as SIP INFO
    /// (heard as tones or received as events on the input leg).
    std::optional<reported_digit> take_digit() noexcept;

    /// Forwards the input's payloads as they are (same codec on both legs;
    /// the chain is there for DTMF), with its own header.
    bool passthrough() const noexcept { return _passthrough; }

    /// Owning worker. Where the next output packet would continue.
    output_origin next_origin() const noexcept;

    /// Owning worker, before the first packet: carry on the output stream
    /// of the chain this one replaces (a re-INVITE changed the codecs), so
    /// its receiver sees the same SSRC and unbroken sequence numbers and
    /// timestamps (RFC 3550 5.1), with a marker on the first packet.
    void continue_from(const output_origin& o) noexcept;

    /// Owning worker, with continue_from(previous.next_origin()): the packets
    /// `previous` made and still holds for their time leave from this chain,
    /// at that time and before its own, so none of the numbers continue_from
    /// carried on from is missing.
    void take_waiting(media_chain& previous) noexcept { _paced.take_from(previous._paced); }

    /// Any thread.
    chain_stats stats() const noexcept;

    const chain_config& config() const noexcept { return _cfg; }
    /// The PCM rate the chain works at (the encoder's).
    std::uint32_t pcm_rate() const noexcept { return _out_clock.pcm_rate; }
    /// The PCM rate the decoder gives (resampled to pcm_rate() if they differ).
    std::uint32_t decode_rate() const noexcept { return _in_clock.pcm_rate; }

private:
    explicit media_chain(const chain_config& cfg);

    /// make()'s second half, once both codecs are known: the codec state
    /// and DTMF bridge. Throws what the codec factories throw.
    static result<std::unique_ptr<media_chain>> build(const chain_config& cfg, const codec_info& in,
                                                      const codec_info& out);
    /// The transcoding part of build(): decoder, encoder, resampler.
    std::optional<error> make_codecs(const codec_info& in, const codec_info& out);

    struct counter {
        std::atomic<std::uint64_t> value{0};
        void add(std::uint64_t n = 1) noexcept {
            value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        }
        std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
    };

    void push_packet(std::span<const std::uint8_t> packet, packet_sink& sink) noexcept;
    void make_room(packet_sink& sink) noexcept;
    /// Holds back what the input just handled made from sink slot `first`
    /// on until its nominal time (Pacing above); `fifo_before` is the PCM
    /// that was waiting for the encoder before that input.
    void pace(std::size_t first, std::size_t fifo_before, packet_sink& sink) noexcept;
    void accept(std::span<const std::uint8_t> packet, packet_sink& sink) noexcept;
    void drain_in_order(packet_sink& sink) noexcept;
    void give_up_gap(packet_sink& sink) noexcept;
    void process(std::span<const std::uint8_t> packet, packet_sink& sink) noexcept;
    void process_audio(const rtp_view& rtp, packet_sink& sink) noexcept;
    void process_event(const rtp_view& rtp, packet_sink& sink) noexcept;
    void process_cn(const rtp_view& rtp, packet_sink& sink) noexcept;
    void forward_audio(const rtp_view& rtp, packet_sink& sink) noexcept;
    void send_event_due(std::uint32_t ts, packet_sink& sink) noexcept;
    void conceal(std::uint32_t in_ticks, std::span<const std::uint8_t> next_payload) noexcept;
    void append_pcm(std::span<const std::int16_t> pcm) noexcept;
    void discontinuity(std::int32_t in_gap, packet_sink& sink) noexcept;
    void encode_ready(packet_sink& sink) noexcept;
    bool emit(bool marker, std::uint8_t pt, std::uint32_t ts, std::span<const std::uint8_t> payload,
              packet_sink& sink) noexcept;
    std::uint32_t out_ticks_of_in(std::int64_t in_ticks) const noexcept;
    std::uint32_t out_head_of_next_input() const noexcept;
    /// The output timestamp of input timestamp `in_ts` (an event's, CN's).
    std::uint32_t out_time_of(std::uint32_t in_ts) noexcept;
    void publish_dtmf_counters() noexcept;

    chain_config _cfg;
    std::unique_ptr<decoder> _decoder;
    std::unique_ptr<encoder> _encoder;
    std::unique_ptr<resampler> _resampler;  // null when decoder and encoder share a rate
    std::unique_ptr<dtmf_bridge> _dtmf;     // null when both legs carry digits alike
    bool _passthrough = false;
    bool _in_has_fec = false;  // the input codec can rebuild a loss from the next packet
    // The input leg's RTP clock against the decoder's PCM rate, and the
    // output leg's against the encoder's (the chain's); passthrough chains
    // decode nothing and use the clocks alone.
    rtp_clock _in_clock;
    rtp_clock _out_clock;

    // Owning worker only.
    std::int64_t _now_ns = 0;  // the time of the packet or flush being handled
    reorder_buffer _reorder;
    bool _started = false;
    std::uint32_t _in_ssrc = 0;
    std::uint16_t _expected_seq = 0;  // the next input sequence number to process
    bool _gap_seen = false;           // packets were lost before the one being processed
    std::uint32_t _in_next_ts = 0;    // input timestamp just after the last audio decoded
    std::size_t _last_decoded = 0;    // samples (decode rate) of the last packet decoded
    bool _in_audio_started = false;
    std::uint32_t _out_head_ts = 0;  // output timestamp of the first sample in _fifo
    std::uint16_t _out_seq = 0;
    bool _marker_pending = true;  // the next packet sent starts a talk spurt
    std::uint32_t _last_event_in_ts = 0;
    std::uint32_t _last_event_out_ts = 0;
    bool _event_seen = false;
    std::size_t _fifo_len = 0;                  // samples at pcm_rate() waiting to be encoded
    std::size_t _pcm_added = 0;                 // samples appended since push() or flush_due()
    std::array<std::int16_t, 16384> _fifo{};    // 340 ms at 48 kHz: 120 ms in + 60 ms out fit
    std::array<std::int16_t, 5760> _decoded{};  // 120 ms at 48 kHz: the longest Opus packet
    std::array<std::int16_t, 5760> _resampled{};
    pacing_queue _paced;  // made packets not due yet, oldest first

    counter _packets_in, _packets_out, _malformed, _unknown_payload, _late, _reordered, _concealed,
        _recovered, _events_dropped, _cn_dropped, _dtx_suppressed, _sink_full, _dtmf_digits,
        _dtmf_lost;
};

}  // namespace sbc::transcoder
