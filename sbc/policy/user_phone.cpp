#include "sbc/policy/user_phone.hpp"

#include <algorithm>
#include <cctype>

namespace sbc::policy {

namespace {

/// The length of "sip:" or "sips:" (any case) at the start of `uri`, or 0.
std::size_t sip_scheme_length(std::string_view uri) {
    for (std::string_view scheme : {"sip:", "sips:"}) {
        if (uri.size() >= scheme.size() &&
            std::equal(scheme.begin(), scheme.end(), uri.begin(), [](char a, char b) {
                return a == std::tolower(static_cast<unsigned char>(b));
            })) {
            return scheme.size();
        }
    }
    return 0;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

/// Whether the URI parameters `params` (";a=b;c") name `user`.
bool has_user_param(std::string_view params) {
    std::size_t at = 0;
    while ((at = params.find(';', at)) != std::string_view::npos) {
        ++at;
        const auto end = params.find_first_of(";=", at);
        if (iequals(params.substr(at, end == std::string_view::npos ? end : end - at), "user")) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool is_e164(std::string_view user) noexcept {
    if (user.size() < 2 || user.size() > 16 || user.front() != '+') {
        return false;
    }
    return std::all_of(user.begin() + 1, user.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

std::string with_user_phone(std::string_view uri) {
    const auto user_at = sip_scheme_length(uri);
    if (user_at == 0) {
        return std::string(uri);
    }
    // RFC 3261 25.1: userinfo ends at "@"; with no "@" before the headers
    // there is no user part.
    const auto headers_at = std::min(uri.find('?', user_at), uri.size());
    const auto at_sign = uri.find('@', user_at);
    if (at_sign == std::string_view::npos || at_sign > headers_at ||
        !is_e164(uri.substr(user_at, at_sign - user_at))) {
        return std::string(uri);
    }
    const auto params_at = std::min(uri.find(';', at_sign), headers_at);
    if (has_user_param(uri.substr(params_at, headers_at - params_at))) {
        return std::string(uri);
    }
    std::string out(uri.substr(0, headers_at));
    out += ";user=phone";
    out.append(uri.substr(headers_at));
    return out;
}

std::string header_with_user_phone(std::string_view value) {
    std::string out;
    const auto open = value.find('<');
    if (open == std::string_view::npos) {
        // A bare addr-spec: its URI ends before its header parameters.
        const auto start = value.find_first_not_of(' ');
        if (start == std::string_view::npos) {
            return std::string(value);
        }
        const auto at_sign = value.find('@', start);
        const auto end =
            value.find_first_of(";, ", at_sign == std::string_view::npos ? start : at_sign);
        const auto uri = value.substr(start, end == std::string_view::npos ? end : end - start);
        const auto marked = with_user_phone(uri);
        if (marked == uri) {
            return std::string(value);
        }
        out.append(value.substr(0, start));
        out += "<" + marked + ">";
        out.append(value.substr(start + uri.size()));
        return out;
    }
    std::size_t pos = 0;
    while (pos < value.size()) {
        const auto lt = value.find('<', pos);
        const auto gt = lt == std::string_view::npos ? lt : value.find('>', lt);
        if (gt == std::string_view::npos) {
            break;
        }
        out.append(value.substr(pos, lt + 1 - pos));
        out += with_user_phone(value.substr(lt + 1, gt - lt - 1));
        pos = gt;
    }
    out.append(value.substr(std::min(pos, value.size())));
    return out;
}

}  // namespace sbc::policy
