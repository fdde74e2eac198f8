// A kernel-backend data-plane worker: one thread with its epoll set, an
// eventfd to wake it, a command ring in and an event ring out.
//
// Object graph: the kernel engine owns its workers; a worker borrows the
// kernel_sessions sharded to it (kernel_session.hpp says for how long).
//
// The worker loop (run) waits on epoll, applies the commands the control
// thread posted, then for each ready socket reads one burst with recvmmsg,
// runs the relay pipeline and sends the result with sendmmsg from the other
// side's socket. Level-triggered epoll and one burst per ready socket per
// round keep a flooded port from starving the others. Packets a codec chain
// holds for later (media_chain's Pacing) set the wait: epoll_pwait2 sleeps
// until the earliest is due (to the nanosecond, not epoll_wait's
// millisecond), and each session due then sends its packets with one
// sendmmsg per direction. Removals are
// acknowledged after the round, when no event of it can name the session;
// so is every command (command_progress), which lets the control thread
// free the SRTP contexts and chains a command replaced.
// It allocates nothing, takes no lock, logs nothing and throws nothing.
//
// Threads: the methods marked "control thread" are called by the engine on
// the control thread; everything else runs on the worker's own thread.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <thread>

#include "dataplane/api/ip_endpoint.hpp"
#include "dataplane/core/command_progress.hpp"
#include "dataplane/core/relay.hpp"
#include "dataplane/core/spsc_ring.hpp"
#include "dataplane/io/kernel/kernel_session.hpp"
#include "sbc/common/unique_fd.hpp"

namespace sbc::dataplane::kernel {

/// Control thread -> worker.
struct command {
    enum class kind : std::uint8_t {
        add_session,     ///< register the session's four sockets
        set_remote,      ///< relay_session::set_remote(s, rtp, rtcp)
        remove_session,  ///< unregister the sockets, then acknowledge (event)
        set_srtp,        ///< relay_session::set_srtp(s, from_peer, to_peer)
        set_timeout,     ///< arm (timeout_ns > 0) or disarm the media timeout
        set_chain,       ///< relay_session::set_chain(s, chain)
        send_dtmf,       ///< relay_session::queue_digit(s, digit, duration_ms)
        move_side,       ///< side s now receives and sends on rtp_fd / rtcp_fd
        /// relay_session::set_payload_types(s, payload_types)
        set_payload_types,
        set_ice,       ///< relay_session::set_ice(s, ice, ice_restart)
        set_rtcp_mux,  ///< relay_session::set_rtcp_mux(s, rtcp_mux)
        set_tone,      ///< relay_session::set_tone(s, tone, now)
    };
    kind what = kind::add_session;
    side s = side::a;
    kernel_session* session = nullptr;
    ip_endpoint rtp;
    ip_endpoint rtcp;
    srtp::stream_crypto* from_peer = nullptr;  ///< owned by the session (kernel_session::objects)
    srtp::stream_crypto* to_peer = nullptr;
    std::int64_t timeout_ns = 0;
    transcoder::media_chain* chain = nullptr;  ///< owned by the session (kernel_session::objects)
    char digit = '\0';
    std::uint32_t duration_ms = 0;
    int rtp_fd = -1;  ///< move_side: owned by the session (kernel_session::fds)
    int rtcp_fd = -1;
    payload_type_map payload_types{};    ///< set_payload_types: a copy, the worker's own
    const ice_responder* ice = nullptr;  ///< owned by the session (kernel_session::objects)
    bool ice_restart = false;
    bool rtcp_mux = false;
    transcoder::tone_source* tone = nullptr;  ///< owned by the session (kernel_session::objects)
};

/// Worker -> control thread.
struct event {
    /// The worker has let go of this session: its sockets are out of the epoll
    /// set and no burst of it is in flight, so it may be destroyed.
    kernel_session* removed = nullptr;
    /// Or, when `removed` is null: what a session's media did.
    media_event media;
};

class worker {
public:
    static constexpr std::size_t command_ring_size = 1024;
    static constexpr std::size_t event_ring_size = 1024;
    /// Per datagram. Larger ones are dropped (drops_truncated): audio RTP is
    /// a few hundred bytes, and 2048 is what a DPDK mbuf holds.
    static constexpr std::size_t buffer_size = 2048;
    static constexpr std::size_t max_events = 64;

    /// Creates the epoll set and the eventfd and starts the thread (named
    /// "sbc-media-<index>"). Throws std::system_error on failure.
    explicit worker(unsigned index);
    /// Stops and joins the thread. Sessions are not touched.
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// Control thread. Queues `c` and wakes the worker; false when the ring
    /// is full (the caller keeps `c` and retries later, in order).
    bool try_post(const command& c) noexcept;

    /// Control thread. The next event, if any.
    bool try_next_event(event& out) noexcept { return _events.try_pop(out); }

