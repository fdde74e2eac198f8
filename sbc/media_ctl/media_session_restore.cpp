// media_session::restore(): a session rebuilt from its state (media_state.hpp)
// on the node that took its call over, on the ports and keys the peers know.
//
// What cannot come across is started afresh: the codec chains' encoder and
// decoder state, and the SSRC, sequence numbers and timestamps the SBC
// sends a transcoded stream with (a new source to the peer, RFC 3550 8.2),
// as after any re-INVITE that installs new chains.
#include <fmt/format.h>

#include <cstdlib>
#include <utility>

#include "dataplane/srtp/stream_crypto.hpp"
#include "sbc/common/log.hpp"
#include "sbc/media_ctl/media_session.hpp"

namespace sbc::media_ctl {

namespace {

constexpr log::logger restore_log{"media"};

char leg_name(side s) { return s == side::a ? 'a' : 'b'; }

std::string text_of(const secret& s) { return std::string(s.bytes().begin(), s.bytes().end()); }

// `e` as an address, nullopt for none; false when it is no IP literal.
bool endpoint_from(const std::optional<endpoint_state>& e,
                   std::optional<dataplane::ip_endpoint>& out) {
    out.reset();
    if (!e) {
        return true;
    }
    out = dataplane::ip_endpoint::from_string(e->address, e->port);
    return out.has_value();
}

sdp::chain_side chain_side_from(const chain_side_state& c) {
    sdp::chain_side out;
    out.sdp = c.format;
    out.ptime = c.ptime;
    out.audio = sdp::to_audio_format(c.format, c.ptime);
    // The plan decided Annex B from both SDPs of the leg (RFC 4856 2.1.9).
    out.audio.annexb = c.annexb;
    out.received_payload_type = c.received_payload_type;
    out.events = c.events;
    return out;
}

}  // namespace

result<bool> media_session::restore(const media_state& s, const trunk_lookup& trunks) {
    if (_open) {
        return make_error("the media session is open already");
    }
    auto failed = [this](std::string why) {
        for (auto& l : _legs) {
            l = leg_media{};
        }
        _transcoding.reset();
        _pending.reset();
        _directions.reset();
        _ringback.reset();
        return make_error(std::move(why));
    };
    if (auto built = restore_legs(s, trunks); !built) {
        return failed(built.error_message());
    }
    if (!s.open) {
        return true;  // a session never opened: its legs are all there is
    }
    const auto& a = s.legs[dataplane::index(side::a)];
    const auto& b = s.legs[dataplane::index(side::b)];
    auto opened =
        _engine.open_session_at(_id, a.media_address, a.rtp_port, b.media_address, b.rtp_port);
    if (!opened.ok) {
        return failed(std::move(opened.error));
    }
    _open = true;
    _ports = opened.ports;
    if (auto programmed = program_restored(s); !programmed) {
        _engine.close_session(_id);
        _open = false;
        _ports = {};
        return failed(programmed.error_message());
    }
    restore_log.info("call {}: media restored on {}:{} (trunk {}) and {}:{} (trunk {})", _log_id,
                     a.media_address, a.rtp_port, a.trunk, b.media_address, b.rtp_port, b.trunk);
    return true;
}

result<bool> media_session::restore_legs(const media_state& s, const trunk_lookup& trunks) {
    for (const auto sd : {side::a, side::b}) {
        const auto& st = s.legs[dataplane::index(sd)];
        const config::trunk_config* trunk = trunks ? trunks(st.trunk) : nullptr;
        if (trunk == nullptr) {
            return make_error(
                fmt::format("leg {}: no trunk '{}' in the configuration", leg_name(sd), st.trunk));
        }
        auto& l = of(sd);
        l = leg_media{};
        l.trunk = trunk;
        l.media_address = st.media_address;
        l.sdes = std::make_unique<sdp::sdes_leg>(trunk->srtp, trunk->srtp_suites,
                                                 &dataplane::srtp::random_fill);
        if (st.srtp) {
            l.sdes->restore(sdp::srtp_keys{st.srtp->suite, sdp::sdes_key(st.srtp->peer.bytes()),
                                           sdp::sdes_key(st.srtp->local.bytes())});
            // program_srtp continues the streams where they stood.
            l.peer_stream = st.srtp->peer_stream;
            l.local_stream = st.srtp->local_stream;
            l.local_srtcp = st.srtp->local_srtcp;
            l.positions_generation = l.sdes->generation();
            l.positions_keys = sdp::srtp_keys{st.srtp->suite, sdp::sdes_key(st.srtp->peer.bytes()),
                                              sdp::sdes_key(st.srtp->local.bytes())};
        }
        l.ice = std::make_unique<sdp::ice_leg>(trunk->ice);
        if (st.ice) {
            std::optional<sdp::ice_attributes> peer;
            if (!st.ice->peer_ufrag.empty()) {
                peer = sdp::ice_attributes{st.ice->peer_ufrag, text_of(st.ice->peer_pwd)};
            }
            l.ice->restore(sdp::ice_attributes{st.ice->local_ufrag, text_of(st.ice->local_pwd)},
                           std::move(peer), st.ice->in_use);
        }
        if (!endpoint_from(st.peer_rtp, l.peer_rtp) || !endpoint_from(st.peer_rtcp, l.peer_rtcp) ||
            !endpoint_from(st.latched_rtp, l.restored_latch)) {
            return make_error(fmt::format("leg {}: a peer address is no IP address", leg_name(sd)));
        }
        l.peer_formats = st.peer_formats;
        l.peer_direction = st.peer_direction;
        l.peer_hold_address = st.peer_hold_address;
        l.codec = st.codec;
        l.ptime = st.ptime;
        for (const auto& e : st.payload_types) {
            if (!l.payload_types.add(e.from, e.to)) {
                return make_error(fmt::format("leg {}: payload type map {}->{} cannot be relayed",
                                              leg_name(sd), e.from, e.to));
            }
        }
        l.muxed = st.rtcp_mux;
        l.mux_offered = st.rtcp_mux;
    }
    if (s.transcoding) {
        const auto& t = *s.transcoding;
        _transcoding = transcoding{t.offerer, chain_side_from(t.offerer_side),
                                   chain_side_from(t.answerer_side), t.codecs};
    }
    if (s.pending) {
        const auto& p = *s.pending;
        _pending = pending_offer{
            p.offerer, p.offer, sdp::offer_plan{p.planned, p.planned_ptime, p.transcoding}, {}};
    }
    return true;
}

result<bool> media_session::program_restored(const media_state& s) {
    for (const auto sd : {side::a, side::b}) {
        auto& l = of(sd);
        if (auto programmed = program_srtp(sd); !programmed) {
            return make_error(fmt::format("leg {}: {}", leg_name(sd), programmed.error_message()));
        }
        if (l.muxed) {
            _engine.set_rtcp_mux(_id, sd, true);
        }
        // Where the peer's media was latched (symmetric RTP): media flows to
        // it before the peer's first packet reaches this node, as it did.
        const auto& rtp = l.restored_latch ? l.restored_latch : l.peer_rtp;
        if (rtp) {
            // A muxed peer takes RTCP with its RTP (RFC 5761); else where its
            // SDP said, which latching corrects as for a new call.
            auto rtcp = l.muxed || !l.peer_rtcp ? *rtp : *l.peer_rtcp;
            if (!l.muxed && !l.peer_rtcp) {
                rtcp.set_port(static_cast<std::uint16_t>(rtp->port() + 1));  // RFC 3550 11
            }
            _engine.set_remote(_id, sd, *rtp, rtcp);
        }
        program_ice(sd);
        // The clock rate of what the other side's peer sends (jitter,
        // payload_type_map::clock_hz): from its codec ("opus/48000"), as
        // program_payload_types gives it (8000, the default, left out).
        const auto& sender = of(dataplane::other(sd)).codec;
        if (const auto slash = sender.find('/'); slash != std::string::npos) {
            const auto hz = std::strtoul(sender.c_str() + slash + 1, nullptr, 10);
            l.payload_types.clock_hz = hz == 8000 ? 0 : static_cast<std::uint32_t>(hz);
        }
        if (!l.payload_types.empty() || l.payload_types.clock_hz != 0) {
            _engine.set_payload_types(_id, sd, l.payload_types);
        }
    }
    if (_transcoding) {
        const auto t = *std::exchange(_transcoding, std::nullopt);
        if (auto installed = install_chains(t); !installed) {
            return installed;
        }
        // install_chains states the codecs it installed; the stored ones stand.
        for (const auto sd : {side::a, side::b}) {
            of(sd).codec = s.legs[dataplane::index(sd)].codec;
            of(sd).ptime = s.legs[dataplane::index(sd)].ptime;
        }
    }
    return true;
}

}  // namespace sbc::media_ctl
