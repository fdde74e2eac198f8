#include "sbc/b2bua/sip_interface.hpp"

#include "sbc/b2bua/dialog.hpp"
#include "sbc/b2bua/source_filter.hpp"
#include "sbc/capture/sip_tap.hpp"

#include <fmt/format.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/tport.h>
#include <sofia-sip/tport_tag.h>

#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/common/log.hpp"
#include "sbc/tls/ssl_ctx_capture.hpp"

namespace sbc::b2bua {

namespace {

bool is_unspecified(const std::string& ip) { return ip == "0.0.0.0" || ip == "::"; }

std::string listen_url(const config::listen_uri& l) {
    // nta binds TLS only for a sips: URL; a sip: one offers udp, tcp and sctp.
    if (l.proto == config::transport::tls) {
        return fmt::format("sips:{}:{}", uri_host(l.host), l.port);
    }
    return fmt::format("sip:{}:{};transport={}", uri_host(l.host), l.port,
                       transport_param(l.proto));
}
}  // namespace

std::string uri_host(const std::string& ip) {
    return ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
}

const char* transport_param(config::transport t) noexcept {
    switch (t) {
        case config::transport::tcp:
            return "tcp";
        case config::transport::tls:
            return "tls";
        case config::transport::udp:
            break;
    }
    return "udp";
}

sip_interface::sip_interface(su_root_t* root, const config::interface_config& cfg, b2bua& owner,
                             tls::peer_lookup peers)
    : _cfg(cfg), _owner(owner) {
    if (cfg.listen.empty()) {
        throw std::runtime_error(fmt::format("interface {}: no listener", cfg.name));
    }
    if (cfg.tls) {
        try {
            _tls = std::make_unique<tls::interface_tls>(cfg.name, *cfg.tls, std::move(peers));
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format("interface {}: tls: {}", cfg.name, e.what()));
        }
    }
    tls::ctx_capture capture;
    bind_listeners(root);
    read_bound_ports();
    if (cfg.has_listener(config::transport::tls)) {
        // One context per TLS transport sofia made; each must follow our
        // policy, or the interface would accept anyone with sofia's defaults.
        bool adopted = !capture.captured().empty();
        for (SSL_CTX* ctx : capture.captured()) {
            adopted = _tls->adopt(ctx) && adopted;
        }
        if (!adopted) {
            _tls->detach();
            nta_agent_destroy(_agent);
            throw std::runtime_error(
                fmt::format("interface {}: cannot set up TLS (see above)", cfg.name));
        }
    }
    for (const auto& l : cfg.listen) {
        sip_log.info("interface {} listening on {}", cfg.name, listen_url(l));
    }
}

void sip_interface::bind_listeners(su_root_t* root) {
    const auto& cfg = _cfg;
    auto first = listen_url(cfg.listen.front());
    // sofia-sip reads certificates from a directory; it gets an empty one and
    // the contexts it makes are configured by interface_tls. Its own checks
    // are off: they know one policy per agent, ours one per trunk.
    const char* cert_dir = _tls ? tls::interface_tls::sofia_certificate_dir() : nullptr;
    // NTATAG_UA: nta acts as a user agent core, retransmitting our 2xx until
    // the ACK and handing that ACK to the bound transaction (RFC 3261 13.3.1.4).
    // NTATAG_CANCEL_487(0): the call answers a cancelled INVITE itself, after
    // it has cancelled the other leg.
    _agent = nta_agent_create(
        root, URL_STRING_MAKE(first.c_str()), sofia::agent_trampoline, this, NTATAG_UA(1),
        NTATAG_CANCEL_487(0), NTATAG_EXTRA_100(0), NTATAG_SERVER_RPORT(1), NTATAG_CLIENT_RPORT(1),
        // Every message it sends or receives reaches the capture (sip_tap.hpp).
        SBC_SIP_TAP_TAGS, TAG_IF(cert_dir, TPTAG_CERTIFICATE(cert_dir)),
        TAG_IF(cert_dir, TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_NONE)), TAG_END());
    if (_agent == nullptr) {
        throw std::runtime_error(fmt::format("interface {}: cannot listen on {}", cfg.name, first));
    }
    for (size_t i = 1; i < cfg.listen.size(); ++i) {
        auto url = listen_url(cfg.listen[i]);
        if (nta_agent_add_tport(
                _agent, URL_STRING_MAKE(url.c_str()), TAG_IF(cert_dir, TPTAG_CERTIFICATE(cert_dir)),
                TAG_IF(cert_dir, TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_NONE)), TAG_END()) < 0) {
            nta_agent_destroy(_agent);
            throw std::runtime_error(
                fmt::format("interface {}: cannot listen on {}", cfg.name, url));
        }
    }
    report_tls_failures();
    for (const auto& l : cfg.listen) {
        if (l.proto != config::transport::udp || cfg.allow_sources.empty()) {
            continue;
        }
        auto bound = dataplane::ip_endpoint::from_string(l.host, l.port);
        auto fds = bound ? attach_source_filter(*bound, cfg.allow_sources)
                         : result<std::vector<int>>(make_error("not an IP address"));
        if (!fds) {
            nta_agent_destroy(_agent);
            throw std::runtime_error(fmt::format("interface {}: allow_sources on {}: {}", cfg.name,
                                                 config::to_string(l), fds.error_message()));
        }
        _filtered.insert(_filtered.end(), fds->begin(), fds->end());
    }
}

