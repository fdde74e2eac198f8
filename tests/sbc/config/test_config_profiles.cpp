// Trunk profiles (issue 21 item 6): `profile: microsoft | zoom | generic`
// sets the defaults of a trunk's keys, and each key the trunk gives wins.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "sbc/config/config.hpp"
#include "sbc/config/profiles.hpp"

// Its own namespace: in a unity build this file shares a translation unit
// with test_config.cpp, whose helpers have the same names.
namespace test_config_profiles {

using sbc::config::codec;
using sbc::config::config_error;
using sbc::config::dtmf_mode;
using sbc::config::early_offer_policy;
using sbc::config::hold_style;
using sbc::config::load_string;
using sbc::config::profile_from_string;
using sbc::config::profile_peers;
using sbc::config::refer_policy;
using sbc::config::rtcp_mux_mode;
using sbc::config::srtp_mode;
using sbc::config::srtp_suite;
using sbc::config::transport;
using sbc::config::trunk_config;
using sbc::config::trunk_profile;

namespace {

// An interface with a TLS listener, as the platforms are reached over TLS.
const std::string tls_interface =
    "interfaces:\n"
    "  - name: cloud\n"
    "    listen: [tls://127.0.1.1:5061]\n"
    "    media_address: 127.0.1.1\n"
    "    fqdn: sbc.example.test\n"
    "    tls: {certificate: /etc/sbc/c.pem, private_key: /etc/sbc/k.pem, ca_file: "
    "/etc/sbc/ca.pem}\n";
const std::string routes = "routes:\n  - {to_trunk: t}\n";

// The one trunk of a document whose trunk section ends with `keys` (lines
// indented by four spaces).
trunk_config trunk_with(const std::string& keys) {
    const auto cfg = load_string(tls_interface +
                                     "trunks:\n"
                                     "  - name: t\n"
                                     "    interface: cloud\n" +
                                     keys + routes,
                                 "t.yaml");
    REQUIRE(cfg.trunks.size() == 1);
    return cfg.trunks.front();
}

std::vector<std::string> problems_of(const std::string& yaml) {
    try {
        load_string(yaml, "t.yaml");
    } catch (const config_error& e) {
        return e.problems();
    }
    FAIL("the configuration loaded, a config_error was expected:\n" << yaml);
    return {};
}

bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

TEST_CASE("a trunk without a profile keeps the plain defaults", "[config][profiles]") {
    const auto t = trunk_with("    peers: ['sip:127.0.1.2:5061;transport=tls']\n");
    const trunk_config plain;
    CHECK(t.profile == trunk_profile::generic);
    CHECK(t.srtp == plain.srtp);
    CHECK(t.srtp_suites == plain.srtp_suites);
    CHECK(t.keepalive.interval_seconds == plain.keepalive.interval_seconds);
    CHECK(t.refer == plain.refer);
    CHECK(t.forward_headers == plain.forward_headers);
    CHECK(t.hold == hold_style::pass);
    CHECK_FALSE(t.user_phone);
}

TEST_CASE("the microsoft profile follows Direct Routing's published rules", "[config][profiles]") {
    const auto t = trunk_with("    profile: microsoft\n");
    CHECK(t.profile == trunk_profile::microsoft);
    // Microsoft's three proxies, tried one after the other, over TLS on 5061.
    REQUIRE(t.peers.size() == 3);
    CHECK(t.peers[0].host == "sip.pstnhub.microsoft.com");
    CHECK(t.peers[1].host == "sip2.pstnhub.microsoft.com");
    CHECK(t.peers[2].host == "sip3.pstnhub.microsoft.com");
    for (const auto& peer : t.peers) {
        CHECK(peer.proto == transport::tls);
        CHECK(peer.port == 5061);
    }
    CHECK(t.peers[0].priority < t.peers[1].priority);
    CHECK(t.peers[1].priority < t.peers[2].priority);
    CHECK(t.early_offer == early_offer_policy::convert);
    CHECK(t.srtp == srtp_mode::required);
    CHECK(t.srtp_suites == std::vector<srtp_suite>{srtp_suite::aes_cm_128_hmac_sha1_80});
    CHECK(t.codecs.front() == codec::g722);
    CHECK(t.rtcp_mux == rtcp_mux_mode::offer);
    CHECK(t.hold == hold_style::inactive);
    // Media bypass is the SBC owner's choice: off unless the trunk says lite.
    CHECK(t.ice == sbc::config::ice_mode::off);
    CHECK(t.use_fqdn);
    CHECK(t.user_phone);
    REQUIRE(t.sbc_header.has_value());
    CHECK(t.sbc_header->name == "X-MS-SBC");
    CHECK(t.sbc_header->value.rfind("sbc/sbcd/", 0) == 0);
    CHECK(t.keepalive.interval_seconds == 60);
    CHECK(t.refer == refer_policy::handle);
    // Teams plays the early media it gets: the SBC plays the ringback.
    CHECK(t.ringback == sbc::config::ringback_mode::local);
    CHECK(t.replaces == sbc::config::replaces_policy::terminate);
    CHECK(has(t.forward_headers, "P-Asserted-Identity"));
    CHECK(has(t.forward_headers, "Privacy"));
    CHECK(has(t.forward_headers, "History-Info"));
}

TEST_CASE("the zoom profile follows Zoom BYOC's published rules", "[config][profiles]") {
    const auto t = trunk_with(
        "    profile: zoom\n"
        "    peers: ['sip:127.0.1.2:5061;transport=tls', 'sip:127.0.1.3:5061;transport=tls']\n");
    CHECK(t.profile == trunk_profile::zoom);
    CHECK(t.peers.size() == 2);
    CHECK(t.srtp == srtp_mode::required);
    CHECK(t.srtp_suites.front() == srtp_suite::aead_aes_256_gcm);
    CHECK(std::count(t.srtp_suites.begin(), t.srtp_suites.end(),
                     srtp_suite::aes_256_cm_hmac_sha1_80) == 1);
    CHECK(t.session_timer.expires == 1800);
    CHECK(t.early_offer == early_offer_policy::convert);
    CHECK(t.dtmf == dtmf_mode::rfc4733);
}

TEST_CASE("every key a profiled trunk gives overrides the profile's default",
          "[config][profiles]") {
    const auto t = trunk_with(
        "    profile: microsoft\n"
        "    peers: ['sip:127.0.1.2:5061;transport=tls']\n"
        "    srtp: optional\n"
        "    srtp_suites: [AEAD_AES_128_GCM]\n"
        "    keepalive: {timeout: 3}\n"
        "    refer: reject\n"
        "    hold: pass\n"
        "    ice: lite\n");
    CHECK(t.profile == trunk_profile::microsoft);
    CHECK(t.ice == sbc::config::ice_mode::lite);
    REQUIRE(t.peers.size() == 1);  // the trunk's own peers replace the proxies
    CHECK(t.peers[0].host == "127.0.1.2");
    CHECK(t.srtp == srtp_mode::optional);
    CHECK(t.srtp_suites == std::vector<srtp_suite>{srtp_suite::aead_aes_128_gcm});
    // A map given in part keeps the profile's other values.
    CHECK(t.keepalive.timeout_seconds == 3);
    CHECK(t.keepalive.interval_seconds == 60);
    CHECK(t.refer == refer_policy::reject);
    CHECK(t.hold == hold_style::pass);
    CHECK(t.early_offer == early_offer_policy::convert);  // not given: the profile's
}

TEST_CASE("hold names how holds are offered to the trunk", "[config][profiles]") {
    CHECK(trunk_with("    peers: ['sips:127.0.1.2']\n    hold: sendonly\n").hold ==
          hold_style::sendonly);
    CHECK(trunk_with("    peers: ['sips:127.0.1.2']\n    hold: inactive\n").hold ==
          hold_style::inactive);
    const auto problems = problems_of(tls_interface +
                                      "trunks:\n"
                                      "  - name: t\n"
                                      "    interface: cloud\n"
                                      "    peers: ['sips:127.0.1.2']\n"
                                      "    hold: c0\n" +
                                      routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] ==
          "t.yaml:11:11: trunks[0].hold: expected pass, inactive or sendonly (got 'c0')");
}

TEST_CASE("a trunk names a known profile, and one without its own peers needs them",
          "[config][profiles][errors]") {
    const std::string head = tls_interface +
                             "trunks:\n"
                             "  - name: t\n"
                             "    interface: cloud\n";
    auto problems =
        problems_of(head + "    profile: teams\n    peers: ['sips:127.0.1.2']\n" + routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] ==
          "t.yaml:10:14: trunks[0].profile: expected generic, microsoft or zoom (got 'teams')");
    // Zoom's SIP zones are the customer's own: the profile brings no peers.
    problems = problems_of(head + "    profile: zoom\n" + routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("t.yaml:8:5: trunks[0].peers: required key missing") !=
          std::string::npos);
}

