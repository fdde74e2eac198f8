// relay_session: symmetric latching and forwarding of one burst.
//
// Symmetric RTP (RFC 4961; the "latching" of RFC 7362 3): a peer behind NAT
// sends from an address its SDP cannot know, so the first packet from a side
// fixes where that side's media really comes from and where the other side's
// media is sent. Later packets from any other source are dropped, so a third
// party cannot inject media into or divert media from an established call.
// A new SDP address (set_remote) re-arms latching.
//
// RTCP (RFC 3550 11: its own port, by default RTP + 1; RFC 3605: or where
// a=rtcp says) latches by the same rule, except for who may latch it. RTCP
// is optional and sparse (a report every few seconds, none at all from many
// peers), so "the first packet from anywhere" would hand a stranger an idle
// RTCP path to inject into and to divert the other side's reports to; the
// RTP latch is the proof that an address is the peer's. So, for side s:
// - once s's RTCP has latched, only that address (IP and port) is accepted,
//   exactly as for RTP;
// - until then, a source may latch it only if its IP is the one s's RTP
//   latched to, with any port: a NAT maps the RTCP port on its own (RFC
//   7362 3, RFC 3605 1), so "RTP port + 1" cannot be asked for;
// - or, while s's RTP has not latched, if its IP is that of the RTCP
//   address s's SDP gave (a=rtcp, else the c= address): nothing better is
//   known yet, and a peer that gave its real address is served at once.
//   That exception stays after RTP latched only when the SDP names another
//   RTCP host than its RTP host (RFC 3605's a=rtcp with an address);
// - when s's RTP latches, an RTCP latch that the rules above no longer allow
//   is undone, so both channels end on the address RTP proved.
// Everything else is dropped as wrong_source, latches nothing and so
// diverts nothing: what goes to s's RTCP keeps going to its latched or SDP
// address. On an SRTP leg a packet latches only once it authenticates (RFC
// 3711 3.4, SRTCP), on top of this rule.
//
// RTCP multiplexing (set_rtcp_mux; RFC 5761): on a side whose SDP agreed to
// a=rtcp-mux, RTCP shares the RTP port. A datagram on that port whose second
// octet is 192-223 (RFC 5761 4: RTCP packet types 192-223 are what RTP
// payload types 64-95 with the marker bit would look like, which is why no
// relayed payload type is mapped into 64-95) is RTCP: unprotected as SRTCP,
// latched by the RTCP rules above (the control plane gives the side's RTP
// address as its RTCP address, RFC 5761 5.1.3) and relayed as RTCP. RTCP
// towards a muxed side leaves from its RTP port to where its RTP goes. The
// other side, not muxed, keeps RTP + 1; one burst may then leave from both
// ports (tx_packet::via). On a side that is not muxed, RTCP a peer muxes
// anyway is taken for RTP, held to the RTP latch, and relayed as such.
//
// Connectivity checks (set_ice; RFC 8445 2.5, ICE lite): STUN on a port is
// told from RTP and RTCP by its first octet (RFC 7983 7) and never relayed,
// checked or not: before this, a check was taken for RTP, relayed to the
// other peer, and latched the side to whichever candidate's check came
// first. A check that passes the responder's checks and nominates its pair
// (USE-CANDIDATE) latches the channel it came on to its source at once
// (RFC 8445 7.3.2 and 8.2: that pair is selected, and the peer sends media
// from there): it proves, with the ICE password, what a first packet only
// suggests, so it also moves a latch that a first packet or an older,
// lower nomination made. A nomination of lower PRIORITY than the standing
// one moves nothing: a peer that nominates aggressively (RFC 5245 8.1.1.2)
// marks every check, and then the highest nominated pair is the selected
// one. Checks without USE-CANDIDATE are answered from any source and latch
// nothing. Nor do checks keep a media timeout from firing: that watches
// media, and consent checks (RFC 7675) go on while a peer sends none.
//
// Reception quality (receive_quality): per accepted RTP packet from a
// peer, the sequence tracking of RFC 3550 A.1 (without its probation: the
// latch already chose the source) gives the packets expected, A.3 the
// loss, and A.8 the interarrival jitter, in the stream's timestamp units
// (the clock rate comes with set_payload_types), from the burst's arrival
// time. A new SSRC, or a jump A.1 confirms with a second packet, starts the
// count afresh and keeps what was expected before. Packets of another
// payload type than the stream's first (telephone-event, whose timestamp
// stays at the event's start; comfort noise) leave the jitter alone.
//
// Round trip (inspect_rtcp; RFC 3550 6.4.1): the SBC sees both peers' RTCP,
// so it measures each leg's round trip as a sender would: an SR relayed to
// side X's peer is noted (its NTP middle, the time it left); a report block
// from X's peer whose LSR is one of them gives arrival - sent - DLSR. Only
// relayed RTCP counts: a transcoded session's is dropped, and its reports
// would describe streams the peers never saw.
//
// Payload types (set_payload_types): RFC 3264 6.1 lets an answerer renumber
// a codec, and each peer receives with the numbers its own SDP stated, so
// relayed RTP may need its number rewritten per direction. That is one
// octet, rewritten on the plain packet (after SRTP unprotect, before
// protect) through a 128-entry table, only on sides that have a map.
#include "dataplane/core/relay.hpp"

