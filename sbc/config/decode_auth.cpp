// Decoding of a trunk's digest keys: `auth` (what the SBC answers the trunk's
// 401/407 with), `register` (the SBC registers at the trunk, RFC 3261 10.2),
// `challenge` (the SBC challenges the trunk, RFC 3261 22.1) and `registrar`
// (the SBC is the trunk's registrar, RFC 3261 10.3).
//
// Every text checked here ends up in a SIP header (a quoted username or realm,
// a From/To URI) or in a hash, so control characters are refused outright:
// a CR or LF from the file must never be able to split a header.
#include "sbc/config/address.hpp"

#include "sbc/common/text.hpp"
#include "sbc/config/decode.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

namespace sbc::config::detail {

namespace {

constexpr std::size_t max_credential_size = 256;
constexpr std::size_t max_aor_size = 256;
constexpr std::size_t max_realm_size = 128;
// RFC 1035 2.3.4: a name is at most 255 octets on the wire, 253 as text.
constexpr std::size_t max_host_size = 253;

constexpr std::string_view username_expected =
    "a username of 1..256 printable bytes (no control characters)";
constexpr std::string_view password_expected =
    "a password of 1..256 printable bytes (no control characters)";
constexpr std::string_view aor_expected =
    "a SIP address of record of at most 256 bytes: sip:USER@HOST or sips:USER@HOST, HOST a "
    "name or an IP address, with an optional :PORT and ;parameters";
constexpr std::string_view realm_expected =
    "a realm of 1..128 printable bytes without '\"' or '\\'";
constexpr std::string_view algorithm_expected = "MD5, SHA-256 or SHA-512-256";
constexpr std::string_view domain_expected = "a domain: a host name or an IP address";
constexpr std::string_view seconds_1_86400 = "a number of seconds 1..86400";

// Printable bytes: UTF-8 is allowed (RFC 3261 25.1 qdtext takes
// UTF8-NONASCII), C0 controls and DEL are not.
bool is_printable(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f;
    });
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Characters from `allowed` or alphanumerics, and "%" HEX HEX escapes
// (RFC 3261 25.1 escaped).
bool is_escaped_text(std::string_view text, std::string_view allowed) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) {
                return false;
            }
            i += 2;
            continue;
        }
        if (!is_alnum(c) && allowed.find(c) == std::string_view::npos) {
            return false;
        }
    }
    return true;
}

// RFC 3261 25.1 hostname: dot-separated labels of letters, digits and '-'
// (not at either end of a label), a top label starting with a letter, and
// an optional trailing dot.
bool is_host_name(std::string_view name) {
    if (name.empty() || name.size() > max_host_size) {
        return false;
    }
    if (name.back() == '.') {
        name.remove_suffix(1);
    }
    std::string_view last;
    while (true) {
        const auto dot = name.find('.');
        const auto label = name.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
            !std::all_of(label.begin(), label.end(),
                         [](char c) { return is_alnum(c) || c == '-'; })) {
            return false;
        }
        last = label;
        if (dot == std::string_view::npos) {
            break;
        }
        name.remove_prefix(dot + 1);
    }
    return (last.front() >= 'a' && last.front() <= 'z') ||
           (last.front() >= 'A' && last.front() <= 'Z');
}

// A host name, an IPv4 literal or an IPv6 literal (bracketed when
// `brackets`, as in a URI's hostport, RFC 3261 25.1 IPv6reference).
bool is_host(std::string_view host, bool brackets) {
    if (brackets && host.size() > 2 && host.front() == '[' && host.back() == ']') {
        auto ip = parse_ip(host.substr(1, host.size() - 2));
        return ip && ip->text.find(':') != std::string::npos;
    }
    if (auto ip = parse_ip(host)) {
        // An IPv6 literal in a URI needs its brackets, or its colons would
        // read as a port.
        return !brackets || ip->text.find(':') == std::string::npos;
    }
    return is_host_name(host);
}

bool is_port(std::string_view text) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return false;
    }
    unsigned port = 0;
    for (char c : text) {
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    return port >= 1 && port <= 65535;
}

