// SDP as the B2BUA needs it: what a peer's offer or answer says about where it
// receives audio, and the SDP the SBC sends instead (RFC 4566, RFC 3264).
//
// Parsing uses sofia-sip's SDP parser; this module owns the sofia handles and
// the rest of the code sees only these types.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/common/result.hpp"
#include "sbc/sdp/ice.hpp"

namespace sbc::sdp {

/// RFC 3264 6.1 / RFC 4566 6: the direction attribute of the anchored stream.
enum class direction { sendrecv, sendonly, recvonly, inactive };

const char* to_string(direction d) noexcept;

/// Where the peer receives the anchored (first audio) stream.
struct media_target {
    dataplane::ip_endpoint rtp;  ///< c= (media level, else session level) and m= port
    /// a=rtcp (RFC 3605) if present, else RTP port + 1 on the RTP address
    /// (the RTP endpoint itself when the port is 0).
    dataplane::ip_endpoint rtcp;
    direction dir = direction::sendrecv;
    /// c=0.0.0.0 (RFC 3264 8.4, old-style hold) or m= port 0 (stream rejected).
    bool on_hold_address = false;
    bool port_zero = false;
    /// The stream's profile is secure RTP: RTP/SAVP or RTP/SAVPF (RFC 3711 12).
    bool secure = false;
    /// a=rtcp-mux (RFC 5761 5.1.1): in an offer, the peer can take RTCP on
    /// the RTP port; in an answer, it agreed to.
    bool rtcp_mux = false;
};

/// The direction `t` states once an old-style hold is read (RFC 3264 8.4):
/// c=0.0.0.0 is a=sendonly, or a=inactive if the peer was not sending
/// either; otherwise its direction attribute.
direction stated_direction(const media_target& t) noexcept;

/// What a rewritten stream says about RTCP multiplexing (RFC 5761 5.1.1).
enum class rtcp_mux_attribute {
    none,    ///< no a=rtcp-mux; a=rtcp names RTP + 1
    offer,   ///< a=rtcp-mux, and a=rtcp naming RTP + 1 for a peer that declines (RFC 5761 5.1.3)
    answer,  ///< a=rtcp-mux agreed, and a=rtcp naming the RTP port, where RTCP now goes
};

/// One payload format of the anchored stream: an entry of the m= line with
/// what its a=rtpmap and a=fmtp lines say (RFC 4566 6, RFC 3264 5.1).
struct format {
    std::uint8_t payload_type = 0;  ///< 0-127 (RFC 3550 5.1: seven bits)
    /// rtpmap encoding name as the peer spelled it ("PCMU", "opus"); names
    /// compare case-insensitively (RFC 4566 6). "" for a dynamic payload
    /// type without an rtpmap (nothing can be known about it).
    std::string encoding;
    std::uint32_t clock_rate = 0;  ///< rtpmap clock rate; 0 when unknown
    unsigned channels = 1;         ///< rtpmap encoding parameters (audio: channels)
    std::string fmtp;              ///< the a=fmtp value after the payload type; "" if none

    bool operator==(const format&) const = default;
};

/// What the SBC puts in place of the peer's addresses.
struct rewrite_params {
    std::string local_address;            ///< the SBC's media address on the leg the SDP goes to
    std::uint16_t local_rtp_port = 0;     ///< RTCP is this + 1
    std::uint64_t origin_session_id = 0;  ///< o= sess-id; stable for the leg
    std::uint64_t origin_version =
        0;  ///< o= sess-version; +1 whenever the SDP changes (RFC 3264 8)
    /// The profile the stream leaves with: RTP/SAVP if set, else RTP/AVP
    /// (RTP/SAVPF and RTP/AVPF where the peer's had feedback).
    bool secure = false;
    /// a=crypto values (RFC 4568) the SBC puts on the stream: its own keys.
    /// They hold key material; never log them.
    std::vector<std::string> crypto{};
    /// Empty: the peer's payload formats pass unchanged. Otherwise the
    /// stream offers or answers exactly these, in this order: the m= line
    /// lists their payload types, each gets an a=rtpmap (and an a=fmtp when
    /// its fmtp is not empty), and the peer's rtpmap and fmtp lines go; the
    /// peer's a=rtcp-fb lines stay only for payload types that still name
    /// the codec they were stated for. Formats whose payload type is above
    /// 127 or whose encoding or fmtp could not be written on one SDP line
    /// are left out. A stream the peer rejected (port 0) stays as it was.
    /// Used when the SBC negotiates codecs per leg (sdp/codec_plan.hpp).
    std::vector<format> formats{};
    /// Non-zero: the stream says a=ptime:<ptime> (RFC 4566 6) and the peer's
    /// a=ptime and a=maxptime go: the SBC packetizes itself (transcoding).
    /// 0: the peer's pass unchanged.
    unsigned ptime = 0;
    /// a=rtcp-mux of the stream; the peer's own never passes.
    rtcp_mux_attribute rtcp_mux = rtcp_mux_attribute::none;
    /// The stream's direction attribute; none: the peer's, as
    /// stated_direction() reads it (how holds cross, sdp/hold_direction.hpp).
    std::optional<direction> dir{};
    /// Set: the SBC is an ICE-lite agent on the leg (RFC 8445 2.5). The
    /// session says a=ice-lite and a=ice-options:ice2, the stream these
    /// credentials and a host candidate on `local_address` per component
    /// (component 2 only when `rtcp_mux` is not `answer`). Unset: no ICE.
    std::optional<ice_attributes> ice{};
};

class session_description {
public:
    /// Parses a body of type application/sdp. Errors name what is wrong
    /// ("no audio m= line", "bad c= address", sofia's parser message).
    /// Refused as well: an m= line outside RFC 4566's grammar, a first audio
    /// stream without a c= that applies to it, a c= that is a host name,
    /// multicast, or not of its address type, and a malformed a=rtcp.
    /// Called on the su_root thread; no I/O.
    static result<session_description> parse(std::string_view body);

