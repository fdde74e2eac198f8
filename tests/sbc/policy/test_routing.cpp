// Routing rules and number normalization: the YAML they come from, rule
// matching (with an injected clock for time windows) and the rewrites.
#include <catch2/catch.hpp>

#include <date/date.h>
#include <date/tz.h>

#include <string>

#include "sbc/config/config.hpp"
#include "sbc/policy/number_rewriter.hpp"
#include "sbc/policy/router.hpp"

using namespace sbc;
using namespace std::chrono_literals;

namespace {

const std::string head =
    "interfaces:\n"
    "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
    "  - {name: b, listen: [udp://127.0.2.1:5060], media_address: 127.0.2.1}\n"
    "trunks:\n"
    "  - {name: pbx, interface: b, peers: [127.0.2.2]}\n"
    "  - {name: c1, interface: a, peers: [127.0.1.2]}\n"
    "  - {name: c2, interface: a, peers: [127.0.1.3]}\n";

config::config load(const std::string& routes) {
    return config::load_string(head + routes, "t.yaml");
}

std::vector<std::string> problems(const std::string& yaml) {
    try {
        config::load_string(yaml, "t.yaml");
    } catch (const config::config_error& e) {
        return e.problems();
    }
    FAIL("loaded: " << yaml);
    return {};
}

std::string problem(const std::string& yaml) {
    auto p = problems(yaml);
    REQUIRE(p.size() == 1);
    return p.front();
}

// 2026-12-02 is a Wednesday.
std::chrono::system_clock::time_point utc(int y, unsigned m, unsigned d, int h, int min) {
    return date::sys_days(date::year{y} / m / d) + std::chrono::hours(h) +
           std::chrono::minutes(min);
}

policy::route_request request(std::string_view trunk, std::string_view ruri,
                              std::string_view from = "1000", std::string_view to = "") {
    policy::route_request r;
    r.interface = trunk == "pbx" ? "b" : "a";
    r.trunk = trunk;
    r.ruri_user = ruri;
    r.from_user = from;
    r.to_user = to.empty() ? ruri : to;
    r.source = *dataplane::ip_endpoint::from_string(trunk == "pbx" ? "127.0.2.2" : "127.0.1.2", 0);
    r.now = utc(2026, 12, 2, 12, 0);
    return r;
}

const char* matched(const policy::router& r, const policy::route_request& req) {
    const auto* rule = r.match(req);
    return rule == nullptr ? "(none)" : rule->name.c_str();
}

}  // namespace

TEST_CASE("routes: the YAML forms of every match key and action", "[routing][config]") {
    const auto cfg = load(
        "routes:\n"
        "  - name: emergency\n"
        "    from_trunk: pbx\n"
        "    ruri_user: '^(911|112)$'\n"
        "    from_user: '^1'\n"
        "    to_user: '^9'\n"
        "    source: [203.0.113.0/24, '2001:db8::/32', 198.51.100.7]\n"
        "    time: {days: mon-fri, from: '08:00', to: '18:00', timezone: Europe/Berlin}\n"
        "    to_trunk: [c1, c2]\n"
        "  - name: night\n"
        "    time:\n"
        "      - {days: [sat, sun]}\n"
        "      - {days: 'fri,mon', from: '22:00', to: '06:00'}\n"
        "    reject: {code: 480, reason: Closed for the night}\n"
        "  - reject: 403\n");
    REQUIRE(cfg.routes.size() == 3);
    const auto& e = cfg.routes[0];
    CHECK(e.from_trunk == "pbx");
    CHECK(e.ruri_user == "^(911|112)$");
    CHECK(e.from_user == "^1");
    CHECK(e.to_user == "^9");
    REQUIRE(e.sources.size() == 3);
    CHECK(e.sources[0].text == "203.0.113.0/24");
    CHECK(e.sources[1].text == "2001:db8::/32");
    CHECK(e.sources[2].text == "198.51.100.7/32");
    REQUIRE(e.times.size() == 1);
    CHECK(e.times[0].days == 0x1f);
    CHECK(e.times[0].from_minute == 8 * 60);
    CHECK(e.times[0].to_minute == 18 * 60);
    CHECK(e.times[0].timezone == "Europe/Berlin");
    CHECK(e.to_trunks == std::vector<std::string>{"c1", "c2"});
    CHECK_FALSE(e.reject);
    const auto& n = cfg.routes[1];
    REQUIRE(n.times.size() == 2);
    CHECK(n.times[0].days == 0x60);
    CHECK(n.times[0].from_minute == 0);
    CHECK(n.times[0].to_minute == 1440);
    CHECK(n.times[0].timezone == "UTC");
    CHECK(n.times[1].days == 0x11);
    REQUIRE(n.reject);
    CHECK(n.reject->code == 480);
    CHECK(n.reject->reason == "Closed for the night");
    CHECK(n.to_trunks.empty());
    REQUIRE(cfg.routes[2].reject);
    CHECK(cfg.routes[2].reject->code == 403);
    CHECK(cfg.routes[2].reject->reason.empty());
}

