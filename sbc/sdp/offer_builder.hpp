// The SBC's own SDP offers, and the check of the answers they get.
//
// Used where the SBC must offer instead of relaying one (early_offer:
// convert, issue 3): a delayed-offer INVITE (RFC 3264 5) leaves towards a
// trunk that requires early offer with an offer built here from the trunk's
// codec list, and the caller's answer in the ACK is checked against the
// offer the SBC put in its 2xx before the media path is completed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sdp/session_description.hpp"

namespace sbc::sdp {

/// The format the SBC's own offers give `c` (the table build_offer uses;
/// codec_plan offers the same when it builds a leg's offer afresh).
format own_format(config::codec c);

/// One audio stream on `p.local_address`:`p.local_rtp_port` (RTCP on the
/// next port, RFC 3605; a=rtcp-mux too when `p.rtcp_mux` asks, RFC 5761)
/// listing `codecs` in order of preference (RFC 3264
/// 5.1), with static payload types for PCMU (0), PCMA (8), G722 (9,
/// "G722/8000": RFC 3551 4.5.2's RTP clock, though it samples at 16000 Hz)
/// and G729 (18, Annex B off: RFC 4856 says it is on unless annexb=no), and
/// dynamic ones for opus (111, opus/48000/2, RFC 7587 6.1) and
/// telephone-event (101, events 0-16, RFC 4733 7.1.1); a=ptime:20 and
/// a=sendrecv; the SBC's ICE-lite attributes when `p.ice` is set (as
/// rewrite() writes them). An error when `codecs` has no audio codec.
result<std::string> build_offer(const std::vector<config::codec>& codecs, const rewrite_params& p);

/// Whether `answer` answers `offer` (RFC 3264 6): its first audio stream is
/// not rejected (port 0) and names at least one audio format the offer's
/// first audio stream had — static payload types by number, dynamic ones by
/// encoding name and clock rate. telephone-event and CN alone do not carry
/// a call. The error says what does not fit.
result<bool> check_answer(std::string_view offer, std::string_view answer);

}  // namespace sbc::sdp
