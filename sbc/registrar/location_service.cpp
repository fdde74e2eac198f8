#include "sbc/registrar/location_service.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <limits>
#include <utility>

namespace sbc::registrar {

namespace {

/// RFC 3261 10.3 step 7 leaves the default to the registrar; an hour is what
/// 10.2.1.1 suggests for a client that sends no expiry.
constexpr unsigned default_expires = 3600;

/// uri-parameters that never match a URI without them (RFC 3261 19.1.4).
constexpr std::string_view significant_params[] = {"user", "ttl", "method", "maddr"};

char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/// RFC 3261 19.1.4 makes escaped and plain characters equal except for the
/// reserved set (25.1), whose escapes mean something else than the plain
/// delimiter. '%' stays escaped too: decoding "%25" would make "%2541" read
/// like an escaped 'A'.
bool keeps_escape(char c) noexcept {
    return std::string_view(";/?:@&=+$,%").find(c) != std::string_view::npos;
}

/// One canonical spelling of a URI component: escapes decoded where that does
/// not change the meaning, the rest written with upper-case hex; letters
/// lowered when the component compares case-insensitively. nullopt for a '%'
/// not followed by two hex digits.
std::optional<std::string> canonical(std::string_view s, bool fold_case) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += fold_case ? lower(s[i]) : s[i];
            continue;
        }
        if (i + 2 >= s.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(s[i + 1]);
        const int lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        const auto c = static_cast<char>(hi * 16 + lo);
        if (keeps_escape(c)) {
            out += '%';
            out += digits[hi];
            out += digits[lo];
        } else {
            out += fold_case ? lower(c) : c;
        }
        i += 2;
    }
    return out;
}

using param = std::pair<std::string, std::optional<std::string>>;

/// A Contact URI reduced to what RFC 3261 19.1.4 compares.
struct parsed_uri {
    std::string scheme;                   ///< lower case
    bool sip = false;                     ///< sip: or sips:; the fields below apply
    std::string opaque;                   ///< other schemes: everything after the ':'
    std::optional<std::string> userinfo;  ///< user[:password], case kept
    std::string host;                     ///< lower case; IPv6 as "[canonical]"
    std::uint16_t port = 0;               ///< explicit, or the default
    std::vector<param> params;            ///< sorted by name
    std::vector<std::pair<std::string, std::string>> headers;  ///< sorted
};

/// "[2001:DB8:0::1]" -> "[2001:db8::1]": RFC 5954 compares IPv6
/// references as addresses, however they are written.
std::optional<std::string> canonical_ipv6(std::string_view inside) {
    in6_addr addr{};
    const std::string text(inside);
    if (inet_pton(AF_INET6, text.c_str(), &addr) != 1) {
        return std::nullopt;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(AF_INET6, &addr, buf, sizeof buf) == nullptr) {
        return std::nullopt;
    }
    return "[" + std::string(buf) + "]";
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

/// host [":" port] (RFC 3261 25.1 hostport) into `u`.
bool parse_hostport(std::string_view s, parsed_uri& u, std::optional<std::uint16_t>& port) {
    std::string_view port_text;
    bool has_port = false;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        auto host = canonical_ipv6(s.substr(1, close - 1));
        if (!host) {
            return false;
        }
        u.host = std::move(*host);
        const auto after = s.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return false;
            }
            has_port = true;
            port_text = after.substr(1);
        }
    } else {
        const auto colon = s.find(':');
        u.host = lowered(s.substr(0, colon));
        if (colon != std::string_view::npos) {
            has_port = true;
            port_text = s.substr(colon + 1);
        }
    }
    if (u.host.empty()) {
        return false;
    }
    if (has_port) {
        port = parse_port(port_text);
        return port.has_value();
    }
    return true;
}

/// `;name[=value]...` into u.params.
bool parse_params(std::string_view s, parsed_uri& u) {
    while (!s.empty()) {
        const auto end = s.find(';');
        const auto item = s.substr(0, end);
        s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
        if (item.empty()) {
            continue;
        }
        const auto eq = item.find('=');
        auto name = canonical(item.substr(0, eq), true);
        if (!name || name->empty()) {
            return false;
        }
        std::optional<std::string> value;
        if (eq != std::string_view::npos) {
            value = canonical(item.substr(eq + 1), true);
            if (!value) {
                return false;
            }
        }
        u.params.emplace_back(std::move(*name), std::move(value));
    }
    std::stable_sort(u.params.begin(), u.params.end(),
                     [](const param& a, const param& b) { return a.first < b.first; });
    return true;
}

