// Unit tests of sbc/config: the default configuration loads, and every kind of
// mistake comes back as "file:line:column: key.path: what was expected".
#include "sbc/config/config.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#ifndef SBC_SOURCE_ROOT
#error "SBC_SOURCE_ROOT must name the source tree (set by tests/sbc/meson.build)"
#endif

using sbc::config::config_error;
using sbc::config::early_offer_policy;
using sbc::config::load_string;
using sbc::config::transport;

namespace {

// Valid sections to complete a document around the section under test. Each
// is two lines, so a section placed first keeps the line numbers it shows.
const std::string interfaces_ok =
    "interfaces:\n"
    "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n";
const std::string trunks_ok =
    "trunks:\n"
    "  - {name: t, interface: a, peers: [127.0.1.2]}\n";
const std::string routes_ok =
    "routes:\n"
    "  - {to_trunk: t}\n";
const std::string all_ok = interfaces_ok + trunks_ok + routes_ok;

// The problems load_string() reports for `yaml`; fails the test if it loads.
std::vector<std::string> problems_of(const std::string& yaml) {
    try {
        load_string(yaml, "t.yaml");
    } catch (const config_error& e) {
        return e.problems();
    }
    FAIL("the configuration loaded, a config_error was expected:\n" << yaml);
    return {};
}

// The one problem reported for `yaml`.
std::string problem_of(const std::string& yaml) {
    const auto problems = problems_of(yaml);
    INFO(yaml);
    for (const auto& p : problems) {
        UNSCOPED_INFO(p);
    }
    REQUIRE(problems.size() == 1);
    return problems.front();
}

bool mentions(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the default configuration loads as documented", "[config]") {
    const std::string path = SBC_SOURCE_ROOT "/conf/sbc.yaml";
    const auto cfg = sbc::config::load_file(path);

    CHECK(cfg.source_file == path);
    REQUIRE(cfg.interfaces.size() == 2);
    const auto* carrier = cfg.find_interface("carrier");
    const auto* pbx = cfg.find_interface("pbx");
    REQUIRE(carrier != nullptr);
    REQUIRE(pbx != nullptr);
    CHECK(cfg.find_interface("nope") == nullptr);

    REQUIRE(carrier->listen.size() == 2);
    CHECK(carrier->listen[0].proto == transport::udp);
    CHECK(carrier->listen[0].host == "127.0.1.1");
    CHECK(carrier->listen[0].port == 5060);
    CHECK(carrier->listen[1].proto == transport::tcp);
    CHECK(carrier->listen[1].host == "127.0.1.1");
    CHECK(carrier->media_address == "127.0.1.1");
    REQUIRE(pbx->listen.size() == 2);
    CHECK(sbc::config::to_string(pbx->listen[0]) == "udp://127.0.2.1:5060");
    CHECK(sbc::config::to_string(pbx->listen[1]) == "tcp://127.0.2.1:5060");
    CHECK(pbx->media_address == "127.0.2.1");
    CHECK(carrier->mark.line > 0);
    CHECK(carrier->mark.column > 0);

    REQUIRE(cfg.trunks.size() == 2);
    const auto* carrier_trunk = cfg.find_trunk("carrier");
    const auto* pbx_trunk = cfg.find_trunk("pbx");
    REQUIRE(carrier_trunk != nullptr);
    REQUIRE(pbx_trunk != nullptr);
    CHECK(cfg.find_trunk("nope") == nullptr);
    CHECK(carrier_trunk->interface == "carrier");
    REQUIRE(carrier_trunk->peers.size() == 1);
    CHECK(carrier_trunk->peers[0].host == "127.0.1.2");
    CHECK(carrier_trunk->peers[0].port == 5060);
    CHECK(carrier_trunk->peers[0].proto == transport::udp);
    CHECK(pbx_trunk->interface == "pbx");
    REQUIRE(pbx_trunk->peers.size() == 1);
    CHECK(pbx_trunk->peers[0].host == "127.0.2.2");
    CHECK(pbx_trunk->forward_headers == sbc::config::trunk_config{}.forward_headers);

    REQUIRE(cfg.routes.size() == 2);
    CHECK(cfg.routes[0].from_trunk == "carrier");
    CHECK(cfg.routes[0].to_trunks == std::vector<std::string>{"pbx"});
    CHECK_FALSE(cfg.routes[0].from_interface);
    CHECK_FALSE(cfg.routes[0].ruri_user);
    CHECK(cfg.routes[1].from_trunk == "pbx");
    CHECK(cfg.routes[1].to_trunks == std::vector<std::string>{"carrier"});

    CHECK(cfg.media.port_min == 20000);
    CHECK(cfg.media.port_max == 29999);
    CHECK(cfg.media.backend == "kernel");
    CHECK(cfg.media.workers == 1);
    CHECK(cfg.media.timeout_seconds == 60);
    CHECK(cfg.control.socket == "/tmp/sbcd.sock");
}

TEST_CASE("optional keys take their defaults", "[config]") {
    const auto cfg = load_string(all_ok);
    CHECK(cfg.source_file == "<string>");
    CHECK(cfg.media.port_min == 20000);
    CHECK(cfg.media.port_max == 29999);
    CHECK(cfg.media.workers == 1);
    CHECK(cfg.media.timeout_seconds == 60);
    CHECK(cfg.control.socket == "/run/sbc/control.sock");
    REQUIRE(cfg.routes.size() == 1);
    CHECK(cfg.routes[0].name == "route-0");
    CHECK_FALSE(cfg.routes[0].from_trunk);
    CHECK(cfg.trunks[0].forward_headers == sbc::config::trunk_config{}.forward_headers);
    CHECK(cfg.trunks[0].mark.line == 4);
    CHECK(cfg.trunks[0].mark.column == 5);
    CHECK(cfg.routes[0].mark.line == 6);

    // "media:" and "control:" with every key commented out mean the defaults.
    const auto empty_sections = load_string(all_ok + "media:\ncontrol:\n");
    CHECK(empty_sections.media.port_min == 20000);
    CHECK(empty_sections.control.socket == "/run/sbc/control.sock");
}

TEST_CASE("addresses are read in every documented form", "[config]") {
    const auto cfg = load_string(
        "interfaces:\n"
        "  - name: v4\n"
        "    listen: [udp://127.0.1.1, tcp://127.0.1.1:5080]\n"
        "    media_address: 127.0.1.1\n"
        "  - name: v6\n"
        "    listen: ['udp://[2001:DB8:0::1]:5062', 'tcp://[::1]']\n"
        "    media_address: 2001:db8:0:0::1\n"
        "trunks:\n"
        "  - name: t\n"
        "    interface: v4\n"
        "    peers: ['127.0.1.2:5070', 'sip:127.0.1.3:5060;transport=tcp', 127.0.1.4,\n"
        "            'SIP:127.0.1.5;transport=UDP']\n"
        "  - name: t6\n"
        "    interface: v6\n"
        "    peers: ['sip:[2001:db8::2]:5060', '[2001:db8::3]', 'sip:[::1]:5090;transport=tcp']\n"
        "    forward_headers: [X-Custom, subject]\n"
        "  - name: quiet\n"
        "    interface: v6\n"
        "    peers: ['[2001:db8::4]']\n"
        "    forward_headers: []\n" +
        routes_ok);

    const auto& v4 = *cfg.find_interface("v4");
    CHECK(v4.listen[0].port == 5060);
    CHECK(v4.listen[1].port == 5080);
    const auto& v6 = *cfg.find_interface("v6");
    CHECK(v6.listen[0].host == "2001:db8::1");  // canonical form
    CHECK(v6.listen[0].port == 5062);
    CHECK(sbc::config::to_string(v6.listen[0]) == "udp://[2001:db8::1]:5062");
    CHECK(v6.listen[1].host == "::1");
    CHECK(v6.listen[1].port == 5060);
    CHECK(v6.media_address == "2001:db8::1");

    const auto& t = *cfg.find_trunk("t");
    REQUIRE(t.peers.size() == 4);
    CHECK(t.peers[0].host == "127.0.1.2");
    CHECK(t.peers[0].port == 5070);
    CHECK(t.peers[0].proto == transport::udp);
    CHECK(t.peers[1].proto == transport::tcp);
    CHECK(t.peers[2].host == "127.0.1.4");
    CHECK(t.peers[2].port == 5060);
    CHECK(t.peers[3].proto == transport::udp);
    CHECK(sbc::config::to_string(t.peers[1]) == "sip:127.0.1.3:5060;transport=tcp");

    const auto& t6 = *cfg.find_trunk("t6");
    REQUIRE(t6.peers.size() == 3);
    CHECK(t6.peers[0].host == "2001:db8::2");
    CHECK(t6.peers[1].port == 5060);
    CHECK(t6.peers[2].proto == transport::tcp);
    CHECK(sbc::config::to_string(t6.peers[2]) == "sip:[::1]:5090;transport=tcp");
    CHECK(t6.forward_headers == std::vector<std::string>{"X-Custom", "subject"});
    CHECK(cfg.find_trunk("quiet")->forward_headers.empty());
}

TEST_CASE("peers may be host names, each as RFC 3263 will resolve it", "[config]") {
    const auto cfg = load_string(
        "interfaces:\n"
        "  - {name: a, listen: [udp://127.0.1.1:5060, tcp://127.0.1.1:5060],"
        " media_address: 127.0.1.1}\n"
        "trunks:\n"
        "  - name: t\n"
        "    interface: a\n"
        "    peers: ['sip:PBX.Example.COM.', 'pbx2.example.com:5070',\n"
        "            'sip:pbx3.example.com;transport=TCP', "
        "'sip:pbx-4.example.com:5080;transport=udp',\n"
        "            127.0.1.2]\n" +
            routes_ok,
        "t.yaml");
    const auto& t = *cfg.find_trunk("t");
    REQUIRE(t.peers.size() == 5);
    // Neither port nor transport: NAPTR first (RFC 3263 4.1); the name
    // compares without case (RFC 4343) and its root dot is dropped.
    CHECK(t.peers[0].is_name);
    CHECK(t.peers[0].host == "pbx.example.com");
    CHECK_FALSE(t.peers[0].port_given);
    CHECK_FALSE(t.peers[0].transport_given);
    CHECK(t.peers[0].port == 5060);
    CHECK(sbc::config::to_string(t.peers[0]) == "sip:pbx.example.com");
    // A port: A/AAAA alone (RFC 3263 4.2), UDP.
    CHECK(t.peers[1].port_given);
    CHECK(t.peers[1].port == 5070);
    CHECK_FALSE(t.peers[1].transport_given);
    CHECK(sbc::config::to_string(t.peers[1]) == "sip:pbx2.example.com:5070");
    // A transport: its SRV records (RFC 3263 4.2).
    CHECK(t.peers[2].transport_given);
    CHECK(t.peers[2].proto == transport::tcp);
    CHECK(sbc::config::to_string(t.peers[2]) == "sip:pbx3.example.com;transport=tcp");
    CHECK(sbc::config::to_string(t.peers[3]) == "sip:pbx-4.example.com:5080;transport=udp");
    CHECK_FALSE(t.peers[4].is_name);
    CHECK(sbc::config::to_string(t.peers[4]) == "sip:127.0.1.2:5060;transport=udp");
}

TEST_CASE("an interface's fqdn and the dns section", "[config]") {
    const auto cfg = load_string(
        "interfaces:\n"
        "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1,"
        " fqdn: SBC1.Example.com}\n"
        "dns:\n"
        "  servers: ['127.0.0.53:5300', '127.0.0.54:5300', '[::1]:5300']\n"
        "  stale_seconds: 600\n" +
            trunks_ok + routes_ok,
        "t.yaml");
    CHECK(cfg.find_interface("a")->fqdn == "sbc1.example.com");
    REQUIRE(cfg.dns.servers.size() == 3);
    CHECK(cfg.dns.servers[0].host == "127.0.0.53");
    CHECK(cfg.dns.servers[0].port == 5300);
    CHECK(cfg.dns.servers[1].port == 5300);
    CHECK(cfg.dns.servers[2].host == "::1");
    CHECK(cfg.dns.servers[2].port == 5300);
    CHECK(cfg.dns.stale_seconds == 600);

    const auto defaults = load_string(interfaces_ok + trunks_ok + routes_ok, "t.yaml");
    CHECK(defaults.find_interface("a")->fqdn.empty());
    CHECK(defaults.dns.servers.empty());
    CHECK(defaults.dns.stale_seconds == 3600);

    const auto with_fqdn = [](const std::string& fqdn) {
        return "interfaces:\n  - {name: a, listen: [udp://127.0.1.1:5060], media_address: "
               "127.0.1.1, fqdn: '" +
               fqdn + "'}\n" + trunks_ok + routes_ok;
    };
    const std::string fqdn_expected =
        "expected the SBC's fully qualified domain name on this interface, e.g. sbc.example.com";
    CHECK(mentions(problem_of(with_fqdn("127.0.1.1")), fqdn_expected));
    CHECK(mentions(problem_of(with_fqdn("sbc")), fqdn_expected));
    CHECK(mentions(problem_of(with_fqdn("sbc_1.example.com")), fqdn_expected));
    CHECK(
        problem_of("dns: {servers: [dns.example.com]}\n" + interfaces_ok + trunks_ok + routes_ok) ==
        "t.yaml:1:17: dns.servers[0]: expected an IP address, not a host name (got "
        "'dns.example.com')");
    CHECK(problem_of("dns: {servers: ['0.0.0.0']}\n" + interfaces_ok + trunks_ok + routes_ok) ==
          "t.yaml:1:17: dns.servers[0]: expected a DNS server's address, not 0.0.0.0 or :: (got "
          "'0.0.0.0')");
    // What the resolver cannot take is refused before it starts, with the
    // place and key of the section.
    CHECK(problem_of("dns: {servers: [127.0.0.53, '127.0.0.54:5353']}\n" + interfaces_ok +
                     trunks_ok + routes_ok) ==
          "t.yaml:1:16: dns.servers: every DNS server must use the same port (127.0.0.54:5353 is "
          "on 5353, another on 53) (got a list)");
    CHECK(mentions(problem_of("dns: {servers: [127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.4, "
                              "127.0.0.5, 127.0.0.6, 127.0.0.7]}\n" +
                              interfaces_ok + trunks_ok + routes_ok),
                   "dns.servers: at most 6 DNS servers, not 7"));
    CHECK(mentions(
        problem_of("dns: {stale_seconds: 86401}\n" + interfaces_ok + trunks_ok + routes_ok),
        "dns.stale_seconds: expected seconds 0..86400"));
    CHECK(mentions(
        problem_of("dns: {server: [127.0.0.53]}\n" + interfaces_ok + trunks_ok + routes_ok),
        "dns.server: unknown key"));
}

TEST_CASE("routes read their match keys", "[config]") {
    const auto cfg = load_string(
        "routes:\n"
        "  - name: inbound\n"
        "    from_interface: a\n"
        "    ruri_user: '^\\+?[0-9]+$'\n"
        "    to_trunk: t\n"
        "  - from_trunk: t\n"
        "    to_trunk: t\n" +
        interfaces_ok + trunks_ok);
    REQUIRE(cfg.routes.size() == 2);
    CHECK(cfg.routes[0].name == "inbound");
    CHECK(cfg.routes[0].from_interface == "a");
    CHECK(cfg.routes[0].ruri_user == "^\\+?[0-9]+$");
    CHECK(cfg.routes[1].name == "route-1");
    CHECK(cfg.routes[1].from_trunk == "t");
}

TEST_CASE("unknown keys are named with the allowed ones", "[config][errors]") {
    CHECK(problem_of(all_ok + "medai: {}\n") ==
          "t.yaml:7:1: medai: unknown key 'medai' (did you mean 'media'?); expected one of: "
          "interfaces, trunks, routes, media, control, dns, cdr, cluster, metrics");
    CHECK(problem_of("interfaces:\n"
                     "  - name: a\n"
                     "    lisen: [udp://127.0.1.1:5060]\n"
                     "    listen: [udp://127.0.1.1:5060]\n"
                     "    media_address: 127.0.1.1\n" +
                     trunks_ok + routes_ok) ==
          "t.yaml:3:5: interfaces[0].lisen: unknown key 'lisen' (did you mean 'listen'?); "
          "expected one of: name, listen, media_address, fqdn, tls, allow_sources, flood");
    CHECK(problem_of("media:\n  colour: blue\n" + all_ok) ==
          "t.yaml:2:3: media.colour: unknown key 'colour'; expected one of: port_min, port_max, "
          "backend, workers, timeout, dpdk");
    CHECK(problem_of(all_ok + "control: {socket: /tmp/x.sock, sockets: 2}\n") ==
          "t.yaml:7:32: control.sockets: unknown key 'sockets' (did you mean 'socket'?); "
          "expected one of: socket");
}

TEST_CASE("wrong types are reported with what was found", "[config][errors]") {
    CHECK(problem_of("media: [1, 2]\n" + all_ok) ==
          "t.yaml:1:8: media: expected a map of media settings (got a list)");
    CHECK(problem_of("media:\n  port_min: abc\n" + all_ok) ==
          "t.yaml:2:13: media.port_min: expected a port number 1..65535 (got 'abc')");
    CHECK(problem_of("interfaces: {name: a}\n" + trunks_ok + routes_ok) ==
          "t.yaml:1:13: interfaces: expected a list of interfaces (got a map)");
    CHECK(problem_of("interfaces:\n  - just-a-name\n" + trunks_ok + routes_ok) ==
          "t.yaml:2:5: interfaces[0]: expected an interface: a map with name, listen and "
          "media_address (got 'just-a-name')");
    CHECK(problem_of("trunks:\n  - {name: t, interface: a, peers: 127.0.1.2}\n" + interfaces_ok +
                     routes_ok) ==
          "t.yaml:2:36: trunks[0].peers: expected a list of peers, "
          "sip:HOST[:PORT][;transport=udp|tcp|tls], sips:HOST[:PORT] or HOST[:PORT] (HOST an IP "
          "address or a host name), or a map with uri, priority and weight (got '127.0.1.2')");
    // An empty value points at its key, not at the next line.
    CHECK(problem_of("routes:\n  - to_trunk:\n" + interfaces_ok + trunks_ok) ==
          "t.yaml:2:5: routes[0].to_trunk: expected a name of 1..64 letters, digits, '-', '_' "
          "or '.' (got nothing)");
    CHECK(problem_of("routes:\n  - {to_trunk: [t, t]}\n" + interfaces_ok + trunks_ok) ==
          "t.yaml:2:20: routes[0].to_trunk[1]: expected each trunk once (got 't')");
}

TEST_CASE("missing required keys are reported at their map", "[config][errors]") {
    CHECK(problem_of(trunks_ok + routes_ok) ==
          "t.yaml:1:1: interfaces: required key missing: expected a list of interfaces");
    CHECK(problem_of(interfaces_ok + routes_ok) ==
          "t.yaml:1:1: trunks: required key missing: expected a list of trunks");
    CHECK(problem_of(interfaces_ok + trunks_ok) ==
          "t.yaml:1:1: routes: required key missing: expected a list of routes");

    // Nothing is said of the trunk's interface: it may be the interface without a name.
    const auto p = problems_of("interfaces:\n  - {}\n" + trunks_ok + routes_ok);
    REQUIRE(p.size() == 3);
    CHECK(p[0] ==
          "t.yaml:2:5: interfaces[0].name: required key missing: expected a name of "
          "1..64 letters, digits, '-', '_' or '.'");
    CHECK(p[1] ==
          "t.yaml:2:5: interfaces[0].listen: required key missing: expected a list of "
          "udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT");
    CHECK(p[2] ==
          "t.yaml:2:5: interfaces[0].media_address: required key missing: expected an "
          "IP address the media and the SDP use");

    const auto t = problems_of("trunks:\n  - {}\n" + interfaces_ok + routes_ok);
    REQUIRE(t.size() == 3);
    CHECK(t[0] ==
          "t.yaml:2:5: trunks[0].name: required key missing: expected a name of 1..64 "
          "letters, digits, '-', '_' or '.'");
    CHECK(t[1] ==
          "t.yaml:2:5: trunks[0].interface: required key missing: expected the name of "
          "an interface");
    CHECK(t[2] ==
          "t.yaml:2:5: trunks[0].peers: required key missing: expected a list of peers, "
          "sip:HOST[:PORT][;transport=udp|tcp|tls], sips:HOST[:PORT] or HOST[:PORT] (HOST an IP "
          "address or a host name), or a map with uri, priority and weight");

    CHECK(problem_of("routes:\n  - {name: r}\n" + interfaces_ok + trunks_ok) ==
          "t.yaml:2:5: routes[0]: required key missing: to_trunk or reject (expected where the "
          "call goes: a trunk, a list of trunks, or a reject status)");
}

TEST_CASE("lists that need an entry must have one", "[config][errors]") {
    const auto p = problems_of("interfaces: []\ntrunks: []\nroutes: []\n");
    REQUIRE(p.size() == 3);
    CHECK(p[0] ==
          "t.yaml:1:13: interfaces: expected a list of interfaces, with at least one "
          "entry (got an empty list)");
    CHECK(p[1] ==
          "t.yaml:2:9: trunks: expected a list of trunks, with at least one entry (got "
          "an empty list)");
    CHECK(p[2] ==
          "t.yaml:3:9: routes: expected a list of routes, with at least one entry (got "
          "an empty list)");
    CHECK(problem_of("interfaces:\n  - {name: a, listen: [], media_address: 127.0.1.1}\n" +
                     trunks_ok + routes_ok) ==
          "t.yaml:2:23: interfaces[0].listen: expected a list of udp://IP:PORT, tcp://IP:PORT or "
          "tls://IP:PORT, "
          "with at least one entry (got an empty list)");
    CHECK(problem_of("trunks:\n  - {name: t, interface: a, peers: []}\n" + interfaces_ok +
                     routes_ok) ==
          "t.yaml:2:36: trunks[0].peers: expected a list of peers, "
          "sip:HOST[:PORT][;transport=udp|tcp|tls], sips:HOST[:PORT] or HOST[:PORT] (HOST an IP "
          "address or a host name), or a map with uri, priority and weight, with at least one "
          "entry (got an empty list)");
}

TEST_CASE("names are unique and well formed", "[config][errors]") {
    CHECK(problem_of("interfaces:\n"
                     "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
                     "  - {name: a, listen: [udp://127.0.2.1:5060], media_address: 127.0.2.1}\n" +
                     trunks_ok + routes_ok) ==
          "t.yaml:3:12: interfaces[1].name: expected a unique interface name ('a' is already "
          "defined on line 2)");
    CHECK(problem_of("trunks:\n"
                     "  - {name: t, interface: a, peers: [127.0.1.2]}\n"
                     "  - {name: t, interface: a, peers: [127.0.1.3]}\n" +
                     interfaces_ok + routes_ok) ==
          "t.yaml:3:12: trunks[1].name: expected a unique trunk name ('t' is already defined on "
          "line 2)");
    // A default name counts: the second route would be "route-0" twice.
    CHECK(problem_of("routes:\n  - {to_trunk: t}\n  - {name: route-0, to_trunk: t}\n" +
                     interfaces_ok + trunks_ok) ==
          "t.yaml:3:12: routes[1].name: expected a unique route name ('route-0' is already "
          "defined on line 2)");
    CHECK(problem_of("interfaces:\n"
                     "  - {name: 'a b', listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
                     "  - {name: a, listen: [udp://127.0.2.1:5060], media_address: 127.0.2.1}\n" +
                     trunks_ok + routes_ok) ==
          "t.yaml:2:12: interfaces[0].name: expected a name of 1..64 letters, digits, '-', '_' "
          "or '.' (got 'a b')");
}

TEST_CASE("addresses must be IP literals or host names, with valid ports", "[config][errors]") {
    const auto iface = [](const std::string& listen, const std::string& media = "127.0.1.1") {
        return "interfaces:\n  - name: a\n    listen: ['" + listen +
               "']\n    media_address: " + media + "\n" + trunks_ok + routes_ok;
    };
    CHECK(problem_of(iface("udp://127.0.1.1:5060", "1.2.3")) ==
          "t.yaml:4:20: interfaces[0].media_address: expected an IP address the media and the "
          "SDP use (got '1.2.3')");
    CHECK(problem_of(iface("udp://127.0.1.1:5060", "sbc.example.com")) ==
          "t.yaml:4:20: interfaces[0].media_address: expected an IP address the media and the "
          "SDP use (got 'sbc.example.com')");
    CHECK(problem_of(iface("udp://127.0.1.1:5060", "0.0.0.0")) ==
          "t.yaml:4:20: interfaces[0].media_address: expected a unicast address; 0.0.0.0 and :: "
          "cannot go into SDP (got '0.0.0.0')");
    CHECK(problem_of(iface("udp://sbc.example.com:5060")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected an IP address, not a host name (got "
          "'udp://sbc.example.com:5060')");
    CHECK(problem_of(iface("udp://127.0.1.256:5060")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected an IP address (got "
          "'udp://127.0.1.256:5060')");
    CHECK(problem_of(iface("udp://127.0.1.1:0")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected a port 1..65535 after the address (got "
          "'udp://127.0.1.1:0')");
    CHECK(problem_of(iface("udp://127.0.1.1:65536")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected a port 1..65535 after the address (got "
          "'udp://127.0.1.1:65536')");
    CHECK(problem_of(iface("udp://127.0.1.1:-1")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected a port 1..65535 after the address (got "
          "'udp://127.0.1.1:-1')");
    CHECK(problem_of(iface("udp://::1:5060")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected an IPv6 address in brackets, e.g. "
          "[2001:db8::1]:5060 (got 'udp://::1:5060')");
    CHECK(problem_of(iface("udp://[127.0.0.1]:5060")) ==
          "t.yaml:3:14: interfaces[0].listen[0]: expected an IPv6 address in brackets (got "
          "'udp://[127.0.0.1]:5060')");

    const auto trunk = [](const std::string& peer) {
        return "trunks:\n  - name: t\n    interface: a\n    peers: ['" + peer + "']\n" +
               interfaces_ok + routes_ok;
    };
    // The resolver's parser (sbc/dns/peer_name.hpp) reads peers: its
    // sentences, with the configuration's place and value.
    const auto not_a_name = [](const std::string& host, const std::string& value) {
        return "t.yaml:4:13: trunks[0].peers[0]: expected an IP address or a host name "
               "(letters, digits and inner hyphens in dot-separated labels of at most 63, the "
               "last beginning with a letter), not '" +
               host + "' (got '" + value + "')";
    };
    CHECK(problem_of(trunk("pbx_1.example.com:5060")) ==
          not_a_name("pbx_1.example.com", "pbx_1.example.com:5060"));
    CHECK(problem_of(trunk("sip:-pbx.example.com")) ==
          not_a_name("-pbx.example.com", "sip:-pbx.example.com"));
    CHECK(problem_of(trunk("sip:pbx..example.com")) ==
          not_a_name("pbx..example.com", "sip:pbx..example.com"));
    // A last label of digits only would pass an IPv4 typo off as a name.
    CHECK(problem_of(trunk("127.0.1.256")) == not_a_name("127.0.1.256", "127.0.1.256"));
    const auto long_label = std::string(64, 'a') + ".example.com";
    CHECK(problem_of(trunk("sip:" + long_label)) == not_a_name(long_label, "sip:" + long_label));
    CHECK(problem_of(trunk("127.0.1.2:99999")) ==
          "t.yaml:4:13: trunks[0].peers[0]: expected a port number 1..65535 (got "
          "'127.0.1.2:99999')");
    CHECK(problem_of(trunk("sip:127.0.1.2;transport=sctp")) ==
          "t.yaml:4:13: trunks[0].peers[0]: expected ;transport=udp, ;transport=tcp or "
          ";transport=tls (got "
          "'sip:127.0.1.2;transport=sctp')");
    CHECK(problem_of(trunk("sip:127.0.1.2;lr")) ==
          "t.yaml:4:13: trunks[0].peers[0]: expected ;transport=udp|tcp|tls as the "
          "only URI parameter (got 'sip:127.0.1.2;lr')");
    CHECK(problem_of(trunk("sips:127.0.1.2")) ==
          "t.yaml:4:13: trunks[0].peers[0]: expected a peer interface 'a' can reach: it has no "
          "tls listener on IPv4 (got 'sips:127.0.1.2')");
    CHECK(problem_of(trunk("sips:127.0.1.2;transport=udp")) ==
          "t.yaml:4:13: trunks[0].peers[0]: expected no transport but tcp or tls in a sips: URI "
          "(RFC 3261 26.2.2) (got 'sips:127.0.1.2;transport=udp')");
    CHECK(mentions(problem_of(trunk("sip:alice@127.0.1.2")),
                   "without a user part or headers (got 'sip:alice@127.0.1.2')"));
    CHECK(problem_of(trunk("0.0.0.0")) ==
          "t.yaml:4:13: trunks[0].peers[0]: expected a peer's own address, not 0.0.0.0 or :: "
          "(got '0.0.0.0')");
}

TEST_CASE("listeners take only udp://, tcp:// and tls://", "[config][errors]") {
    const std::string yaml =
        "interfaces:\n"
        "  - name: a\n"
        "    listen:\n"
        "      - udp://127.0.1.1:5060\n"
        "      - sctp://127.0.1.1:5061\n"
        "      - sip:127.0.1.1\n"
        "    media_address: 127.0.1.1\n" +
        trunks_ok + routes_ok;
    const auto p = problems_of(yaml);
    REQUIRE(p.size() == 2);
    CHECK(p[0] ==
          "t.yaml:5:9: interfaces[0].listen[1]: expected udp://IP:PORT, tcp://IP:PORT or "
          "tls://IP:PORT (got 'sctp://127.0.1.1:5061')");
    CHECK(p[1] ==
          "t.yaml:6:9: interfaces[0].listen[2]: expected udp://IP:PORT, tcp://IP:PORT or "
          "tls://IP:PORT (got 'sip:127.0.1.1')");
}

TEST_CASE("listeners may not overlap", "[config][errors]") {
    const auto two = [](const std::string& first, const std::string& second) {
        return "interfaces:\n"
               "  - name: a\n"
               "    listen: ['" +
               first +
               "', 'udp://127.0.1.1:5999']\n"
               "    media_address: 127.0.1.1\n"
               "  - name: b\n"
               "    listen: ['" +
               second + "']\n    media_address: 127.0.2.1\n" + trunks_ok + routes_ok;
    };
    SECTION("the same transport, address and port in two interfaces") {
        CHECK(problem_of(two("udp://127.0.1.1:5060", "udp://127.0.1.1:5060")) ==
              "t.yaml:6:14: interfaces[1].listen[0]: expected a transport, address and port no "
              "other listener uses (interfaces[0].listen[0] on line 3 takes it) (got "
              "'udp://127.0.1.1:5060')");
    }
    SECTION("a wildcard after a specific address") {
        CHECK(mentions(problem_of(two("udp://127.0.1.1:5060", "udp://0.0.0.0:5060")),
                       "t.yaml:6:14: interfaces[1].listen[0]: expected a transport, address"));
    }
    SECTION("a specific address after a wildcard") {
        CHECK(mentions(problem_of(two("tcp://0.0.0.0:5060", "tcp://127.0.2.1:5060")),
                       "(interfaces[0].listen[0] on line 3 takes it)"));
    }
    SECTION("IPv6: the same address written two ways, and ::") {
        CHECK(mentions(problem_of(two("udp://[2001:db8::1]:5060", "udp://[2001:DB8:0::1]:5060")),
                       "interfaces[1].listen[0]"));
        CHECK(mentions(problem_of(two("udp://[::]:5060", "udp://[::1]:5060")),
                       "interfaces[1].listen[0]"));
    }
    SECTION("within one interface") {
        CHECK(problem_of("interfaces:\n"
                         "  - {name: a, listen: [udp://127.0.1.1:5060, udp://127.0.1.1:5060], "
                         "media_address: 127.0.1.1}\n" +
                         trunks_ok + routes_ok) ==
              "t.yaml:2:46: interfaces[0].listen[1]: expected a transport, address and port no "
              "other listener uses (interfaces[0].listen[0] on line 2 takes it) (got "
              "'udp://127.0.1.1:5060')");
    }
    SECTION("other transport, port or family do not overlap") {
        CHECK_NOTHROW(load_string(two("udp://127.0.1.1:5060", "tcp://127.0.1.1:5060")));
        CHECK_NOTHROW(load_string(two("udp://0.0.0.0:5060", "udp://127.0.1.1:5062")));
        CHECK_NOTHROW(load_string(two("udp://0.0.0.0:5060", "udp://[::1]:5060")));
        CHECK_NOTHROW(load_string(two("udp://127.0.1.1:5060", "udp://127.0.2.1:5060")));
    }
}

TEST_CASE("references name things that exist", "[config][errors]") {
    CHECK(problem_of("trunks:\n  - {name: t, interface: b, peers: [127.0.1.2]}\n" + interfaces_ok +
                     routes_ok) ==
          "t.yaml:2:26: trunks[0].interface: expected the name of an interface (defined: a) (got "
          "'b')");
    CHECK(problem_of("routes:\n  - {from_trunk: x, to_trunk: t}\n" + interfaces_ok + trunks_ok) ==
          "t.yaml:2:18: routes[0].from_trunk: expected the name of a trunk (defined: t) (got "
          "'x')");
    CHECK(
        problem_of("routes:\n  - {from_interface: x, to_trunk: t}\n" + interfaces_ok + trunks_ok) ==
        "t.yaml:2:22: routes[0].from_interface: expected the name of an interface (defined: a) "
        "(got 'x')");
    CHECK(problem_of("routes:\n  - {to_trunk: pbx}\n" + interfaces_ok + trunks_ok) ==
          "t.yaml:2:16: routes[0].to_trunk: expected the name of a trunk (defined: t) (got "
          "'pbx')");
    CHECK(problem_of("routes:\n  - {from_trunk: t, from_interface: a, to_trunk: t}\n" +
                     interfaces_ok + trunks_ok) ==
          "t.yaml:2:37: routes[0].from_interface: expected at most one of from_trunk and "
          "from_interface (got both)");
}

TEST_CASE("of two keys that exclude each other, the later one is reported", "[config][errors]") {
    CHECK(problem_of("routes:\n  - {from_interface: a, from_trunk: t, to_trunk: t}\n" +
                     interfaces_ok + trunks_ok) ==
          "t.yaml:2:37: routes[0].from_trunk: expected at most one of from_trunk and "
          "from_interface (got both)");
    CHECK(problem_of("routes:\n  - {reject: 403, to_trunk: t}\n" + interfaces_ok + trunks_ok) ==
          "t.yaml:2:29: routes[0].to_trunk: expected one of to_trunk and reject (got both)");
}

TEST_CASE("ruri_user must be a valid regular expression", "[config][errors]") {
    const auto p =
        problem_of("routes:\n  - {ruri_user: '([0-9]', to_trunk: t}\n" + interfaces_ok + trunks_ok);
    CHECK(mentions(p,
                   "t.yaml:2:17: routes[0].ruri_user: expected an ECMAScript regular "
                   "expression ("));
    CHECK(mentions(p, ") (got '([0-9]')"));
    CHECK(mentions(problem_of("routes:\n  - {ruri_user: '" + std::string(1001, 'a') +
                              "', to_trunk: t}\n" + interfaces_ok + trunks_ok),
                   "of at most 1000 characters"));
}

TEST_CASE("peers must be reachable and belong to one trunk", "[config][errors]") {
    CHECK(problem_of(
              "trunks:\n  - {name: t, interface: a, peers: ['sip:127.0.1.2;transport=tcp']}\n" +
              interfaces_ok + routes_ok) ==
          "t.yaml:2:37: trunks[0].peers[0]: expected a peer interface 'a' can reach: it has no "
          "tcp listener on IPv4 (got 'sip:127.0.1.2;transport=tcp')");
    CHECK(mentions(problem_of("trunks:\n  - {name: t, interface: a, peers: ['[2001:db8::2]']}\n" +
                              interfaces_ok + routes_ok),
                   "it has no udp listener on IPv6"));
    // A name's targets may be of either family, but its transport is known.
    CHECK(problem_of("trunks:\n  - {name: t, interface: a, peers: ['sip:pbx.example.com;"
                     "transport=tcp']}\n" +
                     interfaces_ok + routes_ok) ==
          "t.yaml:2:37: trunks[0].peers[0]: expected a peer interface 'a' can reach: it has no "
          "tcp listener (got 'sip:pbx.example.com;transport=tcp')");
    CHECK(problem_of("trunks:\n"
                     "  - {name: t, interface: a, peers: [127.0.1.2]}\n"
                     "  - {name: u, interface: a, peers: ['127.0.1.2:5070']}\n" +
                     interfaces_ok + routes_ok) ==
          "t.yaml:3:37: trunks[1].peers[0]: expected an address no other trunk on interface 'a' "
          "has; requests are told apart by source address (trunks[0].peers[0] of trunk 't' on "
          "line 2) (got '127.0.1.2:5070')");
    CHECK(
        problem_of("trunks:\n  - {name: t, interface: a, peers: [127.0.1.2, '127.0.1.2:5060']}\n" +
                   interfaces_ok + routes_ok) ==
        "t.yaml:2:48: trunks[0].peers[1]: duplicate peer; first given on line 2");
}

TEST_CASE("forward_headers refuses the headers the SBC builds itself", "[config][errors]") {
    const auto headers = [](const std::string& list) {
        return "trunks:\n  - name: t\n    interface: a\n    peers: [127.0.1.2]\n"
               "    forward_headers: " +
               list + "\n" + interfaces_ok + routes_ok;
    };
    const std::string never =
        "expected a header the SBC does not build itself; Via, Route, Record-Route, Contact, "
        "Call-ID, From, To, CSeq, Max-Forwards, Content-* and the others listed in "
        "conf/README.md are never forwarded";
    CHECK(problem_of(headers("[Subject, Via]")) ==
          "t.yaml:5:32: trunks[0].forward_headers[1]: " + never + " (got 'Via')");
    for (const std::string h : {"Route", "record-route", "CONTACT", "Call-ID", "From", "To", "CSeq",
                                "Max-Forwards", "Content-Type", "content-length",
                                "Content-Disposition", "v", "i", "m", "f", "t", "l", "c"}) {
        INFO(h);
        CHECK(mentions(problem_of(headers("[" + h + "]")), never + " (got '" + h + "')"));
    }
    CHECK(problem_of(headers("[Subject, subject]")) ==
          "t.yaml:5:32: trunks[0].forward_headers[1]: duplicate header; first given on line 5");
    CHECK(problem_of(headers("['X Bad']")) ==
          "t.yaml:5:23: trunks[0].forward_headers[0]: expected a header name (RFC 3261 25.1 "
          "token) (got 'X Bad')");
    CHECK(problem_of(headers("Subject")) ==
          "t.yaml:5:22: trunks[0].forward_headers: expected a list of header names ([] forwards "
          "none) (got 'Subject')");

    CHECK(sbc::config::is_never_forwarded_header("via"));
    CHECK(sbc::config::is_never_forwarded_header("Content-Anything"));
    CHECK_FALSE(sbc::config::is_never_forwarded_header("Subject"));
    CHECK_FALSE(sbc::config::is_never_forwarded_header("Contention"));
}

TEST_CASE("media settings are range-checked", "[config][errors]") {
    const auto media = [](const std::string& body) { return "media:\n" + body + all_ok; };
    CHECK(problem_of(media("  port_min: 20001\n")) ==
          "t.yaml:2:13: media.port_min: expected an even port (RTP takes the even ports, RTCP the "
          "next odd one) (got '20001')");
    CHECK(problem_of(media("  port_min: 30000\n  port_max: 20000\n")) ==
          "t.yaml:3:13: media.port_max: expected a port not below port_min 30000 (got '20000')");
    CHECK(problem_of(media("  port_min: 30000\n")) ==
          "t.yaml:2:13: media.port_min: expected a port not above port_max 29999 (got '30000')");
    CHECK(problem_of(media("  port_min: 20000\n  port_max: 20002\n")) ==
          "t.yaml:3:13: media.port_max: expected a range of at least 2 RTP/RTCP port pairs (got "
          "20000..20002: 1 pair)");
    CHECK_NOTHROW(load_string(media("  port_min: 20000\n  port_max: 20003\n")));
    CHECK(problem_of(media("  port_min: 0\n")) ==
          "t.yaml:2:13: media.port_min: expected a port number 1..65535 (got '0')");
    CHECK(problem_of(media("  port_max: 65536\n")) ==
          "t.yaml:2:13: media.port_max: expected a port number 1..65535 (got '65536')");
    CHECK(problem_of(media("  workers: 0\n")) ==
          "t.yaml:2:12: media.workers: expected a number of workers 1..64 (got '0')");
    CHECK(problem_of(media("  workers: 65\n")) ==
          "t.yaml:2:12: media.workers: expected a number of workers 1..64 (got '65')");
    CHECK(load_string(media("  workers: 64\n")).media.workers == 64);
    CHECK(problem_of(media("  backend: dpdk\n")) ==
          "t.yaml:2:12: media.backend: expected kernel, or dpdk with a port per interface in "
          "media.dpdk.ports (got 'dpdk')");
    CHECK(problem_of(media("  timeout: 0\n")) ==
          "t.yaml:2:12: media.timeout: expected a number of seconds 1..86400 (got '0')");
    CHECK(load_string(media("  timeout: 5\n")).media.timeout_seconds == 5);
}

TEST_CASE("the control socket is an absolute path that fits sun_path", "[config][errors]") {
    CHECK(problem_of(all_ok + "control:\n  socket: sbcd.sock\n") ==
          "t.yaml:8:11: control.socket: expected an absolute path for the control socket, at "
          "most 107 bytes (got 'sbcd.sock')");
    CHECK(mentions(problem_of(all_ok + "control:\n  socket: /" + std::string(107, 'x') + "\n"),
                   "t.yaml:8:11: control.socket: expected an absolute path"));
    CHECK(load_string(all_ok + "control:\n  socket: /run/x.sock\n").control.socket ==
          "/run/x.sock");
}

TEST_CASE("YAML syntax errors and unreadable files are reported", "[config][errors]") {
    CHECK(problem_of("interfaces: [\n") ==
          "t.yaml:2:1: YAML syntax error: end of sequence flow not found");
    CHECK(problem_of("interfaces:\n  - name: a\n   bad indent: 1\n") ==
          "t.yaml:3:4: YAML syntax error: end of sequence not found");
    CHECK(mentions(problem_of("a: *missing\n"), "t.yaml:1:4: YAML syntax error: "));

    try {
        sbc::config::load_file("/nonexistent/sbc.yaml");
        FAIL("loaded a file that does not exist");
    } catch (const config_error& e) {
        CHECK(std::string(e.what()) ==
              "/nonexistent/sbc.yaml: cannot open the file: No such file or directory");
    }
    CHECK_THROWS_WITH(sbc::config::load_file("/"), "/: cannot read the file: it is a directory");
}

TEST_CASE("media.dpdk: EAL arguments, lcores and a port per interface", "[config][dpdk]") {
    const std::string two_interfaces =
        "interfaces:\n"
        "  - {name: carrier, listen: ['udp://203.0.113.1'], media_address: 203.0.113.1}\n"
        "  - {name: pbx, listen: ['udp://198.51.100.1'], media_address: 198.51.100.1}\n"
        "trunks:\n"
        "  - {name: t, interface: carrier, peers: [203.0.113.2]}\n"
        "routes:\n"
        "  - {to_trunk: t}\n";
    const auto dpdk = [&](const std::string& ports) {
        return two_interfaces +
               "media:\n"
               "  backend: dpdk\n"
               "  dpdk:\n"
               "    eal_args: [--no-huge, --no-pci]\n"
               "    lcores: [2, 3]\n"
               "    ports:\n" +
               ports;
    };
    auto cfg = load_string(
        dpdk("      - {interface: carrier, device: 'net_af_packet0,iface=eth1', prefix: 28}\n"
             "      - {interface: pbx, device: '0000:03:00.0', exception_interface: tap-pbx}\n"));
    CHECK(cfg.media.backend == "dpdk");
    CHECK(cfg.media.dpdk.eal_args == std::vector<std::string>{"--no-huge", "--no-pci"});
    CHECK(cfg.media.dpdk.lcores == std::vector<unsigned>{2, 3});
    REQUIRE(cfg.media.dpdk.ports.size() == 2);
    CHECK(cfg.media.dpdk.ports[0].device == "net_af_packet0,iface=eth1");
    CHECK(cfg.media.dpdk.ports[0].prefix == 28);
    CHECK(cfg.media.dpdk.ports[0].exception_interface == "sbc-carrier");
    CHECK(cfg.media.dpdk.ports[1].exception_interface == "tap-pbx");

    CHECK(problem_of(dpdk("      - {interface: carrier, device: 'net_af_packet0,iface=eth1'}\n")) ==
          "t.yaml:3:12: interfaces[1].name: interface 'pbx' has no DPDK port (media.dpdk.ports) "
          "for its media address, which backend dpdk needs");
    CHECK(problem_of(dpdk("      - {interface: carrier, device: a}\n"
                          "      - {interface: pbx, device: b}\n"
                          "      - {interface: nope, device: c}\n")) ==
          "t.yaml:16:21: media.dpdk.ports[2].interface: 'nope' is not a defined interface "
          "(defined: carrier, pbx)");
    CHECK(problem_of(dpdk("      - {interface: carrier, device: a}\n"
                          "      - {interface: pbx, device: b, "
                          "exception_interface: much-too-long-name}\n")) ==
          "t.yaml:15:58: media.dpdk.ports[1].exception_interface: expected a network interface "
          "name of 1 to 15 characters (got 'much-too-long-name')");
}

TEST_CASE("every problem of a file is reported at once, in file order", "[config][errors]") {
    const std::string yaml =
        "media:\n"
        "  workers: 0\n"
        "  backend: dpdk\n"
        "interfaces:\n"
        "  - {name: a, listen: ['udp://x'], media_address: 127.0.1.1}\n"
        "trunks:\n"
        "  - {name: t, interface: b, peers: [127.0.1.2]}\n"
        "routes:\n"
        "  - {to_trunk: nope}\n";
    try {
        load_string(yaml, "all.yaml");
        FAIL("loaded");
    } catch (const config_error& e) {
        const auto& p = e.problems();
        REQUIRE(p.size() == 5);
        CHECK(mentions(p[0], "all.yaml:2:12: media.workers:"));
        CHECK(mentions(p[1], "all.yaml:3:12: media.backend:"));
        CHECK(mentions(p[2], "all.yaml:5:24: interfaces[0].listen[0]:"));
        CHECK(mentions(p[3], "all.yaml:7:26: trunks[0].interface:"));
        CHECK(mentions(p[4], "all.yaml:9:16: routes[0].to_trunk:"));
        CHECK(std::string(e.what()) ==
              p[0] + "\n" + p[1] + "\n" + p[2] + "\n" + p[3] + "\n" + p[4]);
    }
}

TEST_CASE("the number of problems reported is capped", "[config][errors]") {
    std::string yaml = "media: {}\n";
    for (int i = 0; i < 300; ++i) {
        yaml += "bad" + std::to_string(i) + ": 1\n";
    }
    const auto p = problems_of(yaml + all_ok);
    REQUIRE(p.size() == 201);
    CHECK(p.back() == "t.yaml: 100 more problems not shown");
}

TEST_CASE("odd YAML ends in a config_error, never a crash", "[config][errors]") {
    CHECK(problem_of("") ==
          "t.yaml:1:1: expected a map with interfaces, trunks, routes, media, "
          "control, dns, cdr, cluster and metrics (got an empty file)");
    CHECK(problem_of("# only a comment\n") ==
          "t.yaml:1:1: expected a map with interfaces, trunks, routes, media, control, dns, cdr, "
          "cluster and metrics "
          "(got "
          "an "
          "empty file)");
    CHECK(problem_of("hello\n") ==
          "t.yaml:1:1: expected a map with interfaces, trunks, routes, media, control, dns, cdr, "
          "cluster and metrics "
          "(got "
          "'hello')");
    CHECK(problem_of("~\n") ==
          "t.yaml:1:1: expected a map with interfaces, trunks, routes, media, control, dns, cdr, "
          "cluster and metrics "
          "(got "
          "nothing)");
    CHECK(problem_of("- 1\n- 2\n") ==
          "t.yaml:1:1: expected a map with interfaces, trunks, routes, media, control, dns, cdr, "
          "cluster and metrics "
          "(got a "
          "list)");
    CHECK(problem_of(all_ok + "---\n" + all_ok) ==
          "t.yaml:7:1: expected one YAML document (got a second one)");
    // yaml-cpp 0.7's LoadAll() never returns for these (jbeder/yaml-cpp#1040).
    CHECK(problem_of(",") ==
          "t.yaml:1:1: expected a map with interfaces, trunks, routes, "
          "media, control, dns, cdr, cluster and metrics (got nothing)");
    CHECK_THROWS_AS(load_string(",interfaces:\n  - a\n"), config_error);
    CHECK(problem_of(all_ok + "media: {port_min: 20000, port_min: 20002}\n") ==
          "t.yaml:7:26: media.port_min: duplicate key; first given on line 7");
    CHECK(problem_of(all_ok + "? [a, b]\n: 1\n") ==
          "t.yaml:7:3: ?: expected a key name (got a list)");

    // Null nodes wherever a value is expected.
    const auto nulls = problems_of(
        "interfaces:\n  - \n  - name:\n    listen: [~]\n"
        "    media_address:\ntrunks: ~\nroutes:\nmedia:\n  port_min:\n");
    CHECK(nulls.size() == 7);

    // Huge and negative numbers.
    CHECK(problem_of(all_ok + "media: {port_max: 99999999999999999999999999999}\n") ==
          "t.yaml:7:19: media.port_max: expected a port number 1..65535 (got "
          "'99999999999999999999999999999')");
    CHECK(problem_of(all_ok + "media: {workers: -1}\n") ==
          "t.yaml:7:18: media.workers: expected a number of workers 1..64 (got '-1')");
    CHECK(problem_of(all_ok + "media: {workers: 1.5}\n") ==
          "t.yaml:7:18: media.workers: expected a number of workers 1..64 (got '1.5')");
    CHECK(problem_of(all_ok + "media: {workers: 0x10}\n") ==
          "t.yaml:7:18: media.workers: expected a number of workers 1..64 (got '0x10')");

    // Aliases, including one that refers to the list it is in.
    const auto aliased = load_string(
        "interfaces:\n"
        "  - &iface {name: a, listen: [udp://127.0.1.1:5060], "
        "media_address: 127.0.1.1}\n" +
        trunks_ok + "routes:\n  - &r {to_trunk: t}\n  - *r\n");
    CHECK(aliased.routes.size() == 2);
    CHECK_FALSE(problems_of("interfaces: &l [*l]\n" + trunks_ok + routes_ok).empty());
    CHECK_FALSE(
        problems_of("interfaces:\n  - &m {name: a, listen: *m}\n" + trunks_ok + routes_ok).empty());

    // Nesting deep enough to exhaust a naive recursive parser.
    CHECK(mentions(problem_of(std::string(100000, '[') + std::string(100000, ']')),
                   "YAML syntax error: nested deeper than"));

    // Control characters and binary junk are quoted, not printed raw.
    CHECK(problem_of(all_ok + "control: {socket: \"rel\\x01\"}\n") ==
          "t.yaml:7:19: control.socket: expected an absolute path for the control socket, at "
          "most 107 bytes (got 'rel\\x01')");
    std::string junk(256, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) {
        junk[i] = static_cast<char>(i);
    }
    CHECK_THROWS_AS(load_string(junk), config_error);
    CHECK_THROWS_AS(load_string("\t\tinterfaces:\n\t- a"), config_error);
}

TEST_CASE("early_offer takes pass, convert or reject, pass by default", "[config]") {
    CHECK(load_string(all_ok).trunks[0].early_offer == early_offer_policy::pass);
    const auto trunk = [](const std::string& policy) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], early_offer: " +
               policy + "}\n" + routes_ok;
    };
    CHECK(load_string(trunk("reject")).trunks[0].early_offer == early_offer_policy::reject);
    CHECK(load_string(trunk("pass")).trunks[0].early_offer == early_offer_policy::pass);
    CHECK(load_string(trunk("convert")).trunks[0].early_offer == early_offer_policy::convert);
    CHECK(problem_of(trunk("always")) ==
          "t.yaml:4:62: trunks[0].early_offer: expected pass, convert or reject (got 'always')");
    CHECK(problem_of(trunk("[reject]")) ==
          "t.yaml:4:62: trunks[0].early_offer: expected pass, convert or reject (got a list)");
}

TEST_CASE("refer takes reject or handle, reject by default", "[config]") {
    using sbc::config::refer_policy;
    CHECK(load_string(all_ok).trunks[0].refer == refer_policy::reject);
    const auto trunk = [](const std::string& policy) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], refer: " +
               policy + "}\n" + routes_ok;
    };
    CHECK(load_string(trunk("handle")).trunks[0].refer == refer_policy::handle);
    CHECK(load_string(trunk("reject")).trunks[0].refer == refer_policy::reject);
    CHECK(problem_of(trunk("Handle")) ==
          "t.yaml:4:56: trunks[0].refer: expected reject or handle (got 'Handle')");
    CHECK(problem_of(trunk("{}")) ==
          "t.yaml:4:56: trunks[0].refer: expected reject or handle (got a map)");
}

TEST_CASE("ringback takes off or local, ringback_tone us, eu or uk", "[config][ringback]") {
    using sbc::config::ringback_mode;
    using sbc::config::ringback_style;
    CHECK(load_string(all_ok).trunks[0].ringback == ringback_mode::off);
    CHECK(load_string(all_ok).trunks[0].ringback_tone == ringback_style::us);
    const auto trunk = [](const std::string& keys) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], " +
               keys + "}\n" + routes_ok;
    };
    const auto local = load_string(trunk("ringback: local, ringback_tone: uk")).trunks[0];
    CHECK(local.ringback == ringback_mode::local);
    CHECK(local.ringback_tone == ringback_style::uk);
    CHECK(load_string(trunk("ringback_tone: eu")).trunks[0].ringback_tone == ringback_style::eu);
    CHECK(problem_of(trunk("ringback: on")) ==
          "t.yaml:4:59: trunks[0].ringback: expected off or local (got 'on')");
    CHECK(problem_of(trunk("ringback_tone: de")) ==
          "t.yaml:4:64: trunks[0].ringback_tone: expected us, eu or uk (got 'de')");
}

TEST_CASE("replaces takes pass or terminate, pass by default", "[config]") {
    using sbc::config::replaces_policy;
    CHECK(load_string(all_ok).trunks[0].replaces == replaces_policy::pass);
    const auto trunk = [](const std::string& policy) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], replaces: " +
               policy + "}\n" + routes_ok;
    };
    CHECK(load_string(trunk("terminate")).trunks[0].replaces == replaces_policy::terminate);
    CHECK(load_string(trunk("pass")).trunks[0].replaces == replaces_policy::pass);
    CHECK(problem_of(trunk("drop")) ==
          "t.yaml:4:59: trunks[0].replaces: expected pass or terminate (got 'drop')");
}

TEST_CASE("srtp takes off, optional or required, and a list of suites", "[config][srtp]") {
    using sbc::config::srtp_mode;
    using sbc::config::srtp_suite;
    const auto defaults = load_string(all_ok).trunks[0];
    CHECK(defaults.srtp == srtp_mode::off);
    CHECK(defaults.srtp_suites.front() == srtp_suite::aes_cm_128_hmac_sha1_80);
    CHECK(defaults.srtp_suites.size() == 4);
    const auto trunk = [](const std::string& keys) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], " +
               keys + "}\n" + routes_ok;
    };
    CHECK(load_string(trunk("srtp: required")).trunks[0].srtp == srtp_mode::required);
    CHECK(load_string(trunk("srtp: optional")).trunks[0].srtp == srtp_mode::optional);
    auto suites = load_string(trunk("srtp_suites: [AEAD_AES_256_GCM, AES_CM_128_HMAC_SHA1_32, "
                                    "AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32]"))
                      .trunks[0]
                      .srtp_suites;
    CHECK(suites == std::vector<srtp_suite>{
                        srtp_suite::aead_aes_256_gcm, srtp_suite::aes_cm_128_hmac_sha1_32,
                        srtp_suite::aes_256_cm_hmac_sha1_80, srtp_suite::aes_256_cm_hmac_sha1_32});
    CHECK(problem_of(trunk("srtp: yes")) ==
          "t.yaml:4:55: trunks[0].srtp: expected off, optional or required (got 'yes')");
    CHECK(problem_of(trunk("srtp_suites: [aes_cm_128_hmac_sha1_80]")) ==
          "t.yaml:4:63: trunks[0].srtp_suites[0]: expected an SRTP suite: "
          "AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM, "
          "AES_256_CM_HMAC_SHA1_80 or AES_256_CM_HMAC_SHA1_32 (got 'aes_cm_128_hmac_sha1_80')");
    CHECK(
        problem_of(trunk("srtp_suites: [AEAD_AES_128_GCM, AEAD_AES_128_GCM]")) ==
        "t.yaml:4:81: trunks[0].srtp_suites[1]: expected each suite once (got 'AEAD_AES_128_GCM')");
}

TEST_CASE("rtcp_mux takes off, accept or offer, accept by default", "[config][rtcp_mux]") {
    using sbc::config::rtcp_mux_mode;
    CHECK(load_string(all_ok).trunks[0].rtcp_mux == rtcp_mux_mode::accept);
    const auto trunk = [](const std::string& keys) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], " +
               keys + "}\n" + routes_ok;
    };
    CHECK(load_string(trunk("rtcp_mux: off")).trunks[0].rtcp_mux == rtcp_mux_mode::off);
    CHECK(load_string(trunk("rtcp_mux: offer")).trunks[0].rtcp_mux == rtcp_mux_mode::offer);
    CHECK(problem_of(trunk("rtcp_mux: yes")) ==
          "t.yaml:4:59: trunks[0].rtcp_mux: expected off, accept or offer (got 'yes')");
}

