#include "sbc/auth/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <stdexcept>

#include "sbc/common/c_handle.hpp"
#include "sbc/common/text.hpp"

namespace sbc::auth {
namespace {

using md_ctx_handle = c_handle<EVP_MD_CTX, EVP_MD_CTX_free>;

// ---- characters (RFC 7230 3.2.6, RFC 7235 2.1); ASCII only, no locale ----

bool is_alnum(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_tchar(unsigned char c) noexcept {
    return is_alnum(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token68_char(unsigned char c) noexcept {
    return is_alnum(c) ||
           std::string_view("-._~+/").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_ctl(unsigned char c) noexcept { return c < 0x20 || c == 0x7f; }

// CR and LF count as white space so that a folded value (obs-fold, RFC 7230
// 3.2.4), as a header may arrive from a peer, parses like an unfolded one.
bool is_ws(unsigned char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char to_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = to_lower(c);
    }
    return out;
}

bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string to_hex(const unsigned char* p, std::size_t n) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 0x0f];
    }
    return out;
}

// ---- the challenge / credentials list (RFC 7235 2.1, 4.1) ----

struct auth_param {
    std::string name;  // lower case
    std::string value;
};

struct raw_item {  // one challenge or credentials, not yet interpreted
    std::string scheme;
    std::string token68;
    std::vector<auth_param> params;
};

struct raw_list {
    std::vector<raw_item> items;
    bool complete = true;  // false: a syntax error ended the list early
};

class cursor {
public:
    explicit cursor(std::string_view s) noexcept : _s(s) {}

    bool at_end() const noexcept { return _pos >= _s.size(); }
    bool next_is(char c) const noexcept { return !at_end() && _s[_pos] == c; }

    bool eat(char c) noexcept {
        if (!next_is(c)) {
            return false;
        }
        ++_pos;
        return true;
    }

    std::size_t skip_ws() noexcept {
        std::size_t start = _pos;
        while (!at_end() && is_ws(static_cast<unsigned char>(_s[_pos]))) {
            ++_pos;
        }
        return _pos - start;
    }

    // RFC 7230 7: a list may hold empty elements ("a, , b").
    void skip_ws_and_commas() noexcept {
        while (!at_end() && (is_ws(static_cast<unsigned char>(_s[_pos])) || _s[_pos] == ',')) {
            ++_pos;
        }
    }

    std::string_view token() noexcept {
        std::size_t start = _pos;
        while (!at_end() && is_tchar(static_cast<unsigned char>(_s[_pos]))) {
            ++_pos;
        }
        return _s.substr(start, _pos - start);
    }

    // A token68 (RFC 7235 2.1) stands alone: it is followed by the end or a
    // comma. Anything else means auth-params follow; the cursor is left as it
    // was.
    bool try_token68(std::string& out) {
        std::size_t start = _pos;
        while (!at_end() && is_token68_char(static_cast<unsigned char>(_s[_pos]))) {
            ++_pos;
        }
        bool any = _pos > start;
        while (eat('=')) {
        }
        std::size_t end = _pos;
        skip_ws();
        if (any && (at_end() || next_is(','))) {
            out.assign(_s.substr(start, end - start));
            return true;
        }
        _pos = start;
        return false;
    }

    // After the comma that ends an auth-param comes another auth-param
    // ("name =") or the next challenge ("scheme" alone or "scheme SP ...");
    // RFC 7235 4.1 leaves only this look-ahead to tell them apart. Leaves the
    // cursor on the next item either way.
    bool param_follows() noexcept {
        skip_ws_and_commas();
        std::size_t start = _pos;
        bool is_param = false;
        if (!token().empty()) {
            skip_ws();
            is_param = next_is('=');
        }
        _pos = start;
        return is_param;
    }

