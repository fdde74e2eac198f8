// Small text helpers every part needs the same way: SIP, SDP and YAML names
// compare without regard to ASCII case (RFC 3261 7.3.1, RFC 4566 5), and
// std::tolower would follow the C locale instead. Header-only, so that
// transcoder/ (which links no sbc/ code) can use it too.
#pragma once

#include <string_view>

namespace sbc {

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/// ASCII case-insensitive equality.
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) {
            return false;
        }
    }
    return true;
}

}  // namespace sbc
