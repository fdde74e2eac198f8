// call::restore(): a call another node held, rebuilt from its state
// (call_state.hpp) when this node takes that node's addresses over.
//
// The dialogs are made again in nta with the identifiers, sequence numbers,
// route set and remote target the state recorded (RFC 3261 12.2): requests
// from either peer then match them (nta finds a dialog by Call-ID and tags),
// and the SBC's own requests go where they went. The media session is
// opened on the same ports, so the peers' RTP, sent to the shared address,
// reaches it unchanged.
#include <fmt/format.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tag.h>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/sip_interface.hpp"

namespace sbc::b2bua {

namespace {

/// Wall-clock times of another node as this node's steady clock, both
/// clocks read once (call_snapshot.cpp's to_wall, the other way).
class to_steady {
public:
    to_steady()
        : _steady(std::chrono::steady_clock::now()), _wall(std::chrono::system_clock::now()) {}
    std::chrono::steady_clock::time_point operator()(wall_time t) const {
        return _steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(t - _wall);
    }

private:
    std::chrono::steady_clock::time_point _steady;
    wall_time _wall;
};

/// The SBC's requests that changed no call state (a relayed INFO or
/// NOTIFY, a digest retry) move its CSeq on without a new state being
/// written at once; the restored dialog starts this far above the recorded
/// one, so that its next request is never below one the peer saw. A gap is
/// no error to the peer (RFC 3261 12.2.2: "not an error condition").
constexpr std::uint32_t cseq_margin = 100;

/// "ip:port" or "[ipv6]:port", as ip_endpoint::to_string writes it.
std::optional<dataplane::ip_endpoint> endpoint_of(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 >= text.size()) {
        return std::nullopt;
    }
    auto host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    for (const char c : text.substr(colon + 1)) {
        if (c < '0' || c > '9' || port > 65535) {
            return std::nullopt;
        }
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) {
        return std::nullopt;
    }
    return dataplane::ip_endpoint::from_string(host, static_cast<std::uint16_t>(port));
}

}  // namespace

result<bool> call::restore_dialog(side s, const dialog_state& st) {
    auto& d = leg(s);
    if (!st.confirmed || st.local_tag.empty() || st.remote_tag.empty() || st.call_id.empty()) {
        return error{fmt::format("leg {}: dialog not confirmed", s == side::a ? 'a' : 'b')};
    }
    sip_interface* iface = _owner.find_interface(st.interface);
    if (iface == nullptr) {
        return error{
            fmt::format("leg {}: no interface {}", s == side::a ? 'a' : 'b', st.interface)};
    }
    // The URIs in angle brackets: a URI parameter (;user=phone) would
    // otherwise be read as a header parameter of From/To.
    const auto local = fmt::format("<{}>;tag={}", st.local_uri, st.local_tag);
    const auto remote = fmt::format("<{}>;tag={}", st.remote_uri, st.remote_tag);
    const auto cseq = std::to_string(st.local_cseq + cseq_margin);
    // SIPTAG_CSEQ sets the leg's own sequence number (nta_leg_tcreate: "for
    // local CSeq number"); NTATAG_REMOTE_CSEQ the peer's.
    d.leg = sofia::leg::create(iface->agent(), d, SIPTAG_CALL_ID_STR(st.call_id.c_str()),
                               SIPTAG_FROM_STR(local.c_str()), SIPTAG_TO_STR(remote.c_str()),
                               SIPTAG_CSEQ_STR(cseq.c_str()), NTATAG_REMOTE_CSEQ(st.remote_cseq));
    if (!d.leg) {
        return error{fmt::format("leg {}: nta refused the dialog", s == side::a ? 'a' : 'b')};
    }
    // The route set and target through nta_leg_server_route, which keeps
    // the order given (the stored one is the order requests use) and learns
    // loose routing from the first entry's ;lr; SIPTAG_ROUTE at creation
    // would leave the leg routing strictly (RFC 3261 16.12.1.1).
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_record_route_t* rr = nullptr;
    std::string routes;
    for (const auto& r : st.route_set) {
        routes += (routes.empty() ? "" : ", ") + r;
    }
    if (!routes.empty()) {
        rr = sip_record_route_make(home, routes.c_str());
    }
    const auto target = "<" + st.remote_target + ">";
    sip_contact_t* m = sip_contact_make(home, target.c_str());
    const bool routed = m != nullptr && (routes.empty() || rr != nullptr) &&
                        nta_leg_server_route(d.nta(), rr, m) == 0;
    su_home_deinit(home);
    if (!routed) {
        d.leg = {};
        return error{fmt::format("leg {}: bad route set or target {}", s == side::a ? 'a' : 'b',
                                 st.remote_target)};
    }
    d.call_id = st.call_id;
    capture_leg(s);
    d.local_uri = st.local_uri;
    d.remote_uri = st.remote_uri;
    d.iface = iface;
    d.transport = st.transport;
    // The index is into this process's peer table, which may order a
    // name's targets otherwise; it only says which target the call uses.
    const auto* table = _owner.peers_of(d.trunk->name);
    d.peer = table != nullptr && st.peer < table->size() ? st.peer : 0;
    d.confirmed = true;
    d.peer_100rel = st.peer_100rel;
    d.peer_timer = st.peer_timer;
    d.timer.reset();
    if (st.timer) {
        const to_steady steady;
        session_timer t;
        t.interval = std::chrono::seconds(st.timer->interval_s);
        t.we_refresh = st.timer->we_refresh;
        t.no_update = st.timer->no_update;
        t.last_refresh = steady(st.timer->last_refresh);
        d.timer = t;
    }
    d.origin.session_id = st.sdp_session_id;
    d.origin.version = st.sdp_version;
    d.origin.last_sent = st.sdp_last_sent;
    return true;
}

result<bool> call::restore(const call_state& s) {
    if (s.version != call_state_version) {
        return error{
            fmt::format("document version {}, this node reads {}", s.version, call_state_version)};
    }
    // A call being set up or with an operation under way holds transactions
    // no other node can resume: only established calls are written, and
    // only those are taken over.
    if (s.state != "established") {
        return error{fmt::format("call is {}, not established", s.state)};
    }
    for (const auto sd : {side::a, side::b}) {
        if (auto r = restore_dialog(sd, s.legs[dataplane::index(sd)]); !r) {
            return r;
        }
    }
    auto restored = _media.restore(
        s.media, [this](const std::string& name) { return _owner.cfg().find_trunk(name); });
    if (!restored) {
        return error{"media: " + restored.error_message()};
    }
    const to_steady steady;
    _created = steady(s.created);
    _state = state::established;
    _state_since = steady(s.state_since);
    for (const auto& sl : s.slots) {
        const auto* t = _owner.cfg().find_trunk(sl.trunk);
        if (t != nullptr) {
            _owner.adopt_slot(*t, sl.inbound);
            _slots.push_back({t, sl.inbound});
        }
    }
    _route = nullptr;
    for (const auto& r : _owner.cfg().routes) {
        if (r.name == s.route) {
            _route = &r;
        }
    }
    _next_trunks.clear();
    _numbers = s.numbers;
    _numbers_sent = s.numbers_sent;
    if (auto src = endpoint_of(s.source)) {
        _source = *src;
        _source_ip = src->address();
    }
    _replaces = s.replaces;
    _timers.restore_caller(std::chrono::seconds(s.caller_session_expires_s), s.caller_refresher);
    _cdr = s.cdr;
    return true;
}

}  // namespace sbc::b2bua
