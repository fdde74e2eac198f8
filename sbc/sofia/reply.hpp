// Answering server transactions so that every one of them is answered.
//
// nta_incoming_treply() fails, and sends nothing, when a tag it is given does
// not parse (a Warning built from text a peer sent, say); a caller that does
// not check leaves the transaction unanswered until its peer gives up. Every
// reply the B2BUA sends goes through treply() below, which falls back to the
// bare status, then to 500. Text that goes into a quoted-string header value
// goes through quoted_string() first.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "sbc/sofia/nta.hpp"

namespace sbc::sofia {

/// `text` made fit to sit between the quotes of a SIP quoted-string (RFC
/// 3261 25.1): '"' and '\' escaped as quoted-pairs, control characters
/// (which no quoted-pair may carry when they are CR or LF) and bytes
/// outside ASCII replaced, and cut to `max` characters.
std::string quoted_string(std::string_view text, std::size_t max = 160);

/// `Warning: 399 <agent> "<text>"` (RFC 3261 20.43, code 399: miscellaneous),
/// with `text` escaped by quoted_string().
std::string warning_value(std::string_view agent, std::string_view text);

/// Called when nta_incoming_treply() failed: logs it, then answers with the
/// bare `status` (or 500 when even that fails). False when nothing could be sent.
bool reply_fallback(nta_incoming_t* irq, int status, const char* phrase) noexcept;

/// nta_incoming_treply() with its tags (no TAG_END(): it is added here) that
/// never leaves the transaction unanswered because a tag did not parse.
/// False only when not even the fallback could be sent (the transaction is
/// gone or its transport is).
template <typename... Tags>
bool treply(nta_incoming_t* irq, int status, const char* phrase, Tags... tags) noexcept {
    if (nta_incoming_treply(irq, status, phrase, tags..., TAG_END()) == 0) {
        return true;
    }
    return reply_fallback(irq, status, phrase);
}

}  // namespace sbc::sofia