void sip_interface::read_bound_ports() {
    _bound = _cfg.listen;
    for (auto& l : _bound) {
        if (l.port != 0) {
            continue;
        }
        for (tport_t* tp = tport_primaries(nta_agent_tports(_agent)); tp != nullptr;
             tp = tport_next(tp)) {
            const tp_name_t* name = tport_name(tp);
            if (name != nullptr && name->tpn_proto != nullptr && name->tpn_port != nullptr &&
                name->tpn_host != nullptr &&
                std::string_view(name->tpn_proto) == transport_param(l.proto) &&
                (name->tpn_host == l.host || name->tpn_host == uri_host(l.host))) {
                l.port = static_cast<std::uint16_t>(std::strtoul(name->tpn_port, nullptr, 10));
                break;
            }
        }
    }
}

void sip_interface::report_tls_failures() {
    // sofia-sip's TLS transport closes a connection whose handshake failed
    // (the peer's certificate refused, no version or cipher in common)
    // without reporting an error to the requests queued on it; nta creates
    // its transports with TPTAG_SDWN_ERROR(0), so the close is silent and
    // an INVITE would wait for its timers (failover_timeout, then Timer B)
    // although the peer can never be reached that way. With
    // TPTAG_SDWN_ERROR(1) tport_close() reports the failure to the pending
    // requests, and nta answers them with an internal 503, as it does for a
    // refused TCP connection: RFC 3261 17.1.4, a transport failure is
    // reported to the transaction user at once. TLS transports only; the
    // secondary (per-connection) transports share their primary's settings.
    for (tport_t* tp = tport_primaries(nta_agent_tports(_agent)); tp != nullptr;
         tp = tport_next(tp)) {
        const tp_name_t* name = tport_name(tp);
        if (name != nullptr && name->tpn_proto != nullptr &&
            std::string_view(name->tpn_proto) == "tls") {
            tport_set_params(tp, TPTAG_SDWN_ERROR(1), TAG_END());
        }
    }
}

std::string sip_interface::tls_failure(const std::string& host,
                                       std::chrono::steady_clock::time_point since) const {
    const auto* f = _tls ? _tls->last_failure(host) : nullptr;
    // Only connections the SBC opened: those are what its requests wait for.
    return f != nullptr && !f->inbound && f->at_steady >= since ? "TLS: " + f->reason
                                                                : std::string();
}

std::uint64_t sip_interface::filtered_drops() const {
    std::uint64_t n = 0;
    for (int fd : _filtered) {
        n += socket_drops(fd);
    }
    return n;
}

sip_interface::~sip_interface() {
    if (_tls) {
        _tls->detach();
    }
    nta_agent_destroy(_agent);
}

const config::listen_uri& sip_interface::listener_for(config::transport t) const {
    for (const auto& l : _bound) {
        if (l.proto == t) {
            return l;
        }
    }
    return _bound.front();
}

std::uint16_t sip_interface::bound_port(config::transport t) const { return listener_for(t).port; }

std::string sip_interface::host(bool by_name) const {
    if (by_name && !_cfg.fqdn.empty()) {
        return _cfg.fqdn;
    }
    const auto& l = _cfg.listen.front();
    return uri_host(is_unspecified(l.host) ? _cfg.media_address : l.host);
}

std::string sip_interface::host_port(config::transport t, bool by_name) const {
    const auto& l = listener_for(t);
    if (by_name && !_cfg.fqdn.empty()) {
        return fmt::format("sip:{}:{}", _cfg.fqdn, l.port);
    }
    auto h = is_unspecified(l.host) ? _cfg.media_address : l.host;
    return fmt::format("sip:{}:{}", uri_host(h), l.port);
}

std::string sip_interface::contact(config::transport t, bool by_name) const {
    const auto& l = listener_for(t);
    if (l.proto != config::transport::udp) {
        return fmt::format("<{};transport={}>", host_port(t, by_name), transport_param(l.proto));
    }
    return fmt::format("<{}>", host_port(t, by_name));
}

std::string dialog::own_via() const {
    return iface != nullptr && trunk != nullptr ? iface->via(transport, trunk->use_fqdn)
                                                : std::string();
}

std::string sip_interface::via(config::transport t, bool by_name) const {
    if (!by_name || _cfg.fqdn.empty()) {
        return {};
    }
    const auto& l = listener_for(t);
    const char* proto = l.proto == config::transport::tls   ? "TLS"
                        : l.proto == config::transport::tcp ? "TCP"
                                                            : "UDP";
    return fmt::format("SIP/2.0/{} {}:{}", proto, _cfg.fqdn, l.port);
}

int sip_interface::on_stray_message(nta_agent_t*, msg_t* msg, sip_t* sip) {
    _owner.on_out_of_dialog_message(*this, msg, sip);
    return 0;
}

}  // namespace sbc::b2bua