/// `name=value&...` into u.headers.
bool parse_headers(std::string_view s, parsed_uri& u) {
    while (!s.empty()) {
        const auto end = s.find('&');
        const auto item = s.substr(0, end);
        s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
        if (item.empty()) {
            continue;
        }
        const auto eq = item.find('=');
        auto name = canonical(item.substr(0, eq), true);
        auto value = canonical(
            eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1), true);
        if (!name || name->empty() || !value) {
            return false;
        }
        u.headers.emplace_back(std::move(*name), std::move(*value));
    }
    std::sort(u.headers.begin(), u.headers.end());
    return true;
}

const std::optional<std::string>* find_param(const parsed_uri& u, std::string_view name) {
    for (const auto& [n, v] : u.params) {
        if (n == name) {
            return &v;
        }
    }
    return nullptr;
}

/// The default port of RFC 3261 19.1.1: 5061 for TLS (sips:, or sip: with
/// transport=tls), 5060 for everything else.
std::uint16_t default_port(const parsed_uri& u) {
    if (u.scheme == "sips") {
        return 5061;
    }
    const auto* transport = find_param(u, "transport");
    return transport && *transport && **transport == "tls" ? 5061 : 5060;
}

/// RFC 3261 19.1.1: sip:[userinfo@]hostport[;params][?headers]. Lenient about
/// characters, strict about structure: what cannot be split is refused.
std::optional<parsed_uri> parse_uri(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    const auto colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return std::nullopt;
    }
    parsed_uri u;
    u.scheme = lowered(s.substr(0, colon));
    const bool scheme_ok = std::isalpha(static_cast<unsigned char>(u.scheme.front())) != 0 &&
                           std::all_of(u.scheme.begin(), u.scheme.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
                                      c == '+' || c == '-' || c == '.';
                           });
    auto rest = s.substr(colon + 1);
    if (!scheme_ok || rest.empty()) {
        return std::nullopt;
    }
    u.sip = u.scheme == "sip" || u.scheme == "sips";
    if (!u.sip) {
        u.opaque = std::string(rest);
        return u;
    }
    // No unescaped '@' can follow the userinfo (25.1: not in host, params or
    // headers), while the user part may hold ';' and '?' (telephone numbers):
    // so the first '@' ends the userinfo.
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        u.userinfo = canonical(rest.substr(0, at), false);
        if (!u.userinfo || u.userinfo->empty()) {
            return std::nullopt;
        }
        rest = rest.substr(at + 1);
    }
    const auto question = rest.find('?');
    const auto before_headers = rest.substr(0, question);
    const auto semicolon = before_headers.find(';');
    std::optional<std::uint16_t> port;
    if (!parse_hostport(before_headers.substr(0, semicolon), u, port)) {
        return std::nullopt;
    }
    if (semicolon != std::string_view::npos &&
        !parse_params(before_headers.substr(semicolon + 1), u)) {
        return std::nullopt;
    }
    if (question != std::string_view::npos && !parse_headers(rest.substr(question + 1), u)) {
        return std::nullopt;
    }
    u.port = port ? *port : default_port(u);
    return u;
}

bool is_significant(std::string_view name) {
    return std::find(std::begin(significant_params), std::end(significant_params), name) !=
           std::end(significant_params);
}

/// Every parameter of `a` is in `b` with the same value, or absent from `b`
/// and insignificant (RFC 3261 19.1.4).
bool params_agree(const parsed_uri& a, const parsed_uri& b) {
    for (const auto& [name, value] : a.params) {
        const auto* other = find_param(b, name);
        if (other == nullptr ? is_significant(name) : *other != value) {
            return false;
        }
    }
    return true;
}

