#include "sbc/policy/header_rules.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>

#include "sbc/common/text.hpp"

namespace sbc::policy {

namespace {

using action = config::header_rule::action;

// The IANA registry of SIP compact forms: RFC 3261 7.3.3 (c e f i k l m s t
// v), RFC 3265 (o u), RFC 3515 (r), RFC 3841 (a d j), RFC 3892 (b), RFC 4028
// (x), RFC 8224 (y). A peer may send any of them for the long name.
constexpr std::array<std::pair<char, std::string_view>, 19> compact_forms = {{
    {'a', "Accept-Contact"},
    {'b', "Referred-By"},
    {'c', "Content-Type"},
    {'d', "Request-Disposition"},
    {'e', "Content-Encoding"},
    {'f', "From"},
    {'i', "Call-ID"},
    {'j', "Reject-Contact"},
    {'k', "Supported"},
    {'l', "Content-Length"},
    {'m', "Contact"},
    {'o', "Event"},
    {'r', "Refer-To"},
    {'s', "Subject"},
    {'t', "To"},
    {'u', "Allow-Events"},
    {'v', "Via"},
    {'x', "Session-Expires"},
    {'y', "Identity"},
}};

std::string_view long_name(std::string_view name) noexcept {
    if (name.size() != 1) {
        return name;
    }
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(name[0])));
    for (const auto& [letter, full] : compact_forms) {
        if (letter == c) {
            return full;
        }
    }
    return name;
}

// RFC 3261 25.1 token.
bool is_token(std::string_view text) noexcept {
    constexpr std::string_view marks = "-.!%*_+`'~";
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
               marks.find(c) != std::string_view::npos;
    });
}

bool is_quoted_string(std::string_view text) noexcept {
    if (text.size() < 2 || text.front() != '"' || text.back() != '"') {
        return false;
    }
    for (std::size_t i = 1; i + 1 < text.size(); ++i) {
        if (text[i] == '\\') {
            ++i;  // a quoted-pair; it must not escape the closing quote
            if (i + 1 >= text.size()) {
                return false;
            }
        } else if (text[i] == '"') {
            return false;
        }
    }
    return true;
}

// RFC 3261 25.1 IPv6reference: the one host form that is not a token.
bool is_ipv6_reference(std::string_view text) noexcept {
    return text.size() > 2 && text.front() == '[' && text.back() == ']' &&
           std::all_of(text.begin() + 1, text.end() - 1, [](char c) {
               return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
           });
}

// RFC 3261 25.1 gen-value = token / host / quoted-string. Anything else
// (a space, ';', ',', '>' from a network value) would change the structure of
// the header, so it goes in as a quoted string.
std::string param_value(std::string value) {
    if (is_token(value) || is_ipv6_reference(value) || is_quoted_string(value)) {
        return value;
    }
    std::string quoted = "\"";
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\' || (u < 0x20 && c != '\t') || u == 0x7f) {
            quoted += '\\';  // quoted-pair
        }
        quoted += c;
    }
    return quoted + '"';
}

bool is_header(std::string_view name, std::string_view wanted) noexcept {
    return iequals(long_name(name), wanted);
}

// A rule on a header the SBC builds for the dialog would undo what the B2BUA
// guarantees (RFC 5853 3.1). The one exception is a parameter of From or To
// other than the tag, which RFC 3261 19.3 makes the dialog's.
bool may_apply(const config::header_rule& r) noexcept {
    if (!is_token(r.header)) {
        return false;
    }
    const bool param_rule = r.what == action::set_param || r.what == action::remove_param;
    if (param_rule && !is_token(r.param)) {
        return false;
    }
    if (!config::is_never_forwarded_header(long_name(r.header))) {
        return true;
    }
    const bool from_or_to = is_header(r.header, "From") || is_header(r.header, "To");
    return from_or_to && param_rule && !iequals(r.param, "tag");
}

std::string_view lookup_header(std::string_view name, const rule_context& ctx) noexcept {
    if (ctx.request_headers == nullptr || config::is_never_forwarded_header(long_name(name))) {
        return {};
    }
    for (const auto& h : *ctx.request_headers) {
        if (same_header(h.name, name)) {
            return h.value;
        }
    }
    return {};
}

