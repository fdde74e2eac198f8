// The data plane as the control plane sees it: media sessions to open,
// re-point and close, and their counters to read.
//
// Object graph: a media_engine owns worker threads; each worker owns the
// sessions sharded to it. A session anchors one call's audio: two sides (a and
// b), each with an RTP/RTCP port pair on its interface's media address.
// Packets arriving on side a's ports leave from side b's ports towards side
// b's remote, and the other way round (RTCP likewise).
//
// Threads: every method here is called from the control-plane thread only.
// The engine forwards changes to the owning worker through its command ring
// and never blocks on a worker.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/api/ice_credentials.hpp"
#include "dataplane/api/ip_endpoint.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/tone/tone_source.hpp"

namespace sbc::dataplane {

using session_id = std::uint64_t;

enum class side : std::uint8_t { a = 0, b = 1 };

constexpr side other(side s) noexcept { return s == side::a ? side::b : side::a; }
constexpr std::size_t index(side s) noexcept { return static_cast<std::size_t>(s); }

/// One DPDK port and the media address it serves.
struct dpdk_port_config {
    /// A virtual device ("net_af_packet0,iface=eth1", "net_tap0,...") or a
    /// PCI address ("0000:03:00.0").
    std::string device;
    std::string media_address;        ///< the SIP interface's media address
    unsigned prefix = 24;             ///< its prefix length on the exception interface
    std::string exception_interface;  ///< name of the TAP the kernel sees, e.g. "sbc-carrier"
};

/// The dpdk backend's settings (media.dpdk in the YAML).
struct dpdk_settings {
    std::vector<std::string> eal_args;  ///< extra EAL arguments ("--no-huge", "-m", "256"...)
    std::vector<unsigned> lcores;       ///< one worker per lcore
    unsigned mbufs = 8191;              ///< packet buffers in the pool
    std::vector<dpdk_port_config> ports;
};

struct engine_config {
    std::uint16_t port_min = 20000;  ///< inclusive; both ends of the range as configured
    std::uint16_t port_max = 29999;  ///< inclusive
    unsigned workers = 1;            ///< worker threads; 0 is taken as 1 (kernel backend)
    dpdk_settings dpdk;              ///< dpdk backend only
};

/// A worker's load since the previous reading.
struct worker_stats {
    unsigned index = 0;
    double busy_fraction = 0;  ///< share of its time spent on packets and commands
    std::uint64_t bursts = 0;  ///< bursts received that held at least one packet (total)
    std::uint64_t packets = 0;
};

/// A DPDK port's counters (rte_eth_stats) and its exchange with the kernel.
struct port_stats {
    std::string device;
    std::uint64_t rx_packets = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_bytes = 0;
    std::uint64_t rx_missed = 0;
    std::uint64_t rx_errors = 0;
    std::uint64_t tx_errors = 0;
    std::uint64_t to_kernel = 0;    ///< not media for a known stream: handed to the TAP
    std::uint64_t from_kernel = 0;  ///< sent by the kernel (SIP, ARP...) through the TAP
    /// Relayed datagrams whose next hop's MAC was unknown, routed by the kernel.
    std::uint64_t unresolved = 0;
    /// Frames dropped on a full tx queue of the device, of the TAP, and on a
    /// full hand-over ring to the worker that owns their call.
    std::uint64_t tx_full = 0;
    std::uint64_t kernel_full = 0;
    std::uint64_t dispatch_full = 0;
    /// The device computes the IPv4 and UDP checksums of what is relayed.
    bool checksum_offload = false;
};

/// The local RTP port of each side; RTCP is RTP + 1 (RFC 3550 11), or the
/// RTP port itself on a muxed side (set_rtcp_mux). The pair is bound either way.
struct session_ports {
    std::array<std::uint16_t, 2> rtp{};  ///< indexed by index(side)
};

/// Counters of one side, as seen by the worker: rx is what arrived on this
/// side's sockets (from this side's peer), tx what left them (towards it).
struct side_counters {
    std::uint64_t rtp_rx_packets = 0;
    std::uint64_t rtp_rx_bytes = 0;
    std::uint64_t rtcp_rx_packets = 0;
    std::uint64_t tx_packets = 0;            ///< RTP and RTCP sent to this side's peer
    std::uint64_t tx_bytes = 0;              ///< their UDP payload bytes
    std::uint64_t drops_wrong_source = 0;    ///< from an address other than the latched one
    std::uint64_t drops_no_destination = 0;  ///< other side's remote still unknown
    std::uint64_t drops_tx_error = 0;
    /// Larger than the data plane's receive buffer (2048 bytes): only part of it was read.
    std::uint64_t drops_truncated = 0;
    /// SRTP from this side's peer that failed authentication, or was a
    /// replay (RFC 3711 3.3.2); dropped, never forwarded.
    std::uint64_t srtp_auth_failures = 0;
    std::uint64_t srtp_replays = 0;
    /// Packets towards this side's peer that could not be protected.
    std::uint64_t srtp_errors = 0;
    /// RTCP from this side's peer dropped because the session is transcoded.
    std::uint64_t drops_transcoded_rtcp = 0;
    /// STUN on this side's ports (RFC 7983: a datagram whose first octet is
    /// 0-3), never relayed. Answered: Binding requests that passed the ICE
    /// checks, a success response sent back (set_ice_credentials).
    std::uint64_t stun_answered = 0;
    /// Answered with an error response: 400 (no USERNAME or integrity), 401
    /// (wrong USERNAME or integrity), 420 (unknown attribute), 487 (role).
    std::uint64_t stun_rejected = 0;
    /// Dropped unanswered: the side has no ICE credentials, or the datagram
    /// is no well-formed STUN message, has no right FINGERPRINT, or is no
    /// Binding request (indications, the keepalives of RFC 8445 11, count here).
    std::uint64_t stun_dropped = 0;
    /// A local tone (ringback, media_engine::start_tone) plays to this
    /// side's peer; the packets of such tones sent to it so far; RTP from
    /// this side's peer not relayed because the other side heard a tone.
    bool local_tone = false;
    std::uint64_t local_tone_packets = 0;
    std::uint64_t drops_local_tone = 0;
    /// The codec chain of RTP from this side's peer, when it is transcoded.
    std::optional<transcoder::chain_stats> chain;
    /// Steady-clock time (ns since its epoch) of the last packet received, 0 if none.
    /// Only packets accepted from the (latched) peer count, so a stray sender
    /// cannot keep a dead call's media timeout from firing.
    std::int64_t last_rx_ns = 0;
    /// Where this side's peer really sends from, once latched (symmetric RTP).
    std::optional<ip_endpoint> latched_rtp;
    /// Reception quality of the RTP this side's peer sends (RFC 3550 6.4.1,
    /// A.3, A.8), over the accepted packets (after SRTP), summed over the
    /// SSRCs it used. `rtp_lost` is expected - received, negative when
    /// duplicates outnumber losses (A.3). `jitter_ms`: the A.8 estimate of
    /// the last SSRC, in ms at the clock rate the control plane gave
    /// (payload_type_map::clock_hz; 8000 when it gave none).
    std::uint64_t rtp_received = 0;
    std::uint64_t rtp_expected = 0;
    std::int64_t rtp_lost = 0;
    double jitter_ms = 0;
    /// The round trip between the SBC and this side's peer, from the last
    /// report block that peer sent about an SR the SBC had relayed to it
    /// (RFC 3550 6.4.1: arrival - its LSR's send time - DLSR); nullopt
    /// until one came (none on a transcoded session, whose RTCP is dropped).
    std::optional<double> rtt_ms;
};

struct session_stats {
    std::array<side_counters, 2> sides{};  ///< indexed by index(side)
};

/// RTP payload type numbers to rewrite on relayed packets towards one side's
/// peer. RFC 3264 6.1 lets an answerer renumber a codec of the offer (a
/// SHOULD, not a MUST) and each peer receives with the numbers its own SDP
/// stated (RFC 3264 5.1), so a relayed stream may need its numbers mapped.
/// A plain value, copied into the command that carries it: a few pairs, no
/// allocation. Empty: packets keep their numbers.
struct payload_type_map {
    /// More than an audio stream's formats (codec, events, CN per clock rate).
    static constexpr std::size_t max_entries = 16;
    struct entry {
        std::uint8_t from = 0;  ///< the number packets arrive with (0-127)
        std::uint8_t to = 0;    ///< the number the receiving peer declared for it
        bool operator==(const entry&) const = default;
    };
    std::array<entry, max_entries> entries{};
    std::uint8_t count = 0;
    /// The RTP clock rate (Hz) of the stream relayed towards the peer, as
    /// its sender's SDP gave it: the unit of its timestamps, for the
    /// interarrival jitter (RFC 3550 A.8) of the sender's side. 0: unknown,
    /// taken as 8000 (G.711, G.729, telephone-event/8000).
    std::uint32_t clock_hz = 0;

