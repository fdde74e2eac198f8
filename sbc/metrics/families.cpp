#include "sbc/metrics/families.hpp"

#include <deque>
#include <string>
#include <utility>

#include "sbc/metrics/sip_counters.hpp"

namespace sbc::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using labels = std::vector<ClientMetric::Label>;

// A number of the control API's JSON: absent, null or not a number is none.
const nlohmann::json* number_at(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return nullptr;
    }
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? &*it : nullptr;
}

std::string text_at(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return {};
    }
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const nlohmann::json& list_at(const nlohmann::json& j, const char* key) {
    static const nlohmann::json empty = nlohmann::json::array();
    if (!j.is_object()) {
        return empty;
    }
    auto it = j.find(key);
    return it != j.end() && it->is_array() ? *it : empty;
}

const nlohmann::json& object_at(const nlohmann::json& j, const char* key) {
    static const nlohmann::json empty = nlohmann::json::object();
    if (!j.is_object()) {
        return empty;
    }
    auto it = j.find(key);
    return it != j.end() && it->is_object() ? *it : empty;
}

// The families under construction (a deque: the references family() hands
// out stay valid as more are added); a family without samples is dropped at
// the end, as a client library leaves out a metric never set.
class family_list {
public:
    MetricFamily& family(std::string name, std::string help, MetricType type) {
        _out.push_back({std::move(name), std::move(help), type, {}});
        return _out.back();
    }
    std::vector<MetricFamily> take() && {
        std::vector<MetricFamily> out;
        for (auto& f : _out) {
            if (!f.metric.empty()) {
                out.push_back(std::move(f));
            }
        }
        return out;
    }

private:
    std::deque<MetricFamily> _out;
};

void sample(MetricFamily& f, labels l, double value) {
    ClientMetric m;
    m.label = std::move(l);
    if (f.type == MetricType::Counter) {
        m.counter.value = value;
    } else {
        m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
}

void sample_at(MetricFamily& f, labels l, const nlohmann::json& j, const char* key,
               double scale = 1) {
    if (const auto* v = number_at(j, key)) {
        sample(f, std::move(l), v->get<double>() * scale);
    }
}

// One histogram sample of a tally with fixed `bounds`, per-bucket (not
// cumulative) `buckets`, `count` and `sum` (call_tally's histograms).
template <typename Tally>
void histogram(MetricFamily& f, labels l, const Tally& from) {
    ClientMetric h;
    h.label = std::move(l);
    h.histogram.sample_count = from.count;
    h.histogram.sample_sum = from.sum;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < from.bounds.size(); ++i) {
        cumulative += from.buckets[i];
        h.histogram.bucket.push_back({cumulative, from.bounds[i]});
    }
    // prometheus-cpp's serializer writes the +Inf bucket from sample_count.
    f.metric.push_back(std::move(h));
}

// ---- calls -------------------------------------------------------------------

void call_families(family_list& fl, const metrics_input& in) {
    sample(fl.family("sbc_calls_active", "Calls in progress (set up, ringing or answered).",
                     MetricType::Gauge),
           {}, static_cast<double>(in.active_calls));
    sample(fl.family("sbc_draining", "1 while a drain is under way (sbcctl drain), else 0.",
                     MetricType::Gauge),
           {}, in.draining ? 1 : 0);
    auto& by_trunk = fl.family("sbc_trunk_calls_active", "Calls in progress to or from the trunk.",
                               MetricType::Gauge);
    for (const auto& t : list_at(in.trunks, "trunks")) {
        sample_at(by_trunk, {{"trunk", text_at(t, "name")}}, t, "active_calls");
    }
    if (in.tally == nullptr) {
        return;
    }
    auto& attempted = fl.family(
        "sbc_calls_attempted_total",
        "Call attempts from the trunk that have ended (answered, refused, cancelled or failed).",
        MetricType::Counter);
    auto& answered =
        fl.family("sbc_calls_answered_total",
                  "Call attempts from the trunk that were answered (2xx).", MetricType::Counter);
    auto& failed =
        fl.family("sbc_calls_failed_total",
                  "Call attempts from the trunk that ended unanswered, by final status class.",
                  MetricType::Counter);
    auto& setup = fl.family("sbc_call_setup_seconds",
                            "Time from the caller's INVITE to the 2xx sent back, answered calls.",
                            MetricType::Histogram);
    auto& ringing = fl.family("sbc_call_setup_18x_seconds",
                              "Time from the caller's INVITE to the first 18x sent back.",
                              MetricType::Histogram);
    for (const auto& [trunk, t] : in.tally->trunks()) {
        sample(attempted, {{"trunk", trunk}}, static_cast<double>(t.attempted));
        sample(answered, {{"trunk", trunk}}, static_cast<double>(t.answered));
        for (const auto& [status_class, n] : t.failed) {
            sample(failed, {{"status_class", status_class}, {"trunk", trunk}},
                   static_cast<double>(n));
        }
        histogram(setup, {{"trunk", trunk}}, t.setup);
        if (t.ringing.count > 0) {
            histogram(ringing, {{"trunk", trunk}}, t.ringing);
        }
    }
}

