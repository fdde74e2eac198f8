// DTMF tone generation (ITU-T Q.23 frequency pairs) over spandsp's dtmf_tx:
// the in-band side of DTMF interworking, for a leg that carries digits as
// tones in its audio (no telephone-event negotiated) when they arrive as
// RFC 4733 events or SIP INFO on the other leg.
//
// Object graph: a codec chain owns one generator per outbound stream that
// needs in-band DTMF; the control thread creates it (it allocates the
// spandsp state) and from then on only the stream's worker calls start(),
// fill() and busy(). PCM is 16-bit mono at 8000 Hz; a chain at another
// rate resamples.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <memory>

// spandsp's state, declared only: <spandsp.h> puts unprefixed helpers
// (saturate(), ...) in the global namespace, so it stays in the .cpp.
struct dtmf_tx_state_s;

namespace sbc::transcoder::dtmf {

class tone_generator {
public:
    /// The only PCM rate spandsp's generator works at.
    static constexpr std::uint32_t sample_rate = 8000;
    /// Silence after every tone, so that a digit repeated is heard twice
    /// (Q.24 asks receivers to need at least 40 ms of pause).
    static constexpr unsigned gap_ms = 50;
    /// Tone durations are clamped to this range: Q.24's shortest digit that
    /// receivers must accept, and a sane longest.
    static constexpr unsigned min_duration_ms = 40;
    static constexpr unsigned max_duration_ms = 10000;
    /// Digits queued behind the one playing.
    static constexpr std::size_t queue_capacity = 16;

    /// Allocates spandsp's generator state; throws std::runtime_error if
    /// spandsp refuses. Level: spandsp's default (-10 dBm0 low tone, twist).
    tone_generator();

    /// Queues `symbol` (a DTMF key: '0'-'9', '*', '#', 'A'-'D') to sound for
    /// `duration_ms` (clamped, see above), followed by gap_ms of silence.
    /// Returns false for another symbol (flash has no tone) or a full queue.
    bool start(char symbol, unsigned duration_ms) noexcept;

    /// Writes the queued tones, and the silent gaps after them, from the
    /// start of `pcm`. Returns the samples written: fewer than pcm.size()
    /// when the queue ran out, and then the rest of `pcm` is left untouched
    /// (a chain mixes or replaces only what was written).
    std::size_t fill(std::span<std::int16_t> pcm) noexcept;

    /// True while a tone or its gap is playing or digits wait in the queue.
    bool busy() const noexcept { return _playing || _queued != 0; }

    /// Drops the queue and stops the tone in progress at once.
    void clear() noexcept;

private:
    struct pending {
        char symbol = '\0';
        unsigned duration_ms = 0;
    };

    // Feeds spandsp the next queued digit with its own on-time (spandsp reads
    // the timing when it takes a digit from its own queue, so they go in one
    // at a time). Returns false when the queue is empty.
    bool load_next() noexcept;

    struct state_deleter {
        void operator()(dtmf_tx_state_s* s) const noexcept;  // dtmf_tx_free
    };

    std::unique_ptr<dtmf_tx_state_s, state_deleter> _tx;
    bool _playing = false;  // spandsp holds a digit (tone or gap) not yet played out
    std::array<pending, queue_capacity> _queue{};
    std::size_t _queue_head = 0;
    std::size_t _queued = 0;
};

}  // namespace sbc::transcoder::dtmf
