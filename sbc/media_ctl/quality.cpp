// The simplified E-model (ITU-T G.107) behind quality.hpp.
//
// R = R0 - Is - Id - Ie-eff + A with every parameter at its G.107 default
// gives R0 - Is = 93.2 and A = 0; what a relayed call changes is:
// - Id, the delay impairment, from the one-way delay Ta: half the round
//   trip, plus what a receiver's jitter buffer adds (taken as twice the
//   jitter) and the codec's own delay. Id = 0.024 Ta + 0.11 (Ta - 177.3)
//   H(Ta - 177.3), the approximation of G.107's Idd and Idte that Cole and
//   Rosenbluth ("Voice over IP performance monitoring", 2001) give, and
//   which most monitors use;
// - Ie-eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl) (G.107 7.2), with
//   BurstR 1: random loss, as nothing here measures burstiness.
// Then MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6 (G.107 B.4), 1 below
// R 0 and 4.5 above R 100.
#include "sbc/media_ctl/quality.hpp"

#include <algorithm>
#include <cctype>

namespace sbc::media_ctl {

namespace {

bool named(std::string_view codec, std::string_view name) noexcept {
    const auto slash = codec.find('/');
    const auto enc = codec.substr(0, slash);
    return enc.size() == name.size() &&
           std::equal(enc.begin(), enc.end(), name.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

codec_impairment impairment_of(std::string_view codec) noexcept {
    // G.113 Appendix I, Table I.1 (Ie) and Table I.3 (Bpl).
    if (named(codec, "G729")) {
        // G.729A with VAD: Ie 11, Bpl 19.0; a 20 ms packet of 10 ms frames
        // plus its 5 ms look-ahead.
        return {11.0, 19.0, 25.0};
    }
    if (named(codec, "opus")) {
        // G.113 does not list Opus. At the rates a voice call uses it is
        // rated at least as high as G.711 in listening tests, and its PLC
        // hides loss at least as well as G.711's Appendix I PLC; with no
        // measured figures, G.711's are taken (Ie 0, Bpl 25.1), so Opus
        // never scores above G.711 on this narrowband scale. Its 20 ms
        // frame plus its 6.5 ms look-ahead.
        return {0.0, 25.1, 26.5};
    }
    // G.711 (PCMU, PCMA) with packet loss concealment: Ie 0, Bpl 25.1, in
    // 20 ms packets. Also G.722 and anything unknown: no better figure.
    return {0.0, 25.1, 20.0};
}

double estimated_mos(std::string_view codec, double loss_percent, double jitter_ms,
                     double rtt_ms) noexcept {
    const auto c = impairment_of(codec);
    const double ppl = std::clamp(loss_percent, 0.0, 100.0);
    const double ta = std::max(rtt_ms, 0.0) / 2 + 2 * std::max(jitter_ms, 0.0) + c.delay_ms;
    const double id = 0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0.0);
    const double ie_eff = c.ie + (95 - c.ie) * ppl / (ppl + c.bpl);
    const double r = 93.2 - id - ie_eff;
    if (r <= 0) {
        return 1.0;
    }
    if (r >= 100) {
        return 4.5;
    }
    return std::clamp(1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6, 1.0, 4.5);
}

std::optional<leg_quality> quality_of(const dataplane::side_counters& c,
                                      std::string_view codec) noexcept {
    if (c.rtp_received == 0) {
        return std::nullopt;
    }
    leg_quality q;
    q.received = c.rtp_received;
    q.expected = c.rtp_expected;
    q.lost = c.rtp_lost;
    q.loss_percent = c.rtp_expected == 0 ? 0.0
                                         : std::clamp(100.0 * static_cast<double>(c.rtp_lost) /
                                                          static_cast<double>(c.rtp_expected),
                                                      0.0, 100.0);
    q.jitter_ms = c.jitter_ms;
    q.rtt_ms = c.rtt_ms;
    q.mos = estimated_mos(codec, q.loss_percent, q.jitter_ms, q.rtt_ms.value_or(0.0));
    return q;
}

}  // namespace sbc::media_ctl
