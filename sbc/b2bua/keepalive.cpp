#include "sbc/b2bua/keepalive.hpp"

#include <fmt/format.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include <random>

#include "sbc/b2bua/b2bua.hpp"
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
        for (std::size_t peer = 0; peer < trunk.peers.size(); ++peer) {
            auto key = std::pair{trunk.name, peer};
            auto due = _next_due.find(key);
            if (due == _next_due.end()) {
                // Peers start up; the first ping comes one interval after
                // start, so a restart does not burst OPTIONS at every peer.
                _next_due[key] = now + std::chrono::seconds(trunk.keepalive.interval_seconds);
                continue;
            }
            if (now < due->second) {
                continue;
            }
            bool outstanding = false;
            for (const auto& p : _pings) {
                outstanding = outstanding || (p.trunk == trunk.name && p.peer == peer);
            }
            if (outstanding) {
                continue;
            }
            _next_due[key] = now + std::chrono::seconds(trunk.keepalive.interval_seconds);
            send(trunk.name, peer, now);
        }
    }
}

void keepalive::send(const std::string& trunk_name, std::size_t peer_index,
                     std::chrono::steady_clock::time_point now) {
    const auto& trunk = *_owner.cfg().find_trunk(trunk_name);
    const auto& peer = trunk.peers[peer_index];
    auto& iface = _owner.interface_named(trunk.interface);
    auto host = uri_host(peer.host);
    auto from = fmt::format("<sip:sbc@{}>", iface.host());
    auto to = fmt::format("<sip:{}:{}>", host, peer.port);
    auto ruri = fmt::format("sip:{}:{}{}", host, peer.port,
                            peer.proto == config::transport::udp
                                ? ""
                                : fmt::format(";transport={}", transport_param(peer.proto)));
    auto call_id = ping_call_id();
    c_handle<nta_leg_t, nta_leg_destroy> leg(
        nta_leg_tcreate(iface.agent(), nullptr, nullptr, SIPTAG_CALL_ID_STR(call_id.c_str()),
                        SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()), TAG_END()));
    if (!leg) {
        return;
    }
    nta_leg_tag(leg.get(), nullptr);
    auto contact = iface.contact(peer.proto);
    const auto serial = ++_serial;
    nta_leg_t* raw = leg.get();
    _pings.push_back(ping{serial, trunk_name, peer_index, std::move(leg), {}, now});
    auto orq = sofia::client_transaction::send(
        raw, [this, serial](const sofia::response& r) { on_response(serial, r); }, nullptr,
        SIP_METHOD_OPTIONS, URL_STRING_MAKE(ruri.c_str()), SIPTAG_CONTACT_STR(contact.c_str()),
        SIPTAG_MAX_FORWARDS_STR("70"), SIPTAG_ACCEPT_STR("application/sdp"));
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
    if (!r.from_peer() && trunk != nullptr && p.peer < trunk->peers.size()) {
        why =
            _owner.interface_named(trunk->interface).tls_failure(trunk->peers[p.peer].host, p.sent);
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
        auto peer = config::to_string(trunk->peers[p.peer]);
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