// What follows "sip:" or "sips:" (the scheme compared case-insensitively,
// RFC 3261 19.1.4), when `text` starts with either and has more.
std::optional<std::string_view> after_sip_scheme(std::string_view text) {
    if (text.size() > 4 && iequals(text.substr(0, 4), "sip:")) {
        return text.substr(4);
    }
    if (text.size() > 5 && iequals(text.substr(0, 5), "sips:")) {
        return text.substr(5);
    }
    return std::nullopt;
}

// RFC 3261 25.1 uri-parameters after the first ';': ";"-separated
// name [ "=" value ], both of paramchar, neither empty.
bool is_uri_parameters(std::string_view params) {
    constexpr std::string_view paramchar = "-_.!~*'()[]/:&+$";
    while (true) {
        const auto next = params.find(';');
        auto param = params.substr(0, next);
        const auto eq = param.find('=');
        if (param.empty() || eq == 0 || !is_escaped_text(param.substr(0, eq), paramchar) ||
            (eq != std::string_view::npos &&
             (eq + 1 == param.size() || !is_escaped_text(param.substr(eq + 1), paramchar)))) {
            return false;
        }
        if (next == std::string_view::npos) {
            return true;
        }
        params.remove_prefix(next + 1);
    }
}

// RFC 3261 25.1 hostport: a host (an IPv6 literal in brackets) and an
// optional ":" port.
bool is_hostport(std::string_view hostport) {
    std::string_view host = hostport;
    if (!hostport.empty() && hostport.front() == '[') {
        const auto close = hostport.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host = hostport.substr(0, close + 1);
        auto tail = hostport.substr(close + 1);
        if (!tail.empty() && (tail.front() != ':' || !is_port(tail.substr(1)))) {
            return false;
        }
    } else if (const auto colon = hostport.find(':'); colon != std::string_view::npos) {
        host = hostport.substr(0, colon);
        if (!is_port(hostport.substr(colon + 1))) {
            return false;
        }
    }
    return is_host(host, true);
}

bool is_address_of_record(std::string_view text) {
    if (text.size() > max_aor_size || !std::all_of(text.begin(), text.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u > 0x20 && u < 0x7f;  // no spaces, no controls, ASCII only
        })) {
        return false;
    }
    // RFC 3261 19.1.1: SIP-URI = "sip:" [ userinfo ] hostport uri-parameters
    // [ headers ]; an address of record needs the user, and headers make no
    // sense in To and From.
    auto rest = after_sip_scheme(text);
    if (!rest) {
        return false;
    }
    const auto at = rest->find('@');
    if (at == 0 || at == std::string_view::npos) {
        return false;
    }
    // user = 1*( unreserved / escaped / user-unreserved ); no ":password"
    // (RFC 3261 19.1.1: NOT RECOMMENDED, and it would be sent in the clear).
    if (!is_escaped_text(rest->substr(0, at), "-_.!~*'()&=+$,;?/")) {
        return false;
    }
    rest->remove_prefix(at + 1);
    if (rest->find('?') != std::string_view::npos) {
        return false;
    }
    const auto semicolon = rest->find(';');
    if (semicolon != std::string_view::npos && !is_uri_parameters(rest->substr(semicolon + 1))) {
        return false;
    }
    return is_hostport(rest->substr(0, semicolon));
}

// A username or password: a scalar, 1..256 printable bytes.
std::optional<std::string> read_credential(problem_list& p, const located& at,
                                           std::string_view what, bool secret) {
    if (!at.node.IsScalar()) {
        expected(p, at, what);
        return std::nullopt;
    }
    const std::string& text = at.node.Scalar();
    if (!text.empty() && text.size() <= max_credential_size && is_printable(text)) {
        return text;
    }
    if (!secret) {
        expected(p, at, what);
    } else {
        // The password itself stays out of the message (and so out of the
        // logs and the terminal of whoever runs sbcd --check).
        const std::string got = text.empty() ? std::string("an empty value")
                                             : fmt::format("{} bytes, not shown", text.size());
        p.add(at.mark, at.path, fmt::format("expected {} (got {})", what, got));
    }
    return std::nullopt;
}

