// The per-burst relay pipeline shared by every I/O backend: given a burst of
// datagrams that arrived on one side's RTP or RTCP port of a session, decide
// which to forward and where, and count the rest by reason.
//
// Object graph: an I/O backend's session object owns one relay_session; the
// relay_session holds, per side (a, b) and per channel (RTP, RTCP), the
// address the peer's SDP gave and the address it was latched to, plus the
// side's counters. Packets stay in the backend's buffers: rx_packet and
// tx_packet only point at them, so nothing is copied or allocated here.
//
// This code knows nothing of sockets, epoll or DPDK: the kernel backend feeds
// it recvmmsg() bursts, the dpdk backend will feed it rte_mbuf bursts.
//
// STUN shares the ports (RFC 7983): a datagram whose first octet is 0-3 is
// never relayed. On a side with ICE credentials (set_ice) it goes to the
// side's ice_responder, whose response, written over the request, goes back
// from the port it arrived on (tx_batch::replies); on any other side it is
// dropped and counted.
//
// Threads (the ownership rule of every field is written beside it):
// - The owning worker calls set_remote(), relay() and note_tx().
// - Any thread may call stats(): counters are single-writer atomics (relaxed,
//   a statistic needs no ordering), the latched RTP source is published
//   through a sequence lock.
// - Before the session is handed to its worker (through a command ring whose
//   release/acquire orders it), the control thread may construct it.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/api/ip_endpoint.hpp"
#include "dataplane/api/media_engine.hpp"
#include "dataplane/core/published_endpoint.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/tone/tone_source.hpp"

namespace sbc::dataplane {

class ice_responder;

/// Bursts of up to 32 datagrams, as DPDK's examples use (STYLE.md, The hot path).
constexpr std::size_t max_burst = 32;
/// What one burst may send: more than it received when a codec chain
/// repacketizes (a 60 ms packet in, three of 20 ms out).
constexpr std::size_t max_tx_burst = 2 * max_burst;

/// Which of a side's two ports a datagram arrived on, or leaves from; RTCP is
/// RTP + 1 (RFC 3550 11), except on a side that multiplexes RTCP onto its RTP
/// port (RFC 5761, set_rtcp_mux).
enum class channel : std::uint8_t { rtp = 0, rtcp = 1 };

constexpr std::size_t index(channel c) noexcept { return static_cast<std::size_t>(c); }

/// One received datagram. `data` and `source` belong to the backend's burst
/// buffers and stay valid until the burst's tx batch has been sent. SRTP is
/// removed and added in place, so the relay may rewrite `data` and grow it
/// up to `capacity` octets.
struct rx_packet {
    std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    /// Larger than the backend's buffer: only a prefix is held, so it is dropped.
    bool truncated = false;
    const ip_endpoint* source = nullptr;
    std::uint32_t capacity = 0;  ///< octets `data` can hold
};

/// One datagram to send from the other side's `via` port (a response to a
/// check: from the port its request came to). `destination` points into the
/// relay_session (its latched or SDP address) or the burst (a check's source).
struct tx_packet {
    const std::uint8_t* data = nullptr;
    std::uint32_t len = 0;
    const ip_endpoint* destination = nullptr;
    /// SRTP was removed or added, or the payload type renumbered: the
    /// payload is not the one received (a backend that rewrites UDP
    /// checksums incrementally must sum it anew).
    bool transformed = false;
    /// The port it leaves from: the channel it belongs to, except that RTCP
    /// towards a muxed side leaves from that side's RTP port (RFC 5761 4).
    /// One burst may hold both when it came from a muxed side's RTP port.
    channel via = channel::rtp;
};

/// A stream's rollover counter moved (RFC 3711 3.3.1): its sequence number
/// wrapped in a packet the worker protected for side `s`'s peer (`to_peer`)
/// or unprotected from it. Or, with `srtcp`, the worker has protected the
/// first or another 256th SRTCP packet of stream `ssrc` for side `s`'s
/// peer, `srtcp_sent` in all since the SRTP contexts were set (the SRTCP
/// index the next one takes, RFC 3711 3.4). The backend reports it to the
/// control plane (media_event::kind::srtp_rollover), which writes it where
/// a node that takes the call over reads it (srtp::stream_crypto::create's
/// `continued`).
struct srtp_rollover {
    side s = side::a;
    bool to_peer = false;
    bool srtcp = false;
    std::uint32_t ssrc = 0;
    std::uint32_t roc = 0;
    std::uint32_t srtcp_sent = 0;
};

struct tx_batch {
    std::array<tx_packet, max_tx_burst> packets{};
    std::size_t count = 0;
    /// This burst latched the side's RTP to the source it points at (one of
    /// the burst's): the backend reports it to the control plane (media_event).
    const ip_endpoint* latched = nullptr;
    /// The worker's slots for what codec chains produce (max_tx_burst of
    /// them): the packets of a transcoded burst point into it until sent.
    /// Null on a worker that cannot transcode.
    transcoder::packet_sink* sink = nullptr;
    /// Digits the burst's chain reported for SIP INFO (media_event::dtmf).
    std::array<transcoder::reported_digit, 4> digits{};
    std::size_t digit_count = 0;
    /// Responses to connectivity checks (set_ice), each written over its
    /// request in the burst's buffers: to be sent from the port the burst
    /// arrived on (not the other side's), to `destination`, the request's
    /// source.
    std::array<tx_packet, max_burst> replies{};
    std::size_t reply_count = 0;
    /// Rollover counters this burst moved (one wrap per SRTP direction at
    /// most, but for a peer that changes SSRC mid-burst); more are dropped,
    /// and the next wrap of that stream reports its counter again.
    std::array<srtp_rollover, 4> rollovers{};
    std::size_t rollover_count = 0;
};

/// The event that reports a stream's new rollover counter.
inline media_event rollover_event(session_id id, const srtp_rollover& r) noexcept {
    media_event ev;
    ev.what = media_event::kind::srtp_rollover;
    ev.id = id;
    ev.s = r.s;
    ev.to_peer = r.to_peer;
    ev.ssrc = r.ssrc;
    ev.roc = r.roc;
    ev.srtcp = r.srtcp;
    ev.srtcp_sent = r.srtcp_sent;
    return ev;
}

/// The event that reports a digit a burst's chain heard for an INFO leg.
inline media_event dtmf_event(session_id id, side from,
                              const transcoder::reported_digit& d) noexcept {
    media_event ev;
    ev.what = media_event::kind::dtmf;
    ev.id = id;
    ev.s = from;
    ev.digit = d.symbol;
    ev.duration_ms = d.duration_ms;
    return ev;
}

/// The forwarding state and counters of one session (see the top of this file).
class relay_session {
public:
    relay_session() = default;
    relay_session(const relay_session&) = delete;
    relay_session& operator=(const relay_session&) = delete;

