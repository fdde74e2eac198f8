// memif_blast: the RTP generator and sink of e2e_bench.py's dpdk-memif run,
// a DPDK program, so that no kernel is on the media path (as with a NIC).
//
// Its two ports are net_memif clients: the generator port connects to the
// memif server of sbcd's pbx-side DPDK port (--gen-socket), the sink port to
// that of its carrier-side port (--sink-socket). It does what rtp_blast does:
// RTP at a fixed total rate, round-robin over many streams (each its own
// SSRC, sequence numbers and timestamps advancing as 20 ms of G.711 would),
// from --from to the SBC's media ports (--target), carrying the send time
// (steady clock, bytes 12..19 of the RTP packet); the sink port takes what
// the SBC relays to --sink, and one JSON line on stdout reports the packets
// sent and received, loss, the added latency (p50, p99), and how many of
// the lost the generator port's ring refused (ring_full: the SBC had not
// drained it in time, where a NIC would count rx_missed). One lcore does
// it all: it paces the transmit bursts by the clock and polls both ports in
// the same loop. It builds the frames itself (Ethernet, IPv4, UDP with its
// checksum); a burst the generator port's ring does not take counts as sent
// and lost, as a NIC's full ring would lose it. Two rings' worth of frames
// without a send time go first, uncounted (warm_up()).
//
// Ethernet: the generator learns the SBC's MAC for each target address with
// an ARP probe (RFC 5227 2.1.1: sender address 0, which a kernel answers
// even when it holds the prober's address itself). It answers ARP requests
// for --from on the generator port and for --sink on the sink port with the
// port's MAC, which is fixed (gen_mac, sink_mac below) so that a script can
// add static neighbour entries instead. IPv4 only.
//
// --direct: the baseline without the SBC. The generator port is a memif
// server on --gen-socket and the sink port its client, in this process: the
// same frames, timing and sink, through shared memory alone (--target is
// then the sink address).
//
// Bounded in time: it gives up (exit status 2, a message on stderr) when a
// memif socket does not appear, a link does not come up or a target's MAC
// does not resolve within --connect-timeout seconds (default 5), and it
// stops sending at 2 * --seconds + 1 s whatever the rate. Needs root (EAL).
//
//   memif_blast --gen-socket PATH [--sink-socket PATH] [--direct]
//               --from IP:PORT --sink IP:PORT --target IP:PORT [--target ...]
//               --rate PPS --seconds S [--payload 160] [--connect-timeout 5]
#include <arpa/inet.h>
#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "dataplane/io/dpdk/packet_headers.hpp"

using sbc::dataplane::ip_endpoint;
namespace dp = sbc::dataplane::dpdk;

namespace {

constexpr std::uint16_t burst = 32;
constexpr std::uint32_t ssrc_base = 0x5B000000;
constexpr unsigned pool_size = 8191;
constexpr unsigned log2_ring_size = 12;  // memif's rsize
constexpr std::uint16_t ring_size = 1 << log2_ring_size;
// Locally administered (IEEE 802 bit 1 of the first octet), fixed so the
// bench script can name them in static neighbour entries.
constexpr dp::mac_address gen_mac{0x02, 0x00, 0x5B, 0x00, 0x00, 0x01};
constexpr dp::mac_address sink_mac{0x02, 0x00, 0x5B, 0x00, 0x00, 0x02};
constexpr std::int64_t ms = 1'000'000;  // in ns
constexpr std::int64_t straggler_ns = 300 * ms;
constexpr std::int64_t arp_retry_ns = 100 * ms;
constexpr std::size_t rtp_fixed = 12 + 8;  // RTP header and send time: what varies

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The EAL's runtime directory under /var/run/dpdk, removed on the way out
// (with --no-shconf and --no-telemetry nothing is left inside it).
std::string runtime_dir;

void remove_runtime_dir() {
    if (!runtime_dir.empty()) {
        ::rmdir(runtime_dir.c_str());
    }
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "memif_blast: %s\n", what.c_str());
    remove_runtime_dir();
    std::exit(2);
}

