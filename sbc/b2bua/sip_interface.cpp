#include "sbc/b2bua/sip_interface.hpp"

#include <fmt/format.h>
#include <sofia-sip/nta_tag.h>

#include <stdexcept>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/common/log.hpp"

namespace sbc::b2bua {

namespace {
constexpr log::logger sip_log{"sip"};

bool is_unspecified(const std::string& ip) { return ip == "0.0.0.0" || ip == "::"; }

std::string listen_url(const config::listen_uri& l) {
    return fmt::format("sip:{}:{};transport={}", uri_host(l.host), l.port,
                       transport_param(l.proto));
}
}  // namespace

std::string uri_host(const std::string& ip) {
    return ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
}

const char* transport_param(config::transport t) noexcept {
    return t == config::transport::tcp ? "tcp" : "udp";
}

sip_interface::sip_interface(su_root_t* root, const config::interface_config& cfg, b2bua& owner)
    : _cfg(cfg), _owner(owner) {
    if (cfg.listen.empty()) {
        throw std::runtime_error(fmt::format("interface {}: no listener", cfg.name));
    }
    auto first = listen_url(cfg.listen.front());
    // NTATAG_UA: nta acts as a user agent core, retransmitting our 2xx until
    // the ACK and handing that ACK to the bound transaction (RFC 3261 13.3.1.4).
    // NTATAG_CANCEL_487(0): the call answers a cancelled INVITE itself, after
    // it has cancelled the other leg.
    _agent = nta_agent_create(root, URL_STRING_MAKE(first.c_str()), nullptr, nullptr, NTATAG_UA(1),
                              NTATAG_CANCEL_487(0), NTATAG_EXTRA_100(0), NTATAG_SERVER_RPORT(1),
                              NTATAG_CLIENT_RPORT(1), TAG_END());
    if (_agent == nullptr) {
        throw std::runtime_error(fmt::format("interface {}: cannot listen on {}", cfg.name, first));
    }
    for (size_t i = 1; i < cfg.listen.size(); ++i) {
        auto url = listen_url(cfg.listen[i]);
        if (nta_agent_add_tport(_agent, URL_STRING_MAKE(url.c_str()), TAG_END()) < 0) {
            nta_agent_destroy(_agent);
            throw std::runtime_error(
                fmt::format("interface {}: cannot listen on {}", cfg.name, url));
        }
    }
    _default_leg =
        nta_leg_tcreate(_agent, sofia::leg_trampoline, this, NTATAG_NO_DIALOG(1), TAG_END());
    if (_default_leg == nullptr) {
        nta_agent_destroy(_agent);
        throw std::runtime_error(fmt::format("interface {}: cannot create default leg", cfg.name));
    }
    for (const auto& l : cfg.listen) {
        sip_log.info("interface {} listening on {}", cfg.name, listen_url(l));
    }
}

sip_interface::~sip_interface() {
    nta_leg_destroy(_default_leg);
    nta_agent_destroy(_agent);
}

const config::listen_uri& sip_interface::listener_for(config::transport t) const {
    for (const auto& l : _cfg.listen) {
        if (l.proto == t) {
            return l;
        }
    }
    return _cfg.listen.front();
}

std::string sip_interface::host() const {
    const auto& l = _cfg.listen.front();
    return uri_host(is_unspecified(l.host) ? _cfg.media_address : l.host);
}

std::string sip_interface::host_port(config::transport t) const {
    const auto& l = listener_for(t);
    auto h = is_unspecified(l.host) ? _cfg.media_address : l.host;
    return fmt::format("sip:{}:{}", uri_host(h), l.port);
}

std::string sip_interface::contact(config::transport t) const {
    const auto& l = listener_for(t);
    if (l.proto == config::transport::tcp) {
        return fmt::format("<{};transport=tcp>", host_port(t));
    }
    return fmt::format("<{}>", host_port(t));
}

int sip_interface::on_request(nta_leg_t*, nta_incoming_t* irq, const sip_t* sip) {
    return _owner.on_out_of_dialog_request(*this, irq, sip);
}

}  // namespace sbc::b2bua