bool same_uri(const parsed_uri& a, const parsed_uri& b) {
    if (a.scheme != b.scheme) {
        return false;
    }
    if (!a.sip) {
        return a.opaque == b.opaque;
    }
    return a.userinfo == b.userinfo && a.host == b.host && a.port == b.port &&
           a.headers == b.headers && params_agree(a, b) && params_agree(b, a);
}

/// A binding of the user while a REGISTER is applied to a copy of them.
struct working_binding {
    binding b;
    std::optional<parsed_uri> key;  ///< nullopt only for a stored URI that no longer parses
};

std::vector<working_binding>::iterator find_binding(std::vector<working_binding>& work,
                                                    const parsed_uri& key) {
    return std::find_if(work.begin(), work.end(),
                        [&](const working_binding& w) { return w.key && same_uri(*w.key, key); });
}

/// A Contact of the request, checked and with its expiry decided.
struct pending_contact {
    const contact_param* contact = nullptr;
    parsed_uri key;
    unsigned expires = 0;
};

outcome refuse(int status, std::string phrase) {
    return {.status = status, .phrase = std::move(phrase), .min_expires = 0, .bindings = {}};
}

bool live(const binding& b, clock::time_point now) { return b.expires_at > now; }

/// The live bindings of a user, to apply a request to before committing it.
std::vector<working_binding> working_copy(const std::vector<binding>& list, clock::time_point now) {
    std::vector<working_binding> work;
    work.reserve(list.size());
    for (const auto& b : list) {
        if (live(b, now)) {
            work.push_back({.b = b, .key = parse_uri(b.contact)});
        }
    }
    return work;
}

/// The Contacts of a REGISTER with their expiry, or why it is refused.
struct checked_contacts {
    std::vector<pending_contact> contacts;
    std::optional<outcome> refusal;
};

/// RFC 3261 10.3 step 7's checks of every Contact, before any binding changes.
checked_contacts check_contacts(const register_request& r, unsigned min_expires,
                                unsigned max_expires) {
    checked_contacts out;
    out.contacts.reserve(r.contacts.size());
    bool too_brief = false;
    for (const auto& c : r.contacts) {
        auto key = parse_uri(c.uri);
        if (!key) {
            out.refusal = refuse(400, "Invalid Contact");
            return out;
        }
        if (c.q && (std::isnan(*c.q) || *c.q < 0.0 || *c.q > 1.0)) {
            out.refusal = refuse(400, "Invalid q");
            return out;
        }
        // Step 7: the Contact's expires parameter, else the Expires header,
        // else the registrar's default; the registrar may shorten it.
        const unsigned requested = c.expires ? *c.expires : r.expires.value_or(default_expires);
        // Step 7 allows 423 only below one hour as well; max_expires caps
        // longer requests instead, which has the same effect for any
        // min_expires up to an hour.
        too_brief = too_brief || (requested != 0 && requested < min_expires);
        out.contacts.push_back(
            {.contact = &c, .key = std::move(*key), .expires = std::min(requested, max_expires)});
    }
    if (too_brief) {
        // Checked after the loop so that a malformed Contact further on is
        // reported first: a 423 retried with a longer expiry would fail anyway.
        out.refusal = outcome{.status = 423,
                              .phrase = "Interval Too Brief",
                              .min_expires = min_expires,
                              .bindings = {}};
    }
    return out;
}

// RFC 3261 10.3 step 7: a binding from the same Call-ID with a CSeq not
// lower is newer than this request, which must then change nothing.
bool is_overtaken(const register_request& r, const std::vector<working_binding>& work,
                  const std::vector<pending_contact>& pending) {
    return std::any_of(pending.begin(), pending.end(), [&](const pending_contact& p) {
        const auto found = std::find_if(work.begin(), work.end(), [&](const working_binding& w) {
            return w.key && same_uri(*w.key, p.key);
        });
        return found != work.end() && found->b.call_id == r.call_id && r.cseq <= found->b.cseq;
    });
}