TEST_CASE("routes: bad regexes, blocks, times and actions are config errors with line and column",
          "[routing][config]") {
    CHECK(problem(head + "routes:\n  - {ruri_user: '^(1', to_trunk: c1}\n") ==
          "t.yaml:9:17: routes[0].ruri_user: expected an ECMAScript regular expression (Mismatched "
          "'(' and ')' in regular expression) (got '^(1')");
    CHECK(problem(head + "routes:\n  - {from_user: '[0-9', to_trunk: c1}\n")
              .rfind("t.yaml:9:17: routes[0].from_user: expected an ECMAScript regular expression",
                     0) == 0);
    CHECK(problem(head + "routes:\n  - {to_user: '*1', to_trunk: c1}\n")
              .rfind("t.yaml:9:15: routes[0].to_user: expected an ECMAScript regular expression",
                     0) == 0);
    CHECK(problem(head + "routes:\n  - {source: 203.0.113.7/24, to_trunk: c1}\n") ==
          "t.yaml:9:14: routes[0].source: expected an address block whose host bits are zero "
          "(IP/24 starts at a multiple of the block size) (got '203.0.113.7/24')");
    CHECK(problem(head + "routes:\n  - {source: [10.0.0.0/33], to_trunk: c1}\n") ==
          "t.yaml:9:15: routes[0].source[0]: expected a prefix length 0..32 (got '10.0.0.0/33')");
    CHECK(problem(head + "routes:\n  - {source: [pbx.example], to_trunk: c1}\n") ==
          "t.yaml:9:15: routes[0].source[0]: expected an address block: IP/PREFIX or an IP "
          "address (got 'pbx.example')");
    CHECK(problem(head + "routes:\n  - {time: {days: mon-fry}, to_trunk: c1}\n") ==
          "t.yaml:9:19: routes[0].time.days: expected days: mon, tue, wed, thu, fri, sat, sun or "
          "a range such as mon-fri, as a list or separated by commas (got 'mon-fry')");
    CHECK(problem(head + "routes:\n  - {time: {from: '8:00'}, to_trunk: c1}\n") ==
          "t.yaml:9:19: routes[0].time.from: expected a time of day HH:MM, 00:00 to 23:59 (got "
          "'8:00')");
    CHECK(problem(head + "routes:\n  - {time: {to: '24:01'}, to_trunk: c1}\n") ==
          "t.yaml:9:17: routes[0].time.to: expected a time of day HH:MM, 00:00 to 24:00 (got "
          "'24:01')");
    CHECK(problem(head + "routes:\n  - {time: {from: '09:00', to: '09:00'}, to_trunk: c1}\n") ==
          "t.yaml:9:32: routes[0].time.to: expected a window of some length (from and to are the "
          "same time) (got '09:00')");
    CHECK(problem(head + "routes:\n  - {time: {timezone: Mars/Olympus}, to_trunk: c1}\n") ==
          "t.yaml:9:23: routes[0].time.timezone: expected an IANA time zone name such as "
          "Europe/Berlin or UTC, known to the system's tzdata (got 'Mars/Olympus')");
    CHECK(problem(head + "routes:\n  - {to_trunk: c1, reject: 403}\n") ==
          "t.yaml:9:28: routes[0].reject: expected one of to_trunk and reject (got both)");
    CHECK(problem(head + "routes:\n  - {ruri_user: '1'}\n") ==
          "t.yaml:9:5: routes[0]: required key missing: to_trunk or reject (expected where the "
          "call goes: a trunk, a list of trunks, or a reject status)");
    CHECK(problem(head + "routes:\n  - {reject: 302}\n") ==
          "t.yaml:9:14: routes[0].reject: expected a final SIP status 400..699 (a redirect needs "
          "a Contact the SBC has not got) (got '302')");
    CHECK(problem(head + "routes:\n  - {reject: {code: 480, reason: \"a\\r\\nX: b\"}}\n") ==
          "t.yaml:9:34: routes[0].reject.reason: expected a reason phrase: printable text of at "
          "most 128 bytes (got 'a\\x0d\\x0aX: b')");
    CHECK(problem(head + "routes:\n  - {to_trunk: [c1, nope]}\n") ==
          "t.yaml:9:21: routes[0].to_trunk[1]: expected the name of a trunk (defined: pbx, c1, "
          "c2) (got 'nope')");
    CHECK(problem(head + "routes:\n  - {to_trunk: [c1, pbx]}\n") ==
          "t.yaml:9:21: routes[0].to_trunk[1]: expected a trunk on interface a, as c1 is: the "
          "trunks of a route share an interface (got 'pbx' on b)");
}