    /// Owning worker. Where side `s`'s peer receives (from its SDP). An
    /// unspecified address (RFC 3264 8.4 hold) or port 0 (a rejected stream,
    /// RFC 3264 6) means "do not send". Re-arms latching on both channels.
    void set_remote(side s, const ip_endpoint& rtp, const ip_endpoint& rtcp) noexcept;

    /// Owning worker. RTCP multiplexing on side `s` (RFC 5761; media_engine::
    /// set_rtcp_mux): RTCP from its peer is told from RTP on its RTP port,
    /// and RTCP towards it leaves from that port to its RTP address. Off,
    /// RTCP uses the RTCP port both ways. A change forgets the RTCP latch.
    void set_rtcp_mux(side s, bool muxed) noexcept;

    /// Owning worker. Relays a burst that arrived on `from`'s `ch` port.
    /// Packets to forward are appended to `out` (cleared first), to be sent
    /// from other(from)'s port each names (tx_packet::via); the rest are
    /// counted as drops on `from`.
    /// `now_ns` is the steady clock, read once per burst by the caller.
    void relay(side from, channel ch, std::span<const rx_packet> burst, std::int64_t now_ns,
               tx_batch& out) noexcept;

    /// Owning worker. The SRTP transforms of side `s`: `from_peer`
    /// unprotects what its peer sends, `to_peer` protects what is sent to
    /// it; null for plain RTP. Not owned: the backend keeps them alive
    /// until this worker has acknowledged the command that replaced them
    /// (retire_list.hpp). Packets from an SRTP peer
    /// latch only once they authenticate, so a forged first packet cannot
    /// divert the stream. Whenever the sequence numbers of a stream either
    /// transforms wraps, the stream's new rollover counter is reported
    /// (tx_batch::rollovers), and so are the first and every 256th SRTCP
    /// packet `to_peer` protected.
    void set_srtp(side s, srtp::stream_crypto* from_peer, srtp::stream_crypto* to_peer) noexcept;

