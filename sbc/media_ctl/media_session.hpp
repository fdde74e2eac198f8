// A call's media session, between the SDP its two dialogs carry and the data
// plane (dataplane::media_engine) that anchors the audio.
//
// It takes the SDP a leg's peer sent (where that peer receives, its SRTP
// keys, its codecs), programs the engine with it, and writes the SDP the
// other leg is sent: the SBC's own media address and port, its own keys
// (RFC 4568 never carries keys across), and the codecs the negotiation
// (sdp/codec_plan.hpp) chose, with a codec chain each way when the legs
// share none. Transfers re-plan one side of it towards a new party.
//
// Object graph: a call owns one media_session; the session borrows the media
// engine (which outlives every call) and the trunk configurations (which
// outlive the calls made under them). The SDP identity of each dialog (its
// o= line and the last SDP sent, RFC 3264 8) belongs to the dialog and is
// passed in where SDP is written. Everything runs on the su_root thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "sbc/common/result.hpp"
#include "sbc/config/config.hpp"
#include "sbc/media_ctl/media_state.hpp"
#include "sbc/sdp/codec_plan.hpp"
#include "sbc/sdp/ice_leg.hpp"
#include "sbc/sdp/sdes_leg.hpp"
#include "sbc/sdp/session_description.hpp"

namespace sbc::media_ctl {

using dataplane::side;

/// Whether an SDP body is an offer or an answer (RFC 3264).
enum class sdp_role { offer, answer };

/// What the SBC has said in SDP on one dialog: the o= session id, which
/// stays for the dialog's life, its version, which grows whenever the SDP
/// changes (RFC 3264 8), and the last SDP sent. Part of the dialog.
struct sdp_origin {
    std::uint64_t session_id = 0;
    std::uint64_t version = 1;
    std::string last_sent;

    /// A new identity: a random id that fits the 63 bits NTP-style ids use
    /// (RFC 4566 5.2), version 1, nothing sent.
    static sdp_origin fresh();
};

/// `sdp` with its media two-way again: a=sendonly/recvonly/inactive become
/// a=sendrecv (RFC 3264 8.4: hold undone).
std::string sendrecv(const std::string& sdp);
/// `sdp` with the version of its o= line replaced (RFC 4566 5.2).
std::string with_origin_version(const std::string& sdp, std::uint64_t version);

/// The configuration of the trunk of that name; nullptr when there is none.
using trunk_lookup = std::function<const config::trunk_config*(const std::string& name)>;

class media_session {
public:
    /// `log_id` names the call in log lines.
    media_session(dataplane::media_engine& engine, dataplane::session_id id, std::string log_id);
    ~media_session();
    media_session(const media_session&) = delete;
    media_session& operator=(const media_session&) = delete;

    /// Leg `s` is served by `trunk` through the SBC's `media_address`, with
    /// a new SRTP keying per the trunk's srtp mode and new ICE credentials
    /// per its ice mode: the call's legs, and leg b again when a failover
    /// moves it to another trunk.
    void set_leg(side s, const config::trunk_config& trunk, std::string media_address);
    /// Takes a port pair on each leg's media address.
    result<bool> open();
    bool is_open() const noexcept { return _open; }

    /// The SBC's RTP port on leg `s` (RTCP is the next one); 0 before open().
    std::uint16_t rtp_port(side s) const noexcept { return _ports.rtp[dataplane::index(s)]; }
    const std::string& media_address(side s) const noexcept { return of(s).media_address; }

    /// SDP from leg `from`'s peer: programs where it receives, its SRTP
    /// keys, RTCP multiplexing and ICE (sdp/ice_leg.hpp: an answer's ICE
    /// now, an offer's with the SBC's answer), and remembers its formats
    /// and direction.
    /// RFC 5761 5.1.1: an offer with a=rtcp-mux on a trunk whose rtcp_mux
    /// is not off, or an answer with it to an offer of the SBC's that had
    /// it, muxes the leg; any other SDP on the leg ends muxing.
    result<sdp::session_description> accept(side from, std::string_view body, sdp_role role);
    /// accept(), then the SDP for the other leg, written with that leg's
    /// identity `to`: the same role, or the SBC's offer built from an
    /// answer where it converted a delayed offer (`in` != `out`).
    result<std::string> translate(side from, std::string_view body, sdp_role in, sdp_role out,
                                  sdp_origin& to);
    /// The SBC's own offer towards leg `to` (a delayed offer converted,
    /// early_offer: convert): the last SDP sent there, or one built from the
    /// trunk's codecs.
    result<std::string> own_offer(side to, sdp_origin& origin);

