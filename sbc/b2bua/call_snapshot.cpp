// call::snapshot(): a live call read out as data (call_state.hpp).
#include "sbc/b2bua/call.hpp"
#include "sbc/b2bua/sip_interface.hpp"

namespace sbc::b2bua {

namespace {

/// Steady-clock times as wall-clock ones, taking both clocks' "now" once so
/// that every time of a snapshot is converted alike.
class to_wall {
public:
    to_wall()
        : _steady(std::chrono::steady_clock::now()), _wall(std::chrono::system_clock::now()) {}
    wall_time operator()(std::chrono::steady_clock::time_point t) const {
        return _wall + std::chrono::duration_cast<wall_time::duration>(t - _steady);
    }

private:
    std::chrono::steady_clock::time_point _steady;
    wall_time _wall;
};

dialog_state state_of(const dialog& d, const to_wall& wall) {
    dialog_state s;
    auto v = sofia::read_leg(d.nta());
    s.call_id = d.call_id;
    s.local_uri = d.local_uri;
    s.remote_uri = d.remote_uri;
    s.local_tag = std::move(v.local_tag);
    s.remote_tag = std::move(v.remote_tag);
    s.local_cseq = v.local_cseq;
    s.remote_cseq = v.remote_cseq;
    s.route_set = std::move(v.route_set);
    s.remote_target = std::move(v.remote_target);
    s.interface = d.iface != nullptr ? d.iface->name() : "";
    s.trunk = d.trunk != nullptr ? d.trunk->name : "";
    s.transport = d.transport;
    s.peer = d.peer;
    s.confirmed = d.confirmed;
    s.peer_100rel = d.peer_100rel;
    s.peer_timer = d.peer_timer;
    if (d.timer) {
        s.timer = session_timer_state{static_cast<std::uint32_t>(d.timer->interval.count()),
                                      d.timer->we_refresh, d.timer->no_update,
                                      wall(d.timer->last_refresh)};
    }
    s.sdp_session_id = d.origin.session_id;
    s.sdp_version = d.origin.version;
    s.sdp_last_sent = d.origin.last_sent;
    return s;
}

}  // namespace

operation call::under_way() const noexcept {
    if (_transfer) {
        return operation::transfer;
    }
    if (_invite) {
        return _invite->initial() ? operation::initial_invite : operation::reinvite;
    }
    if (_update) {
        return operation::update;
    }
    if (_reoffer) {
        return operation::reoffer;
    }
    return operation::none;
}

std::uint64_t call::state_mark() const noexcept {
    // FNV-1a over what moves with the state: not a digest of the document
    // (building it costs far more), but every operation that changes the
    // document changes one of these.
    std::uint64_t h = 14695981039346656037ULL;
    const auto mix = [&h](std::uint64_t v) {
        for (int i = 0; i < 8; ++i) {
            h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ULL;
        }
    };
    mix(static_cast<std::uint64_t>(_state));
    mix(static_cast<std::uint64_t>(under_way()));
    mix(_changes);
    for (const auto& d : _legs) {
        mix(reinterpret_cast<std::uintptr_t>(d.nta()));
        if (d.nta() != nullptr) {
            mix(nta_leg_get_seq(d.nta()));
            mix(nta_leg_get_rseq(d.nta()));
        }
        mix(d.origin.version);
        mix(d.timer ? static_cast<std::uint64_t>(d.timer->last_refresh.time_since_epoch().count())
                    : 0);
    }
    return h;
}

call_state call::snapshot() const {
    const to_wall wall;
    call_state s;
    s.id = _id;
    s.state = state_name();
    s.created = wall(_created);
    s.state_since = wall(_state_since);
    for (const auto side : {side::a, side::b}) {
        s.legs[dataplane::index(side)] = state_of(_legs[dataplane::index(side)], wall);
    }
    s.media = _media.state();
    s.under_way = under_way();
    if (_transfer) {
        const auto& t = *_transfer;
        s.transfer = transfer_state{t.referrer(), state_of(t.target(), wall), t.attended(),
                                    t.media_port(), t.slot_inbound()};
    }
    for (const auto& slot : _slots) {
        s.slots.push_back({slot.trunk != nullptr ? slot.trunk->name : "", slot.inbound});
    }
    s.route = _route != nullptr ? _route->name : "";
    for (const auto* t : _next_trunks) {
        s.next_trunks.push_back(t->name);
    }
    s.numbers = _numbers;
    s.numbers_sent = _numbers_sent;
    s.source = _source.valid() ? _source.to_string() : "";
    s.replaces = _replaces;
    s.caller_session_expires_s = static_cast<std::uint32_t>(_timers.caller_expires().count());
    s.caller_refresher = _timers.caller_refresher();
    s.media_timeout = _armed_media_timeout;
    s.cdr = _cdr;
    return s;
}

}  // namespace sbc::b2bua