    /// Owning worker. The responder to side `s`'s connectivity checks (ICE
    /// lite, media_engine::set_ice_credentials), or null to drop STUN on
    /// its ports. Not owned: the backend keeps it alive until this worker
    /// has acknowledged the command that replaced it (retire_list.hpp).
    /// `restart`: the local credentials changed (an ICE restart, RFC 8445
    /// 9), so the side's nominations are forgotten (not its latches); false
    /// when only the peer's ufrag was filled in.
    void set_ice(side s, const ice_responder* ice, bool restart) noexcept;

    /// Owning worker. The codec chain for RTP arriving from side `from`
    /// (decoded, re-encoded for the other side, with its own SSRC,
    /// sequence and timestamps), or null to relay it untouched. A chain
    /// that replaces another continues its output stream (the old one is
    /// read here, once). Not owned: the backend keeps a chain alive until
    /// this worker has acknowledged the command that replaced it
    /// (retire_list.hpp). RTCP of a session with a chain is dropped (counted): its
    /// reports describe streams the other peer never sees.
    void set_chain(side from, transcoder::media_chain* chain) noexcept;

    /// Owning worker. A tone the SBC plays to side `to`'s peer (local
    /// ringback, media_engine::start_tone), started at `now_ns`, or null to
    /// stop it. While it plays, RTP the other side's peer sends is not
    /// relayed (nor transcoded) to `to` (counted, side_counters::
    /// drops_local_tone): `to` hears one stream. Not owned: the backend
    /// keeps it alive until this worker has acknowledged the command that
    /// replaced it (retire_list.hpp). Its packets leave through
    /// release_due(other(to), ...) at their times (next_due_ns()).
    void set_tone(side to, transcoder::tone_source* tone, std::int64_t now_ns) noexcept;

    /// Owning worker. Payload types of relayed RTP towards side `to`'s
    /// peer (media_engine::set_payload_types): rewritten on the plain
    /// packet, after unprotect and before protect; an empty map stops it.
    /// Costs nothing per packet while no map is set. The map's clock rate
    /// is that of the RTP from other(to)'s peer: the unit its jitter is
    /// measured in (see receive_quality).
    void set_payload_types(side to, const payload_type_map& map) noexcept;

    /// Owning worker. When the earliest packet a codec chain of this session
    /// holds for later is due (transcoder::no_due_ns when none waits): the
    /// worker calls release_due() for both sides then.
    std::int64_t next_due_ns() const noexcept;

    /// Owning worker. The packets the chain of RTP from `from` held and
    /// that are due by `now_ns` (media_chain's Pacing), SRTP-protected as
    /// they leave, into `out` (cleared first), to be sent from other(from)'s
    /// RTP port like relay()'s. With nowhere to send them (the other side on
    /// hold), they are dropped and counted as no_destination.
    void release_due(side from, std::int64_t now_ns, tx_batch& out) noexcept;

    /// Owning worker. A digit from side `from`'s peer's SIP INFO, for the
    /// chain of `from` to carry to the other side (media_chain::queue_digit).
    void queue_digit(side from, char digit, std::uint32_t duration_ms) noexcept;

    /// Owning worker. After sending a tx batch towards side `to`'s peer:
    /// `sent` datagrams of `sent_bytes` UDP payload bytes in all left,
    /// `failed` could not be sent.
    void note_tx(side to, std::size_t sent, std::size_t sent_bytes, std::size_t failed) noexcept;

    /// Any thread; the control thread when the session has a codec chain
    /// (see published_chain). A snapshot of the counters; each value is
    /// exact, the set is not one instant (a statistic needs no more).
    session_stats stats() const;

    /// Owning worker. Arms the media timeout (`after_ns` > 0) from `now_ns`,
    /// or disarms it (0). The control plane arms it while it expects media
    /// (an established call not on hold) and disarms it otherwise.
    void arm_timeout(std::int64_t after_ns, std::int64_t now_ns) noexcept;
    bool timeout_armed() const noexcept { return _timeout_ns > 0; }

    /// Owning worker. True when the timeout is armed and neither side's peer
    /// has sent an accepted packet for `after_ns`, counted from the later of
    /// the arming and the last packet. It then disarms itself, so it fires
    /// once per arming.
    bool check_timeout(std::int64_t now_ns) noexcept;

private:
    // A counter written by one thread and read by others: a relaxed load and
    // store, no read-modify-write instruction, since there is one writer.
    struct counter {
        std::atomic<std::uint64_t> value{0};
        void add(std::uint64_t n) noexcept {
            value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        }
        std::uint64_t get() const noexcept { return value.load(std::memory_order_relaxed); }
    };

