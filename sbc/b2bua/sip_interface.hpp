// One signaling interface: a sofia-sip nta agent bound to the interface's
// listeners (DESIGN.md: one agent per interface, all on the shared su_root).
//
// Every request that belongs to no transaction or dialog of ours reaches the
// agent's message callback before nta keeps any state for it, and goes to the
// b2bua, which screens it (allowed sources, flood guard, peers) and refuses
// or drops what fails statelessly; only what passes gets a server transaction. Via and Contact of
// everything sent on this interface name only this interface's own addresses.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sbc/config/config.hpp"
#include "sbc/sofia/nta.hpp"
#include "sbc/tls/interface_tls.hpp"

namespace sbc::b2bua {

class b2bua;

class sip_interface final : public sofia::agent_handler {
public:
    /// Binds every listener of `cfg`. Throws std::runtime_error naming the
    /// listener that could not be bound, or the TLS file that could not be
    /// used. `owner` and `cfg` outlive this object. `peers` tells the TLS
    /// layer which trunk a remote address belongs to.
    sip_interface(su_root_t* root, const config::interface_config& cfg, b2bua& owner,
                  tls::peer_lookup peers);
    ~sip_interface();
    sip_interface(const sip_interface&) = delete;
    sip_interface& operator=(const sip_interface&) = delete;

    const std::string& name() const noexcept { return _cfg.name; }
    const config::interface_config& cfg() const noexcept { return _cfg; }
    nta_agent_t* agent() const noexcept { return _agent; }
    /// The TLS policy of this interface; null without a tls section.
    tls::interface_tls* tls() const noexcept { return _tls.get(); }
    /// Why a transport failure nta reported for a request to `host` (an
    /// internal 503) happened, when it was a TLS handshake with that peer
    /// that failed at or after `since`: "TLS: certificate ... carries none of
    /// trunk carrier's identities (carrier.test)". Empty otherwise.
    std::string tls_failure(const std::string& host,
                            std::chrono::steady_clock::time_point since) const;

    /// The port the listener of transport `t` (or the first one) is bound
    /// to: the configured one, or the one the kernel chose for port 0.
    std::uint16_t bound_port(config::transport t) const;
    /// The Contact URI of this interface for a dialog over `t`, e.g.
    /// "<sip:127.0.1.1:5060;transport=tcp>"; `by_name`: with the
    /// interface's fqdn for the host, when it has one (a trunk's use_fqdn).
    std::string contact(config::transport t, bool by_name = false) const;
    /// The top Via the SBC's requests over `t` carry towards a trunk with
    /// use_fqdn ("SIP/2.0/TLS sbc.example.com:5061", the listener's port):
    /// the sent-by names the SBC as its Contact does (issue 21; RFC 3261
    /// 18.2.2 sends the responses to the address they came from whatever
    /// the name says, as `received` and `rport` record it). Empty without
    /// `by_name` or an fqdn: nta's own Via, with the address.
    std::string via(config::transport t, bool by_name) const;
    /// "sip:HOST:PORT" of the listener of transport `t` (or of the first
    /// one): its address, or with `by_name` the fqdn when there is one.
    std::string host_port(config::transport t, bool by_name = false) const;
    /// Just the host, as it goes into From and To URIs of this side.
    std::string host(bool by_name = false) const;

    int on_stray_message(nta_agent_t* agent, msg_t* msg, sip_t* sip) override;
    /// UDP datagrams the kernel dropped on this interface's SIP sockets,
    /// almost all of them from outside allow_sources (source_filter.hpp).
    std::uint64_t filtered_drops() const;

private:
    const config::listen_uri& listener_for(config::transport t) const;
    void bind_listeners(su_root_t* root);
    /// Makes the TLS transports report a failed handshake to the requests
    /// waiting for it (see the .cpp).
    void report_tls_failures();
    /// Reads back the ports nta bound listeners of port 0 to.
    void read_bound_ports();

    const config::interface_config& _cfg;
    std::unique_ptr<tls::interface_tls> _tls;  // before _agent: sofia's contexts call into it
    b2bua& _owner;
    nta_agent_t* _agent = nullptr;
    std::vector<int> _filtered;  ///< sofia's UDP sockets carrying our source filter
    /// The listeners as bound: cfg().listen with every port 0 replaced by the
    /// kernel's choice (in-process tests); Via, Contact and From use these.
    std::vector<config::listen_uri> _bound;
};

/// "sip:" URI host form: IPv6 literals in brackets.
std::string uri_host(const std::string& ip);
const char* transport_param(config::transport t) noexcept;

}  // namespace sbc::b2bua
