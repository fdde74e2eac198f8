// DTMF in SIP INFO bodies (RFC 6086 leaves the package to usage): the two
// bodies deployed SBCs meet, so that a digit can cross between INFO and
// RFC 4733 events or tones.
//  - application/dtmf-relay (the de facto format of Cisco and most PBXes):
//      Signal=5\r\nDuration=160\r\n
//    Duration in milliseconds. Receivers meet LF-only lines, spaces around
//    '=' and keys in any case; some senders write Signal=10 for '*' and
//    Signal=11 for '#' (RFC 4733 event codes), and Signal=16 for flash.
//  - application/dtmf: the body is the symbol alone ("5", "#"), sometimes
//    followed by a line break; some send the event code ("11" for '#').
// Control-plane code: parsing never throws and returns nullopt for anything
// malformed; formatting allocates the body string.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sbc::transcoder::dtmf {

/// The duration assumed when a body gives none (application/dtmf never does).
inline constexpr unsigned default_info_duration_ms = 250;

/// Durations above this are refused as malformed.
inline constexpr unsigned max_info_duration_ms = 60000;

/// One digit from an INFO body.
struct info_dtmf {
    char symbol = '\0';  ///< '0'-'9', '*', '#', 'A'-'D', or flash_symbol
    unsigned duration_ms = default_info_duration_ms;

    friend bool operator==(const info_dtmf&, const info_dtmf&) = default;
};

/// The digit an INFO request carries. `content_type` is the Content-Type
/// header's value (media type compared case-insensitively, parameters
/// ignored); only application/dtmf-relay and application/dtmf are read.
/// A Duration of 0 or none means default_info_duration_ms. Returns nullopt
/// for another type, a missing or unknown signal, a second Signal line, or
/// a duration that is not a decimal number up to max_info_duration_ms.
std::optional<info_dtmf> parse_info(std::string_view content_type, std::string_view body) noexcept;

/// "Signal=<symbol>\r\nDuration=<ms>\r\n" (flash as Signal=16); an empty
/// string for a symbol event_of() does not know.
std::string format_dtmf_relay(char symbol, unsigned duration_ms);

/// The application/dtmf body: the symbol alone ("16" for flash); an empty
/// string for a symbol event_of() does not know.
std::string format_dtmf(char symbol);

/// The Content-Type values of the two formats, as written in requests.
inline constexpr std::string_view dtmf_relay_content_type = "application/dtmf-relay";
inline constexpr std::string_view dtmf_content_type = "application/dtmf";

}  // namespace sbc::transcoder::dtmf
