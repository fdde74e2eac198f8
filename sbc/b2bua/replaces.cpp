#include "sbc/b2bua/replaces.hpp"

#include <algorithm>
#include <cctype>

#include "sbc/common/text.hpp"

namespace sbc::b2bua {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// RFC 3986 2.1 percent-decoding; nullopt on a broken escape.
std::optional<std::string> unescape(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size()) {
            return std::nullopt;
        }
        const int hi = hex_value(in[i + 1]);
        const int lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

// Replaces = callid *(SEMI replaces-param) (RFC 3891 6.1).
result<dialog_ref> parse_value(std::string_view value) {
    dialog_ref ref;
    bool to = false;
    bool from = false;
    std::size_t at = value.find(';');
    ref.call_id = std::string(trim(value.substr(0, at)));
    while (at != std::string_view::npos) {
        const auto next = value.find(';', at + 1);
        const auto param = trim(value.substr(
            at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1));
        const auto eq = param.find('=');
        const auto name = trim(param.substr(0, eq));
        const auto val =
            eq == std::string_view::npos ? std::string_view{} : trim(param.substr(eq + 1));
        if (iequals(name, "to-tag")) {
            ref.to_tag = std::string(val);
            to = true;
        } else if (iequals(name, "from-tag")) {
            ref.from_tag = std::string(val);
            from = true;
        } else if (iequals(name, "early-only")) {
            ref.early_only = true;
        }
        at = next;
    }
    if (ref.call_id.empty()) {
        return make_error("Replaces without a Call-ID");
    }
    if (!to || !from || ref.to_tag.empty() || ref.from_tag.empty()) {
        return make_error("Replaces needs both to-tag and from-tag (RFC 3891 6.1)");
    }
    return ref;
}

}  // namespace

result<std::optional<dialog_ref>> replaces_in_uri_headers(std::string_view headers) {
    // hnv-unreserved and escapes only (RFC 3261 25.1): '&' separates the
    // headers, the first '=' ends a name, and values come escaped.
    std::size_t start = 0;
    while (start <= headers.size()) {
        const auto end = std::min(headers.find('&', start), headers.size());
        const auto item = headers.substr(start, end - start);
        const auto eq = item.find('=');
        if (eq != std::string_view::npos && iequals(item.substr(0, eq), "Replaces")) {
            auto value = unescape(item.substr(eq + 1));
            if (!value) {
                return make_error("Replaces with a broken %-escape");
            }
            auto ref = parse_value(*value);
            if (!ref) {
                return make_error(ref.error_message());
            }
            return std::optional<dialog_ref>(std::move(ref.value()));
        }
        start = end + 1;
    }
    return std::optional<dialog_ref>();
}

}  // namespace sbc::b2bua