TEST_CASE("normalize: the YAML forms and their errors", "[routing][config]") {
    const auto cfg = config::load_string(
        "interfaces:\n"
        "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
        "trunks:\n"
        "  - name: pbx\n"
        "    interface: a\n"
        "    peers: [127.0.1.2]\n"
        "    normalize:\n"
        "      inbound:\n"
        "        - {match: '^0([1-9][0-9]+)$', replace: '+49$1'}\n"
        "        - {match: '^([0-9]{4})$', replace: '+4930123$1', fields: [ruri, to]}\n"
        "      outbound:\n"
        "        - {match: '^\\+4930123([0-9]{4})$', replace: '$1', fields: from}\n"
        "routes:\n"
        "  - {to_trunk: pbx}\n",
        "t.yaml");
    const auto& n = cfg.trunks[0].normalize;
    REQUIRE(n.inbound.size() == 2);
    CHECK(n.inbound[0].match == "^0([1-9][0-9]+)$");
    CHECK(n.inbound[0].replace == "+49$1");
    CHECK(n.inbound[0].fields == config::all_number_fields);
    CHECK(n.inbound[1].fields == (config::field_ruri | config::field_to));
    REQUIRE(n.outbound.size() == 1);
    CHECK(n.outbound[0].fields == config::field_from);

    const std::string pre =
        "interfaces:\n"
        "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
        "routes:\n"
        "  - {to_trunk: pbx}\n"
        "trunks:\n"
        "  - name: pbx\n"
        "    interface: a\n"
        "    peers: [127.0.1.2]\n"
        "    normalize:\n";
    CHECK(problem(pre + "      inbound: [{match: '(', replace: x}]\n") ==
          "t.yaml:10:25: trunks[0].normalize.inbound[0].match: expected an ECMAScript regular "
          "expression (Mismatched '(' and ')' in regular expression) (got '(')");
    CHECK(problem(pre + "      outbound: [{match: '1', replace: '1>x'}]\n") ==
          "t.yaml:10:40: trunks[0].normalize.outbound[0].replace: expected a replacement of at "
          "most 256 characters allowed in a SIP URI's user part, with $1..$9 for the groups of "
          "match (got '1>x')");
    CHECK(problem(pre + "      inbound: [{match: '1', replace: '2', fields: [ruri, cc]}]\n") ==
          "t.yaml:10:59: trunks[0].normalize.inbound[0].fields[1]: expected a number field: ruri, "
          "from, to, pai or diversion (got 'cc')");
    CHECK(problem(pre + "      inbound: [{replace: '2'}]\n") ==
          "t.yaml:10:17: trunks[0].normalize.inbound[0].match: required key missing: expected an "
          "ECMAScript regular expression");
    CHECK(problem(pre + "      sideways: []\n") ==
          "t.yaml:10:7: trunks[0].normalize.sideways: unknown key 'sideways'; expected one of: "
          "inbound, outbound");
}

