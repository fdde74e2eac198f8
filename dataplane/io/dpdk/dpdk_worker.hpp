// A dpdk-backend worker: the loop of one lcore. It polls its rx queue of
// every port, classifies each frame, runs the relay pipeline on media of
// the streams it owns, rewrites the headers in place and transmits in
// bursts; everything else goes to the kernel through the port's TAP
// exception interface, and what the kernel sends comes back out.
//
// Object graph: the dpdk engine owns its workers, its sessions and the
// shared stream directory; a worker borrows sessions (dpdk_session says for
// how long). Commands come from the control thread through an SPSC ring;
// removals are acknowledged through an event ring, after the burst in which
// the worker last could have touched the session, and every command through
// command_progress at the end of the round that applied it.
//
// The loop allocates nothing, takes no lock, logs nothing and makes no
// system call per packet; when idle it sleeps in short naps so a test
// machine's cores are not burnt. Packets a codec chain holds for later
// (media_chain's Pacing) leave from the round in which the steady clock
// passes their due time (the pacing_wheel's next_due_ns()).
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "dataplane/core/command_progress.hpp"
#include "dataplane/core/pacing_wheel.hpp"
#include "dataplane/core/relay.hpp"
#include "dataplane/core/retire_list.hpp"
#include "dataplane/core/spsc_ring.hpp"
#include "dataplane/core/timeout_watch.hpp"
#include "dataplane/io/dpdk/neighbor_table.hpp"
#include "dataplane/io/dpdk/packet_headers.hpp"

namespace sbc::dataplane::dpdk {

/// One media session as the dpdk backend holds it. Owned by the engine
/// (control thread) from open_session() until its worker acknowledged the
/// removal; its worker borrows it in between.
struct dpdk_session {
    dpdk_session(session_id sid, unsigned owner) : id(sid), worker(owner) {}
    dpdk_session(const dpdk_session&) = delete;
    dpdk_session& operator=(const dpdk_session&) = delete;

    const session_id id;
    const unsigned worker;
    // The worker's: set before the session is handed over, then changed by
    // the worker only (command move_side).
    std::array<ip_endpoint, 2> local;      ///< the SBC's RTP address and port per side
    std::array<unsigned, 2> port_index{};  ///< which engine port serves each side
    // Control thread only: the same, as the engine last programmed them; a
    // side move prepared and not committed yet; the RTP ports moves gave up
    // (back to the pool with the session, so the worker never sees a port of
    // its session taken by another).
    session_ports ports;
    std::array<unsigned, 2> control_port_index{};
    struct parked_port {
        std::uint16_t rtp_port = 0;
        ip_endpoint local;
        unsigned port_index = 0;
    };
    std::array<std::optional<parked_port>, 2> pending;
    std::vector<std::uint16_t> retired_ports;
    relay_session relay;
    /// Control thread only: the SRTP contexts and chains the relay points at
    /// (or will, once the worker applies the command carrying them); what a
    /// re-key or re-INVITE replaces waits in the engine's retire_list.
    media_objects objects;
    /// Control thread only: per side, the peer addresses media goes to (the
    /// SDP's, the latched one), as registered with the engine's next_hops.
    std::array<std::optional<ip_key>, 2> sdp_peer;
    std::array<std::optional<ip_key>, 2> latched_peer;
    dpdk_session* next_unacked = nullptr;   // worker only: removals not yet acknowledged
    watch_hook<dpdk_session> timeout_hook;  // worker only
    pace_hook<dpdk_session> pacing_hook;    // worker only
};

/// One DPDK port (and its TAP) as the workers use it.
struct port_runtime {
    std::uint16_t phys = 0;  ///< port id of the device
    std::uint16_t tap = 0;   ///< port id of its exception interface
    mac_address mac{};       ///< the device's, shared by the TAP
    /// The device computes IPv4 and UDP checksums on transmission.
    bool checksum_offload = false;
    ip_endpoint media;  ///< the media address (port 0)
    ip_key media_key;   ///< the same, as the workers compare it
    // Written by the workers (relaxed fetch_add: several workers share a
    // port, and none of these is per relayed packet), read by port_counters().
    std::atomic<std::uint64_t> to_kernel{0};
    std::atomic<std::uint64_t> from_kernel{0};
    /// Relayed datagrams whose next hop's MAC no worker knew: sent through
    /// the kernel's routing instead (see worker::try_next_unresolved).
    std::atomic<std::uint64_t> unresolved{0};
    /// Frames dropped because the device's (or the TAP's) tx queue was full.
    std::atomic<std::uint64_t> tx_full{0};
    std::atomic<std::uint64_t> kernel_full{0};
    /// Frames for another worker's session dropped on its full dispatch ring.
    std::atomic<std::uint64_t> dispatch_full{0};
};

/// Which session, and which side of it, an RTP port number belongs to.
/// Written by the control thread before the session's add command (so the
/// ring's release orders it), cleared when it is closed; read by every
/// worker to send a packet to its owner.
struct stream_slot {
    std::atomic<std::uint32_t> owner_plus_one{0};  ///< 0: no session
};

struct command {
    enum class kind : std::uint8_t {
        add_session,
        set_remote,
        set_srtp,
        set_timeout,  ///< arm (timeout_ns > 0) or disarm the media timeout
        set_chain,
        send_dtmf,
        remove_session,
        neighbor,
        move_side,  ///< side s now uses `ports`' port of s, `local` and `port_index`
        /// relay_session::set_payload_types(s, payload_types)
        set_payload_types,
        set_ice,       ///< relay_session::set_ice(s, ice, ice_restart)
        set_rtcp_mux,  ///< relay_session::set_rtcp_mux(s, rtcp_mux)
        set_tone,      ///< relay_session::set_tone(s, tone, now)
    };
    kind what = kind::add_session;
    side s = side::a;
    dpdk_session* session = nullptr;
    ip_endpoint rtp;
    ip_endpoint rtcp;
    srtp::stream_crypto* from_peer = nullptr;
    srtp::stream_crypto* to_peer = nullptr;
    ip_key neighbor_ip;
    mac_address neighbor_mac{};
    bool neighbor_gone = false;
    std::int64_t timeout_ns = 0;
    transcoder::media_chain* chain = nullptr;  ///< owned by the session (dpdk_session::objects)
    transcoder::tone_source* tone = nullptr;   ///< owned by the session (dpdk_session::objects)
    /// set_tone: the pool the tone's frames come from, for a worker that
    /// has relayed no frame yet (its _tx_pool is still unset).
    rte_mempool* tone_pool = nullptr;
    char digit = '\0';
    std::uint32_t duration_ms = 0;
    /// add_session, remove_session and move_side: the session's RTP ports
    /// (the worker never reads dpdk_session::ports, which the control thread
    /// changes); move_side: the side's new local endpoint and engine port.
    session_ports ports;
    std::uint16_t old_rtp_port = 0;
    ip_endpoint local;
    unsigned port_index = 0;
    payload_type_map payload_types{};    ///< set_payload_types: a copy, the worker's own
    const ice_responder* ice = nullptr;  ///< owned by the session (dpdk_session::objects)
    bool ice_restart = false;
    bool rtcp_mux = false;
};

class worker {
public:
    static constexpr std::size_t command_ring_size = 4096;
    static constexpr std::size_t event_ring_size = 1024;
    /// Datagrams waiting for the control thread to route them through the
    /// kernel; more than this between two polls are dropped and counted.
    static constexpr std::size_t unresolved_ring_size = 512;

