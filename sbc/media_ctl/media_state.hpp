// A media session as data: what media_session::state() reads out of a live
// session, for the call's state document (b2bua/call_state.hpp) that a
// standby node rebuilds the call from (media_session::restore).
//
// Plain values with equality, so a round trip through JSON can be checked
// field by field. SRTP keys are sbc::secret: the document marks them so a
// store encrypts them. An SRTP leg also carries where each direction's
// stream stands (its SSRC and rollover counter, RFC 3711 3.3.1), as the data
// plane last reported a wrap of its sequence numbers (media_event::kind::
// srtp_rollover), so the node that takes over continues the index both
// peers count; and, to within 256, how many SRTCP packets the SBC sent the
// peer, so that node's SRTCP index starts past them (RFC 3711 3.4).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "sbc/common/secret.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sdp/codec_plan.hpp"
#include "sbc/sdp/session_description.hpp"

namespace sbc::media_ctl {

/// An address and port, as the document writes them.
struct endpoint_state {
    std::string address;  ///< IP literal, no brackets
    std::uint16_t port = 0;
    bool operator==(const endpoint_state&) const = default;
};

/// Where one SRTP stream stands: its SSRC and rollover counter (RFC 3711
/// 3.3.1), as of the last wrap of its sequence numbers.
struct srtp_position_state {
    std::uint32_t ssrc = 0;
    std::uint32_t roc = 0;
    bool operator==(const srtp_position_state&) const = default;
};

/// How many SRTCP packets of stream `ssrc` the SBC sent its peer: the
/// first, then every 256th (the SRTCP index, RFC 3711 3.4, is below
/// `sent` + 256).
struct srtcp_position_state {
    std::uint32_t ssrc = 0;
    std::uint32_t sent = 0;
    bool operator==(const srtcp_position_state&) const = default;
};

/// The SRTP keys in force on one leg (RFC 4568: one key each way).
struct srtp_state {
    config::srtp_suite suite = config::srtp_suite::aes_cm_128_hmac_sha1_80;
    secret peer;   ///< master key || salt the peer sends with
    secret local;  ///< master key || salt the SBC sends with
    /// The peer's stream to the SBC and the SBC's to the peer, under these
    /// keys; nullopt until its sequence numbers first wrapped (ROC 0).
    std::optional<srtp_position_state> peer_stream;
    std::optional<srtp_position_state> local_stream;
    /// The SBC's SRTCP to the peer under these keys; nullopt before any.
    std::optional<srtcp_position_state> local_srtcp;
    bool operator==(const srtp_state&) const = default;
};

/// ICE-lite on one leg (RFC 8445 2.5): the credentials the SBC stated there
/// and the peer's. The passwords key MESSAGE-INTEGRITY: secrets.
struct ice_state {
    bool in_use = false;  ///< the data plane answers the peer's checks
    std::string local_ufrag;
    secret local_pwd;
    std::string peer_ufrag;  ///< "" when the peer stated none
    secret peer_pwd;
    bool operator==(const ice_state&) const = default;
};

/// One end of a codec chain (sdp::chain_side without what is derived).
struct chain_side_state {
    sdp::format format;  ///< as that peer's SDP states it
    unsigned ptime = 20;
    std::uint8_t received_payload_type = 0;
    bool annexb = false;  ///< G.729 Annex B on that side
    std::optional<sdp::event_format> events;
    bool operator==(const chain_side_state&) const = default;
};

/// One leg's side of the session.
struct media_leg_state {
    std::string trunk;
    std::string media_address;   ///< the SBC's
    std::uint16_t rtp_port = 0;  ///< the SBC's; RTCP is the next one
    /// Where the peer said it receives (its last SDP), and where its RTP
    /// really comes from once the data plane latched it (symmetric RTP).
    std::optional<endpoint_state> peer_rtp;
    std::optional<endpoint_state> peer_rtcp;
    std::optional<endpoint_state> latched_rtp;
    /// RTCP multiplexed on the RTP port (RFC 5761), as offer and answer agreed.
    bool rtcp_mux = false;
    std::optional<srtp_state> srtp;
    /// nullopt: the SBC stated no ICE credentials on the leg (`ice: off`).
    std::optional<ice_state> ice;
    sdp::media_formats peer_formats;
    sdp::direction peer_direction = sdp::direction::sendrecv;
    bool peer_hold_address = false;
    std::string codec;  ///< "PCMA/8000"; "" until an answer settled it
    unsigned ptime = 0;
    std::vector<dataplane::payload_type_map::entry> payload_types;  ///< towards the peer
    /// The SBC plays its local ringback tone to this leg's peer.
    bool local_ringback = false;
    bool operator==(const media_leg_state&) const = default;
};

/// The codec chains in force: transcoding, or DTMF conversion only.
struct transcoding_state {
    dataplane::side offerer = dataplane::side::a;
    chain_side_state offerer_side;
    chain_side_state answerer_side;
    bool codecs = true;  ///< the codecs differ; else the chains carry DTMF only
    bool operator==(const transcoding_state&) const = default;
};

/// The last offer: who made it, its formats, and the offer plan; kept after
/// its answer, which may come again (a 183, then the 200).
struct pending_offer_state {
    dataplane::side offerer = dataplane::side::a;
    sdp::media_formats offer;
    std::vector<sdp::format> planned;  ///< what the SBC offered the other leg
    unsigned planned_ptime = 0;
    bool transcoding = false;
    bool operator==(const pending_offer_state&) const = default;
};

struct media_state {
    bool open = false;
    std::array<media_leg_state, 2> legs;  ///< indexed by dataplane::index(side)
    std::optional<transcoding_state> transcoding;
    std::optional<pending_offer_state> pending;
    bool operator==(const media_state&) const = default;
};

}  // namespace sbc::media_ctl
