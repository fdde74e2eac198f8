// rtp_blast: the RTP generator and sink of the end-to-end benchmark
// (tools/bench/e2e_bench.py drives it through a running sbcd).
//
// Sends RTP at a fixed total rate, round-robin over many streams (each its
// own SSRC, sequence numbers and timestamps advancing as 20 ms of G.711
// would), to the SBC's media ports of calls set up beforehand; receives what
// the SBC relays on one sink socket and prints one JSON line: packets sent
// and received, loss, and the added latency (p50, p99) from a send time
// carried in each payload. Sender and sink may sit in other network
// namespaces (--send-netns, --recv-netns; root), the clock is the same.
//
//   rtp_blast --from IP:PORT --sink IP:PORT --target IP:PORT [--target ...]
//             --rate PPS --seconds S [--payload 160]
//             [--send-netns NS] [--recv-netns NS]
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"

using sbc::dataplane::ip_endpoint;

namespace {

constexpr std::size_t batch = 32;
constexpr std::uint32_t ssrc_base = 0x5B000000;

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "rtp_blast: %s\n", what.c_str());
    std::exit(2);
}

ip_endpoint endpoint(const std::string& text, bool with_port) {
    auto colon = text.rfind(':');
    std::string host = with_port ? text.substr(0, colon) : text;
    if (!host.empty() && host.front() == '[') {
        host = host.substr(1, host.size() - 2);
    }
    auto port = with_port ? static_cast<std::uint16_t>(std::atoi(text.c_str() + colon + 1)) : 0;
    auto ep = ip_endpoint::from_string(host, port);
    if (!ep) {
        die("bad address " + text);
    }
    return *ep;
}

