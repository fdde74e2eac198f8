// The HEP exporter over real sockets on loopback: a UDP receiver and a TCP
// listener of the test's own read what it sends. SIP messages are made by
// hand and parsed with sofia's parser, as the tap would hand them over.
#include "sbc/capture/hep_exporter.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>

#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "sbc/capture/hep_encoder.hpp"
#include "sbc/common/unique_fd.hpp"
#include "tests/support/sip_loop.hpp"

using sbc::unique_fd;
using sbc::capture::decode_hep;
using sbc::capture::hep_exporter;
using sbc::capture::hep_exporter_limits;
using sbc::capture::hep_frame_length;
using sbc::capture::hep_packet;
using sbc::capture::sip_direction;
using sbc::capture::sip_packet;
using sbc::capture::sip_transport;
using sbc::config::hep_config;
using sbc::dataplane::ip_endpoint;

namespace test_hep_exporter {

namespace {

ip_endpoint ep(const char* ip, std::uint16_t port) {
    auto e = ip_endpoint::from_string(ip, port);
    REQUIRE(e);
    return *e;
}

std::string invite(const std::string& call_id) {
    return "INVITE sip:+15551230000@198.51.100.20 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:alice@192.0.2.10>;tag=a1\r\n"
           "To: <sip:+15551230000@198.51.100.20>\r\n"
           "Call-ID: " +
           call_id +
           "\r\n"
           "CSeq: 1 INVITE\r\n"
           "Content-Length: 0\r\n"
           "\r\n";
}

// A message in sofia's parsed form, as the tap has it for one sent.
struct parsed_msg {
    explicit parsed_msg(const std::string& text)
        : msg(msg_make(sip_default_mclass(), 0, text.data(), text.size())) {
        REQUIRE(msg != nullptr);
    }
    ~parsed_msg() { msg_destroy(msg); }
    parsed_msg(const parsed_msg&) = delete;
    parsed_msg& operator=(const parsed_msg&) = delete;
    const sip_t* sip() const { return sip_object(msg); }
    msg_t* msg;
};

sip_packet packet_of(const std::string& bytes, const sip_t* sip, sip_direction d, sip_transport t) {
    sip_packet p;
    p.direction = d;
    p.transport = t;
    p.local = ep("127.0.0.1", 5060);
    p.remote = ep("192.0.2.10", 5062);
    p.wall_us = 1'700'000'000'250'000;
    p.bytes = bytes;
    p.sip = sip;
    return p;
}

std::uint16_t port_of(int fd) {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0);
    return ntohs(sin.sin_port);
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

// A UDP socket on 127.0.0.1 and an ephemeral port: the capture server.
unique_fd udp_receiver() {
    unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    const auto sin = loopback(0);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0);
    return fd;
}

// A TCP listener on 127.0.0.1:`port` (0: ephemeral). `rcvbuf` > 0 makes the
// connections it accepts take little before the sender must wait.
unique_fd tcp_listener(std::uint16_t port, int rcvbuf = 0) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    const int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (rcvbuf > 0) {
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    const auto sin = loopback(port);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin) == 0);
    REQUIRE(::listen(fd.get(), 4) == 0);
    return fd;
}

std::vector<std::string> read_datagrams(int fd) {
    std::vector<std::string> out;
    char buf[70000];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0) {
            return out;
        }
        out.emplace_back(buf, static_cast<std::size_t>(n));
    }
}

// The capture server's side of a TCP connection: the stream cut into HEP
// packets by their length fields.
struct tcp_reader {
    unique_fd conn;
    std::string stream;
    std::vector<std::string> packets;
    bool closed = false;

    bool accept_from(int listener) {
        conn.reset(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        return static_cast<bool>(conn);
    }
    void read() {
        char buf[65536];
        for (;;) {
            const ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);
            if (n <= 0) {
                closed = n == 0;
                break;
            }
            stream.append(buf, static_cast<std::size_t>(n));
        }
        for (;;) {
            auto length = hep_frame_length(stream);
            REQUIRE(length);
            if (!*length || **length > stream.size()) {
                return;
            }
            packets.push_back(stream.substr(0, **length));
            stream.erase(0, **length);
        }
    }
};

