// The media quality families: per trunk, a histogram of the legs' MOS at
// their calls' end and the RTP packets lost, from the tally of ended calls.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "sbc/metrics/families.hpp"

namespace test_metrics_quality {

namespace {

const prometheus::ClientMetric* quality_sample(const std::vector<prometheus::MetricFamily>& fs,
                                               const std::string& name, const std::string& trunk) {
    const auto f =
        std::find_if(fs.begin(), fs.end(), [&](const auto& x) { return x.name == name; });
    if (f == fs.end()) {
        return nullptr;
    }
    for (const auto& m : f->metric) {
        if (m.label.size() == 1 && m.label[0].name == "trunk" && m.label[0].value == trunk) {
            return &m;
        }
    }
    return nullptr;
}

sbc::cdr::leg_quality rated(double mos, std::int64_t lost) {
    sbc::cdr::leg_quality q;
    q.mos = mos;
    q.rtp_lost = lost;
    return q;
}

}  // namespace

TEST_CASE("quality families: MOS histogram and lost packets by trunk", "[metrics][quality]") {
    sbc::b2bua::call_tally tally;
    sbc::cdr::record call;
    call.from_trunk = "pbx";
    call.to_trunk = "carrier";
    call.status = 200;
    call.media_a.quality = rated(4.41, 0);
    call.media_b.quality = rated(3.8, 20);
    tally.count_attempt(call);
    sbc::cdr::record dups;  // duplicates outnumbered losses: nothing lost
    dups.from_trunk = "pbx";
    dups.to_trunk = "carrier";
    dups.status = 200;
    dups.media_b.quality = rated(4.2, -3);  // the caller's peer sent no RTP
    tally.count_attempt(dups);
    sbc::cdr::record refused;  // no media at all: not counted
    refused.from_trunk = "carrier";
    refused.status = 403;
    tally.count_attempt(refused);

    sbc::metrics::metrics_input in;
    in.tally = &tally;
    const auto fs = sbc::metrics::build_families(in);

    const auto* carrier = quality_sample(fs, "sbc_leg_mos", "carrier");
    REQUIRE(carrier != nullptr);
    CHECK(carrier->histogram.sample_count == 2);
    CHECK(carrier->histogram.sample_sum == Approx(8.0));
    // Cumulative: 3.8 is in (3.5, 4], 4.2 in (4, 4.3].
    std::vector<std::uint64_t> got;
    for (const auto& b : carrier->histogram.bucket) {
        got.push_back(b.cumulative_count);
    }
    CHECK(got == std::vector<std::uint64_t>{0, 0, 0, 0, 1, 2, 2});
    const auto* pbx = quality_sample(fs, "sbc_leg_mos", "pbx");
    REQUIRE(pbx != nullptr);
    CHECK(pbx->histogram.sample_count == 1);

    const auto* lost = quality_sample(fs, "sbc_rtp_lost_packets_total", "carrier");
    REQUIRE(lost != nullptr);
    CHECK(lost->counter.value == 20);
    CHECK(quality_sample(fs, "sbc_rtp_lost_packets_total", "pbx")->counter.value == 0);
}

}  // namespace test_metrics_quality
