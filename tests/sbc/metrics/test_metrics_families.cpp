// The families built from made-up control API answers and a tally: names,
// types, labels and values as conf/README.md ("metrics") documents them.
#include "sbc/metrics/families.hpp"

#include <catch2/catch.hpp>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip_header.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "sbc/metrics/process.hpp"
#include "sbc/metrics/sip_counters.hpp"

#ifndef SBC_SOURCE_ROOT
#error "SBC_SOURCE_ROOT must name the source tree (set by tests/sbc/meson.build)"
#endif

namespace test_metrics_families {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const MetricFamily* find(const std::vector<MetricFamily>& fs, const std::string& name) {
    auto it = std::find_if(fs.begin(), fs.end(), [&](const auto& f) { return f.name == name; });
    return it != fs.end() ? &*it : nullptr;
}

// The sample of `name` whose labels are exactly `labels` (sorted by name).
const ClientMetric* sample(const std::vector<MetricFamily>& fs, const std::string& name,
                           std::vector<ClientMetric::Label> labels) {
    const auto* f = find(fs, name);
    if (f == nullptr) {
        return nullptr;
    }
    for (const auto& m : f->metric) {
        auto got = m.label;
        std::sort(got.begin(), got.end());
        std::sort(labels.begin(), labels.end());
        if (got == labels) {
            return &m;
        }
    }
    return nullptr;
}

double value(const std::vector<MetricFamily>& fs, const std::string& name,
             std::vector<ClientMetric::Label> labels = {}) {
    const auto* m = sample(fs, name, std::move(labels));
    REQUIRE(m != nullptr);
    return find(fs, name)->type == MetricType::Counter ? m->counter.value : m->gauge.value;
}

// What the b2bua's control API answers, cut down to the fields used.
nlohmann::json trunks_json() {
    return nlohmann::json::parse(R"({
      "trunks": [
        {"name": "carrier", "active_calls": 2,
         "admission": {"inbound": {"admitted": 10, "refused_max_calls": 3, "refused_cps": 1},
                       "outbound": {"admitted": 4, "refused_max_calls": 0, "refused_cps": 0}},
         "registration": {"state": "registered"},
         "peers": [{"uri": "sip:192.0.2.1:5060", "state": "up", "last_rtt_ms": 12.5},
                   {"uri": "sip:192.0.2.2:5060", "state": "down", "last_rtt_ms": null}]},
        {"name": "pbx", "active_calls": 0, "registration": null,
         "registrations": [{"user": "100"}, {"user": "101"}],
         "peers": []}
      ],
      "interfaces": [
        {"name": "outside", "access": {"refused_sources": 7, "dropped_udp": 9,
                                       "flood_blocks": 1, "flood_dropped": 30,
                                       "blocked": [{"address": "203.0.113.9"}]},
         "tls": {"handshakes": {"completed": 5, "untrusted": 2, "expired": 0}}},
        {"name": "inside", "access": {"refused_sources": 0}, "tls": null}
      ]})");
}

nlohmann::json stats_json() {
    return nlohmann::json::parse(R"({
      "calls": [
        {"state": "established", "legs": {
          "a": {"rtp_rx_packets": 100, "rtcp_rx_packets": 2, "rtp_rx_bytes": 16000,
                "tx_packets": 90, "tx_bytes": 14400, "drops": {"wrong_source": 1, "srtp_auth": 2}},
          "b": {"rtp_rx_packets": 90, "rtcp_rx_packets": 0, "rtp_rx_bytes": 14400,
                "tx_packets": 102, "tx_bytes": 16000, "drops": {"srtp_replay": 3}}}},
        {"state": "terminated", "legs": {"a": {"rtp_rx_packets": 1000}}}
      ],
      "media": {"open_sessions": 2, "free_port_pairs": 4998,
                "transcoded_calls": {"G729/8000 <-> PCMA/8000": 1},
                "workers": [{"index": 0, "busy_fraction": 0.25, "bursts": 40, "packets": 400}],
                "ports": []}})");
}

nlohmann::json cluster_json() {
    return nlohmann::json::parse(R"({
      "node": "a", "partner": "b", "role": "active", "calls": 2,
      "store": {"address": "127.0.0.1:6379", "tls": false, "up": true, "queue": 3,
                "in_flight": 1, "dropped": 4, "written": 50, "deleted": 7, "failures": 2,
                "lag_ms": 250, "resyncs": 1, "last_error": ""},
      "take_overs": 1, "hand_over": "none"})");
}

