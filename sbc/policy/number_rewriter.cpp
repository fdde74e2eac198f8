#include "sbc/policy/number_rewriter.hpp"

#include <algorithm>
#include <cctype>

namespace sbc::policy {

namespace {

bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) == b;
           });
}

}  // namespace

number_rewriter::number_rewriter(const std::vector<config::rewrite_rule>& rules) {
    for (const auto& r : rules) {
        _rules.push_back({std::regex(r.match, std::regex::ECMAScript), r.replace, r.fields});
    }
}

std::string number_rewriter::apply(config::number_field field, std::string_view user) const {
    if (user.size() > max_number_length) {
        return std::string(user);
    }
    for (const auto& r : _rules) {
        if ((r.fields & field) == 0) {
            continue;
        }
        std::match_results<std::string_view::const_iterator> m;
        if (!std::regex_search(user.begin(), user.end(), m, r.re)) {
            continue;
        }
        // The matched part is replaced, what surrounds it kept (ECMAScript
        // String.replace with a non-global pattern).
        std::string out(user.begin(), m[0].first);
        out += m.format(r.replace);
        out.append(m[0].second, user.end());
        return out;
    }
    return std::string(user);
}

call_numbers number_rewriter::apply(const call_numbers& n) const {
    return {apply(config::field_ruri, n.ruri), apply(config::field_from, n.from),
            apply(config::field_to, n.to)};
}

std::string number_rewriter::apply_to_header(config::number_field field,
                                             std::string_view value) const {
    if (_rules.empty()) {
        return std::string(value);
    }
    std::string out;
    std::size_t pos = 0;
    while (pos < value.size()) {
        // A URI starts a value or follows '<'; anything else (display names,
        // parameters) is copied as it is.
        const auto open = value.find('<', pos);
        const bool bare = pos == 0 && open == std::string_view::npos;
        const std::size_t start = bare ? 0 : open;
        if (start == std::string_view::npos) {
            break;
        }
        const std::size_t uri = bare ? 0 : start + 1;
        out.append(value.substr(pos, uri - pos));
        std::size_t user_at = std::string_view::npos;
        for (std::string_view scheme : {"sip:", "sips:", "tel:"}) {
            if (istarts_with(value.substr(uri), scheme)) {
                user_at = uri + scheme.size();
                break;
            }
        }
        if (user_at == std::string_view::npos) {
            pos = uri;
            if (bare) {
                break;
            }
            continue;
        }
        const bool tel = istarts_with(value.substr(uri), "tel:");
        // sip: the user ends at '@' (no '@': no user); tel: the number ends
        // at its parameters or the URI's end (RFC 3966 3).
        const auto end = value.find_first_of(tel ? ";>, " : "@;>, ", user_at);
        const auto stop = end == std::string_view::npos ? value.size() : end;
        out.append(value.substr(uri, user_at - uri));
        if (tel || (stop < value.size() && value[stop] == '@')) {
            out += apply(field, value.substr(user_at, stop - user_at));
        } else {
            out.append(value.substr(user_at, stop - user_at));
        }
        pos = stop;
        if (bare) {
            break;
        }
    }
    out.append(value.substr(std::min(pos, value.size())));
    return out;
}

}  // namespace sbc::policy
