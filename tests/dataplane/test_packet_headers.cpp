// The dpdk backend's frame handling without DPDK: which frames are UDP for
// the relay, and the headers (and checksums) of what it sends.
#include <catch2/catch.hpp>

#include <cstring>
#include <tuple>
#include <vector>

#include "dataplane/io/dpdk/packet_headers.hpp"

using namespace sbc::dataplane;
using namespace sbc::dataplane::dpdk;

namespace {

const mac_address mac_a{0x02, 0, 0, 0, 0, 0x0a};
const mac_address mac_b{0x02, 0, 0, 0, 0, 0x0b};

ip_endpoint header_ep(const char* ip, std::uint16_t port) {
    auto e = ip_endpoint::from_string(ip, port);
    REQUIRE(e);
    return *e;
}

std::vector<std::uint8_t> frame(const ip_endpoint& src, const ip_endpoint& dst,
                                std::size_t payload) {
    std::vector<std::uint8_t> f(header_length(src.family()) + payload);
    for (std::size_t i = 0; i < payload; ++i) {
        f[header_length(src.family()) + i] = static_cast<std::uint8_t>(i * 7 + 1);
    }
    write_headers(f.data(), mac_a, mac_b, src, dst, payload);
    return f;
}

}  // namespace

TEST_CASE("IPv4 headers: the RFC 1071 checksum of a known header", "[dpdk][headers]") {
    // The textbook header 4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7:
    // 0x73 octets in all, DF, TTL 64, UDP, checksum b861.
    auto f = frame(header_ep("192.168.0.1", 4000), header_ep("192.168.0.199", 5000), 0x73 - 28);
    const std::uint8_t expected[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                       0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(std::memcmp(f.data() + 14, expected, 20) == 0);
    CHECK(std::memcmp(f.data(), mac_b.data(), 6) == 0);  // destination first
    CHECK(std::memcmp(f.data() + 6, mac_a.data(), 6) == 0);
    CHECK(checksums_valid(f.data(), f.size()));
}

TEST_CASE("written IPv4 and IPv6 datagrams classify back, checksums verified", "[dpdk][headers]") {
    for (auto [src, dst] :
         {std::pair{header_ep("192.0.2.1", 20000), header_ep("192.0.2.2", 6000)},
          std::pair{header_ep("2001:db8::1", 20002), header_ep("2001:db8::2", 6002)}}) {
        for (std::size_t payload : {0, 1, 160, 171, 1400}) {
            auto f = frame(src, dst, payload);
            INFO(src.to_string() << " payload " << payload);
            CHECK(checksums_valid(f.data(), f.size()));
            auto d = classify(f.data(), f.size());
            REQUIRE(d);
            CHECK(d->source == src);
            CHECK(d->destination == dst);
            CHECK(d->payload_offset == header_length(src.family()));
            CHECK(d->payload_length == payload);
            // One flipped payload bit breaks the UDP checksum.
            if (payload > 0) {
                f.back() ^= 0x10;
                CHECK_FALSE(checksums_valid(f.data(), f.size()));
            }
        }
    }
}

TEST_CASE("Ethernet padding is not payload", "[dpdk][headers]") {
    // A 4-octet datagram in a minimum-size (60-octet) frame.
    auto f = frame(header_ep("192.0.2.1", 20000), header_ep("192.0.2.2", 6000), 4);
    f.resize(60, 0);
    auto d = classify(f.data(), f.size());
    REQUIRE(d);
    CHECK(d->payload_length == 4);
}

TEST_CASE("what is not plain UDP goes to the kernel", "[dpdk][headers]") {
    auto v4 = frame(header_ep("192.0.2.1", 20000), header_ep("192.0.2.2", 6000), 160);
    auto v6 = frame(header_ep("2001:db8::1", 20000), header_ep("2001:db8::2", 6000), 160);
    CHECK(classify(v4.data(), v4.size()));

    auto arp = v4;
    arp[12] = 0x08;
    arp[13] = 0x06;
    CHECK_FALSE(classify(arp.data(), arp.size()));

    auto vlan = v4;
    vlan[12] = 0x81;
    vlan[13] = 0x00;
    CHECK_FALSE(classify(vlan.data(), vlan.size()));

    auto tcp = v4;
    tcp[14 + 9] = 6;
    CHECK_FALSE(classify(tcp.data(), tcp.size()));

    auto fragment = v4;
    fragment[14 + 6] = 0x20;  // more fragments
    CHECK_FALSE(classify(fragment.data(), fragment.size()));
    auto later_fragment = v4;
    later_fragment[14 + 7] = 0x10;  // an offset
    CHECK_FALSE(classify(later_fragment.data(), later_fragment.size()));

    CHECK_FALSE(classify(v4.data(), 14 + 20 + 4));    // truncated inside UDP
    CHECK_FALSE(classify(v4.data(), v4.size() - 1));  // shorter than IP's total length

    auto udp_too_long = v4;
    udp_too_long[14 + 20 + 4] = 0xFF;
    CHECK_FALSE(classify(udp_too_long.data(), udp_too_long.size()));

    auto bad_ihl = v4;
    bad_ihl[14] = 0x44;
    CHECK_FALSE(classify(bad_ihl.data(), bad_ihl.size()));

    auto extension = v6;
    extension[14 + 6] = 0;  // hop-by-hop options header first
    CHECK_FALSE(classify(extension.data(), extension.size()));

    CHECK_FALSE(classify(v4.data(), 10));
}

TEST_CASE("IPv4 options are skipped", "[dpdk][headers]") {
    auto plain = frame(header_ep("192.0.2.1", 20000), header_ep("192.0.2.2", 6000), 8);
    std::vector<std::uint8_t> f(plain.begin(), plain.begin() + 34);
    f.insert(f.end(), {1, 1, 1, 0});  // NOP NOP NOP EOL: 4 octets of options
    f.insert(f.end(), plain.begin() + 34, plain.end());
    f[14] = 0x46;
    f[14 + 3] = static_cast<std::uint8_t>(f[14 + 3] + 4);
    auto d = classify(f.data(), f.size());
    REQUIRE(d);
    CHECK(d->payload_offset == 14 + 24 + 8);
    CHECK(d->payload_length == 8);
}

TEST_CASE("an unchanged payload's checksum is carried over incrementally", "[dpdk][headers]") {
    // RFC 1624: the new checksum from the old one and the changed headers
    // equals the one computed over everything.
    for (auto [in_src, in_dst, out_src, out_dst] :
         {std::tuple{header_ep("192.0.2.2", 6000), header_ep("192.0.2.1", 20000),
                     header_ep("198.51.100.1", 20002), header_ep("198.51.100.2", 7000)},
          std::tuple{header_ep("2001:db8::2", 6000), header_ep("2001:db8::1", 20000),
                     header_ep("2001:db8:1::1", 20002), header_ep("2001:db8:1::2", 7000)}}) {
        for (std::size_t payload : {0, 1, 2, 3, 160, 171, 172}) {
            auto received = frame(in_src, in_dst, payload);
            auto d = classify(received.data(), received.size());
            REQUIRE(d);
            auto sum = payload_sum_from_checksum(received.data(), *d);
            REQUIRE(sum);
            auto incremental = received;
            write_headers(incremental.data(), mac_b, mac_a, out_src, out_dst, payload, sum);
            auto full = received;
            write_headers(full.data(), mac_b, mac_a, out_src, out_dst, payload);
            INFO(in_src.to_string() << " payload " << payload);
            CHECK(checksums_valid(incremental.data(), incremental.size()));
            CHECK(incremental == full);
        }
    }
    // IPv4 without a checksum: nothing to carry over.
    auto v4 = frame(header_ep("192.0.2.2", 6000), header_ep("192.0.2.1", 20000), 160);
    v4[14 + 20 + 6] = 0;
    v4[14 + 20 + 7] = 0;
    auto d = classify(v4.data(), v4.size());
    REQUIRE(d);
    CHECK_FALSE(payload_sum_from_checksum(v4.data(), *d));
}

namespace {
// What a device with tx checksum offload does to a frame written with
// checksums::device: the IPv4 header checksum over the header, and the UDP
// checksum summed from the field's seed over the UDP header and payload.
void complete_like_a_device(std::vector<std::uint8_t>& f, int family) {
    std::uint8_t* ip = f.data() + ethernet_header_length;
    const std::size_t l3 = family == AF_INET6 ? ipv6_header_length : ipv4_header_length;
    if (family == AF_INET) {
        const auto c = static_cast<std::uint16_t>(~ones_complement_sum(ip, l3));
        ip[10] = static_cast<std::uint8_t>(c >> 8);
        ip[11] = static_cast<std::uint8_t>(c);
    }
    std::uint8_t* udp = ip + l3;
    const std::size_t udp_length = f.size() - ethernet_header_length - l3;
    auto c = static_cast<std::uint16_t>(~ones_complement_sum(udp, udp_length));
    c = c == 0 ? 0xFFFF : c;
    udp[6] = static_cast<std::uint8_t>(c >> 8);
    udp[7] = static_cast<std::uint8_t>(c);
}
}  // namespace

TEST_CASE("with device checksums the headers carry what the device completes", "[dpdk][headers]") {
    for (auto [src, dst] :
         {std::pair{header_ep("192.0.2.1", 20000), header_ep("198.51.100.2", 6000)},
          std::pair{header_ep("2001:db8::1", 20002), header_ep("2001:db8::2", 6002)}}) {
        for (std::size_t payload : {0, 1, 172, 1400}) {
            INFO(src.to_string() << " payload " << payload);
            const auto software = frame(src, dst, payload);
            auto device = software;
            write_headers(device.data(), mac_a, mac_b, src, dst, payload, std::nullopt,
                          checksums::device);
            const std::size_t l3 =
                src.family() == AF_INET6 ? ipv6_header_length : ipv4_header_length;
            if (src.family() == AF_INET) {
                CHECK(device[ethernet_header_length + 10] == 0);  // left to the device
                CHECK(device[ethernet_header_length + 11] == 0);
            }
            CHECK_FALSE(checksums_valid(device.data(), device.size()));
            // The seed is the pseudo-header sum: the sum the software checksum
            // starts from, so completing it gives the software frame exactly.
            const auto seed_at = ethernet_header_length + l3 + 6;
            CHECK((device[seed_at] != 0 || device[seed_at + 1] != 0));
            complete_like_a_device(device, src.family());
            CHECK(checksums_valid(device.data(), device.size()));
            CHECK(device == software);
        }
    }
}