    /// What a transfer target behind `target` is offered on the referrer's
    /// side (`referrer_sent`: the SDP the referrer was sent last; `target_origin`:
    /// the o= line the offer carries on the target's dialog; `stays_sent`:
    /// the SDP the party that stays was sent last). Keys come from `sdes`,
    /// the target trunk's own. A target reached through another media
    /// address than the referrer's gets a port pair prepared there; `port`
    /// is set to the RTP port offered. The codecs are planned as for a new
    /// call between the party that stays and the target's trunk.
    result<std::string> transfer_offer(side referrer, const std::string& referrer_sent,
                                       const std::string& via_address,
                                       const config::trunk_config& target, sdp::sdes_leg& sdes,
                                       const sdp_origin& target_origin,
                                       const std::string& stays_sent, std::uint16_t& port);
    /// The transfer ended without its target: any prepared pair is let go.
    void cancel_transfer(side referrer);
    /// The transfer's target takes leg `s`: its trunk, its keying, and the
    /// pair prepared for it when it is reached through `media_address`.
    void take_over(side s, const config::trunk_config& trunk, std::unique_ptr<sdp::sdes_leg> sdes,
                   const std::string& media_address, std::uint16_t port);
    /// The target's answer: programmed, and planned against the offer of
    /// the party that stays.
    result<bool> accept_transfer_answer(side referrer, std::string_view body);
    /// Local ringback (trunk `ringback: local`): the SBC answers the offer
    /// leg `to`'s peer made, which the other leg has not answered yet, on
    /// its own (sdp::plan_local_answer: the first of the offer's codecs,
    /// in the trunk's order, the SBC can encode), written with that leg's
    /// identity `origin`, and plays the trunk's ringback tone to it in that
    /// codec. That answer stands for the rest of the offer/answer exchange
    /// (RFC 3261 13.2.1: the 2xx must carry the same answer as the 1xx):
    /// the other leg's answer, when it comes, is planned against it
    /// (relayed when it is the same codec, transcoded otherwise) and
    /// translate() gives the same SDP again. An error, with nothing
    /// answered or played, when no codec of the offer can be encoded.
    result<std::string> start_ringback(side to, sdp_origin& origin);
    /// The tone stops (the callee's media, or its final answer, came); the
    /// answer start_ringback gave still stands.
    void stop_ringback();
    /// The offer/answer exchange the local answer belonged to is over (the
    /// call was answered): later answers are the peers' own again.
    void settle_ringback() noexcept { _ringback.reset(); }
    /// A local ringback tone plays to leg `s`'s peer.
    bool ringback_playing(side s) const noexcept {
        return _ringback && _ringback->playing && _ringback->to == s;
    }
    /// The SBC answered leg `s` on its own for local ringback (it played,
    /// or still plays).
    bool ringback_answered(side s) const noexcept { return _ringback && _ringback->to == s; }

    /// Forgets the offer being negotiated (a converted offer's answer came).
    void drop_pending_offer() noexcept { _pending.reset(); }