    std::optional<std::string> value() {
        if (next_is('"')) {
            return quoted_string();
        }
        // A token by the grammar; taken more loosely (up to white space or a
        // comma) because servers send unquoted base64 nonces with '/' and '='.
        std::size_t start = _pos;
        while (!at_end()) {
            auto c = static_cast<unsigned char>(_s[_pos]);
            if (is_ws(c) || c == ',') {
                break;
            }
            if (c == '"' || c == '\\' || is_ctl(c)) {
                return std::nullopt;
            }
            ++_pos;
        }
        if (_pos == start) {
            return std::nullopt;
        }
        return std::string(_s.substr(start, _pos - start));
    }

private:
    // RFC 7230 3.2.6. Control characters other than HTAB are refused, escaped
    // or not: a CR LF in a realm or nonce must never reach a header we write.
    std::optional<std::string> quoted_string() {
        ++_pos;  // the opening quote
        std::string out;
        while (!at_end()) {
            auto c = static_cast<unsigned char>(_s[_pos++]);
            if (c == '"') {
                return out;
            }
            if (c == '\\') {
                if (at_end()) {
                    return std::nullopt;
                }
                c = static_cast<unsigned char>(_s[_pos++]);
            }
            if (is_ctl(c) && c != '\t') {
                return std::nullopt;
            }
            out += static_cast<char>(c);
        }
        return std::nullopt;  // no closing quote
    }

