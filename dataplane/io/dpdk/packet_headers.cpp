#include "dataplane/io/dpdk/packet_headers.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace sbc::dataplane::dpdk {

namespace {

constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_ipv6 = 0x86DD;
constexpr std::uint8_t protocol_udp = 17;

std::uint16_t load16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void store16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

void set_v4(ip_endpoint& ep, const std::uint8_t* address, std::uint16_t port) noexcept {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, address, 4);
    sin.sin_port = htons(port);
    std::memcpy(ep.sockaddr_buffer(), &sin, sizeof sin);
}

void set_v6(ip_endpoint& ep, const std::uint8_t* address, std::uint16_t port) noexcept {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, address, 16);
    sin6.sin6_port = htons(port);
    std::memcpy(ep.sockaddr_buffer(), &sin6, sizeof sin6);
}

const std::uint8_t* address_bytes(const ip_endpoint& ep) noexcept {
    const sockaddr* sa = ep.sockaddr_ptr();
    if (ep.family() == AF_INET6) {
        return reinterpret_cast<const std::uint8_t*>(
            &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
    }
    return reinterpret_cast<const std::uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
}

// RFC 768 / RFC 8200 8.1: the pseudo-header's share of the UDP checksum.
std::uint32_t pseudo_header_sum(const std::uint8_t* src, const std::uint8_t* dst,
                                std::size_t address_length, std::size_t udp_length) noexcept {
    std::uint32_t sum = ones_complement_sum(src, address_length);
    sum += ones_complement_sum(dst, address_length);
    sum += protocol_udp;
    sum += static_cast<std::uint32_t>(udp_length & 0xFFFF) +
           static_cast<std::uint32_t>(udp_length >> 16);
    return sum;
}

std::uint16_t udp_checksum(const std::uint8_t* src, const std::uint8_t* dst,
                           std::size_t address_length, const std::uint8_t* udp,
                           std::size_t udp_length) noexcept {
    auto sum = ones_complement_sum(udp, udp_length,
                                   pseudo_header_sum(src, dst, address_length, udp_length));
    auto c = static_cast<std::uint16_t>(~sum);
    return c == 0 ? 0xFFFF : c;  // RFC 768: a computed 0 is sent as all ones
}

}  // namespace

std::uint16_t ones_complement_sum(const std::uint8_t* data, std::size_t length,
                                  std::uint32_t initial) noexcept {
    // RFC 1071 2(B): the sum may be taken over wider words in either byte
    // order and folded at the end; 32-bit big-endian words into 64 bits
    // never overflow for a datagram.
    std::uint64_t sum = initial;
    std::size_t i = 0;
    for (; i + 4 <= length; i += 4) {
        std::uint32_t word;
        std::memcpy(&word, data + i, 4);
        sum += ntohl(word);
    }
    for (; i + 1 < length; i += 2) {
        sum += load16(data + i);
    }
    if (i < length) {
        sum += static_cast<std::uint32_t>(data[i]) << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(sum);
}

bool classify(const std::uint8_t* frame, std::size_t length, udp_datagram& d) noexcept {
    if (length < ethernet_header_length) {
        return false;
    }
    const std::uint16_t ethertype = load16(frame + 12);
    const std::uint8_t* ip = frame + ethernet_header_length;
    const std::size_t ip_room = length - ethernet_header_length;
    const std::uint8_t* udp = nullptr;
    std::size_t udp_room = 0;
    if (ethertype == ethertype_ipv4) {
        if (ip_room < ipv4_header_length || (ip[0] >> 4) != 4) {
            return false;
        }
        const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0F) * 4;
        const std::size_t total = load16(ip + 2);
        // A fragment (MF set or an offset) goes to the kernel, which reassembles.
        const bool fragment = (load16(ip + 6) & 0x3FFF) != 0;
        if (ihl < ipv4_header_length || total < ihl + udp_header_length || total > ip_room ||
            fragment || ip[9] != protocol_udp) {
            return false;
        }
        udp = ip + ihl;
        udp_room = total - ihl;
        d.payload_offset = ethernet_header_length + ihl + udp_header_length;
        set_v4(d.source, ip + 12, load16(udp));
        set_v4(d.destination, ip + 16, load16(udp + 2));
    } else if (ethertype == ethertype_ipv6) {
        if (ip_room < ipv6_header_length || (ip[0] >> 4) != 6 || ip[6] != protocol_udp) {
            return false;
        }
        const std::size_t payload = load16(ip + 4);
        if (payload < udp_header_length || payload > ip_room - ipv6_header_length) {
            return false;
        }
        udp = ip + ipv6_header_length;
        udp_room = payload;
        d.payload_offset = ethernet_header_length + ipv6_header_length + udp_header_length;
        set_v6(d.source, ip + 8, load16(udp));
        set_v6(d.destination, ip + 24, load16(udp + 2));
    } else {
        return false;
    }
    const std::size_t udp_length = load16(udp + 4);
    if (udp_length < udp_header_length || udp_length > udp_room) {
        return false;
    }
    d.payload_length = udp_length - udp_header_length;
    return true;
}

std::optional<udp_datagram> classify(const std::uint8_t* frame, std::size_t length) noexcept {
    udp_datagram d;
    if (!classify(frame, length, d)) {
        return std::nullopt;
    }
    return d;
}

