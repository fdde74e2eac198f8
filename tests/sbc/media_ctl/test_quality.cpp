// The simplified E-model (ITU-T G.107) of sbc/media_ctl/quality, against
// values worked by hand from its formulas:
//   Ta = RTT/2 + 2 jitter + codec delay; Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3)
//   Ie-eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl); R = 93.2 - Id - Ie-eff
//   MOS = 1 + 0.035 R + R (R - 60) (100 - R) 7e-6
#include <catch2/catch.hpp>

#include "sbc/media_ctl/quality.hpp"

using sbc::media_ctl::estimated_mos;
using sbc::media_ctl::impairment_of;
using sbc::media_ctl::quality_of;

TEST_CASE("quality: codec figures from ITU-T G.113 Appendix I", "[media_ctl][quality]") {
    CHECK(impairment_of("PCMA/8000").ie == 0);
    CHECK(impairment_of("PCMU/8000").bpl == 25.1);
    CHECK(impairment_of("G729/8000").ie == 11);
    CHECK(impairment_of("g729/8000").bpl == 19.0);
    CHECK(impairment_of("opus/48000/2").ie == 0);
    CHECK(impairment_of("").bpl == 25.1);  // unknown: G.711's
}

TEST_CASE("quality: MOS of clean and impaired calls, worked by hand", "[media_ctl][quality]") {
    // G.711, nothing lost: Ta 20 (its packet), Id 0.48, R 92.72;
    // MOS 1 + 3.2452 + 92.72 * 32.72 * 7.28 * 7e-6 = 4.3998.
    CHECK(estimated_mos("PCMA/8000", 0, 0, 0) == Approx(4.3998).margin(1e-4));
    // G.711, 5 % lost, 30 ms jitter: Ta 20 + 60 = 80, Id 1.92, Ie-eff
    // 95 * 5 / 30.1 = 15.7807, R 75.4993; MOS 1 + 2.6425 + 75.4993 *
    // 15.4993 * 24.5007 * 7e-6 = 3.8432.
    CHECK(estimated_mos("PCMU/8000", 5, 30, 0) == Approx(3.8432).margin(1e-4));
    // G.729, 10 ms jitter, 200 ms round trip: Ta 100 + 20 + 25 = 145,
    // Id 3.48, Ie 11, R 78.72; MOS 1 + 2.7552 + 78.72 * 18.72 * 21.28 *
    // 7e-6 = 3.9747.
    CHECK(estimated_mos("G729/8000", 0, 10, 200) == Approx(3.9747).margin(1e-4));
    // G.711, 400 ms round trip: Ta 220 is past 177.3, Id 5.28 + 0.11 * 42.7
    // = 9.977, R 83.223; MOS 1 + 2.9128 + 83.223 * 23.223 * 16.777 * 7e-6
    // = 4.1398.
    CHECK(estimated_mos("PCMA/8000", 0, 0, 400) == Approx(4.1398).margin(1e-4));
    // G.729, everything lost: Ie-eff 11 + 84 * 100 / 119 = 81.588, Id 0.6,
    // R 11.012; MOS 1 + 0.3854 - 11.012 * 48.988 * 88.988 * 7e-6 = 1.0494.
    CHECK(estimated_mos("G729/8000", 100, 0, 0) == Approx(1.0494).margin(1e-4));
    // ... and a second of round trip on top: R below 0, MOS 1.
    CHECK(estimated_mos("G729/8000", 100, 0, 1000) == 1.0);
    // Loss beyond 100 % or negative figures are clamped, not trusted.
    CHECK(estimated_mos("PCMA/8000", -3, -1, -10) == estimated_mos("PCMA/8000", 0, 0, 0));
    // Worse conditions never rate higher.
    CHECK(estimated_mos("PCMA/8000", 5, 30, 0) < estimated_mos("PCMA/8000", 0, 0, 0));
    CHECK(estimated_mos("G729/8000", 0, 0, 0) < estimated_mos("PCMA/8000", 0, 0, 0));
}

TEST_CASE("quality: a leg's figures from its side counters", "[media_ctl][quality]") {
    sbc::dataplane::side_counters c;
    CHECK_FALSE(quality_of(c, "PCMA/8000"));  // no RTP yet

    c.rtp_received = 950;
    c.rtp_expected = 1000;
    c.rtp_lost = 50;
    c.jitter_ms = 30;
    auto q = quality_of(c, "PCMU/8000");
    REQUIRE(q);
    CHECK(q->loss_percent == Approx(5.0));
    CHECK(q->jitter_ms == 30);
    CHECK_FALSE(q->rtt_ms);
    CHECK(q->mos == Approx(3.8432).margin(1e-4));

    // Duplicates outnumbering losses: lost negative, loss shown as 0 %.
    c.rtp_received = 1010;
    c.rtp_lost = -10;
    c.jitter_ms = 0;
    c.rtt_ms = 0.0;
    q = quality_of(c, "PCMA/8000");
    REQUIRE(q);
    CHECK(q->lost == -10);
    CHECK(q->loss_percent == 0);
    CHECK(q->rtt_ms == 0.0);
    CHECK(q->mos == Approx(4.3998).margin(1e-4));
}