std::string_view lookup(std::string_view reference, const rule_context& ctx) noexcept {
    constexpr std::string_view header_prefix = "header:";
    if (reference.substr(0, header_prefix.size()) == header_prefix) {
        return lookup_header(reference.substr(header_prefix.size()), ctx);
    }
    const std::array<std::pair<std::string_view, std::string_view>, 6> variables = {{
        {"ruri_user", ctx.ruri_user},
        {"from_user", ctx.from_user},
        {"to_user", ctx.to_user},
        {"from_trunk", ctx.from_trunk},
        {"to_trunk", ctx.to_trunk},
        {"source_ip", ctx.source_ip},
    }};
    for (const auto& [name, value] : variables) {
        if (name == reference) {
            return value;
        }
    }
    return {};
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// The elements of a header value at its top-level commas (RFC 3261 7.3.1);
// commas inside a quoted string or <...> belong to the element. An
// unbalanced quote or '<' makes the whole value one element.
std::vector<std::string_view> list_elements(std::string_view value) {
    std::vector<std::string_view> out;
    bool quoted = false;
    bool angle = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (quoted) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                quoted = false;
            }
        } else if (angle) {
            angle = c != '>';
        } else if (c == '"') {
            quoted = true;
        } else if (c == '<') {
            angle = true;
        } else if (c == ',') {
            out.push_back(value.substr(start, i - start));
            start = i + 1;
        }
    }
    if (quoted || angle) {
        return {value};
    }
    out.push_back(value.substr(start));
    return out;
}

// Where the header parameters of one element start: after the '>' of a
// name-addr, else at the first ';' outside a quoted string (RFC 3261 20.10:
// an addr-spec without <...> cannot have URI parameters, so what follows it
// is the header's). Nothing when a quote or '<' is not closed.
std::optional<std::size_t> params_start(std::string_view e) noexcept {
    bool quoted = false;
    for (std::size_t i = 0; i < e.size(); ++i) {
        const char c = e[i];
        if (quoted) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                quoted = false;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == '<') {
            const auto close = e.find('>', i);
            if (close == std::string_view::npos) {
                return std::nullopt;
            }
            return close + 1;
        } else if (c == ';') {
            return i;
        }
    }
    if (quoted) {
        return std::nullopt;
    }
    return e.size();
}

struct param {
    std::string_view name;
    std::string_view text;  ///< "name=value" or "name", as written
};

// ";name[=value]" items (RFC 3261 25.1 generic-param, with LWS around ';');
// nothing when the text after the address is anything else.
std::optional<std::vector<param>> parse_params(std::string_view s) {
    std::vector<param> out;
    s = trim(s);
    while (!s.empty()) {
        if (s.front() != ';') {
            return std::nullopt;
        }
        s.remove_prefix(1);
        bool quoted = false;
        std::size_t end = 0;
        for (; end < s.size(); ++end) {
            const char c = s[end];
            if (quoted) {
                if (c == '\\') {
                    ++end;
                } else if (c == '"') {
                    quoted = false;
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ';') {
                break;
            }
        }
        if (quoted) {
            return std::nullopt;
        }
        end = std::min(end, s.size());
        const auto text = trim(s.substr(0, end));
        const auto name = trim(text.substr(0, text.find('=')));
        if (name.empty()) {
            return std::nullopt;
        }
        out.push_back(param{name, text});
        s.remove_prefix(end);
    }
    return out;
}

// One element with `name` set to `replacement` ("name=value" or "name") or,
// when there is no replacement, removed. Nothing when the element does not
// parse or a removal finds nothing to remove.
std::optional<std::string> edit_element(std::string_view e, std::string_view name,
                                        const std::optional<std::string>& replacement) {
    if (e.empty()) {
        return std::nullopt;
    }
    const auto start = params_start(e);
    if (!start) {
        return std::nullopt;
    }
    const auto params = parse_params(e.substr(*start));
    if (!params) {
        return std::nullopt;
    }
    std::string out(trim(e.substr(0, *start)));
    bool found = false;
    for (const auto& p : *params) {
        if (!iequals(p.name, name)) {
            out.append(";").append(p.text);
        } else if (!found) {
            found = true;
            if (replacement) {
                out.append(";").append(*replacement);
            }
        }
    }
    if (!replacement && !found) {
        return std::nullopt;
    }
    if (replacement && !found) {
        out.append(";").append(*replacement);
    }
    return out;
}

// Headers whose grammar has commas that do not separate list elements: a
// date, free text, or comments.
bool is_free_text(std::string_view header) noexcept {
    constexpr std::array<std::string_view, 6> names = {"Subject",    "Date",   "Organization",
                                                       "User-Agent", "Server", "Retry-After"};
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view n) { return is_header(header, n); });
}

