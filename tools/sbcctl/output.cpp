// sbcctl's human-readable output; see output.hpp.
#include "tools/sbcctl/output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace sbc::ctl {
namespace {

/// Control characters from the daemon (ultimately from SIP peers) must not
/// reach the terminal, where they could move the cursor or retitle windows.
std::string printable(const std::string& s) {
    std::string out = s;
    for (char& ch : out) {
        auto u = static_cast<unsigned char>(ch);
        if (u < 0x20 || u == 0x7f) {
            ch = '?';
        }
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) {
            out += separator;
        }
        out += p;
    }
    return out;
}

}  // namespace

std::string format_duration(double seconds) {
    if (!(seconds > 0)) {  // also catches NaN
        return "0s";
    }
    // Clamp so that absurd values (a corrupt reply) cannot overflow the cast.
    auto total = static_cast<unsigned long long>(std::min(std::floor(seconds), 1e15));
    auto s = total % 60;
    auto m = total / 60 % 60;
    auto h = total / 3600 % 24;
    auto d = total / 86400;
    if (d > 0) {
        return fmt::format("{}d{:02}h{:02}m{:02}s", d, h, m, s);
    }
    if (h > 0) {
        return fmt::format("{}h{:02}m{:02}s", h, m, s);
    }
    if (m > 0) {
        return fmt::format("{}m{:02}s", m, s);
    }
    return fmt::format("{}s", s);
}

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()), 0);
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    std::string out;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += printable(row[i]);
            if (i + 1 < row.size()) {
                line.append(widths[i] - row[i].size() + 2, ' ');
            }
        }
        line.erase(line.find_last_not_of(' ') + 1);
        out += line;
        out += '\n';
    }
    return out;
}

std::string render_drain(const api::drain_status& d) {
    std::string out = fmt::format("draining since {}, {} call{} left", printable(d.since),
                                  d.calls_left, d.calls_left == 1 ? "" : "s");
    if (d.deadline.empty()) {
        return out + ", no deadline\n";
    }
    return out + fmt::format(", deadline {} (in {})\n", printable(d.deadline),
                             format_duration(d.seconds_left.value_or(0)));
}

std::string render_status(const api::status_info& status) {
    std::string out = fmt::format("sbcd {}, up {}, {} active call{}\n", printable(status.version),
                                  format_duration(status.uptime_seconds), status.active_calls,
                                  status.active_calls == 1 ? "" : "s");
    if (status.drain) {
        out += render_drain(*status.drain);
    }
    if (status.interfaces.empty()) {
        return out + "no interfaces\n";
    }
    std::vector<std::vector<std::string>> rows{{"NAME", "LISTEN", "MEDIA"}};
    for (const auto& i : status.interfaces) {
        rows.push_back({i.name, join(i.listen, ","), i.media_address});
    }
    return out + "\n" + render_table(rows);
}

std::string render_calls(const std::vector<api::call_info>& calls) {
    if (calls.empty()) {
        return "no active calls\n";
    }
    std::vector<std::vector<std::string>> rows{{"ID", "FROM", "TO", "STATE", "DURATION", "CODEC A",
                                                "CODEC B", "MEDIA", "PKTS A->B", "PKTS B->A",
                                                "QUALITY A", "QUALITY B"}};
    auto codec = [](const std::string& name, unsigned ptime) {
        if (name.empty()) {
            return std::string("-");
        }
        return ptime == 0 ? name : name + " " + std::to_string(ptime) + "ms";
    };
    // "5.0%/30.1ms/12ms/3.81": what the leg's peer sends, as received.
    auto quality = [](const std::optional<api::call_quality>& q) {
        if (!q) {
            return std::string("-");
        }
        return fmt::format("{:.1f}%/{:.1f}ms/{}/{:.2f}", q->loss_percent, q->jitter_ms,
                           q->rtt_ms ? fmt::format("{:.0f}ms", *q->rtt_ms) : std::string("-"),
                           q->mos);
    };
    for (const auto& c : calls) {
        rows.push_back(
            {c.id, c.from_trunk, c.to_trunk, c.state, format_duration(c.duration_seconds),
             codec(c.codec_a, c.ptime_a), codec(c.codec_b, c.ptime_b),
             c.local_ringback ? c.media + " +ringback" : c.media, std::to_string(c.packets_a_to_b),
             std::to_string(c.packets_b_to_a), quality(c.quality_a), quality(c.quality_b)});
    }
    return render_table(rows);
}

