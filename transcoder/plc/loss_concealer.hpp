// Packet loss concealment for the codecs that have none of their own
// (G.711, G.722): spandsp's PLC, after G.711 Appendix I. It keeps the
// history of the decoded audio; a lost span is filled by repeating the last
// pitch period found in it (periods of 40 to 120 samples: 66 to 200 Hz at
// 8000 Hz), faded out over 400 samples, and the next packet received is
// overlap-added into the fill-in.
//
// spandsp is wrapped here once. Its state is allocated with the concealer
// (a decoder's, on the control thread); received() and fill() run on the
// decoder's worker and allocate nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace sbc::transcoder {

class loss_concealer {
public:
    /// Throws std::runtime_error when spandsp refuses.
    loss_concealer();
    ~loss_concealer();
    loss_concealer(const loss_concealer&) = delete;
    loss_concealer& operator=(const loss_concealer&) = delete;

    /// Audio decoded from a packet that arrived: kept as history and, after
    /// a fill-in, its start blended with it (so `pcm` may change).
    void received(std::span<std::int16_t> pcm) noexcept;

    /// Fills `pcm` for audio that was lost. Returns the samples written.
    int fill(std::span<std::int16_t> pcm) noexcept;

private:
    struct state;  // spandsp's, kept out of this header (telephony.h's macros)
    std::unique_ptr<state> _state;
};

}  // namespace sbc::transcoder