// ---- digest authentication ----------------------------------------------------

void digest_families(family_list& fl, const metrics_input& in) {
    if (in.tally == nullptr) {
        return;
    }
    auto& refused = fl.family(
        "sbc_digest_refusals_total",
        "Digest authentication refused: by the SBC to a peer (inbound), or by a trunk to the "
        "SBC (outbound), by reason.",
        MetricType::Counter);
    for (const auto& [r, n] : in.tally->digest_refusals()) {
        sample(refused,
               {{"direction", r.inbound ? "inbound" : "outbound"},
                {"reason", r.reason},
                {"trunk", r.trunk}},
               static_cast<double>(n));
    }
}

// ---- trunks: peers, admission, registration ---------------------------------

void peer_families(family_list& fl, const metrics_input& in) {
    auto& up = fl.family("sbc_peer_up",
                         "1 when the peer answers its OPTIONS keep-alives (or is not probed), "
                         "0 when it is marked down.",
                         MetricType::Gauge);
    auto& rtt =
        fl.family("sbc_peer_options_rtt_seconds",
                  "Round trip of the peer's last answered OPTIONS keep-alive.", MetricType::Gauge);
    for (const auto& t : list_at(in.trunks, "trunks")) {
        const auto trunk = text_at(t, "name");
        for (const auto& p : list_at(t, "peers")) {
            const auto state = text_at(p, "state");
            if (state.empty()) {
                continue;
            }
            labels l{{"peer", text_at(p, "uri")}, {"trunk", trunk}};
            sample(up, l, state == "up" ? 1 : 0);
            sample_at(rtt, l, p, "last_rtt_ms", 0.001);
        }
    }
}

void admission_families(family_list& fl, const metrics_input& in) {
    auto& admitted =
        fl.family("sbc_admission_admitted_total",
                  "Calls admitted under the trunk's limits, by direction.", MetricType::Counter);
    auto& refused = fl.family(
        "sbc_admission_refused_total",
        "Calls refused by the trunk's limits (503), by direction and reason (max_calls, cps).",
        MetricType::Counter);
    for (const auto& t : list_at(in.trunks, "trunks")) {
        const auto trunk = text_at(t, "name");
        const auto& adm = object_at(t, "admission");
        for (const char* direction : {"inbound", "outbound"}) {
            const auto& a = object_at(adm, direction);
            sample_at(admitted, {{"direction", direction}, {"trunk", trunk}}, a, "admitted");
            sample_at(refused,
                      {{"direction", direction}, {"reason", "max_calls"}, {"trunk", trunk}}, a,
                      "refused_max_calls");
            sample_at(refused, {{"direction", direction}, {"reason", "cps"}, {"trunk", trunk}}, a,
                      "refused_cps");
        }
    }
}

void registration_families(family_list& fl, const metrics_input& in) {
    auto& registered =
        fl.family("sbc_registration_up",
                  "1 while the SBC's registration with the trunk (trunk register:) holds, else 0.",
                  MetricType::Gauge);
    auto& bindings =
        fl.family("sbc_registrar_bindings",
                  "Contacts registered with the SBC from the trunk's users.", MetricType::Gauge);
    for (const auto& t : list_at(in.trunks, "trunks")) {
        const auto trunk = text_at(t, "name");
        const auto& r = object_at(t, "registration");
        if (!r.empty()) {
            sample(registered, {{"trunk", trunk}}, text_at(r, "state") == "registered" ? 1 : 0);
        }
        if (t.is_object() && t.contains("registrations") && t["registrations"].is_array()) {
            sample(bindings, {{"trunk", trunk}}, static_cast<double>(t["registrations"].size()));
        }
    }
}