ip_endpoint endpoint(const std::string& text) {
    const auto colon = text.rfind(':');
    auto ep = colon == std::string::npos
                  ? std::nullopt
                  : ip_endpoint::from_string(
                        text.substr(0, colon),
                        static_cast<std::uint16_t>(std::atoi(text.c_str() + colon + 1)));
    if (!ep || ep->family() != AF_INET) {
        die("bad address " + text + " (IPv4 address:port)");
    }
    return *ep;
}

// Network byte order, as in an ARP packet.
std::uint32_t ipv4_of(const ip_endpoint& ep) {
    return reinterpret_cast<const sockaddr_in*>(ep.sockaddr_ptr())->sin_addr.s_addr;
}

struct options {
    std::string gen_socket;
    std::string sink_socket;
    bool direct = false;
    std::string from;
    std::string sink;
    std::vector<std::string> targets;
    double rate = 10000;
    double seconds = 2;
    std::size_t payload = 160;
    double connect_timeout = 5;
};

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--direct") {
            o.direct = true;
            continue;
        }
        if (i + 1 >= argc) {
            die("option " + k + " needs a value");
        }
        const std::string v = argv[++i];
        if (k == "--gen-socket") {
            o.gen_socket = v;
        } else if (k == "--sink-socket") {
            o.sink_socket = v;
        } else if (k == "--from") {
            o.from = v;
        } else if (k == "--sink") {
            o.sink = v;
        } else if (k == "--target") {
            o.targets.push_back(v);
        } else if (k == "--rate") {
            o.rate = std::atof(v.c_str());
        } else if (k == "--seconds") {
            o.seconds = std::atof(v.c_str());
        } else if (k == "--payload") {
            o.payload = static_cast<std::size_t>(std::atoi(v.c_str()));
        } else if (k == "--connect-timeout") {
            o.connect_timeout = std::atof(v.c_str());
        } else {
            die("unknown option " + k);
        }
    }
    if (o.gen_socket.empty() || (o.sink_socket.empty() && !o.direct) || o.from.empty() ||
        o.sink.empty() || o.targets.empty() || o.rate <= 0 || o.seconds <= 0 || o.payload < 16 ||
        o.payload > 1400 || o.connect_timeout <= 0) {
        die("usage: memif_blast --gen-socket PATH [--sink-socket PATH] [--direct] --from IP:PORT "
            "--sink IP:PORT --target IP:PORT... --rate PPS --seconds S [--payload 16..1400] "
            "[--connect-timeout S]");
    }
    return o;
}

std::string mac_text(const dp::mac_address& m) {
    char text[18];
    std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return text;
}

// The EAL: no hugepages, no PCI, no shared files, one lcore, DPDK's log on
// stderr (stdout carries the JSON line only), and the two memif vdevs. In
// --direct mode the server comes first: the vdev probed first creates the
// socket, and only a server's listens.
void start_eal(const options& o) {
    rte_openlog_stream(stderr);
    const std::string common =
        ",socket-abstract=no,id=0,rsize=" + std::to_string(log2_ring_size) + ",socket=";
    std::string gen = "net_memif0,role=client,mac=" + mac_text(gen_mac) + common + o.gen_socket;
    std::string sink = "net_memif1,role=client,mac=" + mac_text(sink_mac) + common +
                       (o.direct ? o.gen_socket : o.sink_socket);
    if (o.direct) {
        gen.replace(gen.find("client"), 6, "server");
    }
    const std::string prefix = "memif_blast_" + std::to_string(::getpid());
    std::vector<std::string> args{"memif_blast",
                                  "-l",
                                  "0",
                                  "--no-huge",
                                  "--no-pci",
                                  "--no-shconf",
                                  "-m",
                                  "256",
                                  "--file-prefix",
                                  prefix,
                                  "--no-telemetry",
                                  "--log-level=4",
                                  "--vdev",
                                  gen,
                                  "--vdev",
                                  sink};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        die(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
    }
    runtime_dir = rte_eal_get_runtime_dir();
}

