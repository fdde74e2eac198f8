// sbcctl trace's ladder and sbcctl pcap's pcapng, from made-up answers of
// sbcd's trace and sip_capture commands.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include "sbc/sdp/sdes.hpp"
#include "tools/sbcctl/sip_ladder.hpp"
#include "tools/sbcctl/sip_pcap.hpp"

namespace test_sbcctl_capture {
namespace {

nlohmann::json message(std::uint64_t seq, const char* dir, const char* local, const char* remote,
                       const char* summary, const char* transport = "udp") {
    return {{"seq", seq},
            {"call", "7"},
            {"t_us", 1'700'000'000'123'456},
            {"dir", dir},
            {"transport", transport},
            {"local", local},
            {"remote", remote},
            {"call_id", "c"},
            {"summary", summary}};
}

std::uint32_t u32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    std::memcpy(&v, s.data() + at, 4);
    return v;
}

std::uint16_t be16(const std::string& s, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                      static_cast<unsigned char>(s[at + 1]));
}

}  // namespace

TEST_CASE("sbcctl trace draws each message as an arrow between its addresses", "[sbcctl]") {
    nlohmann::json trace = {
        {"next", 3},
        {"calls", {{"7", {{"from", "2000"}, {"to", "1000"}, {"trunks", {"pbx", "carrier"}}}}}},
        {"messages",
         {message(1, "in", "192.0.2.1:5060", "192.0.2.2:5060", "INVITE"),
          message(2, "out", "198.51.100.1:5061", "198.51.100.2:5061", "INVITE", "tls"),
          message(3, "out", "192.0.2.1:5060", "192.0.2.2:5060", "200 OK (INVITE)")}}};
    sbc::ctl::sip_ladder ladder;
    const auto text = ladder.render(trace);
    INFO(text);
    CHECK(text.find("[call 7] from 2000 to 1000, trunks pbx, carrier\n") == 0);
    CHECK(text.find("|--------INVITE-------->|  udp") != std::string::npos);
    CHECK(text.find("198.51.100.2:5061") != std::string::npos);
    CHECK(text.find("-INVITE-------->|  tls") != std::string::npos);
    CHECK(text.find("|<--200 OK (INVITE)-----|") != std::string::npos);
    // A second answer for the same call does not introduce it again.
    nlohmann::json more = {
        {"messages", {message(4, "in", "192.0.2.1:5060", "192.0.2.2:5060", "ACK")}}};
    const auto next = ladder.render(more);
    CHECK(next.find("from 2000") == std::string::npos);
    CHECK(next.find("ACK") != std::string::npos);
}

TEST_CASE("sbcctl trace keeps control characters from peers off the terminal", "[sbcctl]") {
    nlohmann::json trace = {
        {"messages", {message(1, "in", "192.0.2.1:5060", "192.0.2.2:5060", "INV\x1b[2JITE")}}};
    const auto text = sbc::ctl::sip_ladder().render(trace);
    CHECK(text.find('\x1b') == std::string::npos);
}

TEST_CASE("sbcctl pcap writes exported PDUs Wireshark dissects as SIP", "[sbcctl]") {
    const std::string sip = "OPTIONS sip:a@192.0.2.1 SIP/2.0\r\n\r\n";
    auto m = message(1, "in", "192.0.2.1:5060", "192.0.2.2:5070", "OPTIONS", "tcp");
    m["bytes"] = sbc::sdp::base64_encode(std::vector<std::uint8_t>(sip.begin(), sip.end()));
    auto v6 = message(2, "out", "[2001:db8::1]:5060", "[2001:db8::2]:5060", "OPTIONS");
    v6["bytes"] = m["bytes"];
    auto pcap = sbc::ctl::sip_pcapng({{"messages", {m, v6}}});
    REQUIRE(pcap);
    const std::string& s = *pcap;
    REQUIRE(s.size() > 28);
    CHECK(u32(s, 0) == 0x0A0D0D0A);
    CHECK(u32(s, 8) == 0x1A2B3C4D);
    const std::size_t idb = u32(s, 4);
    CHECK(u32(s, idb) == 1);
    CHECK((u32(s, idb + 8) & 0xffff) == 252);
    std::size_t at = idb + u32(s, idb + 4);
    CHECK(u32(s, at) == 6);  // an enhanced packet block
    const std::uint64_t ts = (static_cast<std::uint64_t>(u32(s, at + 12)) << 32) | u32(s, at + 16);
    CHECK(ts == 1'700'000'000'123'456);
    const std::size_t pdu = at + 28;
    CHECK(be16(s, pdu) == 12);  // the dissector's name
    CHECK(be16(s, pdu + 2) == 4);
    CHECK(s.compare(pdu + 4, 4, std::string("sip\0", 4)) == 0);
    CHECK(be16(s, pdu + 8) == 20);  // IPv4 source: the peer, for a message received
    CHECK(static_cast<unsigned char>(s[pdu + 15]) == 2);
    const std::size_t caplen = u32(s, at + 20);
    CHECK(s.compare(pdu + caplen - sip.size(), sip.size(), sip) == 0);
    at += u32(s, at + 4);
    CHECK(u32(s, at) == 6);
    CHECK(be16(s, at + 28 + 8) == 22);  // IPv6 source
    CHECK(at + u32(s, at + 4) == s.size());
}

TEST_CASE("sbcctl pcap refuses an answer it cannot read", "[sbcctl]") {
    auto m = message(5, "in", "192.0.2.1:5060", "nowhere", "OPTIONS");
    m["bytes"] = "";
    auto pcap = sbc::ctl::sip_pcapng({{"messages", {m}}});
    REQUIRE_FALSE(pcap);
    CHECK(pcap.error_message().find("message 5") != std::string::npos);
    CHECK_FALSE(sbc::ctl::sip_pcapng(nlohmann::json::object()));
}

}  // namespace test_sbcctl_capture