    /// True when neither peer has put the media on hold (timeouts apply).
    bool media_expected() const noexcept;
    /// The SRTP suite in force on leg `s`; nullopt while it is plain RTP.
    std::optional<config::srtp_suite> srtp_suite(side s) const noexcept;
    /// Codec chains run (transcoding, or DTMF conversion only).
    bool has_chains() const noexcept { return _transcoding.has_value(); }
    /// The codecs differ: a codec chain each way.
    bool transcoded() const noexcept { return _transcoding && _transcoding->codecs; }
    /// The codec ("PCMA/8000") and ptime (0: the peer's own) negotiated on
    /// leg `s`; "" until an answer settled it.
    const std::string& codec(side s) const noexcept { return of(s).codec; }
    unsigned ptime(side s) const noexcept { return of(s).ptime; }
    /// Whether the SBC answers ICE checks on leg `s`, and its ufrag there
    /// ("" when it has stated none).
    bool ice_in_use(side s) const noexcept { return of(s).ice && of(s).ice->in_use(); }
    std::string ice_ufrag(side s) const;
    /// A digit from leg `from`'s peer, for the chain towards the other leg.
    void send_dtmf(side from, char digit, std::uint32_t duration_ms);
    /// The data plane saw an SRTP stream of leg `ev.s` wrap, or counted
    /// the SRTCP the SBC sends there (media_event::kind::srtp_rollover).
    /// state() carries it from now on, until the leg's keys change. False
    /// when the leg has no SRTP (nothing to note).
    bool note_srtp_rollover(const dataplane::media_event& ev);
    std::optional<dataplane::session_stats> stats() const;
    /// The session as data (media_state.hpp), with the addresses the data
    /// plane latched so far.
    media_state state() const;
    /// Rebuilds the session `s` describes (state() of a session on another
    /// node, whose media address moved here) on a session never opened: its
    /// legs (trunks found by `trunks`, media addresses), the same RTP ports
    /// (media_engine::open_session_at), SRTP with the same keys, RTCP
    /// multiplexing, ICE credentials, payload type maps, codec chains and
    /// the last offer. Each peer's media goes where it was latched (else
    /// where its SDP said), before it sends anything. The media timeout,
    /// and a local ringback tone that was playing, are the caller's.
    /// An error naming what could not be rebuilt (an unknown trunk, a port
    /// taken, keys or codecs the engine refuses); the session is then as
    /// before, nothing open.
    result<bool> restore(const media_state& s, const trunk_lookup& trunks);

private:
    /// One leg's side of the session.
    struct leg_media {
        const config::trunk_config* trunk = nullptr;
        std::string media_address;
        std::unique_ptr<sdp::sdes_leg> sdes;
        unsigned srtp_programmed = 0;  ///< sdes->generation() the engine has
        bool srtp_in_engine = false;   ///< the engine has SRTP contexts on this side
        /// Where the peer's stream and the SBC's stand (note_srtp_rollover,
        /// or a restored state), for the keys of sdes->generation()
        /// `positions_generation`, `positions_keys`: a direction whose key
        /// changes starts new streams at ROC 0.
        std::optional<srtp_position_state> peer_stream;
        std::optional<srtp_position_state> local_stream;
        std::optional<srtcp_position_state> local_srtcp;
        unsigned positions_generation = 0;
        std::optional<sdp::srtp_keys> positions_keys;
        /// SRTCP indices the engine's protect context used up before its
        /// first real packet of stream local_srtcp->ssrc (a restored leg),
        /// which the worker's count does not include.
        std::uint32_t srtcp_skipped = 0;
        sdp::media_formats peer_formats;
        sdp::direction peer_direction = sdp::direction::sendrecv;
        bool peer_hold_address = false;
        /// Where the engine was told the peer receives (set_remote).
        std::optional<dataplane::ip_endpoint> peer_rtp;
        std::optional<dataplane::ip_endpoint> peer_rtcp;
        /// A restored leg: where the peer's media was latched on the node
        /// the call came from, until this engine latches or new SDP comes.
        std::optional<dataplane::ip_endpoint> restored_latch;
        std::string codec;
        unsigned ptime = 0;
        /// The payload type map in force towards this leg's peer, so an
        /// answer repeated (183, then 200) changes nothing.
        dataplane::payload_type_map payload_types{};
        /// RTCP multiplexing (RFC 5761): the SBC's last offer on this leg
        /// carried a=rtcp-mux, and the leg is muxed (the engine was told).
        bool mux_offered = false;
        bool muxed = false;
        /// ICE-lite on the leg (RFC 8445 2.5), and the credentials the
        /// engine was last given for it (nullopt: none).
        std::unique_ptr<sdp::ice_leg> ice;
        std::optional<dataplane::ice_credentials> ice_programmed;
    };
    /// The offer being negotiated: who made it, its formats, and what the
    /// SBC offered the other leg for it.
    struct pending_offer {
        side offerer = side::a;
        sdp::media_formats offer;
        sdp::offer_plan plan;
        std::string body;  ///< the offer as it came, which a local answer rewrites
    };
    /// The SBC's own answer to leg `to` (start_ringback): its audio format
    /// and the SDP sent, which every later answer to that leg repeats.
    struct local_answer {
        side to = side::a;
        sdp::format format;
        std::string sdp;
        bool playing = true;
    };
    /// The two chain ends in force (offerer's side first), when the media
    /// runs through codec chains (transcoding, or DTMF conversion).
    struct transcoding {
        side offerer = side::a;
        sdp::chain_side offerer_side;
        sdp::chain_side answerer_side;
        bool codecs = true;  ///< the codecs differ; else the chains carry DTMF only
    };

