// Header manipulation: the `headers` YAML of a trunk (every action form and
// every mistake, with its line, column and key path) and the rules applied
// to header lists, as the B2BUA applies them on each leg.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sbc/config/config.hpp"
#include "sbc/policy/header_rules.hpp"

using namespace sbc;
using action = config::header_rule::action;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_header_rules {

namespace {

const std::string preamble =
    "interfaces:\n"
    "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
    "routes:\n"
    "  - {to_trunk: t}\n"
    "trunks:\n";

// The rules under test start on line 10, indented by six spaces.
const std::string head = preamble +
                         "  - name: t\n"
                         "    interface: a\n"
                         "    peers: [127.0.1.2]\n"
                         "    headers:\n";

config::header_rules load(const std::string& rules) {
    const auto cfg = config::load_string(head + rules, "t.yaml");
    REQUIRE(cfg.trunks.size() == 1);
    return cfg.trunks[0].headers;
}

std::vector<std::string> problems(const std::string& rules) {
    try {
        config::load_string(head + rules, "t.yaml");
    } catch (const config::config_error& e) {
        return e.problems();
    }
    FAIL("loaded: " << rules);
    return {};
}

std::string problem(const std::string& rules) {
    const auto p = problems(rules);
    INFO(rules);
    for (const auto& text : p) {
        UNSCOPED_INFO(text);
    }
    REQUIRE(p.size() == 1);
    return p.front();
}

std::string outbound(const std::string& entry) {
    return "      outbound:\n        - " + entry + "\n";
}
std::string inbound(const std::string& entry) {
    return "      inbound:\n        - " + entry + "\n";
}

config::header_rule rule(action what, std::string header, std::string param, std::string value) {
    return config::header_rule{.what = what,
                               .header = std::move(header),
                               .param = std::move(param),
                               .value = std::move(value),
                               .mark = {}};
}
config::header_rule add_header(std::string name, std::string value) {
    return rule(action::add, std::move(name), "", std::move(value));
}
config::header_rule set_header(std::string name, std::string value) {
    return rule(action::set, std::move(name), "", std::move(value));
}
config::header_rule remove_header(std::string name) {
    return rule(action::remove, std::move(name), "", "");
}
config::header_rule set_param(std::string header, std::string param, std::string value = "") {
    return rule(action::set_param, std::move(header), std::move(param), std::move(value));
}
config::header_rule remove_param(std::string header, std::string param) {
    return rule(action::remove_param, std::move(header), std::move(param), "");
}

// "Name: value" lines, so that a failure shows the headers as on the wire.
std::vector<std::string> lines(const std::vector<policy::header_field>& headers) {
    std::vector<std::string> out;
    for (const auto& h : headers) {
        out.push_back(h.name + ": " + h.value);
    }
    return out;
}

std::vector<std::string> apply(const std::vector<config::header_rule>& rules,
                               std::vector<policy::header_field> headers,
                               const policy::rule_context& ctx = {}) {
    policy::apply_header_rules(rules, headers, ctx);
    return lines(headers);
}

// The value of one header line after one parameter rule.
std::string param_rule(const config::header_rule& rule, const std::string& name,
                       const std::string& value, const policy::rule_context& ctx = {}) {
    const auto out = apply({rule}, {{name, value}}, ctx);
    REQUIRE(out.size() == 1);
    return out.front().substr(name.size() + 2);
}

using strings = std::vector<std::string>;

}  // namespace

TEST_CASE("headers: every action form of the YAML", "[headers][config]") {
    const auto rules = load(
        "      inbound:\n"
        "        - remove: X-Internal-Id\n"
        "      outbound:\n"
        "        - add: {name: X-Origin, value: \"${from_trunk}\"}\n"
        "        - set: {name: P-Asserted-Identity, value: "
        "\"<sip:${from_user}@carrier.example>\"}\n"
        "        - remove: User-Agent\n"
        "        - set_param: {header: From, param: verstat, value: TN-Validation-Passed}\n"
        "        - set_param: {header: P-Asserted-Identity, param: screened}\n"
        "        - remove_param: {header: Diversion, param: counter}\n"
        "        - set: {name: X-Account, value: \"${header:X-Account}\"}\n"
        "        - set_param: {header: t, param: cause, value: \"$$5 ${header:s}\"}\n"
        "        - add: {name: X-Empty, value: }\n"
        "        - set: {name: X-Cost, value: \"$5 $$\"}\n");
    REQUIRE(rules.inbound.size() == 1);
    CHECK(rules.inbound[0].what == action::remove);
    CHECK(rules.inbound[0].header == "X-Internal-Id");
    CHECK(rules.inbound[0].mark.line == 11);
    CHECK(rules.inbound[0].mark.column == 11);

    const auto& o = rules.outbound;
    REQUIRE(o.size() == 10);
    CHECK(o[0].what == action::add);
    CHECK(o[0].header == "X-Origin");
    CHECK(o[0].value == "${from_trunk}");
    CHECK(o[0].mark.line == 13);
    CHECK(o[1].what == action::set);
    CHECK(o[1].header == "P-Asserted-Identity");
    CHECK(o[1].value == "<sip:${from_user}@carrier.example>");
    CHECK(o[2].what == action::remove);
    CHECK(o[2].header == "User-Agent");
    CHECK(o[3].what == action::set_param);
    CHECK(o[3].header == "From");
    CHECK(o[3].param == "verstat");
    CHECK(o[3].value == "TN-Validation-Passed");
    CHECK(o[4].what == action::set_param);
    CHECK(o[4].param == "screened");
    CHECK(o[4].value.empty());
    CHECK(o[5].what == action::remove_param);
    CHECK(o[5].header == "Diversion");
    CHECK(o[5].param == "counter");
    CHECK(o[6].value == "${header:X-Account}");
    CHECK(o[7].header == "t");
    CHECK(o[7].value == "$$5 ${header:s}");
    CHECK(o[8].value.empty());
    CHECK(o[9].value == "$5 $$");
    CHECK(o[9].mark.line == 22);
    CHECK(o[9].mark.column == 11);

    CHECK(load("      inbound: []\n").outbound.empty());
    // Without the key a trunk has no rules.
    const auto plain = config::load_string(
        preamble + "  - {name: t, interface: a, peers: [127.0.1.2]}\n", "t.yaml");
    CHECK(plain.trunks[0].headers.inbound.empty());
    CHECK(plain.trunks[0].headers.outbound.empty());
}

TEST_CASE("headers: names must be tokens of headers the SBC does not build", "[headers][config]") {
    CHECK(problem(outbound("add: {name: 'X Bad', value: x}")) ==
          "t.yaml:11:23: trunks[0].headers.outbound[0].add.name: expected a header name (RFC 3261 "
          "25.1 token) (got 'X Bad')");
    CHECK(problem(outbound("remove: 'X-A:'")) ==
          "t.yaml:11:19: trunks[0].headers.outbound[0].remove: expected a header name (RFC 3261 "
          "25.1 token) (got 'X-A:')");

    const std::string never =
        "expected a header the SBC does not build itself; Via, Route, Record-Route, Contact, "
        "Call-ID, CSeq, Max-Forwards, Content-* and the others listed in conf/README.md are never "
        "changed";
    CHECK(problem(inbound("remove: Via")) ==
          "t.yaml:11:19: trunks[0].headers.inbound[0].remove: " + never + " (got 'Via')");
    CHECK(problem(outbound("set: {name: Contact, value: x}")) ==
          "t.yaml:11:23: trunks[0].headers.outbound[0].set.name: " + never + " (got 'Contact')");
    CHECK(problem(outbound("set_param: {header: record-route, param: lr}")) ==
          "t.yaml:11:31: trunks[0].headers.outbound[0].set_param.header: " + never +
              " (got 'record-route')");
    // Compact forms (RFC 3261 7.3.3) are the same headers.
    for (const std::string h :
         {"v", "i", "m", "l", "c", "e", "k", "Call-ID", "CSeq", "Max-Forwards",
          "Content-Disposition", "Require", "Supported", "Proxy-Authorization", "Route"}) {
        INFO(h);
        CHECK(problem(outbound("remove: " + h)) ==
              "t.yaml:11:19: trunks[0].headers.outbound[0].remove: " + never + " (got '" + h +
                  "')");
        CHECK(problem(outbound("remove_param: {header: " + h + ", param: x}")) ==
              "t.yaml:11:34: trunks[0].headers.outbound[0].remove_param.header: " + never +
                  " (got '" + h + "')");
    }
    // Compact forms of headers the SBC does not build are fine.
    CHECK(load(outbound("remove: s")).outbound.size() == 1);
    CHECK(load(outbound("remove: r")).outbound.size() == 1);
    // Session-Expires (x) is each leg's own (RFC 4028).
    CHECK(problem(outbound("remove: x")) ==
          "t.yaml:11:19: trunks[0].headers.outbound[0].remove: " + never + " (got 'x')");
}

TEST_CASE("headers: From and To take only outbound parameter rules, never tag",
          "[headers][config]") {
    const std::string from_to =
        "expected a header the SBC does not build itself; From and To take only set_param and "
        "remove_param, in outbound rules";
    CHECK(problem(outbound("remove: From")) ==
          "t.yaml:11:19: trunks[0].headers.outbound[0].remove: " + from_to + " (got 'From')");
    CHECK(problem(outbound("set: {name: to, value: x}")) ==
          "t.yaml:11:23: trunks[0].headers.outbound[0].set.name: " + from_to + " (got 'to')");
    CHECK(problem(outbound("add: {name: f, value: x}")) ==
          "t.yaml:11:23: trunks[0].headers.outbound[0].add.name: " + from_to + " (got 'f')");
    CHECK(problem(inbound("set_param: {header: From, param: verstat, value: x}")) ==
          "t.yaml:11:31: trunks[0].headers.inbound[0].set_param.header: " + from_to +
              " (got 'From')");
    CHECK(problem(inbound("remove_param: {header: t, param: x}")) ==
          "t.yaml:11:34: trunks[0].headers.inbound[0].remove_param.header: " + from_to +
              " (got 't')");

    const auto ok = load(
        "      outbound:\n"
        "        - set_param: {header: f, param: verstat, value: No-TN-Validation}\n"
        "        - remove_param: {header: TO, param: user}\n");
    CHECK(ok.outbound.size() == 2);

    const std::string tag =
        "expected a parameter other than tag (the tag of From and To is the dialog's)";
    CHECK(problem(outbound("set_param: {header: To, param: tag, value: x}")) ==
          "t.yaml:11:42: trunks[0].headers.outbound[0].set_param.param: " + tag + " (got 'tag')");
    CHECK(problem(outbound("remove_param: {header: f, param: TAG}")) ==
          "t.yaml:11:44: trunks[0].headers.outbound[0].remove_param.param: " + tag +
              " (got 'TAG')");
    // Elsewhere a tag is just a parameter.
    CHECK(load(outbound("remove_param: {header: X-Tagged, param: tag}")).outbound.size() == 1);

    CHECK(problem(outbound("set_param: {header: X-A, param: 'a=b', value: x}")) ==
          "t.yaml:11:43: trunks[0].headers.outbound[0].set_param.param: expected a parameter "
          "name (RFC 3261 25.1 token) (got 'a=b')");
}

TEST_CASE("headers: values and their references", "[headers][config]") {
    const std::string value = "expected a value of at most 1024 bytes without CR, LF or NUL";
    CHECK(problem(outbound("add: {name: X-A, value: \"a\\r\\nX-B: b\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: " + value +
              " (got 'a\\x0d\\x0aX-B: b')");
    CHECK(problem(outbound("set: {name: X-A, value: \"a\\0b\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].set.value: " + value + " (got 'a\\x00b')");
    CHECK(
        load(outbound("add: {name: X-A, value: " + std::string(1024, 'a') + "}")).outbound.size() ==
        1);
    CHECK(problem(outbound("add: {name: X-A, value: " + std::string(1025, 'a') + "}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: " + value + " (got '" +
              std::string(80, 'a') + "...')");

    const std::string reference =
        "expected a reference ${ruri_user}, ${from_user}, ${to_user}, ${from_trunk}, "
        "${to_trunk}, ${source_ip} or ${header:Name}, or $$ for a literal $";
    CHECK(problem(outbound("add: {name: X-A, value: \"x ${fromuser} y\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: " + reference +
              " (got '${fromuser}')");
    CHECK(problem(outbound("add: {name: X-A, value: \"${FROM_USER}\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: " + reference +
              " (got '${FROM_USER}')");
    CHECK(problem(outbound("add: {name: X-A, value: \"${ from_user }\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: " + reference +
              " (got '${ from_user }')");
    CHECK(problem(outbound("add: {name: X-A, value: \"${}\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: " + reference + " (got '${}')");
    CHECK(problem(outbound("add: {name: X-A, value: \"<sip:${from_user@h>\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: expected '}' to end the "
          "reference (got '${from_user@h>')");
    CHECK(problem(outbound("add: {name: X-A, value: \"${header:}\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: expected ${header:Name} with a "
          "header name (RFC 3261 25.1 token) (got '${header:}')");
    CHECK(problem(outbound("add: {name: X-A, value: \"${header:X A}\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: expected ${header:Name} with a "
          "header name (RFC 3261 25.1 token) (got '${header:X A}')");
    CHECK(problem(outbound("set_param: {header: X-A, param: p, value: \"${header:Via}\"}")) ==
          "t.yaml:11:53: trunks[0].headers.outbound[0].set_param.value: expected ${header:Name} "
          "of a header the SBC does not build itself (got '${header:Via}')");
    CHECK(problem(outbound("add: {name: X-A, value: \"${header:m}\"}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].add.value: expected ${header:Name} of a "
          "header the SBC does not build itself (got '${header:m}')");
    // "$$" escapes the "$" of "${", and a lone "$" stands for itself.
    CHECK(load(outbound("add: {name: X-A, value: \"$${fromuser} $ $5 $\"}")).outbound.size() == 1);

    const std::string flag =
        "expected a parameter value of at most 1024 bytes without CR, LF or NUL (leave value out "
        "for a flag parameter)";
    CHECK(problem(outbound("set_param: {header: X-A, param: p, value: ''}")) ==
          "t.yaml:11:53: trunks[0].headers.outbound[0].set_param.value: " + flag + " (got '')");
    CHECK(problem(outbound("set_param: {header: X-A, param: p, value: }")) ==
          "t.yaml:11:46: trunks[0].headers.outbound[0].set_param.value: " + flag +
              " (got nothing)");
    CHECK(problem(outbound("set_param: {header: X-A, param: p, value: \"a\\nb\"}")) ==
          "t.yaml:11:53: trunks[0].headers.outbound[0].set_param.value: " + flag +
              " (got 'a\\x0ab')");
}

TEST_CASE("headers: the shape of the rules", "[headers][config]") {
    const std::string rule =
        "expected a header rule: a map with one of add, set, remove, set_param or remove_param "
        "(and optionally methods)";
    CHECK(problem(outbound("{}")) ==
          "t.yaml:11:11: trunks[0].headers.outbound[0]: " + rule + " (got an empty map)");
    CHECK(problem(outbound("X-A")) ==
          "t.yaml:11:11: trunks[0].headers.outbound[0]: " + rule + " (got 'X-A')");
    CHECK(problem(outbound("{remove: X-A, add: {name: X-B, value: b}}")) ==
          "t.yaml:11:30: trunks[0].headers.outbound[0].add: expected one action per rule (got "
          "remove and add)");
    CHECK(problem(outbound("delete: X-A")) ==
          "t.yaml:11:11: trunks[0].headers.outbound[0].delete: unknown key 'delete'; expected one "
          "of: add, set, remove, set_param, remove_param, methods");
    CHECK(problem(outbound("remov: X-A")) ==
          "t.yaml:11:11: trunks[0].headers.outbound[0].remov: unknown key 'remov' (did you mean "
          "'remove'?); expected one of: add, set, remove, set_param, remove_param, methods");
    CHECK(problem(outbound("remove: [X-A, X-B]")) ==
          "t.yaml:11:19: trunks[0].headers.outbound[0].remove: expected a header name (RFC 3261 "
          "25.1 token) (got a list)");
    CHECK(problem(outbound("add: X-A")) ==
          "t.yaml:11:16: trunks[0].headers.outbound[0].add: expected a map with name and value "
          "(got 'X-A')");
    CHECK(problem(outbound("add: {name: X-A}")) ==
          "t.yaml:11:16: trunks[0].headers.outbound[0].add.value: required key missing: expected "
          "a value of at most 1024 bytes without CR, LF or NUL");
    CHECK(problem(outbound("set: {name: X-A, value: [a]}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].set.value: expected a value of at most "
          "1024 bytes without CR, LF or NUL (got a list)");
    CHECK(problem(outbound("set: {name: X-A, value: a, header: X-B}")) ==
          "t.yaml:11:38: trunks[0].headers.outbound[0].set.header: unknown key 'header'; expected "
          "one of: name, value");
    CHECK(problem(outbound("set_param: {header: X-A}")) ==
          "t.yaml:11:22: trunks[0].headers.outbound[0].set_param.param: required key missing: "
          "expected a parameter name (RFC 3261 25.1 token)");
    CHECK(problem(outbound("remove_param: {header: X-A, param: p, value: v}")) ==
          "t.yaml:11:49: trunks[0].headers.outbound[0].remove_param.value: unknown key 'value'; "
          "expected one of: header, param");
    CHECK(problem("      outbound: X-A\n") ==
          "t.yaml:10:17: trunks[0].headers.outbound: expected a list of header rules (got 'X-A')");
    CHECK(problem("      both: []\n") ==
          "t.yaml:10:7: trunks[0].headers.both: unknown key 'both'; expected one of: inbound, "
          "outbound");
    CHECK(problems("      [remove: X-A]\n") ==
          strings{"t.yaml:10:7: trunks[0].headers: expected a map with inbound and outbound "
                  "lists of header rules (got a list)"});

    // Every problem of the list is reported, not only the first.
    CHECK(problems("      inbound:\n"
                   "        - remove: Via\n"
                   "        - remove: X-Fine\n"
                   "        - add: {name: X-A, value: \"${nope}\"}\n") ==
          strings{"t.yaml:11:19: trunks[0].headers.inbound[0].remove: expected a header the SBC "
                  "does not build itself; Via, Route, Record-Route, Contact, Call-ID, CSeq, "
                  "Max-Forwards, Content-* and the others listed in conf/README.md are never "
                  "changed (got 'Via')",
                  "t.yaml:13:35: trunks[0].headers.inbound[2].add.value: expected a reference "
                  "${ruri_user}, ${from_user}, ${to_user}, ${from_trunk}, ${to_trunk}, "
                  "${source_ip} or ${header:Name}, or $$ for a literal $ (got '${nope}')"});
}

TEST_CASE("headers: the methods a rule applies to", "[headers][config]") {
    // Without methods a rule is for INVITEs, as before methods existed.
    CHECK(load(outbound("remove: X-A")).outbound[0].methods == std::vector<std::string>{"INVITE"});
    CHECK(load(outbound("{remove: X-A, methods: [INFO, UPDATE, INFO]}")).outbound[0].methods ==
          std::vector<std::string>{"INFO", "UPDATE"});
    const std::string expected =
        "expected a non-empty list of INVITE, UPDATE, INFO and MESSAGE (the requests the SBC "
        "relays)";
    CHECK(problem(outbound("{remove: X-A, methods: [INVITE, BYE]}")) ==
          "t.yaml:11:43: trunks[0].headers.outbound[0].methods[1]: " + expected + " (got 'BYE')");
    CHECK(problem(outbound("{remove: X-A, methods: [invite]}")) ==
          "t.yaml:11:35: trunks[0].headers.outbound[0].methods[0]: " + expected +
              " (got 'invite')");
    CHECK(problem(outbound("{remove: X-A, methods: []}"))
              .find("t.yaml:11:34: trunks[0].headers.outbound[0].methods: ") == 0);
    CHECK(problem(outbound("{remove: X-A, methods: INFO}"))
              .find("t.yaml:11:34: trunks[0].headers.outbound[0].methods: ") == 0);

    auto info_only = add_header("X-Info", "i");
    info_only.methods = {"INFO"};
    const std::vector<config::header_rule> rules = {info_only, add_header("X-Invite", "v")};
    policy::rule_context ctx;
    CHECK(apply(rules, {}, ctx) == strings{"X-Invite: v"});
    ctx.method = "INFO";
    CHECK(apply(rules, {}, ctx) == strings{"X-Info: i"});
    ctx.method = "MESSAGE";
    CHECK(apply(rules, {}, ctx).empty());
}

TEST_CASE("headers: add, set and remove", "[headers]") {
    const std::vector<policy::header_field> in = {
        {"Subject", "one"}, {"X-A", "a1"}, {"x-a", "a2"}, {"s", "compact"}};

    CHECK(apply({add_header("X-A", "a3")}, in) ==
          strings{"Subject: one", "X-A: a1", "x-a: a2", "s: compact", "X-A: a3"});
    CHECK(apply({set_header("x-A", "new")}, in) ==
          strings{"Subject: one", "x-A: new", "s: compact"});
    CHECK(apply({set_header("X-B", "b")}, in) ==
          strings{"Subject: one", "X-A: a1", "x-a: a2", "s: compact", "X-B: b"});
    CHECK(apply({remove_header("X-A")}, in) == strings{"Subject: one", "s: compact"});
    // "s" is Subject (RFC 3261 7.3.3) either way round.
    CHECK(apply({remove_header("SUBJECT")}, in) == strings{"X-A: a1", "x-a: a2"});
    CHECK(apply({set_header("s", "two")}, in) == strings{"s: two", "X-A: a1", "x-a: a2"});
    CHECK(apply({add_header("X-Empty", "")}, {}) == strings{"X-Empty: "});

    // Each rule sees what the ones before it left.
    CHECK(apply({remove_header("X-A"), add_header("X-A", "mine")}, in) ==
          strings{"Subject: one", "s: compact", "X-A: mine"});
    CHECK(apply({add_header("X-A", "mine"), remove_header("X-A")}, in) ==
          strings{"Subject: one", "s: compact"});
    CHECK(apply({add_header("X-A", "mine"), set_header("X-A", "only")}, in) ==
          strings{"Subject: one", "X-A: only", "s: compact"});

    CHECK(policy::same_header("f", "FROM"));
    CHECK(policy::same_header("Session-Expires", "X"));
    CHECK_FALSE(policy::same_header("f", "To"));
}

TEST_CASE("headers: rules on the headers the SBC builds are skipped", "[headers]") {
    const std::vector<policy::header_field> in = {
        {"Via", "SIP/2.0/UDP 10.0.0.1"}, {"f", "<sip:1@h>;tag=a"}, {"To", "<sip:2@h>;tag=b"}};
    const auto unchanged = lines(in);
    CHECK(apply({remove_header("Via"), remove_header("v"), set_header("Via", "x"),
                 add_header("Contact", "<sip:x@y>")},
                in) == unchanged);
    CHECK(apply({remove_header("From"), set_header("To", "x"), add_header("t", "x")}, in) ==
          unchanged);
    CHECK(apply({set_param("From", "tag", "x"), remove_param("to", "TAG")}, in) == unchanged);
    CHECK(apply({set_param("X-A", "a;b", "x"), add_header("Bad Name", "x")}, {}) == strings{});
    // A parameter other than the tag is the carrier's business.
    CHECK(apply({set_param("From", "verstat", "TN-Validation-Passed"), remove_param("t", "tag")},
                in) == strings{"Via: SIP/2.0/UDP 10.0.0.1",
                               "f: <sip:1@h>;tag=a;verstat=TN-Validation-Passed",
                               "To: <sip:2@h>;tag=b"});
}

TEST_CASE("headers: set_param and remove_param", "[headers]") {
    const auto name_addr = R"("A" <sip:1@h;user=phone>;tag=x)";
    SECTION("header parameters of a name-addr follow the '>', never the URI's") {
        CHECK(param_rule(set_param("From", "verstat", "TN-Validation-Passed"), "From", name_addr) ==
              R"("A" <sip:1@h;user=phone>;tag=x;verstat=TN-Validation-Passed)");
        CHECK(param_rule(set_param("From", "user", "x"), "From", name_addr) ==
              R"("A" <sip:1@h;user=phone>;tag=x;user=x)");
        CHECK(param_rule(remove_param("From", "user"), "From", name_addr) == name_addr);
        CHECK(param_rule(set_param("X-A", "p", "1"), "X-A", R"("a;b<c>" <sip:1@h>)") ==
              R"("a;b<c>" <sip:1@h>;p=1)");
        CHECK(param_rule(remove_param("X-A", "p"), "X-A", "Bob <sip:1@h;p=1> ; p=2 ;q") ==
              "Bob <sip:1@h;p=1>;q");
    }
    SECTION("a bare URI's parameters are the header's (RFC 3261 20.10)") {
        CHECK(param_rule(set_param("P-Asserted-Identity", "p", "2"), "P-Asserted-Identity",
                         "sip:1@h;p=1") == "sip:1@h;p=2");
        CHECK(param_rule(remove_param("P-Asserted-Identity", "p"), "P-Asserted-Identity",
                         "tel:+15551234567;p=1;q=2") == "tel:+15551234567;q=2");
        CHECK(param_rule(set_param("X-A", "p", "1"), "X-A", "sip:1@h") == "sip:1@h;p=1");
    }
    SECTION("replacing keeps the place, is case-insensitive and drops repeats") {
        CHECK(param_rule(set_param("X-A", "verstat", "new"), "X-A",
                         "<sip:1@h>;a=1;VerStat=old;b=2;verstat=again") ==
              "<sip:1@h>;a=1;verstat=new;b=2");
        CHECK(param_rule(remove_param("X-A", "VERSTAT"), "X-A", "<sip:1@h>;verstat=a;b;verstat") ==
              "<sip:1@h>;b");
    }
    SECTION("flag parameters") {
        CHECK(param_rule(set_param("P-Asserted-Identity", "screened"), "P-Asserted-Identity",
                         "<sip:1@h>") == "<sip:1@h>;screened");
        CHECK(param_rule(set_param("X-A", "screened"), "X-A", "<sip:1@h>;screened=no;x") ==
              "<sip:1@h>;screened;x");
        CHECK(param_rule(set_param("X-A", "x", "1"), "X-A", "<sip:1@h>;screened;x") ==
              "<sip:1@h>;screened;x=1");
        CHECK(param_rule(remove_param("X-A", "screened"), "X-A", "<sip:1@h>;screened;x") ==
              "<sip:1@h>;x");
    }
    SECTION("each element of a comma list; commas in quotes or <...> do not split") {
        const auto diversion =
            R"("Smith, John" <sip:1,2@h;a=b>;reason=unconditional;counter=1, <sip:3@h>;counter=2)";
        CHECK(param_rule(remove_param("Diversion", "counter"), "Diversion", diversion) ==
              R"("Smith, John" <sip:1,2@h;a=b>;reason=unconditional, <sip:3@h>)");
        CHECK(param_rule(set_param("P-Asserted-Identity", "screened"), "P-Asserted-Identity",
                         R"("A, B" <sip:1@h>,tel:+1;x=1)") ==
              R"("A, B" <sip:1@h>;screened,tel:+1;x=1;screened)");
        CHECK(param_rule(remove_param("Reason", "cause"), "Reason",
                         R"(SIP;cause=487;text="a;b, c", Q.850;cause=16)") ==
              R"(SIP;text="a;b, c", Q.850)");
        // A date has a comma that separates nothing.
        CHECK(param_rule(set_param("Date", "x", "1"), "Date", "Sat, 13 Nov 2010 23:29:00 GMT") ==
              "Sat, 13 Nov 2010 23:29:00 GMT;x=1");
    }
    SECTION("a value that would change the header's structure is quoted") {
        const std::vector<policy::header_field> request = {{"X-In", R"(a "b";c>)"}};
        policy::rule_context ctx;
        ctx.request_headers = &request;
        CHECK(param_rule(set_param("X-A", "p", "${header:X-In}"), "X-A", "<sip:1@h>", ctx) ==
              R"(<sip:1@h>;p="a \"b\";c>")");
        CHECK(param_rule(set_param("X-A", "p", "\"q\""), "X-A", "<sip:1@h>") ==
              R"(<sip:1@h>;p="q")");
        CHECK(param_rule(set_param("X-A", "maddr", "[2001:db8::1]"), "X-A", "<sip:1@h>") ==
              "<sip:1@h>;maddr=[2001:db8::1]");
        CHECK(param_rule(set_param("X-A", "p", "${header:X-Absent}"), "X-A", "<sip:1@h>", ctx) ==
              R"(<sip:1@h>;p="")");
    }
    SECTION("what does not parse is left as it was") {
        for (const std::string v : {"<sip:1@h;p=1", R"("open <sip:1@h>;p=1)", "<sip:1@h> junk;p=1",
                                    "<sip:1@h>;;p=1", "<sip:1@h>;=1;p=1", ""}) {
            INFO(v);
            CHECK(param_rule(remove_param("X-A", "p"), "X-A", v) == v);
            CHECK(param_rule(set_param("X-A", "p", "2"), "X-A", v) == v);
        }
        CHECK(param_rule(remove_param("X-A", "q"), "X-A", "<sip:1@h>  ;p = 1") ==
              "<sip:1@h>  ;p = 1");
    }
    SECTION("every line of the header") {
        CHECK(
            apply({set_param("Diversion", "counter", "1")},
                  {{"Diversion", "<sip:1@h>"}, {"X-A", "<sip:2@h>"}, {"diversion", "<sip:3@h>"}}) ==
            strings{"Diversion: <sip:1@h>;counter=1", "X-A: <sip:2@h>",
                    "diversion: <sip:3@h>;counter=1"});
    }
}

TEST_CASE("headers: expand", "[headers]") {
    const std::vector<policy::header_field> request = {{"X-Account", "4711"},
                                                       {"x-account", "second"},
                                                       {"Subject", "Hi\r\nVia: evil"},
                                                       {"Via", "SIP/2.0/UDP 10.0.0.1"},
                                                       {"i", "secret@10.0.0.1"}};
    policy::rule_context ctx;
    ctx.ruri_user = "100";
    ctx.from_user = "+4930123";
    ctx.to_user = "200";
    ctx.from_trunk = "pbx";
    ctx.to_trunk = "carrier";
    ctx.source_ip = "192.0.2.1";
    ctx.request_headers = &request;

    CHECK(policy::expand(
              "${ruri_user}|${from_user}|${to_user}|${from_trunk}|${to_trunk}|${source_ip}", ctx) ==
          "100|+4930123|200|pbx|carrier|192.0.2.1");
    CHECK(policy::expand("<sip:${from_user}@carrier.example>", ctx) ==
          "<sip:+4930123@carrier.example>");
    CHECK(policy::expand("acct=${header:X-Account}", ctx) == "acct=4711");
    CHECK(policy::expand("[${header:X-Absent}]", ctx) == "[]");
    // The compact form finds the long name, and the value's CR LF is gone.
    CHECK(policy::expand("${header:s}", ctx) == "HiVia: evil");
    // Never another leg's topology.
    CHECK(policy::expand("[${header:Via}${header:Call-ID}]", ctx) == "[]");

    policy::rule_context no_headers = ctx;
    no_headers.request_headers = nullptr;
    CHECK(policy::expand("[${header:X-Account}]", no_headers) == "[]");

    // "$$" is a literal "$"; a "$" before anything but "{" or "$" is itself.
    CHECK(policy::expand("$${from_user} $$$$ $5 $", ctx) == "${from_user} $$ $5 $");
    CHECK(policy::expand("$$${from_user}", ctx) == "$+4930123");
    // The configuration refuses these; here they come to nothing.
    CHECK(policy::expand("a${nope}b", ctx) == "ab");
    CHECK(policy::expand("a${from_user", ctx) == "a");

    static constexpr char from_user[] = "a\r\nX-Injected: 1\n\0b";
    policy::rule_context evil;
    evil.from_user = std::string_view(from_user, sizeof from_user - 1);
    evil.source_ip = std::string_view(
        "1\0"
        "2",
        3);
    CHECK(policy::expand("${from_user}|${source_ip}|x\ry", evil) == "aX-Injected: 1b|12|xy");

    // A rule may read the very headers it changes: the value comes first.
    std::vector<policy::header_field> headers = {{"X-Account", "4711"}};
    policy::rule_context self;
    self.request_headers = &headers;
    policy::apply_header_rules({set_header("X-Account", "was ${header:X-Account}"),
                                add_header("X-Copy", "${header:X-Account}")},
                               headers, self);
    CHECK(lines(headers) == strings{"X-Account: was 4711", "X-Copy: was 4711"});
}

}  // namespace test_header_rules
