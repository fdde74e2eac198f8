// HEP3 encoding: round trips of IPv4 and IPv6 records with and without the
// optional chunks, a small packet checked byte by byte against the HEP3
// specification's layout, and malformed packets the decoder must refuse.
#include "sbc/capture/hep_encoder.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <string>

using sbc::capture::decode_hep;
using sbc::capture::encode_hep;
using sbc::capture::hep_encoded_size;
using sbc::capture::hep_frame_length;
using sbc::capture::hep_ip_protocol;
using sbc::capture::hep_max_packet;
using sbc::capture::hep_proto_type;
using sbc::capture::hep_record;
using sbc::dataplane::ip_endpoint;

namespace test_hep_encoder {

namespace {

ip_endpoint ep(const char* ip, std::uint16_t port) {
    auto e = ip_endpoint::from_string(ip, port);
    REQUIRE(e);
    return *e;
}

hep_record sip_record() {
    hep_record r;
    r.type = hep_proto_type::sip;
    r.ip_protocol = hep_ip_protocol::udp;
    r.src = ep("192.0.2.1", 5060);
    r.dst = ep("198.51.100.2", 5080);
    r.wall_us = 1'700'000'000'123'456;
    r.capture_id = 2001;
    r.payload = "OPTIONS sip:a@198.51.100.2 SIP/2.0\r\nCall-ID: x@y\r\n\r\n";
    return r;
}

std::string encoded(const hep_record& r) {
    std::string out;
    REQUIRE(encode_hep(r, out));
    return out;
}

// Bytes written out in the test, as the specification lays them out.
std::string bytes(std::initializer_list<int> list) {
    std::string s;
    for (int b : list) {
        s.push_back(static_cast<char>(b));
    }
    return s;
}

std::string reason_of(const std::string& packet) {
    auto r = decode_hep(packet);
    REQUIRE_FALSE(r);
    return r.error_message();
}

}  // namespace

TEST_CASE("hep: an IPv4 SIP record round-trips with password and correlation ID", "[hep]") {
    auto r = sip_record();
    r.password = "secret";
    r.correlation_id = "a-leg@192.0.2.1";
    const auto packet = encoded(r);
    CHECK(packet.size() == hep_encoded_size(r));
    auto h = decode_hep(packet);
    REQUIRE(h);
    CHECK(h->family == AF_INET);
    CHECK(h->ip_protocol == 17);
    CHECK(h->src == r.src);
    CHECK(h->dst == r.dst);
    CHECK(h->seconds == 1'700'000'000);
    CHECK(h->microseconds == 123'456);
    CHECK(h->proto_type == 1);
    CHECK(h->capture_id == 2001);
    REQUIRE(h->password);
    CHECK(*h->password == "secret");
    REQUIRE(h->correlation_id);
    CHECK(*h->correlation_id == "a-leg@192.0.2.1");
    CHECK(h->payload == r.payload);
}

TEST_CASE("hep: an IPv6 TCP record round-trips without the optional chunks", "[hep]") {
    auto r = sip_record();
    r.ip_protocol = hep_ip_protocol::tcp;
    r.src = ep("2001:db8::1", 5061);
    r.dst = ep("2001:db8::2", 40000);
    r.type = hep_proto_type::qos_report;
    r.payload = R"({"mos":4.3})";
    const auto packet = encoded(r);
    auto h = decode_hep(packet);
    REQUIRE(h);
    CHECK(h->family == AF_INET6);
    CHECK(h->ip_protocol == 6);
    CHECK(h->src == r.src);
    CHECK(h->dst == r.dst);
    CHECK(h->proto_type == 0x23);
    CHECK_FALSE(h->password);
    CHECK_FALSE(h->correlation_id);
    CHECK(h->payload == R"({"mos":4.3})");
}

TEST_CASE("hep: packets are appended to what the buffer holds", "[hep]") {
    std::string out = "before";
    const auto r = sip_record();
    REQUIRE(encode_hep(r, out));
    REQUIRE(encode_hep(r, out));
    const std::string_view all(out);
    CHECK(all.substr(0, 6) == "before");
    const auto size = hep_encoded_size(r);
    REQUIRE(all.size() == 6 + 2 * size);
    auto framed = hep_frame_length(all.substr(6));
    REQUIRE(framed);
    REQUIRE(*framed);
    CHECK(**framed == size);
    CHECK(decode_hep(all.substr(6, size)));
    CHECK(decode_hep(all.substr(6 + size)));
}

TEST_CASE("hep: one small packet, byte by byte as the HEP3 specification lays it out", "[hep]") {
    hep_record r;
    r.type = hep_proto_type::sip;
    r.ip_protocol = hep_ip_protocol::udp;
    r.src = ep("192.0.2.1", 5060);
    r.dst = ep("198.51.100.2", 5080);
    r.wall_us = 1'700'000'000'000'001;
    r.capture_id = 2001;
    r.password = "pw";
    r.correlation_id = "c";
    r.payload = "x";
    // Each chunk: vendor (0x0000), type, length of the whole chunk, value;
    // all big-endian. 1700000000 is 0x6553f100; 2001 is 0x07d1; 5060 is
    // 0x13c4, 5080 0x13d8.
    const std::string want = bytes({
        'H',  'E',  'P',  '3',  0x00, 0x73,                          // magic, total length 115
        0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x02,                    // IP family: IPv4
        0x00, 0x00, 0x00, 0x02, 0x00, 0x07, 0x11,                    // IP protocol: UDP (17)
        0x00, 0x00, 0x00, 0x03, 0x00, 0x0a, 192,  0,    2,    1,     // IPv4 source
        0x00, 0x00, 0x00, 0x04, 0x00, 0x0a, 198,  51,   100,  2,     // IPv4 destination
        0x00, 0x00, 0x00, 0x07, 0x00, 0x08, 0x13, 0xc4,              // source port 5060
        0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x13, 0xd8,              // destination port 5080
        0x00, 0x00, 0x00, 0x09, 0x00, 0x0a, 0x65, 0x53, 0xf1, 0x00,  // seconds
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01,  // microseconds
        0x00, 0x00, 0x00, 0x0b, 0x00, 0x07, 0x01,                    // protocol type: SIP
        0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x00, 0x07, 0xd1,  // capture ID 2001
        0x00, 0x00, 0x00, 0x0e, 0x00, 0x08, 'p',  'w',               // auth key
        0x00, 0x00, 0x00, 0x11, 0x00, 0x07, 'c',                     // correlation ID
        0x00, 0x00, 0x00, 0x0f, 0x00, 0x07, 'x',                     // payload
    });
    REQUIRE(want.size() == 115);
    CHECK(encoded(r) == want);
}

TEST_CASE("hep: what cannot be encoded leaves the buffer as it was", "[hep]") {
    std::string out = "kept";
    auto r = sip_record();
    r.dst = ep("2001:db8::2", 5060);  // families differ
    CHECK(hep_encoded_size(r) == 0);
    CHECK_FALSE(encode_hep(r, out));
    r.dst = ip_endpoint{};  // no address
    CHECK_FALSE(encode_hep(r, out));
    r = sip_record();
    const std::string huge(hep_max_packet, 'x');  // with the chunks, past 65535
    r.payload = huge;
    CHECK_FALSE(encode_hep(r, out));
    CHECK(out == "kept");
}

TEST_CASE("hep: every truncation of a packet is refused, never read past", "[hep]") {
    auto r = sip_record();
    r.password = "pw";
    r.correlation_id = "cid";
    const auto packet = encoded(r);
    for (std::size_t n = 0; n < packet.size(); ++n) {
        // Each prefix in a buffer of its own, so that a read past its end
        // is AddressSanitizer's to see.
        const std::string prefix = packet.substr(0, n);
        CHECK_FALSE(decode_hep(prefix));
        if (n >= 6) {
            // The same with a length field that agrees: the chunks overrun.
            std::string relabelled = prefix;
            relabelled[4] = static_cast<char>(n >> 8);
            relabelled[5] = static_cast<char>(n & 0xff);
            CHECK_FALSE(decode_hep(relabelled));
        }
    }
    CHECK(decode_hep(packet));
}

TEST_CASE("hep: garbled packets are refused with the reason", "[hep]") {
    const auto good = encoded(sip_record());

    auto p = good;
    p[0] = 'X';
    CHECK(reason_of(p) == "not a HEP3 packet: it does not begin with \"HEP3\"");

    // The length field disagrees with the packet.
    p = good + "z";
    CHECK(reason_of(p) == "HEP3 length field says " + std::to_string(good.size()) +
                              " bytes, the packet has " + std::to_string(good.size() + 1));
    p = good;
    p[4] = 0;
    p[5] = 3;
    CHECK(reason_of(p) == "HEP3 length 3 is shorter than its header");

    // The first chunk (IP family, at offset 6) with a length under its
    // header's, then past the packet's end.
    p = good;
    p[10] = 0;
    p[11] = 5;
    CHECK(reason_of(p) == "chunk 1 at offset 6 has length 5, outside the packet");
    p[10] = static_cast<char>(0xff);
    p[11] = static_cast<char>(0xff);
    CHECK(reason_of(p) == "chunk 1 at offset 6 has length 65535, outside the packet");

    // A family that is neither IPv4 nor IPv6.
    p = good;
    p[12] = 7;
    CHECK(reason_of(p) == "IP family 7 is neither IPv4 (2) nor IPv6 (10)");

    // The IP protocol chunk (offset 13) made the family chunk's type: twice.
    p = good;
    p[16] = 1;
    CHECK(reason_of(p) == "chunk 1 appears twice");

    // The source address chunk (offset 20) made an IPv6 one: the wrong size.
    p = good;
    p[23] = 5;
    CHECK(reason_of(p) == "chunk 5 has 4 value bytes, expected 16");

    // The payload chunk's type (the last chunk) made another vendor's: skipped, so missing.
    p = good;
    const auto payload_at = good.size() - 6 - sip_record().payload.size();
    p[payload_at] = 0x12;
    CHECK(reason_of(p) == "chunk 15 is missing");
}

TEST_CASE("hep: unknown generic chunks and other vendors' chunks are skipped", "[hep]") {
    auto p = encoded(sip_record());
    // A node name (generic chunk 19) and a vendor chunk, appended.
    const std::string extra = bytes({0x00, 0x00, 0x00, 0x13, 0x00, 0x08, 'n', '1',  //
                                     0x00, 0x99, 0x00, 0x01, 0x00, 0x06});
    p += extra;
    const auto total = p.size();
    p[4] = static_cast<char>(total >> 8);
    p[5] = static_cast<char>(total & 0xff);
    auto h = decode_hep(p);
    REQUIRE(h);
    CHECK(h->payload == sip_record().payload);
}

TEST_CASE("hep: frame lengths cut a TCP stream", "[hep]") {
    auto none = hep_frame_length("HEP");
    REQUIRE(none);
    CHECK_FALSE(*none);
    CHECK_FALSE(hep_frame_length("HEX"));
    CHECK_FALSE(hep_frame_length("GET / HTTP/1.1\r\n"));
    const auto packet = encoded(sip_record());
    auto n = hep_frame_length(packet + "HEP3");
    REQUIRE(n);
    REQUIRE(*n);
    CHECK(**n == packet.size());
}

}  // namespace test_hep_encoder
