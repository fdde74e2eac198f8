#include "sbc/policy/header_filter.hpp"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "sbc/common/text.hpp"
#include "sbc/config/config.hpp"

namespace sbc::policy {

namespace {}  // namespace

bool is_never_forwarded(std::string_view name) noexcept {
    // One list for the configuration check and the wire (config.hpp).
    return config::is_never_forwarded_header(name);
}

bool may_forward(std::string_view name, const std::vector<std::string>& allow) noexcept {
    if (is_never_forwarded(name)) {
        return false;
    }
    return std::any_of(allow.begin(), allow.end(),
                       [&](const std::string& a) { return iequals(a, name); });
}

std::vector<header_field> request_headers(const sip_t* sip) {
    std::vector<header_field> out;
    if (sip == nullptr) {
        return out;
    }
    // Walk every header of the message in wire order: known headers hang off
    // typed fields of sip_t, unknown ones off sip_unknown, but all of them are
    // chained through sh_succ from the request or status line.
    const msg_header_t* first = sip->sip_request != nullptr
                                    ? reinterpret_cast<const msg_header_t*>(sip->sip_request)
                                    : reinterpret_cast<const msg_header_t*>(sip->sip_status);
    char value[1024];
    for (const msg_header_t* h = first; h != nullptr; h = h->sh_succ) {
        const msg_hclass_t* hc = h->sh_class;
        if (hc == nullptr || hc->hc_name == nullptr || hc->hc_hash == msg_request_hash ||
            hc->hc_hash == msg_status_hash || hc->hc_hash == msg_payload_hash ||
            hc->hc_hash == msg_separator_hash || hc->hc_hash == msg_error_hash) {
            continue;
        }
        if (hc->hc_hash == msg_unknown_hash) {
            // Unknown headers keep their own name and raw value.
            const auto* u = reinterpret_cast<const sip_unknown_t*>(h);
            if (u->un_name != nullptr && u->un_value != nullptr) {
                out.push_back({u->un_name, u->un_value});
            }
            continue;
        }
        std::string_view name = hc->hc_name;
        if (name.empty()) {
            continue;
        }
        issize_t n = msg_header_field_e(value, sizeof value, h, 0);
        if (n < 0 || static_cast<size_t>(n) >= sizeof value) {
            continue;  // an oversized value is dropped rather than truncated
        }
        out.push_back({std::string(name), std::string(value, static_cast<size_t>(n))});
    }
    return out;
}

std::vector<header_field> allowed_fields(const std::vector<header_field>& all,
                                         const std::vector<std::string>& allow,
                                         const number_rewrite& rewrite) {
    std::vector<header_field> out;
    for (const auto& f : all) {
        if (!may_forward(f.name, allow)) {
            continue;
        }
        std::optional<config::number_field> field;
        if (iequals(f.name, "P-Asserted-Identity")) {
            field = config::field_pai;
        } else if (iequals(f.name, "Diversion")) {
            field = config::field_diversion;
        }
        out.push_back({f.name, field && rewrite ? rewrite(*field, f.value) : f.value});
    }
    return out;
}

std::string header_lines(const std::vector<header_field>& fields) {
    std::string out;
    for (const auto& f : fields) {
        out.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    return out;
}

std::string forwarded_headers(const sip_t* sip, const std::vector<std::string>& allow,
                              const number_rewrite& rewrite) {
    if (allow.empty()) {
        return {};
    }
    return header_lines(allowed_fields(request_headers(sip), allow, rewrite));
}

}  // namespace sbc::policy