namespace {
// A field as text, whatever its JSON type; "-" when absent or null.
std::string field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return "-";
    }
    if (it->is_string()) {
        return it->get_ref<const std::string&>().empty() ? "-" : it->get<std::string>();
    }
    if (it->is_number_float()) {
        return fmt::format("{:.1f}", it->get<double>());
    }
    return it->dump();
}
}  // namespace

namespace {
std::string tls_text(const nlohmann::json& p) {
    std::string tls = "-";
    if (auto s = p.find("tls"); s != p.end() && s->is_object()) {
        tls = fmt::format("{} {} {} (until {})", field(*s, "protocol"), field(*s, "cipher"),
                          field(*s, "subject"), field(*s, "not_after"));
    }
    // Kept only until a handshake completes again: newer than the session.
    if (auto f = p.find("tls_failure"); f != p.end() && f->is_object()) {
        tls = fmt::format("failed {}: {}", field(*f, "at"), printable(field(*f, "reason")));
    }
    return tls;
}

// A peer's or target's state: "up", "down", or "up, held off until T"
// while calls pass it by after its 503 with Retry-After.
std::string state_text(const nlohmann::json& p) {
    auto state = field(p, "state");
    if (auto h = p.find("held_off_until"); h != p.end() && h->is_string()) {
        state += ", held off until " + printable(h->get<std::string>());
    }
    return state;
}

// A trunk's name in the peer table, with the profile it started from when
// that is not the generic one: "teams (microsoft)".
std::string trunk_label(const nlohmann::json& t) {
    const auto profile = field(t, "profile");
    return profile == "generic" || profile == "-"
               ? field(t, "name")
               : fmt::format("{} ({})", field(t, "name"), printable(profile));
}

/// A peer given by name: its name's row, then a row per target it resolved
/// to ("udp 192.0.2.7:5060", "(old)" once the name no longer leads there).
void named_peer_rows(const nlohmann::json& t, const nlohmann::json& p,
                     std::vector<std::vector<std::string>>& rows) {
    rows.push_back({trunk_label(t), field(t, "active_calls"), printable(field(p, "uri")), "-", "-",
                    field(p, "state"), "-", "-", "-", "-"});
    for (const auto& x : p.value("targets", nlohmann::json::array())) {
        const auto address = field(x, "address");
        const auto host = address.find(':') == std::string::npos ? address : "[" + address + "]";
        rows.push_back({"", field(x, "active_calls"),
                        fmt::format("  {} {}:{}{}", field(x, "transport"), host, field(x, "port"),
                                    x.value("current", true) ? "" : " (old)"),
                        field(x, "priority"), field(x, "weight"), state_text(x), field(x, "since"),
                        field(x, "last_result"), field(x, "last_rtt_ms"), tls_text(x)});
    }
}

/// What the resolver says of each name: when it resolved and expires,
/// whether the answer is kept past its expiry, the last error.
std::string names_text(const nlohmann::json& trunks) {
    std::string out;
    for (const auto& t : trunks) {
        for (const auto& p : t.value("peers", nlohmann::json::array())) {
            if (!p.contains("name")) {
                continue;
            }
            out +=
                fmt::format("trunk {}: {} resolved {}, expires {}{}", printable(field(t, "name")),
                            printable(field(p, "name")), field(p, "resolved_at"),
                            field(p, "expires"), p.value("stale", false) ? " (stale)" : "");
            if (auto e = p.find("last_error"); e != p.end() && e->is_string()) {
                out += fmt::format("; last error {}: {}", field(p, "last_error_at"),
                                   printable(e->get<std::string>()));
            }
            out += "\n";
        }
    }
    return out;
}
}  // namespace

