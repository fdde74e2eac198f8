// The capture section as documented in conf/README.md ("capture"): the
// per-call capture's sizes, the HEP export's address, transport, password
// and capture ID, and each mistake with the whole message.
#include "sbc/config/config.hpp"
#include "tests/sbc/config/section_config.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using sbc::config::hep_config;
using sbc::config::load_string;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_config_capture {

namespace {

constexpr auto with_capture = section_config::with_section;
using section_config::problems_of;

}  // namespace

TEST_CASE("capture: absent or empty keeps the defaults and exports nothing", "[config][capture]") {
    for (const auto* section : {"", "capture:\n", "capture: {hep: }\n"}) {
        const auto cfg = load_string(with_capture(section));
        CHECK(cfg.capture.calls == 100);
        CHECK(cfg.capture.messages_per_call == 200);
        CHECK_FALSE(cfg.capture.hep);
    }
}

TEST_CASE("capture: sizes and the HEP export as given", "[config][capture]") {
    auto cfg =
        load_string(with_capture("capture:\n"
                                 "  calls: 0\n"
                                 "  messages_per_call: 50\n"
                                 "  hep:\n"
                                 "    address: 127.0.0.1:9060\n"
                                 "    transport: tcp\n"
                                 "    password: s3cret\n"
                                 "    capture_id: 7\n"));
    CHECK(cfg.capture.calls == 0);
    CHECK(cfg.capture.messages_per_call == 50);
    REQUIRE(cfg.capture.hep);
    CHECK(cfg.capture.hep->address == "127.0.0.1:9060");
    CHECK(cfg.capture.hep->transport == hep_config::hep_transport::tcp);
    CHECK(cfg.capture.hep->password == "s3cret");
    CHECK(cfg.capture.hep->capture_id == 7);

    // Only the address is required: UDP, no password, capture ID 2001.
    cfg = load_string(with_capture("capture: {hep: {address: \"[2001:DB8::0001]:9060\"}}\n"));
    REQUIRE(cfg.capture.hep);
    CHECK(cfg.capture.hep->address == "[2001:db8::1]:9060");
    CHECK(cfg.capture.hep->transport == hep_config::hep_transport::udp);
    CHECK(cfg.capture.hep->password.empty());
    CHECK(cfg.capture.hep->capture_id == 2001);
    CHECK(cfg.capture.calls == 100);
}

TEST_CASE("capture: mistakes name the file, line, column and key", "[config][capture]") {
    using strings = std::vector<std::string>;
    CHECK(problems_of(with_capture("capture:\n  hep: {address: 127.0.0.1}\n")) ==
          strings{"t.yaml:2:18: capture.hep.address: expected IP:PORT (IPv6 in brackets), e.g. "
                  "127.0.0.1:9060 (got '127.0.0.1')"});
    CHECK(problems_of(with_capture("capture:\n  hep: {address: 0.0.0.0:9060}\n")) ==
          strings{"t.yaml:2:18: capture.hep.address: expected the capture server's address, not "
                  "0.0.0.0 or :: (got '0.0.0.0:9060')"});
    CHECK(problems_of(with_capture("capture:\n  hep: {address: homer.example.com:9060}\n")) ==
          strings{"t.yaml:2:18: capture.hep.address: expected an IP address, not a host name "
                  "(got 'homer.example.com:9060')"});
    CHECK(problems_of(with_capture("capture:\n  hep: {transport: tcp}\n")) ==
          strings{"t.yaml:2:8: capture.hep.address: required key missing: expected the capture "
                  "server's HEP address, IP:PORT (IPv6 in brackets), e.g. 127.0.0.1:9060"});
    CHECK(
        problems_of(with_capture("capture:\n  hep: {address: 127.0.0.1:9060, transport: tls}\n")) ==
        strings{"t.yaml:2:45: capture.hep.transport: expected udp or tcp (got 'tls')"});
    CHECK(
        problems_of(with_capture("capture:\n  hep: {address: 127.0.0.1:9060, capture_id: 0}\n")) ==
        strings{"t.yaml:2:46: capture.hep.capture_id: expected a capture agent ID 1..4294967295 "
                "(got '0')"});
    CHECK(problems_of(with_capture(
              "capture:\n  hep: {address: 127.0.0.1:9060, capture_id: 4294967296}\n")) ==
          strings{"t.yaml:2:46: capture.hep.capture_id: expected a capture agent ID 1..4294967295 "
                  "(got '4294967296')"});
    CHECK(problems_of(
              with_capture("capture:\n  hep: {address: 127.0.0.1:9060, password: \"a b\"}\n")) ==
          strings{"t.yaml:2:44: capture.hep.password: expected a password of 1..128 printable "
                  "characters (the HEP auth key) (got 'a b')"});
    CHECK(problems_of(with_capture("capture:\n  calls: -1\n  messages_per_call: 0\n")) ==
          strings{"t.yaml:2:10: capture.calls: expected a number of calls 0..100000 (got '-1')",
                  "t.yaml:3:22: capture.messages_per_call: expected a number of messages "
                  "1..100000 (got '0')"});
    CHECK(problems_of(with_capture("capture:\n  hep: {address: 127.0.0.1:9060, port: 1}\n")) ==
          strings{"t.yaml:2:34: capture.hep.port: unknown key 'port'; expected one of: address, "
                  "transport, password, capture_id"});
    CHECK(problems_of(with_capture("capture: 1\n")) ==
          strings{"t.yaml:1:10: capture: expected a map with calls, messages_per_call and hep "
                  "(got '1')"});
}

}  // namespace test_config_capture
