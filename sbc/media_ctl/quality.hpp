// Media quality of one leg, as sbcctl, the CDR, the metrics and HEP report
// it: the loss, jitter and round trip the data plane measured on what the
// leg's peer sends (dataplane::side_counters), and an estimated MOS.
//
// The MOS comes from the E-model of ITU-T G.107, simplified as most VoIP
// monitors do: every impairment at its default but the delay (Id) and the
// codec's equipment impairment under loss (Ie-eff). It is computed when
// the figures are read, never on the packet path.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dataplane/api/media_engine.hpp"

namespace sbc::media_ctl {

/// The E-model's codec figures (ITU-T G.113 Appendix I): equipment
/// impairment Ie, packet-loss robustness Bpl, and the delay the codec adds
/// (ms: its packet or frame plus look-ahead).
struct codec_impairment {
    double ie = 0;
    double bpl = 25.1;
    double delay_ms = 20;
};

/// The figures for a codec as media_session::codec() names it
/// ("PCMA/8000", "G729/8000", "opus/48000/2"); G.711's for one it does not know.
codec_impairment impairment_of(std::string_view codec) noexcept;

/// The estimated MOS (1-4.5, ITU-T G.107 B.4) of a leg using `codec` with
/// `loss_percent` of its packets lost (random loss, BurstR 1), `jitter_ms`
/// of interarrival jitter and `rtt_ms` of round trip (0 when unknown).
double estimated_mos(std::string_view codec, double loss_percent, double jitter_ms,
                     double rtt_ms) noexcept;

/// One leg's quality, for display.
struct leg_quality {
    std::uint64_t received = 0;  ///< RTP packets (RFC 3550 A.3)
    std::uint64_t expected = 0;
    std::int64_t lost = 0;    ///< expected - received: negative with duplicates
    double loss_percent = 0;  ///< lost / expected, clamped to 0-100
    double jitter_ms = 0;     ///< RFC 3550 A.8
    std::optional<double> rtt_ms;
    double mos = 0;
};

/// The quality of the RTP the leg's peer sent (`c`, its side's counters),
/// rated for `codec`; nullopt before its first RTP packet.
std::optional<leg_quality> quality_of(const dataplane::side_counters& c,
                                      std::string_view codec) noexcept;

}  // namespace sbc::media_ctl