    // Per side and channel. Owning worker only.
    struct path {
        ip_endpoint remote;   // from the SDP; !valid() when unknown or "do not send"
        ip_endpoint latched;  // the peer's real source; !valid() until its first packet
        // A connectivity check nominated `latched` (RFC 8445 7.3.2), with
        // this PRIORITY: only a nomination of at least as much moves it.
        bool nominated = false;
        std::uint32_t nominated_priority = 0;
    };

    // Reception statistics of the RTP from one side's peer (RFC 3550 A.1,
    // A.3, A.8), updated per accepted packet: a few integer operations on
    // these worker-owned fields; the figures stats() reads are published
    // once per burst (side_state's rx_* fields).
    struct receive_quality {
        bool seen = false;
        std::uint32_t ssrc = 0;
        std::uint8_t payload_type = 0;  // the stream's codec: jitter ignores other types
        std::uint16_t max_seq = 0;      // A.1: highest sequence number seen
        std::uint32_t cycles = 0;       // A.1: wraps of max_seq, times 65536
        std::uint32_t base_seq = 0;
        std::uint32_t bad_seq = 0x10001;    // A.1: a jump that the next packet may confirm
        std::uint64_t expected_before = 0;  // of the SSRCs and restarts before this one
        std::uint64_t received = 0;
        bool has_transit = false;
        std::uint32_t transit = 0;    // A.8: arrival - timestamp, in timestamp units
        std::uint32_t jitter_q4 = 0;  // A.8: the estimate times 16
        std::int64_t epoch_ns = 0;    // arrival times count from here
        // The arrival in timestamp units of the burst at `arrival_ns`:
        // computed once per burst, whose packets share their arrival time.
        std::int64_t arrival_ns = -1;
        std::uint32_t arrival = 0;
        std::uint32_t clock_hz = 8000;

        /// An RTP packet (its header at least 12 octets, version 2) arrived
        /// at `now_ns`.
        void note(const std::uint8_t* rtp, std::int64_t now_ns) noexcept;
        std::uint64_t expected() const noexcept {
            return seen ? expected_before + cycles + max_seq - base_seq + 1 : 0;
        }
        void restart(std::uint16_t seq) noexcept;
    };

    // The last RTP packet an SRTP transform passed on one direction of a
    // side, to tell when its sequence numbers wrap. Owning worker only.
    struct stream_watch {
        std::uint32_t ssrc = 0;
        std::uint16_t seq = 0;
        bool seen = false;
    };

    struct side_state {
        std::array<path, 2> paths;  // indexed by index(channel); owning worker only
        // Written by the owning worker, read by any thread through stats().
        counter rtp_rx_packets;
        counter rtp_rx_bytes;
        counter rtcp_rx_packets;
        counter tx_packets;
        counter tx_bytes;
        counter drops_wrong_source;
        counter drops_no_destination;
        counter drops_tx_error;
        counter drops_truncated;
        counter srtp_auth_failures;     // from this side's peer: failed authentication
        counter srtp_replays;           // from this side's peer: replayed or too old
        counter srtp_errors;            // to this side's peer: could not be protected
        counter drops_transcoded_rtcp;  // from this side's peer, on a transcoded session
        counter stun_answered;          // see side_counters
        counter stun_rejected;
        counter stun_dropped;
        counter tone_packets;      // a local tone's packets sent to this side's peer
        counter drops_local_tone;  // RTP from this side's peer held back by a tone
        // A tone plays to this side's peer: written by the owning worker,
        // read by stats().
        std::atomic<bool> tone_playing{false};
        // Owning worker only; see set_srtp.
        srtp::stream_crypto* unprotect = nullptr;
        srtp::stream_crypto* protect = nullptr;
        stream_watch unprotected;  // what `unprotect` passed last
        stream_watch protected_;   // what `protect` passed last
        // SRTCP packets `protect` protected for stream `srtcp_ssrc`.
        std::uint32_t srtcp_ssrc = 0;
        std::uint32_t srtcp_sent = 0;
        transcoder::media_chain* chain = nullptr;  // for RTP from this side's peer
        const ice_responder* ice = nullptr;        // this side's checks; see set_ice
        transcoder::tone_source* tone = nullptr;   // played to this side's peer; see set_tone
        bool muxed = false;                        // owning worker only; see set_rtcp_mux
        // Mirror of `chain` for stats() on the control thread: written by
        // the owning worker (release), read with acquire. A replaced chain is
        // freed on the control thread only after the worker acknowledged the
        // command that replaced it (retire_list.hpp), and that worker stored
        // the new chain here before: a stats() after the free reads the new
        // one, and one before it reads a chain still alive.
        std::atomic<const transcoder::media_chain*> published_chain{nullptr};
        // Owning worker only; see set_payload_types. The number each payload
        // type leaves with towards this side's peer (identity where unmapped),
        // consulted only when `renumber` is set.
        bool renumber = false;
        std::array<std::uint8_t, 128> payload_type_to_peer{};
        std::atomic<std::int64_t> last_rx_ns{0};
        receive_quality quality;  // owning worker only
        // Its figures, published by the owning worker for stats().
        std::atomic<std::uint64_t> rx_received{0};
        std::atomic<std::uint64_t> rx_expected{0};
        std::atomic<std::uint32_t> rx_jitter_q4{0};
        std::atomic<std::uint32_t> rx_clock_hz{8000};
        // The SRs relayed to this side's peer last (RFC 3550 6.4.1): the
        // middle 32 bits of their NTP time, which that peer's reports echo
        // as LSR, and when they left. Owning worker only.
        struct sent_sr {
            std::uint32_t ntp_middle = 0;
            std::int64_t sent_ns = 0;
        };
        std::array<sent_sr, 4> sent_srs{};
        std::uint8_t next_sr = 0;
        std::atomic<std::int64_t> rtt_us{-1};  // the last round trip measured; -1: none
        published_endpoint latched_rtp;        // mirror of paths[rtp].latched, for stats()
    };