    session_description(session_description&&) noexcept;
    session_description& operator=(session_description&&) noexcept;
    ~session_description();

    /// The first audio stream's target. A session whose audio m= line has no
    /// usable connection address is refused by parse(), so this always holds.
    const media_target& audio() const noexcept { return _audio; }

    /// The anchored stream's a=crypto values (RFC 4568), in order. They hold
    /// the peer's keys: parse them with sdp::parse_crypto, never log them.
    std::vector<std::string> crypto_attributes() const;

    /// The peer's ICE credentials (RFC 8839 5.4: a=ice-ufrag and a=ice-pwd
    /// on the anchored stream, else at session level). nullopt when either
    /// is missing or outside RFC 8839's grammar (4 to 256 ice-chars for the
    /// ufrag, 22 to 256 for the pwd): ICE is then not used with the peer.
    std::optional<ice_attributes> ice() const;

    /// The anchored stream's payload formats in m= line order. Static payload
    /// types without an a=rtpmap get their RFC 3551 6 (Table 4) names:
    /// 0 PCMU, 3 GSM, 4 G723, 5-6 and 16-17 DVI4, 7 LPC, 8 PCMA, 9 G722 (its
    /// RTP clock is 8000 though it samples at 16 kHz), 10-11 L16, 12 QCELP,
    /// 13 CN (RFC 3389), 14 MPA, 15 G728, 18 G729. Other payload types
    /// without an rtpmap get an empty encoding and clock rate 0; format
    /// entries that are not payload type numbers are skipped.
    std::vector<format> formats() const;

    /// The anchored stream's a=ptime in milliseconds (RFC 4566 6: media
    /// level, else session level); 0 when absent or not a number.
    unsigned ptime() const;

    /// The SDP to send on the other leg: o= and s= are the SBC's own, c= names
    /// only `p.local_address`, the first audio m= line gets `p.local_rtp_port`,
    /// every other m= line port 0 (RFC 3264 6: declined), a=rtcp points at our
    /// RTCP port (the RTP port in a muxed answer, `p.rtcp_mux`), and ICE attributes (candidates,
    /// ufrag, pwd) of the peer are dropped; the SBC's own are `p.ice`'s. Codecs, ptime, fmtp and
    /// direction attributes pass unchanged, unless `p.formats` or `p.ptime` replace them. The
    /// profile and the a=crypto lines are `p`'s: the peer's keys never cross to the other leg.
    ///
    /// Details: the stream's attributes pass through an allow-list (rtpmap,
    /// fmtp, ptime, maxptime, rtcp-fb, direction); everything else
    /// of the peer's, session-level attributes, i=, u=, e=, p=, k= and
    /// rtcp-mux included, is dropped (`p.rtcp_mux` states the SBC's own). The direction is always
    /// stated on the stream: `p.dir`, else stated_direction() of the peer's (so c=0.0.0.0
    /// never leaves the SBC). b= lines pass when sofia can name their type (CT, AS;
    /// see the .cpp). Lines end in CRLF; the result parses with parse(). The same input and params
    /// give the same text, so callers may compare texts to decide on a new o= version. Returns ""
    /// only if sofia cannot allocate memory.
    std::string rewrite(const rewrite_params& p) const;

private:
    struct impl;
    explicit session_description(std::unique_ptr<impl> i);
    std::unique_ptr<impl> _impl;
    media_target _audio;
};

}  // namespace sbc::sdp
