// The cluster section: every key read as documented, the key and password
// files read at load time, and each mistake with the whole message it is
// reported with (file:line:column, key path, what was expected).
#include "sbc/config/config.hpp"
#include "tests/sbc/config/section_config.hpp"

#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using sbc::config::config_error;
using sbc::config::load_string;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_config_cluster {

namespace {

const std::string a_key = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

// A directory of its own for the files a cluster section names, removed
// with everything in it at the end of the test.
class temp_files {
public:
    temp_files() {
        std::string pattern = (std::filesystem::temp_directory_path() / "sbc-cluster-XXXXXX");
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        _dir = pattern;
    }
    ~temp_files() {
        std::error_code ignored;
        std::filesystem::remove_all(_dir, ignored);
    }
    temp_files(const temp_files&) = delete;
    temp_files& operator=(const temp_files&) = delete;

    /// The path of a new file `name` holding `text`.
    std::string write(const std::string& name, const std::string& text) {
        const auto path = _dir / name;
        std::ofstream(path, std::ios::binary) << text;
        return path.string();
    }
    std::string path(const std::string& name) const { return (_dir / name).string(); }

private:
    std::filesystem::path _dir;
};

constexpr auto with_cluster = section_config::with_section;

std::vector<std::string> problems_of(const std::string& section) {
    try {
        load_string(with_cluster(section), "t.yaml");
    } catch (const config_error& e) {
        return e.problems();
    }
    FAIL("the configuration loaded, a config_error was expected:\n" << section);
    return {};
}

std::string problem_of(const std::string& section) {
    const auto problems = problems_of(section);
    INFO(section);
    for (const auto& p : problems) {
        UNSCOPED_INFO(p);
    }
    REQUIRE(problems.size() == 1);
    return problems.front();
}

sbc::config::cluster_config loaded(const std::string& section) {
    INFO(section);
    const auto cfg = load_string(with_cluster(section), "t.yaml");
    REQUIRE(cfg.cluster);
    return *cfg.cluster;
}

// A section with every required key; `node_lines` and `store_lines` are
// added inside "cluster:" and "store:" (each line indented by the caller).
std::string section(const std::string& key_file, const std::string& node_lines = "",
                    const std::string& store_lines = "") {
    return "cluster:\n"
           "  node: sbc-a\n" +
           node_lines + "  key_file: " + key_file +
           "\n"
           "  store:\n"
           "    address: 127.0.0.1:6379\n" +
           store_lines;
}

}  // namespace

TEST_CASE("cluster: every key, as documented", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", "\n  " + a_key + "\n\n");
    const auto password_file = files.write("redis.password", "pass word\n");

    const auto c = loaded(
        "cluster:\n"
        "  node: sbc-a\n"
        "  partner: sbc-b\n"
        "  prefix: pbx.east\n"
        "  standby: true\n"
        "  key_file: " +
        key_file +
        "\n"
        "  store:\n"
        "    address: '[2001:DB8::7]:6380'\n"
        "    user: sbc\n"
        "    password_file: " +
        password_file +
        "\n"
        "    timeout_ms: 250\n"
        "    queue_limit: 500\n");
    CHECK(c.node == "sbc-a");
    CHECK(c.partner == "sbc-b");
    CHECK(c.prefix == "pbx.east");
    CHECK(c.standby);
    CHECK(c.key_hex == a_key);  // white space around it dropped
    CHECK(c.store.address == "[2001:db8::7]:6380");
    CHECK(c.store.user == "sbc");
    CHECK(c.store.password == "pass word");  // the line without its line break
    CHECK(c.store.timeout_ms == 250);
    CHECK(c.store.queue_limit == 500);

    // An inline password.
    CHECK(loaded(section(key_file, "", "    password: s3cret\n")).store.password == "s3cret");
}

TEST_CASE("cluster: defaults, and no section at all", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key);  // no line break: fine too

    const auto c = loaded(section(key_file));
    CHECK(c.node == "sbc-a");
    CHECK(c.partner.empty());
    CHECK(c.prefix == "sbc");
    CHECK_FALSE(c.standby);
    CHECK(c.key_hex == a_key);
    CHECK(c.store.address == "127.0.0.1:6379");
    CHECK(c.store.user.empty());
    CHECK(c.store.password.empty());
    CHECK(c.store.timeout_ms == 1000);
    CHECK(c.store.queue_limit == 10000);

    CHECK_FALSE(load_string(with_cluster(""), "t.yaml").cluster);
}