    /// Control thread, before launch. `ports` and `slots` outlive the worker.
    /// `wake_fd`: an eventfd the worker adds 1 to when it queued datagrams
    /// for try_next_unresolved and the control thread is armed to hear of
    /// it (rearm_wake()); -1 for none. It outlives the worker.
    worker(unsigned index, std::vector<port_runtime>& ports, std::vector<stream_slot>& slots,
           std::uint16_t port_min, rte_ring* dispatch_in, std::vector<rte_ring*> dispatch_out,
           int wake_fd = -1);
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// The lcore entry point (rte_eal_remote_launch); returns when stop() was asked.
    static int main(void* self);

    /// Control thread.
    bool try_post(const command& c) noexcept { return _commands.try_push(c); }
    bool try_next_removed(dpdk_session*& out) noexcept { return _removed.try_pop(out); }
    bool try_next_event(media_event& out) noexcept { return _events.try_pop(out); }
    /// Control thread. The commands (counted from 1, in the order posted)
    /// the worker has applied and let go of what they replaced.
    command_seq acknowledged() const noexcept { return _progress.acknowledged(); }
    /// Control thread. A relayed datagram whose next hop's MAC the worker
    /// did not know: the mbuf's data starts at its IP header (headers
    /// written, checksums set) and its port field names the egress port.
    /// The caller sends it through the kernel, which resolves the next hop
    /// (ARP, ND, a gateway) as for its own packets, and frees it.
    bool try_next_unresolved(rte_mbuf*& out) noexcept { return _unresolved.try_pop(out); }
    /// Control thread, before draining try_next_unresolved: the next
    /// datagram the worker queues signals `wake_fd` again. One signal per
    /// drain, so the worker makes at most one system call per wake-up of
    /// the control thread, never one per packet.
    void rearm_wake() noexcept {
        // An exchange, not a store: it is ordered with the worker's exchange
        // in wake_control_thread() on this one flag, so either the worker sees
        // the flag set, or this thread's drain sees its datagram.
        (void)_wake_armed.exchange(true, std::memory_order_acq_rel);
    }
    void stop() noexcept { _stop.store(true, std::memory_order_release); }

