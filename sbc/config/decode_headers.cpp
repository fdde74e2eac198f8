// Decoding of a trunk's `headers` key: the header manipulation rules that
// sbc::policy::apply_header_rules() runs. What a rule could get wrong at run
// time is refused here, once: a header the SBC builds for the dialog, a name
// or parameter that is not a token, a value with CR or LF, a reference to
// something the request does not have.
#include "sbc/config/address.hpp"

#include "sbc/common/text.hpp"
#include "sbc/config/decode.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace sbc::config::detail {

namespace {

using action = header_rule::action;

// Far more than any header a carrier asks for; a value this long is a paste
// gone wrong, and the header line must still fit a UDP datagram.
constexpr std::size_t max_value_size = 1024;

constexpr std::string_view rule_expected =
    "a header rule: a map with one of add, set, remove, set_param or remove_param (and "
    "optionally methods)";
constexpr std::string_view header_expected = "a header name (RFC 3261 25.1 token)";
constexpr std::string_view param_expected = "a parameter name (RFC 3261 25.1 token)";
constexpr std::string_view value_expected = "a value of at most 1024 bytes without CR, LF or NUL";
constexpr std::string_view param_value_expected =
    "a parameter value of at most 1024 bytes without CR, LF or NUL (leave value out for a "
    "flag parameter)";
constexpr std::string_view reference_expected =
    "a reference ${ruri_user}, ${from_user}, ${to_user}, ${from_trunk}, ${to_trunk}, "
    "${source_ip} or ${header:Name}, or $$ for a literal $";

constexpr std::array<std::pair<std::string_view, action>, 5> actions = {{
    {"add", action::add},
    {"set", action::set},
    {"remove", action::remove},
    {"set_param", action::set_param},
    {"remove_param", action::remove_param},
}};

bool is_from_or_to(std::string_view name) noexcept {
    return iequals(name, "From") || iequals(name, "To") || iequals(name, "f") || iequals(name, "t");
}

// RFC 5853 3.1: Via, Contact, Call-ID and the others carry one side's
// addresses, dialog identity or per-leg negotiation, and the B2BUA builds them
// for each leg. From and To it builds too, but carriers ask for parameters on
// them; RFC 3261 19.3 keeps the tag the dialog's (checked with the parameter).
std::optional<std::string> read_header_name(problem_list& p, const located& at, action what,
                                            bool outbound) {
    auto name = read_string(p, at, header_expected);
    if (!name) {
        return std::nullopt;
    }
    if (!is_header_token(*name)) {
        expected(p, at, header_expected);
        return std::nullopt;
    }
    if (!is_never_forwarded_header(*name)) {
        return name;
    }
    if (is_from_or_to(*name)) {
        if (outbound && (what == action::set_param || what == action::remove_param)) {
            return name;
        }
        expected(p, at,
                 "a header the SBC does not build itself; From and To take only set_param and "
                 "remove_param, in outbound rules");
        return std::nullopt;
    }
    expected(p, at,
             "a header the SBC does not build itself; Via, Route, Record-Route, Contact, "
             "Call-ID, CSeq, Max-Forwards, Content-* and the others listed in conf/README.md "
             "are never changed");
    return std::nullopt;
}

// The name inside "${...}"; the problem's text when it is not one the
// policy can expand.
std::optional<std::string_view> reference_problem(std::string_view name) {
    constexpr std::array<std::string_view, 6> variables = {"ruri_user",  "from_user", "to_user",
                                                           "from_trunk", "to_trunk",  "source_ip"};
    if (std::find(variables.begin(), variables.end(), name) != variables.end()) {
        return std::nullopt;
    }
    constexpr std::string_view header_prefix = "header:";
    if (name.substr(0, header_prefix.size()) != header_prefix) {
        return reference_expected;
    }
    const auto header = name.substr(header_prefix.size());
    if (!is_header_token(header)) {
        return "${header:Name} with a header name (RFC 3261 25.1 token)";
    }
    if (is_never_forwarded_header(header)) {
        // Copying the other leg's Via, Contact or Call-ID into a header of
        // our own would leak what topology hiding removes.
        return "${header:Name} of a header the SBC does not build itself";
    }
    return std::nullopt;
}

// Every "${...}" of `value`; "$$" is a literal "$", and a "$" before
// anything else stands for itself.
bool check_references(problem_list& p, const located& at, std::string_view value) {
    for (std::size_t i = 0; i + 1 < value.size(); ++i) {
        if (value[i] != '$') {
            continue;
        }
        if (value[i + 1] == '$') {
            ++i;
            continue;
        }
        if (value[i + 1] != '{') {
            continue;
        }
        const auto close = value.find('}', i + 2);
        if (close == std::string_view::npos) {
            p.add(
                at.mark, at.path,
                fmt::format("expected '}}' to end the reference (got {})", quote(value.substr(i))));
            return false;
        }
        const auto reference = value.substr(i, close + 1 - i);
        if (auto what = reference_problem(reference.substr(2, reference.size() - 3))) {
            p.add(at.mark, at.path, fmt::format("expected {} (got {})", *what, quote(reference)));
            return false;
        }
        i = close;
    }
    return true;
}

std::optional<std::string> read_value(problem_list& p, const located& at, std::string_view what) {
    auto text = read_string(p, at, what);
    if (!text) {
        return std::nullopt;
    }
    if (text->size() > max_value_size ||
        text->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        expected(p, at, what);
        return std::nullopt;
    }
    if (!check_references(p, at, *text)) {
        return std::nullopt;
    }
    return text;
}

std::optional<std::string> read_param(problem_list& p, const located& at,
                                      const std::optional<std::string>& header) {
    auto name = read_string(p, at, param_expected);
    if (!name) {
        return std::nullopt;
    }
    if (!is_header_token(*name)) {
        expected(p, at, param_expected);
        return std::nullopt;
    }
    if (header && is_from_or_to(*header) && iequals(*name, "tag")) {
        // RFC 3261 19.3: the tags identify the dialog, which the B2BUA owns
        // on each leg.
        expected(p, at, "a parameter other than tag (the tag of From and To is the dialog's)");
        return std::nullopt;
    }
    return name;
}

// add and set: {name, value}.
bool read_header_value(problem_list& p, const located& at, bool outbound, header_rule& r) {
    auto m = map_reader::open(p, at, {"name", "value"}, "a map with name and value");
    if (!m) {
        return false;
    }
    bool ok = true;
    if (auto v = m->require("name", header_expected)) {
        auto name = read_header_name(p, *v, r.what, outbound);
        ok = name.has_value();
        r.header = name.value_or("");
    } else {
        ok = false;
    }
    if (auto v = m->require("value", value_expected)) {
        // "value:" with nothing after it is an empty header, which SIP allows.
        auto text =
            v->node.IsNull() ? std::optional<std::string>("") : read_value(p, *v, value_expected);
        ok = ok && text.has_value();
        r.value = text.value_or("");
    } else {
        ok = false;
    }
    return ok;
}

// set_param: {header, param, value?}; remove_param: {header, param}.
bool read_param_rule(problem_list& p, const located& at, bool outbound, header_rule& r) {
    const bool set = r.what == action::set_param;
    auto m = set ? map_reader::open(p, at, {"header", "param", "value"},
                                    "a map with header, param and an optional value")
                 : map_reader::open(p, at, {"header", "param"}, "a map with header and param");
    if (!m) {
        return false;
    }
    std::optional<std::string> header;
    if (auto v = m->require("header", header_expected)) {
        header = read_header_name(p, *v, r.what, outbound);
    }
    std::optional<std::string> param;
    if (auto v = m->require("param", param_expected)) {
        param = read_param(p, *v, header);
    }
    bool ok = header && param;
    r.header = header.value_or("");
    r.param = param.value_or("");
    if (auto v = set ? m->find("value") : std::nullopt) {
        // An empty value would be the same rule as a flag; only one way to
        // write it keeps a reader of the file from wondering.
        auto text = read_value(p, *v, param_value_expected);
        if (text && text->empty()) {
            expected(p, *v, param_value_expected);
            text.reset();
        }
        ok = ok && text.has_value();
        r.value = text.value_or("");
    }
    return ok;
}

// The requests the SBC relays with headers of the peer's; the others (ACK,
// BYE, CANCEL, PRACK, NOTIFY...) it builds from nothing of the other leg's.
constexpr std::array<std::string_view, 4> rule_methods = {"INVITE", "UPDATE", "INFO", "MESSAGE"};
constexpr std::string_view methods_expected =
    "a non-empty list of INVITE, UPDATE, INFO and MESSAGE (the requests the SBC relays)";

bool read_methods(problem_list& p, const located& at, header_rule& r) {
    const auto items = read_list(p, at, methods_expected, true);
    if (items.empty()) {
        return false;  // reported by read_list
    }
    bool ok = true;
    std::vector<std::string> methods;
    for (const auto& e : items) {
        auto name = read_string(p, e, methods_expected);
        if (!name) {
            ok = false;
            continue;
        }
        if (std::find(rule_methods.begin(), rule_methods.end(), *name) == rule_methods.end()) {
            expected(p, e, methods_expected);
            ok = false;
            continue;
        }
        if (std::find(methods.begin(), methods.end(), *name) == methods.end()) {
            methods.push_back(*name);
        }
    }
    r.methods = std::move(methods);
    return ok;
}

std::optional<header_rule> read_rule(problem_list& p, const located& at, bool outbound) {
    auto m = map_reader::open(
        p, at, {"add", "set", "remove", "set_param", "remove_param", "methods"}, rule_expected);
    if (!m) {
        return std::nullopt;
    }
    struct given {
        std::string_view key;
        action what;
        located value;
    };
    std::vector<given> found;
    for (const auto& [key, what] : actions) {
        if (auto v = m->find(key)) {
            found.push_back(given{.key = key, .what = what, .value = *v});
        }
    }
    if (found.empty()) {
        // Unknown and duplicate keys were reported by map_reader already.
        if (at.node.size() == 0) {
            p.add(at.mark, at.path, fmt::format("expected {} (got an empty map)", rule_expected));
        }
        return std::nullopt;
    }
    if (found.size() > 1) {
        std::stable_sort(found.begin(), found.end(), [](const given& a, const given& b) {
            return position(a.value.mark) < position(b.value.mark);
        });
        p.add(found[1].value.mark, found[1].value.path,
              fmt::format("expected one action per rule (got {} and {})", found[0].key,
                          found[1].key));
        return std::nullopt;
    }
    const auto what = found.front().what;
    const auto& v = found.front().value;
    header_rule r;
    r.what = what;
    r.mark = to_source_mark(at.mark);
    bool ok = false;
    switch (what) {
        case action::add:
        case action::set:
            ok = read_header_value(p, v, outbound, r);
            break;
        case action::remove: {
            auto name = read_header_name(p, v, what, outbound);
            ok = name.has_value();
            r.header = name.value_or("");
            break;
        }
        case action::set_param:
        case action::remove_param:
            ok = read_param_rule(p, v, outbound, r);
            break;
    }
    if (auto methods = m->find("methods")) {
        ok = read_methods(p, *methods, r) && ok;
    }
    return ok ? std::optional(std::move(r)) : std::nullopt;
}

std::vector<header_rule> read_rules(problem_list& p, const located& at, bool outbound) {
    std::vector<header_rule> out;
    for (const auto& e : read_list(p, at, "a list of header rules", false)) {
        if (auto r = read_rule(p, e, outbound)) {
            out.push_back(std::move(*r));
        }
    }
    return out;
}

}  // namespace

void decode_header_rules(problem_list& p, const located& at, header_rules& rules) {
    auto m = map_reader::open(p, at, {"inbound", "outbound"},
                              "a map with inbound and outbound lists of header rules");
    if (!m) {
        return;
    }
    if (auto v = m->find("inbound")) {
        rules.inbound = read_rules(p, *v, false);
    }
    if (auto v = m->find("outbound")) {
        rules.outbound = read_rules(p, *v, true);
    }
}

}  // namespace sbc::config::detail
