#include "sbc/sofia/reply.hpp"

#include <fmt/format.h>

#include "sbc/common/log.hpp"

namespace sbc::sofia {

namespace {
log::rate_limit g_failures;  // the SIP thread only, as every nta call
}  // namespace

std::string quoted_string(std::string_view text, std::size_t max) {
    std::string out;
    out.reserve(std::min(text.size(), max) + 8);
    std::size_t kept = 0;
    for (unsigned char c : text) {
        if (kept == max) {
            out += "...";
            break;
        }
        ++kept;
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            // RFC 3261 25.1 lets a quoted-pair carry most controls, but not
            // CR or LF, and lone bytes past ASCII are not UTF8-NONASCII.
            out += c == '\t' ? ' ' : '?';
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string warning_value(std::string_view agent, std::string_view text) {
    return fmt::format("399 {} \"{}\"", agent, quoted_string(text));
}

bool reply_fallback(nta_incoming_t* irq, int status, const char* phrase) noexcept {
    if (g_failures.allow()) {
        sip_log.error("could not send {} {} with its headers; sending it bare", status,
                      phrase != nullptr ? phrase : "");
    }
    if (nta_incoming_treply(irq, status, phrase, TAG_END()) == 0) {
        return true;
    }
    if (status != 500 && nta_incoming_treply(irq, SIP_500_INTERNAL_SERVER_ERROR, TAG_END()) == 0) {
        return true;
    }
    if (g_failures.allow()) {
        sip_log.error("could not answer a {} request at all", nta_incoming_method_name(irq));
    }
    return false;
}

}  // namespace sbc::sofia