// A message sofia parsed from `text`, as the SIP tap hands it over.
class parsed_message {
public:
    explicit parsed_message(std::string text)
        : _text(std::move(text)),
          _msg(msg_make(sip_default_mclass(), 0, _text.data(), static_cast<ssize_t>(_text.size())),
               &msg_destroy) {
        REQUIRE(_msg);
    }
    const sip_t* sip() const { return sip_object(_msg.get()); }

private:
    std::string _text;
    std::unique_ptr<msg_t, void (*)(msg_t*)> _msg;
};

const char* const invite_text =
    "INVITE sip:2000@192.0.2.10 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1\r\n"
    "From: <sip:1000@192.0.2.20>;tag=a\r\n"
    "To: <sip:2000@192.0.2.10>\r\n"
    "Call-ID: c1@192.0.2.20\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

const char* const ok_text =
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1\r\n"
    "From: <sip:1000@192.0.2.20>;tag=a\r\n"
    "To: <sip:2000@192.0.2.10>;tag=b\r\n"
    "Call-ID: c1@192.0.2.20\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

sbc::capture::sip_packet sip_in(const sip_t* sip) {
    sbc::capture::sip_packet p;
    p.direction = sbc::capture::sip_direction::in;
    p.local = *sbc::dataplane::ip_endpoint::from_string("192.0.2.10", 5060);
    p.sip = sip;
    return p;
}

// Everything sbcd can export at once: every family has samples.
struct rich_input {
    sbc::b2bua::call_tally tally;
    sbc::metrics::sip_counters sip{
        {{"outside", {*sbc::dataplane::ip_endpoint::from_string("192.0.2.10", 5060)}}}};
    sbc::metrics::metrics_input in;

    rich_input() {
        sbc::cdr::record answered;
        answered.from_trunk = "carrier";
        answered.status = 200;
        answered.start = sbc::cdr::wall_clock::now();
        answered.answer = answered.start + std::chrono::milliseconds(700);
        answered.media_a.quality = sbc::cdr::leg_quality{100, 5, 5.0, 30.0, std::nullopt, 3.8};
        tally.count_attempt(answered);
        sbc::cdr::record busy;
        busy.from_trunk = "carrier";
        busy.status = 486;
        tally.count_attempt(busy);
        tally.count_ringing("carrier", 0.3);
        tally.count_digest_refusal("pbx", true, "no_credentials");
        tally.count_digest_refusal("pbx", true, "wrong_response");
        tally.count_digest_refusal("carrier", false, "refused");
        sbc::dataplane::session_stats ended;
        ended.sides[0].rtp_rx_packets = 50;
        tally.count_media(ended);

        parsed_message invite(invite_text);
        parsed_message ok(ok_text);
        sip.on_sip(sip_in(invite.sip()));
        sip.on_sip(sip_in(invite.sip()));
        sip.on_sip(sip_in(ok.sip()));
        sip.on_sip(sip_in(nullptr));

        in.active_calls = 2;
        in.trunks = trunks_json();
        in.stats = stats_json();
        in.stats["media"]["ports"] = nlohmann::json::parse(R"([{"device": "0000:03:00.0",
            "rx_packets": 10, "tx_packets": 9, "rx_bytes": 1000, "tx_bytes": 900,
            "rx_missed": 1, "rx_errors": 0, "tx_errors": 0, "unresolved": 0, "tx_full": 0,
            "kernel_full": 0, "dispatch_full": 0}])");
        in.tally = &tally;
        in.sip = &sip;
        in.retransmissions = {{"outside", 5, 2}, {"inside", 0, 0}};
        in.cluster = cluster_json();
        in.stats["capture"] = {
            {"messages_dropped", 2},
            {"hep",
             {{"sent", 40}, {"dropped", 1}, {"errors", 3}, {"queue", 5}, {"connected", true}}}};
    }
};