TEST_CASE("cluster: the store's address forms", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key + "\n");
    auto address_of = [&](const std::string& address) {
        const auto c = loaded("cluster:\n  node: n\n  key_file: " + key_file +
                              "\n  store: {address: '" + address + "'}\n");
        return c.store.address;
    };
    CHECK(address_of("192.0.2.10:7000") == "192.0.2.10:7000");
    CHECK(address_of("192.0.2.10") == "192.0.2.10:6379");  // Redis's port
    CHECK(address_of("[::1]:6380") == "[::1]:6380");
    CHECK(address_of("[2001:DB8:0::1]") == "[2001:db8::1]:6379");
    CHECK(address_of("unix:/run/redis/redis-server.sock") == "unix:/run/redis/redis-server.sock");

    // Line 4 column 20: the address in the flow map, inside its quotes.
    auto problem_with = [&](const std::string& address) {
        return problem_of("cluster:\n  node: n\n  key_file: " + key_file +
                          "\n  store: {address: '" + address + "'}\n");
    };
    CHECK(problem_with("redis.example.com:6379") ==
          "t.yaml:4:20: cluster.store.address: expected an IP address or unix:/path, not a host "
          "name (sbcd connects to the store from its event loop, where waiting for a name lookup "
          "would hold up every call) (got 'redis.example.com:6379')");
    CHECK(problem_with("localhost") ==
          "t.yaml:4:20: cluster.store.address: expected an IP address or unix:/path, not a host "
          "name (sbcd connects to the store from its event loop, where waiting for a name lookup "
          "would hold up every call) (got 'localhost')");
    CHECK(problem_with("0.0.0.0:6379") ==
          "t.yaml:4:20: cluster.store.address: expected the store's address, not 0.0.0.0 or :: "
          "(got '0.0.0.0:6379')");
    CHECK(problem_with("127.0.0.1:0") ==
          "t.yaml:4:20: cluster.store.address: expected a port 1..65535 after the address (got "
          "'127.0.0.1:0')");
    CHECK(problem_with("2001:db8::1") ==
          "t.yaml:4:20: cluster.store.address: expected an IPv6 address in brackets, e.g. "
          "[2001:db8::1]:5060 (got '2001:db8::1')");
    CHECK(problem_with("unix:run/redis.sock") ==
          "t.yaml:4:20: cluster.store.address: expected unix:/absolute/path, the path at most 107 "
          "bytes (got 'unix:run/redis.sock')");
    CHECK(problem_with("unix:/" + std::string(107, 'x'))
              .find("expected unix:/absolute/path, the path at most 107 bytes") !=
          std::string::npos);
}

TEST_CASE("cluster: names", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key + "\n");
    const std::string name_expected = "expected a name of 1..64 letters, digits, '-', '_' or '.'";

    CHECK(
        problem_of("cluster:\n  key_file: " + key_file + "\n  store: {address: 127.0.0.1}\n") ==
        "t.yaml:2:3: cluster.node: required key missing: expected a name of 1..64 letters, digits, "
        "'-', '_' or '.'");
    CHECK(problem_of("cluster:\n  node: sbc a\n  key_file: " + key_file +
                     "\n  store: {address: 127.0.0.1}\n") ==
          "t.yaml:2:9: cluster.node: " + name_expected + " (got 'sbc a')");
    CHECK(problem_of(section(key_file, "  partner: " + std::string(65, 'b') + "\n")) ==
          "t.yaml:3:12: cluster.partner: " + name_expected + " (got '" + std::string(65, 'b') +
              "')");
    CHECK(problem_of(section(key_file, "  partner: sbc-a\n")) ==
          "t.yaml:3:12: cluster.partner: expected the partner's name, not this node's own "
          "('sbc-a') (got 'sbc-a')");
    // Keys are "<prefix>:call:<node>:<id>": no ':' in a name.
    CHECK(problem_of(section(key_file, "  prefix: 'sbc:x'\n")) ==
          "t.yaml:3:11: cluster.prefix: " + name_expected + " (got 'sbc:x')");
    CHECK(problem_of(section(key_file, "  standby: yes\n")) ==
          "t.yaml:3:12: cluster.standby: expected true or false (got 'yes')");
}