    const ip_endpoint* destination(side to, channel ch) const noexcept;
    /// `st`'s `ch` path now takes packets from `source` (one of the burst's),
    /// which RTP reports through `out` (tx_batch::latched).
    void latch(side_state& st, channel ch, const ip_endpoint* source, tx_batch& out) noexcept;
    enum class stun_outcome : std::uint8_t { answered, rejected, dropped };
    /// A STUN datagram from `st`'s peer on its `ch` port (see the top of this file).
    stun_outcome answer_stun(side_state& st, channel ch, const rx_packet& pkt,
                             tx_batch& out) noexcept;
    static bool may_latch_rtcp(const side_state& st, const ip_endpoint& source) noexcept;
    /// `rtp` (at least its 12-octet header, in the clear) passed `st`'s
    /// protect (`to_peer`) or unprotect transform: a wrap of its sequence
    /// numbers is reported in `out` (see set_srtp).
    void watch_rollover(side s, bool to_peer, const std::uint8_t* rtp, std::size_t len,
                        tx_batch& out) noexcept;
    /// A compound RTCP packet from side `from`'s peer (in the clear, `len`
    /// octets) that is relayed at `now_ns`: its SRs are noted on the other
    /// side, its report blocks give `from`'s round trip (see sent_sr).
    /// Malformed packets end the walk; nothing is written to them.
    void inspect_rtcp(side from, const std::uint8_t* rtcp, std::size_t len,
                      std::int64_t now_ns) noexcept;
    /// `rtcp` (its header in the clear) was protected for side `s`'s peer:
    /// counted, and reported in `out` at the first and every 256th (see
    /// set_srtp).
    void count_srtcp(side s, const std::uint8_t* rtcp, std::size_t len, tx_batch& out) noexcept;
    /// The packets of `dst`'s tone due by `now_ns`, protected for `dst`'s
    /// peer at `dest` (null: nowhere to send, dropped), appended to `out`.
    void release_tone(side to, const ip_endpoint* dest, std::int64_t now_ns,
                      tx_batch& out) noexcept;
    /// What a codec chain produced from sink slot `first` on, protected for
    /// side `to`'s peer at `dest`, appended to `out`; `flush_ns` non-zero
    /// first plays what the chain held past its time. Returns the packets
    /// that could not be protected.
    std::uint64_t send_chain_output(transcoder::media_chain& chain, std::size_t first, side to,
                                    const ip_endpoint* dest, tx_batch& out,
                                    std::int64_t flush_ns = 0) noexcept;
    bool transcoded() const noexcept {
        return _sides[0].chain != nullptr || _sides[1].chain != nullptr;
    }

    std::array<side_state, 2> _sides;  // indexed by index(side)
    // Owning worker only; see arm_timeout.
    std::int64_t _timeout_ns = 0;
    std::int64_t _armed_at_ns = 0;
};

}  // namespace sbc::dataplane
