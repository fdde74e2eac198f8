#include "sbc/capture/hep_encoder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace sbc::capture {

namespace {

constexpr std::string_view hep_magic = "HEP3";
constexpr std::size_t header_size = 6;   // "HEP3" and the total length
constexpr std::size_t chunk_header = 6;  // vendor, type, length (itself included)

// The generic chunk types (vendor 0x0000) of the HEP3 specification, in a
// struct of their own so that their short names stay out of the namespace
// (a unity build puts the exporter beside them).
struct chunk {
    enum : std::uint16_t {
        ip_family = 0x01,
        ip_proto = 0x02,
        ipv4_src = 0x03,
        ipv4_dst = 0x04,
        ipv6_src = 0x05,
        ipv6_dst = 0x06,
        src_port = 0x07,
        dst_port = 0x08,
        time_sec = 0x09,
        time_usec = 0x0a,
        proto_type = 0x0b,
        capture_id = 0x0c,
        auth_key = 0x0e,
        payload = 0x0f,
        correlation = 0x11,
        last_known = correlation,
    };
};

// The family byte of chunk 1: Linux's AF_ values, which the specification
// took (0x02 IPv4, 0x0a IPv6) whatever the sender's own AF_ values are.
constexpr std::uint8_t hep_af_inet = 0x02;
constexpr std::uint8_t hep_af_inet6 = 0x0a;

void put16(std::string& out, std::uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
}

void put32(std::string& out, std::uint32_t v) {
    put16(out, static_cast<std::uint16_t>(v >> 16));
    put16(out, static_cast<std::uint16_t>(v & 0xffff));
}

void put_chunk_header(std::string& out, std::uint16_t type, std::size_t value_size) {
    put16(out, 0);  // vendor: generic
    put16(out, type);
    put16(out, static_cast<std::uint16_t>(chunk_header + value_size));
}

void put_chunk(std::string& out, std::uint16_t type, std::string_view value) {
    put_chunk_header(out, type, value.size());
    out.append(value);
}

void put_chunk8(std::string& out, std::uint16_t type, std::uint8_t v) {
    put_chunk_header(out, type, 1);
    out.push_back(static_cast<char>(v));
}

void put_chunk16(std::string& out, std::uint16_t type, std::uint16_t v) {
    put_chunk_header(out, type, 2);
    put16(out, v);
}

void put_chunk32(std::string& out, std::uint16_t type, std::uint32_t v) {
    put_chunk_header(out, type, 4);
    put32(out, v);
}

// The address bytes of an endpoint, in network order.
std::string_view address_bytes(const dataplane::ip_endpoint& e) {
    if (e.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(e.sockaddr_ptr());
        return {reinterpret_cast<const char*>(&sin->sin_addr), sizeof sin->sin_addr};
    }
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(e.sockaddr_ptr());
    return {reinterpret_cast<const char*>(&sin6->sin6_addr), sizeof sin6->sin6_addr};
}

std::uint16_t get16(const unsigned char* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t get32(const unsigned char* p) {
    return (std::uint32_t{get16(p)} << 16) | get16(p + 2);
}

}  // namespace

std::size_t hep_encoded_size(const hep_record& r) noexcept {
    const int family = r.src.family();
    if ((family != AF_INET && family != AF_INET6) || r.dst.family() != family) {
        return 0;
    }
    const std::size_t address = family == AF_INET ? 4 : 16;
    std::size_t size = header_size;
    size += 2 * (chunk_header + 1);        // family, IP protocol
    size += 2 * (chunk_header + address);  // source and destination address
    size += 2 * (chunk_header + 2);        // ports
    size += 2 * (chunk_header + 4);        // seconds, microseconds
    size += chunk_header + 1;              // protocol type
    size += chunk_header + 4;              // capture agent ID
    if (!r.password.empty()) {
        size += chunk_header + r.password.size();
    }
    if (!r.correlation_id.empty()) {
        size += chunk_header + r.correlation_id.size();
    }
    size += chunk_header + r.payload.size();
    return size <= hep_max_packet ? size : 0;
}

bool encode_hep(const hep_record& r, std::string& out) {
    const std::size_t size = hep_encoded_size(r);
    if (size == 0) {
        return false;
    }
    const bool v4 = r.src.family() == AF_INET;
    // Before the Unix epoch is not a capture time: 0, which heplify-server
    // takes as "now".
    const std::int64_t us = r.wall_us > 0 ? r.wall_us : 0;
    out.reserve(out.size() + size);
    out.append(hep_magic);
    put16(out, static_cast<std::uint16_t>(size));
    put_chunk8(out, chunk::ip_family, v4 ? hep_af_inet : hep_af_inet6);
    put_chunk8(out, chunk::ip_proto, static_cast<std::uint8_t>(r.ip_protocol));
    put_chunk(out, v4 ? chunk::ipv4_src : chunk::ipv6_src, address_bytes(r.src));
    put_chunk(out, v4 ? chunk::ipv4_dst : chunk::ipv6_dst, address_bytes(r.dst));
    put_chunk16(out, chunk::src_port, r.src.port());
    put_chunk16(out, chunk::dst_port, r.dst.port());
    put_chunk32(out, chunk::time_sec, static_cast<std::uint32_t>(us / 1000000));
    put_chunk32(out, chunk::time_usec, static_cast<std::uint32_t>(us % 1000000));
    put_chunk8(out, chunk::proto_type, static_cast<std::uint8_t>(r.type));
    put_chunk32(out, chunk::capture_id, r.capture_id);
    if (!r.password.empty()) {
        put_chunk(out, chunk::auth_key, r.password);
    }
    if (!r.correlation_id.empty()) {
        put_chunk(out, chunk::correlation, r.correlation_id);
    }
    // The payload last, as captagent and Kamailio send it: some receivers
    // (the sipcapture Wireshark plugin) read the chunks after it as trailing
    // bytes of the payload.
    put_chunk(out, chunk::payload, r.payload);
    return true;
}

result<std::optional<std::size_t>> hep_frame_length(std::string_view stream) {
    if (stream.size() < header_size) {
        if (stream.substr(0, std::min(stream.size(), hep_magic.size())) !=
            hep_magic.substr(0, std::min(stream.size(), hep_magic.size()))) {
            return make_error("not a HEP3 packet: it does not begin with \"HEP3\"");
        }
        return std::optional<std::size_t>{};
    }
    if (stream.substr(0, hep_magic.size()) != hep_magic) {
        return make_error("not a HEP3 packet: it does not begin with \"HEP3\"");
    }
    const auto length = get16(reinterpret_cast<const unsigned char*>(stream.data()) + 4);
    if (length < header_size) {
        return make_error("HEP3 length " + std::to_string(length) + " is shorter than its header");
    }
    return std::optional<std::size_t>{length};
}

result<hep_packet> decode_hep(std::string_view packet) {
    auto framed = hep_frame_length(packet);
    if (!framed) {
        return make_error(framed.error_message());
    }
    if (!*framed) {
        return make_error("truncated HEP3 packet: " + std::to_string(packet.size()) +
                          " bytes, less than its 6-byte header");
    }
    if (**framed != packet.size()) {
        return make_error("HEP3 length field says " + std::to_string(**framed) +
                          " bytes, the packet has " + std::to_string(packet.size()));
    }
    hep_packet h;
    std::array<bool, chunk::last_known + 1> seen{};
    std::string_view src_addr, dst_addr;
    std::uint16_t sport = 0, dport = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(packet.data());
    std::size_t at = header_size;
    while (at < packet.size()) {
        if (packet.size() - at < chunk_header) {
            return make_error("truncated chunk header at offset " + std::to_string(at));
        }
        const std::uint16_t vendor = get16(p + at);
        const std::uint16_t type = get16(p + at + 2);
        const std::uint16_t length = get16(p + at + 4);
        if (length < chunk_header || length > packet.size() - at) {
            return make_error("chunk " + std::to_string(type) + " at offset " + std::to_string(at) +
                              " has length " + std::to_string(length) + ", outside the packet");
        }
        const std::string_view value = packet.substr(at + chunk_header, length - chunk_header);
        const auto* v = p + at + chunk_header;
        at += length;
        if (vendor != 0 || type > chunk::last_known) {
            continue;  // another vendor's, or one this decoder has no use for
        }
        std::size_t want = 0;
        switch (type) {
            case chunk::ip_family:
            case chunk::ip_proto:
            case chunk::proto_type:
                want = 1;
                break;
            case chunk::src_port:
            case chunk::dst_port:
                want = 2;
                break;
            case chunk::ipv4_src:
            case chunk::ipv4_dst:
            case chunk::time_sec:
            case chunk::time_usec:
            case chunk::capture_id:
                want = 4;
                break;
            case chunk::ipv6_src:
            case chunk::ipv6_dst:
                want = 16;
                break;
            case chunk::auth_key:
            case chunk::payload:
            case chunk::correlation:
                break;
            default:
                continue;  // generic chunks without a use here (VLAN, node name, ...)
        }
        if (want != 0 && value.size() != want) {
            return make_error("chunk " + std::to_string(type) + " has " +
                              std::to_string(value.size()) + " value bytes, expected " +
                              std::to_string(want));
        }
        if (seen[type]) {
            return make_error("chunk " + std::to_string(type) + " appears twice");
        }
        seen[type] = true;
        switch (type) {
            case chunk::ip_family:
                if (v[0] == hep_af_inet) {
                    h.family = AF_INET;
                } else if (v[0] == hep_af_inet6) {
                    h.family = AF_INET6;
                } else {
                    return make_error("IP family " + std::to_string(v[0]) +
                                      " is neither IPv4 (2) nor IPv6 (10)");
                }
                break;
            case chunk::ip_proto:
                h.ip_protocol = v[0];
                break;
            case chunk::ipv4_src:
            case chunk::ipv6_src:
                src_addr = value;
                break;
            case chunk::ipv4_dst:
            case chunk::ipv6_dst:
                dst_addr = value;
                break;
            case chunk::src_port:
                sport = get16(v);
                break;
            case chunk::dst_port:
                dport = get16(v);
                break;
            case chunk::time_sec:
                h.seconds = get32(v);
                break;
            case chunk::time_usec:
                h.microseconds = get32(v);
                break;
            case chunk::proto_type:
                h.proto_type = v[0];
                break;
            case chunk::capture_id:
                h.capture_id = get32(v);
                break;
            case chunk::auth_key:
                h.password = value;
                break;
            case chunk::payload:
                h.payload = value;
                break;
            case chunk::correlation:
                h.correlation_id = value;
                break;
            default:
                break;
        }
    }
    for (const std::uint16_t required :
         {chunk::ip_family, chunk::ip_proto, chunk::src_port, chunk::dst_port, chunk::time_sec,
          chunk::time_usec, chunk::proto_type, chunk::capture_id, chunk::payload}) {
        if (!seen[required]) {
            return make_error("chunk " + std::to_string(required) + " is missing");
        }
    }
    const bool v4 = h.family == AF_INET;
    const std::uint16_t want_src = v4 ? chunk::ipv4_src : chunk::ipv6_src;
    const std::uint16_t want_dst = v4 ? chunk::ipv4_dst : chunk::ipv6_dst;
    if (!seen[want_src] || !seen[want_dst] || seen[v4 ? chunk::ipv6_src : chunk::ipv4_src] ||
        seen[v4 ? chunk::ipv6_dst : chunk::ipv4_dst]) {
        return make_error(std::string("the addresses are not both ") + (v4 ? "IPv4" : "IPv6") +
                          ", the packet's family");
    }
    // The endpoints from the address bytes, through a socket address.
    const auto endpoint = [&](std::string_view bytes, std::uint16_t port) {
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (v4) {
            auto& sin = reinterpret_cast<sockaddr_in&>(ss);
            sin.sin_family = AF_INET;
            sin.sin_port = htons(port);
            std::memcpy(&sin.sin_addr, bytes.data(), sizeof sin.sin_addr);
            len = sizeof sin;
        } else {
            auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
            sin6.sin6_family = AF_INET6;
            sin6.sin6_port = htons(port);
            std::memcpy(&sin6.sin6_addr, bytes.data(), sizeof sin6.sin6_addr);
            len = sizeof sin6;
        }
        return dataplane::ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), len)
            .value_or(dataplane::ip_endpoint{});
    };
    h.src = endpoint(src_addr, sport);
    h.dst = endpoint(dst_addr, dport);
    return h;
}

}  // namespace sbc::capture
