// pipeline_bench: the data plane's per-packet cost with no I/O: bursts of 32
// RTP packets (20 ms of G.711, 172 octets) from memory through the relay
// pipeline (latching check, SRTP unprotect, SRTP protect, destination).
// Prints ns per packet for plain relay, RTP->SRTP, SRTP->RTP and SRTP->SRTP
// (AES_CM_128_HMAC_SHA1_80, OpenSSL crypto), on one core, for each backend:
// "kernel" is the relay on datagram payloads, as the kernel backend runs it
// between recvmmsg and sendmmsg; "dpdk" adds what the dpdk worker does per
// frame around it: classification of the Ethernet/IPv4/UDP frame, the
// next-hop lookup, and the new headers with their checksums.
// Targets (issue 4): plain < 100 ns, RTP<->SRTP < 500 ns.
//
//   build/tools/bench/pipeline_bench [packets]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/core/relay.hpp"
#include "dataplane/io/dpdk/neighbor_table.hpp"
#include "dataplane/io/dpdk/packet_headers.hpp"
#include "dataplane/srtp/stream_crypto.hpp"

using namespace sbc::dataplane;

namespace {

constexpr std::size_t slot = 256;  // octets per packet buffer: 172 + the SRTP tag
constexpr std::uint32_t rtp_len = 172;

std::unique_ptr<srtp::stream_crypto> crypto(std::uint8_t fill, srtp::stream_crypto::direction d) {
    std::vector<std::uint8_t> key(30, fill);
    auto c = srtp::stream_crypto::create(srtp::suite::aes_cm_128_hmac_sha1_80, key, d);
    if (!c) {
        std::fprintf(stderr, "%s\n", c.error_message().c_str());
        std::exit(1);
    }
    return std::make_unique<srtp::stream_crypto>(std::move(*c));
}

/// RTP packet number `i` (PCMA, 172 octets) at `p`, SRTP-protected by
/// `sender` when given; returns its length.
std::size_t fill_rtp(std::uint8_t* p, int i, srtp::stream_crypto* sender) {
    p[0] = 0x80;
    p[1] = 8;
    p[2] = static_cast<std::uint8_t>(i >> 8);
    p[3] = static_cast<std::uint8_t>(i);
    p[11] = 0x33;
    for (std::uint32_t k = 12; k < rtp_len; ++k) {
        p[k] = static_cast<std::uint8_t>(k + static_cast<std::uint32_t>(i));
    }
    std::size_t len = rtp_len;
    if (sender != nullptr && sender->protect_rtp(p, len) != srtp::outcome::ok) {
        std::fprintf(stderr, "cannot prepare SRTP\n");
        std::exit(1);
    }
    return len;
}

double run(bool srtp_in, bool srtp_out, int count) {
    const ip_endpoint a_rtp = *ip_endpoint::from_string("192.0.2.10", 4000);
    const ip_endpoint b_rtp = *ip_endpoint::from_string("198.51.100.20", 6000);
    relay_session r;
    r.set_remote(side::a, a_rtp, a_rtp);
    r.set_remote(side::b, b_rtp, b_rtp);
    auto peer_tx = crypto(1, srtp::stream_crypto::direction::protect);
    auto from_a = crypto(1, srtp::stream_crypto::direction::unprotect);
    auto to_b = crypto(2, srtp::stream_crypto::direction::protect);
    r.set_srtp(side::a, srtp_in ? from_a.get() : nullptr, nullptr);
    r.set_srtp(side::b, nullptr, srtp_out ? to_b.get() : nullptr);

    std::vector<std::uint8_t> mem(static_cast<std::size_t>(count) * slot);
    std::vector<std::uint32_t> lens(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        std::uint8_t* p = &mem[static_cast<std::size_t>(i) * slot];
        const std::size_t len = fill_rtp(p, i, srtp_in ? peer_tx.get() : nullptr);
        lens[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(len);
    }
    std::array<rx_packet, max_burst> burst{};
    tx_batch out;
    std::size_t forwarded = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < count; i += static_cast<int>(max_burst)) {
        const std::size_t n = std::min<std::size_t>(max_burst, static_cast<std::size_t>(count - i));
        for (std::size_t k = 0; k < n; ++k) {
            const auto at = static_cast<std::size_t>(i) + k;
            burst[k] = rx_packet{&mem[at * slot], lens[at], false, &a_rtp,
                                 static_cast<std::uint32_t>(slot)};
        }
        r.relay(side::a, channel::rtp, std::span<const rx_packet>(burst.data(), n), 1, out);
        forwarded += out.count;
    }
    auto t1 = std::chrono::steady_clock::now();
    if (forwarded != static_cast<std::size_t>(count)) {
        std::fprintf(stderr, "only %zu of %d packets forwarded\n", forwarded, count);
        std::exit(1);
    }
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / count;
}

// The dpdk worker's frame path on frames in memory: each buffer holds
// headroom, then an Ethernet/IPv4/UDP frame of the RTP packet.
double run_frames(bool srtp_in, bool srtp_out, int count) {
    constexpr std::size_t frame_slot = 512;
    constexpr std::size_t headroom = 128;  // as an mbuf has
    const ip_endpoint a_rtp = *ip_endpoint::from_string("192.0.2.10", 4000);
    const ip_endpoint b_rtp = *ip_endpoint::from_string("198.51.100.20", 6000);
    const ip_endpoint local_a = *ip_endpoint::from_string("192.0.2.1", 20000);
    const ip_endpoint local_b = *ip_endpoint::from_string("198.51.100.1", 20002);
    const dpdk::mac_address peer_mac{2, 0, 0, 0, 0, 1};
    const dpdk::mac_address own_mac{2, 0, 0, 0, 0, 2};
    const auto local_key = dpdk::ip_key::of(local_a);
    dpdk::neighbor_table neighbors;
    neighbors.set(dpdk::ip_key::of(b_rtp), dpdk::mac_address{2, 0, 0, 0, 0, 3});
    relay_session r;
    r.set_remote(side::a, a_rtp, a_rtp);
    r.set_remote(side::b, b_rtp, b_rtp);
    auto peer_tx = crypto(1, srtp::stream_crypto::direction::protect);
    auto from_a = crypto(1, srtp::stream_crypto::direction::unprotect);
    auto to_b = crypto(2, srtp::stream_crypto::direction::protect);
    r.set_srtp(side::a, srtp_in ? from_a.get() : nullptr, nullptr);
    r.set_srtp(side::b, nullptr, srtp_out ? to_b.get() : nullptr);

    // Frames start at a cache line, as an mbuf's data room does: from a
    // vector's own address (malloc's 16-octet alignment) the RTP header
    // straddled two lines, and a relay that reads the header (its quality
    // figures) paid a second memory access per frame a NIC does not cause.
    std::vector<std::uint8_t> storage(static_cast<std::size_t>(count) * frame_slot + 64);
    std::uint8_t* const mem =
        storage.data() + (64 - reinterpret_cast<std::uintptr_t>(storage.data()) % 64) % 64;
    std::vector<std::uint32_t> lens(static_cast<std::size_t>(count));
    const std::size_t header = dpdk::header_length(AF_INET);
    for (int i = 0; i < count; ++i) {
        std::uint8_t* f = &mem[static_cast<std::size_t>(i) * frame_slot + headroom];
        std::uint8_t* p = f + header;
        const std::size_t len = fill_rtp(p, i, srtp_in ? peer_tx.get() : nullptr);
        dpdk::write_headers(f, peer_mac, own_mac, a_rtp, local_a, len);
        lens[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(header + len);
    }
    std::array<rx_packet, max_burst> burst{};
    std::array<dpdk::udp_datagram, max_burst> datagrams{};
    tx_batch out;
    std::size_t forwarded = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < count; i += static_cast<int>(max_burst)) {
        const std::size_t n = std::min<std::size_t>(max_burst, static_cast<std::size_t>(count - i));
        std::size_t media = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const auto at = static_cast<std::size_t>(i) + k;
            std::uint8_t* f = &mem[at * frame_slot + headroom];
            dpdk::udp_datagram& d = datagrams[media];
            if (!dpdk::classify(f, lens[at], d) ||
                !(dpdk::ip_key::of(d.destination) == local_key)) {
                continue;
            }
            const auto room = static_cast<std::uint32_t>(frame_slot - headroom - d.payload_offset);
            burst[media] =
                rx_packet{f + d.payload_offset, static_cast<std::uint32_t>(d.payload_length), false,
                          &datagrams[media].source, room};
            ++media;
        }
        r.relay(side::a, channel::rtp, std::span<const rx_packet>(burst.data(), media), 1, out);
        for (std::size_t k = 0; k < out.count; ++k) {
            const tx_packet& tx = out.packets[k];
            const auto* mac = neighbors.find(dpdk::ip_key::of(*tx.destination));
            if (mac == nullptr) {
                continue;
            }
            auto* start = const_cast<std::uint8_t*>(tx.data) - header;
            const auto* frame = start;  // same family in and out: the old headers are here
            std::optional<std::uint16_t> payload_sum;
            if (!tx.transformed) {
                payload_sum = dpdk::payload_sum_from_checksum(frame, datagrams[k]);
            }
            dpdk::write_headers(start, own_mac, *mac, local_b, *tx.destination, tx.len,
                                payload_sum);
            ++forwarded;
        }
    }
    auto t1 = std::chrono::steady_clock::now();
    if (forwarded != static_cast<std::size_t>(count)) {
        std::fprintf(stderr, "only %zu of %d frames forwarded\n", forwarded, count);
        std::exit(1);
    }
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / count;
}

}  // namespace

int main(int argc, char** argv) {
    int count = argc > 1 ? std::atoi(argv[1]) : 500000;
    if (count <= 0 || count > 5000000) {
        std::fprintf(stderr, "usage: pipeline_bench [packets 1..5000000]\n");
        return 2;
    }
    std::printf("pipeline_bench: %d RTP packets of %u octets in bursts of %zu, one core, no I/O\n",
                count, rtp_len, max_burst);
    std::printf("%-12s %14s %14s\n", "path", "kernel ns/pkt", "dpdk ns/pkt");
    const std::pair<bool, bool> paths[] = {
        {false, false}, {false, true}, {true, false}, {true, true}};
    const char* names[] = {"RTP->RTP", "RTP->SRTP", "SRTP->RTP", "SRTP->SRTP"};
    for (std::size_t i = 0; i < 4; ++i) {
        auto [in, out] = paths[i];
        std::printf("%-12s %14.0f %14.0f\n", names[i], run(in, out, count),
                    run_frames(in, out, count));
    }
    return 0;
}