    /// restore()'s steps: the legs from the state (nothing opened), and the
    /// engine programmed for them once the session is open.
    result<bool> restore_legs(const media_state& s, const trunk_lookup& trunks);
    result<bool> program_restored(const media_state& s);

    leg_media& of(side s) noexcept { return _legs[dataplane::index(s)]; }
    const leg_media& of(side s) const noexcept { return _legs[dataplane::index(s)]; }
    /// Where leg `l`'s protect context is to continue its streams (a
    /// restored leg); sets l.srtcp_skipped.
    std::vector<dataplane::srtp::stream_position> local_positions(leg_media& l);
    /// Hands leg `s`'s SRTP keys to the engine when they changed.
    result<bool> program_srtp(side s);
    /// Gives the engine leg `s`'s ICE credentials when they changed.
    void program_ice(side s);
    /// Whether the SBC's offer to leg `to` carries a=rtcp-mux (remembered
    /// for the answer).
    sdp::rtcp_mux_attribute offer_rtcp_mux(side to);
    /// SDP for leg `to` from `sd`; `formats` and `ptime` replace the peer's
    /// (empty and 0 pass them), `dir` states the stream's direction.
    result<std::string> rewrite_for(side to, const sdp::session_description& sd, sdp_role role,
                                    sdp_origin& origin, const std::vector<sdp::format>& formats,
                                    unsigned ptime, sdp::direction dir);
    /// The direction SDP from `from` states on the other leg: a hold in the
    /// style of that leg's trunk, an answer fitted to the offer it answers
    /// (sdp/hold_direction.hpp). Remembers a relayed offer's directions.
    sdp::direction relayed_direction(side from, const sdp::session_description& sd, sdp_role in,
                                     sdp_role out);
    /// Codec negotiation for an offer from `from` or an answer to it.
    result<bool> plan_codecs(side from, const sdp::session_description& sd, sdp_role role,
                             std::vector<sdp::format>& formats, unsigned& ptime);
    /// The offer plan between two trunks, with telephone-event added where
    /// `to_trunk` takes events the offerer's digits do not come as.
    result<sdp::offer_plan> plan_offer_between(const sdp::media_formats& offer,
                                               const config::trunk_config& from_trunk,
                                               const config::trunk_config& to_trunk);
    /// The formats leg `s`'s peer uses now (`sent`: the SBC's last SDP there).
    result<sdp::media_formats> formats_in_use(side s, const std::string& sent) const;
    /// Programs the engine for an answer plan: a codec chain each way when
    /// transcoding or converting DTMF, none when relaying.
    result<bool> program_chains(const sdp::answer_plan& plan, side offerer,
                                const sdp::media_formats& answer);
    result<bool> install_chains(const transcoding& t);
    /// RFC 3264 6.1 renumbering of relayed streams; none when transcoding.
    void program_payload_types(const sdp::answer_plan& plan, side offerer);

    dataplane::media_engine& _engine;
    dataplane::session_id _id;
    std::string _log_id;
    bool _open = false;
    dataplane::session_ports _ports{};
    std::array<leg_media, 2> _legs;
    std::optional<pending_offer> _pending;
    /// The directions of the last offer relayed: what its offerer stated and
    /// what the SBC offered the other leg, for the answers (183, 200) that
    /// come back to the offerer.
    struct offer_directions {
        side offerer = side::a;
        sdp::direction received = sdp::direction::sendrecv;
        sdp::direction sent = sdp::direction::sendrecv;
    };
    std::optional<offer_directions> _directions;
    std::optional<transcoding> _transcoding;
    std::optional<local_answer> _ringback;
};

}  // namespace sbc::media_ctl
