#include "tests/support/loopback_agent.hpp"

#include <fmt/format.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/tport.h>

#include <cstdlib>
#include <stdexcept>

namespace sbc::test {

loopback_agent::loopback_agent(su_root_t* root, bool cancel_487, std::string host,
                               std::string transport)
    : _host(std::move(host)), _transport(std::move(transport)) {
    const auto url = fmt::format("sip:{}:0;transport={}", _host, _transport);
    _agent = nta_agent_create(root, URL_STRING_MAKE(url.c_str()), sofia::agent_trampoline, this,
                              NTATAG_UA(1), NTATAG_CANCEL_487(cancel_487), NTATAG_EXTRA_100(0),
                              TAG_END());
    if (_agent == nullptr) {
        throw std::runtime_error("cannot create an nta agent on " + _host);
    }
    // The bound port is in the primary transport's name, not in the URL
    // nta was given (RFC 3261 18: the port is the socket's).
    const tp_name_t* name = tport_name(tport_primaries(nta_agent_tports(_agent)));
    if (name == nullptr || name->tpn_port == nullptr) {
        nta_agent_destroy(_agent);
        throw std::runtime_error("cannot read the agent's port back");
    }
    _port = static_cast<std::uint16_t>(std::strtoul(name->tpn_port, nullptr, 10));
}

loopback_agent::~loopback_agent() { nta_agent_destroy(_agent); }

std::string loopback_agent::host_port() const { return fmt::format("{}:{}", _host, _port); }

std::string loopback_agent::uri(const std::string& user) const {
    const auto param = _transport == "udp" ? std::string() : ";transport=" + _transport;
    return user.empty() ? fmt::format("sip:{}{}", host_port(), param)
                        : fmt::format("sip:{}@{}{}", user, host_port(), param);
}

namespace {
std::size_t stat(nta_agent_t* agent, tag_type_t tag) {
    usize_t n = 0;
    nta_agent_get_stats(agent, tag, tag_usize_vr(&n), TAG_END());
    return n;
}
}  // namespace

std::size_t loopback_agent::sent_responses() const {
    return stat(_agent, ntatag_s_sent_response_ref);
}
std::size_t loopback_agent::received_responses() const {
    return stat(_agent, ntatag_s_recv_response_ref);
}
std::size_t loopback_agent::received_requests() const {
    return stat(_agent, ntatag_s_recv_request_ref);
}

int loopback_agent::on_stray_message(nta_agent_t*, msg_t* msg, sip_t* sip) {
    if (_on_stray) {
        _on_stray(msg, sip);
    } else {
        nta_msg_discard(_agent, msg);
    }
    return 0;
}

}  // namespace sbc::test
