#include "sbc/sofia/auth_headers.hpp"

#include <sofia-sip/msg_header.h>

namespace sbc::sofia {

std::vector<std::string> auth_values(const msg_auth_t* first) {
    std::vector<std::string> values;
    char buffer[2048];
    for (const msg_auth_t* h = first; h != nullptr; h = h->au_next) {
        const issize_t n =
            msg_header_field_e(buffer, sizeof buffer, reinterpret_cast<const msg_header_t*>(h), 0);
        if (n > 0 && static_cast<std::size_t>(n) < sizeof buffer) {
            values.emplace_back(buffer, static_cast<std::size_t>(n));
        }
    }
    return values;
}

std::vector<std::string> challenge_values(int status, const sip_t* sip) {
    // RFC 3261 22.2/22.3: 401 carries WWW-Authenticate, 407 Proxy-Authenticate.
    return auth_values(status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate);
}

}  // namespace sbc::sofia