std::string render_trunks(const nlohmann::json& reply) {
    std::vector<std::vector<std::string>> rows{
        {"TRUNK", "CALLS", "PEER", "PRIO", "WEIGHT", "STATE", "SINCE", "OPTIONS", "RTT ms", "TLS"}};
    const auto trunks = reply.value("trunks", nlohmann::json::array());
    for (const auto& t : trunks) {
        const auto peers = t.value("peers", nlohmann::json::array());
        for (const auto& p : peers) {
            if (p.contains("targets")) {
                named_peer_rows(t, p, rows);
                continue;
            }
            rows.push_back({trunk_label(t), field(t, "active_calls"), field(p, "uri"),
                            field(p, "priority"), field(p, "weight"), state_text(p),
                            field(p, "since"), field(p, "last_result"), field(p, "last_rtt_ms"),
                            tls_text(p)});
        }
    }
    std::string out = render_table(rows);
    if (const auto names = names_text(trunks); !names.empty()) {
        out += "\n" + names;
    }
    std::vector<std::vector<std::string>> limits{
        {"TRUNK", "DIRECTION", "ACTIVE", "MAX", "CPS", "ADMITTED", "REFUSED MAX", "REFUSED CPS"}};
    // A node of a cluster shares its limits: the count over every node, and
    // whether the store or this node alone (the store away) decided last.
    const bool shared = std::any_of(trunks.begin(), trunks.end(), [](const nlohmann::json& t) {
        const auto adm = t.value("admission", nlohmann::json::object());
        return adm.value("inbound", nlohmann::json::object()).contains("cluster");
    });
    if (shared) {
        limits.front().push_back("CLUSTER");
        limits.front().push_back("DECIDED BY");
    }
    for (const auto& t : trunks) {
        const auto adm = t.value("admission", nlohmann::json::object());
        for (const char* dir : {"inbound", "outbound"}) {
            const auto d = adm.value(dir, nlohmann::json::object());
            if (d.empty()) {
                continue;
            }
            auto unlimited = [&](const char* key) {
                const auto v = d.value(key, 0.0);
                return v == 0 ? std::string("-") : field(d, key);
            };
            limits.push_back({field(t, "name"), dir, field(d, "active"), unlimited("max_calls"),
                              unlimited("cps"), field(d, "admitted"), field(d, "refused_max_calls"),
                              field(d, "refused_cps")});
            if (shared) {
                const auto c = d.value("cluster", nlohmann::json::object());
                limits.back().push_back(field(c, "active"));
                limits.back().push_back(field(c, "decided_by"));
            }
        }
    }
    if (limits.size() > 1) {
        out += "\n" + render_table(limits);
    }
    for (const auto& t : trunks) {
        auto r = t.find("registration");
        if (r != t.end() && r->is_object()) {
            out += fmt::format("\ntrunk {}: registration {}: {}", printable(field(t, "name")),
                               printable(field(*r, "aor")), printable(field(*r, "state")));
            if (auto e = r->find("expires_in"); e != r->end() && e->is_number()) {
                out += fmt::format(" (expires in {} s)", e->dump());
            }
            out += fmt::format(", last {}, {} failure(s) in a row\n",
                               printable(field(*r, "last_result")), field(*r, "failures"));
        }
        auto b = t.find("registrations");
        if (b != t.end() && b->is_array()) {
            std::vector<std::vector<std::string>> rows{
                {"TRUNK", "USER", "CONTACT", "SOURCE", "EXPIRES IN"}};
            for (const auto& x : *b) {
                rows.push_back({field(t, "name"), printable(field(x, "user")),
                                printable(field(x, "contact")), field(x, "source"),
                                field(x, "expires_in")});
            }
            out += fmt::format("\ntrunk {}: {} registered contact(s)\n",
                               printable(field(t, "name")), b->size());
            if (rows.size() > 1) {
                out += render_table(rows);
            }
        }
    }
    const auto interfaces = reply.value("interfaces", nlohmann::json::array());
    std::vector<std::vector<std::string>> blocked{
        {"INTERFACE", "BLOCKED SOURCE", "SECONDS LEFT", "DROPPED"}};
    for (const auto& i : interfaces) {
        const auto access = i.value("access", nlohmann::json::object());
        if (access.empty()) {
            continue;
        }
        out += fmt::format(
            "\ninterface {}: from outside allow_sources {} UDP datagram(s) dropped, {} "
            "request(s) refused; flood guard: {} block(s), {} request(s) refused\n",
            printable(field(i, "name")), field(access, "dropped_udp"),
            field(access, "refused_sources"), field(access, "flood_blocks"),
            field(access, "flood_dropped"));
        for (const auto& b : access.value("blocked", nlohmann::json::array())) {
            blocked.push_back({field(i, "name"), field(b, "address"), field(b, "seconds_left"),
                               field(b, "dropped")});
        }
    }
    if (blocked.size() > 1) {
        out += "\n" + render_table(blocked);
    }
    for (const auto& i : interfaces) {
        auto tls = i.find("tls");
        if (tls == i.end() || !tls->is_object()) {
            continue;
        }
        out += fmt::format(
            "\ninterface {}: certificate {} (until {})\n  handshakes:", printable(field(i, "name")),
            printable(field(*tls, "certificate_subject")),
            printable(field(*tls, "certificate_not_after")));
        const auto handshakes = tls->value("handshakes", nlohmann::json::object());
        for (const auto& [k, v] : handshakes.items()) {
            out += fmt::format(" {} {}", k, v.dump());
        }
        out += "\n";
    }
    return out;
}