    std::string_view _s;
    std::size_t _pos = 0;
};

// One challenge or credentials starting at the cursor; false on a syntax error.
bool parse_item(cursor& cur, raw_item& item) {
    auto scheme = cur.token();
    if (scheme.empty()) {
        return false;
    }
    item.scheme.assign(scheme);
    bool spaced = cur.skip_ws() > 0;
    if (cur.at_end() || cur.next_is(',')) {
        return true;  // a scheme without parameters
    }
    if (!spaced) {
        return false;  // RFC 7235 2.1: 1*SP after the scheme
    }
    if (cur.try_token68(item.token68)) {
        return true;
    }
    for (;;) {
        auto name = cur.token();
        if (name.empty()) {
            return false;
        }
        cur.skip_ws();
        if (!cur.eat('=')) {
            return false;
        }
        cur.skip_ws();
        auto value = cur.value();
        if (!value) {
            return false;
        }
        item.params.push_back(auth_param{.name = to_lower(name), .value = std::move(*value)});
        cur.skip_ws();
        if (cur.at_end()) {
            return true;
        }
        if (!cur.eat(',')) {
            return false;
        }
        if (!cur.param_follows()) {
            return true;
        }
    }
}

raw_list parse_list(std::string_view text) {
    raw_list out;
    cursor cur(text);
    for (;;) {
        cur.skip_ws_and_commas();
        if (cur.at_end()) {
            return out;
        }
        raw_item item;
        if (!parse_item(cur, item)) {
            out.complete = false;
            return out;
        }
        out.items.push_back(std::move(item));
    }
}

// RFC 7235 2.1: each parameter name only once per challenge. Refusing
// duplicates keeps two parsers (ours and a peer's) from reading different
// realms or algorithms out of one value. Sorting keeps a value with thousands
// of parameters from costing quadratic time.
bool has_duplicate_names(const std::vector<auth_param>& params) {
    std::vector<std::string_view> names;
    names.reserve(params.size());
    for (const auto& p : params) {
        names.push_back(p.name);
    }
    std::sort(names.begin(), names.end());
    return std::adjacent_find(names.begin(), names.end()) != names.end();
}

const std::string* find_param(const raw_item& item, std::string_view name) noexcept {
    for (const auto& p : item.params) {
        if (p.name == name) {
            return &p.value;
        }
    }
    return nullptr;
}

bool is_digest(const raw_item& item) noexcept {
    return iequals(item.scheme, "Digest") && item.token68.empty() &&
           !has_duplicate_names(item.params);
}

std::optional<challenge> to_challenge(const raw_item& item) {
    if (!is_digest(item)) {
        return std::nullopt;
    }
    const auto* realm = find_param(item, "realm");
    const auto* nonce = find_param(item, "nonce");
    if (realm == nullptr || nonce == nullptr) {
        return std::nullopt;
    }
    challenge c;
    c.realm = *realm;
    c.nonce = *nonce;
    if (const auto* opaque = find_param(item, "opaque")) {
        c.opaque = *opaque;
    }
    if (const auto* name = find_param(item, "algorithm")) {
        auto algo = parse_algorithm(*name);
        if (!algo) {
            return std::nullopt;
        }
        c.algo = *algo;
    }
    if (const auto* qop = find_param(item, "qop")) {
        // RFC 7616 3.3: a quoted list of tokens, of which we know two.
        std::string_view rest = *qop;
        while (!rest.empty()) {
            auto comma = rest.find(',');
            auto option = rest.substr(0, comma);
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            while (!option.empty() && is_ws(static_cast<unsigned char>(option.front()))) {
                option.remove_prefix(1);
            }
            while (!option.empty() && is_ws(static_cast<unsigned char>(option.back()))) {
                option.remove_suffix(1);
            }
            c.qop_auth = c.qop_auth || iequals(option, "auth");
            c.qop_auth_int = c.qop_auth_int || iequals(option, "auth-int");
        }
        // The server requires a qop; answering without one would be refused.
        if (!c.qop_auth && !c.qop_auth_int) {
            return std::nullopt;
        }
    }
    if (const auto* stale = find_param(item, "stale")) {
        c.stale = iequals(*stale, "true");
    }
    return c;
}

bool is_known_qop(std::string_view qop) noexcept {
    return iequals(qop, "auth") || iequals(qop, "auth-int");
}

bool is_nc(std::string_view nc) noexcept {
    return nc.size() == 8 && std::all_of(nc.begin(), nc.end(), is_hex);
}

std::optional<authorization> to_authorization(const raw_item& item) {
    if (!is_digest(item)) {
        return std::nullopt;
    }
    authorization a;
    struct required_field {
        std::string_view name;
        std::string* field;
    };
    for (auto [name, field] : {required_field{.name = "username", .field = &a.username},
                               required_field{.name = "realm", .field = &a.realm},
                               required_field{.name = "nonce", .field = &a.nonce},
                               required_field{.name = "uri", .field = &a.uri},
                               required_field{.name = "response", .field = &a.response}}) {
        const auto* value = find_param(item, name);
        if (value == nullptr) {
            return std::nullopt;
        }
        *field = *value;
    }
    if (const auto* cnonce = find_param(item, "cnonce")) {
        a.cnonce = *cnonce;
    }
    if (const auto* opaque = find_param(item, "opaque")) {
        a.opaque = *opaque;
    }
    if (const auto* nc = find_param(item, "nc")) {
        a.nc = *nc;
    }
    if (const auto* name = find_param(item, "algorithm")) {
        auto algo = parse_algorithm(*name);
        if (!algo) {
            return std::nullopt;
        }
        a.algo = *algo;
    }
    if (const auto* qop = find_param(item, "qop")) {
        // Kept as sent: the client hashed it so (ABNF literals are
        // case-insensitive, RFC 5234 2.3, so "AUTH" is allowed).
        a.qop = *qop;
        if (!is_known_qop(a.qop)) {
            return std::nullopt;
        }
        // RFC 7616 3.4: with a qop, cnonce and nc are required.
        if (a.cnonce.empty() || !is_nc(a.nc)) {
            return std::nullopt;
        }
    }
    return a;
}

// ---- hashing (RFC 7616 3.4.1-3.4.3) ----

const EVP_MD* md_of(algorithm a) noexcept {
    switch (a) {
        case algorithm::md5:
        case algorithm::md5_sess:
            return EVP_md5();
        case algorithm::sha256:
        case algorithm::sha256_sess:
            return EVP_sha256();
        case algorithm::sha512_256:
        case algorithm::sha512_256_sess:
            return EVP_sha512_256();
    }
    return nullptr;
}

bool is_sess(algorithm a) noexcept {
    return a == algorithm::md5_sess || a == algorithm::sha256_sess ||
           a == algorithm::sha512_256_sess;
}

// H of the parts joined by ':', as lowercase hex. Fed piece by piece so the
// password is never copied into a joined string that outlives the call.
std::optional<std::string> hash_hex(const EVP_MD* md,
                                    std::initializer_list<std::string_view> parts) {
    md_ctx_handle ctx(EVP_MD_CTX_new());
    if (md == nullptr || !ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
        return std::nullopt;
    }
    bool first = true;
    for (auto part : parts) {
        if (!first && EVP_DigestUpdate(ctx.get(), ":", 1) != 1) {
            return std::nullopt;
        }
        first = false;
        if (EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) {
            return std::nullopt;
        }
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
        return std::nullopt;
    }
    return to_hex(out.data(), len);
}

struct response_input {
    algorithm algo = algorithm::md5;
    std::string_view username, realm, password, nonce, cnonce, nc;
    std::string_view qop;  // "", "auth" or "auth-int"
    std::string_view method, uri, body;
};

std::optional<std::string> compute_response(const response_input& in) {
    const EVP_MD* md = md_of(in.algo);
    auto ha1 = hash_hex(md, {in.username, in.realm, in.password});
    if (ha1 && is_sess(in.algo)) {
        ha1 = hash_hex(md, {*ha1, in.nonce, in.cnonce});
    }
    if (!ha1) {
        return std::nullopt;
    }
    std::optional<std::string> ha2;
    if (iequals(in.qop, "auth-int")) {
        auto body_hash = hash_hex(md, {in.body});
        if (!body_hash) {
            return std::nullopt;
        }
        ha2 = hash_hex(md, {in.method, in.uri, *body_hash});
    } else {
        ha2 = hash_hex(md, {in.method, in.uri});
    }
    if (!ha2) {
        return std::nullopt;
    }
    if (in.qop.empty()) {
        // RFC 2069 compatibility (RFC 2617 3.2.2.1).
        return hash_hex(md, {*ha1, in.nonce, *ha2});
    }
    return hash_hex(md, {*ha1, in.nonce, in.nc, in.cnonce, in.qop, *ha2});
}

std::string nc_hex(std::uint32_t nc) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out(8, '0');
    for (int i = 7; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = digits[nc & 0x0f];
        nc >>= 4;
    }
    return out;
}

struct algorithm_name {
    algorithm algo;
    std::string_view name;
};

// RFC 8760 2.3 (which takes the names from RFC 7616 6.1).
constexpr std::array<algorithm_name, 6> algorithm_names{{
    {.algo = algorithm::md5, .name = "MD5"},
    {.algo = algorithm::md5_sess, .name = "MD5-sess"},
    {.algo = algorithm::sha256, .name = "SHA-256"},
    {.algo = algorithm::sha256_sess, .name = "SHA-256-sess"},
    {.algo = algorithm::sha512_256, .name = "SHA-512-256"},
    {.algo = algorithm::sha512_256_sess, .name = "SHA-512-256-sess"},
}};

}  // namespace

