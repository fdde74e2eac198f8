// The metrics section: the exporter's address as documented in
// conf/README.md ("metrics"), and each mistake with the whole message.
#include "sbc/config/config.hpp"
#include "tests/sbc/config/section_config.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using sbc::config::load_string;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_config_metrics {

namespace {

constexpr auto with_metrics = section_config::with_section;
using section_config::problems_of;

}  // namespace

TEST_CASE("metrics: absent or empty means no exporter", "[config][metrics]") {
    CHECK_FALSE(load_string(with_metrics("")).metrics);
    CHECK_FALSE(load_string(with_metrics("metrics:\n")).metrics);
}

TEST_CASE("metrics: listen takes IP:PORT, IPv6 in brackets", "[config][metrics]") {
    auto cfg = load_string(with_metrics("metrics:\n  listen: 127.0.0.1:9464\n"));
    REQUIRE(cfg.metrics);
    CHECK(cfg.metrics->listen == "127.0.0.1:9464");
    cfg = load_string(with_metrics("metrics: {listen: \"[::1]:9464\"}\n"));
    REQUIRE(cfg.metrics);
    CHECK(cfg.metrics->listen == "[::1]:9464");
    cfg = load_string(with_metrics("metrics: {listen: \"[2001:DB8::0001]:80\"}\n"));
    REQUIRE(cfg.metrics);
    CHECK(cfg.metrics->listen == "[2001:db8::1]:80");
    cfg = load_string(with_metrics("metrics: {listen: \"0.0.0.0:9464\"}\n"));
    REQUIRE(cfg.metrics);
    CHECK(cfg.metrics->listen == "0.0.0.0:9464");
}

TEST_CASE("metrics: mistakes name the file, line, column and key", "[config][metrics]") {
    using strings = std::vector<std::string>;
    CHECK(problems_of(with_metrics("metrics:\n  listen: 127.0.0.1\n")) ==
          strings{"t.yaml:2:11: metrics.listen: expected IP:PORT (IPv6 in brackets), e.g. "
                  "127.0.0.1:9464 (got '127.0.0.1')"});
    CHECK(problems_of(with_metrics("metrics:\n  listen: 127.0.0.1:0\n")) ==
          strings{"t.yaml:2:11: metrics.listen: expected a port 1..65535 after the address "
                  "(got '127.0.0.1:0')"});
    CHECK(problems_of(with_metrics("metrics:\n  listen: localhost:9464\n")) ==
          strings{"t.yaml:2:11: metrics.listen: expected an IP address, not a host name "
                  "(got 'localhost:9464')"});
    CHECK(problems_of(with_metrics("metrics:\n  listen: ::1:9464\n")) ==
          strings{"t.yaml:2:11: metrics.listen: expected an IPv6 address in brackets, e.g. "
                  "[2001:db8::1]:5060 (got '::1:9464')"});
    CHECK(problems_of(with_metrics("metrics:\n  port: 9464\n")) ==
          strings{"t.yaml:2:3: metrics.port: unknown key 'port'; expected one of: listen",
                  "t.yaml:2:3: metrics.listen: required key missing: expected the exporter's "
                  "HTTP address, IP:PORT (IPv6 in brackets), e.g. 127.0.0.1:9464"});
    CHECK(problems_of(with_metrics("metrics: 9464\n")) ==
          strings{"t.yaml:1:10: metrics: expected a map with listen (got '9464')"});
}

}  // namespace test_config_metrics