TEST_CASE("router: first matching rule wins; each criterion must hold", "[routing]") {
    const auto cfg = load(
        "routes:\n"
        "  - {name: emergency, from_trunk: pbx, ruri_user: '^(911|112)$', to_trunk: c1}\n"
        "  - {name: by-caller, from_trunk: pbx, from_user: '^2', to_trunk: c2}\n"
        "  - {name: by-to, from_interface: b, to_user: '^\\+44', to_trunk: c2}\n"
        "  - {name: us, from_trunk: pbx, ruri_user: '^\\+1', to_trunk: [c1, c2]}\n"
        "  - {name: inbound, from_trunk: c1, to_trunk: pbx}\n"
        "  - {name: inbound2, from_trunk: c2, source: 127.0.1.0/24, to_trunk: pbx}\n"
        "  - {name: rest, reject: {code: 404, reason: No such number}}\n");
    policy::router r(cfg);
    CHECK(std::string(matched(r, request("pbx", "911"))) == "emergency");
    CHECK(std::string(matched(r, request("pbx", "911", "2000"))) == "emergency");
    CHECK(std::string(matched(r, request("pbx", "+14155550100", "2000"))) == "by-caller");
    CHECK(std::string(matched(r, request("pbx", "+14155550100", "1000", "+442071234567"))) ==
          "by-to");
    CHECK(std::string(matched(r, request("pbx", "+14155550100"))) == "us");
    CHECK(std::string(matched(r, request("c1", "1234"))) == "inbound");
    auto from_c2 = request("c2", "1234");
    CHECK(std::string(matched(r, from_c2)) == "inbound2");
    from_c2.source = *dataplane::ip_endpoint::from_string("203.0.113.9", 0);
    CHECK(std::string(matched(r, from_c2)) == "rest");
    from_c2.source = {};
    CHECK(std::string(matched(r, from_c2)) == "rest");
    CHECK(std::string(matched(r, request("pbx", "+33123"))) == "rest");
    CHECK(r.match(request("pbx", "+33123"))->reject->reason == "No such number");
}

TEST_CASE("router: source blocks in IPv4 and IPv6", "[routing]") {
    const auto cfg = load(
        "routes:\n"
        "  - {name: v6, source: ['2001:db8:10::/48'], to_trunk: c1}\n"
        "  - {name: v4, source: [198.51.100.128/25, 203.0.113.5], to_trunk: c1}\n"
        "  - {name: all, source: [0.0.0.0/0], to_trunk: c2}\n");
    policy::router r(cfg);
    auto req = request("c1", "1");
    auto at = [&](const char* ip) {
        req.source = *dataplane::ip_endpoint::from_string(ip, 5060);
        return std::string(matched(r, req));
    };
    CHECK(at("2001:db8:10:ffff::1") == "v6");
    CHECK(at("2001:db8:11::1") == "(none)");
    CHECK(at("198.51.100.128") == "v4");
    CHECK(at("198.51.100.255") == "v4");
    CHECK(at("198.51.100.127") == "all");
    CHECK(at("203.0.113.5") == "v4");
    CHECK(at("203.0.113.6") == "all");
}

TEST_CASE("router: time windows in a time zone, with an injected clock", "[routing]") {
    const auto cfg = load(
        "routes:\n"
        "  - name: night\n"
        "    time: {days: fri, from: '22:00', to: '06:00', timezone: Europe/Berlin}\n"
        "    to_trunk: c2\n"
        "  - name: office\n"
        "    time: {days: mon-fri, from: '08:00', to: '18:00', timezone: America/New_York}\n"
        "    to_trunk: c1\n"
        "  - {name: closed, reject: 480}\n");
    policy::router r(cfg);
    auto req = request("pbx", "+14155550100");
    auto at = [&](std::chrono::system_clock::time_point t) {
        req.now = t;
        return std::string(matched(r, req));
    };
    // Wednesday 2026-12-02; New York is UTC-5 in December, Berlin UTC+1.
    CHECK(at(utc(2026, 12, 2, 12, 59)) == "closed");  // 07:59 in New York
    CHECK(at(utc(2026, 12, 2, 13, 0)) == "office");   // 08:00
    CHECK(at(utc(2026, 12, 2, 22, 59)) == "office");  // 17:59
    CHECK(at(utc(2026, 12, 2, 23, 0)) == "closed");   // 18:00: the end is exclusive
    CHECK(at(utc(2026, 12, 5, 15, 0)) == "closed");   // Saturday in New York
    // In July New York is UTC-4: the same local hours move by one in UTC.
    CHECK(at(utc(2026, 7, 1, 12, 0)) == "office");  // 08:00 EDT
    CHECK(at(utc(2026, 7, 1, 22, 0)) == "closed");  // 18:00 EDT
    // Friday 22:00 to Saturday 06:00 in Berlin: the window crosses midnight.
    CHECK(at(utc(2026, 12, 4, 20, 59)) == "office");  // Friday 21:59 Berlin, 15:59 New York
    CHECK(at(utc(2026, 12, 4, 21, 0)) == "night");    // Friday 22:00 Berlin
    CHECK(at(utc(2026, 12, 4, 23, 30)) == "night");   // Saturday 00:30 Berlin
    CHECK(at(utc(2026, 12, 5, 4, 59)) == "night");    // Saturday 05:59 Berlin
    CHECK(at(utc(2026, 12, 5, 5, 0)) == "closed");    // Saturday 06:00 Berlin
    // Friday 00:30 in Berlin follows Thursday's night, which is not in the window.
    CHECK(at(utc(2026, 12, 3, 23, 30)) == "closed");
}