// A UDP socket bound to `at`, created inside network namespace `ns` when given.
int bound_socket(const ip_endpoint& at, const std::string& ns) {
    int home = -1;
    if (!ns.empty()) {
        home = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (home < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
            die("cannot enter network namespace " + ns);
        }
        ::close(target);
    }
    int fd = ::socket(at.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int size = 8 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (fd < 0 || ::bind(fd, at.sockaddr_ptr(), at.sockaddr_len()) != 0) {
        die("cannot bind " + at.to_string() + ": " + std::strerror(errno));
    }
    if (home >= 0) {
        if (::setns(home, CLONE_NEWNET) != 0) {
            die("cannot return to the original network namespace");
        }
        ::close(home);
    }
    return fd;
}

// Latency histogram: 1 us buckets up to 10 ms, then one overflow bucket.
struct histogram {
    std::array<std::uint64_t, 10001> buckets{};
    void add(std::int64_t ns) {
        auto us = static_cast<std::size_t>(std::max<std::int64_t>(0, ns / 1000));
        ++buckets[std::min(us, buckets.size() - 1)];
    }
    double percentile(double p, std::uint64_t total) const {
        if (total == 0) {
            return 0;
        }
        auto want = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total)));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < buckets.size(); ++i) {
            seen += buckets[i];
            if (seen >= want) {
                return static_cast<double>(i);
            }
        }
        return static_cast<double>(buckets.size() - 1);
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::string from;
    std::string sink;
    std::string send_ns;
    std::string recv_ns;
    std::vector<std::string> targets;
    double rate = 10000;
    double seconds = 2;
    std::size_t payload = 160;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        std::string v = argv[i + 1];
        if (k == "--from") {
            from = v;
        } else if (k == "--sink") {
            sink = v;
        } else if (k == "--target") {
            targets.push_back(v);
        } else if (k == "--rate") {
            rate = std::atof(v.c_str());
        } else if (k == "--seconds") {
            seconds = std::atof(v.c_str());
        } else if (k == "--payload") {
            payload = static_cast<std::size_t>(std::atoi(v.c_str()));
        } else if (k == "--send-netns") {
            send_ns = v;
        } else if (k == "--recv-netns") {
            recv_ns = v;
        } else {
            die("unknown option " + k);
        }
    }
    if (from.empty() || sink.empty() || targets.empty() || rate <= 0 || seconds <= 0 ||
        payload < 16 || payload > 1400) {
        die("usage: rtp_blast --from IP:PORT --sink IP:PORT --target IP:PORT... --rate PPS "
            "--seconds S [--payload 16..1400] [--send-netns NS] [--recv-netns NS]");
    }
    std::vector<ip_endpoint> dest;
    for (const auto& t : targets) {
        dest.push_back(endpoint(t, true));
    }
    // A fixed source port: the SBC latches the first source it sees, and
    // every run of a rate search must come from the same one.
    const int tx = bound_socket(endpoint(from, true), send_ns);
    const int rx = bound_socket(endpoint(sink, true), recv_ns);
    timeval tv{0, 100000};
    ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    std::atomic<bool> stop{false};
    std::uint64_t received = 0;
    histogram latency;
    std::thread sink_thread([&] {
        std::array<std::array<std::uint8_t, 2048>, batch> bufs{};
        std::array<iovec, batch> iov{};
        std::array<mmsghdr, batch> msgs{};
        for (std::size_t i = 0; i < batch; ++i) {
            iov[i] = {bufs[i].data(), bufs[i].size()};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        while (!stop.load(std::memory_order_relaxed)) {
            int n = ::recvmmsg(rx, msgs.data(), batch, MSG_WAITFORONE, nullptr);
            const std::int64_t t = now_ns();
            for (int i = 0; i < n; ++i) {
                if (msgs[i].msg_len < 20) {
                    continue;
                }
                std::int64_t sent;
                std::memcpy(&sent, bufs[static_cast<std::size_t>(i)].data() + 12, 8);
                latency.add(t - sent);
                ++received;
            }
        }
    });

    // Each stream: SSRC, sequence number and timestamp of its own.
    std::vector<std::uint16_t> seq(dest.size(), 0);
    std::vector<std::uint32_t> ts(dest.size(), 0);
    std::array<std::vector<std::uint8_t>, batch> pkts;
    for (auto& p : pkts) {
        p.assign(12 + payload, 0xD5);  // A-law silence after the header and send time
    }
    std::array<iovec, batch> iov{};
    std::array<mmsghdr, batch> msgs{};
    const auto total = static_cast<std::uint64_t>(rate * seconds);
    const std::int64_t start = now_ns();
    std::uint64_t sent = 0;
    std::size_t next_stream = 0;
    while (sent < total) {
        // Pace: batch k leaves no earlier than start + k * batch / rate.
        const auto due = start + static_cast<std::int64_t>(static_cast<double>(sent) / rate * 1e9);
        while (now_ns() < due) {
        }
        const std::size_t n = std::min<std::uint64_t>(batch, total - sent);
        const std::int64_t t = now_ns();
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t s = next_stream;
            next_stream = (next_stream + 1) % dest.size();
            auto& p = pkts[i];
            p[0] = 0x80;
            p[1] = 8;  // PCMA
            const std::uint16_t q = seq[s]++;
            p[2] = static_cast<std::uint8_t>(q >> 8);
            p[3] = static_cast<std::uint8_t>(q);
            const std::uint32_t stamp = ts[s];
            ts[s] += 160;
            const std::uint32_t ssrc = ssrc_base + static_cast<std::uint32_t>(s);
            for (int b = 0; b < 4; ++b) {
                p[4 + static_cast<std::size_t>(b)] =
                    static_cast<std::uint8_t>(stamp >> (24 - 8 * b));
                p[8 + static_cast<std::size_t>(b)] =
                    static_cast<std::uint8_t>(ssrc >> (24 - 8 * b));
            }
            std::memcpy(p.data() + 12, &t, 8);
            iov[i] = {p.data(), p.size()};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_name = const_cast<sockaddr*>(dest[s].sockaddr_ptr());
            msgs[i].msg_hdr.msg_namelen = dest[s].sockaddr_len();
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int done = ::sendmmsg(tx, msgs.data(), static_cast<unsigned>(n), 0);
        sent += done > 0 ? static_cast<std::uint64_t>(done) : 0;
        if (done <= 0) {
            sent += n;  // counted as lost: the host itself could not send
        }
    }
    const double elapsed = static_cast<double>(now_ns() - start) / 1e9;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // stragglers
    stop = true;
    sink_thread.join();
    const double loss =
        sent == 0 ? 0 : 1.0 - static_cast<double>(received) / static_cast<double>(sent);
    std::printf(
        "{\"streams\": %zu, \"rate\": %.0f, \"achieved_rate\": %.0f, \"sent\": %llu, "
        "\"received\": %llu, \"loss\": %.6f, \"p50_us\": %.0f, \"p99_us\": %.0f}\n",
        dest.size(), rate, static_cast<double>(sent) / elapsed,
        static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
        std::max(0.0, loss), latency.percentile(0.5, received), latency.percentile(0.99, received));
    return 0;
}