std::string_view to_string(algorithm a) noexcept {
    for (const auto& n : algorithm_names) {
        if (n.algo == a) {
            return n.name;
        }
    }
    return {};
}

std::optional<algorithm> parse_algorithm(std::string_view name) noexcept {
    for (const auto& n : algorithm_names) {
        if (iequals(n.name, name)) {
            return n.algo;
        }
    }
    return std::nullopt;
}

std::vector<challenge> parse_challenges(std::string_view header_value) {
    std::vector<challenge> out;
    for (const auto& item : parse_list(header_value).items) {
        if (auto c = to_challenge(item)) {
            out.push_back(std::move(*c));
        }
    }
    return out;
}

std::optional<challenge> parse_challenge(std::string_view header_value) {
    for (const auto& item : parse_list(header_value).items) {
        if (auto c = to_challenge(item)) {
            return c;
        }
    }
    return std::nullopt;
}

std::optional<challenge> choose_challenge(const std::vector<std::string>& header_values) {
    for (const auto& value : header_values) {
        if (auto c = parse_challenge(value)) {
            return c;
        }
    }
    return std::nullopt;
}

std::string quote(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 2);
    out += '"';
    for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        if (is_ctl(u) && c != '\t') {
            continue;
        }
        if (c == '"' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    out += '"';
    return out;
}