std::string read_source_file(const std::string& relative) {
    std::ifstream f(std::string(SBC_SOURCE_ROOT) + "/" + relative);
    REQUIRE(f);
    std::ostringstream text;
    text << f.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("metric families from the control API and the tally", "[metrics][families]") {
    sbc::b2bua::call_tally tally;
    sbc::cdr::record answered;
    answered.from_trunk = "carrier";
    answered.status = 200;
    answered.start = sbc::cdr::wall_clock::now();
    answered.answer = answered.start + std::chrono::milliseconds(700);
    tally.count_attempt(answered);
    sbc::cdr::record busy;
    busy.from_trunk = "carrier";
    busy.status = 486;
    tally.count_attempt(busy);
    sbc::dataplane::session_stats ended;
    ended.sides[0].rtp_rx_packets = 50;
    ended.sides[1].tx_packets = 50;
    ended.sides[0].srtp_auth_failures = 1;
    tally.count_media(ended);

    sbc::metrics::metrics_input in;
    in.active_calls = 2;
    in.trunks = trunks_json();
    in.stats = stats_json();
    in.tally = &tally;
    const auto fs = sbc::metrics::build_families(in);

    SECTION("every name has the sbc_ prefix; counters and only they end in _total") {
        for (const auto& f : fs) {
            INFO(f.name);
            CHECK(f.name.rfind("sbc_", 0) == 0);
            const bool total = f.name.size() > 6 && f.name.substr(f.name.size() - 6) == "_total";
            CHECK(total == (f.type == MetricType::Counter));
            CHECK(!f.help.empty());
            CHECK(!f.metric.empty());
        }
    }
    SECTION("calls") {
        CHECK(value(fs, "sbc_calls_active") == 2);
        CHECK(value(fs, "sbc_draining") == 0);
        CHECK(value(fs, "sbc_trunk_calls_active", {{"trunk", "carrier"}}) == 2);
        CHECK(value(fs, "sbc_calls_attempted_total", {{"trunk", "carrier"}}) == 2);
        CHECK(value(fs, "sbc_calls_answered_total", {{"trunk", "carrier"}}) == 1);
        CHECK(value(fs, "sbc_calls_failed_total",
                    {{"trunk", "carrier"}, {"status_class", "4xx"}}) == 1);
        const auto* setup = sample(fs, "sbc_call_setup_seconds", {{"trunk", "carrier"}});
        REQUIRE(setup != nullptr);
        CHECK(find(fs, "sbc_call_setup_seconds")->type == MetricType::Histogram);
        CHECK(setup->histogram.sample_count == 1);
        CHECK(setup->histogram.sample_sum == Approx(0.7));
        for (const auto& b : setup->histogram.bucket) {
            CHECK(b.cumulative_count == (b.upper_bound >= 1 ? 1U : 0U));
        }
    }
    SECTION("peers, admission, registrations") {
        CHECK(value(fs, "sbc_peer_up", {{"trunk", "carrier"}, {"peer", "sip:192.0.2.1:5060"}}) ==
              1);
        CHECK(value(fs, "sbc_peer_up", {{"trunk", "carrier"}, {"peer", "sip:192.0.2.2:5060"}}) ==
              0);
        CHECK(value(fs, "sbc_peer_options_rtt_seconds",
                    {{"trunk", "carrier"}, {"peer", "sip:192.0.2.1:5060"}}) == Approx(0.0125));
        // No RTT known: no sample, rather than a made-up 0.
        CHECK(sample(fs, "sbc_peer_options_rtt_seconds",
                     {{"trunk", "carrier"}, {"peer", "sip:192.0.2.2:5060"}}) == nullptr);
        CHECK(value(fs, "sbc_admission_refused_total",
                    {{"trunk", "carrier"}, {"direction", "inbound"}, {"reason", "max_calls"}}) ==
              3);
        CHECK(value(fs, "sbc_admission_admitted_total",
                    {{"trunk", "carrier"}, {"direction", "outbound"}}) == 4);
        CHECK(value(fs, "sbc_registration_up", {{"trunk", "carrier"}}) == 1);
        CHECK(sample(fs, "sbc_registration_up", {{"trunk", "pbx"}}) == nullptr);
        CHECK(value(fs, "sbc_registrar_bindings", {{"trunk", "pbx"}}) == 2);
    }
    SECTION("interfaces") {
        CHECK(value(fs, "sbc_acl_refused_total", {{"interface", "outside"}}) == 7);
        CHECK(value(fs, "sbc_acl_dropped_datagrams_total", {{"interface", "outside"}}) == 9);
        CHECK(value(fs, "sbc_flood_dropped_total", {{"interface", "outside"}}) == 30);
        CHECK(value(fs, "sbc_flood_blocked_sources", {{"interface", "outside"}}) == 1);
        CHECK(value(fs, "sbc_tls_handshakes_total", {{"interface", "outside"}}) == 5);
        CHECK(value(fs, "sbc_tls_handshake_failures_total",
                    {{"interface", "outside"}, {"reason", "untrusted"}}) == 2);
        CHECK(sample(fs, "sbc_tls_handshakes_total", {{"interface", "inside"}}) == nullptr);
    }
    SECTION("media: the ended calls' counters plus the live ones, terminated ones once") {
        CHECK(value(fs, "sbc_media_packets_total", {{"direction", "rx"}}) == 50 + 102 + 90);
        CHECK(value(fs, "sbc_media_packets_total", {{"direction", "tx"}}) == 50 + 90 + 102);
        CHECK(value(fs, "sbc_media_bytes_total", {{"direction", "rx"}}) == 16000 + 14400);
        CHECK(value(fs, "sbc_media_dropped_packets_total", {{"reason", "srtp_auth"}}) == 1 + 2);
        CHECK(value(fs, "sbc_media_dropped_packets_total", {{"reason", "wrong_source"}}) == 1);
        CHECK(value(fs, "sbc_srtp_failures_total", {{"reason", "auth"}}) == 3);
        CHECK(value(fs, "sbc_srtp_failures_total", {{"reason", "replay"}}) == 3);
        CHECK(value(fs, "sbc_media_free_port_pairs") == 4998);
        CHECK(value(fs, "sbc_media_sessions") == 2);
        CHECK(value(fs, "sbc_transcoded_calls", {{"codec_pair", "G729/8000 <-> PCMA/8000"}}) == 1);
        CHECK(value(fs, "sbc_worker_busy_ratio", {{"worker", "0"}}) == 0.25);
        CHECK(value(fs, "sbc_worker_packets_total", {{"worker", "0"}}) == 400);
        // No dpdk ports: no port families at all.
        CHECK(find(fs, "sbc_port_packets_total") == nullptr);
    }
}

TEST_CASE("metric families from nothing: odd JSON is absent data", "[metrics][families]") {
    sbc::metrics::metrics_input in;
    in.trunks = nlohmann::json::parse(R"({"trunks": [7, {"name": 3, "peers": "x"}],
                                          "interfaces": {"no": "list"}})");
    in.stats = "not an object";
    const auto fs = sbc::metrics::build_families(in);
    CHECK(value(fs, "sbc_calls_active") == 0);
    CHECK(value(fs, "sbc_media_packets_total", {{"direction", "rx"}}) == 0);
    CHECK(find(fs, "sbc_calls_attempted_total") == nullptr);
}