std::optional<credentials> read_credentials(problem_list& p, const located& at,
                                            std::string_view expected_map) {
    auto m = map_reader::open(p, at, {"username", "password"}, expected_map);
    if (!m) {
        return std::nullopt;
    }
    credentials c;
    bool ok = true;
    if (auto v = m->require("username", username_expected)) {
        auto text = read_credential(p, *v, username_expected, false);
        ok = text.has_value();
        c.username = text.value_or("");
    } else {
        ok = false;
    }
    if (auto v = m->require("password", password_expected)) {
        auto text = read_credential(p, *v, password_expected, true);
        ok = ok && text.has_value();
        c.password = text.value_or("");
    } else {
        ok = false;
    }
    return ok ? std::optional(std::move(c)) : std::nullopt;
}

std::optional<registration_config> read_registration(problem_list& p, const located& at,
                                                     bool has_auth) {
    auto m =
        map_reader::open(p, at, {"aor", "expires"}, "a registration: a map with aor and expires");
    if (!m) {
        return std::nullopt;
    }
    registration_config r;
    r.mark = to_source_mark(at.mark);
    bool ok = true;
    if (!has_auth) {
        // RFC 3261 10.2: a registrar that takes REGISTERs from anyone is rare,
        // and a carrier's never does; registering without credentials would
        // only fail at run time, again every 30 seconds.
        p.add(at.mark, at.path,
              "expected auth credentials on this trunk to register with (got no auth key)");
        ok = false;
    }
    if (auto v = m->require("aor", aor_expected)) {
        auto text = read_string(p, *v, aor_expected);
        if (text && !is_address_of_record(*text)) {
            expected(p, *v, aor_expected);
            text.reset();
        }
        ok = ok && text.has_value();
        r.aor = text.value_or("");
    } else {
        ok = false;
    }
    if (auto v = m->find("expires")) {
        // Below 60 s a registrar answers 423 anyway (RFC 3261 10.3 step 7
        // suggests an hour; many carriers refuse less than a minute).
        auto n = read_number(p, *v, 60, 86400, "a number of seconds 60..86400");
        ok = ok && n.has_value();
        r.expires = static_cast<unsigned>(n.value_or(r.expires));
    }
    return ok ? std::optional(std::move(r)) : std::nullopt;
}

std::optional<digest_algorithm> read_algorithm(problem_list& p, const located& at) {
    auto text = read_string(p, at, algorithm_expected);
    if (!text) {
        return std::nullopt;
    }
    // RFC 7616 3.3: algorithm names are compared case-insensitively.
    for (auto [name, a] :
         {std::pair{"MD5", digest_algorithm::md5}, std::pair{"SHA-256", digest_algorithm::sha256},
          std::pair{"SHA-512-256", digest_algorithm::sha512_256}}) {
        if (iequals(*text, name)) {
            return a;
        }
    }
    expected(p, at, algorithm_expected);
    return std::nullopt;
}

std::optional<challenge_config> read_challenge(problem_list& p, const located& at) {
    auto m = map_reader::open(p, at, {"realm", "algorithm", "users"},
                              "a challenge: a map with realm, algorithm and users");
    if (!m) {
        return std::nullopt;
    }
    challenge_config c;
    c.mark = to_source_mark(at.mark);
    bool ok = true;
    if (auto v = m->require("realm", realm_expected)) {
        // The realm is a quoted-string in the challenge and hashed as the
        // client unquotes it (RFC 7616 3.3); a '"' or '\' would make the two
        // differ between implementations, so neither is allowed.
        auto text = read_string(p, *v, realm_expected);
        if (text && (text->empty() || text->size() > max_realm_size || !is_printable(*text) ||
                     text->find_first_of("\"\\") != std::string::npos)) {
            expected(p, *v, realm_expected);
            text.reset();
        }
        ok = text.has_value();
        c.realm = text.value_or("");
    } else {
        ok = false;
    }
    if (auto v = m->find("algorithm")) {
        auto a = read_algorithm(p, *v);
        ok = ok && a.has_value();
        c.algorithm = a.value_or(c.algorithm);
    }
    constexpr std::string_view users_expected =
        "a list of users, each a map with username and password";
    if (auto v = m->require("users", users_expected)) {
        const auto entries = read_list(p, *v, users_expected, true);
        ok = ok && !entries.empty();
        std::vector<YAML::Mark> first_marks;
        for (const auto& e : entries) {
            auto user = read_credentials(p, e, "a user: a map with username and password");
            if (!user) {
                ok = false;
                continue;
            }
            auto same = std::find_if(c.users.begin(), c.users.end(), [&](const credentials& u) {
                return u.username == user->username;
            });
            if (same != c.users.end()) {
                // A username picks the password; two would leave it to chance.
                const auto& first = first_marks[static_cast<std::size_t>(same - c.users.begin())];
                p.add(e.mark, e.path,
                      fmt::format("duplicate user; first given on line {}", position(first).first));
                ok = false;
                continue;
            }
            c.users.push_back(std::move(*user));
            first_marks.push_back(e.mark);
        }
    } else {
        ok = false;
    }
    return ok ? std::optional(std::move(c)) : std::nullopt;
}