std::string render_stats(const nlohmann::json& reply) {
    std::vector<std::vector<std::string>> rows{{"CALL", "LEG", "TRUNK", "SRTP", "RX PKTS",
                                                "RX BYTES", "RTCP", "TX PKTS", "DROPS", "SRTP AUTH",
                                                "LAST RX ms", "LATCHED"}};
    const auto calls = reply.value("calls", nlohmann::json::array());
    for (const auto& c : calls) {
        const auto legs = c.value("legs", nlohmann::json::object());
        for (const auto& [name, l] : legs.items()) {
            const auto d = l.value("drops", nlohmann::json::object());
            std::uint64_t drops = 0;
            for (const auto& n : d) {
                drops += n.is_number_unsigned() ? n.get<std::uint64_t>() : 0;
            }
            auto auth =
                d.value("srtp_auth", std::uint64_t{0}) + d.value("srtp_replay", std::uint64_t{0});
            rows.push_back({field(c, "id"), name, printable(field(l, "trunk")), field(l, "srtp"),
                            field(l, "rtp_rx_packets"), field(l, "rtp_rx_bytes"),
                            field(l, "rtcp_rx_packets"), field(l, "tx_packets"),
                            std::to_string(drops), std::to_string(auth), field(l, "last_rx_ms_ago"),
                            field(l, "latched")});
        }
    }
    std::string out = render_table(rows);
    // What each leg's peer sends, as the SBC receives it, and the MOS
    // estimated from it (null quality: no RTP from that peer yet).
    std::vector<std::vector<std::string>> quality{
        {"CALL", "LEG", "CODEC", "RX RTP", "LOST", "LOSS %", "JITTER ms", "RTT ms", "MOS"}};
    for (const auto& c : calls) {
        const auto legs = c.value("legs", nlohmann::json::object());
        for (const auto& [name, l] : legs.items()) {
            const auto q = l.value("quality", nlohmann::json::object());
            if (!q.is_object() || q.empty()) {
                continue;
            }
            auto two = [&](const char* key) {
                const auto v = q.find(key);
                return v != q.end() && v->is_number() ? fmt::format("{:.2f}", v->get<double>())
                                                      : std::string("-");
            };
            quality.push_back({field(c, "id"), name, printable(field(l, "codec")),
                               field(q, "received"), field(q, "lost"), two("loss_percent"),
                               two("jitter_ms"), two("rtt_ms"), two("mos")});
        }
    }
    if (quality.size() > 1) {
        out += "\n" + render_table(quality);
    }
    const auto media = reply.value("media", nlohmann::json::object());
    out += fmt::format(
        "\nmedia: backend {}, {} sessions, {} free port pairs; calls in progress: "
        "{} packets in, {} out, {} dropped by SRTP checks\n",
        field(media, "backend"), field(media, "open_sessions"), field(media, "free_port_pairs"),
        field(media, "rx_packets"), field(media, "tx_packets"), field(media, "srtp_auth_drops"));
    return out;
}

std::string render_reload(const nlohmann::json& reply) {
    std::string out;
    bool ok = reply.value("ok", false);
    out += ok ? "reloaded\n" : "reload refused: the running configuration is unchanged\n";
    const auto applied = reply.value("applied", nlohmann::json::array());
    const auto errors = reply.value("errors", nlohmann::json::array());
    for (const auto& a : applied) {
        out += "  applied: " + printable(a.is_string() ? a.get<std::string>() : a.dump()) + "\n";
    }
    for (const auto& e : errors) {
        out += "  " + printable(e.is_string() ? e.get<std::string>() : e.dump()) + "\n";
    }
    if (auto r = reply.find("restart_needed"); r != reply.end() && r->is_string()) {
        out += "  note: " + printable(r->get<std::string>()) + "\n";
    }
    return out;
}