// Waits for the server's socket file: a client's start fails at once when
// there is none.
void wait_for_socket(const std::string& path, std::int64_t deadline) {
    struct stat st {};
    while (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
        if (now_ns() >= deadline) {
            die("no memif socket " + path + " (is sbcd running with its memif ports?)");
        }
        ::usleep(10000);
    }
}

std::uint16_t start_port(const char* name, rte_mempool* pool) {
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name, &id) != 0) {
        die(std::string("no device ") + name);
    }
    rte_eth_conf conf{};
    if (int rc = rte_eth_dev_configure(id, 1, 1, &conf); rc != 0) {
        die(std::string(name) + ": configure: " + rte_strerror(-rc));
    }
    if (rte_eth_rx_queue_setup(id, 0, ring_size, 0, nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(id, 0, ring_size, 0, nullptr) != 0) {
        die(std::string(name) + ": queue set-up failed");
    }
    if (int rc = rte_eth_dev_start(id); rc != 0) {
        die(std::string(name) + ": start (memif connect): " + rte_strerror(-rc));
    }
    return id;
}

void wait_for_link(std::uint16_t id, const char* name, std::int64_t deadline) {
    for (;;) {
        rte_eth_link link{};
        rte_eth_link_get_nowait(id, &link);
        if (link.link_status == RTE_ETH_LINK_UP) {
            return;
        }
        if (now_ns() >= deadline) {
            die(std::string(name) +
                ": the memif did not connect (no server, or one already "
                "taken by another client?)");
        }
        ::usleep(1000);
    }
}

struct port {
    std::uint16_t id = 0;
    dp::mac_address mac{};
    std::uint32_t own_ip = 0;  ///< answered for in ARP, network order
};

/// An address whose MAC the generator needs.
struct neighbour {
    std::uint32_t ip = 0;  ///< network order
    dp::mac_address mac{};
    bool known = false;
};

rte_arp_hdr* arp_of(rte_mbuf* m) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
        return nullptr;
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP) ||
        arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
        arp->arp_plen != 4) {
        return nullptr;
    }
    return arp;
}

// An ARP packet (RFC 826) in `m`, Ethernet-addressed to `to`.
void write_arp(rte_mbuf* m, std::uint16_t op, const dp::mac_address& from, std::uint32_t from_ip,
               const rte_ether_addr& to, const rte_ether_addr& target, std::uint32_t target_ip) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    eth->dst_addr = to;
    std::copy(from.begin(), from.end(), eth->src_addr.addr_bytes);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(op);
    std::copy(from.begin(), from.end(), arp->arp_data.arp_sha.addr_bytes);
    arp->arp_data.arp_sip = from_ip;
    arp->arp_data.arp_tha = target;
    arp->arp_data.arp_tip = target_ip;
    // The minimum Ethernet frame without its FCS.
    m->data_len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
    m->pkt_len = m->data_len;
    std::memset(reinterpret_cast<std::uint8_t*>(arp + 1), 0,
                m->data_len - sizeof(*eth) - sizeof(*arp));
}

void send_one(const port& p, rte_mbuf* m) {
    if (rte_eth_tx_burst(p.id, 0, &m, 1) != 1) {
        rte_pktmbuf_free(m);
    }
}

// Takes an ARP frame: answers a request for the port's own address (a
// probe too), records the sender of a reply one of `wanted` waits for.
// Returns false, leaving `m` alone, when it is not ARP.
bool take_arp(const port& p, rte_mbuf* m, std::vector<neighbour>& wanted) {
    rte_arp_hdr* arp = arp_of(m);
    if (arp == nullptr) {
        return false;
    }
    const auto op = rte_be_to_cpu_16(arp->arp_opcode);
    if (op == RTE_ARP_OP_REQUEST && p.own_ip != 0 && arp->arp_data.arp_tip == p.own_ip) {
        const rte_ether_addr asker = arp->arp_data.arp_sha;
        const std::uint32_t asker_ip = arp->arp_data.arp_sip;
        write_arp(m, RTE_ARP_OP_REPLY, p.mac, p.own_ip, asker, asker, asker_ip);
        send_one(p, m);
        return true;
    }
    if (op == RTE_ARP_OP_REPLY) {
        for (auto& n : wanted) {
            if (!n.known && n.ip == arp->arp_data.arp_sip) {
                std::memcpy(n.mac.data(), &arp->arp_data.arp_sha, n.mac.size());
                n.known = true;
            }
        }
    }
    rte_pktmbuf_free(m);
    return true;
}

