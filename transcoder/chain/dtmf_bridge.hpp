// DTMF across one direction of a stream whose two legs carry digits
// differently (the trunks' dtmf: rfc4733 | info | inband): the part of a
// codec chain that takes digits from what arrives (telephone-events, tones
// in the decoded audio, or SIP INFO handed over by the control plane) and
// gives them to the output leg as it takes them (telephone-events, tones
// mixed into the audio before encoding, or reports for the control plane to
// send as SIP INFO).
//
// Between two rfc4733 legs the chain maps the events themselves (payload
// type, clock, timestamps) and needs no bridge.
//
// Limits: digits are stored and forwarded (an event or tone is sent on once
// it has ended, so a long press arrives late by its length); digits going
// out are paced by the output stream's packets, so they wait while the input
// leg sends no audio; and the first ~25 ms of a detected tone, heard before
// spandsp confirms it, pass unmuted (delaying the audio to mute them would
// add that much latency to every call). Owned by its media_chain;
// the owning worker only. Construction allocates (spandsp state); nothing
// after it does.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "transcoder/chain/rtp_packet.hpp"
#include "transcoder/dtmf/event_receiver.hpp"
#include "transcoder/dtmf/event_sender.hpp"
#include "transcoder/dtmf/tone_detector.hpp"
#include "transcoder/dtmf/tone_generator.hpp"

namespace sbc::transcoder {

/// How a leg carries DTMF (the trunk's dtmf setting).
enum class dtmf_mode : std::uint8_t { rfc4733, info, inband };

/// A digit for the control plane to send on the output leg as SIP INFO.
struct reported_digit {
    char symbol = '\0';
    std::uint32_t duration_ms = 0;
};

class dtmf_bridge {
public:
    /// `in`/`out`: the modes of the input and output legs (they differ).
    /// `in_event_clock`: the input leg's telephone-event clock; `out_event_clock`
    /// and `interval_ms` those of the events the bridge sends (one per packet
    /// interval of the output stream). Event clocks are RTP clocks, as the
    /// audio's (RFC 4733 2.1): 8000 on a G.722 leg, whose audio is 16 kHz
    /// (RFC 3551 4.5.2). Durations count their ticks, never PCM samples.
    dtmf_bridge(dtmf_mode in, dtmf_mode out, std::uint32_t in_event_clock,
                std::uint32_t out_event_clock, unsigned interval_ms);
    ~dtmf_bridge();

    /// A telephone-event packet from the input leg (rfc4733 in). Digits it
    /// completes go to the output leg; the packet itself goes no further.
    void on_event_packet(const rtp_view& rtp, std::int64_t now_ns) noexcept;
    /// Ends an event whose end packets never came, once it has been silent
    /// for a while (RFC 4733 2.5.2.2 leaves the time to the receiver).
    void expire_events(std::int64_t now_ns) noexcept;

    /// Decoded input audio at 8000 Hz (inband in): digits heard go to the
    /// output leg, and the tones are muted where they were detected (the
    /// first ~25 ms of each, before detection, pass).
    void on_decoded(std::span<std::int16_t> pcm) noexcept;

    /// Output audio at 8000 Hz about to be encoded (inband out): queued
    /// tones replace it where they play.
    void before_encode(std::span<std::int16_t> pcm) noexcept;

    /// The telephone-event packet to send with the output packet stamped
    /// `rtp_timestamp` (rfc4733 out), if a digit is being sent.
    std::optional<dtmf::event_packet> next_event(std::uint32_t rtp_timestamp) noexcept;

    /// A digit the input leg's peer signalled in SIP INFO (info in). False
    /// when the input is not info or the output could not take the digit.
    bool queue(char symbol, std::uint32_t duration_ms) noexcept;

    /// The input stream starts anew (a new SSRC): an open event ends with
    /// what was seen of it, and the receiver and detector forget the old one.
    void restart_input() noexcept;

    /// The oldest digit for the control plane to send as INFO (info out).
    std::optional<reported_digit> take_report() noexcept;

    dtmf_mode in() const noexcept { return _in; }
    dtmf_mode out() const noexcept { return _out; }
    std::uint64_t lost_digits() const noexcept { return _lost; }
    std::uint64_t digits() const noexcept { return _digits; }

private:
    bool deliver(char symbol, std::uint32_t duration_ms) noexcept;
    void deliver_received() noexcept;

    dtmf_mode _in;
    dtmf_mode _out;
    std::uint32_t _in_event_clock;
    std::unique_ptr<dtmf::event_receiver> _receiver;   // rfc4733 in
    std::unique_ptr<dtmf::event_sender> _sender;       // rfc4733 out
    std::unique_ptr<dtmf::tone_detector> _detector;    // inband in
    std::unique_ptr<dtmf::tone_generator> _generator;  // inband out
    std::int64_t _last_event_ns = 0;
    static constexpr std::size_t report_capacity = 16;
    std::array<reported_digit, report_capacity> _reports{};
    std::size_t _report_head = 0;
    std::size_t _reports_queued = 0;
    std::uint64_t _lost = 0;    // digits the output could not take (full queues, no tone)
    std::uint64_t _digits = 0;  // digits passed on
};

}  // namespace sbc::transcoder