// ---- interfaces: access control, flood guard, TLS ---------------------------

void interface_families(family_list& fl, const metrics_input& in) {
    auto& acl = fl.family("sbc_acl_refused_total",
                          "Requests refused because their source is not in allow_sources.",
                          MetricType::Counter);
    auto& acl_udp =
        fl.family("sbc_acl_dropped_datagrams_total",
                  "UDP datagrams dropped unread because their source is not in allow_sources.",
                  MetricType::Counter);
    auto& flood_blocks = fl.family("sbc_flood_blocks_total", "Sources blocked by the flood guard.",
                                   MetricType::Counter);
    auto& flood_dropped =
        fl.family("sbc_flood_dropped_total",
                  "Requests dropped from sources the flood guard blocked.", MetricType::Counter);
    auto& flood_blocked = fl.family("sbc_flood_blocked_sources",
                                    "Sources the flood guard blocks right now.", MetricType::Gauge);
    auto& tls_ok =
        fl.family("sbc_tls_handshakes_total", "TLS handshakes completed.", MetricType::Counter);
    auto& tls_failed = fl.family("sbc_tls_handshake_failures_total",
                                 "TLS handshakes that failed, by reason.", MetricType::Counter);
    for (const auto& i : list_at(in.trunks, "interfaces")) {
        const auto name = text_at(i, "name");
        const auto& access = object_at(i, "access");
        labels l{{"interface", name}};
        sample_at(acl, l, access, "refused_sources");
        sample_at(acl_udp, l, access, "dropped_udp");
        sample_at(flood_blocks, l, access, "flood_blocks");
        sample_at(flood_dropped, l, access, "flood_dropped");
        if (access.contains("blocked") && access["blocked"].is_array()) {
            sample(flood_blocked, l, static_cast<double>(access["blocked"].size()));
        }
        const auto& handshakes = object_at(object_at(i, "tls"), "handshakes");
        for (const auto& [reason, n] : handshakes.items()) {
            if (!n.is_number()) {
                continue;
            }
            if (reason == "completed") {
                sample(tls_ok, l, n.get<double>());
            } else {
                sample(tls_failed, {{"interface", name}, {"reason", reason}}, n.get<double>());
            }
        }
    }
}

// ---- media --------------------------------------------------------------------

// The media counters of the calls that ended plus those of the calls that
// are still up: totals that only grow. A call that is terminating is
// counted among the ended ones already (its CDR is written).
b2bua::media_tally media_totals(const metrics_input& in) {
    b2bua::media_tally m = in.tally != nullptr ? in.tally->media() : b2bua::media_tally{};
    auto count = [](const nlohmann::json& leg, const char* key) {
        const auto* v = number_at(leg, key);
        return v != nullptr ? v->get<std::uint64_t>() : 0;
    };
    for (const auto& c : list_at(in.stats, "calls")) {
        if (text_at(c, "state") == "terminated") {
            continue;
        }
        for (const auto& [side, leg] : object_at(c, "legs").items()) {
            m.rx_packets += count(leg, "rtp_rx_packets") + count(leg, "rtcp_rx_packets");
            m.rx_bytes += count(leg, "rtp_rx_bytes");
            m.tx_packets += count(leg, "tx_packets");
            m.tx_bytes += count(leg, "tx_bytes");
            for (const auto& [reason, n] : object_at(leg, "drops").items()) {
                if (n.is_number_unsigned()) {
                    m.drops[reason] += n.get<std::uint64_t>();
                }
            }
        }
    }
    return m;
}

