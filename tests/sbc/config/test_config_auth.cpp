// A trunk's digest keys: auth, register, challenge and registrar. Each key's
// happy path, and each mistake with the whole message it is reported with.
#include "sbc/config/config.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using sbc::config::config_error;
using sbc::config::digest_algorithm;
using sbc::config::load_string;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_config_auth {

namespace {

// The trunk comes first, so the lines given to trunk() start at line 5.
std::string trunk(const std::string& keys) {
    return "trunks:\n"
           "  - name: t\n"
           "    interface: a\n"
           "    peers: [127.0.1.2]\n" +
           keys +
           "interfaces:\n"
           "  - {name: a, listen: [udp://127.0.1.1:5060], media_address: 127.0.1.1}\n"
           "routes:\n"
           "  - {to_trunk: t}\n";
}

sbc::config::trunk_config loaded(const std::string& keys) {
    const auto cfg = load_string(trunk(keys), "t.yaml");
    REQUIRE(cfg.trunks.size() == 1);
    return cfg.trunks[0];
}

std::vector<std::string> problems_of(const std::string& keys) {
    try {
        load_string(trunk(keys), "t.yaml");
    } catch (const config_error& e) {
        return e.problems();
    }
    FAIL("the configuration loaded, a config_error was expected:\n" << keys);
    return {};
}

std::string problem_of(const std::string& keys) {
    const auto problems = problems_of(keys);
    INFO(keys);
    for (const auto& p : problems) {
        UNSCOPED_INFO(p);
    }
    REQUIRE(problems.size() == 1);
    return problems.front();
}

const std::string auth_ok = "    auth: {username: acme, password: s3cret}\n";

}  // namespace

TEST_CASE("none of the digest keys: none of the features", "[config][auth]") {
    const auto& t = loaded("");
    CHECK_FALSE(t.auth);
    CHECK_FALSE(t.registration);
    CHECK_FALSE(t.challenge);
    CHECK_FALSE(t.registrar);
}

TEST_CASE("auth: the credentials for the trunk's challenges", "[config][auth]") {
    const auto& t = loaded(auth_ok);
    REQUIRE(t.auth);
    CHECK(t.auth->username == "acme");
    CHECK(t.auth->password == "s3cret");

    // Quoted, with spaces, quotes and UTF-8; numbers are text too.
    const auto& odd = loaded("    auth: {username: '+49 30 \"x\"', password: 1234}\n");
    REQUIRE(odd.auth);
    CHECK(odd.auth->username == "+49 30 \"x\"");
    CHECK(odd.auth->password == "1234");
    CHECK(loaded("    auth: {username: \"m\\u00fcller\", password: p}\n").auth->username ==
          "m\xc3\xbcller");
    CHECK(loaded("    auth: {username: u, password: " + std::string(256, 'p') + "}\n")
              .auth->password.size() == 256);
}

TEST_CASE("auth: mistakes", "[config][auth][errors]") {
    CHECK(problem_of("    auth: acme\n") ==
          "t.yaml:5:11: trunks[0].auth: expected credentials: a map with username and password "
          "(got 'acme')");
    CHECK(problem_of("    auth: {password: x}\n") ==
          "t.yaml:5:11: trunks[0].auth.username: required key missing: expected a username of "
          "1..256 printable bytes (no control characters)");
    CHECK(problem_of("    auth: {username: x}\n") ==
          "t.yaml:5:11: trunks[0].auth.password: required key missing: expected a password of "
          "1..256 printable bytes (no control characters)");
    CHECK(problem_of("    auth: {username: x, password: y, realm: z}\n") ==
          "t.yaml:5:38: trunks[0].auth.realm: unknown key 'realm'; expected one of: username, "
          "password");
    CHECK(problem_of("    auth: {username: '', password: y}\n") ==
          "t.yaml:5:22: trunks[0].auth.username: expected a username of 1..256 printable bytes "
          "(no control characters) (got '')");
    CHECK(problem_of("    auth: {username: \"a\\r\\nVia: x\", password: y}\n") ==
          "t.yaml:5:22: trunks[0].auth.username: expected a username of 1..256 printable bytes "
          "(no control characters) (got 'a\\x0d\\x0aVia: x')");
    CHECK(problem_of("    auth: {username: \"a\\0b\", password: y}\n") ==
          "t.yaml:5:22: trunks[0].auth.username: expected a username of 1..256 printable bytes "
          "(no control characters) (got 'a\\x00b')");
    CHECK(problem_of("    auth: {username: [a], password: y}\n") ==
          "t.yaml:5:22: trunks[0].auth.username: expected a username of 1..256 printable bytes "
          "(no control characters) (got a list)");
    CHECK(problem_of("    auth: {username: " + std::string(257, 'u') + ", password: y}\n")
              .find("t.yaml:5:22: trunks[0].auth.username: expected a username of 1..256 "
                    "printable bytes (no control characters) (got 'uuu") == 0);
    // The password never shows up in a message.
    CHECK(problem_of("    auth: {username: x, password: ''}\n") ==
          "t.yaml:5:35: trunks[0].auth.password: expected a password of 1..256 printable bytes "
          "(no control characters) (got an empty value)");
    CHECK(problem_of("    auth: {username: x, password: \"se\\tcret\"}\n") ==
          "t.yaml:5:35: trunks[0].auth.password: expected a password of 1..256 printable bytes "
          "(no control characters) (got 7 bytes, not shown)");
    CHECK(problem_of("    auth: {username: x, password: " + std::string(257, 'p') + "}\n") ==
          "t.yaml:5:35: trunks[0].auth.password: expected a password of 1..256 printable bytes "
          "(no control characters) (got 257 bytes, not shown)");
    CHECK(problem_of("    auth: {username: x, password: {a: b}}\n") ==
          "t.yaml:5:35: trunks[0].auth.password: expected a password of 1..256 printable bytes "
          "(no control characters) (got a map)");
    CHECK(problem_of("    auth: {username: x, password:}\n") ==
          "t.yaml:5:25: trunks[0].auth.password: expected a password of 1..256 printable bytes "
          "(no control characters) (got nothing)");
}

TEST_CASE("register: address of record and expires", "[config][auth]") {
    const auto& t =
        loaded(auth_ok + "    register: {aor: 'sip:+4930123456@carrier.example', expires: 600}\n");
    REQUIRE(t.registration);
    CHECK(t.registration->aor == "sip:+4930123456@carrier.example");
    CHECK(t.registration->expires == 600);
    CHECK(t.registration->mark.line == 6);
    CHECK(t.registration->mark.column == 15);

    CHECK(loaded(auth_ok + "    register: {aor: 'sip:u@h'}\n").registration->expires == 3600);
    for (const auto* aor :
         {"sip:alice@127.0.1.2", "sips:alice@carrier.example:5061", "SIP:a%20b@h.example.",
          "sip:+49-30;isub=1@[2001:db8::1]:5060", "sip:u@h;user=phone;transport=tcp",
          "sip:u@a-b.c0.example", "sip:u@example"}) {
        INFO(aor);
        CHECK(loaded(auth_ok + "    register: {aor: '" + aor + "'}\n").registration->aor == aor);
    }
    CHECK(loaded(auth_ok + "    register: {aor: 'sip:u@h', expires: 60}\n").registration->expires ==
          60);
    CHECK(loaded(auth_ok + "    register: {aor: 'sip:u@h', expires: 86400}\n")
              .registration->expires == 86400);
}

TEST_CASE("register: an aor's scheme, parameters and bracketed host", "[config][auth]") {
    for (const auto* aor :
         {"sips:u@[::1]", "SIPS:u@[::1]:5061", "sip:u@h;lr;x=y", "sip:u@h;a=%41"}) {
        INFO(aor);
        CHECK(loaded(auth_ok + "    register: {aor: '" + aor + "'}\n").registration->aor == aor);
    }
    for (const auto* aor : {"sips:", "sip:", "sipx:u@h", "sip:u@[::1]5060",
                            "sip:u@[::1]:", "sip:u@h;a;;b", "sip:u@h;a=b=c", "sip:u@h;a=b;"}) {
        INFO(aor);
        const auto problems = problems_of(auth_ok + "    register: {aor: '" + aor + "'}\n");
        REQUIRE(problems.size() == 1);
        CHECK(problems.front().find("trunks[0].register.aor: expected a SIP address of record") !=
              std::string::npos);
    }
}

TEST_CASE("register: mistakes", "[config][auth][errors]") {
    CHECK(problem_of("    register: {aor: 'sip:u@h'}\n") ==
          "t.yaml:5:15: trunks[0].register: expected auth credentials on this trunk to register "
          "with (got no auth key)");
    CHECK(problem_of(auth_ok + "    register: sip:u@h\n") ==
          "t.yaml:6:15: trunks[0].register: expected a registration: a map with aor and expires "
          "(got 'sip:u@h')");
    CHECK(problem_of(auth_ok + "    register: {expires: 600}\n") ==
          "t.yaml:6:15: trunks[0].register.aor: required key missing: expected a SIP address of "
          "record of at most 256 bytes: sip:USER@HOST or sips:USER@HOST, HOST a name or an IP "
          "address, with an optional :PORT and ;parameters");
    CHECK(problem_of(auth_ok + "    register: {aor: 'sip:u@h', contact: x}\n") ==
          "t.yaml:6:32: trunks[0].register.contact: unknown key 'contact'; expected one of: aor, "
          "expires");
    const std::string bad_aor =
        "expected a SIP address of record of at most 256 bytes: sip:USER@HOST or "
        "sips:USER@HOST, HOST a name or an IP address, with an optional :PORT and ;parameters";
    for (const auto* aor : {"carrier.example",
                            "sip:carrier.example",
                            "sip:@carrier.example",
                            "tel:+4930123456",
                            "sip:u@",
                            "sip:u @h",
                            "sip:u@h x",
                            "sip:u:pw@h",
                            "sip:u@h?subject=x",
                            "sip:u@h:0",
                            "sip:u@h:65536",
                            "sip:u@h:",
                            "sip:u@-h",
                            "sip:u@h..example",
                            "sip:u@h.123",
                            "sip:u@2001:db8::1",
                            "sip:u@[127.0.0.1]",
                            "sip:u@[::1",
                            "sip:u@h;",
                            "sip:u@h;=x",
                            "sip:u@h;a=",
                            "sip:u%2@h",
                            "sip:u<@h",
                            "sip:u@h\xc3\xbc"}) {
        INFO(aor);
        CHECK(problem_of(auth_ok + "    register: {aor: '" + aor + "'}\n") ==
              "t.yaml:6:21: trunks[0].register.aor: " + bad_aor + " (got '" + aor + "')");
    }
    CHECK(problem_of(auth_ok + "    register: {aor: 'sip:" + std::string(250, 'u') + "@h.x'}\n")
              .find("t.yaml:6:21: trunks[0].register.aor: " + bad_aor + " (got 'sip:uuu") == 0);
    CHECK(problem_of(auth_ok + "    register: {aor: \"sip:u@h\\r\\n\"}\n") ==
          "t.yaml:6:21: trunks[0].register.aor: " + bad_aor + " (got 'sip:u@h\\x0d\\x0a')");
    CHECK(problem_of(auth_ok + "    register: {aor: [sip:u@h]}\n") ==
          "t.yaml:6:21: trunks[0].register.aor: " + bad_aor + " (got a list)");
    CHECK(problem_of(auth_ok + "    register: {aor: 'sip:u@h', expires: 59}\n") ==
          "t.yaml:6:41: trunks[0].register.expires: expected a number of seconds 60..86400 (got "
          "'59')");
    CHECK(problem_of(auth_ok + "    register: {aor: 'sip:u@h', expires: 86401}\n") ==
          "t.yaml:6:41: trunks[0].register.expires: expected a number of seconds 60..86400 (got "
          "'86401')");
    CHECK(problem_of(auth_ok + "    register: {aor: 'sip:u@h', expires: 1h}\n") ==
          "t.yaml:6:41: trunks[0].register.expires: expected a number of seconds 60..86400 (got "
          "'1h')");
    // A broken auth is reported once, not again at register.
    CHECK(problem_of("    auth: {username: x}\n    register: {aor: 'sip:u@h'}\n") ==
          "t.yaml:5:11: trunks[0].auth.password: required key missing: expected a password of "
          "1..256 printable bytes (no control characters)");
}

TEST_CASE("challenge: realm, algorithm and users", "[config][auth]") {
    const auto& t = loaded(
        "    challenge:\n"
        "      realm: sbc.example\n"
        "      algorithm: SHA-256\n"
        "      users: [{username: pbx1, password: pw}, {username: pbx2, password: pw2}]\n");
    REQUIRE(t.challenge);
    CHECK(t.challenge->realm == "sbc.example");
    CHECK(t.challenge->algorithm == digest_algorithm::sha256);
    REQUIRE(t.challenge->users.size() == 2);
    CHECK(t.challenge->users[0].username == "pbx1");
    CHECK(t.challenge->users[0].password == "pw");
    CHECK(t.challenge->users[1].username == "pbx2");
    CHECK(t.challenge->users[1].password == "pw2");
    CHECK(t.challenge->mark.line == 6);
    CHECK(t.challenge->mark.column == 7);

    const auto users = std::string(", users: [{username: u, password: p}]}\n");
    CHECK(loaded("    challenge: {realm: r" + users).challenge->algorithm == digest_algorithm::md5);
    CHECK(loaded("    challenge: {realm: r, algorithm: MD5" + users).challenge->algorithm ==
          digest_algorithm::md5);
    CHECK(loaded("    challenge: {realm: r, algorithm: sha-512-256" + users).challenge->algorithm ==
          digest_algorithm::sha512_256);
    CHECK(loaded("    challenge: {realm: 'PBX users @ sbc' " + users).challenge->realm ==
          "PBX users @ sbc");
    // Usernames are compared as sent: case matters.
    CHECK(loaded("    challenge: {realm: r, users: [{username: u, password: p}, "
                 "{username: U, password: p}]}\n")
              .challenge->users.size() == 2);
    // A trunk may both answer challenges and challenge.
    CHECK(loaded(auth_ok + "    challenge: {realm: r" + users).challenge->realm == "r");
}

TEST_CASE("challenge: mistakes", "[config][auth][errors]") {
    const auto users = std::string(", users: [{username: u, password: p}]}\n");
    const std::string bad_realm =
        "expected a realm of 1..128 printable bytes without '\"' or '\\' (got ";
    CHECK(problem_of("    challenge: sbc.example\n") ==
          "t.yaml:5:16: trunks[0].challenge: expected a challenge: a map with realm, algorithm "
          "and users (got 'sbc.example')");
    CHECK(
        problem_of("    challenge: {users: [{username: u, password: p}]}\n") ==
        "t.yaml:5:16: trunks[0].challenge.realm: required key missing: expected a realm of 1..128 "
        "printable bytes without '\"' or '\\'");
    CHECK(problem_of("    challenge: {realm: r}\n") ==
          "t.yaml:5:16: trunks[0].challenge.users: required key missing: expected a list of "
          "users, each a map with username and password");
    CHECK(problem_of("    challenge: {realm: ''" + users) ==
          "t.yaml:5:24: trunks[0].challenge.realm: " + bad_realm + "'')");
    CHECK(problem_of("    challenge: {realm: 'a\"b'" + users) ==
          "t.yaml:5:24: trunks[0].challenge.realm: " + bad_realm + "'a\"b')");
    CHECK(problem_of("    challenge: {realm: 'a\\b'" + users) ==
          "t.yaml:5:24: trunks[0].challenge.realm: " + bad_realm + "'a\\b')");
    CHECK(problem_of("    challenge: {realm: \"a\\nb\"" + users) ==
          "t.yaml:5:24: trunks[0].challenge.realm: " + bad_realm + "'a\\x0ab')");
    CHECK(problem_of("    challenge: {realm: " + std::string(129, 'r') + users)
              .find("t.yaml:5:24: trunks[0].challenge.realm: " + bad_realm + "'rrr") == 0);
    CHECK(problem_of("    challenge: {realm: r, algorithm: SHA-1" + users) ==
          "t.yaml:5:38: trunks[0].challenge.algorithm: expected MD5, SHA-256 or SHA-512-256 "
          "(got 'SHA-1')");
    CHECK(problem_of("    challenge: {realm: r, algorithm: MD5-sess" + users) ==
          "t.yaml:5:38: trunks[0].challenge.algorithm: expected MD5, SHA-256 or SHA-512-256 "
          "(got 'MD5-sess')");
    CHECK(problem_of("    challenge: {realm: r, users: []}\n") ==
          "t.yaml:5:34: trunks[0].challenge.users: expected a list of users, each a map with "
          "username and password, with at least one entry (got an empty list)");
    CHECK(problem_of("    challenge: {realm: r, users: {username: u, password: p}}\n") ==
          "t.yaml:5:34: trunks[0].challenge.users: expected a list of users, each a map with "
          "username and password (got a map)");
    CHECK(problem_of("    challenge: {realm: r, users: [pbx1]}\n") ==
          "t.yaml:5:35: trunks[0].challenge.users[0]: expected a user: a map with username and "
          "password (got 'pbx1')");
    CHECK(problem_of("    challenge: {realm: r, users: [{username: u}]}\n") ==
          "t.yaml:5:35: trunks[0].challenge.users[0].password: required key missing: expected a "
          "password of 1..256 printable bytes (no control characters)");
    CHECK(problem_of("    challenge: {realm: r, users: [{username: '', password: p}]}\n") ==
          "t.yaml:5:46: trunks[0].challenge.users[0].username: expected a username of 1..256 "
          "printable bytes (no control characters) (got '')");
    CHECK(problem_of("    challenge: {realm: r, nonce_lifetime: 5" + users) ==
          "t.yaml:5:27: trunks[0].challenge.nonce_lifetime: unknown key 'nonce_lifetime'; "
          "expected one of: realm, algorithm, users");
    CHECK(problem_of("    challenge:\n"
                     "      realm: r\n"
                     "      users:\n"
                     "        - {username: pbx1, password: a}\n"
                     "        - {username: pbx2, password: b}\n"
                     "        - {username: pbx1, password: c}\n") ==
          "t.yaml:10:11: trunks[0].challenge.users[2]: duplicate user; first given on line 8");
}

TEST_CASE("registrar: domain, sources and expiry bounds", "[config][auth]") {
    const auto& t = loaded(
        "    registrar: {domain: sbc.example, sources: [127.0.2.0/24, '2001:db8::/32'], "
        "min_expires: 120, max_expires: 7200}\n");
    REQUIRE(t.registrar);
    CHECK(t.registrar->domain == "sbc.example");
    REQUIRE(t.registrar->sources.size() == 2);
    CHECK(t.registrar->sources[0].text == "127.0.2.0/24");
    CHECK(t.registrar->sources[1].text == "2001:db8::/32");
    CHECK(t.registrar->min_expires == 120);
    CHECK(t.registrar->max_expires == 7200);
    CHECK(t.registrar->mark.line == 5);
    CHECK(t.registrar->mark.column == 16);

    const auto& defaults = loaded("    registrar: {sources: 127.0.2.7}\n");
    REQUIRE(defaults.registrar);
    CHECK(defaults.registrar->domain.empty());
    REQUIRE(defaults.registrar->sources.size() == 1);
    CHECK(defaults.registrar->sources[0].text == "127.0.2.7/32");
    CHECK(defaults.registrar->min_expires == 60);
    CHECK(defaults.registrar->max_expires == 3600);

    for (const auto* domain : {"127.0.2.1", "2001:db8::1", "example", "sbc.example."}) {
        INFO(domain);
        CHECK(loaded(std::string("    registrar: {domain: '") + domain +
                     "', sources: [127.0.2.0/24]}\n")
                  .registrar->domain == domain);
    }
    CHECK(loaded("    registrar: {sources: [127.0.2.0/24], min_expires: 1, max_expires: 1}\n")
              .registrar->max_expires == 1);
    CHECK(loaded("    registrar: {sources: [127.0.2.0/24], min_expires: 3600}\n")
              .registrar->min_expires == 3600);
}

TEST_CASE("registrar: mistakes", "[config][auth][errors]") {
    CHECK(problem_of("    registrar: yes\n") ==
          "t.yaml:5:16: trunks[0].registrar: expected a registrar: a map with domain, sources, "
          "min_expires and max_expires (got 'yes')");
    CHECK(problem_of("    registrar: {domain: sbc.example}\n") ==
          "t.yaml:5:16: trunks[0].registrar.sources: required key missing: expected the address "
          "blocks REGISTERs may come from: a list of IP/PREFIX");
    CHECK(problem_of("    registrar: {sources: []}\n") ==
          "t.yaml:5:26: trunks[0].registrar.sources: expected a list of address blocks, with at "
          "least one entry (got an empty list)");
    CHECK(problem_of("    registrar: {sources: [127.0.2.1/24]}\n")
              .find("t.yaml:5:27: trunks[0].registrar.sources[0]: ") == 0);
    for (const auto* domain : {"sbc example", "-sbc.example", "sbc..example", "[::1]", "a_b.c",
                               "sip:sbc.example", "sbc.123"}) {
        INFO(domain);
        CHECK(problem_of(std::string("    registrar: {domain: '") + domain +
                         "', sources: [127.0.2.0/24]}\n") ==
              std::string("t.yaml:5:25: trunks[0].registrar.domain: expected a domain: a host "
                          "name or an IP address (got '") +
                  domain + "')");
    }
    CHECK(problem_of("    registrar: {sources: [127.0.2.0/24], min_expires: 0}\n") ==
          "t.yaml:5:55: trunks[0].registrar.min_expires: expected a number of seconds 1..86400 "
          "(got '0')");
    CHECK(problem_of("    registrar: {sources: [127.0.2.0/24], max_expires: 86401}\n") ==
          "t.yaml:5:55: trunks[0].registrar.max_expires: expected a number of seconds 1..86400 "
          "(got '86401')");
    CHECK(problem_of("    registrar: {sources: [127.0.2.0/24], min_expires: 300, max_expires: "
                     "120}\n") ==
          "t.yaml:5:73: trunks[0].registrar.max_expires: expected a number of seconds not below "
          "min_expires (300) (got '120')");
    CHECK(problem_of("    registrar: {sources: [127.0.2.0/24], min_expires: 7200}\n") ==
          "t.yaml:5:55: trunks[0].registrar.min_expires: expected a number of seconds not above "
          "max_expires (3600 when not given) (got '7200')");
    CHECK(problem_of("    registrar: {sources: [127.0.2.0/24], max_expires: 30}\n") ==
          "t.yaml:5:55: trunks[0].registrar.max_expires: expected a number of seconds not below "
          "min_expires (60) (got '30')");
    // One bad number is one problem, not a second one about the pair.
    CHECK(
        problem_of("    registrar: {sources: [127.0.2.0/24], min_expires: x, max_expires: 30}\n") ==
        "t.yaml:5:55: trunks[0].registrar.min_expires: expected a number of seconds 1..86400 "
        "(got 'x')");
    CHECK(problem_of("    registrar: {sources: [127.0.2.0/24], expires: 60}\n") ==
          "t.yaml:5:42: trunks[0].registrar.expires: unknown key 'expires'; expected one of: "
          "domain, sources, min_expires, max_expires");
}

TEST_CASE("every problem of the digest keys is reported at once", "[config][auth][errors]") {
    const auto problems = problems_of(
        "    auth: {username: '', password: ''}\n"
        "    challenge: {realm: r, algorithm: SHA1, users: []}\n"
        "    registrar: {sources: [], min_expires: 0}\n");
    REQUIRE(problems.size() == 6);
    CHECK(problems[0].find("t.yaml:5:22: trunks[0].auth.username:") == 0);
    CHECK(problems[1].find("t.yaml:5:36: trunks[0].auth.password:") == 0);
    CHECK(problems[2].find("t.yaml:6:38: trunks[0].challenge.algorithm:") == 0);
    CHECK(problems[3].find("t.yaml:6:51: trunks[0].challenge.users:") == 0);
    CHECK(problems[4].find("t.yaml:7:26: trunks[0].registrar.sources:") == 0);
    CHECK(problems[5].find("t.yaml:7:43: trunks[0].registrar.min_expires:") == 0);
}

}  // namespace test_config_auth