    // Any thread: cumulative, relaxed.
    std::uint64_t busy_cycles() const noexcept { return _busy.load(std::memory_order_relaxed); }
    std::uint64_t total_cycles() const noexcept { return _total.load(std::memory_order_relaxed); }
    std::uint64_t bursts() const noexcept { return _bursts.load(std::memory_order_relaxed); }
    std::uint64_t packets() const noexcept { return _packets.load(std::memory_order_relaxed); }
    unsigned number() const noexcept { return _index; }

private:
    void run() noexcept;
    bool drain_commands() noexcept;
    void apply(const command& c) noexcept;
    /// Frames received on port `p` (or handed over by another worker).
    void handle_frames(unsigned p, rte_mbuf** frames, std::uint16_t n) noexcept;
    /// One media frame for a session this worker owns: relayed and queued
    /// for its egress port, or freed and counted when the relay drops it.
    void relay_frame(rte_mbuf* m, const udp_datagram& d, dpdk_session& s, side from, channel ch,
                     std::int64_t now_ns) noexcept;
    /// Writes the headers of `tx` (whose payload is at `payload` in `m`)
    /// and queues `m` on its egress port, from side `to`'s port tx.via.
    /// `received`: the datagram `m` held when it arrived, if it is the same
    /// frame (its checksum is reused). `via`: the next hop's MAC when the
    /// neighbour table has none for the destination, for a response to a
    /// connectivity check (it goes back the way its request came), which
    /// the side's tx counters leave out.
    void send_frame(rte_mbuf* m, std::uint8_t* payload, const tx_packet& tx,
                    const udp_datagram* received, dpdk_session& s, side to,
                    const mac_address* via = nullptr) noexcept;
    /// What a codec chain made (in _tx, pointing into _sink), one new frame
    /// each from _tx_pool, to side `to`'s peer.
    void send_made(dpdk_session& s, side to) noexcept;
    /// The SRTP rollovers the last relay or release of `s` left in the tx
    /// batch, as media events.
    void report_rollovers(const dpdk_session& s) noexcept;
    /// The packets `s`'s chains held that are due at `now_ns`.
    void release_paced(dpdk_session& s, std::int64_t now_ns) noexcept;
    void to_kernel(unsigned p, rte_mbuf* m) noexcept;
    void flush() noexcept;
    /// After a round that queued unresolved datagrams: wakes the control
    /// thread through _wake_fd if it is armed.
    void wake_control_thread() noexcept;

    struct tx_queue {
        std::array<rte_mbuf*, max_burst> frames{};
        std::uint16_t count = 0;
    };

    const unsigned _index;
    std::vector<port_runtime>& _ports;
    std::vector<stream_slot>& _slots;
    const std::uint16_t _port_min;
    rte_ring* _dispatch_in;                // other workers' frames for sessions of ours
    std::vector<rte_ring*> _dispatch_out;  // indexed by worker
    spsc_ring<command, command_ring_size> _commands;
    spsc_ring<dpdk_session*, event_ring_size> _removed;
    spsc_ring<media_event, event_ring_size> _events;
    spsc_ring<rte_mbuf*, unresolved_ring_size> _unresolved;
    command_progress _progress;  ///< the worker counts and publishes, the control thread reads
    std::atomic<bool> _stop{false};
    const int _wake_fd;
    /// Set by the control thread when it drained _unresolved (rearm_wake),
    /// cleared by the worker when it signals _wake_fd.
    std::atomic<bool> _wake_armed{true};
    std::atomic<std::uint64_t> _busy{0};
    std::atomic<std::uint64_t> _total{0};
    std::atomic<std::uint64_t> _bursts{0};
    std::atomic<std::uint64_t> _packets{0};

    // Worker only.
    std::vector<std::pair<dpdk_session*, side>> _streams;  ///< by RTP slot; nullptr: none
    neighbor_table _neighbors;
    std::vector<tx_queue> _phys_tx;               ///< by port
    std::vector<tx_queue> _tap_tx;                ///< by port
    udp_datagram _datagram;                       ///< the frame being classified
    tx_batch _tx;                                 ///< the relay's verdict on it
    transcoder::packet_sink _sink{max_tx_burst};  ///< what codec chains produce; _tx.sink
    dpdk_session* _unacked = nullptr;             ///< removals the full event ring refused, linked
    bool _queued_unresolved = false;              ///< this round pushed to _unresolved
    std::size_t _sessions = 0;                    ///< sessions it carries (it naps only without)
    timeout_watch<dpdk_session, &dpdk_session::timeout_hook> _timeouts;
    pacing_wheel<dpdk_session, &dpdk_session::pacing_hook> _pacer;
    /// The pool relayed frames come from (the engine's one pool), for the
    /// frames of packets a chain releases later; set by the first relayed
    /// frame, which comes before any chain can hold a packet.
    rte_mempool* _tx_pool = nullptr;
};

}  // namespace sbc::dataplane::dpdk