    /// Adds `from` -> `to`. False, and nothing added, when the map is full,
    /// a number is not 0-127, `from` already has an entry, or either is in
    /// 64-95 (RFC 5761 4: where RTCP packet types would collide).
    bool add(std::uint8_t from, std::uint8_t to) noexcept {
        if (count == max_entries || from > 127 || to > 127 || (from >= 64 && from <= 95) ||
            (to >= 64 && to <= 95)) {
            return false;
        }
        for (std::size_t i = 0; i < count; ++i) {
            if (entries[i].from == from) {
                return false;
            }
        }
        entries[count++] = entry{from, to};
        return true;
    }
    bool empty() const noexcept { return count == 0; }
    bool operator==(const payload_type_map& o) const noexcept {
        if (count != o.count || clock_hz != o.clock_hz) {
            return false;
        }
        for (std::size_t i = 0; i < count; ++i) {
            if (!(entries[i] == o.entries[i])) {
                return false;
            }
        }
        return true;
    }
};

/// Something a worker saw that the control plane may want to log or act on.
struct media_event {
    enum class kind : std::uint8_t {
        /// Side `s`'s RTP latched (symmetric RTP) to `latched`: its first
        /// accepted packet since the SDP named where it receives, or the
        /// source of a connectivity check that nominated it (ICE, see
        /// set_ice_credentials).
        latched,
        /// The session's armed media timeout fired (set_media_timeout): no
        /// accepted packet from either side for that long. `s` is unused.
        timeout,
        /// Side `s`'s peer sent DTMF `digit` (as telephone-events or tones)
        /// that the other side takes as SIP INFO (a codec chain's dtmf).
        dtmf,
        /// The sequence numbers of SRTP stream `ssrc` wrapped: its rollover
        /// counter (RFC 3711 3.3.1) is now `roc`. The stream the SBC sends
        /// to side `s`'s peer (`to_peer`) or the one that peer sends. A
        /// node that takes the call over continues it (srtp::stream_crypto::
        /// create's `continued`), or the peer and it disagree on every
        /// packet's index. With `srtcp`: the SBC has protected the first or
        /// another 256th SRTCP packet of stream `ssrc` to the peer,
        /// `srtcp_sent` in all (RFC 3711 3.4: a node taking over starts its
        /// SRTCP index past them).
        srtp_rollover,
    };
    kind what = kind::latched;
    session_id id = 0;
    side s = side::a;
    ip_endpoint latched;
    char digit = '\0';              ///< dtmf: '0'-'9', '*', '#', 'A'-'D' ('!' flash)
    std::uint32_t duration_ms = 0;  ///< dtmf
    bool to_peer = false;           ///< srtp_rollover: the SBC's stream to the peer
    std::uint32_t ssrc = 0;         ///< srtp_rollover
    std::uint32_t roc = 0;          ///< srtp_rollover
    bool srtcp = false;             ///< srtp_rollover: of SRTCP, not of RTP
    std::uint32_t srtcp_sent = 0;   ///< srtp_rollover with srtcp
};

struct open_result {
    bool ok = false;
    session_ports ports;
    std::string error;  ///< when !ok: why (e.g. "no free media port in 20000-29999")
};

class media_engine {
public:
    virtual ~media_engine() = default;

