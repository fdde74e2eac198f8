#include "sbc/policy/header_filter.hpp"

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "sbc/config/config.hpp"

namespace sbc::policy {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

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

std::string forwarded_headers(const sip_t* sip, const std::vector<std::string>& allow,
                              const number_rewrite& rewrite) {
    std::string out;
    if (sip == nullptr || allow.empty()) {
        return out;
    }
    // Walk every header of the message in wire order: known headers hang off
    // typed fields of sip_t, unknown ones off sip_unknown, but all of them are
    // chained through sh_succ from the request or status line.
    const msg_header_t* first = sip->sip_request != nullptr
                                    ? reinterpret_cast<const msg_header_t*>(sip->sip_request)
                                    : reinterpret_cast<const msg_header_t*>(sip->sip_status);
    char value[1024];
    auto append = [&](std::string_view name, std::string_view v) {
        std::optional<config::number_field> field;
        if (iequals(name, "P-Asserted-Identity")) {
            field = config::field_pai;
        } else if (iequals(name, "Diversion")) {
            field = config::field_diversion;
        }
        out.append(name).append(": ");
        if (field && rewrite) {
            out.append(rewrite(*field, v));
        } else {
            out.append(v);
        }
        out.append("\r\n");
    };
    for (const msg_header_t* h = first; h != nullptr; h = h->sh_succ) {
        const msg_hclass_t* hc = h->sh_class;
        if (hc == nullptr || hc->hc_name == nullptr || hc->hc_hash == msg_request_hash ||
            hc->hc_hash == msg_status_hash || hc->hc_hash == msg_payload_hash ||
            hc->hc_hash == msg_separator_hash || hc->hc_hash == msg_error_hash) {
            continue;
        }
        std::string_view name = hc->hc_name;
        if (hc->hc_hash == msg_unknown_hash) {
            // Unknown headers keep their own name and raw value.
            const auto* u = reinterpret_cast<const sip_unknown_t*>(h);
            if (u->un_name == nullptr || u->un_value == nullptr ||
                !may_forward(u->un_name, allow)) {
                continue;
            }
            append(u->un_name, u->un_value);
            continue;
        }
        if (name.empty() || !may_forward(name, allow)) {
            continue;
        }
        issize_t n = msg_header_field_e(value, sizeof value, h, 0);
        if (n < 0 || static_cast<size_t>(n) >= sizeof value) {
            continue;  // an oversized value is dropped rather than truncated
        }
        append(name, std::string_view(value, static_cast<size_t>(n)));
    }
    return out;
}

}  // namespace sbc::policy