TEST_CASE("ice takes off or lite, off by default", "[config][ice]") {
    using sbc::config::ice_mode;
    CHECK(load_string(all_ok).trunks[0].ice == ice_mode::off);
    const auto trunk = [](const std::string& keys) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], " +
               keys + "}\n" + routes_ok;
    };
    CHECK(load_string(trunk("ice: lite")).trunks[0].ice == ice_mode::lite);
    CHECK(load_string(trunk("ice: off")).trunks[0].ice == ice_mode::off);
    CHECK(problem_of(trunk("ice: full")) ==
          "t.yaml:4:54: trunks[0].ice: expected off or lite (got 'full')");
}

TEST_CASE("a tls interface carries its identity and trust store", "[config][tls]") {
    const std::string iface =
        "interfaces:\n"
        "  - name: a\n"
        "    listen: [tls://127.0.1.1, udp://127.0.1.1:5060]\n"
        "    media_address: 127.0.1.1\n";
    const std::string tls =
        "    tls:\n"
        "      certificate: /etc/sbc/tls/sbc.pem\n"
        "      private_key: /etc/sbc/tls/sbc.key\n"
        "      ca_file: /etc/sbc/tls/ca.pem\n";
    const std::string trunks =
        "trunks:\n"
        "  - name: t\n"
        "    interface: a\n"
        "    peers:\n"
        "      - sips:127.0.1.2\n"
        "      - {uri: 'sip:127.0.1.3;transport=tls', priority: 20, weight: 5}\n"
        "    tls: {verify: false, identities: [carrier.test, 127.0.1.2, '*.carrier.test']}\n";
    const auto c = load_string(iface + tls + trunks + routes_ok);
    REQUIRE(c.interfaces[0].listen[0].proto == sbc::config::transport::tls);
    CHECK(c.interfaces[0].listen[0].port == 5061);
    REQUIRE(c.interfaces[0].tls);
    CHECK(c.interfaces[0].tls->certificate == "/etc/sbc/tls/sbc.pem");
    CHECK(c.interfaces[0].tls->ca_file == "/etc/sbc/tls/ca.pem");
    CHECK(c.interfaces[0].tls->min_version == "1.2");
    const auto& t = c.trunks[0];
    REQUIRE(t.peers.size() == 2);
    CHECK(t.peers[0].proto == sbc::config::transport::tls);
    CHECK(t.peers[0].port == 5061);
    CHECK(t.peers[0].priority == 10);
    CHECK(t.peers[1].priority == 20);
    CHECK(t.peers[1].weight == 5);
    CHECK_FALSE(t.tls.verify);
    CHECK(t.tls.identities ==
          std::vector<std::string>{"carrier.test", "127.0.1.2", "*.carrier.test"});

    CHECK(problem_of(iface + trunks + routes_ok) ==
          "t.yaml:2:11: interfaces[0]: required key missing: tls (expected the certificate, "
          "private_key and ca_file of an interface with a tls:// listener)");
    CHECK(problem_of(iface + "    tls: {certificate: sbc.pem, private_key: /k, ca_file: /c}\n" +
                     trunks + routes_ok) ==
          "t.yaml:5:24: interfaces[0].tls.certificate: expected an absolute file or directory "
          "path (got 'sbc.pem')");
    CHECK(
        problem_of(iface + "    tls: {certificate: /c, private_key: /k}\n" + trunks + routes_ok) ==
        "t.yaml:5:10: interfaces[0].tls: required key missing: ca_file or ca_dir (expected the "
        "CAs that sign the peers' certificates)");
    CHECK(problem_of(iface + tls + "      min_version: '1.1'\n" + trunks + routes_ok) ==
          "t.yaml:9:20: interfaces[0].tls.min_version: expected \"1.2\" or \"1.3\" (older TLS "
          "is never allowed) (got '1.1')");
}

