#include "tools/sbcctl/sip_pcap.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/sdp/sdes.hpp"

namespace sbc::ctl {
namespace {

// pcapng (draft-ietf-opsawg-pcapng): block types and the byte-order magic.
constexpr std::uint32_t section_header_block = 0x0A0D0D0A;
constexpr std::uint32_t interface_description_block = 1;
constexpr std::uint32_t enhanced_packet_block = 6;
constexpr std::uint32_t byte_order_magic = 0x1A2B3C4D;
constexpr std::uint16_t linktype_exported_pdu = 252;

// Wireshark's exported_pdu.h: tags, and its port types (stable values,
// independent of Wireshark's internal enum since 3.0).
constexpr std::uint16_t tag_end = 0;
constexpr std::uint16_t tag_dissector_name = 12;
constexpr std::uint16_t tag_ipv4_src = 20;
constexpr std::uint16_t tag_ipv4_dst = 21;
constexpr std::uint16_t tag_ipv6_src = 22;
constexpr std::uint16_t tag_ipv6_dst = 23;
constexpr std::uint16_t tag_port_type = 24;
constexpr std::uint16_t tag_src_port = 25;
constexpr std::uint16_t tag_dst_port = 26;
constexpr std::uint32_t port_type_tcp = 2;
constexpr std::uint32_t port_type_udp = 3;

// pcapng blocks are in the writer's byte order (the magic tells readers
// which); exported PDU tags are big-endian.
void put32(std::string& out, std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void put16(std::string& out, std::uint16_t v) { out.append(reinterpret_cast<const char*>(&v), 2); }
void put16be(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
}
void put32be(std::string& out, std::uint32_t v) {
    put16be(out, static_cast<std::uint16_t>(v >> 16));
    put16be(out, static_cast<std::uint16_t>(v & 0xffff));
}
void pad4(std::string& out) {
    while (out.size() % 4 != 0) {
        out += '\0';
    }
}

void block(std::string& out, std::uint32_t type, const std::string& body) {
    const auto total = static_cast<std::uint32_t>(12 + body.size());
    put32(out, type);
    put32(out, total);
    out += body;
    put32(out, total);
}

void tag(std::string& out, std::uint16_t t, std::string_view value) {
    put16be(out, t);
    put16be(out, static_cast<std::uint16_t>(value.size()));
    out.append(value);
}

void tag32(std::string& out, std::uint16_t t, std::uint32_t v) {
    std::string value;
    put32be(value, v);
    tag(out, t, value);
}

std::optional<dataplane::ip_endpoint> endpoint_of(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    auto host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    for (char c : text.substr(colon + 1)) {
        if (c < '0' || c > '9' || port > 65535) {
            return std::nullopt;
        }
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port > 65535) {
        return std::nullopt;
    }
    return dataplane::ip_endpoint::from_string(host, static_cast<std::uint16_t>(port));
}

void address_tag(std::string& out, const dataplane::ip_endpoint& e, bool source) {
    const auto* sa = e.sockaddr_ptr();
    if (sa->sa_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        tag(out, source ? tag_ipv6_src : tag_ipv6_dst,
            std::string_view(reinterpret_cast<const char*>(&in6->sin6_addr), 16));
    } else {
        const auto* in4 = reinterpret_cast<const sockaddr_in*>(sa);
        tag(out, source ? tag_ipv4_src : tag_ipv4_dst,
            std::string_view(reinterpret_cast<const char*>(&in4->sin_addr), 4));
    }
}

std::string text_field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

result<std::string> sip_pcapng(const nlohmann::json& capture) {
    std::string out;
    {
        std::string shb;
        put32(shb, byte_order_magic);
        put16(shb, 1);  // version 1.0
        put16(shb, 0);
        put32(shb, 0xffffffff);  // section length: not given
        put32(shb, 0xffffffff);
        block(out, section_header_block, shb);
        std::string idb;
        put16(idb, linktype_exported_pdu);
        put16(idb, 0);
        put32(idb, 0);                                 // no snapshot length limit
        block(out, interface_description_block, idb);  // timestamps in µs (the default)
    }
    auto messages = capture.find("messages");
    if (messages == capture.end() || !messages->is_array()) {
        return make_error("sbcd's answer has no messages");
    }
    for (const auto& m : *messages) {
        const auto seq = m.value("seq", std::uint64_t{0});
        auto local = endpoint_of(text_field(m, "local"));
        auto remote = endpoint_of(text_field(m, "remote"));
        auto bytes = sdp::base64_decode(text_field(m, "bytes"));
        if (!local || !remote || !bytes) {
            return make_error(fmt::format("message {}: unreadable addresses or bytes", seq));
        }
        const bool inbound = text_field(m, "dir") == "in";
        const auto& src = inbound ? *remote : *local;
        const auto& dst = inbound ? *local : *remote;
        std::string pdu;
        std::string name = "sip";
        name.resize(4, '\0');  // the tag's value is padded to 4 octets
        tag(pdu, tag_dissector_name, name);
        address_tag(pdu, src, true);
        address_tag(pdu, dst, false);
        tag32(pdu, tag_port_type,
              text_field(m, "transport") == "udp" ? port_type_udp : port_type_tcp);
        tag32(pdu, tag_src_port, src.port());
        tag32(pdu, tag_dst_port, dst.port());
        tag(pdu, tag_end, {});
        pdu.append(reinterpret_cast<const char*>(bytes->data()), bytes->size());

        const auto t_us = static_cast<std::uint64_t>(m.value("t_us", std::int64_t{0}));
        std::string epb;
        put32(epb, 0);  // interface 0
        put32(epb, static_cast<std::uint32_t>(t_us >> 32));
        put32(epb, static_cast<std::uint32_t>(t_us & 0xffffffffu));
        put32(epb, static_cast<std::uint32_t>(pdu.size()));
        put32(epb, static_cast<std::uint32_t>(pdu.size()));
        epb += pdu;
        pad4(epb);
        block(out, enhanced_packet_block, epb);
    }
    return out;
}

}  // namespace sbc::ctl