TEST_CASE("router: explain says why each rule did or did not match", "[routing]") {
    const auto cfg = load(
        "routes:\n"
        "  - {name: emergency, from_trunk: pbx, ruri_user: '^911$', to_trunk: c1}\n"
        "  - {name: inbound, from_trunk: c1, to_trunk: pbx}\n"
        "  - name: us\n"
        "    from_trunk: pbx\n"
        "    ruri_user: '^\\+1'\n"
        "    source: 127.0.2.0/24\n"
        "    time: {days: wed, from: '09:00', to: '17:00', timezone: UTC}\n"
        "    to_trunk: c1\n"
        "  - {name: never-reached, to_trunk: c2}\n");
    policy::router r(cfg);
    auto v = r.explain(request("pbx", "+14155550100"));
    REQUIRE(v.size() == 3);
    CHECK(v[0].rule == "emergency");
    CHECK_FALSE(v[0].matched);
    CHECK(v[0].why == "ruri_user '^911$' does not match '+14155550100'");
    CHECK(v[1].why == "from_trunk c1: the call came from pbx");
    CHECK(v[2].matched);
    CHECK(v[2].why ==
          "from_trunk pbx, ruri_user '^\\+1' matched '+14155550100', source 127.0.2.2 in "
          "127.0.2.0/24, time Wed 12:00 in 09:00-17:00 UTC");
    auto late = request("pbx", "+14155550100");
    late.now = utc(2026, 12, 2, 17, 0);
    v = r.explain(late);
    REQUIRE(v.size() == 4);
    CHECK(v[2].why == "time: Wed 17:00 is outside the rule's windows (first: 09:00-17:00 UTC)");
    CHECK(v[3].why == "no criteria: matches every call");
}

TEST_CASE("router: explain names the interface, numbers and source it checked", "[routing]") {
    const auto cfg = load(
        "routes:\n"
        "  - {name: from-a, from_interface: a, to_trunk: pbx}\n"
        "  - {name: lab, source: [10.0.0.0/8, 127.0.1.0/24], to_trunk: pbx}\n"
        "  - {name: caller, from_user: '^2', to_trunk: c1}\n"
        "  - {name: office, from_interface: b, from_user: '^1', to_user: '^\\+49',\n"
        "     source: 127.0.2.0/24, to_trunk: c1}\n");
    policy::router r(cfg);
    auto v = r.explain(request("pbx", "+4930123456"));
    REQUIRE(v.size() == 4);
    CHECK(v[0].why == "from_interface a: the call came in on b");
    CHECK(v[1].why == "source: 127.0.2.2 is in none of the rule's blocks");
    CHECK(v[2].why == "from_user '^2' does not match '1000'");
    CHECK(v[3].matched);
    CHECK(v[3].why ==
          "from_interface b, from_user '^1' matched '1000', to_user '^\\+49' matched "
          "'+4930123456', source 127.0.2.2 in 127.0.2.0/24");

    auto unknown = request("pbx", "+4930123456");
    unknown.source = dataplane::ip_endpoint{};
    v = r.explain(unknown);
    REQUIRE(v.size() >= 2);
    CHECK(v[1].why == "source: (unknown) is in none of the rule's blocks");
    CHECK(matched(r, request("c1", "+4930123456")) == std::string("from-a"));
}

