// Text from the network that ends up in a header value or a log line.
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <catch2/catch.hpp>

#include <string>

#include "sbc/common/log.hpp"
#include "sbc/sofia/reply.hpp"

using sbc::sofia::quoted_string;
using sbc::sofia::warning_value;

namespace {

// What sofia's parser makes of a Warning value: its text, or null when the
// header does not parse (and nta_incoming_treply would refuse to send it).
struct parsed_warning {
    su_home_t home[1] = {SU_HOME_INIT(home)};
    sip_warning_t* w = nullptr;
    explicit parsed_warning(const std::string& value) { w = sip_warning_make(home, value.c_str()); }
    ~parsed_warning() { su_home_deinit(home); }
};

}  // namespace

TEST_CASE("a Warning built from sofia's SDP error text parses", "[reply]") {
    // The text sbcd used to put between the quotes unescaped (issue 19).
    const std::string why = "malformed SDP: unknown field \"v=0\"";
    REQUIRE(parsed_warning("399 sbc \"" + why + "\"").w == nullptr);
    parsed_warning ok(warning_value("sbc", why));
    REQUIRE(ok.w != nullptr);
    CHECK(ok.w->w_code == 399);
    CHECK(std::string(ok.w->w_host) == "sbc");
    CHECK(std::string(ok.w->w_text) == why);  // sofia unquotes it
}

TEST_CASE("quoted_string escapes, replaces and cuts", "[reply]") {
    CHECK(quoted_string("a\\b\"c") == "a\\\\b\\\"c");
    CHECK(quoted_string("bad line \"\x94o=\r\nX: y\"") == "bad line \\\"?o=??X: y\\\"");
    CHECK(quoted_string("tab\there") == "tab here");
    CHECK(quoted_string(std::string(500, 'x'), 10) == std::string(10, 'x') + "...");
    for (const char* hostile : {"\"", "\\", "\\\"", "\r\n\r\n", "\x00\x01\x7f\xff", "a\"b\\"}) {
        INFO(hostile);
        parsed_warning p(warning_value("sbc", hostile));
        CHECK(p.w != nullptr);
    }
}

TEST_CASE("log lines show bytes outside printable ASCII as \\xNN", "[log]") {
    CHECK(sbc::log::printable("plain text 123") == "plain text 123");
    CHECK(sbc::log::printable("bad line \"\x94o=\"") == "bad line \"\\x94o=\"");
    CHECK(sbc::log::printable("one\r\nINFO sip: forged") == "one\\x0d\\x0aINFO sip: forged");
    CHECK(sbc::log::printable(std::string("nul\0!", 5)) == "nul\\x00!");
}
