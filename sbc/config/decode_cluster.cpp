// The cluster section: this node's name in a redundant pair, where the
// pair keeps its calls (a Redis server), and the key that seals the calls'
// secrets (sbc/cluster/sealer.hpp). The key and the store's password are
// read from their files here, at load time, so that --check-config finds a
// missing or broken one before the service starts.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "sbc/common/unique_fd.hpp"
#include "sbc/config/address.hpp"
#include "sbc/config/decode.hpp"

namespace sbc::config::detail {

namespace {

// A key file holds 64 characters and a password file one line: this bounds
// what a mistaken path such as /dev/zero can make us read.
constexpr std::size_t max_cluster_file_size = 4096;

constexpr std::string_view key_file_expected =
    "an absolute path of a file holding the cluster's key, 64 hex digits (made with `openssl "
    "rand -hex 32`)";
constexpr std::string_view store_address_expected =
    "the Redis server's IP:PORT, [IPv6]:PORT or unix:/path";

// The text of a small file, or why there is none ("No such file or
// directory"): the error is the reader's, so that it can name the key.
result<std::string> read_cluster_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        return make_error(std::strerror(errno));
    }
    std::string text;
    std::array<char, 1024> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            const int e = errno;
            explicit_bzero(text.data(), text.size());
            return make_error(std::strerror(e));
        }
        if (n == 0) {
            break;
        }
        text.append(buffer.data(), static_cast<std::size_t>(n));
        if (text.size() > max_cluster_file_size) {
            explicit_bzero(text.data(), text.size());
            explicit_bzero(buffer.data(), buffer.size());
            return make_error(fmt::format("larger than {} bytes", max_cluster_file_size));
        }
    }
    explicit_bzero(buffer.data(), buffer.size());
    return text;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The path at `at`: absolute, as every path of the configuration is (the
// service does not run in the directory the file is in).
std::optional<std::string> read_cluster_path(problem_list& p, const located& at,
                                             std::string_view what) {
    auto text = read_string(p, at, what);
    if (text && (text->empty() || text->front() != '/' || text->find('\0') != std::string::npos)) {
        expected(p, at, what);
        return std::nullopt;
    }
    return text;
}

// 64 hex digits with white space around them. The file's text is never
// put into a message: it may be most of a key.
void read_key_file(problem_list& p, const located& at, cluster_config& cc) {
    auto path = read_cluster_path(p, at, key_file_expected);
    if (!path) {
        return;
    }
    auto text = read_cluster_file(*path);
    if (!text) {
        p.add(at.mark, at.path,
              fmt::format("cannot read the key file {}: {}", quote(*path), text.error_message()));
        return;
    }
    std::string_view key = *text;
    while (!key.empty() && is_blank(key.front())) {
        key.remove_prefix(1);
    }
    while (!key.empty() && is_blank(key.back())) {
        key.remove_suffix(1);
    }
    const bool hex = std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
    if (key.size() != 64 || !hex) {
        p.add(at.mark, at.path,
              fmt::format("the key file {} does not hold a key: expected 64 hex digits, the 32 "
                          "octets of an AES-256 key, as `openssl rand -hex 32` writes them "
                          "(found {})",
                          quote(*path),
                          !hex ? "a character that is not a hex digit"
                               : fmt::format("{} characters", key.size())));
    } else {
        cc.key_hex = std::string(key);
    }
    explicit_bzero(text->data(), text->size());
}

// One line; the line break that ends it is not part of the password.
std::optional<std::string> read_password_file(problem_list& p, const located& at) {
    constexpr std::string_view what = "an absolute path of a file holding the Redis password";
    auto path = read_cluster_path(p, at, what);
    if (!path) {
        return std::nullopt;
    }
    auto text = read_cluster_file(*path);
    if (!text) {
        p.add(at.mark, at.path,
              fmt::format("cannot read the password file {}: {}", quote(*path),
                          text.error_message()));
        return std::nullopt;
    }
    std::string password = std::move(*text);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
        password.pop_back();
    }
    if (password.empty()) {
        p.add(at.mark, at.path, fmt::format("the password file {} is empty", quote(*path)));
        return std::nullopt;
    }
    return password;
}

