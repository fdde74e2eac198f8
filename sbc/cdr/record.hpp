// Call detail records: what one call attempt was, as one line of JSON.
//
// The B2BUA fills a `record` when a call attempt ends (answered and hung up,
// refused, cancelled, or given up on) and hands it to a cdr::writer, which
// appends the line to the CDR file. The record is a plain value: it borrows
// nothing from the call, so the call may go away as soon as it is filled.
// Its strings come from the network and may hold any bytes; to_json_line()
// still produces valid UTF-8 JSON for them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sbc::cdr {

using wall_clock = std::chrono::system_clock;

/// The numbers of the attempt as seen at one point of its way through the SBC.
struct numbers {
    std::string ruri_user;  ///< user part of the request-URI
    std::string from_user;
    std::string to_user;
    bool operator==(const numbers&) const = default;
};

/// The quality of what one leg's peer sent, as the SBC received it (RFC
/// 3550 A.3, A.8, 6.4.1), and the MOS estimated from it (ITU-T G.107,
/// simplified: sbc/media_ctl/quality.hpp).
struct leg_quality {
    std::uint64_t rtp_expected = 0;
    std::int64_t rtp_lost = 0;  ///< negative when duplicates outnumber losses
    double loss_percent = 0;
    double jitter_ms = 0;
    std::optional<double> rtt_ms;  ///< none without RTCP reports from the peer
    double mos = 0;
    bool operator==(const leg_quality&) const = default;
};

/// One leg's media counters.
struct leg_media {
    std::string codec;  ///< "PCMA/8000"; "" when none was negotiated
    std::uint64_t packets_received = 0;
    std::uint64_t packets_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t packets_dropped = 0;
    std::optional<leg_quality> quality;  ///< none before the peer's first RTP packet
    bool operator==(const leg_media&) const = default;
};

/// Who ended the call.
enum class party { none, caller, callee, sbc };

/// "none", "caller", "callee", "sbc"; "unknown" for a value outside the enum.
std::string_view to_string(party p) noexcept;

struct record {
    std::string id;                                ///< the SBC's call id
    std::string call_id;                           ///< Call-ID of the caller's INVITE
    wall_clock::time_point start;                  ///< INVITE received
    std::optional<wall_clock::time_point> answer;  ///< 2xx sent to the caller
    wall_clock::time_point end;                    ///< final response or BYE
    std::string source;                            ///< caller's "ip:port"
    std::string from_trunk;
    std::string to_trunk;  ///< "" when no route was found
    std::string route;     ///< name of the matching route rule, "" if none
    numbers received;      ///< as the INVITE arrived
    numbers normalized;    ///< after the ingress trunk's normalization (what routing saw)
    numbers sent;          ///< as sent to the callee trunk (after egress normalization);
                           ///< empty if nothing was sent
    int status = 0;        ///< final status given to the caller (200 when answered)
    std::string reason;    ///< its reason phrase
    party disconnected_by = party::none;
    std::string disconnect_reason;  ///< "BYE", "CANCEL", "media timeout", "404 Not Found", ...
    leg_media media_a;              ///< caller's leg
    leg_media media_b;              ///< callee's leg
    bool local_ringback = false;    ///< the caller heard the SBC's ringback tone
    bool operator==(const record&) const = default;
};

/// The record as one line of JSON, without the trailing newline.
///
/// Times are UTC, RFC 3339 with milliseconds ("2026-12-02T17:20:01.123Z"),
/// truncated to the millisecond; "answer" is null when the call was not
/// answered. "setup_s" is start..answer (start..end when not answered) and
/// "duration_s" answer..end (0 when not answered), both in seconds with three
/// decimals, computed from the printed times so a reader can check them; a
/// negative span (the wall clock was stepped back during the call) is 0.
///
/// Keys, in this order: id, call_id, start, answer, end, setup_s, duration_s,
/// source, from_trunk, to_trunk, route,
/// numbers{received,normalized,sent:{ruri_user,from_user,to_user}}, status,
/// reason, disconnected_by, disconnect_reason,
/// media{a,b:{codec,packets_received,packets_sent,bytes_received,bytes_sent,packets_dropped,
/// quality}}, quality null or {rtp_expected,rtp_lost,loss_percent,jitter_ms,rtt_ms,mos}
/// (rtt_ms null when unknown),
/// local_ringback.
///
/// Bytes that are not UTF-8 become U+FFFD and control characters are escaped,
/// so the line is valid JSON and holds no newline whatever the strings hold.
/// Throws only std::bad_alloc.
std::string to_json_line(const record& r);

}  // namespace sbc::cdr