TEST_CASE("a trunk that names the SBC by its fqdn needs an interface that has one",
          "[config][profiles][errors]") {
    std::string no_fqdn = tls_interface;
    const std::string fqdn_line = "    fqdn: sbc.example.test\n";
    no_fqdn.erase(no_fqdn.find(fqdn_line), fqdn_line.size());
    const std::string head = no_fqdn +
                             "trunks:\n"
                             "  - name: t\n"
                             "    interface: cloud\n";
    auto problems = problems_of(head + "    profile: microsoft\n" + routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] ==
          "t.yaml:7:5: trunks[0].use_fqdn: the SBC names itself by its fqdn towards this "
          "trunk, and interface cloud has none (give it an fqdn, or set use_fqdn: false)");
    problems = problems_of(head +
                           "    peers: ['sips:127.0.1.2']\n"
                           "    use_fqdn: true\n" +
                           routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].rfind("t.yaml:10:15: trunks[0].use_fqdn: ", 0) == 0);
    // Turned off, the profile's trunk loads.
    CHECK_NOTHROW(
        load_string(head + "    profile: microsoft\n    use_fqdn: false\n" + routes, "t.yaml"));
}

TEST_CASE("sbc_header takes an extension header with a printable value",
          "[config][profiles][errors]") {
    const auto t = trunk_with(
        "    peers: ['sips:127.0.1.2']\n"
        "    sbc_header: {name: X-Vendor, value: 'acme/sbc/1.2'}\n");
    REQUIRE(t.sbc_header.has_value());
    CHECK(t.sbc_header->value == "acme/sbc/1.2");
    const std::string head = tls_interface +
                             "trunks:\n"
                             "  - name: t\n"
                             "    interface: cloud\n"
                             "    peers: ['sips:127.0.1.2']\n";
    auto problems = problems_of(head + "    sbc_header: {name: Via, value: x}\n" + routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("trunks[0].sbc_header.name: expected an extension header name") !=
          std::string::npos);
    problems = problems_of(head + "    sbc_header: {name: X-A, value: \"a\\tb\"}\n" + routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("trunks[0].sbc_header.value: expected 1..256 printable") !=
          std::string::npos);
}