// Redis ACL user names are taken as they are (ACL SETUSER); these are the
// ones that survive a log line and a command line unchanged.
bool is_store_user(std::string_view user) {
    return !user.empty() && user.size() <= 128 &&
           std::all_of(user.begin(), user.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// A PEM file of the store's TLS: an absolute path that this process can
// open now (sbcd reads it when it connects, as the same user).
std::optional<std::string> read_tls_file(problem_list& p, const located& at,
                                         std::string_view what) {
    auto path = read_cluster_path(p, at, what);
    if (!path) {
        return std::nullopt;
    }
    unique_fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        p.add(at.mark, at.path,
              fmt::format("cannot read {}: {}", quote(*path), std::strerror(errno)));
        return std::nullopt;
    }
    return path;
}

// store.tls: the trust for the server's certificate, our own for
// `tls-auth-clients yes`, and the name the server's certificate must carry.
std::optional<cluster_store_tls_config> decode_store_tls(problem_list& p, const located& at) {
    auto m = map_reader::open(p, at, {"ca_file", "cert_file", "key_file", "server_name", "verify"},
                              "the store's TLS: a map with ca_file, and cert_file with key_file, "
                              "server_name and verify");
    if (!m) {
        return std::nullopt;
    }
    cluster_store_tls_config tc;
    if (auto v = m->require("ca_file",
                            "an absolute path of the PEM file of the CAs that sign "
                            "the Redis server's certificate")) {
        tc.ca_file =
            read_tls_file(p, *v, "an absolute path of a PEM file of CA certificates").value_or("");
    }
    const auto cert_at = m->find("cert_file");
    const auto key_at = m->find("key_file");
    if (cert_at) {
        tc.cert_file =
            read_tls_file(p, *cert_at, "an absolute path of a PEM certificate file").value_or("");
    }
    if (key_at) {
        tc.key_file =
            read_tls_file(p, *key_at, "an absolute path of a PEM private key file").value_or("");
    }
    if (cert_at && !key_at) {
        p.add(cert_at->mark, cert_at->path,
              "a client certificate needs its key: give key_file as well");
    } else if (key_at && !cert_at) {
        p.add(key_at->mark, key_at->path,
              "a key needs its client certificate: give cert_file as well");
    }
    if (auto v = m->find("server_name")) {
        constexpr std::string_view what =
            "the host name the Redis server's certificate carries (subjectAltName DNS)";
        if (auto text = read_string(p, *v, what)) {
            if (auto name = parse_host_name(*text)) {
                tc.server_name = std::move(*name);
            } else {
                expected(p, *v, what);
            }
        }
    }
    if (auto v = m->find("verify")) {
        tc.verify = read_flag(p, *v).value_or(tc.verify);
    }
    return tc;
}

void decode_store(problem_list& p, const located& at, cluster_store_config& sc) {
    auto m = map_reader::open(
        p, at, {"address", "user", "password", "password_file", "timeout_ms", "queue_limit", "tls"},
        "the cluster's store: a map with address, and user, password or password_file, "
        "timeout_ms, queue_limit and tls");
    if (!m) {
        return;
    }
    if (auto v = m->require("address", store_address_expected)) {
        if (auto text = read_string(p, *v, store_address_expected)) {
            auto address = parse_store_address(*text);
            if (address) {
                sc.address = std::move(*address);
            } else {
                rejected(p, *v, address.error_message());
            }
        }
    }
    const auto user_at = m->find("user");
    if (user_at) {
        constexpr std::string_view what =
            "a Redis ACL user name: 1..128 printable characters, no spaces";
        auto text = read_string(p, *user_at, what);
        if (text && !is_store_user(*text)) {
            expected(p, *user_at, what);
        } else if (text) {
            sc.user = *text;
        }
    }
    const auto password_at = m->find("password");
    const auto password_file_at = m->find("password_file");
    if (password_at && password_file_at) {
        // The later of the two is the one to point at.
        const auto& later = position(password_file_at->mark) > position(password_at->mark)
                                ? *password_file_at
                                : *password_at;
        p.add(later.mark, later.path,
              "expected at most one of password and password_file (got both)");
    } else if (password_at) {
        constexpr std::string_view what = "the Redis password (AUTH)";
        auto text = read_string(p, *password_at, what);
        if (text && text->empty()) {
            expected(p, *password_at, what);
        } else if (text) {
            sc.password = *text;
        }
    } else if (password_file_at) {
        sc.password = read_password_file(p, *password_file_at).value_or("");
    }
    if (user_at && !password_at && !password_file_at) {
        // Redis 6 ACLs: AUTH takes a user name only together with its password.
        p.add(user_at->mark, user_at->path,
              "a user needs its password: give password or password_file as well");
    }
    read_number_into(p, *m, "timeout_ms", 50, 60000,
                     "milliseconds 50..60000 to connect and for each answer", sc.timeout_ms);
    if (auto v = m->find("queue_limit")) {
        sc.queue_limit =
            read_number(p, *v, 1, 1000000, "a number of calls 1..1000000").value_or(sc.queue_limit);
    }
    if (auto v = m->find("tls")) {
        sc.tls = decode_store_tls(p, *v);
        if (sc.tls && sc.address.rfind("unix:", 0) == 0) {
            p.add(v->mark, v->path,
                  "Redis serves TLS on a TCP port only: give the store's address as IP:PORT (its "
                  "tls-port), not a unix socket");
        }
    }
}

}  // namespace

std::optional<cluster_config> decode_cluster(decoded& d, problem_list& p, const located& at) {
    auto m = map_reader::open(
        p, at, {"node", "partner", "prefix", "standby", "key_file", "store", "hand_over_file"},
        "a map with node, partner, prefix, standby, key_file, store and hand_over_file");
    if (!m) {
        return std::nullopt;
    }
    cluster_config cc;
    if (auto v = m->require("node", name_expected)) {
        cc.node = read_name(d, p, *v).value_or("");
    }
    if (auto v = m->find("partner")) {
        auto partner = read_name(d, p, *v);
        if (partner && *partner == cc.node) {
            expected(p, *v, fmt::format("the partner's name, not this node's own ('{}')", cc.node));
        } else if (partner) {
            cc.partner = *partner;
        }
    }
    if (auto v = m->find("prefix")) {
        cc.prefix = read_name(d, p, *v).value_or(cc.prefix);
    }
    if (auto v = m->find("standby")) {
        cc.standby = read_flag(p, *v).value_or(cc.standby);
    }
    if (auto v = m->require("key_file", key_file_expected)) {
        read_key_file(p, *v, cc);
    }
    if (auto v = m->find("hand_over_file")) {
        cc.hand_over_file =
            read_cluster_path(p, *v,
                              "an absolute path of the file keepalived's track_file reads "
                              "(sbcd writes 1 there to hand its addresses over)")
                .value_or("");
    }
    if (auto v = m->require("store", "a map with the Redis server's address")) {
        decode_store(p, *v, cc.store);
    }
    return cc;
}

}  // namespace sbc::config::detail
