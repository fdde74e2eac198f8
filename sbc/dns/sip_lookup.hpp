// One resolution of a SIP peer's name by RFC 3263 4 (client procedure):
// NAPTR -> SRV -> A/AAAA, or SRV directly for an explicit transport, or
// A/AAAA alone for an explicit port; an IP literal resolves to itself.
// Every query goes through the dns_client, on the loop; the lookup never
// blocks and reports once.
//
// A query that could not be answered (timeout, SERVFAIL, no server) fails
// the whole lookup, so that a partial answer never stands in for a complete
// one (the name_watch keeps the last complete answer instead). NAPTR is the
// exception: a server that answers NAPTR queries with SERVFAIL or NOTIMP is
// treated as having no NAPTR records (RFC 3263 4.1 then asks for SRV),
// since such servers are common and the SRV records are what matter.
//
// Object graph: the lookup owns its outstanding queries (dns_client::query
// handles, cancelled with it) and points at the dns_client, which must
// outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/dns/dns_client.hpp"
#include "sbc/dns/loop_timer.hpp"
#include "sbc/dns/peer_name.hpp"
#include "sbc/dns/sip_services.hpp"
#include "sbc/dns/target.hpp"

namespace sbc::dns {

class sip_lookup {
public:
    /// The targets (never empty), or why there are none: "SRV
    /// _sip._udp.example.com: timeout", "example.com: NXDOMAIN".
    using done_fn = std::function<void(result<resolution>)>;

    /// Starts resolving `name` at once; `done` runs once, on the loop and
    /// never inside this constructor, unless the lookup is destroyed first.
    /// `allowed`: the transports the caller can use (RFC 3263 4.1).
    sip_lookup(dns_client& dns, peer_name name, transport_set allowed, done_fn done);
    ~sip_lookup();
    sip_lookup(const sip_lookup&) = delete;
    sip_lookup& operator=(const sip_lookup&) = delete;

    bool finished() const noexcept { return !_done; }
    const peer_name& name() const noexcept { return _name; }

private:
    struct srv_step {
        srv_service service;
        dns_client::query query;
        std::optional<dns_answer> answer;
    };
    /// The addresses of one host: its A and AAAA queries, and where they
    /// lead (port, transport, priority and weight of each SRV record, or
    /// of the URI, that named the host).
    struct host_step {
        struct use {
            std::uint16_t port;
            transport proto;
            std::uint32_t priority;
            std::uint16_t weight;
        };
        std::vector<use> uses;
        dns_client::query a, aaaa;
        std::optional<dns_answer> a_answer, aaaa_answer;
    };

    void ask_naptr();
    void on_naptr(dns_answer answer);
    void ask_srv(std::vector<srv_service> services);
    void on_srv(std::size_t index, dns_answer answer);
    void ask_addresses(const std::string& host, host_step::use use);
    void ask_host_addresses();
    void on_address(const std::string& host, record_type type, dns_answer answer);
    void assemble();
    void note_ttl(std::uint32_t ttl) noexcept;
    void finish(result<resolution> r);

    dns_client* _dns;
    peer_name _name;
    transport_set _allowed;
    done_fn _done;
    loop_timer _later;  ///< delivers what needs no query (an IP literal) a turn later
    std::optional<dns_client::query> _naptr;
    std::vector<srv_step> _srv;
    std::size_t _srv_pending = 0;
    transport _fallback = transport::udp;  ///< the transport if no SRV record exists
    std::map<std::string, host_step> _hosts;
    std::size_t _host_pending = 0;
    std::uint32_t _ttl = UINT32_MAX;
};

/// The answer for an IP literal (RFC 3263 4.2: the address itself, the
/// URI's port or the transport's default): one target, no expiry.
resolution literal_resolution(const peer_name& name);

}  // namespace sbc::dns