// RFC 5227 2.1.1: an ARP probe, sender address 0, target address `ip`.
void send_probe(const port& p, rte_mempool* pool, std::uint32_t ip) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (m == nullptr) {
        return;
    }
    rte_ether_addr broadcast{};
    std::memset(broadcast.addr_bytes, 0xFF, sizeof broadcast.addr_bytes);
    write_arp(m, RTE_ARP_OP_REQUEST, p.mac, 0, broadcast, rte_ether_addr{}, ip);
    send_one(p, m);
}

// Latency histogram: 0.1 us buckets up to 10 ms, then one overflow bucket.
struct histogram {
    std::vector<std::uint64_t> buckets = std::vector<std::uint64_t>(100001);
    std::uint64_t total = 0;
    void add(std::int64_t ns) {
        auto tenths = static_cast<std::size_t>(std::max<std::int64_t>(0, ns / 100));
        ++buckets[std::min(tenths, buckets.size() - 1)];
        ++total;
    }
    double percentile_us(double p) const {
        if (total == 0) {
            return 0;
        }
        auto want = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total)));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            seen += buckets[i];
            if (seen >= want) {
                return static_cast<double>(i) / 10;
            }
        }
        return static_cast<double>(buckets.size() - 1) / 10;
    }
};

// Both ports' received frames: ARP to take_arp, UDP to the sink address
// counted with its latency, everything else (the SBC's kernel's own
// traffic, such as IPv6 neighbour discovery) dropped.
struct receiver {
    port gen;
    port sink;
    ip_endpoint sink_address;
    std::vector<neighbour> wanted;
    histogram latency;

    void poll() {
        std::array<rte_mbuf*, burst> frames{};
        std::uint16_t n = rte_eth_rx_burst(gen.id, 0, frames.data(), burst);
        for (std::uint16_t i = 0; i < n; ++i) {
            if (!take_arp(gen, frames[i], wanted)) {
                rte_pktmbuf_free(frames[i]);
            }
        }
        n = rte_eth_rx_burst(sink.id, 0, frames.data(), burst);
        const std::int64_t t = now_ns();
        for (std::uint16_t i = 0; i < n; ++i) {
            rte_mbuf* m = frames[i];
            if (take_arp(sink, m, wanted)) {
                continue;
            }
            const auto* frame = rte_pktmbuf_mtod(m, const std::uint8_t*);
            dp::udp_datagram d;
            if (m->nb_segs == 1 && dp::classify(frame, m->data_len, d) &&
                d.destination == sink_address && d.payload_length >= rtp_fixed) {
                std::int64_t sent = 0;
                std::memcpy(&sent, frame + d.payload_offset + 12, sizeof sent);
                if (sent != 0) {  // 0: a warm-up frame
                    latency.add(t - sent);
                }
            }
            rte_pktmbuf_free(m);
        }
    }
};

// Probes for every target address until all are known.
void resolve(receiver& r, rte_mempool* pool, std::int64_t deadline) {
    std::int64_t next_probe = 0;
    for (;;) {
        const auto missing = std::find_if(r.wanted.begin(), r.wanted.end(),
                                          [](const neighbour& n) { return !n.known; });
        if (missing == r.wanted.end()) {
            return;
        }
        const std::int64_t t = now_ns();
        if (t >= deadline) {
            char ip[INET_ADDRSTRLEN];
            ::inet_ntop(AF_INET, &missing->ip, ip, sizeof ip);
            die(std::string("no ARP answer for ") + ip + " through the generator's memif");
        }
        if (t >= next_probe) {
            for (const auto& n : r.wanted) {
                if (!n.known) {
                    send_probe(r.gen, pool, n.ip);
                }
            }
            next_probe = t + arp_retry_ns;
        }
        r.poll();
    }
}