TEST_CASE("process metrics from /proc/self", "[metrics][process]") {
    std::vector<MetricFamily> fs;
    sbc::metrics::add_process_families(fs);
    REQUIRE(find(fs, "process_cpu_seconds_total") != nullptr);
    CHECK(find(fs, "process_cpu_seconds_total")->type == MetricType::Counter);
    CHECK(value(fs, "process_resident_memory_bytes") > 0);
    CHECK(value(fs, "process_open_fds") >= 3);
    const double start = value(fs, "process_start_time_seconds");
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(start > now - 86400 * 365);
    CHECK(start <= now + 1);
}

TEST_CASE("the SIP counters, retransmissions, digest refusals, 18x and the cluster store",
          "[metrics][families]") {
    rich_input r;
    const auto fs = sbc::metrics::build_families(r.in);
    CHECK(value(fs, "sbc_sip_requests_total",
                {{"interface", "outside"}, {"direction", "in"}, {"method", "INVITE"}}) == 2);
    CHECK(value(fs, "sbc_sip_responses_total",
                {{"interface", "outside"},
                 {"direction", "in"},
                 {"method", "INVITE"},
                 {"status_class", "2xx"}}) == 1);
    // Cells that counted nothing are left out.
    CHECK(sample(fs, "sbc_sip_requests_total",
                 {{"interface", "outside"}, {"direction", "out"}, {"method", "INVITE"}}) ==
          nullptr);
    CHECK(find(fs, "sbc_sip_requests_total")->metric.size() == 1);
    CHECK(value(fs, "sbc_sip_malformed_total", {{"interface", "outside"}, {"direction", "in"}}) ==
          1);
    CHECK(value(fs, "sbc_sip_retransmissions_total",
                {{"interface", "outside"}, {"direction", "out"}, {"kind", "request"}}) == 5);
    CHECK(value(fs, "sbc_sip_retransmissions_total",
                {{"interface", "outside"}, {"direction", "in"}, {"kind", "request"}}) == 2);
    CHECK(value(fs, "sbc_sip_retransmissions_total",
                {{"interface", "inside"}, {"direction", "in"}, {"kind", "request"}}) == 0);
    CHECK(value(fs, "sbc_digest_refusals_total",
                {{"trunk", "pbx"}, {"direction", "inbound"}, {"reason", "wrong_response"}}) == 1);
    CHECK(value(fs, "sbc_digest_refusals_total",
                {{"trunk", "carrier"}, {"direction", "outbound"}, {"reason", "refused"}}) == 1);
    const auto* ringing = sample(fs, "sbc_call_setup_18x_seconds", {{"trunk", "carrier"}});
    REQUIRE(ringing != nullptr);
    CHECK(find(fs, "sbc_call_setup_18x_seconds")->type == MetricType::Histogram);
    CHECK(ringing->histogram.sample_count == 1);
    CHECK(ringing->histogram.sample_sum == Approx(0.3));
    for (const auto& b : ringing->histogram.bucket) {
        CHECK(b.cumulative_count == (b.upper_bound >= 0.5 ? 1U : 0U));
    }
    CHECK(value(fs, "sbc_cluster_store_up") == 1);
    CHECK(value(fs, "sbc_cluster_active") == 1);
    CHECK(value(fs, "sbc_cluster_store_queue_length") == 3);
    CHECK(value(fs, "sbc_cluster_store_in_flight") == 1);
    CHECK(value(fs, "sbc_cluster_store_lag_seconds") == Approx(0.25));
    CHECK(value(fs, "sbc_cluster_store_dropped_total") == 4);
    CHECK(value(fs, "sbc_cluster_store_writes_total") == 50);
    CHECK(value(fs, "sbc_cluster_store_failures_total") == 2);
    CHECK(value(fs, "sbc_cluster_store_resyncs_total") == 1);
    CHECK(value(fs, "sbc_cluster_take_overs_total") == 1);
    CHECK(value(fs, "sbc_capture_sip_messages_dropped_total") == 2);
    CHECK(value(fs, "sbc_hep_packets_total", {{"result", "sent"}}) == 40);
    CHECK(value(fs, "sbc_hep_packets_total", {{"result", "dropped"}}) == 1);
    CHECK(value(fs, "sbc_hep_errors_total") == 3);
    CHECK(value(fs, "sbc_hep_queue_packets") == 5);
    CHECK(value(fs, "sbc_hep_connected") == 1);
}

