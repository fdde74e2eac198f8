// ice_credentials: RFC 8839 5.4's grammar of ice-ufrag and ice-pwd.
#include "dataplane/api/ice_credentials.hpp"

namespace sbc::dataplane {

namespace {

// RFC 8839 5.4: ice-char = ALPHA / DIGIT / "+" / "/".
bool ice_chars(std::string_view s, std::size_t min, std::size_t max) noexcept {
    if (s.size() < min || s.size() > max) {
        return false;
    }
    for (const char c : s) {
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        if (!alpha && !digit && c != '+' && c != '/') {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string_view ice_credentials::invalid_because() const noexcept {
    if (!ice_chars(local_ufrag, 4, 256)) {
        return "the local ice-ufrag is not 4 to 256 ice-chars (RFC 8839 5.4)";
    }
    if (!ice_chars(local_pwd, 22, 256)) {
        return "the local ice-pwd is not 22 to 256 ice-chars (RFC 8839 5.4)";
    }
    if (!remote_ufrag.empty() && !ice_chars(remote_ufrag, 4, 256)) {
        return "the remote ice-ufrag is not 4 to 256 ice-chars (RFC 8839 5.4)";
    }
    return {};
}

}  // namespace sbc::dataplane