void write_headers(std::uint8_t* frame, const mac_address& source_mac,
                   const mac_address& destination_mac, const ip_endpoint& source,
                   const ip_endpoint& destination, std::size_t payload_length,
                   std::optional<std::uint16_t> payload_sum, checksums by) noexcept {
    const bool v6 = source.family() == AF_INET6;
    std::memcpy(frame, destination_mac.data(), 6);
    std::memcpy(frame + 6, source_mac.data(), 6);
    store16(frame + 12, v6 ? ethertype_ipv6 : ethertype_ipv4);
    std::uint8_t* ip = frame + ethernet_header_length;
    const std::size_t udp_length = udp_header_length + payload_length;
    const std::size_t address_length = v6 ? 16 : 4;
    std::uint8_t* udp = nullptr;
    if (v6) {
        store16(ip, 0x6000);  // version 6, traffic class 0, flow label 0
        store16(ip + 2, 0);
        store16(ip + 4, static_cast<std::uint16_t>(udp_length));
        ip[6] = protocol_udp;
        ip[7] = 64;
        std::memcpy(ip + 8, address_bytes(source), 16);
        std::memcpy(ip + 24, address_bytes(destination), 16);
        udp = ip + ipv6_header_length;
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        store16(ip + 2, static_cast<std::uint16_t>(ipv4_header_length + udp_length));
        store16(ip + 4, 0);
        store16(ip + 6, 0x4000);  // DF
        ip[8] = 64;
        ip[9] = protocol_udp;
        store16(ip + 10, 0);
        std::memcpy(ip + 12, address_bytes(source), 4);
        std::memcpy(ip + 16, address_bytes(destination), 4);
        if (by == checksums::software) {
            store16(ip + 10,
                    static_cast<std::uint16_t>(~ones_complement_sum(ip, ipv4_header_length)));
        }
        udp = ip + ipv4_header_length;
    }
    store16(udp, source.port());
    store16(udp + 2, destination.port());
    store16(udp + 4, static_cast<std::uint16_t>(udp_length));
    store16(udp + 6, 0);
    if (by == checksums::device) {
        store16(udp + 6, ones_complement_sum(
                             nullptr, 0,
                             pseudo_header_sum(address_bytes(source), address_bytes(destination),
                                               address_length, udp_length)));
        return;
    }
    if (payload_sum) {
        std::uint32_t sum = pseudo_header_sum(address_bytes(source), address_bytes(destination),
                                              address_length, udp_length);
        sum += ones_complement_sum(udp, udp_header_length, *payload_sum);
        auto c = static_cast<std::uint16_t>(~ones_complement_sum(nullptr, 0, sum));
        store16(udp + 6, c == 0 ? 0xFFFF : c);
        return;
    }
    store16(udp + 6, udp_checksum(address_bytes(source), address_bytes(destination), address_length,
                                  udp, udp_length));
}

std::optional<std::uint16_t> payload_sum_from_checksum(const std::uint8_t* frame,
                                                       const udp_datagram& d) noexcept {
    const std::uint8_t* udp = frame + d.payload_offset - udp_header_length;
    const std::uint16_t checksum = load16(udp + 6);
    const bool v6 = d.source.family() == AF_INET6;
    if (checksum == 0 && !v6) {
        return std::nullopt;
    }
    const std::size_t udp_length = d.payload_length + udp_header_length;
    const std::uint8_t* ip = frame + ethernet_header_length;
    const std::uint8_t* src = v6 ? ip + 8 : ip + 12;
    const std::uint8_t* dst = v6 ? ip + 24 : ip + 16;
    // ~checksum = pseudo + header (checksum field 0) + payload, so the
    // payload's share is ~checksum + ~pseudo + ~header (RFC 1624 3).
    const std::uint16_t others =
        ones_complement_sum(udp, 6, pseudo_header_sum(src, dst, v6 ? 16 : 4, udp_length));
    std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
    sum += static_cast<std::uint16_t>(~others);
    return ones_complement_sum(nullptr, 0, sum);
}

bool checksums_valid(const std::uint8_t* frame, std::size_t length) noexcept {
    auto d = classify(frame, length);
    if (!d) {
        return false;
    }
    const std::uint8_t* ip = frame + ethernet_header_length;
    const bool v6 = d->source.family() == AF_INET6;
    const std::size_t udp_length = d->payload_length + udp_header_length;
    const std::uint8_t* udp = frame + d->payload_offset - udp_header_length;
    if (!v6 && ones_complement_sum(ip, static_cast<std::size_t>(ip[0] & 0x0F) * 4) != 0xFFFF) {
        return false;
    }
    if (!v6 && load16(udp + 6) == 0) {
        return true;  // RFC 768: no checksum
    }
    const std::size_t address_length = v6 ? 16 : 4;
    const std::uint8_t* src = v6 ? ip + 8 : ip + 12;
    const std::uint8_t* dst = v6 ? ip + 24 : ip + 16;
    return ones_complement_sum(udp, udp_length,
                               pseudo_header_sum(src, dst, address_length, udp_length)) == 0xFFFF;
}

}  // namespace sbc::dataplane::dpdk
