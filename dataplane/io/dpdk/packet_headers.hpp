// Ethernet/IPv4/IPv6/UDP as the dpdk backend reads and writes them: which
// frames are UDP datagrams the relay may want (classify), and the headers a
// relayed datagram leaves with (write_headers), checksums included.
//
// Pure functions over bytes: no DPDK type appears, so the unit tests run
// them without an EAL, and the worker calls them on mbuf data. Nothing here
// allocates; everything is noexcept.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "dataplane/api/ip_endpoint.hpp"

namespace sbc::dataplane::dpdk {

using mac_address = std::array<std::uint8_t, 6>;

inline constexpr std::size_t ethernet_header_length = 14;
inline constexpr std::size_t ipv4_header_length = 20;  ///< without options
inline constexpr std::size_t ipv6_header_length = 40;
inline constexpr std::size_t udp_header_length = 8;

/// A UDP datagram found in a frame.
struct udp_datagram {
    ip_endpoint source;
    ip_endpoint destination;
    std::size_t payload_offset = 0;  ///< from the start of the frame
    std::size_t payload_length = 0;  ///< from the UDP length field
};

/// The UDP datagram of an untagged Ethernet frame carrying IPv4 (options
/// allowed, not a fragment) or IPv6 (UDP as the first next header), whose
/// lengths agree with the frame's. nullopt for everything else: ARP,
/// ICMP, TCP, VLAN tags, fragments, IPv6 extension headers, truncated or
/// inconsistent frames; the caller hands those to the kernel.
bool classify(const std::uint8_t* frame, std::size_t length, udp_datagram& out) noexcept;

/// The same, returning the datagram (tests, diagnostics). The hot path
/// uses the form above on a datagram it keeps, which spares initialising
/// two endpoints per frame.
std::optional<udp_datagram> classify(const std::uint8_t* frame, std::size_t length) noexcept;

/// Octets of Ethernet + IP + UDP headers for a datagram from `family`.
constexpr std::size_t header_length(int family) noexcept {
    return ethernet_header_length + (family == AF_INET6 ? ipv6_header_length : ipv4_header_length) +
           udp_header_length;
}

/// Writes Ethernet, IP and UDP headers at `frame` for a datagram of
/// `payload_length` octets that follows them at frame + header_length():
/// TTL/hop limit 64, DF set and ID 0 on IPv4 (RFC 6864 4.1 allows it for
/// atomic datagrams), the IPv4 header checksum and the UDP checksum
/// (computed over the payload, which must be in place; mandatory on IPv6,
/// RFC 8200 8.1). `source` and `destination` must be of the same family.
/// `payload_sum`, when given, is the payload's ones'-complement sum
/// (payload_sum_from_checksum), which spares reading the payload again.
///
/// With `checksums` device, the device computes them on transmission (tx
/// checksum offload): the IPv4 header checksum is left 0 and the UDP
/// checksum field holds the folded pseudo-header sum, not inverted, which
/// is where the device's sum over the UDP header and payload starts (as
/// rte_ipv4_phdr_cksum/rte_ipv6_phdr_cksum give it); `payload_sum` is unused.
enum class checksums : std::uint8_t { software, device };
void write_headers(std::uint8_t* frame, const mac_address& source_mac,
                   const mac_address& destination_mac, const ip_endpoint& source,
                   const ip_endpoint& destination, std::size_t payload_length,
                   std::optional<std::uint16_t> payload_sum = std::nullopt,
                   checksums by = checksums::software) noexcept;

/// The ones'-complement sum of a received datagram's payload, taken from
/// its UDP checksum by removing the pseudo-header's and the UDP header's
/// share (RFC 1624 3), without reading the payload; nullopt when the
/// datagram carries no checksum (IPv4, checksum 0). A relayed payload that
/// is unchanged keeps this sum, so its new checksum costs a few additions.
std::optional<std::uint16_t> payload_sum_from_checksum(const std::uint8_t* frame,
                                                       const udp_datagram& d) noexcept;

/// RFC 1071 ones'-complement sum of `length` octets, folded, not inverted,
/// added to `initial`.
std::uint16_t ones_complement_sum(const std::uint8_t* data, std::size_t length,
                                  std::uint32_t initial = 0) noexcept;

/// True when the frame's IPv4 header checksum (if IPv4) and UDP checksum
/// (if non-zero, or always on IPv6) verify: for tests and diagnostics.
bool checksums_valid(const std::uint8_t* frame, std::size_t length) noexcept;

}  // namespace sbc::dataplane::dpdk