    /// Allocates an RTP/RTCP pair on `local_a` and one on `local_b` (both
    /// taken from the same configured range), binds them and hands the
    /// session to a worker. Packets received before set_remote() are counted
    /// and dropped. `id` must be unique among open sessions.
    virtual open_result open_session(session_id id, const std::string& local_a,
                                     const std::string& local_b) = 0;

    /// As open_session, on the given RTP ports (RTCP the next ones): a
    /// session rebuilt from the state another node wrote (a standby taking
    /// over), whose peers go on sending to the ports they were given. Each
    /// must be the even RTP port of a pair of the configured range, free in
    /// this engine's pool (port_pool::reserve); the kernel backend binds
    /// even an address this host does not hold yet (IP_FREEBIND). On
    /// failure, an error naming the address and port, and nothing left open
    /// or taken.
    virtual open_result open_session_at(session_id id, const std::string& local_a,
                                        std::uint16_t rtp_a, const std::string& local_b,
                                        std::uint16_t rtp_b) = 0;

    /// Where side `s`'s peer said (in its SDP) it receives RTP and RTCP.
    /// Media towards `s` goes there until the first packet from `s` arrives,
    /// then to the address it came from (symmetric latching). Calling this
    /// again (re-INVITE with a new address) re-arms latching.
    virtual void set_remote(session_id id, side s, const ip_endpoint& rtp,
                            const ip_endpoint& rtcp) = 0;

