#include "sbc/b2bua/call_state_json.hpp"

#include <fmt/format.h>

#include <array>
#include <limits>
#include <utility>

#include "sbc/sdp/sdes.hpp"

namespace sbc::b2bua {

using nlohmann::json;

namespace {

// ---- enums: one table each, read and written from it --------------------

template <typename E, std::size_t N>
using names = std::array<std::pair<E, const char*>, N>;

constexpr names<config::transport, 3> transports{{{config::transport::udp, "udp"},
                                                  {config::transport::tcp, "tcp"},
                                                  {config::transport::tls, "tls"}}};
constexpr names<dataplane::side, 2> sides{{{dataplane::side::a, "a"}, {dataplane::side::b, "b"}}};
constexpr names<sdp::direction, 4> directions{{{sdp::direction::sendrecv, "sendrecv"},
                                               {sdp::direction::sendonly, "sendonly"},
                                               {sdp::direction::recvonly, "recvonly"},
                                               {sdp::direction::inactive, "inactive"}}};
constexpr names<operation, 6> operations{{{operation::none, "none"},
                                          {operation::initial_invite, "initial_invite"},
                                          {operation::reinvite, "reinvite"},
                                          {operation::update, "update"},
                                          {operation::reoffer, "reoffer"},
                                          {operation::transfer, "transfer"}}};
constexpr names<cdr::party, 4> parties{{{cdr::party::none, "none"},
                                        {cdr::party::caller, "caller"},
                                        {cdr::party::callee, "callee"},
                                        {cdr::party::sbc, "sbc"}}};

template <typename E, std::size_t N>
const char* name_of(const names<E, N>& table, E value) {
    for (const auto& [v, n] : table) {
        if (v == value) {
            return n;
        }
    }
    return "?";
}

// ---- writing ------------------------------------------------------------

std::int64_t ns_of(wall_time t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

json secret_json(const secret& s) { return {{"$secret", sdp::base64_encode(s.bytes())}}; }

/// An SDP body the SBC sent: a secret when it holds the SBC's SRTP keys
/// (a=crypto inline keys, RFC 4568 6.1) or its ICE password (a=ice-pwd,
/// the key of its STUN responses), else the text.
json sdp_body_json(const std::string& body) {
    if (body.find("a=crypto") == std::string::npos && body.find("a=ice-pwd") == std::string::npos) {
        return body;
    }
    return secret_json(secret(std::vector<std::uint8_t>(body.begin(), body.end())));
}

json endpoint_json(const std::optional<media_ctl::endpoint_state>& e) {
    if (!e) {
        return nullptr;
    }
    return {{"address", e->address}, {"port", e->port}};
}

json format_json(const sdp::format& f) {
    return {{"pt", f.payload_type},
            {"encoding", f.encoding},
            {"clock_rate", f.clock_rate},
            {"channels", f.channels},
            {"fmtp", f.fmtp}};
}

json formats_json(const std::vector<sdp::format>& fs) {
    json out = json::array();
    for (const auto& f : fs) {
        out.push_back(format_json(f));
    }
    return out;
}

json chain_side_json(const media_ctl::chain_side_state& c) {
    json events = nullptr;
    if (c.events) {
        events = {{"pt", c.events->payload_type},
                  {"received_pt", c.events->received_payload_type},
                  {"clock_rate", c.events->clock_rate}};
    }
    return {{"format", format_json(c.format)},
            {"ptime", c.ptime},
            {"received_pt", c.received_payload_type},
            {"annexb", c.annexb},
            {"events", events}};
}

json stream_json(const std::optional<media_ctl::srtp_position_state>& p) {
    if (!p) {
        return nullptr;
    }
    return {{"ssrc", p->ssrc}, {"roc", p->roc}};
}

json media_leg_json(const media_ctl::media_leg_state& l) {
    json srtp = nullptr;
    if (l.srtp) {
        srtp = {{"suite", std::string(config::to_string(l.srtp->suite))},
                {"peer", secret_json(l.srtp->peer)},
                {"local", secret_json(l.srtp->local)},
                {"peer_stream", stream_json(l.srtp->peer_stream)},
                {"local_stream", stream_json(l.srtp->local_stream)},
                {"local_srtcp", l.srtp->local_srtcp ? json{{"ssrc", l.srtp->local_srtcp->ssrc},
                                                           {"sent", l.srtp->local_srtcp->sent}}
                                                    : json(nullptr)}};
    }
    json ice = nullptr;
    if (l.ice) {
        ice = {{"in_use", l.ice->in_use},
               {"local_ufrag", l.ice->local_ufrag},
               {"local_pwd", secret_json(l.ice->local_pwd)},
               {"peer_ufrag", l.ice->peer_ufrag},
               {"peer_pwd", secret_json(l.ice->peer_pwd)}};
    }
    json pts = json::array();
    for (const auto& e : l.payload_types) {
        pts.push_back({{"from", e.from}, {"to", e.to}});
    }
    return {{"trunk", l.trunk},
            {"media_address", l.media_address},
            {"rtp_port", l.rtp_port},
            {"peer_rtp", endpoint_json(l.peer_rtp)},
            {"peer_rtcp", endpoint_json(l.peer_rtcp)},
            {"latched_rtp", endpoint_json(l.latched_rtp)},
            {"rtcp_mux", l.rtcp_mux},
            {"srtp", srtp},
            {"ice", ice},
            {"peer_formats", formats_json(l.peer_formats.formats)},
            {"peer_ptime", l.peer_formats.ptime},
            {"peer_direction", name_of(directions, l.peer_direction)},
            {"peer_hold_address", l.peer_hold_address},
            {"codec", l.codec},
            {"ptime", l.ptime},
            {"payload_types", pts},
            {"local_ringback", l.local_ringback}};
}

json media_json(const media_ctl::media_state& m) {
    json transcoding = nullptr;
    if (m.transcoding) {
        const auto& t = *m.transcoding;
        transcoding = {{"offerer", name_of(sides, t.offerer)},
                       {"offerer_side", chain_side_json(t.offerer_side)},
                       {"answerer_side", chain_side_json(t.answerer_side)},
                       {"codecs", t.codecs}};
    }
    json pending = nullptr;
    if (m.pending) {
        const auto& p = *m.pending;
        pending = {{"offerer", name_of(sides, p.offerer)}, {"offer", formats_json(p.offer.formats)},
                   {"offer_ptime", p.offer.ptime},         {"planned", formats_json(p.planned)},
                   {"planned_ptime", p.planned_ptime},     {"transcoding", p.transcoding}};
    }
    return {{"open", m.open},
            {"legs", {media_leg_json(m.legs[0]), media_leg_json(m.legs[1])}},
            {"transcoding", transcoding},
            {"pending", pending}};
}

json dialog_json(const dialog_state& d) {
    json timer = nullptr;
    if (d.timer) {
        timer = {{"interval_s", d.timer->interval_s},
                 {"we_refresh", d.timer->we_refresh},
                 {"no_update", d.timer->no_update},
                 {"last_refresh_ns", ns_of(d.timer->last_refresh)}};
    }
    return {{"call_id", d.call_id},
            {"local_uri", d.local_uri},
            {"remote_uri", d.remote_uri},
            {"local_tag", d.local_tag},
            {"remote_tag", d.remote_tag},
            {"local_cseq", d.local_cseq},
            {"remote_cseq", d.remote_cseq},
            {"route_set", d.route_set},
            {"remote_target", d.remote_target},
            {"interface", d.interface},
            {"trunk", d.trunk},
            {"transport", name_of(transports, d.transport)},
            {"peer", d.peer},
            {"confirmed", d.confirmed},
            {"peer_100rel", d.peer_100rel},
            {"peer_timer", d.peer_timer},
            {"session_timer", timer},
            {"sdp",
             {{"session_id", d.sdp_session_id},
              {"version", d.sdp_version},
              {"last_sent", sdp_body_json(d.sdp_last_sent)}}}};
}

json numbers_json(const policy::call_numbers& n) {
    return {{"ruri", n.ruri}, {"from", n.from}, {"to", n.to}};
}

json cdr_numbers_json(const cdr::numbers& n) {
    return {{"ruri_user", n.ruri_user}, {"from_user", n.from_user}, {"to_user", n.to_user}};
}

json cdr_media_json(const cdr::leg_media& m) {
    return {{"codec", m.codec},
            {"packets_received", m.packets_received},
            {"packets_sent", m.packets_sent},
            {"bytes_received", m.bytes_received},
            {"bytes_sent", m.bytes_sent},
            {"packets_dropped", m.packets_dropped}};
}

json cdr_json(const cdr::record& r) {
    return {{"id", r.id},
            {"call_id", r.call_id},
            {"start_ns", ns_of(r.start)},
            {"answer_ns", r.answer ? json(ns_of(*r.answer)) : json(nullptr)},
            {"end_ns", ns_of(r.end)},
            {"source", r.source},
            {"from_trunk", r.from_trunk},
            {"to_trunk", r.to_trunk},
            {"route", r.route},
            {"received", cdr_numbers_json(r.received)},
            {"normalized", cdr_numbers_json(r.normalized)},
            {"sent", cdr_numbers_json(r.sent)},
            {"status", r.status},
            {"reason", r.reason},
            {"disconnected_by", name_of(parties, r.disconnected_by)},
            {"disconnect_reason", r.disconnect_reason},
            {"media_a", cdr_media_json(r.media_a)},
            {"media_b", cdr_media_json(r.media_b)}};
}

json transfer_json(const std::optional<transfer_state>& t) {
    if (!t) {
        return nullptr;
    }
    return {{"referrer", name_of(sides, t->referrer)},
            {"target", dialog_json(t->target)},
            {"attended", t->attended},
            {"media_port", t->media_port},
            {"slot_inbound", t->slot_inbound ? json(*t->slot_inbound) : json(nullptr)}};
}

// ---- reading ------------------------------------------------------------

/// A document that does not fit: what is wrong, and where.
struct bad_document {
    std::string message;
};

/// A JSON object being read, with its path for error messages.
class reader {
public:
    reader(const json& j, std::string path) : _j(j), _path(std::move(path)) {
        if (!_j.is_object()) {
            fail("", "an object");
        }
    }

    const json& at(const char* key) const {
        auto it = _j.find(key);
        if (it == _j.end()) {
            throw bad_document{fmt::format("{}: missing", where(key))};
        }
        return *it;
    }
    bool is_null(const char* key) const { return at(key).is_null(); }
    bool has(const char* key) const { return _j.contains(key); }
    reader object(const char* key) const { return reader(at(key), where(key)); }

    std::string str(const char* key) const {
        const auto& v = at(key);
        if (!v.is_string()) {
            fail(key, "a string");
        }
        return v.get<std::string>();
    }
    bool boolean(const char* key) const {
        const auto& v = at(key);
        if (!v.is_boolean()) {
            fail(key, "true or false");
        }
        return v.get<bool>();
    }
    /// An unsigned integer of at most `max`.
    std::uint64_t number(const char* key, std::uint64_t max) const {
        const auto& v = at(key);
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max) {
            fail(key, fmt::format("an integer from 0 to {}", max));
        }
        return v.get<std::uint64_t>();
    }
    template <typename T>
    T uint(const char* key) const {
        return static_cast<T>(number(key, std::numeric_limits<T>::max()));
    }
    std::int64_t int64(const char* key) const {
        const auto& v = at(key);
        if (!v.is_number_integer()) {
            fail(key, "an integer");
        }
        return v.get<std::int64_t>();
    }
    wall_time time(const char* key) const {
        return wall_time(
            std::chrono::duration_cast<wall_time::duration>(std::chrono::nanoseconds(int64(key))));
    }
    template <typename E, std::size_t N>
    E name(const char* key, const names<E, N>& table) const {
        const auto text = str(key);
        for (const auto& [v, n] : table) {
            if (text == n) {
                return v;
            }
        }
        fail(key, "one of the documented names");
    }
    secret secret_at(const char* key) const {
        const auto& v = at(key);
        if (!v.is_object() || v.size() != 1 || !v.contains("$secret") ||
            !v["$secret"].is_string()) {
            fail(key, "a secret ({\"$secret\": BASE64})");
        }
        auto bytes = sdp::base64_decode(v["$secret"].get<std::string>());
        if (!bytes) {
            fail(key, "a secret in base64");
        }
        return secret(std::move(*bytes));
    }
    /// An SDP body: a string, or a secret when it held keys (sdp_body_json).
    std::string sdp_body(const char* key) const {
        if (at(key).is_string()) {
            return str(key);
        }
        const auto bytes = secret_at(key);
        return std::string(bytes.bytes().begin(), bytes.bytes().end());
    }
    /// Each element of the array `key`, read by `f(element, its path)`.
    template <typename F>
    void each(const char* key, F f) const {
        const auto& v = at(key);
        if (!v.is_array()) {
            fail(key, "an array");
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            f(v[i], fmt::format("{}[{}]", where(key), i));
        }
    }

    [[noreturn]] void fail(std::string_view key, std::string_view expected) const {
        throw bad_document{fmt::format("{}: expected {}", where(key), expected)};
    }
    std::string where(std::string_view key) const {
        if (key.empty()) {
            return _path.empty() ? "document" : _path;
        }
        return _path.empty() ? std::string(key) : fmt::format("{}.{}", _path, key);
    }

private:
    const json& _j;
    std::string _path;
};

std::optional<media_ctl::endpoint_state> read_endpoint(const reader& r, const char* key) {
    if (r.is_null(key)) {
        return std::nullopt;
    }
    const auto e = r.object(key);
    return media_ctl::endpoint_state{e.str("address"), e.uint<std::uint16_t>("port")};
}

sdp::format read_format(const reader& r) {
    sdp::format f;
    f.payload_type = static_cast<std::uint8_t>(r.number("pt", 127));
    f.encoding = r.str("encoding");
    f.clock_rate = r.uint<std::uint32_t>("clock_rate");
    f.channels = r.uint<unsigned>("channels");
    f.fmtp = r.str("fmtp");
    return f;
}

std::vector<sdp::format> read_formats(const reader& r, const char* key) {
    std::vector<sdp::format> out;
    r.each(key, [&](const json& j, const std::string& path) {
        out.push_back(read_format(reader(j, path)));
    });
    return out;
}

media_ctl::chain_side_state read_chain_side(const reader& r) {
    media_ctl::chain_side_state c;
    c.format = read_format(r.object("format"));
    c.ptime = r.uint<unsigned>("ptime");
    c.received_payload_type = static_cast<std::uint8_t>(r.number("received_pt", 127));
    c.annexb = r.boolean("annexb");
    if (!r.is_null("events")) {
        const auto e = r.object("events");
        c.events = sdp::event_format{static_cast<std::uint8_t>(e.number("pt", 127)),
                                     static_cast<std::uint8_t>(e.number("received_pt", 127)),
                                     e.uint<std::uint32_t>("clock_rate")};
    }
    return c;
}

// Written since rollover counters came; a document without them had
// streams that had not wrapped (or whose counters were lost): ROC 0.
std::optional<media_ctl::srtp_position_state> read_stream(const reader& r, const char* key) {
    if (!r.has(key) || r.is_null(key)) {
        return std::nullopt;
    }
    const auto p = r.object(key);
    return media_ctl::srtp_position_state{p.uint<std::uint32_t>("ssrc"),
                                          p.uint<std::uint32_t>("roc")};
}

media_ctl::media_leg_state read_media_leg(const reader& r) {
    media_ctl::media_leg_state l;
    l.trunk = r.str("trunk");
    l.media_address = r.str("media_address");
    l.rtp_port = r.uint<std::uint16_t>("rtp_port");
    l.peer_rtp = read_endpoint(r, "peer_rtp");
    l.peer_rtcp = read_endpoint(r, "peer_rtcp");
    l.latched_rtp = read_endpoint(r, "latched_rtp");
    // Written since restores came; a document without it was not muxed.
    l.rtcp_mux = r.has("rtcp_mux") && r.boolean("rtcp_mux");
    if (!r.is_null("srtp")) {
        const auto s = r.object("srtp");
        const auto suite = sdp::suite_from_string(s.str("suite"));
        if (!suite) {
            s.fail("suite", "an SRTP suite name (RFC 4568 6.2, RFC 6188 7.1, RFC 7714 14.2)");
        }
        l.srtp = media_ctl::srtp_state{*suite,
                                       s.secret_at("peer"),
                                       s.secret_at("local"),
                                       read_stream(s, "peer_stream"),
                                       read_stream(s, "local_stream"),
                                       std::nullopt};
        if (s.has("local_srtcp") && !s.is_null("local_srtcp")) {
            const auto p = s.object("local_srtcp");
            l.srtp->local_srtcp = media_ctl::srtcp_position_state{p.uint<std::uint32_t>("ssrc"),
                                                                  p.uint<std::uint32_t>("sent")};
        }
    }
    // Written since ICE-lite came; a document without it had none.
    if (r.has("ice") && !r.is_null("ice")) {
        const auto i = r.object("ice");
        l.ice = media_ctl::ice_state{i.boolean("in_use"), i.str("local_ufrag"),
                                     i.secret_at("local_pwd"), i.str("peer_ufrag"),
                                     i.secret_at("peer_pwd")};
    }
    l.peer_formats.formats = read_formats(r, "peer_formats");
    l.peer_formats.ptime = r.uint<unsigned>("peer_ptime");
    l.peer_direction = r.name("peer_direction", directions);
    l.peer_hold_address = r.boolean("peer_hold_address");
    l.codec = r.str("codec");
    l.ptime = r.uint<unsigned>("ptime");
    // Written since local ringback; a document without it plays none.
    l.local_ringback = r.has("local_ringback") && r.boolean("local_ringback");
    r.each("payload_types", [&](const json& j, const std::string& path) {
        const reader e(j, path);
        if (l.payload_types.size() == dataplane::payload_type_map::max_entries) {
            e.fail("", "no more than 16 payload type entries");
        }
        l.payload_types.push_back({static_cast<std::uint8_t>(e.number("from", 127)),
                                   static_cast<std::uint8_t>(e.number("to", 127))});
    });
    return l;
}

media_ctl::media_state read_media(const reader& r) {
    media_ctl::media_state m;
    m.open = r.boolean("open");
    std::size_t n = 0;
    r.each("legs", [&](const json& j, const std::string& path) {
        if (n == 2) {
            r.fail("legs", "two legs");
        }
        m.legs[n++] = read_media_leg(reader(j, path));
    });
    if (n != 2) {
        r.fail("legs", "two legs");
    }
    if (!r.is_null("transcoding")) {
        const auto t = r.object("transcoding");
        m.transcoding = media_ctl::transcoding_state{
            t.name("offerer", sides), read_chain_side(t.object("offerer_side")),
            read_chain_side(t.object("answerer_side")), t.boolean("codecs")};
    }
    if (!r.is_null("pending")) {
        const auto p = r.object("pending");
        m.pending = media_ctl::pending_offer_state{
            p.name("offerer", sides),
            sdp::media_formats{read_formats(p, "offer"), p.uint<unsigned>("offer_ptime")},
            read_formats(p, "planned"), p.uint<unsigned>("planned_ptime"),
            p.boolean("transcoding")};
    }
    return m;
}

dialog_state read_dialog(const reader& r) {
    dialog_state d;
    d.call_id = r.str("call_id");
    d.local_uri = r.str("local_uri");
    d.remote_uri = r.str("remote_uri");
    d.local_tag = r.str("local_tag");
    d.remote_tag = r.str("remote_tag");
    d.local_cseq = r.uint<std::uint32_t>("local_cseq");
    d.remote_cseq = r.uint<std::uint32_t>("remote_cseq");
    r.each("route_set", [&](const json& j, const std::string& path) {
        if (!j.is_string()) {
            throw bad_document{path + ": expected a string"};
        }
        d.route_set.push_back(j.get<std::string>());
    });
    d.remote_target = r.str("remote_target");
    d.interface = r.str("interface");
    d.trunk = r.str("trunk");
    d.transport = r.name("transport", transports);
    d.peer = r.uint<std::size_t>("peer");
    d.confirmed = r.boolean("confirmed");
    d.peer_100rel = r.boolean("peer_100rel");
    d.peer_timer = r.boolean("peer_timer");
    if (!r.is_null("session_timer")) {
        const auto t = r.object("session_timer");
        d.timer = session_timer_state{t.uint<std::uint32_t>("interval_s"), t.boolean("we_refresh"),
                                      t.boolean("no_update"), t.time("last_refresh_ns")};
    }
    const auto sdp = r.object("sdp");
    d.sdp_session_id = sdp.uint<std::uint64_t>("session_id");
    d.sdp_version = sdp.uint<std::uint64_t>("version");
    d.sdp_last_sent = sdp.sdp_body("last_sent");
    return d;
}

policy::call_numbers read_numbers(const reader& r) {
    return {r.str("ruri"), r.str("from"), r.str("to")};
}

cdr::numbers read_cdr_numbers(const reader& r) {
    return {r.str("ruri_user"), r.str("from_user"), r.str("to_user")};
}

cdr::leg_media read_cdr_media(const reader& r) {
    return {r.str("codec"),
            r.uint<std::uint64_t>("packets_received"),
            r.uint<std::uint64_t>("packets_sent"),
            r.uint<std::uint64_t>("bytes_received"),
            r.uint<std::uint64_t>("bytes_sent"),
            r.uint<std::uint64_t>("packets_dropped"),
            std::nullopt};  // measured when the call ends, after any take-over
}

cdr::record read_cdr(const reader& r) {
    cdr::record c;
    c.id = r.str("id");
    c.call_id = r.str("call_id");
    c.start = r.time("start_ns");
    if (!r.is_null("answer_ns")) {
        c.answer = r.time("answer_ns");
    }
    c.end = r.time("end_ns");
    c.source = r.str("source");
    c.from_trunk = r.str("from_trunk");
    c.to_trunk = r.str("to_trunk");
    c.route = r.str("route");
    c.received = read_cdr_numbers(r.object("received"));
    c.normalized = read_cdr_numbers(r.object("normalized"));
    c.sent = read_cdr_numbers(r.object("sent"));
    c.status = static_cast<int>(r.number("status", 699));
    c.reason = r.str("reason");
    c.disconnected_by = r.name("disconnected_by", parties);
    c.disconnect_reason = r.str("disconnect_reason");
    c.media_a = read_cdr_media(r.object("media_a"));
    c.media_b = read_cdr_media(r.object("media_b"));
    return c;
}

std::optional<transfer_state> read_transfer(const reader& r) {
    if (r.is_null("transfer")) {
        return std::nullopt;
    }
    const auto t = r.object("transfer");
    transfer_state out;
    out.referrer = t.name("referrer", sides);
    out.target = read_dialog(t.object("target"));
    out.attended = t.boolean("attended");
    out.media_port = t.uint<std::uint16_t>("media_port");
    if (!t.is_null("slot_inbound")) {
        out.slot_inbound = t.boolean("slot_inbound");
    }
    return out;
}

call_state read_call(const reader& r) {
    call_state s;
    s.version = static_cast<int>(r.number("version", 1'000'000));
    if (s.version != call_state_version) {
        throw bad_document{fmt::format("version {}: this node reads version {} only", s.version,
                                       call_state_version)};
    }
    s.id = r.uint<std::uint64_t>("id");
    s.state = r.str("state");
    s.created = r.time("created_ns");
    s.state_since = r.time("state_since_ns");
    std::size_t n = 0;
    r.each("legs", [&](const json& j, const std::string& path) {
        if (n == 2) {
            r.fail("legs", "two dialogs");
        }
        s.legs[n++] = read_dialog(reader(j, path));
    });
    if (n != 2) {
        r.fail("legs", "two dialogs");
    }
    s.media = read_media(r.object("media"));
    s.under_way = r.name("under_way", operations);
    s.transfer = read_transfer(r);
    r.each("slots", [&](const json& j, const std::string& path) {
        const reader e(j, path);
        s.slots.push_back({e.str("trunk"), e.boolean("inbound")});
    });
    s.route = r.str("route");
    r.each("next_trunks", [&](const json& j, const std::string& path) {
        if (!j.is_string()) {
            throw bad_document{path + ": expected a string"};
        }
        s.next_trunks.push_back(j.get<std::string>());
    });
    s.numbers = read_numbers(r.object("numbers"));
    s.numbers_sent = read_numbers(r.object("numbers_sent"));
    s.source = r.str("source");
    s.replaces = r.str("replaces");
    s.caller_session_expires_s = r.uint<std::uint32_t>("caller_session_expires_s");
    s.caller_refresher = r.str("caller_refresher");
    s.media_timeout = std::chrono::nanoseconds(r.uint<std::int64_t>("media_timeout_ns"));
    s.cdr = read_cdr(r.object("cdr"));
    return s;
}

}  // namespace

const char* to_string(operation o) noexcept { return name_of(operations, o); }

json to_json_value(const call_state& s) {
    json slots = json::array();
    for (const auto& slot : s.slots) {
        slots.push_back({{"trunk", slot.trunk}, {"inbound", slot.inbound}});
    }
    return {{"version", s.version},
            {"id", s.id},
            {"state", s.state},
            {"created_ns", ns_of(s.created)},
            {"state_since_ns", ns_of(s.state_since)},
            {"legs", {dialog_json(s.legs[0]), dialog_json(s.legs[1])}},
            {"media", media_json(s.media)},
            {"under_way", name_of(operations, s.under_way)},
            {"transfer", transfer_json(s.transfer)},
            {"slots", slots},
            {"route", s.route},
            {"next_trunks", s.next_trunks},
            {"numbers", numbers_json(s.numbers)},
            {"numbers_sent", numbers_json(s.numbers_sent)},
            {"source", s.source},
            {"replaces", s.replaces},
            {"caller_session_expires_s", s.caller_session_expires_s},
            {"caller_refresher", s.caller_refresher},
            {"media_timeout_ns", s.media_timeout.count()},
            {"cdr", cdr_json(s.cdr)}};
}

std::string to_json(const call_state& s) {
    // Strings from the network may hold any bytes: replace what is not
    // UTF-8 rather than throw (the CDR writer does the same).
    return to_json_value(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

result<call_state> call_state_from_json_value(const json& doc) {
    try {
        return read_call(reader(doc, ""));
    } catch (const bad_document& e) {
        return error{e.message};
    }
}

result<call_state> call_state_from_json(std::string_view text) {
    auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) {
        return error{"not a JSON document"};
    }
    return call_state_from_json_value(doc);
}

void for_each_secret(json& doc, const std::function<void(json&)>& f) {
    if (doc.is_object()) {
        if (doc.size() == 1 && doc.contains("$secret")) {
            f(doc);
            return;
        }
        for (auto& item : doc.items()) {
            for_each_secret(item.value(), f);
        }
    } else if (doc.is_array()) {
        for (auto& value : doc) {
            for_each_secret(value, f);
        }
    }
}

}  // namespace sbc::b2bua
