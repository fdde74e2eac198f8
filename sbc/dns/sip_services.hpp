// The pure steps of RFC 3263 4.1 and RFC 2782 that need no network: which
// SRV names to ask for (from NAPTR records, for an explicit transport, or
// the default list), how an SRV RRset is ordered, and the canonical order
// of the final targets. sip_lookup runs the queries around them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "sbc/dns/dns_client.hpp"
#include "sbc/dns/target.hpp"

namespace sbc::dns {

/// The transports a lookup may return (RFC 3263 4.1: a client discards
/// the NAPTR services of transports it does not support).
class transport_set {
public:
    constexpr transport_set() noexcept = default;
    static constexpr transport_set all() noexcept { return transport_set(7); }
    static constexpr transport_set of(std::initializer_list<transport> ts) noexcept {
        unsigned bits = 0;
        for (auto t : ts) {
            bits |= 1U << static_cast<unsigned>(t);
        }
        return transport_set(bits);
    }
    constexpr bool has(transport t) const noexcept {
        return (_bits & (1U << static_cast<unsigned>(t))) != 0;
    }
    constexpr bool empty() const noexcept { return _bits == 0; }
    /// This set with `t` in it too.
    constexpr transport_set with(transport t) const noexcept {
        return transport_set(_bits | (1U << static_cast<unsigned>(t)));
    }

private:
    constexpr explicit transport_set(unsigned bits) noexcept : _bits(bits) {}
    unsigned _bits = 0;
};

/// An SRV name to ask for, the transport its targets take, and its rank
/// (0 first) among the services of one lookup.
struct srv_service {
    std::string name;  ///< "_sips._tcp.example.com"
    transport proto = transport::udp;
    std::uint16_t rank = 0;

    bool operator==(const srv_service&) const = default;
};

/// RFC 3263 4.1: the NAPTR records a client uses, in order (Order, then
/// Preference, RFC 3403 4.1): flag "S", no regular expression, a
/// replacement, and a service of a transport in `allowed` — SIP+D2U
/// (UDP), SIP+D2T (TCP), SIPS+D2T (TLS); for a sips: URI only SIPS+D2T.
/// Duplicates are dropped; at most six services are kept.
std::vector<srv_service> services_from_naptr(const std::vector<naptr_record>& records, bool sips,
                                             transport_set allowed);

/// RFC 3263 4.1, no NAPTR records: _sip._udp, _sip._tcp and _sips._tcp
/// (only _sips._tcp for a sips: URI), those in `allowed`, in that order.
std::vector<srv_service> default_services(const std::string& host, bool sips,
                                          transport_set allowed);

/// RFC 3263 4.2, an explicit transport: the one SRV name for it (_sips for
/// TLS, whatever the URI's scheme).
srv_service service_for(const std::string& host, transport proto);

/// RFC 2782 order of one RRset: priority ascending; within a priority the
/// records with a weight before those of weight 0 (which RFC 2782 gives "a
/// very small chance" next to them), heavier first; then by target and
/// port, so a server that rotates its RRsets changes nothing.
void order_srv(std::vector<srv_record>& records);

/// The canonical order of a lookup's targets: priority ascending, then as
/// order_srv() within it, then IPv4 before IPv6 and by address; targets
/// with the same address, port and transport as an earlier one are dropped.
void order_targets(std::vector<target>& targets);

}  // namespace sbc::dns