TEST_CASE("number rewriter: first matching rule per field, the match replaced", "[routing]") {
    std::vector<config::rewrite_rule> rules(3);
    rules[0].match = "^0([1-9][0-9]+)$";
    rules[0].replace = "+49$1";
    rules[1].match = "^([0-9]{4})$";
    rules[1].replace = "+4930123$1";
    rules[1].fields = config::field_ruri | config::field_to;
    rules[2].match = "^[0-9]";
    rules[2].replace = "+$&";
    policy::number_rewriter n(rules);
    CHECK(n.apply(config::field_ruri, "030123456") == "+4930123456");
    CHECK(n.apply(config::field_ruri, "2001") == "+49301232001");
    CHECK(n.apply(config::field_from, "2001") == "+2001");  // rule 1 is not for From
    CHECK(n.apply(config::field_to, "+4930") == "+4930");   // nothing matches
    CHECK(n.apply(config::field_pai, "12x") == "+12x");     // only the match is replaced
    CHECK(n.apply(config::field_ruri, "") == "");
    const std::string huge(policy::max_number_length + 1, '0');
    CHECK(n.apply(config::field_ruri, huge) == huge);
    const auto all = n.apply(policy::call_numbers{"030123", "2001", "2002"});
    CHECK(all.ruri == "+4930123");
    CHECK(all.from == "+2001");
    CHECK(all.to == "+49301232002");
    CHECK(policy::number_rewriter().apply(config::field_ruri, "0301") == "0301");
}

TEST_CASE("number rewriter: the users of P-Asserted-Identity and Diversion values", "[routing]") {
    std::vector<config::rewrite_rule> rules(1);
    rules[0].match = "^0([0-9]+)$";
    rules[0].replace = "+49$1";
    policy::number_rewriter n(rules);
    CHECK(
        n.apply_to_header(config::field_pai, "\"Alice <0>\" <sip:030123@pbx.example;user=phone>") ==
        "\"Alice <0>\" <sip:+4930123@pbx.example;user=phone>");
    CHECK(n.apply_to_header(config::field_pai, "<sip:030123@h>, <tel:0301;phone-context=x>") ==
          "<sip:+4930123@h>, <tel:+49301;phone-context=x>");
    CHECK(
        n.apply_to_header(config::field_diversion, "<sip:0401@h>;reason=unconditional;counter=1") ==
        "<sip:+49401@h>;reason=unconditional;counter=1");
    CHECK(n.apply_to_header(config::field_pai, "sip:0301@h") == "sip:+49301@h");
    CHECK(n.apply_to_header(config::field_pai, "<sip:h.example>") == "<sip:h.example>");
    CHECK(n.apply_to_header(config::field_pai, "<mailto:0301@h>") == "<mailto:0301@h>");
    CHECK(n.apply_to_header(config::field_pai, "garbage <") == "garbage <");
    CHECK(n.apply_to_header(config::field_pai, "<sip:") == "<sip:");
    CHECK(n.apply_to_header(config::field_pai, "") == "");
}

TEST_CASE("cdr: the file, its size and the files kept", "[config]") {
    const auto cfg = load(
        "routes: [{to_trunk: c1}]\ncdr: {file: /var/log/sbc/cdr.jsonl, "
        "max_bytes: 1048576, keep: 3}\n");
    REQUIRE(cfg.cdr);
    CHECK(cfg.cdr->file == "/var/log/sbc/cdr.jsonl");
    CHECK(cfg.cdr->max_bytes == 1048576);
    CHECK(cfg.cdr->keep == 3);
    CHECK_FALSE(load("routes: [{to_trunk: c1}]\n").cdr);
    CHECK(problem(head + "routes: [{to_trunk: c1}]\ncdr: {file: cdr.jsonl}\n") ==
          "t.yaml:9:13: cdr.file: expected an absolute file path in an existing directory (got "
          "'cdr.jsonl')");
    CHECK(problem(head + "routes: [{to_trunk: c1}]\ncdr: {file: /x, max_bytes: 10}\n") ==
          "t.yaml:9:28: cdr.max_bytes: expected a size in bytes, 4096 or more (got '10')");
}