namespace {
std::string text_of(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? printable(it->get<std::string>()) : "";
}

std::vector<std::string> numbers_row(const std::string& label, const nlohmann::json& n) {
    return {label, text_of(n, "ruri"), text_of(n, "from"), text_of(n, "to")};
}
}  // namespace

std::string render_route_test(const nlohmann::json& reply) {
    std::string out =
        fmt::format("call from trunk {} (source {}) at {}\n", text_of(reply, "from_trunk"),
                    text_of(reply, "source"), text_of(reply, "at"));
    std::vector<std::vector<std::string>> numbers{{"NUMBERS", "RURI", "FROM", "TO"}};
    numbers.push_back(numbers_row("received", reply.value("received", nlohmann::json::object())));
    numbers.push_back(
        numbers_row("normalized", reply.value("normalized", nlohmann::json::object())));
    const auto action = reply.value("action", nlohmann::json::object());
    for (const auto& t : action.value("trunks", nlohmann::json::array())) {
        numbers.push_back(
            numbers_row("to " + text_of(t, "trunk"), t.value("numbers", nlohmann::json::object())));
    }
    out += render_table(numbers);
    std::vector<std::vector<std::string>> rules{{"RULE", "MATCH", "WHY"}};
    for (const auto& r : reply.value("rules", nlohmann::json::array())) {
        rules.push_back(
            {text_of(r, "rule"), r.value("matched", false) ? "yes" : "no", text_of(r, "why")});
    }
    out += render_table(rules);
    const auto route = reply.find("route");
    const std::string name =
        route != reply.end() && route->is_string() ? printable(route->get<std::string>()) : "";
    if (auto reject = action.find("reject"); reject != action.end() && reject->is_object()) {
        const auto code = reject->value("code", 0);
        out += name.empty()
                   ? fmt::format("no route matches: {} {}\n", code, text_of(*reject, "reason"))
                   : fmt::format("route {}: reject with {} {}\n", name, code,
                                 text_of(*reject, "reason"));
        return out;
    }
    std::vector<std::string> trunks;
    for (const auto& t : action.value("trunks", nlohmann::json::array())) {
        trunks.push_back(text_of(t, "trunk") +
                         (t.value("peers_up", false) ? "" : " (every peer down)"));
    }
    out += fmt::format("route {}: to {}\n", name, fmt::join(trunks, ", then "));
    return out;
}

std::string render_cluster(const nlohmann::json& reply) {
    const auto num = [](const nlohmann::json& j, const char* key) {
        auto it = j.find(key);
        return it != j.end() && it->is_number() ? it->dump() : std::string("0");
    };
    const auto partner = text_of(reply, "partner");
    std::string out = fmt::format("node {} ({}), partner {}, {} call(s)\n", text_of(reply, "node"),
                                  text_of(reply, "role"), partner.empty() ? "none" : partner,
                                  num(reply, "calls"));
    const auto store = reply.value("store", nlohmann::json::object());
    out += fmt::format(
        "store {}{}: {}, queue {}, lag {} ms, written {}, deleted {}, dropped {}, "
        "failures {}\n",
        text_of(store, "address"), store.value("tls", false) ? " (tls)" : "",
        store.value("up", false) ? "up" : "DOWN", num(store, "queue"), num(store, "lag_ms"),
        num(store, "written"), num(store, "deleted"), num(store, "dropped"),
        num(store, "failures"));
    if (const auto e = text_of(store, "last_error"); !e.empty()) {
        out += "  last error: " + e + "\n";
    }
    if (reply.contains("partner_calls")) {
        out += fmt::format("held for the partner: {} call(s), read {} ms ago\n",
                           num(reply, "partner_calls"), num(reply, "partner_copy_age_ms"));
    }
    if (const auto h = text_of(reply, "hand_over"); !h.empty() && h != "none") {
        out += "hand-over to the partner: " + h + "\n";
    }
    if (auto t = reply.find("last_take_over"); t != reply.end() && t->is_object()) {
        out +=
            fmt::format("last take-over {}: {} call(s) restored, {} not, in {} ms{}\n",
                        text_of(*t, "at"), num(*t, "restored"), num(*t, "failed"),
                        num(*t, "took_ms"), t->value("in_progress", false) ? " (in progress)" : "");
        for (const auto& e : t->value("errors", nlohmann::json::array())) {
            out += "  " + printable(e.is_string() ? e.get<std::string>() : e.dump()) + "\n";
        }
    }
    return out;
}

}  // namespace sbc::ctl
