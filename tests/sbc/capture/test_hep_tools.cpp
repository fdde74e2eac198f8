// What the exporter sends, read by the tools engineers read HEP with, so
// that the encoding is proven against implementations other than ours.
//
// Debian 12's Wireshark (4.0) has no HEP dissector (`tshark -d
// udp.port==9060,hep` answers "Unknown protocol"; HEP in Wireshark is a Lua
// plugin of sipcapture's, not packaged). sngrep (irontec's SIP viewer, built
// by Debian with EEP/HEP support) is the independent HEP3 decoder here: it
// listens for HEP like a capture server, takes each packet apart and writes
// the SIP message inside to a pcap as the IP/UDP packet it describes (the
// addresses, ports and capture time of its chunks). tshark then reads that
// pcap and must find the SIP message, its Call-ID, and those addresses,
// ports and time. Skipped, with a warning, where either tool is missing.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "sbc/capture/hep_exporter.hpp"
#include "sbc/common/unique_fd.hpp"
#include "tests/support/sip_loop.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace test_hep_tools {

namespace {

bool installed(const char* tool) {
    const std::string cmd = std::string("command -v ") + tool + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
}

// A free UDP port on loopback, for a tool to listen on: taken from the
// kernel, then let go (a tool cannot be handed a socket).
std::uint16_t free_udp_port() {
    sbc::unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0);
    socklen_t len = sizeof sin;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sin), &len) == 0);
    return ntohs(sin.sin_port);
}

// A program the test starts and stops, its output thrown away.
class child {
public:
    explicit child(std::vector<std::string> argv) {
        std::vector<char*> args;
        for (auto& a : argv) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        const int rc = posix_spawnp(&_pid, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        REQUIRE(rc == 0);
    }
    ~child() { stop(); }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    void stop() {
        if (_pid > 0) {
            ::kill(_pid, SIGTERM);
            int status = 0;
            ::waitpid(_pid, &status, 0);
            _pid = -1;
        }
    }

private:
    pid_t _pid = -1;
};

std::string output_of(const std::string& command) {
    std::string out;
    FILE* f = ::popen(command.c_str(), "r");
    REQUIRE(f != nullptr);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.append(buf, n);
    }
    ::pclose(f);
    return out;
}

off_t size_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

}  // namespace

TEST_CASE("hep exporter: sngrep decodes its HEP3, tshark the SIP inside", "[hep_tools]") {
    if (!installed("sngrep") || !installed("tshark")) {
        WARN("sngrep or tshark is not installed (tools/install-deps): skipped");
        SUCCEED();
        return;
    }
    sbc::test::temp_dir dir("sbc-hep");
    const auto pcap = dir.file("hep.pcap");
    const auto port = free_udp_port();
    // -N: no interface, -q: quiet, -L: listen for HEP, -O: write a pcap.
    child sngrep({"sngrep", "-N", "-q", "-L", "udp:127.0.0.1:" + std::to_string(port), "-O", pcap});

    sbc::test::sip_loop loop;
    sbc::config::hep_config c;
    c.address = "127.0.0.1:" + std::to_string(port);
    sbc::capture::hep_exporter exporter(loop.root(), c, nullptr);
    const std::string text =
        "INVITE sip:+15551230000@198.51.100.20 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-7\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@192.0.2.10>;tag=a1\r\n"
        "To: <sip:+15551230000@198.51.100.20>\r\n"
        "Call-ID: tool-check@192.0.2.10\r\n"
        "CSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n"
        "\r\n";
    sbc::capture::sip_packet p;
    p.direction = sbc::capture::sip_direction::in;
    p.transport = sbc::capture::sip_transport::udp;
    p.local = *sbc::dataplane::ip_endpoint::from_string("198.51.100.20", 5060);
    p.remote = *sbc::dataplane::ip_endpoint::from_string("192.0.2.10", 5062);
    p.wall_us = 1'700'000'000'123'456;
    p.bytes = text;

    // sngrep listens once it has started: until its pcap holds a packet
    // (more than pcap's 24-byte file header), the message goes again (a
    // datagram to a port nobody listens on yet is lost).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (size_of(pcap) <= 24 && std::chrono::steady_clock::now() < deadline) {
        exporter.on_sip(p);
        loop.drain();
        for (int i = 0; i < 20 && size_of(pcap) <= 24; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    sngrep.stop();
    REQUIRE(size_of(pcap) > 24);

    const auto fields = output_of(
        "tshark -r '" + pcap +
        "' -c 1 -T fields -E separator='|' -e ip.src -e ip.dst -e udp.srcport -e udp.dstport "
        "-e sip.Method -e sip.Call-ID -e frame.time_epoch 2>/dev/null");
    INFO(fields);
    CHECK(fields.rfind("192.0.2.10|198.51.100.20|5062|5060|INVITE|tool-check@192.0.2.10|"
                       "1700000000.123456",
                       0) == 0);
}

}  // namespace test_hep_tools