TEST_CASE("limits, allow_sources and flood: the YAML forms and their errors", "[config]") {
    const auto cfg = config::load_string(
        "interfaces:\n"
        "  - name: a\n"
        "    listen: [udp://127.0.1.1:5060]\n"
        "    media_address: 127.0.1.1\n"
        "    allow_sources: [127.0.1.0/24, '2001:db8::/32']\n"
        "    flood: {rate: 20, burst: 50, block: 120}\n"
        "trunks:\n"
        "  - name: t\n"
        "    interface: a\n"
        "    peers: [127.0.1.2]\n"
        "    limits:\n"
        "      inbound: {max_calls: 30, cps: 2.5, burst: 5, retry_after: 10}\n"
        "      outbound: {max_calls: 10}\n"
        "routes: [{to_trunk: t}]\n",
        "t.yaml");
    const auto& i = cfg.interfaces[0];
    REQUIRE(i.allow_sources.size() == 2);
    CHECK(i.allow_sources[1].text == "2001:db8::/32");
    CHECK(i.flood.rate == 20);
    CHECK(i.flood.burst == 50);
    CHECK(i.flood.block_seconds == 120);
    const auto& l = cfg.trunks[0].limits;
    CHECK(l.inbound.max_calls == 30);
    CHECK(l.inbound.cps == 2.5);
    CHECK(l.inbound.burst == 5);
    CHECK(l.inbound.retry_after == 10);
    CHECK(l.outbound.max_calls == 10);
    CHECK(l.outbound.cps == 0);
    CHECK(l.outbound.retry_after == 5);

    const std::string iface =
        "interfaces:\n"
        "  - name: a\n"
        "    listen: [udp://127.0.1.1:5060]\n"
        "    media_address: 127.0.1.1\n";
    const std::string rest =
        "trunks: [{name: t, interface: a, peers: [127.0.1.2]}]\nroutes: [{to_trunk: t}]\n";
    CHECK(problem(iface + "    flood: {rate: -1}\n" + rest) ==
          "t.yaml:5:19: interfaces[0].flood.rate: expected a rate per second from 0 to 100000 (0: "
          "no limit) (got '-1')");
    CHECK(problem(iface + "    flood: {block: 0}\n" + rest) ==
          "t.yaml:5:20: interfaces[0].flood.block: expected a number of seconds 1..86400 (got "
          "'0')");
    CHECK(problem(iface + "    allow_sources: [10.1.2.3/8]\n" + rest) ==
          "t.yaml:5:21: interfaces[0].allow_sources[0]: expected an address block whose host bits "
          "are zero (IP/8 starts at a multiple of the block size) (got '10.1.2.3/8')");
    const std::string trunk = iface + "trunks:\n  - {name: t, interface: a, peers: [127.0.1.2], ";
    CHECK(problem(trunk + "limits: {inbound: {cps: fast}}}\nroutes: [{to_trunk: t}]\n") ==
          "t.yaml:6:73: trunks[0].limits.inbound.cps: expected a rate per second from 0 to 10000 "
          "(0: no limit) (got 'fast')");
    CHECK(problem(trunk + "limits: {sideways: {}}}\nroutes: [{to_trunk: t}]\n") ==
          "t.yaml:6:58: trunks[0].limits.sideways: unknown key 'sideways'; expected one of: "
          "inbound, outbound");
}

TEST_CASE("allow_sources must hold the interface's trunk peers", "[config]") {
    CHECK(problem("interfaces:\n"
                  "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1,\n"
                  "     allow_sources: [127.0.1.0/30]}\n"
                  "trunks: [{name: t, interface: a, peers: [127.0.1.2, 127.0.1.9]}]\n"
                  "routes: [{to_trunk: t}]\n") ==
          "t.yaml:4:53: trunks[0].peers[1]: expected an address inside the allow_sources of "
          "interface 'a' (requests from elsewhere are dropped) (got '127.0.1.9')");
}

TEST_CASE("session_timer and refer: the YAML forms and their errors", "[config]") {
    const std::string iface =
        "interfaces: [{name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}]\n"
        "routes: [{to_trunk: t}]\n"
        "trunks:\n  - {name: t, interface: a, peers: [127.0.1.2], ";
    const auto cfg = config::load_string(
        iface + "session_timer: {expires: 1800, min_se: 120}, refer: handle}\n", "t.yaml");
    CHECK(cfg.trunks[0].session_timer.expires == 1800);
    CHECK(cfg.trunks[0].session_timer.min_se == 120);
    CHECK(cfg.trunks[0].refer == config::refer_policy::handle);
    const auto defaults = config::load_string(iface + "codecs: [PCMA]}\n", "t.yaml");
    CHECK(defaults.trunks[0].session_timer.expires == 0);
    CHECK(defaults.trunks[0].session_timer.min_se == 90);
    CHECK(defaults.trunks[0].refer == config::refer_policy::reject);
    CHECK(problem(iface + "session_timer: {expires: 60}}\n") ==
          "t.yaml:4:74: trunks[0].session_timer.expires: expected a number of seconds not below "
          "min_se (90) (got '60')");
    CHECK(problem(iface + "refer: relay}\n") ==
          "t.yaml:4:56: trunks[0].refer: expected reject or handle (got 'relay')");
}