TEST_CASE("cluster: the key file", "[config][cluster]") {
    temp_files files;
    const std::string expected_text =
        "expected an absolute path of a file holding the cluster's key, 64 hex digits (made with "
        "`openssl rand -hex 32`)";

    CHECK(problem_of("cluster:\n  node: n\n  store: {address: 127.0.0.1}\n") ==
          "t.yaml:2:3: cluster.key_file: required key missing: " + expected_text);
    CHECK(problem_of(section("cluster.key")) ==
          "t.yaml:3:13: cluster.key_file: " + expected_text + " (got 'cluster.key')");

    const auto missing = files.path("missing.key");
    CHECK(problem_of(section(missing)) ==
          "t.yaml:3:13: cluster.key_file: cannot read the key "
          "file '" +
              missing + "': No such file or directory");
    const auto dir = files.path("");
    CHECK(problem_of(section(dir)) ==
          "t.yaml:3:13: cluster.key_file: cannot read the key file '" + dir + "': Is a directory");

    // What the file holds is never shown: it may be most of a key.
    const auto short_key = files.write("short.key", a_key.substr(1) + "\n");
    const auto short_problem = problem_of(section(short_key));
    CHECK(short_problem == "t.yaml:3:13: cluster.key_file: the key file '" + short_key +
                               "' does not hold a key: expected 64 hex digits, the 32 octets of an "
                               "AES-256 key, as `openssl rand -hex 32` writes them (found 63 "
                               "characters)");
    const auto not_hex = files.write("not-hex.key", "0x" + a_key.substr(2));
    const auto not_hex_problem = problem_of(section(not_hex));
    CHECK(not_hex_problem == "t.yaml:3:13: cluster.key_file: the key file '" + not_hex +
                                 "' does not hold a key: expected 64 hex digits, the 32 octets of "
                                 "an AES-256 key, as `openssl rand -hex 32` writes them (found a "
                                 "character that is not a hex digit)");
    const auto two_keys = files.write("two.key", a_key + "\n" + a_key + "\n");
    // Two keys are not one: the line break between them is no hex digit.
    CHECK(problem_of(section(two_keys)).find("(found a character that is not a hex digit)") !=
          std::string::npos);
    const auto long_key = files.write("long.key", a_key + "0\n");
    CHECK(problem_of(section(long_key)).find("(found 65 characters)") != std::string::npos);
    const auto empty = files.write("empty.key", "");
    CHECK(problem_of(section(empty)).find("(found 0 characters)") != std::string::npos);
    const auto big = files.write("big.key", std::string(5000, '0'));
    CHECK(problem_of(section(big)) == "t.yaml:3:13: cluster.key_file: cannot read the key file '" +
                                          big + "': larger than 4096 bytes");
    for (const auto& p : {short_problem, not_hex_problem}) {
        CHECK(p.find(a_key.substr(2, 16)) == std::string::npos);
    }

    if (::geteuid() != 0) {  // root reads any file
        const auto locked = files.write("locked.key", a_key);
        REQUIRE(::chmod(locked.c_str(), 0) == 0);
        CHECK(problem_of(section(locked)) ==
              "t.yaml:3:13: cluster.key_file: cannot read the key file '" + locked +
                  "': Permission denied");
    }
}

TEST_CASE("cluster: the store's credentials", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key + "\n");
    const auto password_file = files.write("redis.password", "s3cret\r\n");

    CHECK(loaded(section(key_file, "", "    password_file: " + password_file + "\n"))
              .store.password == "s3cret");
    CHECK(problem_of(section(key_file, "",
                             "    password: s3cret\n    password_file: " + password_file + "\n")) ==
          "t.yaml:7:20: cluster.store.password_file: expected at most one of password and "
          "password_file (got both)");
    CHECK(problem_of(section(key_file, "",
                             "    password_file: " + password_file + "\n    password: s3cret\n")) ==
          "t.yaml:7:15: cluster.store.password: expected at most one of password and "
          "password_file (got both)");
    CHECK(problem_of(section(key_file, "", "    password: ''\n")) ==
          "t.yaml:6:15: cluster.store.password: expected the Redis password (AUTH) (got '')");

    const auto empty = files.write("empty.password", "\n");
    CHECK(problem_of(section(key_file, "", "    password_file: " + empty + "\n")) ==
          "t.yaml:6:20: cluster.store.password_file: the password file '" + empty + "' is empty");
    const auto missing = files.path("missing.password");
    CHECK(problem_of(section(key_file, "", "    password_file: " + missing + "\n")) ==
          "t.yaml:6:20: cluster.store.password_file: cannot read the password file '" + missing +
              "': No such file or directory");
    CHECK(problem_of(section(key_file, "", "    password_file: redis.password\n")) ==
          "t.yaml:6:20: cluster.store.password_file: expected an absolute path of a file holding "
          "the Redis password (got 'redis.password')");

    CHECK(problem_of(section(key_file, "", "    user: sbc\n")) ==
          "t.yaml:6:11: cluster.store.user: a user needs its password: give password or "
          "password_file as well");
    CHECK(problem_of(section(key_file, "", "    user: 's b c'\n    password: x\n")) ==
          "t.yaml:6:11: cluster.store.user: expected a Redis ACL user name: 1..128 printable "
          "characters, no spaces (got 's b c')");
}

