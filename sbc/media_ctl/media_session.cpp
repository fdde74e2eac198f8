#include "sbc/media_ctl/media_session.hpp"

#include <fmt/format.h>
#include <sofia-sip/su_string.h>

#include <algorithm>
#include <random>
#include <utility>

#include "sbc/common/log.hpp"
#include "sbc/sdp/hold_direction.hpp"
#include "sbc/sdp/offer_builder.hpp"
#include "transcoder/chain/media_chain.hpp"

namespace sbc::media_ctl {

namespace {

constexpr log::logger media_log{"media"};

std::mt19937_64& rng() {
    static std::mt19937_64 engine{std::random_device{}()};
    return engine;
}

char letter(side s) { return s == side::a ? 'a' : 'b'; }

transcoder::ringback_tone tone_of(config::ringback_style s) {
    switch (s) {
        case config::ringback_style::eu:
            return transcoder::ringback_tone::eu;
        case config::ringback_style::uk:
            return transcoder::ringback_tone::uk;
        case config::ringback_style::us:
            break;
    }
    return transcoder::ringback_tone::us;
}

dataplane::srtp::suite data_plane_suite(config::srtp_suite s) {
    switch (s) {
        case config::srtp_suite::aes_cm_128_hmac_sha1_32:
            return dataplane::srtp::suite::aes_cm_128_hmac_sha1_32;
        case config::srtp_suite::aead_aes_128_gcm:
            return dataplane::srtp::suite::aead_aes_128_gcm;
        case config::srtp_suite::aead_aes_256_gcm:
            return dataplane::srtp::suite::aead_aes_256_gcm;
        case config::srtp_suite::aes_256_cm_hmac_sha1_80:
            return dataplane::srtp::suite::aes_256_cm_hmac_sha1_80;
        case config::srtp_suite::aes_256_cm_hmac_sha1_32:
            return dataplane::srtp::suite::aes_256_cm_hmac_sha1_32;
        case config::srtp_suite::aes_cm_128_hmac_sha1_80:
            break;
    }
    return dataplane::srtp::suite::aes_cm_128_hmac_sha1_80;
}

// telephone-event is negotiated only on legs whose trunk carries digits as
// RFC 4733 events; an info or inband trunk's peers get none offered.
std::vector<config::codec> negotiable(const config::trunk_config& t) {
    auto out = t.codecs;
    if (t.dtmf != config::dtmf_mode::rfc4733) {
        std::erase(out, config::codec::telephone_event);
    }
    return out;
}

bool is_event(const sdp::format& f) {
    return sdp::trunk_codec(f) == config::codec::telephone_event;
}

bool is_audio(const sdp::format& f) {
    const auto c = sdp::trunk_codec(f);
    return c && *c != config::codec::telephone_event;
}

// A dynamic payload type no format of `formats` uses (RFC 3551 3: 96-127),
// 101 when free, as the SBC's own offers use it.
std::uint8_t free_payload_type(const std::vector<sdp::format>& formats) {
    auto used = [&](unsigned pt) {
        return std::any_of(formats.begin(), formats.end(),
                           [pt](const sdp::format& f) { return f.payload_type == pt; });
    };
    for (unsigned pt = 101; pt <= 127; ++pt) {
        if (!used(pt)) {
            return static_cast<std::uint8_t>(pt);
        }
    }
    for (unsigned pt = 96; pt < 101; ++pt) {
        if (!used(pt)) {
            return static_cast<std::uint8_t>(pt);
        }
    }
    return 101;
}

std::string describe(const sdp::format& f) {
    return fmt::format("{}/{}", f.encoding, f.clock_rate);
}

std::string describe(const sdp::chain_side& s) {
    return fmt::format("{}:{}:{}:{}:{}:{}", s.received_payload_type, s.sdp.payload_type,
                       describe(s.sdp), s.sdp.fmtp, s.ptime,
                       s.events ? fmt::format("{}/{}/{}", s.events->received_payload_type,
                                              s.events->payload_type, s.events->clock_rate)
                                : "-");
}

// One side of a relayed stream that needs a chain for DTMF alone: the first
// audio format and the telephone-event of what that side's SDP negotiated.
std::optional<sdp::chain_side> relayed_side(const std::vector<sdp::format>& formats,
                                            unsigned ptime) {
    const auto audio = std::find_if(formats.begin(), formats.end(), is_audio);
    if (audio == formats.end()) {
        return std::nullopt;
    }
    sdp::chain_side s;
    s.sdp = *audio;
    s.ptime = ptime != 0 ? ptime : 20;
    s.audio = sdp::to_audio_format(*audio, s.ptime);
    s.received_payload_type = audio->payload_type;
    const auto te = std::find_if(formats.begin(), formats.end(), is_event);
    if (te != formats.end()) {
        s.events = sdp::event_format{te->payload_type, te->payload_type, te->clock_rate};
    }
    return s;
}

transcoder::dtmf_mode chain_dtmf(config::dtmf_mode m) {
    switch (m) {
        case config::dtmf_mode::info:
            return transcoder::dtmf_mode::info;
        case config::dtmf_mode::inband:
            return transcoder::dtmf_mode::inband;
        case config::dtmf_mode::rfc4733:
            break;
    }
    return transcoder::dtmf_mode::rfc4733;
}

// One direction of a transcoded stream: what `from` sends, as `to` takes it.
transcoder::chain_config chain_between(const sdp::chain_side& from, config::dtmf_mode from_dtmf,
                                       const sdp::chain_side& to, config::dtmf_mode to_dtmf) {
    transcoder::chain_config c;
    c.in.audio = from.audio;
    c.in.audio.payload_type = from.received_payload_type;
    c.in.dtmf = chain_dtmf(from_dtmf);
    if (from.events) {
        c.in.event_payload_type = from.events->received_payload_type;
        c.in.event_clock_rate = from.events->clock_rate;
    }
    c.out.audio = to.audio;
    c.out.audio.payload_type = to.sdp.payload_type;
    c.out.dtmf = chain_dtmf(to_dtmf);
    if (to.events) {
        c.out.event_payload_type = to.events->payload_type;
        c.out.event_clock_rate = to.events->clock_rate;
    }
    // RFC 3550 5.1, 8.1: the SBC is a new source on that leg; random
    // initial sequence number and timestamp, a random SSRC.
    c.origin = transcoder::output_origin{static_cast<std::uint32_t>(rng()()),
                                         static_cast<std::uint16_t>(rng()()),
                                         static_cast<std::uint32_t>(rng()())};
    return c;
}

std::string describe(const dataplane::payload_type_map& m) {
    std::string out;
    for (std::size_t i = 0; i < m.count; ++i) {
        out += fmt::format("{}{}->{}", out.empty() ? "" : " ", m.entries[i].from, m.entries[i].to);
    }
    return out.empty() ? "none" : out;
}

}  // namespace

sdp_origin sdp_origin::fresh() { return sdp_origin{rng()() >> 2, 1, {}}; }

std::string sendrecv(const std::string& sdp) {
    std::string out = sdp;
    for (std::string_view held : {"a=sendonly", "a=recvonly", "a=inactive"}) {
        for (auto at = out.find(held); at != std::string::npos; at = out.find(held, at)) {
            out.replace(at, held.size(), "a=sendrecv");
        }
    }
    return out;
}

std::string with_origin_version(const std::string& sdp, std::uint64_t version) {
    const auto o = sdp.find("o=");
    if (o == std::string::npos) {
        return sdp;
    }
    const auto end = sdp.find_first_of("\r\n", o);
    std::string line = sdp.substr(o, end - o);
    // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>
    const auto id_at = line.find(' ');
    const auto version_at = id_at == std::string::npos ? id_at : line.find(' ', id_at + 1);
    const auto version_end =
        version_at == std::string::npos ? version_at : line.find(' ', version_at + 1);
    if (version_end == std::string::npos) {
        return sdp;
    }
    line.replace(version_at + 1, version_end - version_at - 1, std::to_string(version));
    return sdp.substr(0, o) + line + (end == std::string::npos ? "" : sdp.substr(end));
}

media_session::media_session(dataplane::media_engine& engine, dataplane::session_id id,
                             std::string log_id)
    : _engine(engine), _id(id), _log_id(std::move(log_id)) {}

media_session::~media_session() {
    if (_open) {
        _engine.close_session(_id);
    }
}

void media_session::set_leg(side s, const config::trunk_config& trunk, std::string media_address) {
    auto& l = of(s);
    l.trunk = &trunk;
    l.media_address = std::move(media_address);
    l.sdes = std::make_unique<sdp::sdes_leg>(trunk.srtp, trunk.srtp_suites,
                                             &dataplane::srtp::random_fill);
    l.srtp_programmed = 0;
    // RFC 8445 5.3: credentials of its own for each leg (and each trunk a
    // failover moves the leg to); the engine's, if any, go with the next SDP.
    l.ice = std::make_unique<sdp::ice_leg>(trunk.ice);
}

result<bool> media_session::open() {
    auto opened = _engine.open_session(_id, of(side::a).media_address, of(side::b).media_address);
    if (!opened.ok) {
        return make_error(opened.error);
    }
    _open = true;
    _ports = opened.ports;
    return true;
}

result<sdp::session_description> media_session::accept(side from, std::string_view body,
                                                       sdp_role role) {
    auto sd = sdp::session_description::parse(body);
    if (!sd) {
        return make_error(sd.error_message());
    }
    auto& f = of(from);
    const auto& target = sd->audio();
    auto crypto = sd->crypto_attributes();
    auto keyed = role == sdp_role::offer ? f.sdes->accept_offer(target.secure, crypto)
                                         : f.sdes->accept_answer(target.secure, crypto);
    if (!keyed) {
        return make_error(fmt::format("trunk {} (srtp: {}): {}", f.trunk->name,
                                      config::to_string(f.trunk->srtp), keyed.error_message()));
    }
    if (auto programmed = program_srtp(from); !programmed) {
        return make_error(programmed.error_message());
    }
    f.peer_formats = sdp::media_formats::of(*sd);
    f.peer_direction = target.dir;
    f.peer_hold_address = target.on_hold_address;
    // RFC 5761 5.1.1: the answerer takes mux only when offered it; an
    // offerer has it once the answer says so. A later offer or answer
    // without it ends it (RFC 5761 5.1.3: either may stop muxing).
    const bool mux =
        target.rtcp_mux &&
        (role == sdp_role::offer ? f.trunk->rtcp_mux != config::rtcp_mux_mode::off : f.mux_offered);
    if (mux != f.muxed) {
        _engine.set_rtcp_mux(_id, from, mux);
        f.muxed = mux;
        media_log.info("call {}: leg {} {} RTCP multiplexing", _log_id, letter(from),
                       mux ? "uses" : "stops");
    }
    if (!target.on_hold_address && !target.port_zero) {
        // A muxed peer takes RTCP where it takes RTP; its a=rtcp, if any,
        // is the fallback it offered (RFC 5761 5.1.3).
        const auto& rtcp = mux ? target.rtp : target.rtcp;
        _engine.set_remote(_id, from, target.rtp, rtcp);
        f.peer_rtp = target.rtp;
        f.peer_rtcp = rtcp;
        f.restored_latch.reset();  // latching starts over (media_engine::set_remote)
    }
    if (role == sdp_role::offer) {
        f.ice->accept_offer(sd->ice());
    } else {
        f.ice->accept_answer(sd->ice());
        program_ice(from);
    }
    return sd;
}

void media_session::program_ice(side s) {
    auto& l = of(s);
    auto wanted = l.ice ? l.ice->credentials() : std::nullopt;
    if (!_open || wanted == l.ice_programmed) {
        return;
    }
    if (!_engine.set_ice_credentials(_id, s, wanted)) {
        media_log.warn("call {}: leg {}: the media engine refused the ICE credentials", _log_id,
                       letter(s));
        return;
    }
    if (wanted) {
        media_log.info("call {}: leg {} answers ICE checks as ufrag {} (peer's {})", _log_id,
                       letter(s), wanted->local_ufrag,
                       wanted->remote_ufrag.empty() ? "not known yet" : wanted->remote_ufrag);
    } else {
        media_log.info("call {}: leg {} does not use ICE", _log_id, letter(s));
    }
    l.ice_programmed = std::move(wanted);
}

std::string media_session::ice_ufrag(side s) const {
    const auto& l = of(s);
    return l.ice && l.ice->local() ? l.ice->local()->ufrag : "";
}

std::vector<dataplane::srtp::stream_position> media_session::local_positions(leg_media& l) {
    std::vector<dataplane::srtp::stream_position> out;
    if (l.local_stream) {
        out.push_back({l.local_stream->ssrc, l.local_stream->roc, 0});
    }
    l.srtcp_skipped = 0;
    if (l.local_srtcp) {
        // RFC 3711 3.4: past every index the other node may have used (it
        // reported the first packet and every 256th), so the peer's replay
        // list (RFC 3711 3.3.2) takes the next one. libsrtp2 cannot set the
        // index; stream_crypto moves it on a packet at a time, 65536 at most.
        constexpr std::uint32_t most = 1U << 16;
        const std::uint64_t wanted = std::uint64_t{l.local_srtcp->sent} + 256;
        if (wanted > most) {
            media_log.warn(
                "call {}: SRTCP index of stream {:08x} moved on by {} of {}: the "
                "peer may drop the SBC's RTCP as replayed",
                _log_id, l.local_srtcp->ssrc, most, wanted);
        }
        l.srtcp_skipped = static_cast<std::uint32_t>(std::min<std::uint64_t>(wanted, most));
        auto same = std::find_if(out.begin(), out.end(),
                                 [&](const auto& p) { return p.ssrc == l.local_srtcp->ssrc; });
        if (same != out.end()) {
            same->srtcp_skip = l.srtcp_skipped;
        } else {
            out.push_back({l.local_srtcp->ssrc, 0, l.srtcp_skipped});
        }
    }
    return out;
}

result<bool> media_session::program_srtp(side s) {
    auto& l = of(s);
    if (l.sdes->generation() == l.srtp_programmed) {
        return false;
    }
    const auto& keys = l.sdes->keys();
    if (l.positions_generation != l.sdes->generation()) {
        // RFC 4568 7.1.4: a direction re-keyed is a new crypto context, its
        // streams at ROC 0 (RFC 3711 3.3.1). A direction whose key stayed
        // goes on at the other end, so its new context here continues the
        // streams (at ROC 0 it would also use key stream over again).
        const auto kept = [&](bool local) {
            const auto& was = l.positions_keys;
            return was && keys && was->suite == keys->suite &&
                   (local ? was->local.bytes() == keys->local.bytes()
                          : was->peer.bytes() == keys->peer.bytes());
        };
        if (!kept(false)) {
            l.peer_stream.reset();
        }
        if (!kept(true)) {
            l.local_stream.reset();
            l.local_srtcp.reset();
        }
        l.positions_generation = l.sdes->generation();
        l.positions_keys.reset();
        if (keys) {
            l.positions_keys = sdp::srtp_keys{keys->suite, sdp::sdes_key(keys->peer.bytes()),
                                              sdp::sdes_key(keys->local.bytes())};
        }
    }
    std::unique_ptr<dataplane::srtp::stream_crypto> from_peer;
    std::unique_ptr<dataplane::srtp::stream_crypto> to_peer;
    if (keys) {
        auto suite = data_plane_suite(keys->suite);
        // A restored leg's streams go on where the other node's were.
        std::vector<dataplane::srtp::stream_position> peer_pos;
        if (l.peer_stream) {
            peer_pos.push_back({l.peer_stream->ssrc, l.peer_stream->roc, 0});
        }
        auto in = dataplane::srtp::stream_crypto::create(
            suite, keys->peer.bytes(), dataplane::srtp::stream_crypto::direction::unprotect,
            peer_pos);
        auto local_pos = local_positions(l);
        auto out = dataplane::srtp::stream_crypto::create(
            suite, keys->local.bytes(), dataplane::srtp::stream_crypto::direction::protect,
            local_pos);
        if (!in || !out) {
            return make_error("cannot set up SRTP: " +
                              (!in ? in.error_message() : out.error_message()));
        }
        from_peer = std::make_unique<dataplane::srtp::stream_crypto>(std::move(in.value()));
        to_peer = std::make_unique<dataplane::srtp::stream_crypto>(std::move(out.value()));
        media_log.info("call {}: leg {} is SRTP ({})", _log_id, letter(s),
                       config::to_string(keys->suite));
    } else if (l.srtp_in_engine) {
        media_log.info("call {}: leg {} is plain RTP again", _log_id, letter(s));
    }
    _engine.set_srtp(_id, s, std::move(from_peer), std::move(to_peer));
    l.srtp_programmed = l.sdes->generation();
    l.srtp_in_engine = keys.has_value();
    return true;
}

bool media_session::note_srtp_rollover(const dataplane::media_event& ev) {
    auto& l = of(ev.s);
    if (!l.srtp_in_engine) {
        return false;
    }
    // An event of contexts that new keys replaced may still arrive (the
    // worker reported it before it took the new ones): it is taken for the
    // new keys' stream, one wrap early at worst for that SSRC.
    if (ev.srtcp) {
        auto& p = l.local_srtcp;
        const std::uint32_t skipped = p && p->ssrc == ev.ssrc ? l.srtcp_skipped : 0;
        if (!p || p->ssrc != ev.ssrc) {
            l.srtcp_skipped = 0;
        }
        p = srtcp_position_state{ev.ssrc, skipped + ev.srtcp_sent};
        return true;
    }
    (ev.to_peer ? l.local_stream : l.peer_stream) = srtp_position_state{ev.ssrc, ev.roc};
    media_log.info("call {}: leg {}: SRTP stream {:08x} {} the peer rolled over to ROC {}", _log_id,
                   letter(ev.s), ev.ssrc, ev.to_peer ? "to" : "from", ev.roc);
    return true;
}

result<std::string> media_session::translate(side from, std::string_view body, sdp_role in,
                                             sdp_role out, sdp_origin& to) {
    auto sd = accept(from, body, in);
    if (!sd) {
        return make_error(sd.error_message());
    }
    std::vector<sdp::format> formats;
    unsigned ptime = 0;
    if (in == out) {
        if (auto planned = plan_codecs(from, *sd, in, formats, ptime); !planned) {
            return make_error(planned.error_message());
        }
        if (in == sdp_role::offer && _pending) {
            // Kept across a failover's offer to the next trunk: the
            // caller's answer stands (settle_ringback ends it).
            _pending->body = std::string(body);
        } else if (in == sdp_role::answer && _ringback && _ringback->to == dataplane::other(from)) {
            // RFC 3261 13.2.1: the peer has had its answer; it gets it again.
            to.last_sent = _ringback->sdp;
            return _ringback->sdp;
        }
    } else {
        // A converted delayed offer (early_offer: convert): the SBC's own
        // offer was built from the trunk's codecs; its answer is relayed as
        // an offer and checked when the answer comes back. Relayed only.
        _pending.reset();
    }
    return rewrite_for(dataplane::other(from), *sd, out, to, formats, ptime,
                       relayed_direction(from, *sd, in, out));
}

sdp::direction media_session::relayed_direction(side from, const sdp::session_description& sd,
                                                sdp_role in, sdp_role out) {
    const side to = dataplane::other(from);
    const auto stated = sdp::stated_direction(sd.audio());
    if (out == sdp_role::offer) {
        const auto dir =
            sdp::relayed_offer_direction(stated, of(from).trunk->hold, of(to).trunk->hold);
        // An answer relayed as the SBC's offer (a converted delayed offer)
        // answered the SBC's own offer: nothing to fit an answer to later.
        _directions.reset();
        if (in == sdp_role::offer) {
            _directions = offer_directions{from, stated, dir};
        }
        return dir;
    }
    if (!_directions || _directions->offerer != to) {
        return stated;  // no relayed offer of that leg's peer: the answer as it is
    }
    return sdp::relayed_answer_direction(stated, _directions->sent, _directions->received);
}

result<bool> media_session::plan_codecs(side from, const sdp::session_description& sd,
                                        sdp_role role, std::vector<sdp::format>& formats,
                                        unsigned& ptime) {
    const side to = dataplane::other(from);
    const auto& from_trunk = *of(from).trunk;
    const auto& to_trunk = *of(to).trunk;
    if (role == sdp_role::offer) {
        auto offer = sdp::media_formats::of(sd);
        auto plan = plan_offer_between(offer, from_trunk, to_trunk);
        if (!plan) {
            return make_error(plan.error_message());
        }
        formats = plan->formats;
        ptime = plan->ptime;
        _pending = pending_offer{from, std::move(offer), std::move(plan.value()), {}};
        return true;
    }
    if (!_pending || _pending->offerer != to) {
        // Nothing negotiated: the answer passes as it is, its numbers too,
        // so packets keep theirs.
        program_payload_types(sdp::answer_plan{}, to);
        return false;
    }
    const auto& pending = *_pending;
    auto answer = sdp::media_formats::of(sd);
    std::optional<sdp::format> answered;
    if (_ringback && _ringback->to == to) {
        answered = _ringback->format;
    }
    auto plan = sdp::plan_answer(pending.offer, pending.plan.formats, answer, negotiable(to_trunk),
                                 sdp::registry_transcodes, answered);
    if (!plan) {
        return make_error(plan.error_message());
    }
    if (plan->how == sdp::answer_plan::mode::relay && to_trunk.dtmf == config::dtmf_mode::rfc4733 &&
        std::none_of(plan->formats.begin(), plan->formats.end(), is_event)) {
        // The offerer takes events, the answerer's leg does not: the SBC
        // sends them, so the answer keeps the offerer's telephone-event.
        const auto& offered = pending.offer.formats;
        const auto te = std::find_if(offered.begin(), offered.end(), is_event);
        if (te != offered.end()) {
            plan->formats.push_back(*te);
        }
    }
    if (auto programmed = program_chains(*plan, to, answer); !programmed) {
        return make_error(programmed.error_message());
    }
    formats = plan->formats;
    ptime = plan->ptime;
    return true;
}

result<sdp::offer_plan> media_session::plan_offer_between(const sdp::media_formats& offer,
                                                          const config::trunk_config& from_trunk,
                                                          const config::trunk_config& to_trunk) {
    auto plan = sdp::plan_offer(offer, negotiable(from_trunk), negotiable(to_trunk),
                                sdp::registry_transcodes);
    if (!plan) {
        return plan;
    }
    auto to_codecs = negotiable(to_trunk);
    if (std::find(to_codecs.begin(), to_codecs.end(), config::codec::telephone_event) !=
            to_codecs.end() &&
        std::none_of(plan->formats.begin(), plan->formats.end(), is_event)) {
        // The offerer's digits come by INFO or as tones: the SBC turns
        // them into events for this leg, so it offers telephone-event
        // (RFC 4733 7.1.1) at the clock of the first codec's RTP clock.
        const auto first = std::find_if(plan->formats.begin(), plan->formats.end(), is_audio);
        const std::uint32_t clock =
            first != plan->formats.end() && first->clock_rate == 48000 ? 48000 : 8000;
        plan->formats.push_back(
            sdp::format{free_payload_type(plan->formats), "telephone-event", clock, 1, "0-16"});
    }
    if (plan->transcoding) {
        media_log.info("call {}: no codec shared between trunks {} and {}: offering {}'s own",
                       _log_id, from_trunk.name, to_trunk.name, to_trunk.name);
    }
    return plan;
}

result<sdp::media_formats> media_session::formats_in_use(side s, const std::string& sent) const {
    auto ours = sdp::session_description::parse(sent);
    if (!ours) {
        return make_error(ours.error_message());
    }
    const auto kept = sdp::media_formats::of(*ours).formats;
    // The peer sends with its own numbers: its formats, as far as the SBC's
    // SDP on the leg has them too (RFC 3264 6.1: an answer narrows the offer).
    sdp::media_formats in_use = of(s).peer_formats;
    std::erase_if(in_use.formats, [&](const sdp::format& f) {
        return std::none_of(kept.begin(), kept.end(), [&](const sdp::format& k) {
            return su_casematch(k.encoding.c_str(), f.encoding.c_str()) &&
                   k.clock_rate == f.clock_rate;
        });
    });
    if (std::none_of(in_use.formats.begin(), in_use.formats.end(), is_audio)) {
        return make_error("no codec in use on the leg that stays");
    }
    return in_use;
}

void media_session::program_payload_types(const sdp::answer_plan& plan, side offerer) {
    // RFC 3264 6.1: an answerer may renumber a codec; each peer receives
    // with the numbers of its own SDP. The plan's A is the offerer. Codec
    // chains send with each side's numbers already.
    const side answerer = dataplane::other(offerer);
    std::array<dataplane::payload_type_map, 2> maps{};
    if (plan.how == sdp::answer_plan::mode::relay) {
        for (const auto& c : plan.a_to_b) {
            maps[dataplane::index(answerer)].add(c.a, c.b);
        }
        for (const auto& c : plan.b_to_a) {
            maps[dataplane::index(offerer)].add(c.b, c.a);
        }
    }
    // The clock rate of what each side's peer sends, for the jitter the
    // data plane measures on it (RFC 3550 A.8: in timestamp units); it
    // travels with the map towards the other side. 8000, the data plane's
    // default, is left out: a G.711 call programs no map at all.
    const auto clock = [](std::uint32_t hz) { return hz == 8000 ? 0 : hz; };
    if (plan.how == sdp::answer_plan::mode::transcode && plan.side_a && plan.side_b) {
        maps[dataplane::index(answerer)].clock_hz = clock(plan.side_a->sdp.clock_rate);
        maps[dataplane::index(offerer)].clock_hz = clock(plan.side_b->sdp.clock_rate);
    } else if (const auto first = std::find_if(plan.formats.begin(), plan.formats.end(), is_audio);
               first != plan.formats.end()) {
        maps[dataplane::index(answerer)].clock_hz = clock(first->clock_rate);
        maps[dataplane::index(offerer)].clock_hz = clock(first->clock_rate);
    }
    for (auto s : {offerer, answerer}) {
        auto& now = of(s).payload_types;
        const auto& next = maps[dataplane::index(s)];
        if (next == now) {
            continue;
        }
        _engine.set_payload_types(_id, s, next);
        now = next;
        media_log.debug("call {}: payload types to trunk {} renumbered: {}", _log_id,
                        of(s).trunk->name, describe(next));
    }
}

result<bool> media_session::program_chains(const sdp::answer_plan& plan, side offerer,
                                           const sdp::media_formats& answer) {
    const side answerer = dataplane::other(offerer);
    auto& o = of(offerer);
    auto& a = of(answerer);
    const bool transcode = plan.how == sdp::answer_plan::mode::transcode;
    program_payload_types(plan, offerer);
    std::optional<sdp::chain_side> os;
    std::optional<sdp::chain_side> as;
    if (transcode) {
        os = plan.side_a;
        as = plan.side_b;
    } else {
        const auto first_audio = std::find_if(plan.formats.begin(), plan.formats.end(), is_audio);
        o.codec = a.codec = first_audio != plan.formats.end() ? describe(*first_audio) : "";
        o.ptime = a.ptime = 0;
        if (o.trunk->dtmf != a.trunk->dtmf) {
            // Same codec, different DTMF: a chain each way carries the
            // digits across (the audio passes untouched where it can).
            os = relayed_side(plan.formats, _pending ? _pending->offer.ptime : 0);
            as = relayed_side(answer.formats, answer.ptime);
        }
    }
    if (!os || !as) {
        if (_transcoding) {
            media_log.info("call {}: media relayed untouched", _log_id);
            _engine.set_chain(_id, side::a, nullptr);
            _engine.set_chain(_id, side::b, nullptr);
            _transcoding.reset();
        }
        return true;
    }
    if (_transcoding && _transcoding->offerer == offerer &&
        describe(_transcoding->offerer_side) == describe(*os) &&
        describe(_transcoding->answerer_side) == describe(*as)) {
        return true;  // the same answer again (183, then 200): the chains stand
    }
    return install_chains(transcoding{offerer, *os, *as, transcode});
}

result<bool> media_session::install_chains(const transcoding& t) {
    const side answerer = dataplane::other(t.offerer);
    auto& o = of(t.offerer);
    auto& a = of(answerer);
    const auto& os = t.offerer_side;
    const auto& as = t.answerer_side;
    auto to_answerer =
        transcoder::media_chain::make(chain_between(os, o.trunk->dtmf, as, a.trunk->dtmf));
    auto to_offerer =
        transcoder::media_chain::make(chain_between(as, a.trunk->dtmf, os, o.trunk->dtmf));
    if (!to_answerer || !to_offerer) {
        const auto& why = !to_answerer ? to_answerer.error_message() : to_offerer.error_message();
        if (!t.codecs) {
            // Digits cannot be converted for this codec; the call still works.
            media_log.warn("call {}: no DTMF conversion between trunks {} and {}: {}", _log_id,
                           o.trunk->name, a.trunk->name, why);
            return true;
        }
        return make_error(
            fmt::format("cannot transcode {} <-> {}: {}", describe(os.sdp), describe(as.sdp), why));
    }
    _engine.set_chain(_id, t.offerer, std::move(to_answerer).value());
    _engine.set_chain(_id, answerer, std::move(to_offerer).value());
    _transcoding = t;
    if (t.codecs) {
        o.codec = describe(os.sdp);
        o.ptime = os.ptime;
        a.codec = describe(as.sdp);
        a.ptime = as.ptime;
        media_log.info("call {}: transcoding {} (trunk {}, {} ms) <-> {} (trunk {}, {} ms)",
                       _log_id, o.codec, o.trunk->name, o.ptime, a.codec, a.trunk->name, a.ptime);
    } else {
        media_log.info("call {}: DTMF converted between trunk {} ({}) and trunk {} ({})", _log_id,
                       o.trunk->name, config::to_string(o.trunk->dtmf), a.trunk->name,
                       config::to_string(a.trunk->dtmf));
    }
    return true;
}

result<std::string> media_session::start_ringback(side to, sdp_origin& origin) {
    if (!_pending || _pending->offerer != to || _pending->body.empty()) {
        return make_error("no offer from that leg waits for its answer");
    }
    auto& l = of(to);
    auto plan =
        sdp::plan_local_answer(_pending->offer, negotiable(*l.trunk), sdp::registry_transcodes);
    if (!plan) {
        return make_error(plan.error_message());
    }
    auto sd = sdp::session_description::parse(_pending->body);
    if (!sd) {
        return make_error(sd.error_message());
    }
    transcoder::tone_config tc;
    tc.tone = tone_of(l.trunk->ringback_tone);
    tc.out = plan->side_a->audio;
    // RFC 3550 5.1: a random SSRC and random initial sequence number and
    // timestamp, as any new source's.
    const auto r = rng()();
    tc.origin = transcoder::output_origin{static_cast<std::uint32_t>(r),
                                          static_cast<std::uint16_t>(r >> 32),
                                          static_cast<std::uint32_t>(rng()())};
    auto tone = transcoder::tone_source::make(tc);
    if (!tone) {
        return make_error(tone.error_message());
    }
    // The SBC answers the caller's offer itself: the direction that fits it
    // (RFC 3264 6.1), sendrecv for the usual sendrecv offer.
    const auto fitted = sdp::relayed_answer_direction(
        sdp::direction::sendrecv, sdp::direction::sendrecv, sdp::stated_direction(sd->audio()));
    auto body = rewrite_for(to, *sd, sdp_role::answer, origin, plan->formats, plan->ptime, fitted);
    if (!body) {
        return make_error(body.error_message());
    }
    l.codec = describe(plan->side_a->sdp);
    l.ptime = plan->side_a->ptime;
    _engine.start_tone(_id, to, std::move(tone).value());
    _ringback = local_answer{to, plan->side_a->sdp, *body, true};
    media_log.info("call {}: local ringback ({}) to leg {} in {}", _log_id,
                   config::to_string(l.trunk->ringback_tone), letter(to), l.codec);
    return body;
}

void media_session::stop_ringback() {
    if (_ringback && _ringback->playing) {
        _engine.stop_tone(_id, _ringback->to);
        _ringback->playing = false;
        media_log.info("call {}: local ringback to leg {} stopped", _log_id, letter(_ringback->to));
    }
}

void media_session::send_dtmf(side from, char digit, std::uint32_t duration_ms) {
    _engine.send_dtmf(_id, from, digit, duration_ms);
}

sdp::rtcp_mux_attribute media_session::offer_rtcp_mux(side to) {
    auto& l = of(to);
    // RFC 8035 (and RFC 5761 5.1.3): once muxed, later offers keep it.
    l.mux_offered = l.trunk->rtcp_mux == config::rtcp_mux_mode::offer ||
                    (l.muxed && l.trunk->rtcp_mux != config::rtcp_mux_mode::off);
    return l.mux_offered ? sdp::rtcp_mux_attribute::offer : sdp::rtcp_mux_attribute::none;
}

result<std::string> media_session::rewrite_for(side to, const sdp::session_description& sd,
                                               sdp_role role, sdp_origin& origin,
                                               const std::vector<sdp::format>& formats,
                                               unsigned ptime, sdp::direction dir) {
    auto& l = of(to);
    sdp::rewrite_params p{l.media_address, rtp_port(to), origin.session_id, origin.version};
    p.formats = formats;
    p.ptime = ptime;
    p.dir = dir;
    if (role == sdp_role::offer) {
        auto offered = l.sdes->make_offer();
        if (!offered) {
            return make_error(offered.error_message());
        }
        p.secure = offered->secure_profile;
        p.crypto = std::move(offered->crypto);
        p.rtcp_mux = offer_rtcp_mux(to);
        p.ice = l.ice->make_offer();
    } else {
        p.rtcp_mux = l.muxed ? sdp::rtcp_mux_attribute::answer : sdp::rtcp_mux_attribute::none;
        // The leg's own offer is answered now: its keys come into force
        // (sdes_leg::accept_offer), so the data plane switches with the answer.
        auto answered = l.sdes->answer();
        if (auto programmed = program_srtp(to); !programmed) {
            return make_error(programmed.error_message());
        }
        p.secure = answered.secure_profile;
        p.crypto = std::move(answered.crypto);
        p.ice = l.ice->answer();
    }
    program_ice(to);
    auto out = sd.rewrite(p);
    // RFC 3264 8: a changed SDP carries a higher o= version; an unchanged one the same.
    if (!origin.last_sent.empty() && out != origin.last_sent) {
        p.origin_version = ++origin.version;
        out = sd.rewrite(p);
    }
    origin.last_sent = out;
    return out;
}

result<std::string> media_session::own_offer(side to, sdp_origin& origin) {
    if (!origin.last_sent.empty()) {
        return origin.last_sent;  // RFC 3264 8: the same session, the same o= version
    }
    auto& l = of(to);
    auto offered = l.sdes->make_offer();
    if (!offered) {
        return make_error(offered.error_message());
    }
    sdp::rewrite_params p{l.media_address,         rtp_port(to),
                          origin.session_id,       origin.version,
                          offered->secure_profile, std::move(offered->crypto)};
    p.rtcp_mux = offer_rtcp_mux(to);
    p.ice = l.ice->make_offer();
    program_ice(to);
    // As in every offer the SBC makes: telephone-event only where the trunk
    // takes RFC 4733 events (an info or inband trunk keeps it on its list).
    auto built = sdp::build_offer(negotiable(*l.trunk), p);
    if (built) {
        origin.last_sent = built.value();
    }
    return built;
}

result<std::string> media_session::transfer_offer(
    side referrer, const std::string& referrer_sent, const std::string& via_address,
    const config::trunk_config& target, sdp::sdes_leg& sdes, const sdp_origin& target_origin,
    const std::string& stays_sent, std::uint16_t& port) {
    auto sd = sdp::session_description::parse(referrer_sent);
    if (!sd) {
        return make_error(sd.error_message());
    }
    const side stays = dataplane::other(referrer);
    auto in_use = formats_in_use(stays, stays_sent);
    if (!in_use) {
        return make_error(in_use.error_message());
    }
    auto plan = plan_offer_between(*in_use, *of(stays).trunk, target);
    if (!plan) {
        return make_error(plan.error_message());
    }
    port = rtp_port(referrer);
    if (via_address != of(referrer).media_address) {
        // Media the target sends must arrive where it can reach: a pair on
        // its own interface, which the referrer's side moves to only once
        // the target answers (until then the referrer's media goes on).
        auto moved = _engine.prepare_side_move(_id, referrer, via_address);
        if (!moved.ok) {
            return make_error(moved.error);
        }
        port = moved.ports.rtp[dataplane::index(referrer)];
    }
    sdp::rewrite_params p{via_address, port, target_origin.session_id, target_origin.version};
    p.formats = plan->formats;
    p.ptime = plan->ptime;
    auto offered = sdes.make_offer();
    if (!offered) {
        return make_error(offered.error_message());
    }
    p.secure = offered->secure_profile;
    p.crypto = std::move(offered->crypto);
    // The target's answer is planned against the party that stays, as the
    // answer to that party's offer would be (plan_codecs).
    _directions.reset();
    _pending = pending_offer{stays, std::move(in_use.value()), std::move(plan.value()), {}};
    // Transfers usually follow a hold: the new session starts two-way.
    return sendrecv(sd->rewrite(p));
}

void media_session::cancel_transfer(side referrer) {
    _engine.cancel_side_move(_id, referrer);
    _pending.reset();
}

void media_session::take_over(side s, const config::trunk_config& trunk,
                              std::unique_ptr<sdp::sdes_leg> sdes, const std::string& media_address,
                              std::uint16_t port) {
    auto& l = of(s);
    l.trunk = &trunk;
    // The target's keys (or none) replace the referrer's in the data plane
    // once its answer is taken: program_srtp must not take the new keying's
    // generation for the one already programmed.
    l.sdes = std::move(sdes);
    l.srtp_programmed = ~0U;
    // The target was offered no a=rtcp-mux (transfer_offer): its answer
    // ends muxing on the side, if the referrer's peer had it.
    l.mux_offered = false;
    // Nor ICE: the target's answer, without any, ends it on the side.
    l.ice = std::make_unique<sdp::ice_leg>(trunk.ice);
    if (media_address != l.media_address) {
        // The referrer's side moves to the target's interface before the
        // answer programs where that side sends.
        _engine.commit_side_move(_id, s);
        _ports.rtp[dataplane::index(s)] = port;
        l.media_address = media_address;
    }
}

result<bool> media_session::accept_transfer_answer(side referrer, std::string_view body) {
    std::vector<sdp::format> formats;
    unsigned ptime = 0;
    auto accepted = accept(referrer, body, sdp_role::answer);
    if (!accepted) {
        _pending.reset();
        return make_error(accepted.error_message());
    }
    auto planned = plan_codecs(referrer, *accepted, sdp_role::answer, formats, ptime);
    _pending.reset();
    if (!planned) {
        return make_error("the answer does not fit the offer: " + planned.error_message());
    }
    return true;
}

bool media_session::media_expected() const noexcept {
    return std::none_of(_legs.begin(), _legs.end(), [](const leg_media& l) {
        return l.peer_hold_address || l.peer_direction != sdp::direction::sendrecv;
    });
}

std::optional<config::srtp_suite> media_session::srtp_suite(side s) const noexcept {
    const auto& sdes = of(s).sdes;
    if (!sdes || !sdes->keys()) {
        return std::nullopt;
    }
    return sdes->keys()->suite;
}

std::optional<dataplane::session_stats> media_session::stats() const {
    if (!_open) {
        return std::nullopt;
    }
    return _engine.stats(_id);
}

}  // namespace sbc::media_ctl