hep_packet decoded(const std::string& packet) {
    auto h = decode_hep(packet);
    INFO((h.ok() ? std::string() : h.error_message()));
    REQUIRE(h);
    return *h;
}

hep_config server_at(std::uint16_t port, hep_config::hep_transport t) {
    hep_config c;
    c.address = "127.0.0.1:" + std::to_string(port);
    c.transport = t;
    c.password = "pw";
    c.capture_id = 99;
    return c;
}

// A capture store's answer: the B leg's Call-ID belongs to the call whose
// A leg's Call-ID is the correlation ID.
struct two_legs final : sbc::capture::call_correlation {
    std::string correlation_of(std::string_view call_id) const override {
        return call_id == "b-leg@sbc" ? "a-leg@peer" : std::string(call_id);
    }
};

std::uint64_t stat(const hep_exporter& e, const char* name) {
    return e.stats().at(name).get<std::uint64_t>();
}

}  // namespace

TEST_CASE("hep exporter: UDP, each message one datagram, both directions", "[hep_exporter]") {
    sbc::test::sip_loop loop;
    const auto receiver = udp_receiver();
    hep_exporter exporter(
        loop.root(), server_at(port_of(receiver.get()), hep_config::hep_transport::udp), nullptr);

    // A received message sofia parsed, and a sent TLS one known only by its
    // bytes (its Call-ID in the compact form).
    const auto in_text = invite("a-leg@peer");
    const parsed_msg in_msg(in_text);
    exporter.on_sip(packet_of(in_text, in_msg.sip(), sip_direction::in, sip_transport::udp));
    const std::string out_text = "SIP/2.0 180 Ringing\r\ni:  b-leg@sbc \r\nCSeq: 1 INVITE\r\n\r\n";
    exporter.on_sip(packet_of(out_text, nullptr, sip_direction::out, sip_transport::tls));

    std::vector<std::string> got;
    REQUIRE(loop.run_until([&] {
        for (auto& d : read_datagrams(receiver.get())) {
            got.push_back(std::move(d));
        }
        return got.size() == 2;
    }));
    const auto first = decoded(got[0]);
    CHECK(first.src == ep("192.0.2.10", 5062));
    CHECK(first.dst == ep("127.0.0.1", 5060));
    CHECK(first.ip_protocol == 17);
    CHECK(first.proto_type == 1);
    CHECK(first.capture_id == 99);
    CHECK(first.seconds == 1'700'000'000);
    CHECK(first.microseconds == 250'000);
    REQUIRE(first.password);
    CHECK(*first.password == "pw");
    REQUIRE(first.correlation_id);
    CHECK(*first.correlation_id == "a-leg@peer");
    CHECK(first.payload == in_text);

    const auto second = decoded(got[1]);
    CHECK(second.src == ep("127.0.0.1", 5060));
    CHECK(second.dst == ep("192.0.2.10", 5062));
    CHECK(second.ip_protocol == 6);  // TLS leg, in the clear, as TCP
    REQUIRE(second.correlation_id);
    CHECK(*second.correlation_id == "b-leg@sbc");
    CHECK(second.payload == out_text);

    const auto s = exporter.stats();
    CHECK(s.at("transport") == "udp");
    CHECK(s.at("sent") == 2);
    CHECK(s.at("dropped") == 0);
    CHECK(s.at("errors") == 0);
}

TEST_CASE("hep exporter: the correlation tells a call's legs, a report goes as QoS",
          "[hep_exporter]") {
    sbc::test::sip_loop loop;
    const auto receiver = udp_receiver();
    const two_legs correlation;
    hep_config c = server_at(port_of(receiver.get()), hep_config::hep_transport::udp);
    c.password.clear();
    hep_exporter exporter(loop.root(), c, &correlation);

    const auto a_text = invite("a-leg@peer");
    const auto b_text = invite("b-leg@sbc");
    const parsed_msg a_msg(a_text);
    const parsed_msg b_msg(b_text);
    exporter.on_sip(packet_of(a_text, a_msg.sip(), sip_direction::in, sip_transport::udp));
    exporter.on_sip(packet_of(b_text, b_msg.sip(), sip_direction::out, sip_transport::tcp));
    // No Call-ID at all: no correlation chunk.
    const std::string bare = "OPTIONS sip:x@192.0.2.10 SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
    exporter.on_sip(packet_of(bare, nullptr, sip_direction::in, sip_transport::udp));
    const std::string report = R"({"legs":[{"loss":0.05,"jitter_ms":30,"mos":3.9}]})";
    exporter.send_report("a-leg@peer", ep("127.0.0.1", 40000), ep("192.0.2.10", 30000), report,
                         1'700'000'100'000'000);

    std::vector<std::string> got;
    REQUIRE(loop.run_until([&] {
        for (auto& d : read_datagrams(receiver.get())) {
            got.push_back(std::move(d));
        }
        return got.size() == 4;
    }));
    for (int i = 0; i < 2; ++i) {
        const auto h = decoded(got[i]);
        REQUIRE(h.correlation_id);
        CHECK(*h.correlation_id == "a-leg@peer");
        CHECK_FALSE(h.password);
    }
    CHECK_FALSE(decoded(got[2]).correlation_id);
    const auto q = decoded(got[3]);
    CHECK(q.proto_type == 0x23);
    CHECK(q.ip_protocol == 17);
    CHECK(q.src == ep("127.0.0.1", 40000));
    CHECK(q.dst == ep("192.0.2.10", 30000));
    CHECK(q.seconds == 1'700'000'100);
    REQUIRE(q.correlation_id);
    CHECK(*q.correlation_id == "a-leg@peer");
    CHECK(q.payload == report);
}

TEST_CASE("hep exporter: an address that is not IP:PORT is refused", "[hep_exporter]") {
    sbc::test::sip_loop loop;
    hep_config c;
    c.address = "homer:9060";
    CHECK_THROWS_AS(hep_exporter(loop.root(), c, nullptr), std::invalid_argument);
    c.address = "127.0.0.1";
    CHECK_THROWS_AS(hep_exporter(loop.root(), c, nullptr), std::invalid_argument);
}

TEST_CASE("hep exporter: TCP, packets one after the other on one connection", "[hep_exporter]") {
    sbc::test::sip_loop loop;
    const auto listener = tcp_listener(0);
    hep_exporter exporter(
        loop.root(), server_at(port_of(listener.get()), hep_config::hep_transport::tcp), nullptr);
    tcp_reader server;
    REQUIRE(loop.run_until([&] { return server.accept_from(listener.get()); }));
    REQUIRE(loop.run_until([&] { return exporter.stats().at("connected") == true; }));

    std::vector<std::string> texts;
    for (int i = 0; i < 3; ++i) {
        texts.push_back(invite("call-" + std::to_string(i) + "@peer"));
    }
    for (const auto& t : texts) {
        exporter.on_sip(packet_of(t, nullptr, sip_direction::in, sip_transport::tcp));
    }
    REQUIRE(loop.run_until([&] {
        server.read();
        return server.packets.size() == 3;
    }));
    for (int i = 0; i < 3; ++i) {
        const auto h = decoded(server.packets[i]);
        CHECK(h.ip_protocol == 6);
        CHECK(h.payload == texts[i]);
        REQUIRE(h.correlation_id);
        CHECK(*h.correlation_id == "call-" + std::to_string(i) + "@peer");
    }
    CHECK(stat(exporter, "sent") == 3);
    CHECK(stat(exporter, "connects") == 1);
    CHECK(stat(exporter, "queue") == 0);
}

TEST_CASE("hep exporter: TCP to a server that does not read: a bounded queue, drops counted",
          "[hep_exporter]") {
    sbc::test::sip_loop loop;
    const auto listener = tcp_listener(0, 4096);
    hep_exporter_limits limits;
    limits.queue_bytes = 64 * 1024;
    hep_exporter exporter(loop.root(),
                          server_at(port_of(listener.get()), hep_config::hep_transport::tcp),
                          nullptr, limits);
    tcp_reader server;
    REQUIRE(loop.run_until([&] { return server.accept_from(listener.get()); }));
    REQUIRE(loop.run_until([&] { return exporter.stats().at("connected") == true; }));

    // ~1 KiB messages, 100 at a time with a turn of the loop between, until
    // the kernel's buffers and then the queue are full.
    const auto text = invite("big@peer") + std::string(1000, 'x');
    std::uint64_t offered = 0;
    for (int round = 0; round < 400 && stat(exporter, "dropped") == 0; ++round) {
        for (int i = 0; i < 100; ++i) {
            exporter.on_sip(packet_of(text, nullptr, sip_direction::out, sip_transport::tcp));
            ++offered;
            REQUIRE(stat(exporter, "queue_bytes") <= limits.queue_bytes);
        }
        loop.drain();
    }
    const auto s = exporter.stats();
    INFO(s.dump());
    REQUIRE(s.at("dropped").get<std::uint64_t>() > 0);
    CHECK(s.at("connected") == true);
    CHECK(s.at("errors") == 0);
    CHECK(s.at("sent").get<std::uint64_t>() + s.at("dropped").get<std::uint64_t>() +
              s.at("queue").get<std::uint64_t>() ==
          offered);

    // Once the server reads, everything queued arrives, each packet whole.
    REQUIRE(loop.run_until([&] {
        server.read();
        return stat(exporter, "queue") == 0 && server.packets.size() == stat(exporter, "sent");
    }));
    for (const auto& p : server.packets) {
        CHECK(decoded(p).payload == text);
    }
    CHECK(server.stream.empty());
}

TEST_CASE("hep exporter: TCP connects again after the server restarts", "[hep_exporter]") {
    sbc::test::sip_loop loop;
    auto listener = tcp_listener(0);
    const auto port = port_of(listener.get());
    hep_exporter_limits limits;
    limits.backoff_min = std::chrono::milliseconds(10);
    limits.backoff_max = std::chrono::milliseconds(50);
    hep_exporter exporter(loop.root(), server_at(port, hep_config::hep_transport::tcp), nullptr,
                          limits);
    auto server = std::make_unique<tcp_reader>();
    REQUIRE(loop.run_until([&] { return server->accept_from(listener.get()); }));
    const auto first = invite("before@peer");
    exporter.on_sip(packet_of(first, nullptr, sip_direction::in, sip_transport::tcp));
    REQUIRE(loop.run_until([&] {
        server->read();
        return server->packets.size() == 1;
    }));

    // The server goes: the exporter sees the close, and its attempts to
    // connect again are refused while nothing listens.
    server.reset();
    listener.reset();
    REQUIRE(loop.run_until([&] { return stat(exporter, "errors") >= 3; }));
    CHECK(exporter.stats().at("connected") == false);
    // What is captured meanwhile waits in the queue.
    const auto second = invite("during@peer");
    exporter.on_sip(packet_of(second, nullptr, sip_direction::in, sip_transport::tcp));
    CHECK(stat(exporter, "queue") == 1);

    // The server is back on its port: the exporter connects and sends.
    listener = tcp_listener(port);
    server = std::make_unique<tcp_reader>();
    REQUIRE(loop.run_until([&] { return server->accept_from(listener.get()); }));
    REQUIRE(loop.run_until([&] {
        server->read();
        return server->packets.size() == 1;
    }));
    CHECK(decoded(server->packets[0]).payload == second);
    CHECK(stat(exporter, "connects") == 2);
    CHECK(stat(exporter, "sent") == 2);
    CHECK(exporter.stats().contains("last_error"));
}

}  // namespace test_hep_exporter
