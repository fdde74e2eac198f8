// An nta agent for tests, on a loopback address (127.0.0.1 unless told) over
// UDP (or TCP) with a port the kernel chose, so
// tests never collide on fixed ports and can run in parallel.
//
// NTATAG_UA(1) as the SBC's own agents: nta retransmits a 2xx until its ACK
// and hands that ACK to the INVITE's server transaction (RFC 3261 13.3.1.4).
// Messages that match no transaction and no leg (stray responses, requests
// when no default leg was made) go to `on_stray`, or are discarded.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sbc/sofia/nta.hpp"

namespace sbc::test {

class loopback_agent final : public sofia::agent_handler {
public:
    using stray_callback = std::function<void(msg_t* msg, sip_t* sip)>;

    /// `cancel_487`: whether nta answers a cancelled INVITE with 487 itself
    /// (NTATAG_CANCEL_487); the SBC's agents leave that to the call.
    /// `host`: another loopback address (127.0.0.9) for a test that needs
    /// a source the SBC does not know. `transport`: "udp", or "tcp" for an
    /// agent that listens and sends on TCP only. Throws std::runtime_error
    /// when nta cannot bind.
    explicit loopback_agent(su_root_t* root, bool cancel_487 = true, std::string host = "127.0.0.1",
                            std::string transport = "udp");
    ~loopback_agent();
    loopback_agent(const loopback_agent&) = delete;
    loopback_agent& operator=(const loopback_agent&) = delete;

    nta_agent_t* get() const noexcept { return _agent; }
    /// The port the kernel gave the listening socket.
    std::uint16_t port() const noexcept { return _port; }
    const std::string& host() const noexcept { return _host; }
    /// "HOST:PORT".
    std::string host_port() const;
    /// "sip:USER@HOST:PORT", or without "USER@" when `user` is empty;
    /// with ";transport=tcp" on TCP.
    std::string uri(const std::string& user = {}) const;
    const std::string& transport() const noexcept { return _transport; }

    /// Takes every stray message from now on; the callback owns `msg`.
    void on_stray(stray_callback cb) { _on_stray = std::move(cb); }
    /// Responses and requests nta sent and received so far (nta's counters).
    std::size_t sent_responses() const;
    std::size_t received_responses() const;
    std::size_t received_requests() const;

    int on_stray_message(nta_agent_t* agent, msg_t* msg, sip_t* sip) override;

private:
    std::string _host;
    std::string _transport;
    nta_agent_t* _agent = nullptr;
    std::uint16_t _port = 0;
    stray_callback _on_stray;
};

}  // namespace sbc::test