TEST_CASE("user_phone is true or false, and overrides the profile's",
          "[config][profiles][errors]") {
    CHECK(trunk_with("    peers: ['sips:127.0.1.2']\n    user_phone: true\n").user_phone);
    CHECK_FALSE(trunk_with("    profile: microsoft\n    user_phone: false\n").user_phone);
    CHECK_FALSE(trunk_with("    profile: zoom\n    peers: ['sips:127.0.1.2']\n").user_phone);
    const std::string head = tls_interface +
                             "trunks:\n"
                             "  - name: t\n"
                             "    interface: cloud\n"
                             "    peers: ['sips:127.0.1.2']\n";
    const auto problems = problems_of(head + "    user_phone: yes please\n" + routes);
    REQUIRE(problems.size() == 1);
    CHECK(problems[0] ==
          "t.yaml:11:17: trunks[0].user_phone: expected true or false (got 'yes please')");
}

TEST_CASE("profile names read back", "[config][profiles]") {
    for (auto p : {trunk_profile::generic, trunk_profile::microsoft, trunk_profile::zoom}) {
        CHECK(profile_from_string(sbc::config::to_string(p)) == p);
    }
    CHECK_FALSE(profile_from_string("teams").has_value());
    CHECK(profile_peers(trunk_profile::zoom).empty());
    CHECK(profile_peers(trunk_profile::generic).empty());
}

}  // namespace test_config_profiles