std::optional<registrar_config> read_registrar(problem_list& p, const located& at) {
    auto m = map_reader::open(p, at, {"domain", "sources", "min_expires", "max_expires"},
                              "a registrar: a map with domain, sources, min_expires and "
                              "max_expires");
    if (!m) {
        return std::nullopt;
    }
    registrar_config r;
    r.mark = to_source_mark(at.mark);
    bool ok = true;
    if (auto v = m->find("domain")) {
        auto text = read_string(p, *v, domain_expected);
        if (text && !is_host(*text, false)) {
            expected(p, *v, domain_expected);
            text.reset();
        }
        ok = text.has_value();
        r.domain = text.value_or("");
    }
    if (auto v = m->require("sources",
                            "the address blocks REGISTERs may come from: a list of "
                            "IP/PREFIX")) {
        r.sources = read_sources(p, *v);
        ok = ok && !r.sources.empty();
    } else {
        ok = false;
    }
    auto min_at = m->find("min_expires");
    auto max_at = m->find("max_expires");
    std::optional<std::uint64_t> min;
    std::optional<std::uint64_t> max;
    if (min_at) {
        min = read_number(p, *min_at, 1, 86400, seconds_1_86400);
        ok = ok && min.has_value();
        r.min_expires = static_cast<unsigned>(min.value_or(r.min_expires));
    }
    if (max_at) {
        max = read_number(p, *max_at, 1, 86400, seconds_1_86400);
        ok = ok && max.has_value();
        r.max_expires = static_cast<unsigned>(max.value_or(r.max_expires));
    }
    // Compared only when both decoded, so one bad number is one problem.
    if ((!min_at || min) && (!max_at || max) && r.max_expires < r.min_expires) {
        if (max_at) {
            expected(p, *max_at,
                     fmt::format("a number of seconds not below min_expires ({})", r.min_expires));
        } else {
            expected(p, *min_at,
                     fmt::format("a number of seconds not above max_expires ({} when not given)",
                                 r.max_expires));
        }
        ok = false;
    }
    return ok ? std::optional(std::move(r)) : std::nullopt;
}

}  // namespace

void decode_trunk_auth(decoded& d, problem_list& p, const map_reader& trunk, trunk_config& tc) {
    const auto auth_at = trunk.find("auth");
    if (auth_at) {
        tc.auth = read_credentials(p, *auth_at, "credentials: a map with username and password");
        d.marks[auth_at->path] = auth_at->mark;
    }
    if (auto v = trunk.find("register")) {
        tc.registration = read_registration(p, *v, auth_at.has_value());
        d.marks[v->path] = v->mark;
    }
    if (auto v = trunk.find("challenge")) {
        tc.challenge = read_challenge(p, *v);
        d.marks[v->path] = v->mark;
    }
    if (auto v = trunk.find("registrar")) {
        tc.registrar = read_registrar(p, *v);
        d.marks[v->path] = v->mark;
    }
}

}  // namespace sbc::config::detail