std::string authorization_value(const challenge& c, const credentials& who, const request_info& req,
                                std::uint32_t nc, std::string_view cnonce) {
    std::string_view qop = c.qop_auth ? "auth" : c.qop_auth_int ? "auth-int" : "";
    std::string count = nc_hex(nc);
    auto response = compute_response(response_input{.algo = c.algo,
                                                    .username = who.username,
                                                    .realm = c.realm,
                                                    .password = who.password,
                                                    .nonce = c.nonce,
                                                    .cnonce = cnonce,
                                                    .nc = count,
                                                    .qop = qop,
                                                    .method = req.method,
                                                    .uri = req.uri,
                                                    .body = req.body});
    if (!response) {
        return {};
    }
    std::string out = "Digest username=" + quote(who.username);
    out += ", realm=" + quote(c.realm);
    out += ", nonce=" + quote(c.nonce);
    out += ", uri=" + quote(req.uri);
    out += ", response=" + quote(*response);
    out += ", algorithm=";
    out += to_string(c.algo);
    // RFC 2617 3.2.2: no cnonce without a qop, but a -sess A1 cannot be
    // computed without one, so it goes out for those regardless.
    if (!qop.empty() || is_sess(c.algo)) {
        out += ", cnonce=" + quote(cnonce);
    }
    if (!c.opaque.empty()) {
        out += ", opaque=" + quote(c.opaque);
    }
    if (!qop.empty()) {
        out += ", qop=";
        out += qop;
        out += ", nc=";
        out += count;
    }
    return out;
}

std::string make_cnonce() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed making a cnonce");
    }
    return to_hex(bytes.data(), bytes.size());
}

std::optional<authorization> parse_authorization(std::string_view header_value) {
    auto list = parse_list(header_value);
    // RFC 7235 4.2: one credentials per value; anything more is malformed.
    if (!list.complete || list.items.size() != 1) {
        return std::nullopt;
    }
    return to_authorization(list.items.front());
}

bool verify(const authorization& a, std::string_view password, const request_info& req) {
    if (!req.uri.empty() && a.uri != req.uri) {
        return false;
    }
    // The struct may have been filled by hand rather than by
    // parse_authorization, so its invariants are checked again.
    if (!a.qop.empty() && (!is_known_qop(a.qop) || a.cnonce.empty() || !is_nc(a.nc))) {
        return false;
    }
    if (is_sess(a.algo) && a.cnonce.empty()) {
        return false;
    }
    auto expected = compute_response(response_input{.algo = a.algo,
                                                    .username = a.username,
                                                    .realm = a.realm,
                                                    .password = password,
                                                    .nonce = a.nonce,
                                                    .cnonce = a.cnonce,
                                                    .nc = a.nc,
                                                    .qop = a.qop,
                                                    .method = req.method,
                                                    .uri = a.uri,
                                                    .body = req.body});
    if (!expected) {
        return false;
    }
    // The length depends only on the algorithm, so comparing it first leaks
    // nothing; clients that send upper-case hex are forgiven.
    std::string got = to_lower(a.response);
    return got.size() == expected->size() &&
           CRYPTO_memcmp(got.data(), expected->data(), got.size()) == 0;
}

}  // namespace sbc::auth