struct stream {
    ip_endpoint destination;
    dp::mac_address mac{};
    std::uint16_t seq = 0;
    std::uint32_t timestamp = 0;
    std::uint32_t ssrc = 0;
};

// Builds RTP frames round-robin over the streams: the payload's constant
// part comes from a template whose checksum share is summed once.
struct generator {
    port out;
    ip_endpoint from;
    std::vector<stream> streams;
    std::vector<std::uint8_t> payload;  // RTP header and send time zero, then A-law silence
    std::uint16_t constant_sum = 0;     // ones'-complement sum of payload[rtp_fixed..]
    std::size_t next = 0;

    void fill(rte_mbuf* m, std::int64_t t) {
        stream& s = streams[next];
        next = (next + 1) % streams.size();
        auto* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
        const std::size_t header = dp::header_length(AF_INET);
        std::uint8_t* p = frame + header;
        std::memcpy(p, payload.data(), payload.size());
        p[0] = 0x80;
        p[1] = 8;  // PCMA
        const std::uint16_t q = s.seq++;
        p[2] = static_cast<std::uint8_t>(q >> 8);
        p[3] = static_cast<std::uint8_t>(q);
        const std::uint32_t stamp = s.timestamp;
        s.timestamp += 160;
        for (std::size_t b = 0; b < 4; ++b) {
            p[4 + b] = static_cast<std::uint8_t>(stamp >> (24 - 8 * b));
            p[8 + b] = static_cast<std::uint8_t>(s.ssrc >> (24 - 8 * b));
        }
        std::memcpy(p + 12, &t, sizeof t);
        const std::uint16_t sum = dp::ones_complement_sum(p, rtp_fixed, constant_sum);
        dp::write_headers(frame, out.mac, s.mac, from, s.destination, payload.size(), sum);
        m->data_len = static_cast<std::uint16_t>(header + payload.size());
        m->pkt_len = m->data_len;
    }
};

struct counts {
    std::uint64_t sent = 0;
    std::uint64_t ring_full = 0;  ///< of those sent, refused by the generator port's ring
    double elapsed = 0;
};

// One burst of n frames stamped `t` out of the generator port: how many
// its ring took (they are lost otherwise), or -1 when the pool is empty.
int send_burst(generator& g, rte_mempool* pool, std::uint16_t n, std::int64_t t) {
    std::array<rte_mbuf*, burst> frames{};
    if (rte_pktmbuf_alloc_bulk(pool, frames.data(), n) != 0) {
        return -1;
    }
    for (std::uint16_t i = 0; i < n; ++i) {
        g.fill(frames[i], t);
    }
    const std::uint16_t done = rte_eth_tx_burst(g.out.id, 0, frames.data(), n);
    rte_pktmbuf_free_bulk(frames.data() + done, n - done);
    return done;
}

// Each memif connection maps fresh shared memory, and the first write to
// each of its pages faults, on either side: about 10 us a page here, 200 us
// a burst. A NIC has nothing like it, so twice each ring's worth of
// frames, stamped 0 (the sink does not count them), goes through before
// the measurement, a burst a millisecond.
void warm_up(generator& g, receiver& r, rte_mempool* pool) {
    for (unsigned i = 0; i < 2 * ring_size / burst; ++i) {
        send_burst(g, pool, burst, 0);
        const std::int64_t until = now_ns() + ms;
        while (now_ns() < until) {
            r.poll();
        }
    }
}