    /// RTCP multiplexing on side `s` (RFC 5761), as its SDP negotiated it
    /// (a=rtcp-mux in both offer and answer). Muxed: RTCP from the side's
    /// peer arrives on the side's RTP port, told from RTP by its packet type
    /// (RFC 5761 4), and is handled as RTCP (SRTCP unprotect with the side's
    /// SRTP context, RTCP latching; give set_remote the RTP address as the
    /// RTCP one); RTCP towards the peer leaves from the RTP port to where
    /// its RTP goes. Not muxed (the default): RTCP on RTP + 1 both ways. The
    /// other side is not affected. Takes effect on the worker with the next
    /// packet.
    virtual void set_rtcp_mux(session_id id, side s, bool muxed) = 0;

    /// SRTP on side `s` (RFC 3711): `from_peer` unprotects what `s`'s peer
    /// sends, `to_peer` protects what goes to it; null for plain RTP on that
    /// side. Takes effect on the worker with the next packets. The contexts
    /// this call replaces (a re-key) are freed by poll() once the worker has
    /// acknowledged the swap, never while it may still be using them, so a
    /// call's memory stays bounded however often it is re-keyed.
    virtual void set_srtp(session_id id, side s, std::unique_ptr<srtp::stream_crypto> from_peer,
                          std::unique_ptr<srtp::stream_crypto> to_peer) = 0;

    /// Transcoding of RTP from side `from`'s peer through `chain` (made by
    /// the control plane, transcoder::media_chain::make), or untouched relay
    /// when null. Takes effect on the worker with the next packet; the chain
    /// it replaces is freed by poll() once the worker has acknowledged the
    /// swap, as set_srtp's contexts are. A backend that cannot transcode
    /// ignores it and keeps relaying.
    virtual void set_chain(session_id id, side from,
                           std::unique_ptr<transcoder::media_chain> chain) = 0;

    /// Payload types of relayed RTP towards side `to`'s peer: each packet
    /// whose number has an entry in `map` leaves with the entry's number
    /// instead (on the plain packet: after SRTP unprotect, before protect);
    /// an empty map stops rewriting. Replaces the previous map of that side;
    /// takes effect on the worker with the next packet. RTCP and what a
    /// codec chain (set_chain) sends, which has its own numbers, are left
    /// alone.
    virtual void set_payload_types(session_id id, side to, const payload_type_map& map) = 0;

    /// A DTMF digit side `from`'s peer sent in SIP INFO, carried into the
    /// stream towards the other side as that side takes digits (events or
    /// tones) by the codec chain of `from` (set_chain); ignored without one.
    virtual void send_dtmf(session_id id, side from, char digit, std::uint32_t duration_ms) = 0;

    /// Plays `tone` (made by the control plane, transcoder::tone_source::
    /// make, in the codec side `to`'s peer was answered with) to side
    /// `to`'s peer from now on, paced in real time by the worker, SRTP-
    /// protected as relayed RTP is; null stops it (stop_tone). While it
    /// plays, RTP from the other side's peer is not relayed to `to`, so
    /// `to` hears one stream; once it stops, that RTP flows again (with
    /// its own SSRC: the tone was a source of its own, RFC 3550 8.2).
    /// Takes effect on the worker with its next round; the tone this
    /// replaces is freed by poll() once the worker has acknowledged the
    /// swap, as set_chain's chains are. A backend that cannot play tones
    /// ignores it.
    virtual void start_tone(session_id id, side to, std::unique_ptr<transcoder::tone_source> tone) {
        (void)id;
        (void)to;
        (void)tone;
    }
    /// Stops the tone side `to` hears, if any.
    void stop_tone(session_id id, side to) { start_tone(id, to, nullptr); }

