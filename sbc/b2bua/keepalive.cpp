#include "sbc/b2bua/keepalive.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include <random>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/b2bua/call_support.hpp"
#include "sbc/b2bua/peer_route.hpp"
#include "sbc/common/log.hpp"

namespace sbc::b2bua {

namespace {
constexpr log::logger trunk_log{"trunk"};

std::string ping_call_id() {
    static std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{:016x}{:016x}", rng(), rng());
}
}  // namespace

keepalive::~keepalive() { cancel_all(); }

void keepalive::cancel_all() { _pings.clear(); }

std::optional<std::size_t> keepalive::find(std::uint64_t serial) const {
    for (std::size_t i = 0; i < _pings.size(); ++i) {
        if (_pings[i].serial == serial) {
            return i;
        }
    }
    return std::nullopt;
}

void keepalive::tick(std::chrono::steady_clock::time_point now) {
    for (std::size_t i = 0; i < _pings.size();) {
        const auto* trunk = _owner.cfg().find_trunk(_pings[i].trunk);
        auto limit = std::chrono::seconds(trunk ? trunk->keepalive.timeout_seconds : 1);
        if (now - _pings[i].sent >= limit) {
            finish(i, 0, "timeout");
            continue;
        }
        ++i;
    }
    for (const auto& trunk : _owner.cfg().trunks) {
        if (trunk.keepalive.interval_seconds == 0) {
            continue;
        }
        const auto* table = _owner.peers_of(trunk.name);
        // Each current target: a name's every address is watched, so that
        // failover skips the dead ones; a target no longer current is left
        // alone (its calls go on, no new one goes there).
        for (std::size_t target = 0; table != nullptr && target < table->size(); ++target) {
            if (!table->target_at(target).current) {
                continue;
            }
            auto key = std::pair{trunk.name, target};
            auto due = _next_due.find(key);
            if (due == _next_due.end()) {
                // Targets start up; the first ping comes one interval after
                // start (or after the name resolved), so a restart does not
                // burst OPTIONS at every peer.
                _next_due[key] = now + std::chrono::seconds(trunk.keepalive.interval_seconds);
                continue;
            }
            if (now < due->second) {
                continue;
            }
            bool outstanding = false;
            for (const auto& p : _pings) {
                outstanding = outstanding || (p.trunk == trunk.name && p.peer == target);
            }
            if (outstanding) {
                continue;
            }
            _next_due[key] = now + std::chrono::seconds(trunk.keepalive.interval_seconds);
            send(trunk.name, target, now);
        }
    }
}

void keepalive::send(const std::string& trunk_name, std::size_t target_index,
                     std::chrono::steady_clock::time_point now) {
    const auto& trunk = *_owner.cfg().find_trunk(trunk_name);
    const auto* target = _owner.target_of(trunk, target_index);
    if (target == nullptr) {
        return;
    }
    const auto& peer = trunk.peers.at(target->peer);
    auto& iface = _owner.interface_named(trunk.interface);
    auto route = route_to(peer, *target, "");
    // By name, as Microsoft's direct routing shows it: the SBC's FQDN with no
    // user part (RFC 3261 19.1.1 allows a URI without one for a host that
    // has no notion of users).
    auto from = trunk.use_fqdn ? fmt::format("<sip:{}>", iface.host(true))
                               : fmt::format("<sip:sbc@{}>", iface.host());
    // To names the peer as the Request-URI does: its address and port, or
    // its name (RFC 3263: the URI dialled, sent to the resolved target).
    auto to = peer.is_name ? fmt::format("<{}>", route.ruri)
                           : fmt::format("<sip:{}:{}>", route.to_host, target->port);
    const auto& ruri = route.ruri;
    auto call_id = ping_call_id();
    c_handle<nta_leg_t, nta_leg_destroy> leg(
        nta_leg_tcreate(iface.agent(), nullptr, nullptr, SIPTAG_CALL_ID_STR(call_id.c_str()),
                        SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()), TAG_END()));
    if (!leg) {
        return;
    }
    nta_leg_tag(leg.get(), nullptr);
    auto contact = iface.contact(target->proto, trunk.use_fqdn);
    const auto via = iface.via(target->proto, trunk.use_fqdn);
    const auto identity = support::sbc_header_line(trunk);
    const auto serial = ++_serial;
    nta_leg_t* raw = leg.get();
    _pings.push_back(ping{serial, trunk_name, target_index, std::move(leg), {}, now});
    auto orq = sofia::client_transaction::send(
        raw, [this, serial](const sofia::response& r) { on_response(serial, r); },
        route.next_hop.empty() ? nullptr : URL_STRING_MAKE(route.next_hop.c_str()),
        SIP_METHOD_OPTIONS, URL_STRING_MAKE(ruri.c_str()), SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_MAX_FORWARDS_STR("70"), SIPTAG_ACCEPT_STR("application/sdp"), SBC_OWN_VIA(via),
        TAG_IF(!identity.empty(), SIPTAG_HEADER_STR(identity.c_str())));
    // nta may have answered already (a transport failure): the ping is
    // then over and gone.
    if (const auto i = find(serial)) {
        if (!orq) {
            finish(*i, 503, "cannot send");
        } else {
            _pings[*i].orq = std::move(orq);
        }
    }
}

void keepalive::on_response(std::uint64_t serial, const sofia::response& r) {
    const auto i = find(serial);
    if (r.provisional() || !i) {
        return;
    }
    // nta's own 503 after a failed TLS handshake: the peer's result says
    // why (sbcctl trunks), not just "503".
    std::string why;
    const auto& p = _pings[*i];
    const auto* trunk = _owner.cfg().find_trunk(p.trunk);
    const auto* target = trunk != nullptr ? _owner.target_of(*trunk, p.peer) : nullptr;
    if (!r.from_peer() && target != nullptr) {
        why = _owner.interface_named(trunk->interface).tls_failure(target->host, p.sent);
    }
    finish(*i, r.status, why.empty() ? nullptr : why.c_str());
}

void keepalive::finish(std::size_t index, int status, const char* what) {
    // Taken out first: the ping's transaction may be the one whose callback
    // runs now, and goes when this function returns.
    ping p = std::move(_pings[index]);
    _pings.erase(_pings.begin() + static_cast<std::ptrdiff_t>(index));
    auto* table = _owner.peers_of(p.trunk);
    const auto* trunk = _owner.cfg().find_trunk(p.trunk);
    if (table != nullptr && trunk != nullptr && p.peer < table->size()) {
        auto now = trunking::clock::now();
        auto peer = _owner.describe_target(*trunk, p.peer);
        // RFC 3261 11.2: any response shows the peer's SIP stack is alive;
        // 408 and 5xx say it cannot take calls (nta reports a transport or
        // TLS failure as 503).
        bool ok = what == nullptr && status != 408 && status < 500;
        if (ok) {
            auto rtt = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - p.sent);
            if (table->record_success(p.peer, rtt, status, now)) {
                trunk_log.info("trunk {}: peer {} is up (OPTIONS answered {})", p.trunk, peer,
                               status);
            }
        } else {
            std::string result = what != nullptr ? what : std::to_string(status);
            if (table->record_failure(p.peer, result, now)) {
                trunk_log.warn("trunk {}: peer {} is down ({} OPTIONS failed, last: {})", p.trunk,
                               peer, trunk->keepalive.down_after, result);
            }
        }
    }
}

}  // namespace sbc::b2bua
