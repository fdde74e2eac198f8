// Codec negotiation across the two legs of a call (issue 5): which formats
// the SBC offers to the called leg (B) for a caller's (A's) offer, and what
// it answers A once B has answered.
//
// Each trunk lists its codecs in order of preference. When A's offer and the
// two trunk lists share an audio codec, the offer to B keeps only shared
// formats and media is relayed untouched. When they share none, B gets an
// offer of its own trunk's codecs, B's answer picks one, A gets an answer
// naming a codec of its own offer, and the data plane runs a codec chain
// (decode, PCM, encode) between the two; the plan_answer result describes
// each side of that chain.
//
// Pure functions of their inputs: no sofia handles, no I/O, no state. The
// call code (sbc/b2bua) parses both SDPs with session_description, calls
// plan_offer when A's offer arrives and plan_answer when B's answer does,
// and puts the resulting formats and ptime in rewrite_params. A re-INVITE is
// one more offer and answer through the same two functions (RFC 3264 8): a
// re-offer may turn a relayed call into a transcoded one or back, and the
// call code must then reprogram the data plane.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sdp/session_description.hpp"
#include "transcoder/api/codec.hpp"

namespace sbc::sdp {

/// What one SDP says about its audio stream's formats.
struct media_formats {
    std::vector<format> formats;  ///< m= line order: the sender's preference (RFC 3264 5.1)
    unsigned ptime = 0;           ///< a=ptime in ms; 0 when absent

    /// session_description::formats() and ptime().
    static media_formats of(const session_description& sd);

    bool operator==(const media_formats&) const = default;
};

/// Whether the transcoder can decode and encode `f` (telephone-event and CN
/// are never asked). Called on the control thread, during the call only.
using transcodable_fn = std::function<bool(const format&)>;

/// The predicate the call code normally passes: what transcoder/registry.cpp
/// lists (PCMU, PCMA, G722, G729, opus). Inline, so that sbc_sdp itself needs no
/// link to the transcoder: code that uses this links transcoder_dep.
inline bool registry_transcodes(const format& f) noexcept {
    return transcoder::find_codec(f.encoding, f.clock_rate) != nullptr;
}

/// The trunk codec a format is, by encoding name (case-insensitive, RFC 4566
/// 6) and clock rate: PCMU/8000, PCMA/8000, G722/8000 (RFC 3551 4.5.2: the
/// RTP clock, not its 16 kHz sampling), G729/8000, opus/48000 and
/// telephone-event at any rate. CN and every other format: none.
std::optional<config::codec> trunk_codec(const format& f);

/// The offer the SBC sends to B.
struct offer_plan {
    /// rewrite_params::formats for the offer to B. Relay: A's formats (A's
    /// payload types and fmtp) in B's trunk order. Transcoding: B's trunk
    /// codecs as own_format() gives them.
    std::vector<format> formats;
    /// rewrite_params::ptime: 0 when relaying (A's a=ptime passes, the
    /// packets are A's), 20 when transcoding (the SBC packetizes).
    unsigned ptime = 0;
    /// No audio codec is shared: B's answer will be transcoded.
    bool transcoding = false;
};

/// Plans the offer to B for A's offer `a_offer` (RFC 3264 5).
///
/// Relay: the audio formats of A's offer that are on both trunks' lists (the
/// SBC relays no codec its own configuration excludes on either leg), in B's
/// order of preference; telephone-event formats of A's at the clock rate of a
/// kept codec (else A's first one) when both lists have telephone_event
/// (RFC 4733 events pass end to end untouched, so both legs must allow
/// them); A's CN (RFC 3389) at the clock rate of a kept codec.
///
/// Transcoding, when that leaves no audio codec: the codecs of B's list the
/// transcoder can handle, in B's order, plus telephone-event/8000 if B's list
/// has it; no CN. Only when A's offer holds a codec of A's list the
/// transcoder can handle as well: otherwise the call cannot be carried.
///
/// Errors (answer A with 488 Not Acceptable Here, RFC 3261 21.4.26): no audio
/// format offered, or no shared codec and no transcoding possible.
result<offer_plan> plan_offer(const media_formats& a_offer,
                              const std::vector<config::codec>& a_codecs,
                              const std::vector<config::codec>& b_codecs,
                              const transcodable_fn& transcodable);

/// RFC 4733 events on one side of a transcoded stream.
struct event_format {
    std::uint8_t payload_type = 101;           ///< the number the SBC sends them with
    std::uint8_t received_payload_type = 101;  ///< the number that side sends them with
    std::uint32_t clock_rate = 8000;