    /// ICE-lite on side `s` (RFC 8445 2.5; Teams direct routing's media
    /// bypass): with `credentials`, the worker answers STUN Binding requests
    /// (RFC 8489) arriving on the side's RTP and RTCP ports from the port
    /// they arrived on, checked with them (USERNAME "local_ufrag:
    /// remote_ufrag", MESSAGE-INTEGRITY under local_pwd, FINGERPRINT; see
    /// dataplane/core/ice_responder.hpp), while RTP and RTCP on the same
    /// ports go on being relayed (RFC 7983 tells them apart). A check that
    /// passes and nominates its pair (USE-CANDIDATE, RFC 8445 7.3.2) latches
    /// the channel to its source, as a first packet does, and a later
    /// nomination of at least its PRIORITY moves the latch (RFC 8445 8.2);
    /// set_remote, and new local credentials (an ICE restart, RFC 8445 9),
    /// start that over. The credentials a side already has change nothing
    /// (the 200 restating the 183's); a remote_ufrag filled in once the
    /// peer's SDP came keeps the nominations made meanwhile.
    /// nullopt clears them: STUN is then dropped and counted
    /// (side_counters::stun_dropped). Returns false, and changes nothing,
    /// when the credentials are not RFC 8839's (ice_credentials::
    /// invalid_because()) or the session is unknown. The object that checks
    /// with the credentials this call replaces is freed by poll() once the
    /// worker has acknowledged the swap, as set_srtp's contexts are.
    virtual bool set_ice_credentials(session_id id, side s,
                                     const std::optional<ice_credentials>& credentials) = 0;

    /// Arms the session's media timeout (`after` > 0) or disarms it (0):
    /// once neither side's peer has sent an accepted packet for `after`,
    /// counted from the later of this call and the last packet, the worker
    /// reports a media_event::kind::timeout, once per arming.
    virtual void set_media_timeout(session_id id, std::chrono::nanoseconds after) = 0;

    /// Re-anchoring side `s` on another media address, in two steps, for a
    /// transfer whose target is reached through another interface than the
    /// party it replaces. prepare_side_move binds a new RTP/RTCP pair on
    /// `local` (returned in ports.rtp[index(s)]) and keeps it aside: the side
    /// goes on relaying on its current pair. commit_side_move makes the new
    /// pair the side's (set_remote follows with the new peer's address);
    /// cancel_side_move gives it back. A second prepare replaces a pending
    /// one. A pair a commit replaced stays bound, unused, until the session
    /// is closed, so no port is bound twice while a worker may still read it.
    virtual open_result prepare_side_move(session_id id, side s, const std::string& local) = 0;
    virtual void commit_side_move(session_id id, side s) = 0;
    virtual void cancel_side_move(session_id id, side s) = 0;

    /// Stops relaying. The ports return to the pool once the worker has let
    /// go of the sockets (see poll()); never before, so a port is never bound twice.
    virtual void close_session(session_id id) = 0;

    /// Latest counters of an open session; nullopt for an unknown id.
    virtual std::optional<session_stats> stats(session_id id) const = 0;

    /// Control-thread housekeeping: drains the workers' event rings (releasing
    /// the ports of closed sessions) and frees the SRTP contexts and chains
    /// that swaps the workers acknowledged replaced. Call it periodically,
    /// and whenever wake_fd() is readable.
    virtual void poll() = 0;

    /// A descriptor that becomes readable when poll() has work that cannot
    /// wait for the next periodic call (dpdk: a new peer's first datagrams
    /// to route through the kernel, a MAC address the kernel just learnt),
    /// for the control thread's event loop to wait on; poll() makes it
    /// unreadable again. -1 when the backend has none. Owned by the engine.
    virtual int wake_fd() const { return -1; }

    /// Number of open sessions and of free port pairs, for status displays.
    virtual std::size_t open_sessions() const = 0;
    virtual std::size_t free_port_pairs() const = 0;

    /// The workers' load and the ports' counters, where the backend has them.
    virtual std::vector<worker_stats> worker_counters() { return {}; }
    /// The events the workers reported since the last call, oldest first
    /// (collected by poll()). A worker whose event ring is full drops them.
    virtual std::vector<media_event> take_events() { return {}; }
    virtual std::vector<port_stats> port_counters() const { return {}; }
};

/// The `kernel` backend: UDP sockets, epoll, recvmmsg/sendmmsg, one thread per
/// worker. Starts its workers; the destructor stops and joins them and closes
/// every socket. Throws std::system_error when it cannot create a worker's
/// epoll set, eventfd or thread (start-up only).
std::unique_ptr<media_engine> make_kernel_engine(const engine_config& config);

/// The `dpdk` backend (dataplane/io/dpdk): initialises the EAL with
/// config.dpdk, starts its ports, their TAP exception interfaces (which get
/// the media addresses) and one worker per lcore. Throws std::runtime_error
/// naming what failed, or when sbcd was built without DPDK.
std::unique_ptr<media_engine> make_dpdk_engine(const engine_config& config);

}  // namespace sbc::dataplane
