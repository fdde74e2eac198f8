// The SIP counters of the metrics, fed sip_packets as the SIP tap makes
// them: messages sofia parsed from text, on interfaces told apart by their
// listeners' addresses.
#include "sbc/metrics/sip_counters.hpp"

#include <sofia-sip/msg.h>
#include <sofia-sip/sip_header.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

namespace test_sip_counters {

namespace {

using sbc::capture::sip_direction;
using sbc::capture::sip_packet;
using sbc::dataplane::ip_endpoint;
using sbc::metrics::sip_counters;
using sbc::metrics::sip_method_slot;

ip_endpoint ep(const char* ip, std::uint16_t port) {
    auto e = ip_endpoint::from_string(ip, port);
    REQUIRE(e);
    return *e;
}

struct msg_unref {
    void operator()(msg_t* m) const noexcept { msg_destroy(m); }
};

// A message parsed by sofia, as the tap hands it over.
class parsed {
public:
    explicit parsed(const std::string& text)
        : _text(text),
          _msg(
              msg_make(sip_default_mclass(), 0, _text.data(), static_cast<ssize_t>(_text.size()))) {
        REQUIRE(_msg);
    }
    const sip_t* sip() const { return sip_object(_msg.get()); }

private:
    std::string _text;
    std::unique_ptr<msg_t, msg_unref> _msg;
};

std::string request(const std::string& method, const std::string& cseq_method = "") {
    return method +
           " sip:2000@192.0.2.10 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1\r\n"
           "From: <sip:1000@192.0.2.20>;tag=a\r\n"
           "To: <sip:2000@192.0.2.10>\r\n"
           "Call-ID: c1@192.0.2.20\r\n"
           "CSeq: 1 " +
           (cseq_method.empty() ? method : cseq_method) +
           "\r\n"
           "Max-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n";
}

std::string response(int status, const std::string& cseq_method) {
    return "SIP/2.0 " + std::to_string(status) +
           " Whatever\r\n"
           "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK1\r\n"
           "From: <sip:1000@192.0.2.20>;tag=a\r\n"
           "To: <sip:2000@192.0.2.10>;tag=b\r\n"
           "Call-ID: c1@192.0.2.20\r\n"
           "CSeq: 1 " +
           cseq_method +
           "\r\n"
           "Content-Length: 0\r\n\r\n";
}

sip_packet packet(sip_direction d, const ip_endpoint& local, const sip_t* sip) {
    sip_packet p;
    p.direction = d;
    p.local = local;
    p.remote = ep("192.0.2.20", 5060);
    p.sip = sip;
    return p;
}

// "outside" on 192.0.2.10:5060 and :5061, "inside" on 198.51.100.1:5060,
// "shared" on 203.0.113.1:5060 with "shared2" on 203.0.113.1:5070,
// "any6" on [::]:5080.
sip_counters make_counters() {
    return sip_counters({{"outside", {ep("192.0.2.10", 5060), ep("192.0.2.10", 5061)}},
                         {"inside", {ep("198.51.100.1", 5060)}},
                         {"shared", {ep("203.0.113.1", 5060)}},
                         {"shared2", {ep("203.0.113.1", 5070)}},
                         {"any6", {ep("::", 5080)}}});
}

constexpr std::size_t outside = 0;
constexpr std::size_t inside = 1;

}  // namespace

TEST_CASE("SIP counters: the interface of sbcd's address", "[metrics][sip_counters]") {
    const auto c = make_counters();
    REQUIRE(c.interface_count() == 6);
    const std::size_t unknown = 5;
    CHECK(c.interface_name(unknown) == "unknown");
    CHECK(c.interface_of(ep("192.0.2.10", 5060)) == outside);
    CHECK(c.interface_of(ep("192.0.2.10", 5061)) == outside);
    CHECK(c.interface_of(ep("198.51.100.1", 5060)) == inside);
    // A connection sbcd opened: its ephemeral port on the listener's address.
    CHECK(c.interface_of(ep("198.51.100.1", 40001)) == inside);
    CHECK(c.interface_of(ep("203.0.113.1", 5070)) == 3);
    // Two interfaces on that address: an ephemeral port cannot tell whose.
    CHECK(c.interface_of(ep("203.0.113.1", 40001)) == unknown);
    // The wildcard listener takes every address of its family.
    CHECK(c.interface_of(ep("2001:db8::1", 5080)) == 4);
    CHECK(c.interface_of(ep("2001:db8::1", 40001)) == 4);
    CHECK(c.interface_of(ep("192.0.2.99", 5060)) == unknown);
    CHECK(c.interface_of(ip_endpoint()) == unknown);
}

TEST_CASE("SIP counters: requests by method, responses by CSeq method and class",
          "[metrics][sip_counters]") {
    auto c = make_counters();
    const auto local = ep("192.0.2.10", 5060);
    for (const char* m : {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "UPDATE", "INFO",
                          "REFER", "NOTIFY", "SUBSCRIBE", "PRACK", "MESSAGE", "PUBLISH"}) {
        parsed p(request(m));
        c.on_sip(packet(sip_direction::in, local, p.sip()));
    }
    parsed invite(request("INVITE"));
    c.on_sip(packet(sip_direction::in, local, invite.sip()));
    c.on_sip(packet(sip_direction::out, ep("198.51.100.1", 5060), invite.sip()));
    parsed odd(request("FOO", "FOO"));
    c.on_sip(packet(sip_direction::in, local, odd.sip()));

    using d = sip_direction;
    CHECK(c.requests(outside, d::in, sip_method_slot::invite) == 2);
    CHECK(c.requests(outside, d::out, sip_method_slot::invite) == 0);
    CHECK(c.requests(inside, d::out, sip_method_slot::invite) == 1);
    for (auto m : {sip_method_slot::ack, sip_method_slot::bye, sip_method_slot::cancel,
                   sip_method_slot::options, sip_method_slot::register_, sip_method_slot::update,
                   sip_method_slot::info, sip_method_slot::refer, sip_method_slot::notify,
                   sip_method_slot::subscribe, sip_method_slot::prack, sip_method_slot::message,
                   sip_method_slot::publish, sip_method_slot::other}) {
        INFO(to_label(m));
        CHECK(c.requests(outside, d::in, m) == 1);
    }

    parsed ringing(response(180, "INVITE"));
    parsed ok(response(200, "INVITE"));
    parsed busy(response(486, "INVITE"));
    parsed bye_ok(response(200, "BYE"));
    parsed refused(response(603, "FOO"));
    c.on_sip(packet(d::out, local, ringing.sip()));
    c.on_sip(packet(d::out, local, ok.sip()));
    c.on_sip(packet(d::out, local, ok.sip()));  // a retransmission counts too
    c.on_sip(packet(d::in, local, busy.sip()));
    c.on_sip(packet(d::in, local, bye_ok.sip()));
    c.on_sip(packet(d::in, local, refused.sip()));
    CHECK(c.responses(outside, d::out, sip_method_slot::invite, 0) == 1);
    CHECK(c.responses(outside, d::out, sip_method_slot::invite, 1) == 2);
    CHECK(c.responses(outside, d::in, sip_method_slot::invite, 3) == 1);
    CHECK(c.responses(outside, d::in, sip_method_slot::bye, 1) == 1);
    CHECK(c.responses(outside, d::in, sip_method_slot::other, 5) == 1);
    CHECK(c.responses(outside, d::in, sip_method_slot::invite, 1) == 0);
    // Out of range asks answer 0 rather than read past the table.
    CHECK(c.responses(outside, d::in, sip_method_slot::invite, 6) == 0);
    CHECK(c.requests(99, d::in, sip_method_slot::invite) == 0);
    CHECK(c.malformed(outside, d::in) == 0);
}

TEST_CASE("SIP counters: what sofia could not parse is malformed", "[metrics][sip_counters]") {
    auto c = make_counters();
    const auto local = ep("198.51.100.1", 5060);
    // The tap hands over a received message sofia could not parse with no sip_t.
    c.on_sip(packet(sip_direction::in, local, nullptr));
    // Parsed, but neither a request nor a response.
    parsed garbage("hello world\r\n\r\n");
    c.on_sip(packet(sip_direction::in, local, garbage.sip()));
    CHECK(c.malformed(inside, sip_direction::in) == 2);
    CHECK(c.malformed(outside, sip_direction::in) == 0);
    CHECK(c.requests(inside, sip_direction::in, sip_method_slot::other) == 0);
}

}  // namespace test_sip_counters
