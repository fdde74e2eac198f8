// media_session::state(): the session read out as data (media_state.hpp).
#include "sbc/media_ctl/media_session.hpp"

namespace sbc::media_ctl {

namespace {

endpoint_state endpoint_of(const dataplane::ip_endpoint& e) { return {e.address(), e.port()}; }

std::optional<endpoint_state> endpoint_of(const std::optional<dataplane::ip_endpoint>& e) {
    if (!e || !e->valid()) {
        return std::nullopt;
    }
    return endpoint_of(*e);
}

secret secret_of(const std::string& text) {
    return secret(std::vector<std::uint8_t>(text.begin(), text.end()));
}

std::optional<ice_state> ice_of(const sdp::ice_leg* ice) {
    if (ice == nullptr || !ice->local()) {
        return std::nullopt;
    }
    ice_state out;
    out.in_use = ice->in_use();
    out.local_ufrag = ice->local()->ufrag;
    out.local_pwd = secret_of(ice->local()->pwd);
    if (ice->peer()) {
        out.peer_ufrag = ice->peer()->ufrag;
        out.peer_pwd = secret_of(ice->peer()->pwd);
    }
    return out;
}

chain_side_state chain_state(const sdp::chain_side& c) {
    return {c.sdp, c.ptime, c.received_payload_type, c.audio.annexb, c.events};
}

}  // namespace

media_state media_session::state() const {
    media_state out;
    out.open = _open;
    const auto stats = this->stats();
    for (const auto s : {side::a, side::b}) {
        const auto& l = of(s);
        auto& o = out.legs[dataplane::index(s)];
        o.trunk = l.trunk != nullptr ? l.trunk->name : "";
        o.media_address = l.media_address;
        o.rtp_port = rtp_port(s);
        o.peer_rtp = endpoint_of(l.peer_rtp);
        o.peer_rtcp = endpoint_of(l.peer_rtcp);
        if (stats) {
            o.latched_rtp = endpoint_of(stats->sides[dataplane::index(s)].latched_rtp);
        }
        if (!o.latched_rtp) {
            // Restored, and the peer has sent nothing here yet: the latch
            // the other node saw still says best where its media comes from.
            o.latched_rtp = endpoint_of(l.restored_latch);
        }
        o.rtcp_mux = l.muxed;
        if (l.sdes && l.sdes->keys()) {
            const auto& k = *l.sdes->keys();
            o.srtp =
                srtp_state{k.suite, secret(k.peer.bytes()), secret(k.local.bytes()), {}, {}, {}};
            if (l.positions_generation == l.sdes->generation()) {
                o.srtp->peer_stream = l.peer_stream;
                o.srtp->local_stream = l.local_stream;
                o.srtp->local_srtcp = l.local_srtcp;
            }
        }
        o.ice = ice_of(l.ice.get());
        o.peer_formats = l.peer_formats;
        o.peer_direction = l.peer_direction;
        o.peer_hold_address = l.peer_hold_address;
        o.codec = l.codec;
        o.ptime = l.ptime;
        o.local_ringback = ringback_playing(s);
        const auto& map = l.payload_types;
        o.payload_types.assign(map.entries.begin(), map.entries.begin() + map.count);
    }
    if (_transcoding) {
        const auto& t = *_transcoding;
        out.transcoding = transcoding_state{t.offerer, chain_state(t.offerer_side),
                                            chain_state(t.answerer_side), t.codecs};
    }
    if (_pending) {
        const auto& p = *_pending;
        out.pending = pending_offer_state{p.offerer, p.offer, p.plan.formats, p.plan.ptime,
                                          p.plan.transcoding};
    }
    return out;
}

}  // namespace sbc::media_ctl