// Applies the request's Contacts to the user's bindings in `work`: each one
// replaces the binding of the same URI, and one with expires 0 only removes it.
void update_bindings(const register_request& r, std::vector<pending_contact>& pending,
                     clock::time_point now, std::size_t max_bindings_per_user,
                     std::vector<working_binding>& work) {
    for (auto& p : pending) {
        // Erased and appended again, so that the list stays in order of
        // registration; a Contact repeated in the request: the last one wins.
        if (const auto found = find_binding(work, p.key); found != work.end()) {
            work.erase(found);
        }
        if (p.expires == 0) {
            continue;
        }
        binding b{.user = r.user,
                  .contact = p.contact->uri,
                  .source = r.source,
                  .transport = r.transport,
                  .expires_at = now + std::chrono::seconds(p.expires),
                  .call_id = r.call_id,
                  .cseq = r.cseq,
                  .q = p.contact->q.value_or(1.0)};
        work.push_back({.b = std::move(b), .key = std::move(p.key)});
        // Evicting as we go keeps the work bounded by max_bindings_per_user
        // however many Contacts the request carries.
        if (work.size() > max_bindings_per_user) {
            work.erase(work.begin());
        }
    }
}

}  // namespace

bool uri_equivalent(std::string_view a, std::string_view b) {
    const auto pa = parse_uri(a);
    const auto pb = parse_uri(b);
    return pa && pb && same_uri(*pa, *pb);
}

unsigned binding::seconds_left(clock::time_point now) const {
    if (expires_at <= now) {
        return 0;
    }
    const auto left = std::chrono::ceil<std::chrono::seconds>(expires_at - now).count();
    return static_cast<unsigned>(std::min<long long>(left, std::numeric_limits<unsigned>::max()));
}

location_service::location_service(unsigned min_expires, unsigned max_expires,
                                   std::size_t max_bindings_per_user, std::size_t max_users)
    : _min_expires(0),
      _max_expires(0),
      _max_bindings_per_user(std::max<std::size_t>(1, max_bindings_per_user)),
      _max_users(std::max<std::size_t>(1, max_users)) {
    reconfigure(min_expires, max_expires);
}

void location_service::reconfigure(unsigned min_expires, unsigned max_expires) {
    // A maximum below the minimum would answer every REGISTER 423 with a
    // Min-Expires the registrar then cuts down again: no phone could register.
    _min_expires = min_expires;
    _max_expires = std::max({max_expires, min_expires, 1U});
}

outcome location_service::apply(const register_request& r, clock::time_point now) {
    if (r.user.empty()) {
        return refuse(400, "Missing AOR user");
    }
    if (r.wildcard) {
        return apply_wildcard(r, now);
    }
    if (r.contacts.empty()) {
        // RFC 3261 10.2.3: without Contact the bindings stay as they are.
        const auto it = _users.find(r.user);
        return ok(it == _users.end() ? user_bindings{} : it->second, now);
    }
    return apply_contacts(r, now);
}

outcome location_service::apply_wildcard(const register_request& r, clock::time_point now) {
    // RFC 3261 10.3 step 6: "*" is valid only as the one Contact of a
    // request with Expires: 0.
    if (!r.contacts.empty() || !r.expires || *r.expires != 0) {
        return refuse(400, "Invalid wildcard");
    }
    const auto it = _users.find(r.user);
    if (it == _users.end()) {
        return ok({}, now);
    }
    // Step 6 again: a binding from the same Call-ID goes only for a higher
    // CSeq; otherwise this is an old request overtaken by a newer one, and
    // removing anything would undo the newer one.
    for (const auto& b : it->second) {
        if (live(b, now) && b.call_id == r.call_id && r.cseq <= b.cseq) {
            return refuse(500, "Out of order");
        }
    }
    _users.erase(it);
    return ok({}, now);
}