void media_families(family_list& fl, const metrics_input& in) {
    const auto& media = object_at(in.stats, "media");
    const auto m = media_totals(in);
    auto& packets = fl.family("sbc_media_packets_total",
                              "RTP and RTCP packets of the calls, received from (rx) and sent to "
                              "(tx) their peers.",
                              MetricType::Counter);
    sample(packets, {{"direction", "rx"}}, static_cast<double>(m.rx_packets));
    sample(packets, {{"direction", "tx"}}, static_cast<double>(m.tx_packets));
    auto& bytes = fl.family("sbc_media_bytes_total",
                            "UDP payload bytes of the calls' media; rx counts RTP only.",
                            MetricType::Counter);
    sample(bytes, {{"direction", "rx"}}, static_cast<double>(m.rx_bytes));
    sample(bytes, {{"direction", "tx"}}, static_cast<double>(m.tx_bytes));
    auto& drops = fl.family("sbc_media_dropped_packets_total",
                            "Media packets of the calls dropped, by reason.", MetricType::Counter);
    for (const auto& [reason, n] : m.drops) {
        sample(drops, {{"reason", reason}}, static_cast<double>(n));
    }
    auto& srtp = fl.family("sbc_srtp_failures_total",
                           "SRTP/SRTCP packets refused: failed authentication (auth) or replayed "
                           "(replay).",
                           MetricType::Counter);
    auto drops_of = [&](const char* reason) {
        auto it = m.drops.find(reason);
        return it != m.drops.end() ? static_cast<double>(it->second) : 0.0;
    };
    sample(srtp, {{"reason", "auth"}}, drops_of("srtp_auth"));
    sample(srtp, {{"reason", "replay"}}, drops_of("srtp_replay"));
    sample_at(fl.family("sbc_media_sessions", "Media sessions open in the media engine.",
                        MetricType::Gauge),
              {}, media, "open_sessions");
    sample_at(
        fl.family("sbc_media_free_port_pairs",
                  "RTP/RTCP port pairs of the media range free for new calls.", MetricType::Gauge),
        {}, media, "free_port_pairs");
    auto& transcoded =
        fl.family("sbc_transcoded_calls",
                  "Calls in progress whose media is transcoded, by codec pair.", MetricType::Gauge);
    for (const auto& [pair, n] : object_at(media, "transcoded_calls").items()) {
        if (n.is_number()) {
            sample(transcoded, {{"codec_pair", pair}}, n.get<double>());
        }
    }
    auto& busy = fl.family("sbc_worker_busy_ratio",
                           "Share of its time the media worker spent on packets and commands.",
                           MetricType::Gauge);
    auto& worker_packets = fl.family("sbc_worker_packets_total",
                                     "Packets the media worker handled.", MetricType::Counter);
    auto& worker_bursts = fl.family("sbc_worker_bursts_total", "Bursts the media worker handled.",
                                    MetricType::Counter);
    for (const auto& w : list_at(media, "workers")) {
        const auto* index = number_at(w, "index");
        if (index == nullptr) {
            continue;
        }
        labels l{{"worker", std::to_string(index->get<std::uint64_t>())}};
        sample_at(busy, l, w, "busy_fraction");
        sample_at(worker_packets, l, w, "packets");
        sample_at(worker_bursts, l, w, "bursts");
    }
    auto& port_packets =
        fl.family("sbc_port_packets_total", "Packets of the dpdk backend's NIC port, by direction.",
                  MetricType::Counter);
    auto& port_bytes =
        fl.family("sbc_port_bytes_total", "Bytes of the dpdk backend's NIC port, by direction.",
                  MetricType::Counter);
    auto& port_drops = fl.family("sbc_port_dropped_packets_total",
                                 "Packets the dpdk backend's NIC port lost or dropped, by reason.",
                                 MetricType::Counter);
    for (const auto& p : list_at(media, "ports")) {
        const auto device = text_at(p, "device");
        sample_at(port_packets, {{"device", device}, {"direction", "rx"}}, p, "rx_packets");
        sample_at(port_packets, {{"device", device}, {"direction", "tx"}}, p, "tx_packets");
        sample_at(port_bytes, {{"device", device}, {"direction", "rx"}}, p, "rx_bytes");
        sample_at(port_bytes, {{"device", device}, {"direction", "tx"}}, p, "tx_bytes");
        for (const char* reason : {"rx_missed", "rx_errors", "tx_errors", "unresolved", "tx_full",
                                   "kernel_full", "dispatch_full"}) {
            sample_at(port_drops, {{"device", device}, {"reason", reason}}, p, reason);
        }
    }
}