TEST_CASE("no SIP tap, no 18x, no cluster: those families are left out", "[metrics][families]") {
    sbc::b2bua::call_tally tally;
    sbc::cdr::record answered;
    answered.from_trunk = "carrier";
    answered.status = 200;
    tally.count_attempt(answered);
    sbc::metrics::metrics_input in;
    in.tally = &tally;
    in.cluster = nlohmann::json{{"error", "this node is not in a cluster"}};
    const auto fs = sbc::metrics::build_families(in);
    CHECK(find(fs, "sbc_sip_requests_total") == nullptr);
    CHECK(find(fs, "sbc_sip_retransmissions_total") == nullptr);
    CHECK(find(fs, "sbc_call_setup_18x_seconds") == nullptr);
    CHECK(find(fs, "sbc_digest_refusals_total") == nullptr);
    CHECK(find(fs, "sbc_cluster_store_up") == nullptr);
    CHECK(find(fs, "sbc_cluster_store_queue_length") == nullptr);
}

TEST_CASE("conf/README.md documents every family sbcd exports", "[metrics][families]") {
    rich_input r;
    auto fs = sbc::metrics::build_families(r.in);
    sbc::metrics::add_process_families(fs);
    const auto readme = read_source_file("conf/README.md");
    // The metrics section: from its heading to the next one.
    const auto start = readme.find("## metrics: Prometheus");
    REQUIRE(start != std::string::npos);
    const auto section = readme.substr(start, readme.find("\n## ", start + 1) - start);
    std::set<std::string> names;
    for (const auto& f : fs) {
        names.insert(f.name);
    }
    // Every family of families.cpp (56) and process.cpp (5): a new one
    // must be reached by rich_input, counted here, and documented.
    CHECK(names.size() == 61);
    for (const auto& name : names) {
        INFO(name);
        // A row of the section's table: "| `name` | type | ...".
        CHECK(section.find("| `" + name + "` |") != std::string::npos);
    }
}

}  // namespace test_metrics_families
