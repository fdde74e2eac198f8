// info_body: SIP INFO DTMF bodies as deployed peers send them, and the
// bodies the SBC writes.
#include <catch2/catch.hpp>

#include <string_view>

#include "transcoder/dtmf/info_body.hpp"
#include "transcoder/dtmf/telephone_event.hpp"

using namespace sbc::transcoder::dtmf;

namespace {

std::optional<info_dtmf> relay(std::string_view body) {
    return parse_info("application/dtmf-relay", body);
}

}  // namespace

TEST_CASE("application/dtmf-relay as Cisco and most PBXes write it") {
    CHECK(relay("Signal=5\r\nDuration=160\r\n") == info_dtmf{'5', 160});
    CHECK(relay("Signal=#\r\nDuration=250\r\n") == info_dtmf{'#', 250});
    CHECK(relay("Signal=*\r\nDuration=100") == info_dtmf{'*', 100});
    CHECK(relay("Signal=D\r\nDuration=90\r\n") == info_dtmf{'D', 90});
}

TEST_CASE("application/dtmf-relay tolerates LF, spaces, key case and extra keys") {
    CHECK(relay("Signal=1\nDuration=200\n") == info_dtmf{'1', 200});
    CHECK(relay("  signal = 2 \r\n DURATION= 300\r\n\r\n") == info_dtmf{'2', 300});
    CHECK(relay("Signal=b\r\n") == info_dtmf{'B', default_info_duration_ms});
    CHECK(relay("Duration=120\r\nSignal=0\r\n") == info_dtmf{'0', 120});
    CHECK(relay("Signal=3\r\nDuration=100\r\nX-Vendor=yes\r\n") == info_dtmf{'3', 100});
    CHECK(relay("Signal=4\r\nDuration=0\r\n") == info_dtmf{'4', default_info_duration_ms});
}

TEST_CASE("application/dtmf-relay: event codes for * # and flash") {
    CHECK(relay("Signal=10\r\nDuration=100\r\n") == info_dtmf{'*', 100});
    CHECK(relay("Signal=11\r\nDuration=100\r\n") == info_dtmf{'#', 100});
    CHECK(relay("Signal=16\r\nDuration=500\r\n") == info_dtmf{flash_symbol, 500});
}

TEST_CASE("application/dtmf-relay: malformed bodies are refused") {
    CHECK_FALSE(relay(""));
    CHECK_FALSE(relay("\r\n"));
    CHECK_FALSE(relay("Duration=100\r\n"));
    CHECK_FALSE(relay("Signal=\r\nDuration=100\r\n"));
    CHECK_FALSE(relay("Signal=E\r\n"));
    CHECK_FALSE(relay("Signal=12345\r\n"));
    CHECK_FALSE(relay("Signal=17\r\n"));
    CHECK_FALSE(relay("Signal=1\r\nSignal=2\r\n"));
    CHECK_FALSE(relay("Signal=1\r\nDuration=abc\r\n"));
    CHECK_FALSE(relay("Signal=1\r\nDuration=-5\r\n"));
    CHECK_FALSE(relay("Signal=1\r\nDuration=99999999999\r\n"));
    CHECK_FALSE(relay("Signal=1\r\nDuration=60001\r\n"));
    CHECK_FALSE(relay("Signal 1\r\n"));
    CHECK_FALSE(relay(std::string_view("Signal=1\0", 9)));
}

TEST_CASE("application/dtmf: the symbol alone") {
    CHECK(parse_info("application/dtmf", "5") == info_dtmf{'5', default_info_duration_ms});
    CHECK(parse_info("application/dtmf", "#\r\n") == info_dtmf{'#', default_info_duration_ms});
    CHECK(parse_info("application/dtmf", "*\n") == info_dtmf{'*', default_info_duration_ms});
    CHECK(parse_info("application/dtmf", "11") == info_dtmf{'#', default_info_duration_ms});
    CHECK(parse_info("application/dtmf", " a ") == info_dtmf{'A', default_info_duration_ms});
    CHECK_FALSE(parse_info("application/dtmf", ""));
    CHECK_FALSE(parse_info("application/dtmf", "55"));
    CHECK_FALSE(parse_info("application/dtmf", "x"));
    CHECK_FALSE(parse_info("application/dtmf", "Signal=5"));
}

TEST_CASE("the content type is matched case-insensitively, parameters ignored") {
    CHECK(parse_info("Application/DTMF-Relay", "Signal=7\r\n"));
    CHECK(parse_info(" application/dtmf-relay ; charset=utf-8", "Signal=7\r\n"));
    CHECK(parse_info("APPLICATION/DTMF", "7"));
    CHECK_FALSE(parse_info("application/sdp", "Signal=7\r\n"));
    CHECK_FALSE(parse_info("application/dtmf-relayx", "Signal=7\r\n"));
    CHECK_FALSE(parse_info("", "7"));
}

TEST_CASE("format_dtmf_relay and format_dtmf write what parse_info reads") {
    CHECK(format_dtmf_relay('5', 160) == "Signal=5\r\nDuration=160\r\n");
    CHECK(format_dtmf_relay('#', 250) == "Signal=#\r\nDuration=250\r\n");
    CHECK(format_dtmf_relay('c', 100) == "Signal=C\r\nDuration=100\r\n");
    CHECK(format_dtmf_relay(flash_symbol, 500) == "Signal=16\r\nDuration=500\r\n");
    CHECK(format_dtmf_relay('x', 100).empty());
    CHECK(format_dtmf('*') == "*");
    CHECK(format_dtmf(flash_symbol) == "16");
    CHECK(format_dtmf('?').empty());
    for (char c : std::string_view("0123456789*#ABCD!")) {
        CHECK(parse_info(dtmf_relay_content_type, format_dtmf_relay(c, 180)) == info_dtmf{c, 180});
        CHECK(parse_info(dtmf_content_type, format_dtmf(c)) ==
              info_dtmf{c, default_info_duration_ms});
    }
}