// Paces bursts: burst k leaves no earlier than start + k * burst / rate.
// Polls both ports between bursts, and for the stragglers after the last.
counts run(generator& g, receiver& r, rte_mempool* pool, const options& o) {
    const auto total = static_cast<std::uint64_t>(o.rate * o.seconds);
    const std::int64_t start = now_ns();
    const auto give_up = start + static_cast<std::int64_t>((2 * o.seconds + 1) * 1e9);
    counts c;
    while (c.sent < total) {
        const std::int64_t t = now_ns();
        if (t >= give_up) {
            break;
        }
        const auto due =
            start + static_cast<std::int64_t>(static_cast<double>(c.sent) / o.rate * 1e9);
        if (t >= due) {
            const auto n =
                static_cast<std::uint16_t>(std::min<std::uint64_t>(burst, total - c.sent));
            if (const int done = send_burst(g, pool, n, t); done >= 0) {
                c.sent += n;
                c.ring_full += n - static_cast<unsigned>(done);
            }
        }
        r.poll();
    }
    c.elapsed = static_cast<double>(now_ns() - start) / 1e9;
    const std::int64_t end = now_ns() + straggler_ns;
    while (now_ns() < end) {
        r.poll();
    }
    return c;
}

generator make_generator(const options& o, const port& out, const std::vector<neighbour>& macs) {
    generator g;
    g.out = out;
    g.from = endpoint(o.from);
    g.payload.assign(12 + o.payload, 0xD5);
    std::fill(g.payload.begin(), g.payload.begin() + rtp_fixed, 0);
    g.constant_sum =
        dp::ones_complement_sum(g.payload.data() + rtp_fixed, g.payload.size() - rtp_fixed);
    for (std::size_t i = 0; i < o.targets.size(); ++i) {
        stream s;
        s.destination = endpoint(o.targets[i]);
        s.ssrc = ssrc_base + static_cast<std::uint32_t>(i);
        for (const auto& n : macs) {
            if (n.ip == ipv4_of(s.destination)) {
                s.mac = n.mac;
            }
        }
        g.streams.push_back(s);
    }
    return g;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    // Checked before the EAL starts, so a bad address costs no set-up.
    const ip_endpoint from = endpoint(o.from);
    const ip_endpoint sink = endpoint(o.sink);
    std::vector<neighbour> wanted;
    for (const auto& t : o.targets) {
        const std::uint32_t ip = ipv4_of(endpoint(t));
        if (std::none_of(wanted.begin(), wanted.end(),
                         [&](const neighbour& n) { return n.ip == ip; })) {
            wanted.push_back({ip, {}, false});
        }
    }
    const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(o.connect_timeout * 1e9);
    if (!o.direct) {
        wait_for_socket(o.gen_socket, deadline);
        wait_for_socket(o.sink_socket, deadline);
    }
    start_eal(o);
    auto* pool = rte_pktmbuf_pool_create("blast_mbufs", pool_size, 256, 0,
                                         RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (pool == nullptr) {
        die(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno));
    }
    receiver r;
    r.gen = {start_port("net_memif0", pool), gen_mac, ipv4_of(from)};
    r.sink = {start_port("net_memif1", pool), sink_mac, ipv4_of(sink)};
    r.sink_address = sink;
    r.wanted = wanted;
    wait_for_link(r.gen.id, "the generator port", deadline);
    wait_for_link(r.sink.id, "the sink port", deadline);
    resolve(r, pool, deadline);
    generator g = make_generator(o, r.gen, r.wanted);

    warm_up(g, r, pool);
    const counts c = run(g, r, pool, o);
    const std::uint64_t received = r.latency.total;
    for (const auto id : {r.gen.id, r.sink.id}) {
        rte_eth_dev_stop(id);  // tells the server: it listens for the next client
        rte_eth_dev_close(id);
    }
    rte_mempool_free(pool);
    rte_eal_cleanup();
    remove_runtime_dir();
    const double loss =
        c.sent == 0 ? 0 : 1.0 - static_cast<double>(received) / static_cast<double>(c.sent);
    std::printf(
        "{\"streams\": %zu, \"rate\": %.0f, \"achieved_rate\": %.0f, \"sent\": %llu, "
        "\"received\": %llu, \"loss\": %.6f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
        "\"ring_full\": %llu}\n",
        g.streams.size(), o.rate, static_cast<double>(c.sent) / c.elapsed,
        static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(received),
        std::max(0.0, loss), r.latency.percentile_us(0.5), r.latency.percentile_us(0.99),
        static_cast<unsigned long long>(c.ring_full));
    return 0;
}