TEST_CASE("tcp and tls listeners share the TCP port space", "[config][tls]") {
    const auto p = problems_of(
        "interfaces:\n"
        "  - name: a\n"
        "    listen: [udp://127.0.1.1:5060, tcp://127.0.1.1:5061, tls://127.0.1.1:5061]\n"
        "    media_address: 127.0.1.1\n"
        "    tls: {certificate: /c, private_key: /k, ca_dir: /d}\n" +
        trunks_ok + routes_ok);
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("interfaces[0].listen[2]: expected a transport, address and port no other "
                    "listener uses") != std::string::npos);
}

TEST_CASE("trunk codecs, keep-alives and failover timing", "[config]") {
    const auto trunk = [](const std::string& extra) {
        return interfaces_ok +
               "trunks:\n"
               "  - {name: t, interface: a, peers: [127.0.1.2], " +
               extra + "}\n" + routes_ok;
    };
    const auto defaults = load_string(all_ok).trunks[0];
    CHECK(defaults.codecs == std::vector<sbc::config::codec>{sbc::config::codec::pcmu,
                                                             sbc::config::codec::pcma,
                                                             sbc::config::codec::telephone_event});
    CHECK(defaults.keepalive.interval_seconds == 30);
    CHECK(defaults.failover_timeout_seconds == 4);

    const auto c = load_string(
        trunk("codecs: [opus, pcmu, G729, telephone-event], keepalive: {interval: 1, timeout: 2, "
              "down_after: 2, up_after: 1}, failover_timeout: 2"));
    const auto& t = c.trunks[0];
    CHECK(t.codecs == std::vector<sbc::config::codec>{
                          sbc::config::codec::opus, sbc::config::codec::pcmu,
                          sbc::config::codec::g729, sbc::config::codec::telephone_event});
    CHECK(t.keepalive.interval_seconds == 1);
    CHECK(t.keepalive.timeout_seconds == 2);
    CHECK(t.keepalive.down_after == 2);
    CHECK(t.keepalive.up_after == 1);
    CHECK(t.failover_timeout_seconds == 2);

    CHECK(defaults.dtmf == sbc::config::dtmf_mode::rfc4733);
    CHECK(load_string(trunk("dtmf: info")).trunks[0].dtmf == sbc::config::dtmf_mode::info);
    CHECK(load_string(trunk("codecs: [PCMA], dtmf: inband")).trunks[0].dtmf ==
          sbc::config::dtmf_mode::inband);
    CHECK(problem_of(trunk("codecs: [G729], dtmf: inband")) ==
          "t.yaml:4:71: trunks[0].dtmf: expected rfc4733 or info (inband needs PCMU or PCMA in "
          "the trunk's codecs) (got 'inband')");
    CHECK(problem_of(trunk("dtmf: sip")) ==
          "t.yaml:4:55: trunks[0].dtmf: expected rfc4733, info or inband (got 'sip')");
    CHECK(problem_of(trunk("codecs: [PCMU, GSM]")) ==
          "t.yaml:4:64: trunks[0].codecs[1]: expected a codec: opus, PCMU, PCMA, G722, G729 or "
          "telephone-event (got 'GSM')");
    CHECK(load_string(trunk("codecs: [g722, PCMA, telephone-event]")).trunks[0].codecs ==
          std::vector<sbc::config::codec>{sbc::config::codec::g722, sbc::config::codec::pcma,
                                          sbc::config::codec::telephone_event});
    CHECK(problem_of(trunk("codecs: [G722], dtmf: inband")) ==
          "t.yaml:4:71: trunks[0].dtmf: expected rfc4733 or info (inband needs PCMU or PCMA in "
          "the trunk's codecs) (got 'inband')");
    CHECK(problem_of(trunk("codecs: [telephone-event]")) ==
          "t.yaml:4:57: trunks[0].codecs: expected at least one audio codec besides "
          "telephone-event (got a list)");
    CHECK(problem_of(trunk("codecs: [PCMU, pcmu]")) ==
          "t.yaml:4:64: trunks[0].codecs[1]: expected each codec once (got 'pcmu')");
    CHECK(problem_of(trunk("keepalive: {interval: -1}")) ==
          "t.yaml:4:71: trunks[0].keepalive.interval: expected a number of seconds 0..3600 (0: "
          "no OPTIONS pings) (got '-1')");
    CHECK(problem_of(trunk("failover_timeout: 0")) ==
          "t.yaml:4:67: trunks[0].failover_timeout: expected a number of seconds 1..300 (got "
          "'0')");
}