#include <algorithm>

#include "dataplane/core/ice_responder.hpp"
#include "dataplane/core/stun.hpp"

namespace sbc::dataplane {

namespace {

// RFC 3264 8.4 (c= 0.0.0.0 for hold) and 6 (port 0 rejects a stream): the
// peer asks for no media at that address.
bool can_send_to(const ip_endpoint& ep) noexcept {
    return ep.valid() && !ep.is_unspecified() && ep.port() != 0;
}

// RFC 5761 4 and RFC 7983 7: an RTP or RTCP version-2 header whose second
// octet is an RTCP packet type (192-223; RTP would need payload type 64-95
// with the marker bit set, which no SDP of the SBC's allows).
bool is_muxed_rtcp(const rx_packet& pkt) noexcept {
    return pkt.len >= 8 && (pkt.data[0] >> 6) == 2 && pkt.data[1] >= 192 && pkt.data[1] <= 223;
}

}  // namespace

void relay_session::set_remote(side s, const ip_endpoint& rtp, const ip_endpoint& rtcp) noexcept {
    auto& st = _sides[index(s)];
    auto& rtp_path = st.paths[index(channel::rtp)];
    auto& rtcp_path = st.paths[index(channel::rtcp)];
    rtp_path.remote = can_send_to(rtp) ? rtp : ip_endpoint{};
    rtcp_path.remote = can_send_to(rtcp) ? rtcp : ip_endpoint{};
    rtp_path.latched = ip_endpoint{};
    rtcp_path.latched = ip_endpoint{};
    rtp_path.nominated = false;
    rtcp_path.nominated = false;
    st.latched_rtp.clear();
}

void relay_session::set_rtcp_mux(side s, bool muxed) noexcept {
    auto& st = _sides[index(s)];
    if (st.muxed != muxed) {
        st.muxed = muxed;
        st.paths[index(channel::rtcp)].latched = ip_endpoint{};
        st.paths[index(channel::rtcp)].nominated = false;
    }
}

void relay_session::set_ice(side s, const ice_responder* ice, bool restart) noexcept {
    auto& st = _sides[index(s)];
    st.ice = ice;
    if (restart) {
        for (auto& p : st.paths) {
            p.nominated = false;
        }
    }
}

void relay_session::latch(side_state& st, channel ch, const ip_endpoint* source,
                          tx_batch& out) noexcept {
    st.paths[index(ch)].latched = *source;
    if (ch != channel::rtp) {
        return;
    }
    st.latched_rtp.store(*source);
    out.latched = source;
    auto& rtcp_path = st.paths[index(channel::rtcp)];
    if (rtcp_path.latched.valid() && !may_latch_rtcp(st, rtcp_path.latched)) {
        rtcp_path.latched = ip_endpoint{};
    }
}

relay_session::stun_outcome relay_session::answer_stun(side_state& st, channel ch,
                                                       const rx_packet& pkt,
                                                       tx_batch& out) noexcept {
    if (st.ice == nullptr || out.reply_count == out.replies.size()) {
        return stun_outcome::dropped;
    }
    const auto a = st.ice->respond({pkt.data, pkt.len}, *pkt.source, {pkt.data, pkt.capacity});
    if (a.what == ice_responder::verdict::drop) {
        return stun_outcome::dropped;
    }
    out.replies[out.reply_count++] =
        tx_packet{pkt.data, static_cast<std::uint32_t>(a.length), pkt.source, true, ch};
    if (a.what == ice_responder::verdict::error) {
        return stun_outcome::rejected;
    }
    auto& p = st.paths[index(ch)];
    if (a.nominated && (!p.nominated || a.priority >= p.nominated_priority)) {
        p.nominated = true;
        p.nominated_priority = a.priority;
        if (!(p.latched == *pkt.source)) {
            latch(st, ch, pkt.source, out);
        }
    }
    return stun_outcome::answered;
}

bool relay_session::may_latch_rtcp(const side_state& st, const ip_endpoint& source) noexcept {
    const auto& rtp = st.paths[index(channel::rtp)];
    const auto& rtcp = st.paths[index(channel::rtcp)];
    if (rtp.latched.valid() && source.same_address(rtp.latched)) {
        return true;
    }
    return source.same_address(rtcp.remote) &&
           (!rtp.latched.valid() || !rtcp.remote.same_address(rtp.remote));
}

void relay_session::receive_quality::restart(std::uint16_t seq) noexcept {
    expected_before = expected();
    seen = true;
    base_seq = seq;
    max_seq = seq;
    cycles = 0;
    bad_seq = 0x10001;
    has_transit = false;
}

void relay_session::receive_quality::note(const std::uint8_t* rtp, std::int64_t now_ns) noexcept {
    // RFC 3550 5.1: sequence number at octets 2-3, timestamp 4-7, SSRC 8-11.
    const auto seq = static_cast<std::uint16_t>((rtp[2] << 8) | rtp[3]);
    const std::uint32_t ts = (std::uint32_t{rtp[4]} << 24) | (std::uint32_t{rtp[5]} << 16) |
                             (std::uint32_t{rtp[6]} << 8) | std::uint32_t{rtp[7]};
    const std::uint32_t id = (std::uint32_t{rtp[8]} << 24) | (std::uint32_t{rtp[9]} << 16) |
                             (std::uint32_t{rtp[10]} << 8) | std::uint32_t{rtp[11]};
    const std::uint8_t pt = rtp[1] & 0x7f;
    if (!seen || id != ssrc) {
        if (!seen) {
            epoch_ns = now_ns;
        }
        restart(seq);
        ssrc = id;
        payload_type = pt;
    } else {
        // RFC 3550 A.1, with its MAX_DROPOUT 3000 and MAX_MISORDER 100.
        const auto udelta = static_cast<std::uint16_t>(seq - max_seq);
        if (udelta < 3000) {
            if (seq < max_seq) {
                cycles += 0x10000;
            }
            max_seq = seq;
        } else if (udelta <= 0x10000 - 100) {
            if (seq != bad_seq) {
                // A jump: counted only once the next packet follows it.
                bad_seq = (seq + 1u) & 0xffffu;
                return;
            }
            restart(seq);
        }
        // else a duplicate or a late packet: received, expected unchanged.
    }
    ++received;
    if (pt != payload_type) {
        return;
    }
    if (now_ns != arrival_ns) {
        // A.8: the arrival in timestamp units (from microseconds, so that the
        // product stays far from overflowing), modulo 2^32 as the timestamps are.
        arrival_ns = now_ns;
        arrival = static_cast<std::uint32_t>((now_ns - epoch_ns) / 1000 * std::int64_t{clock_hz} /
                                             1000000);
    }
    const std::uint32_t t = arrival - ts;
    if (has_transit) {
        const auto d = static_cast<std::int32_t>(t - transit);
        const std::uint32_t ad =
            d < 0 ? 0u - static_cast<std::uint32_t>(d) : static_cast<std::uint32_t>(d);
        // J += (|D| - J) / 16, with J kept times 16 (A.8's integer form).
        jitter_q4 += ad - ((jitter_q4 + 8) >> 4);
    }
    transit = t;
    has_transit = true;
}

void relay_session::inspect_rtcp(side from, const std::uint8_t* rtcp, std::size_t len,
                                 std::int64_t now_ns) noexcept {
    auto& src = _sides[index(from)];
    auto& dst = _sides[index(other(from))];
    const auto u32 = [](const std::uint8_t* p) {
        return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
               (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    };
    // RFC 3550 6.1: packets of (length + 1) 32-bit words, back to back.
    std::size_t at = 0;
    while (len - at >= 8) {
        const std::uint8_t* p = rtcp + at;
        const std::size_t size = (static_cast<std::size_t>((p[2] << 8) | p[3]) + 1) * 4;
        if ((p[0] >> 6) != 2 || size > len - at) {
            return;
        }
        std::size_t blocks_at = 0;
        if (p[1] == 200 && size >= 28) {
            // SR (6.4.1): NTP timestamp at octets 8-15, its middle at 10-13.
            dst.sent_srs[dst.next_sr] = {u32(p + 10), now_ns};
            dst.next_sr = static_cast<std::uint8_t>((dst.next_sr + 1) % dst.sent_srs.size());
            blocks_at = 28;
        } else if (p[1] == 201) {
            blocks_at = 8;  // RR (6.4.2)
        }
        if (blocks_at != 0) {
            // Report blocks of 24 octets: LSR at 16-19, DLSR at 20-23.
            const std::size_t count = p[0] & 0x1f;
            for (std::size_t i = 0; i < count && blocks_at + (i + 1) * 24 <= size; ++i) {
                const std::uint8_t* b = p + blocks_at + i * 24;
                const std::uint32_t lsr = u32(b + 16);
                if (lsr == 0) {
                    continue;  // no SR received yet
                }
                for (const auto& sr : src.sent_srs) {
                    if (sr.sent_ns != 0 && sr.ntp_middle == lsr) {
                        // DLSR in 1/65536 s.
                        const std::int64_t rtt =
                            now_ns - sr.sent_ns - ((std::int64_t{u32(b + 20)} * 1000000000) >> 16);
                        if (rtt >= 0) {
                            src.rtt_us.store(rtt / 1000, std::memory_order_relaxed);
                        }
                        break;
                    }
                }
            }
        }
        at += size;
    }
}

void relay_session::set_payload_types(side to, const payload_type_map& map) noexcept {
    auto& from = _sides[index(other(to))];
    const std::uint32_t hz = map.clock_hz != 0 ? map.clock_hz : 8000;
    if (hz != from.quality.clock_hz) {
        // Another codec: transit times in the old unit mean nothing now.
        from.quality.clock_hz = hz;
        from.quality.arrival_ns = -1;
        from.quality.has_transit = false;
        from.quality.jitter_q4 = 0;
        from.rx_jitter_q4.store(0, std::memory_order_relaxed);
        from.rx_clock_hz.store(hz, std::memory_order_relaxed);
    }
    auto& st = _sides[index(to)];
    for (std::size_t pt = 0; pt < st.payload_type_to_peer.size(); ++pt) {
        st.payload_type_to_peer[pt] = static_cast<std::uint8_t>(pt);
    }
    st.renumber = false;
    const auto n = std::min<std::size_t>(map.count, map.entries.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto& e = map.entries[i];
        // RFC 5761 4: 64-95 is where RTCP packet types would fall; never
        // turn an RTCP packet muxed onto the RTP port into RTP, or back.
        const auto rtcp_range = [](unsigned pt) { return pt >= 64 && pt <= 95; };
        if (e.from < st.payload_type_to_peer.size() && e.to < st.payload_type_to_peer.size() &&
            e.from != e.to && !rtcp_range(e.from) && !rtcp_range(e.to)) {
            st.payload_type_to_peer[e.from] = e.to;
            st.renumber = true;
        }
    }
}

const ip_endpoint* relay_session::destination(side to, channel ch) const noexcept {
    const auto& st = _sides[index(to)];
    // RFC 5761 5.1.3: a muxed peer receives its RTCP where it receives RTP.
    const auto& p = st.paths[index(st.muxed ? channel::rtp : ch)];
    if (p.latched.valid()) {
        return &p.latched;
    }
    if (p.remote.valid()) {
        return &p.remote;
    }
    return nullptr;
}

void relay_session::set_srtp(side s, srtp::stream_crypto* from_peer,
                             srtp::stream_crypto* to_peer) noexcept {
    auto& st = _sides[index(s)];
    st.unprotect = from_peer;
    st.protect = to_peer;
    // New contexts count their streams afresh.
    st.unprotected = stream_watch{};
    st.protected_ = stream_watch{};
    st.srtcp_ssrc = 0;
    st.srtcp_sent = 0;
}

void relay_session::count_srtcp(side s, const std::uint8_t* rtcp, std::size_t len,
                                tx_batch& out) noexcept {
    if (len < 8) {
        return;
    }
    auto& st = _sides[index(s)];
    // RFC 3550 6.4: the sender's SSRC at octets 4-7 of the first packet,
    // the stream whose SRTCP index libsrtp2 counts.
    const std::uint32_t ssrc = (std::uint32_t{rtcp[4]} << 24) | (std::uint32_t{rtcp[5]} << 16) |
                               (std::uint32_t{rtcp[6]} << 8) | std::uint32_t{rtcp[7]};
    if (ssrc != st.srtcp_ssrc) {
        st.srtcp_ssrc = ssrc;
        st.srtcp_sent = 0;
    }
    ++st.srtcp_sent;
    // The first tells the stream's SSRC; then one in 256 bounds the index
    // without a report per packet.
    if ((st.srtcp_sent == 1 || st.srtcp_sent % 256 == 0) &&
        out.rollover_count < out.rollovers.size()) {
        srtp_rollover r;
        r.s = s;
        r.to_peer = true;
        r.srtcp = true;
        r.ssrc = ssrc;
        r.srtcp_sent = st.srtcp_sent;
        out.rollovers[out.rollover_count++] = r;
    }
}

void relay_session::watch_rollover(side s, bool to_peer, const std::uint8_t* rtp, std::size_t len,
                                   tx_batch& out) noexcept {
    if (len < 12) {
        return;
    }
    auto& st = _sides[index(s)];
    auto& w = to_peer ? st.protected_ : st.unprotected;
    // RFC 3550 5.1: the sequence number at octets 2-3, the SSRC at 8-11.
    const auto seq = static_cast<std::uint16_t>((rtp[2] << 8) | rtp[3]);
    const std::uint32_t ssrc = (std::uint32_t{rtp[8]} << 24) | (std::uint32_t{rtp[9]} << 16) |
                               (std::uint32_t{rtp[10]} << 8) | std::uint32_t{rtp[11]};
    // RFC 3711 3.3.1: a packet ahead of the last (less than half the
    // sequence space on) with a smaller number carried the count over.
    // Reordered packets from before the wrap are behind, and change nothing.
    const auto ahead = static_cast<std::uint16_t>(seq - w.seq);
    const bool same = w.seen && w.ssrc == ssrc;
    if (same && (ahead == 0 || ahead >= 0x8000)) {
        return;
    }
    const bool wrapped = same && seq < w.seq;
    w = stream_watch{ssrc, seq, true};
    if (!wrapped || out.rollover_count == out.rollovers.size()) {
        return;
    }
    auto* ctx = to_peer ? st.protect : st.unprotect;
    if (const auto roc = ctx != nullptr ? ctx->roc_of(ssrc) : std::nullopt) {
        srtp_rollover r;
        r.s = s;
        r.to_peer = to_peer;
        r.ssrc = ssrc;
        r.roc = *roc;
        out.rollovers[out.rollover_count++] = r;
    }
}

void relay_session::set_chain(side from, transcoder::media_chain* chain) noexcept {
    auto*& current = _sides[index(from)].chain;
    if (current != nullptr && chain != nullptr) {
        // The other leg's peer keeps receiving one stream across the change,
        // the packets the old chain still held for their time included.
        chain->continue_from(current->next_origin());
        chain->take_waiting(*current);
    }
    current = chain;
    _sides[index(from)].published_chain.store(chain, std::memory_order_release);
}

void relay_session::set_tone(side to, transcoder::tone_source* tone, std::int64_t now_ns) noexcept {
    auto& st = _sides[index(to)];
    st.tone = tone;
    if (tone != nullptr) {
        tone->start(now_ns);
    }
    st.tone_playing.store(tone != nullptr, std::memory_order_relaxed);
}

void relay_session::queue_digit(side from, char digit, std::uint32_t duration_ms) noexcept {
    if (auto* chain = _sides[index(from)].chain) {
        (void)chain->queue_digit(digit, duration_ms);
    }
}

std::uint64_t relay_session::send_chain_output(transcoder::media_chain& chain, std::size_t first,
                                               side to, const ip_endpoint* dest, tx_batch& out,
                                               std::int64_t flush_ns) noexcept {
    if (flush_ns != 0) {
        chain.flush_due(flush_ns, *out.sink);
    }
    auto* protect = _sides[index(to)].protect;
    std::uint64_t errors = 0;
    for (const auto& p : out.sink->packets().subspan(first)) {
        if (out.count == out.packets.size()) {
            break;  // the sink has as many slots as the batch: cannot happen
        }
        std::size_t len = p.len;
        if (protect != nullptr) {
            if (protect->protect_rtp(p.data, len) != srtp::outcome::ok) {
                ++errors;
                continue;
            }
            watch_rollover(to, true, p.data, len, out);
        }
        out.packets[out.count++] = tx_packet{p.data, static_cast<std::uint32_t>(len), dest, true};
    }
    while (out.digit_count < out.digits.size()) {
        auto d = chain.take_digit();
        if (!d) {
            break;
        }
        out.digits[out.digit_count++] = *d;
    }
    return errors;
}

std::int64_t relay_session::next_due_ns() const noexcept {
    std::int64_t due = transcoder::no_due_ns;
    for (const auto& sd : _sides) {
        if (sd.chain != nullptr) {
            due = std::min(due, sd.chain->next_due_ns());
        }
        if (sd.tone != nullptr) {
            due = std::min(due, sd.tone->next_due_ns());
        }
    }
    return due;
}

void relay_session::release_due(side from, std::int64_t now_ns, tx_batch& out) noexcept {
    out.count = 0;
    out.latched = nullptr;
    out.digit_count = 0;
    out.reply_count = 0;
    out.rollover_count = 0;
    auto* chain = _sides[index(from)].chain;
    auto& dst = _sides[index(other(from))];
    if (out.sink == nullptr || (chain == nullptr && dst.tone == nullptr)) {
        return;
    }
    out.sink->clear();
    const ip_endpoint* dest = destination(other(from), channel::rtp);
    if (chain != nullptr) {
        if (dest == nullptr) {
            if (const auto dropped = chain->drop_waiting(); dropped > 0) {
                _sides[index(from)].drops_no_destination.add(dropped);
            }
        } else if (const auto errors =
                       send_chain_output(*chain, 0, other(from), dest, out, now_ns)) {
            // Protected now, as they leave, in the order the chain numbered
            // them: the SRTP index follows the sequence numbers (RFC 3711 3.3.1).
            dst.srtp_errors.add(errors);
        }
    }
    if (dst.tone != nullptr) {
        release_tone(other(from), dest, now_ns, out);
    }
}

void relay_session::release_tone(side to, const ip_endpoint* dest, std::int64_t now_ns,
                                 tx_batch& out) noexcept {
    auto& dst = _sides[index(to)];
    // The tone moves on with the clock even with nowhere to send it (the
    // peer on hold), so its due time never stays in the past.
    const std::size_t first = out.sink->size();
    const std::size_t made = dst.tone->release(now_ns, *out.sink);
    if (dest == nullptr) {
        out.sink->truncate(first);
        return;
    }
    std::uint64_t errors = 0;
    for (const auto& p : out.sink->packets().subspan(first)) {
        if (out.count == out.packets.size()) {
            break;  // the sink has as many slots as the batch: cannot happen
        }
        std::size_t len = p.len;
        if (dst.protect != nullptr) {
            if (dst.protect->protect_rtp(p.data, len) != srtp::outcome::ok) {
                ++errors;
                continue;
            }
            watch_rollover(to, true, p.data, len, out);
        }
        out.packets[out.count++] = tx_packet{p.data, static_cast<std::uint32_t>(len), dest, true};
    }
    if (made > 0) {
        dst.tone_packets.add(made - errors);
    }
    if (errors > 0) {
        dst.srtp_errors.add(errors);
    }
}

void relay_session::relay(side from, channel ch, std::span<const rx_packet> burst,
                          std::int64_t now_ns, tx_batch& out) noexcept {
    out.count = 0;
    out.latched = nullptr;
    out.digit_count = 0;
    out.reply_count = 0;
    out.rollover_count = 0;
    if (out.sink != nullptr) {
        out.sink->clear();
    }
    auto& src = _sides[index(from)];
    auto& dst = _sides[index(other(from))];
    // Only a muxed side's RTP port carries both channels (see the top of this file).
    const bool demux = ch == channel::rtp && src.muxed;
    // Latching below changes only `from`'s paths, so the destinations on the
    // other side are the same for the whole burst.
    const std::array<const ip_endpoint*, 2> dests{destination(other(from), channel::rtp),
                                                  destination(other(from), channel::rtcp)};
    const channel rtcp_via = dst.muxed ? channel::rtp : channel::rtcp;
    const auto n = std::min(burst.size(), max_burst);
    transcoder::media_chain* chain = ch == channel::rtp ? src.chain : nullptr;
    if (chain != nullptr && out.sink == nullptr) {
        chain = nullptr;  // a backend without a sink relays (the control plane knows)
    }
    const bool drop_rtcp = transcoded();

    std::uint64_t bytes = 0;
    std::uint64_t rtcp_packets = 0;  // muxed RTCP that arrived on the RTP port
    std::uint64_t rtcp_bytes = 0;
    std::uint64_t accepted = 0;
    std::uint64_t wrong_source = 0;
    std::uint64_t no_destination = 0;
    std::uint64_t truncated = 0;
    std::uint64_t auth_failures = 0;
    std::uint64_t replays = 0;
    std::uint64_t protect_errors = 0;
    std::uint64_t rtcp_dropped = 0;
    std::uint64_t tone_held = 0;
    std::uint64_t tracked = 0;                   // RTP that src.quality counted
    std::array<std::uint64_t, 3> stun_counts{};  // indexed by stun_outcome
    if (chain != nullptr && dests[0] != nullptr) {
        // Packets held for a gap that has not filled in time are played
        // now, their gap concealed (media_chain::flush_due): the arrival of
        // later packets is the chain's clock.
        protect_errors +=
            send_chain_output(*chain, out.sink->size(), other(from), dests[0], out, now_ns);
    }
    for (std::size_t i = 0; i < n; ++i) {
        const rx_packet& pkt = burst[i];
        const channel pc = demux && is_muxed_rtcp(pkt) ? channel::rtcp : ch;
        if (pc != ch) {
            ++rtcp_packets;
            rtcp_bytes += pkt.len;
        }
        bytes += pkt.len;
        if (pkt.truncated) {
            ++truncated;
            continue;
        }
        if (pkt.source == nullptr || !pkt.source->valid()) {
            ++wrong_source;
            continue;
        }
        if (pkt.len > 0 && stun::is_stun_first_octet(pkt.data[0])) {
            // Checks come from every candidate of the peer's, not only from
            // the latched one: before the source rule.
            ++stun_counts[static_cast<std::size_t>(answer_stun(src, ch, pkt, out))];
            continue;
        }
        const bool rtp = pc == channel::rtp;
        auto& in = src.paths[index(pc)];
        if (in.latched.valid() ? !(*pkt.source == in.latched)
                               : !rtp && !may_latch_rtcp(src, *pkt.source)) {
            ++wrong_source;
            continue;
        }
        std::size_t len = pkt.len;
        if (src.unprotect != nullptr) {
            // RFC 3711 3.3: authenticate (and check the replay list) before
            // anything else trusts the packet, latching included.
            auto r = rtp ? src.unprotect->unprotect_rtp(pkt.data, len)
                         : src.unprotect->unprotect_rtcp(pkt.data, len);
            if (r != srtp::outcome::ok) {
                ++(r == srtp::outcome::replayed ? replays : auth_failures);
                continue;
            }
            if (rtp) {
                watch_rollover(from, false, pkt.data, len, out);
            }
        }
        if (!in.latched.valid()) {
            latch(src, pc, pkt.source, out);
        }
        ++accepted;
        if (rtp && len >= 12 && (pkt.data[0] >> 6) == 2) {
            src.quality.note(pkt.data, now_ns);
            ++tracked;
        }
        const ip_endpoint* dest = dests[index(pc)];
        if (dest == nullptr) {
            ++no_destination;
            continue;
        }
        if (!rtp && drop_rtcp) {
            ++rtcp_dropped;
            continue;
        }
        if (rtp && dst.tone != nullptr) {
            ++tone_held;
            continue;
        }
        if (rtp && chain != nullptr) {
            const std::size_t first = out.sink->size();
            chain->push({pkt.data, len}, now_ns, *out.sink);
            protect_errors += send_chain_output(*chain, first, other(from), dest, out);
            continue;
        }
        if (!rtp) {
            inspect_rtcp(from, pkt.data, len, now_ns);
        }
        bool renumbered = false;
        if (rtp && dst.renumber && len >= 12 && (pkt.data[0] >> 6) == 2) {
            // RFC 3550 5.1: the low 7 bits of octet 1 (the marker bit stays).
            const std::uint8_t pt = pkt.data[1] & 0x7f;
            const std::uint8_t to = dst.payload_type_to_peer[pt];
            if (to != pt) {
                pkt.data[1] = static_cast<std::uint8_t>((pkt.data[1] & 0x80) | to);
                renumbered = true;
            }
        }
        if (dst.protect != nullptr) {
            if (len + srtp::max_overhead > pkt.capacity) {
                ++protect_errors;
                continue;
            }
            auto r = rtp ? dst.protect->protect_rtp(pkt.data, len)
                         : dst.protect->protect_rtcp(pkt.data, len);
            if (r != srtp::outcome::ok) {
                ++protect_errors;
                continue;
            }
            if (rtp) {
                watch_rollover(other(from), true, pkt.data, len, out);
            } else {
                count_srtcp(other(from), pkt.data, len, out);
            }
        }
        out.packets[out.count++] =
            tx_packet{pkt.data, static_cast<std::uint32_t>(len), dest,
                      renumbered || src.unprotect != nullptr || dst.protect != nullptr,
                      rtp ? channel::rtp : rtcp_via};
    }

    if (ch == channel::rtp) {
        src.rtp_rx_packets.add(n - rtcp_packets);
        src.rtp_rx_bytes.add(bytes - rtcp_bytes);
        if (rtcp_packets > 0) {
            src.rtcp_rx_packets.add(rtcp_packets);
        }
    } else {
        src.rtcp_rx_packets.add(n);
    }
    if (accepted > 0) {
        src.last_rx_ns.store(now_ns, std::memory_order_relaxed);
    }
    if (tracked > 0) {
        src.rx_received.store(src.quality.received, std::memory_order_relaxed);
        src.rx_expected.store(src.quality.expected(), std::memory_order_relaxed);
        src.rx_jitter_q4.store(src.quality.jitter_q4, std::memory_order_relaxed);
    }
    if (wrong_source > 0) {
        src.drops_wrong_source.add(wrong_source);
    }
    if (no_destination > 0) {
        src.drops_no_destination.add(no_destination);
    }
    if (truncated > 0) {
        src.drops_truncated.add(truncated);
    }
    if (auth_failures > 0) {
        src.srtp_auth_failures.add(auth_failures);
    }
    if (replays > 0) {
        src.srtp_replays.add(replays);
    }
    if (protect_errors > 0) {
        dst.srtp_errors.add(protect_errors);
    }
    if (rtcp_dropped > 0) {
        src.drops_transcoded_rtcp.add(rtcp_dropped);
    }
    if (tone_held > 0) {
        src.drops_local_tone.add(tone_held);
    }
    if (const auto n = stun_counts[static_cast<std::size_t>(stun_outcome::answered)]; n > 0) {
        src.stun_answered.add(n);
    }
    if (const auto n = stun_counts[static_cast<std::size_t>(stun_outcome::rejected)]; n > 0) {
        src.stun_rejected.add(n);
    }
    if (const auto n = stun_counts[static_cast<std::size_t>(stun_outcome::dropped)]; n > 0) {
        src.stun_dropped.add(n);
    }
}

void relay_session::note_tx(side to, std::size_t sent, std::size_t sent_bytes,
                            std::size_t failed) noexcept {
    auto& st = _sides[index(to)];
    if (sent > 0) {
        st.tx_packets.add(sent);
        st.tx_bytes.add(sent_bytes);
    }
    if (failed > 0) {
        st.drops_tx_error.add(failed);
    }
}

session_stats relay_session::stats() const {
    session_stats out;
    for (std::size_t i = 0; i < _sides.size(); ++i) {
        const auto& st = _sides[i];
        auto& c = out.sides[i];
        c.rtp_rx_packets = st.rtp_rx_packets.get();
        c.rtp_rx_bytes = st.rtp_rx_bytes.get();
        c.rtcp_rx_packets = st.rtcp_rx_packets.get();
        c.tx_packets = st.tx_packets.get();
        c.tx_bytes = st.tx_bytes.get();
        c.drops_wrong_source = st.drops_wrong_source.get();
        c.drops_no_destination = st.drops_no_destination.get();
        c.drops_tx_error = st.drops_tx_error.get();
        c.drops_truncated = st.drops_truncated.get();
        c.srtp_auth_failures = st.srtp_auth_failures.get();
        c.srtp_replays = st.srtp_replays.get();
        c.srtp_errors = st.srtp_errors.get();
        c.drops_transcoded_rtcp = st.drops_transcoded_rtcp.get();
        c.stun_answered = st.stun_answered.get();
        c.stun_rejected = st.stun_rejected.get();
        c.stun_dropped = st.stun_dropped.get();
        c.local_tone = st.tone_playing.load(std::memory_order_relaxed);
        c.local_tone_packets = st.tone_packets.get();
        c.drops_local_tone = st.drops_local_tone.get();
        // Not `chain`: the worker writes it while this thread reads.
        if (const auto* chain = st.published_chain.load(std::memory_order_acquire)) {
            c.chain = chain->stats();
        }
        c.last_rx_ns = st.last_rx_ns.load(std::memory_order_relaxed);
        c.latched_rtp = st.latched_rtp.load();
        c.rtp_received = st.rx_received.load(std::memory_order_relaxed);
        c.rtp_expected = st.rx_expected.load(std::memory_order_relaxed);
        c.rtp_lost =
            static_cast<std::int64_t>(c.rtp_expected) - static_cast<std::int64_t>(c.rtp_received);
        if (const auto rtt = st.rtt_us.load(std::memory_order_relaxed); rtt >= 0) {
            c.rtt_ms = static_cast<double>(rtt) / 1000.0;
        }
        c.jitter_ms = st.rx_jitter_q4.load(std::memory_order_relaxed) / 16.0 * 1000.0 /
                      st.rx_clock_hz.load(std::memory_order_relaxed);
    }
    return out;
}

void relay_session::arm_timeout(std::int64_t after_ns, std::int64_t now_ns) noexcept {
    _timeout_ns = after_ns > 0 ? after_ns : 0;
    _armed_at_ns = now_ns;
}

bool relay_session::check_timeout(std::int64_t now_ns) noexcept {
    if (_timeout_ns == 0) {
        return false;
    }
    std::int64_t last = _armed_at_ns;
    for (const auto& sd : _sides) {
        last = std::max(last, sd.last_rx_ns.load(std::memory_order_relaxed));
    }
    if (now_ns - last < _timeout_ns) {
        return false;
    }
    _timeout_ns = 0;
    return true;
}

}  // namespace sbc::dataplane
