// The dpdk backend's media_engine: owns the EAL, the mbuf pool, the ports
// and their TAP exception interfaces, the workers (one per lcore), the
// sessions and the neighbour watch; programs the workers through their
// command rings, as the kernel backend does.
//
// Set-up (constructor): EAL with the configured arguments plus one --vdev
// per virtual port and one net_tap per port; each port gets one rx and one
// tx queue per worker (RSS spreads UDP flows where the device has it; a
// worker that receives a frame of another worker's session hands it over
// through that worker's dispatch ring); each TAP gets the device's MAC
// address and the media address, so the kernel answers ARP/ND and carries
// SIP on that address.
//
// Threads: every public method runs on the control thread (media_engine.hpp),
// which is also the EAL's main lcore. What the control thread must do at once
// (route a new peer's first datagrams through the kernel, tell the workers a
// MAC the kernel just learnt) wakes it through wake_fd(), which its event
// loop waits on: workers signal an eventfd, the kernel the netlink socket.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/core/command_backlog.hpp"
#include "dataplane/core/port_pool.hpp"
#include "dataplane/core/retire_list.hpp"
#include "dataplane/io/dpdk/dpdk_worker.hpp"
#include "dataplane/io/dpdk/netlink.hpp"
#include "dataplane/io/dpdk/next_hops.hpp"
#include "sbc/common/unique_fd.hpp"

namespace sbc::dataplane::dpdk {

class dpdk_engine final : public media_engine {
public:
    /// Throws std::runtime_error naming the step that failed.
    explicit dpdk_engine(const engine_config& config);
    /// Stops the workers, then the ports, then the EAL.
    ~dpdk_engine() override;
    dpdk_engine(const dpdk_engine&) = delete;
    dpdk_engine& operator=(const dpdk_engine&) = delete;

    open_result open_session(session_id id, const std::string& local_a,
                             const std::string& local_b) override;
    open_result open_session_at(session_id id, const std::string& local_a, std::uint16_t rtp_a,
                                const std::string& local_b, std::uint16_t rtp_b) override;
    void set_remote(session_id id, side s, const ip_endpoint& rtp,
                    const ip_endpoint& rtcp) override;
    void set_rtcp_mux(session_id id, side s, bool muxed) override;
    void set_srtp(session_id id, side s, std::unique_ptr<srtp::stream_crypto> from_peer,
                  std::unique_ptr<srtp::stream_crypto> to_peer) override;
    void set_chain(session_id id, side from,
                   std::unique_ptr<transcoder::media_chain> chain) override;
    void start_tone(session_id id, side to, std::unique_ptr<transcoder::tone_source> tone) override;
    void set_payload_types(session_id id, side to, const payload_type_map& map) override;
    bool set_ice_credentials(session_id id, side s,
                             const std::optional<ice_credentials>& credentials) override;
    void send_dtmf(session_id id, side from, char digit, std::uint32_t duration_ms) override;
    void set_media_timeout(session_id id, std::chrono::nanoseconds after) override;
    open_result prepare_side_move(session_id id, side s, const std::string& local) override;
    void commit_side_move(session_id id, side s) override;
    void cancel_side_move(session_id id, side s) override;
    void close_session(session_id id) override;
    std::optional<session_stats> stats(session_id id) const override;
    void poll() override;
    /// Readable when the kernel's neighbour table changed or a worker
    /// queued datagrams for an unresolved next hop (an epoll set of both).
    int wake_fd() const override { return _wake_set.get(); }
    std::size_t open_sessions() const override { return _open.size(); }
    std::size_t free_port_pairs() const override { return _pool.free_pairs(); }
    std::vector<worker_stats> worker_counters() override;
    std::vector<port_stats> port_counters() const override;
    std::vector<media_event> take_events() override { return std::exchange(_events, {}); }

private:
    /// Takes a port per side on `locals` (the RTP port `wanted` gives, or
    /// one from the pool where it is 0), maps it to the worker and hands
    /// the session over.
    open_result open(const std::array<const std::string*, 2>& locals, session_id id,
                     const std::array<std::uint16_t, 2>& wanted);
    /// `wanted` (reserved) or a pair from the pool (0); nullopt and `error` set when none.
    std::optional<std::uint16_t> take_port(const ip_endpoint& local, std::uint16_t wanted,
                                           std::string& error);
    void start_eal(const engine_config& config);
    /// Undoes whatever set-up got done; safe to call twice.
    void shutdown() noexcept;
    void start_ports(const engine_config& config);
    /// The eventfd the workers signal and the epoll set wake_fd() returns.
    void start_wake_set();
    /// Returns the command's number, which the worker acknowledges once applied.
    command_seq post(unsigned w, const command& c);
    void flush_backlog(unsigned w);
    void post_all(const command& c);
    /// Sends a datagram a worker could not address (no MAC for its next
    /// hop) through the kernel, on the port's exception interface: the
    /// kernel resolves the next hop, queues the datagram meanwhile and
    /// sends it out through the TAP, whence a worker transmits it. Frees it.
    void route_through_kernel(rte_mbuf* m) noexcept;
    /// Side `s` of `ds` now sends to `peer` (or to nothing, when invalid):
    /// `slot` (one of the session's peer slots) is updated, and a peer
    /// behind a gateway is registered with _next_hops.
    void track_peer(dpdk_session& ds, side s, std::optional<ip_key>& slot, const ip_endpoint& peer);
    void post_neighbor(const ip_key& ip, const mac_address* mac);
    void destroy(std::unique_ptr<dpdk_session> s);

    port_pool _pool;
    std::uint16_t _port_min;
    bool _eal = false;
    void* _mempool = nullptr;  // rte_mempool*
    std::vector<port_runtime> _ports;
    std::vector<std::string> _devices;
    std::vector<stream_slot> _slots;
    std::vector<rte_ring*> _dispatch;
    std::vector<std::unique_ptr<worker>> _workers;
    std::vector<unsigned> _lcores;
    std::vector<command_backlog<command>> _backlog;
    // Per worker: the number of the last command posted, and the SRTP
    // contexts and chains commands replaced, freed once the worker has
    // acknowledged those commands (poll()).
    std::vector<command_seq> _posted;
    std::vector<retire_list> _retired;
    std::unordered_map<session_id, std::unique_ptr<dpdk_session>> _open;
    std::unordered_map<const dpdk_session*, std::unique_ptr<dpdk_session>> _closing;
    std::optional<neighbor_watch> _neighbors_watch;
    next_hops _next_hops;
    std::vector<unsigned> _tap_ifindex;  // per port
    std::vector<unique_fd> _routers;     // per port: a raw IP socket bound to its TAP
    unique_fd _wake;                     // eventfd: workers queued unresolved datagrams
    unique_fd _wake_set;                 // epoll: _wake and the neighbour watch
    std::vector<std::uint64_t> _last_busy;
    std::vector<std::uint64_t> _last_total;
    std::vector<media_event> _events;  // from poll() until take_events()
};

}  // namespace sbc::dataplane::dpdk