// ---- SIP messages ----------------------------------------------------------------

void sip_families(family_list& fl, const metrics_input& in) {
    auto& retransmissions = fl.family(
        "sbc_sip_retransmissions_total",
        "SIP requests the SBC sent again (out) or received again (in), as its transaction "
        "layer counts them.",
        MetricType::Counter);
    for (const auto& r : in.retransmissions) {
        auto l = [&](const char* direction, const char* kind) {
            return labels{{"direction", direction}, {"interface", r.interface}, {"kind", kind}};
        };
        sample(retransmissions, l("out", "request"), static_cast<double>(r.requests_sent));
        sample(retransmissions, l("in", "request"), static_cast<double>(r.requests_received));
    }
    if (in.sip == nullptr) {
        return;
    }
    const auto& c = *in.sip;
    auto& requests = fl.family("sbc_sip_requests_total",
                               "SIP requests sent (out) and received (in), retransmissions "
                               "included, by method.",
                               MetricType::Counter);
    auto& responses = fl.family("sbc_sip_responses_total",
                                "SIP responses sent (out) and received (in), retransmissions "
                                "included, by the method of their CSeq and status class.",
                                MetricType::Counter);
    auto& malformed = fl.family("sbc_sip_malformed_total",
                                "Messages received that were neither a SIP request nor a "
                                "response sofia-sip could parse.",
                                MetricType::Counter);
    static constexpr const char* classes[sip_status_classes] = {"1xx", "2xx", "3xx",
                                                                "4xx", "5xx", "6xx"};
    // Only the cells that counted something: the table's every combination
    // would be hundreds of series, most of them never used.
    for (std::size_t i = 0; i < c.interface_count(); ++i) {
        const auto& name = c.interface_name(i);
        for (auto d : {sip_counters::direction::in, sip_counters::direction::out}) {
            const char* direction = d == sip_counters::direction::in ? "in" : "out";
            for (std::size_t m = 0; m < sip_method_slots; ++m) {
                const auto slot = static_cast<sip_method_slot>(m);
                const std::string method(to_label(slot));
                if (const auto n = c.requests(i, d, slot); n > 0) {
                    sample(requests,
                           {{"direction", direction}, {"interface", name}, {"method", method}},
                           static_cast<double>(n));
                }
                for (std::size_t k = 0; k < sip_status_classes; ++k) {
                    if (const auto n = c.responses(i, d, slot, k); n > 0) {
                        sample(responses,
                               {{"direction", direction},
                                {"interface", name},
                                {"method", method},
                                {"status_class", classes[k]}},
                               static_cast<double>(n));
                    }
                }
            }
            if (const auto n = c.malformed(i, d); n > 0) {
                sample(malformed, {{"direction", direction}, {"interface", name}},
                       static_cast<double>(n));
            }
        }
    }
}

// ---- cluster store ---------------------------------------------------------------