std::string edit_params(std::string_view header, std::string_view value, std::string_view name,
                        const std::optional<std::string>& replacement) {
    const auto elements =
        is_free_text(header) ? std::vector<std::string_view>{value} : list_elements(value);
    std::string out;
    for (std::size_t i = 0; i < elements.size(); ++i) {
        const auto e = elements[i];
        const auto core = trim(e);
        if (i > 0) {
            out += ',';
        }
        const auto edited = edit_element(core, name, replacement);
        if (!edited) {
            out.append(e);
            continue;
        }
        const auto lead = static_cast<std::size_t>(core.data() - e.data());
        out.append(e.substr(0, lead)).append(*edited).append(e.substr(lead + core.size()));
    }
    return out;
}

void set_header(const config::header_rule& r, std::vector<header_field>& headers,
                const rule_context& ctx) {
    auto value = expand(r.value, ctx);
    const auto matches = [&](const header_field& h) { return same_header(h.name, r.header); };
    auto first = std::find_if(headers.begin(), headers.end(), matches);
    if (first == headers.end()) {
        headers.push_back(header_field{.name = r.header, .value = std::move(value)});
        return;
    }
    first->name = r.header;
    first->value = std::move(value);
    headers.erase(std::remove_if(std::next(first), headers.end(), matches), headers.end());
}

void edit_header_params(const config::header_rule& r, std::vector<header_field>& headers,
                        const rule_context& ctx) {
    std::optional<std::string> replacement;
    if (r.what == action::set_param) {
        replacement = r.value.empty() ? r.param : r.param + "=" + param_value(expand(r.value, ctx));
    }
    for (auto& h : headers) {
        if (same_header(h.name, r.header)) {
            h.value = edit_params(h.name, h.value, r.param, replacement);
        }
    }
}

}  // namespace

bool same_header(std::string_view a, std::string_view b) noexcept {
    return iequals(long_name(a), long_name(b));
}

std::string expand(std::string_view value, const rule_context& ctx) {
    std::string out;
    out.reserve(value.size());
    std::size_t i = 0;
    while (i < value.size()) {
        const char c = value[i];
        const char next = i + 1 < value.size() ? value[i + 1] : '\0';
        if (c != '$' || (next != '$' && next != '{')) {
            out += c;
            ++i;
        } else if (next == '$') {
            out += '$';
            i += 2;
        } else {
            const auto close = value.find('}', i + 2);
            if (close == std::string_view::npos) {
                break;
            }
            out.append(lookup(value.substr(i + 2, close - i - 2), ctx));
            i = close + 1;
        }
    }
    // RFC 3261 7.3.1: a header value ends at CRLF; one from the network must
    // not be able to start a header line of its own.
    std::erase_if(out, [](char ch) { return ch == '\r' || ch == '\n' || ch == '\0'; });
    return out;
}

void apply_header_rules(const std::vector<config::header_rule>& rules,
                        std::vector<header_field>& headers, const rule_context& ctx) {
    for (const auto& r : rules) {
        if (!may_apply(r) ||
            std::find(r.methods.begin(), r.methods.end(), ctx.method) == r.methods.end()) {
            continue;
        }
        switch (r.what) {
            case action::add:
                headers.push_back(header_field{.name = r.header, .value = expand(r.value, ctx)});
                break;
            case action::set:
                set_header(r, headers, ctx);
                break;
            case action::remove:
                std::erase_if(headers,
                              [&](const header_field& h) { return same_header(h.name, r.header); });
                break;
            case action::set_param:
            case action::remove_param:
                edit_header_params(r, headers, ctx);
                break;
        }
    }
}

}  // namespace sbc::policy