    bool operator==(const event_format&) const = default;
};

/// One side of a transcoded stream, as the data plane's codec chain needs it.
///
/// RFC 3264 5.1 / 6.1: each SDP states the numbers its sender receives, so
/// the SBC sends with the numbers of the peer's SDP and receives with those
/// of its own. They are the same unless an answerer renumbered a codec
/// (allowed, if discouraged); only B can, since the SBC's answers to A keep
/// A's numbers.
struct chain_side {
    format sdp;  ///< the format as the peer's SDP states it (the SBC sends with its number)
    unsigned ptime = 20;  ///< the a=ptime that peer sent, else 20
    /// `sdp` and `ptime` for the transcoder, fmtp parsed (to_audio_format);
    /// G.729 Annex B only when both SDPs of that leg allow it.
    transcoder::audio_format audio;
    std::uint8_t received_payload_type = 0;  ///< the number that peer sends audio with
    std::optional<event_format> events;      ///< telephone-event on that side, if negotiated
};

/// A payload type that differs between the legs for the same codec: the
/// answerer chose another number than the offer's (RFC 3264 6.1 says SHOULD
/// keep it, not MUST).
struct payload_type_change {
    std::uint8_t a = 0;  ///< the codec's number on A's leg
    std::uint8_t b = 0;  ///< its number on B's leg, in that direction

    bool operator==(const payload_type_change&) const = default;
};

/// What the SBC answers A, and how media flows.
struct answer_plan {
    enum class mode { relay, transcode };
    mode how = mode::relay;
    /// rewrite_params::formats for the answer to A (B's answer rewritten):
    /// every number is one of A's offer (RFC 3264 6.1).
    std::vector<format> formats;
    /// rewrite_params::ptime for the answer to A: 0 when relaying (B's
    /// a=ptime passes), side A's ptime when transcoding.
    unsigned ptime = 0;
    /// relay only: numbers to rewrite on packets from A to B (A sends with
    /// the SBC's answer's numbers, B receives with its answer's). Empty when
    /// B kept the offer's numbers, as RFC 3264 6.1 asks.
    std::vector<payload_type_change> a_to_b;
    /// relay only: numbers to rewrite on packets from B to A. B should send
    /// with the numbers offered to it (RFC 3264 5.1): these differ from A's
    /// only if the offer to B did not carry A's numbers, which plan_offer's
    /// relay offers always do. Many peers send with their answer's numbers
    /// instead, so a number B renumbered maps back to A's as well, unless
    /// the offer to B used it for another format.
    std::vector<payload_type_change> b_to_a;
    /// transcode only: the two ends of the codec chain.
    std::optional<chain_side> side_a;
    std::optional<chain_side> side_b;
};

/// Plans the answer to A once B answered `b_answer` the offer `offered_to_b`
/// (plan_offer's formats) made for `a_offer`.
///
/// Relay, when B's first audio format is one of A's offer on A's list: the
/// answer to A is B's answer's formats, each under A's payload type number
/// and encoding name with B's fmtp (B's receiving parameters, RFC 3264 6.1).
///
/// Transcode otherwise: the answer to A is the first format of A's offer, in
/// A's trunk order, that the transcoder can handle (RFC 3264 6.1: the
/// answerer picks from the offer, with the offer's numbers), with A's fmtp
/// (opus: the SBC's own receiving parameters), plus A's telephone-event if
/// A's list has it; side B is B's answer's first audio format.
///
/// `a_answered`: the audio format the SBC already answered A with itself
/// (plan_local_answer, local ringback). The answer must stay that one
/// (RFC 3261 13.2.1), so B's codec is relayed only when it is that format,
/// else transcoded to it (plan_local_answer picks what the transcode case
/// would).
///
/// Errors (fail the call, or 488 to A): B's answer names no audio format that
/// was offered to it, or nothing of A's offer can be transcoded.
result<answer_plan> plan_answer(const media_formats& a_offer,
                                const std::vector<format>& offered_to_b,
                                const media_formats& b_answer,
                                const std::vector<config::codec>& a_codecs,
                                const transcodable_fn& transcodable,
                                const std::optional<format>& a_answered = std::nullopt);

/// The answer the SBC gives A on its own, before B has answered (local
/// ringback: the SBC sends A media itself): side A of a transcoded answer,
/// the first format of A's offer, in A's trunk order, that the transcoder
/// can encode, with A's telephone-event if A's list has it; no side B.
/// Errors: nothing of A's offer can be encoded.
result<answer_plan> plan_local_answer(const media_formats& a_offer,
                                      const std::vector<config::codec>& a_codecs,
                                      const transcodable_fn& transcodable);

/// `f` and `ptime_ms` (0: 20) as the transcoder describes a format. fmtp per
/// RFC 4856 2.1.9 (G729 annexb=yes|no; absent means yes) and RFC 7587 7.1
/// (opus maxplaybackrate and sprop-maxcapturerate, clamped to 8000-48000;
/// stereo, useinbandfec, usedtx: 0 or 1; maxaveragebitrate 6000-510000).
/// Names and values case-insensitive, spaces ignored; an unknown or
/// malformed parameter leaves its default. Never throws on any input.
transcoder::audio_format to_audio_format(const format& f, unsigned ptime_ms);

}  // namespace sbc::sdp