outcome location_service::apply_contacts(const register_request& r, clock::time_point now) {
    // Everything that can refuse the request is decided before anything
    // changes: RFC 3261 10.3 step 7 commits the updates if and only if all
    // of them succeed.
    auto checked = check_contacts(r, _min_expires, _max_expires);
    if (checked.refusal) {
        return std::move(*checked.refusal);
    }
    auto& pending = checked.contacts;

    const auto it = _users.find(r.user);
    auto work = it == _users.end() ? std::vector<working_binding>{} : working_copy(it->second, now);
    // Checked against the stored bindings before any change, so that neither
    // a Contact repeated in the request nor an eviction hides a stale one.
    if (is_overtaken(r, work, pending)) {
        return refuse(500, "Out of order");
    }
    update_bindings(r, pending, now, _max_bindings_per_user, work);
    if (work.empty()) {
        if (it != _users.end()) {
            _users.erase(it);
        }
        return ok({}, now);
    }
    if (it == _users.end() && !room_for_user(now)) {
        return refuse(503, "Too many registrations");
    }
    user_bindings list;
    list.reserve(work.size());
    for (auto& w : work) {
        list.push_back(std::move(w.b));
    }
    // Looked up again rather than through `it`: room_for_user may have purged.
    auto& slot = _users[r.user];
    slot = std::move(list);
    return ok(slot, now);
}

bool location_service::room_for_user(clock::time_point now) {
    if (_users.size() < _max_users) {
        return true;
    }
    if (!_last_full_purge || now - *_last_full_purge >= std::chrono::seconds(1)) {
        purge(now);
    }
    return _users.size() < _max_users;
}

outcome location_service::ok(const user_bindings& list, clock::time_point now) {
    outcome o{.status = 200, .phrase = "OK", .min_expires = 0, .bindings = {}};
    // Newest first, then a stable sort by q: the order lookup() prefers.
    for (auto b = list.rbegin(); b != list.rend(); ++b) {
        if (live(*b, now)) {
            o.bindings.push_back(*b);
        }
    }
    std::stable_sort(o.bindings.begin(), o.bindings.end(),
                     [](const binding& a, const binding& b) { return a.q > b.q; });
    return o;
}

std::optional<binding> location_service::lookup(std::string_view user,
                                                clock::time_point now) const {
    const auto it = _users.find(user);
    if (it == _users.end()) {
        return std::nullopt;
    }
    const binding* best = nullptr;
    for (const auto& b : it->second) {
        // >= : of equal q the later one in the list, the most recent, wins.
        if (live(b, now) && (best == nullptr || b.q >= best->q)) {
            best = &b;
        }
    }
    if (best == nullptr) {
        return std::nullopt;
    }
    return *best;
}

std::vector<binding> location_service::bindings_of(std::string_view user,
                                                   clock::time_point now) const {
    const auto it = _users.find(user);
    return it == _users.end() ? std::vector<binding>{} : ok(it->second, now).bindings;
}

bool location_service::adopt(const binding& b, clock::time_point now) {
    const auto key = parse_uri(b.contact);
    if (!live(b, now) || b.user.empty() || !key) {
        return false;
    }
    auto it = _users.find(b.user);
    if (it == _users.end()) {
        if (!room_for_user(now)) {
            return false;
        }
        it = _users.emplace(b.user, user_bindings{}).first;
    }
    auto& list = it->second;
    std::erase_if(list, [&](const binding& old) { return !live(old, now); });
    const auto same = std::find_if(list.begin(), list.end(), [&](const binding& old) {
        const auto k = parse_uri(old.contact);
        return k && same_uri(*k, *key);
    });
    if (same != list.end()) {
        if (same->call_id == b.call_id && same->cseq > b.cseq) {
            return true;  // ours is newer: the phone refreshed it here already
        }
        list.erase(same);
    }
    list.push_back(b);
    if (list.size() > _max_bindings_per_user) {
        list.erase(list.begin());
    }
    return true;
}

std::vector<binding> location_service::all(clock::time_point now) const {
    std::vector<binding> out;
    for (const auto& [user, list] : _users) {
        const auto first = out.size();
        for (const auto& b : list) {
            if (live(b, now)) {
                out.push_back(b);
            }
        }
        std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                  [](const binding& a, const binding& b) { return a.contact < b.contact; });
    }
    return out;
}

std::size_t location_service::purge(clock::time_point now) {
    _last_full_purge = now;
    std::size_t dropped = 0;
    for (auto it = _users.begin(); it != _users.end();) {
        dropped += std::erase_if(it->second, [&](const binding& b) { return !live(b, now); });
        it = it->second.empty() ? _users.erase(it) : std::next(it);
    }
    return dropped;
}

std::size_t location_service::binding_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [user, list] : _users) {
        n += list.size();
    }
    return n;
}

}  // namespace sbc::registrar
