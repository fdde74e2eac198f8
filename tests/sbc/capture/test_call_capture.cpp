// The capture store: messages filed under the call that claimed their
// Call-ID, those that came first adopted at the claim, the bounds, the
// ring of ended calls, correlation IDs and sbcctl trace's answer.
#include <catch2/catch.hpp>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip_protos.h>

#include <memory>
#include <string>

#include "sbc/capture/call_capture.hpp"

namespace test_call_capture {
namespace {

using sbc::capture::call_capture;
using sbc::capture::sip_direction;
using sbc::capture::sip_packet;

struct parsed {
    msg_t* msg = nullptr;
    explicit parsed(const std::string& text) {
        msg = msg_make(sip_default_mclass(), 0, text.data(), static_cast<isize_t>(text.size()));
    }
    ~parsed() { msg_destroy(msg); }
    parsed(const parsed&) = delete;
    parsed& operator=(const parsed&) = delete;
    const sip_t* sip() const { return sip_object(msg); }
};

std::string request(const std::string& method, const std::string& call_id) {
    return method +
           " sip:1000@192.0.2.1 SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK1\r\n"
           "From: <sip:2000@192.0.2.2>;tag=a\r\n"
           "To: <sip:1000@192.0.2.1>\r\n"
           "Call-ID: " +
           call_id + "\r\nCSeq: 1 " + method + "\r\nContent-Length: 0\r\n\r\n";
}

std::string response(int status, const std::string& call_id) {
    return "SIP/2.0 " + std::to_string(status) +
           " OK\r\n"
           "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK1\r\n"
           "From: <sip:2000@192.0.2.2>;tag=a\r\n"
           "To: <sip:1000@192.0.2.1>;tag=b\r\n"
           "Call-ID: " +
           call_id + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
}

void deliver(call_capture& store, const std::string& text, sip_direction dir,
             bool with_sip = true) {
    parsed p(text);
    sip_packet pkt;
    pkt.direction = dir;
    pkt.local = *sbc::dataplane::ip_endpoint::from_string("192.0.2.1", 5060);
    pkt.remote = *sbc::dataplane::ip_endpoint::from_string("192.0.2.2", 5060);
    pkt.wall_us = 1'700'000'000'000'000;
    pkt.bytes = text;
    pkt.sip = with_sip ? p.sip() : nullptr;
    store.on_sip(pkt);
}

}  // namespace

TEST_CASE("capture: a call adopts the messages that came before its claim", "[capture]") {
    call_capture store(10, 100);
    deliver(store, request("INVITE", "leg-a"), sip_direction::in);
    CHECK(store.correlation_of("leg-a") == "leg-a");
    store.claim("7", "leg-a", "pbx", "2000", "1000");
    store.claim("7", "leg-b", "carrier", "", "");
    deliver(store, request("INVITE", "leg-b"), sip_direction::out);
    deliver(store, response(200, "leg-b"), sip_direction::in);
    deliver(store, response(200, "leg-a"), sip_direction::out);

    const auto* c = store.find("7");
    REQUIRE(c != nullptr);
    CHECK(store.find("leg-b") == c);
    REQUIRE(c->messages.size() == 4);
    CHECK(c->messages[0].summary == "INVITE");
    CHECK(c->messages[0].call_id == "leg-a");
    CHECK(c->messages[1].call_id == "leg-b");
    CHECK(c->messages[2].summary == "200 OK (INVITE)");
    CHECK(c->messages[3].direction == sip_direction::out);
    CHECK(c->trunks == std::vector<std::string>{"pbx", "carrier"});
    // Both legs carry the first leg's Call-ID as their correlation ID.
    CHECK(store.correlation_of("leg-b") == "leg-a");
    CHECK(store.correlation_of("leg-a") == "leg-a");
    CHECK(store.correlation_of("other") == "other");
}

TEST_CASE("capture: a message sofia could not parse is filed by its Call-ID text", "[capture]") {
    call_capture store(10, 100);
    store.claim("1", "abc@host", "pbx", "", "");
    deliver(store, "GARBAGE / SIP/9\r\ni: abc@host\r\n\r\n", sip_direction::in, false);
    const auto* c = store.find("1");
    REQUIRE(c != nullptr);
    REQUIRE(c->messages.size() == 1);
    CHECK(c->messages[0].summary == "GARBAGE / SIP/9");
    // Without a Call-ID it belongs to nobody and is dropped.
    deliver(store, "GARBAGE\r\n\r\n", sip_direction::in, false);
    CHECK(store.find("1")->messages.size() == 1);
}

TEST_CASE("capture: bounds per call and on the ring of ended calls", "[capture]") {
    call_capture store(2, 3);
    for (int i = 0; i < 3; ++i) {
        const auto id = std::to_string(i);
        store.claim(id, "cid-" + id, "pbx", "", "");
        for (int m = 0; m < 5; ++m) {
            deliver(store, request("OPTIONS", "cid-" + id), sip_direction::in);
        }
        store.ended(id);
    }
    CHECK(store.find("0") == nullptr);  // the oldest of three, past the ring of two
    REQUIRE(store.find("1") != nullptr);
    CHECK(store.find("1")->messages.size() == 3);
    CHECK(store.find("1")->dropped == 2);
    CHECK(store.find("cid-0") == nullptr);
    CHECK(store.correlation_of("cid-0") == "cid-0");
    CHECK(store.stats()["calls"] == 2);
}

TEST_CASE("capture: with no calls kept, only correlation remains", "[capture]") {
    call_capture store(0, 200);
    store.claim("1", "a", "pbx", "", "");
    store.claim("1", "b", "carrier", "", "");
    deliver(store, request("INVITE", "b"), sip_direction::out);
    CHECK(store.find("1")->messages.empty());
    CHECK(store.correlation_of("b") == "a");
    store.ended("1");
    CHECK(store.find("1") == nullptr);
    CHECK(store.correlation_of("b") == "b");
}

TEST_CASE("capture: unclaimed Call-IDs are bounded", "[capture]") {
    call_capture store(10, 100);
    for (int i = 0; i < 1000; ++i) {
        deliver(store, request("OPTIONS", "ping-" + std::to_string(i)), sip_direction::in);
    }
    // The early ones were forgotten: a late claim finds nothing to adopt.
    store.claim("1", "ping-0", "pbx", "", "");
    CHECK(store.find("1")->messages.empty());
    store.claim("2", "ping-999", "pbx", "", "");
    CHECK(store.find("2")->messages.size() == 1);
}

TEST_CASE("capture: trace answers by filter, from a sequence number, in batches", "[capture]") {
    call_capture store(10, 100);
    store.claim("1", "x1", "pbx", "2000", "1000");
    store.claim("2", "x2", "carrier", "3000", "4000");
    deliver(store, request("INVITE", "x1"), sip_direction::in);
    deliver(store, request("INVITE", "x2"), sip_direction::in);
    deliver(store, request("BYE", "x1"), sip_direction::in);

    auto all = store.trace("", 0, 100);
    REQUIRE(all["messages"].size() == 3);
    CHECK(all["messages"][0]["call"] == "1");
    CHECK(all["messages"][1]["call"] == "2");
    CHECK(all["next"] == 3);
    CHECK(all["calls"]["1"]["from"] == "2000");

    CHECK(store.trace("carrier", 0, 100)["messages"].size() == 1);
    CHECK(store.trace("x1", 0, 100)["messages"].size() == 2);
    CHECK(store.trace("100", 0, 100)["messages"].size() == 2);  // part of a number
    CHECK(store.trace("nobody", 0, 100)["messages"].empty());

    auto first = store.trace("", 0, 2);
    CHECK(first["messages"].size() == 2);
    auto rest = store.trace("", first["next"].get<std::uint64_t>(), 2);
    REQUIRE(rest["messages"].size() == 1);
    CHECK(rest["messages"][0]["summary"] == "BYE");
    CHECK(store.trace("", 3, 2)["messages"].empty());
}

}  // namespace test_call_capture