TEST_CASE("cluster: the store's TLS", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key + "\n");
    const auto ca = files.write("ca.pem", "CA\n");
    const auto cert = files.write("client.pem", "CERT\n");
    const auto key = files.write("client.key", "KEY\n");

    const auto all = loaded(section(key_file, "",
                                    "    tls:\n"
                                    "      ca_file: " +
                                        ca +
                                        "\n"
                                        "      cert_file: " +
                                        cert +
                                        "\n"
                                        "      key_file: " +
                                        key +
                                        "\n"
                                        "      server_name: Redis.Example.\n"
                                        "      verify: false\n"));
    REQUIRE(all.store.tls);
    CHECK(all.store.tls->ca_file == ca);
    CHECK(all.store.tls->cert_file == cert);
    CHECK(all.store.tls->key_file == key);
    CHECK(all.store.tls->server_name == "redis.example");
    CHECK_FALSE(all.store.tls->verify);

    const auto least = loaded(section(key_file, "", "    tls: {ca_file: " + ca + "}\n"));
    REQUIRE(least.store.tls);
    CHECK(least.store.tls->cert_file.empty());
    CHECK(least.store.tls->server_name.empty());
    CHECK(least.store.tls->verify);
    CHECK_FALSE(loaded(section(key_file)).store.tls);

    CHECK(problem_of(section(key_file, "", "    tls: {verify: true}\n")) ==
          "t.yaml:6:10: cluster.store.tls.ca_file: required key missing: expected an absolute "
          "path of the PEM file of the CAs that sign the Redis server's certificate");
    const auto missing = files.path("missing.pem");
    CHECK(problem_of(section(key_file, "", "    tls:\n      ca_file: " + missing + "\n")) ==
          "t.yaml:7:16: cluster.store.tls.ca_file: cannot read '" + missing +
              "': No such file or directory");
    CHECK(problem_of(section(key_file, "", "    tls:\n      ca_file: ca.pem\n")) ==
          "t.yaml:7:16: cluster.store.tls.ca_file: expected an absolute path of a PEM file of "
          "CA certificates (got 'ca.pem')");
    CHECK(problem_of(
              section(key_file, "",
                      "    tls:\n      ca_file: " + ca + "\n      cert_file: " + cert + "\n")) ==
          "t.yaml:8:18: cluster.store.tls.cert_file: a client certificate needs its key: give "
          "key_file as well");
    CHECK(
        problem_of(section(key_file, "",
                           "    tls:\n      ca_file: " + ca + "\n      key_file: " + key + "\n")) ==
        "t.yaml:8:17: cluster.store.tls.key_file: a key needs its client certificate: give "
        "cert_file as well");
    CHECK(
        problem_of(section(
            key_file, "", "    tls:\n      ca_file: " + ca + "\n      server_name: 127.0.0.1\n")) ==
        "t.yaml:8:20: cluster.store.tls.server_name: expected the host name the Redis server's "
        "certificate carries (subjectAltName DNS) (got '127.0.0.1')");
    CHECK(problem_of(section(key_file, "", "    tls: {ca_file: " + ca + ", crl: x}\n"))
              .find("cluster.store.tls.crl: unknown key 'crl'") != std::string::npos);
    CHECK(problem_of("cluster:\n  node: n\n  key_file: " + key_file +
                     "\n  store:\n    address: unix:/run/redis.sock\n    tls: {ca_file: " + ca +
                     "}\n") ==
          "t.yaml:6:10: cluster.store.tls: Redis serves TLS on a TCP port only: give the store's "
          "address as IP:PORT (its tls-port), not a unix socket");
    if (::geteuid() != 0) {  // root reads any file
        const auto locked = files.write("locked.pem", "CA\n");
        REQUIRE(::chmod(locked.c_str(), 0) == 0);
        CHECK(problem_of(section(key_file, "", "    tls:\n      ca_file: " + locked + "\n")) ==
              "t.yaml:7:16: cluster.store.tls.ca_file: cannot read '" + locked +
                  "': Permission denied");
    }
}