    /// Control thread. The commands (counted from 1, in the order posted)
    /// the worker has applied and let go of what they replaced.
    command_seq acknowledged() const noexcept { return _progress.acknowledged(); }

    /// Control thread. Sessions whose sockets could not be registered in
    /// the epoll set (epoll_ctl failed: out of memory or max_user_watches).
    std::uint64_t registration_failures() const noexcept {
        return _registration_failures.load(std::memory_order_relaxed);
    }

    // Any thread: cumulative, relaxed. Busy is the time from a wake-up to
    // the next wait, spent on commands and bursts; total is wall time.
    std::uint64_t busy_ns() const noexcept { return _busy_ns.load(std::memory_order_relaxed); }
    std::uint64_t total_ns() const noexcept { return _total_ns.load(std::memory_order_relaxed); }
    std::uint64_t bursts() const noexcept { return _bursts.load(std::memory_order_relaxed); }
    std::uint64_t packets() const noexcept { return _packets.load(std::memory_order_relaxed); }

private:
    void run() noexcept;
    void wake() noexcept;
    void drain_wake() noexcept;
    void handle_socket(const socket_ref& ref) noexcept;
    std::size_t receive(int fd) noexcept;
    /// Sends the burst's packets (tx_batch::packets) to side `to`'s peer,
    /// each from the side's socket it names (tx_packet::via).
    void transmit(kernel_session& s, side to) noexcept;
    /// Sends the burst's responses to connectivity checks (tx_batch::replies)
    /// from side `from`'s `ch` socket, which their requests arrived on.
    void transmit_replies(kernel_session& s, side from, channel ch) noexcept;
    /// sendmmsg of those of `packets` that leave `via` on `fd`; returns
    /// how many left, `failed` and `bytes` get the refused ones and the
    /// payload octets sent.
    std::size_t send_packets(int fd, std::span<const tx_packet> packets, channel via,
                             std::size_t& failed, std::size_t& bytes) noexcept;
    int wait(std::int64_t timeout_ns) noexcept;
    void release_paced(kernel_session& s, std::int64_t now_ns) noexcept;
    /// The digits and SRTP rollovers the last relay or release of `s`
    /// left in the tx batch, as media events.
    void report_events(const kernel_session& s, side from) noexcept;
    void drain_commands() noexcept;
    void apply(const command& c) noexcept;
    void add_session(kernel_session& s) noexcept;
    void remove_session(kernel_session& s) noexcept;
    void move_side(kernel_session& s, side sd, int rtp_fd, int rtcp_fd) noexcept;
    void watch(kernel_session& s, std::size_t socket) noexcept;
    void flush_unacked() noexcept;

    // Worker thread only: one burst in flight. Set up once in the constructor
    // (each rx_msgs[i] points at data[i] and sources[i]).
    struct alignas(64) burst_buffers {
        std::array<std::array<std::uint8_t, buffer_size>, max_burst> data;
        std::array<ip_endpoint, max_burst> sources;
        std::array<iovec, max_burst> rx_iov;
        std::array<mmsghdr, max_burst> rx_msgs;
        std::array<rx_packet, max_burst> rx;
        tx_batch tx;
        std::array<iovec, max_tx_burst> tx_iov;
        std::array<mmsghdr, max_tx_burst> tx_msgs;
        std::array<epoll_event, max_events> events;
    };

    const unsigned _index;
    unique_fd _epoll;  // the worker waits on it; the fds in it are the sessions'
    unique_fd _wake;   // eventfd: written by the control thread, read by the worker
    // Written by the control thread (stop), read by the worker.
    std::atomic<bool> _stop{false};
    std::atomic<std::uint64_t> _registration_failures{0};  // written by the worker only
    std::atomic<std::uint64_t> _busy_ns{0};                // written by the worker only
    std::atomic<std::uint64_t> _total_ns{0};
    std::atomic<std::uint64_t> _bursts{0};
    std::atomic<std::uint64_t> _packets{0};
    spsc_ring<command, command_ring_size> _commands;  // control thread pushes, worker pops
    spsc_ring<event, event_ring_size> _events;        // worker pushes, control thread pops
    command_progress _progress;  // the worker counts and publishes, the control thread reads
    // Worker thread only: sessions removed whose acknowledgement has not been
    // pushed to _events yet (this round's, or ones the full ring refused).
    kernel_session* _unacked = nullptr;
    timeout_watch<kernel_session, &kernel_session::timeout_hook> _timeouts;  // worker only
    pacing_wheel<kernel_session, &kernel_session::pacing_hook> _pacer;       // worker only
    bool _have_pwait2 = true;  // worker only: false once the kernel said ENOSYS (before 5.11)
    burst_buffers _buf;
    transcoder::packet_sink _sink{max_tx_burst};  // worker only; _buf.tx.sink points at it
    std::thread _thread;  // last: started once everything above is constructed
};

}  // namespace sbc::dataplane::kernel
