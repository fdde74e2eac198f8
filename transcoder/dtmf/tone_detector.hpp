// DTMF tone detection (ITU-T Q.24) over spandsp's dtmf_rx: the in-band side
// of DTMF interworking, for a leg whose digits arrive as tones in its audio
// when the other leg wants RFC 4733 events or SIP INFO.
//
// Object graph: a codec chain owns one detector per inbound stream that
// carries in-band DTMF; the control thread creates it (it allocates the
// spandsp state) and from then on only the stream's worker feeds it the
// decoded PCM (16-bit mono, 8000 Hz) and takes its digits. spandsp reports
// each change of tone through a callback during feed(); the detector turns
// those into digits with their start and duration and keeps them in a small
// fixed ring. It holds its own address in spandsp's state, so it neither
// copies nor moves: owners hold it by unique_ptr.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <memory>

// spandsp's state, declared only: <spandsp.h> puts unprefixed helpers
// (saturate(), ...) in the global namespace, so it stays in the .cpp.
struct dtmf_rx_state_s;

namespace sbc::transcoder::dtmf {

/// One digit heard in the audio.
struct detected_digit {
    char symbol = '\0';                  ///< '0'-'9', '*', '#', 'A'-'D'
    std::uint64_t start_sample = 0;      ///< estimated start, counted from the first sample fed
    std::uint32_t duration_samples = 0;  ///< at 8000 Hz
};

class tone_detector {
public:
    static constexpr std::uint32_t sample_rate = 8000;
    /// spandsp analyses blocks of this many samples and confirms a change
    /// (tone on, tone off) after two blocks that agree: its reports come this
    /// many samples after the change, give or take a block. start_sample
    /// takes the latency off (a block either way remains); durations come
    /// out within two blocks (25 ms), often a block short.
    static constexpr std::uint32_t block_samples = 102;
    static constexpr std::uint32_t latency_samples = 2 * block_samples;
    /// Digits held before the owner take()s them.
    static constexpr std::size_t ring_capacity = 16;

    /// Allocates spandsp's detector state with its default thresholds;
    /// throws std::runtime_error if spandsp refuses.
    tone_detector();
    tone_detector(const tone_detector&) = delete;
    tone_detector& operator=(const tone_detector&) = delete;

    /// Analyses the next `pcm` samples.
    void feed(std::span<const std::int16_t> pcm) noexcept;

    /// The oldest digit that has ended, removing it; nullopt when none.
    std::optional<detected_digit> take() noexcept;

    /// A tone is sounding now (confirmed, not yet ended): the digit, else
    /// '\0'. A chain that mutes the tones it turns into events mutes while
    /// this is set; the first latency_samples of each tone precede it.
    char in_tone() const noexcept { return _current; }

    /// Digits lost because the ring was full.
    std::uint64_t overflows() const noexcept { return _overflows; }

    /// Forgets the tone in progress and the ring (spandsp starts afresh).
    void reset() noexcept;

private:
    static void on_tone(void* self, int code, int level, int delay) noexcept;
    void tone_changed(int code) noexcept;
    void push(const detected_digit& d) noexcept;

    struct state_deleter {
        void operator()(dtmf_rx_state_s* s) const noexcept;  // dtmf_rx_free
    };

    std::unique_ptr<dtmf_rx_state_s, state_deleter> _rx;
    std::uint64_t _position = 0;  // samples analysed, up to the end of the piece being fed
    char _current = '\0';
    std::uint64_t _current_start = 0;  // where spandsp confirmed _current
    std::array<detected_digit, ring_capacity> _ring{};
    std::size_t _ring_head = 0;
    std::size_t _ring_size = 0;
    std::uint64_t _overflows = 0;
};

}  // namespace sbc::transcoder::dtmf