TEST_CASE("cluster: numbers, unknown keys, wrong shapes", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key + "\n");

    CHECK(problem_of(section(key_file, "", "    timeout_ms: 49\n")) ==
          "t.yaml:6:17: cluster.store.timeout_ms: expected milliseconds 50..60000 to connect and "
          "for each answer (got '49')");
    CHECK(loaded(section(key_file, "", "    timeout_ms: 60000\n")).store.timeout_ms == 60000);
    CHECK(problem_of(section(key_file, "", "    timeout_ms: 60001\n")) ==
          "t.yaml:6:17: cluster.store.timeout_ms: expected milliseconds 50..60000 to connect and "
          "for each answer (got '60001')");
    CHECK(
        problem_of(section(key_file, "", "    queue_limit: 0\n")) ==
        "t.yaml:6:18: cluster.store.queue_limit: expected a number of calls 1..1000000 (got '0')");
    CHECK(loaded(section(key_file, "", "    queue_limit: 1000000\n")).store.queue_limit == 1000000);
    CHECK(problem_of(section(key_file, "", "    queue_limit: 1000001\n")) ==
          "t.yaml:6:18: cluster.store.queue_limit: expected a number of calls 1..1000000 (got "
          "'1000001')");

    CHECK(loaded(section(key_file, "  hand_over_file: /run/sbc/hand-over\n")).hand_over_file ==
          "/run/sbc/hand-over");
    CHECK(problem_of(section(key_file, "  hand_over_file: hand-over\n"))
              .find("cluster.hand_over_file: expected an absolute path") != std::string::npos);
    CHECK(problem_of(section(key_file, "  nodes: 2\n")) ==
          "t.yaml:3:3: cluster.nodes: unknown key 'nodes' (did you mean 'node'?); expected one "
          "of: node, partner, prefix, standby, key_file, store, hand_over_file");
    CHECK(problem_of(section(key_file, "", "    adress: x\n")) ==
          "t.yaml:6:5: cluster.store.adress: unknown key 'adress' (did you mean 'address'?); "
          "expected one of: address, user, password, password_file, timeout_ms, queue_limit, tls");
    CHECK(problem_of("cluster:\n  node: n\n  key_file: " + key_file + "\n") ==
          "t.yaml:2:3: cluster.store: required key missing: expected a map with the Redis server's "
          "address");
    CHECK(problem_of("cluster:\n  node: n\n  key_file: " + key_file + "\n  store: {}\n") ==
          "t.yaml:4:10: cluster.store.address: required key missing: expected the Redis server's "
          "IP:PORT, [IPv6]:PORT or unix:/path");
    CHECK(problem_of("cluster: [sbc-a]\n") ==
          "t.yaml:1:10: cluster: expected a map with node, partner, prefix, standby, key_file, "
          "store and hand_over_file (got a list)");
}

}  // namespace test_config_cluster

namespace test_config_cluster {

TEST_CASE("cluster: a node of a pair runs the kernel media backend", "[config][cluster]") {
    temp_files files;
    const auto key_file = files.write("cluster.key", a_key + "\n");
    // The section's 5 lines, then media from line 6.
    CHECK(problem_of(section(key_file) +
                     "media:\n"
                     "  backend: dpdk\n"
                     "  dpdk:\n"
                     "    ports:\n"
                     "      - {interface: a, device: 'net_tap0,iface=dp0'}\n") ==
          "t.yaml:7:12: media.backend: backend dpdk cannot run a node of a cluster: it holds the "
          "media addresses on its TAP interfaces from the start, so both nodes would claim the "
          "shared addresses; use backend kernel with cluster");
    CHECK(loaded(section(key_file) + "media:\n  backend: kernel\n").node == "sbc-a");
}

}  // namespace test_config_cluster