void cluster_families(family_list& fl, const metrics_input& in) {
    const auto& store = object_at(in.cluster, "store");
    if (store.empty() || in.cluster.contains("error")) {
        return;
    }
    if (auto it = store.find("up"); it != store.end() && it->is_boolean()) {
        sample(fl.family("sbc_cluster_store_up",
                         "1 while the link to the cluster's store is up (connected and "
                         "authenticated), else 0.",
                         MetricType::Gauge),
               {}, it->get<bool>() ? 1 : 0);
    }
    const auto role = text_at(in.cluster, "role");
    if (!role.empty()) {
        sample(fl.family("sbc_cluster_active",
                         "1 while this node of the pair is the active one, 0 while standby.",
                         MetricType::Gauge),
               {}, role == "active" ? 1 : 0);
    }
    sample_at(
        fl.family("sbc_cluster_store_queue_length",
                  "Calls whose latest change waits to be written to the store.", MetricType::Gauge),
        {}, store, "queue");
    sample_at(fl.family("sbc_cluster_store_in_flight",
                        "Writes sent to the store and not yet answered.", MetricType::Gauge),
              {}, store, "in_flight");
    sample_at(fl.family("sbc_cluster_store_lag_seconds",
                        "How long the oldest change not yet acknowledged by the store has "
                        "waited (0: none).",
                        MetricType::Gauge),
              {}, store, "lag_ms", 0.001);
    sample_at(fl.family("sbc_cluster_store_dropped_total",
                        "Call changes refused by the full replication queue (each one a "
                        "rewrite of every call).",
                        MetricType::Counter),
              {}, store, "dropped");
    sample_at(fl.family("sbc_cluster_store_writes_total", "Call documents the store acknowledged.",
                        MetricType::Counter),
              {}, store, "written");
    sample_at(fl.family("sbc_cluster_store_failures_total",
                        "Writes to the store not done (link lost, error reply), retried.",
                        MetricType::Counter),
              {}, store, "failures");
    sample_at(fl.family("sbc_cluster_store_resyncs_total",
                        "Rewrites of every call asked of the node after a full queue.",
                        MetricType::Counter),
              {}, store, "resyncs");
    sample_at(fl.family("sbc_cluster_take_overs_total",
                        "Times this node took its partner's calls over.", MetricType::Counter),
              {}, in.cluster, "take_overs");
}

// ---- capture ---------------------------------------------------------------

void capture_families(family_list& fl, const metrics_input& in) {
    const auto& capture = object_at(in.stats, "capture");
    sample_at(fl.family("sbc_capture_sip_messages_dropped_total",
                        "SIP messages of calls not kept for sbcctl trace and pcap: past "
                        "capture.messages_per_call.",
                        MetricType::Counter),
              {}, capture, "messages_dropped");
    const auto& hep = object_at(capture, "hep");
    if (hep.empty()) {
        return;
    }
    auto& packets = fl.family("sbc_hep_packets_total",
                              "HEP packets: sent whole to the capture server, or dropped (queue "
                              "full, connection lost mid-packet, too large).",
                              MetricType::Counter);
    sample_at(packets, {{"result", "sent"}}, hep, "sent");
    sample_at(packets, {{"result", "dropped"}}, hep, "dropped");
    sample_at(
        fl.family("sbc_hep_errors_total", "Failed HEP sends (UDP) and failed connections (TCP).",
                  MetricType::Counter),
        {}, hep, "errors");
    sample_at(fl.family("sbc_hep_queue_packets", "HEP packets waiting for the TCP connection.",
                        MetricType::Gauge),
              {}, hep, "queue");
    if (auto it = hep.find("connected"); it != hep.end() && it->is_boolean()) {
        sample(fl.family("sbc_hep_connected",
                         "1 while sbcd can send HEP (UDP: always; TCP: the connection is up).",
                         MetricType::Gauge),
               {}, it->get<bool>() ? 1 : 0);
    }
}

// ---- media quality per leg (sbc/media_ctl/quality.hpp) ---------------------

void quality_families(family_list& fl, const metrics_input& in) {
    if (in.tally == nullptr) {
        return;
    }
    auto& mos = fl.family("sbc_leg_mos",
                          "Estimated MOS (ITU-T G.107, simplified) of each call leg on the trunk, "
                          "at the call's end, from what the leg's peer sent.",
                          MetricType::Histogram);
    auto& lost = fl.family("sbc_rtp_lost_packets_total",
                           "RTP packets from the trunk's peers lost on the way to the SBC (RFC "
                           "3550 A.3), counted at each call's end.",
                           MetricType::Counter);
    for (const auto& [trunk, q] : in.tally->quality()) {
        histogram(mos, {{"trunk", trunk}}, q);
        sample(lost, {{"trunk", trunk}}, static_cast<double>(q.rtp_lost));
    }
}

}  // namespace

std::vector<MetricFamily> build_families(const metrics_input& in) {
    family_list fl;
    call_families(fl, in);
    digest_families(fl, in);
    sip_families(fl, in);
    peer_families(fl, in);
    admission_families(fl, in);
    registration_families(fl, in);
    interface_families(fl, in);
    media_families(fl, in);
    cluster_families(fl, in);
    capture_families(fl, in);
    quality_families(fl, in);
    return std::move(fl).take();
}

}  // namespace sbc::metrics
