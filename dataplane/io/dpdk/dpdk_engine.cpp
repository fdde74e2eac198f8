// dpdk_engine: set-up, session life cycle and housekeeping on the control
// thread (the worker loop is in dpdk_worker.cpp).
#include "dataplane/io/dpdk/dpdk_engine.hpp"

#include <fmt/format.h>
#include <net/if.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sbc::dataplane::dpdk {

namespace {

constexpr std::uint16_t descriptors = 1024;
constexpr unsigned dispatch_ring_size = 4096;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(fmt::format("dpdk: {}", what));
}

std::string rte_error() { return rte_strerror(rte_errno); }

// "0000:03:00.0" (domain:bus:device.function) names a PCI device; anything
// else is a virtual device string.
bool is_pci(const std::string& device) {
    return device.size() >= 12 && device[4] == ':' && device[7] == ':' && device[10] == '.';
}

std::string device_name(const std::string& device) { return device.substr(0, device.find(',')); }

// Returns whether the device computes IPv4 and UDP checksums on
// transmission, when `offload` asks for it.
bool configure_port(std::uint16_t id, const std::string& what, unsigned queues, rte_mempool* pool,
                    bool offload) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) != 0) {
        fail(fmt::format("{}: no device information", what));
    }
    if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
        fail(fmt::format("{} has {} rx and {} tx queues; {} workers need one of each", what,
                         info.max_rx_queues, info.max_tx_queues, queues));
    }
    rte_eth_conf conf{};
    const std::uint64_t rss = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
    if (queues > 1 && rss != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = rss;
    }
    constexpr std::uint64_t checksum_offloads =
        RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    const bool checksums =
        offload && (info.tx_offload_capa & checksum_offloads) == checksum_offloads;
    if (checksums) {
        conf.txmode.offloads |= checksum_offloads;
    }
    const auto n = static_cast<std::uint16_t>(queues);
    if (int rc = rte_eth_dev_configure(id, n, n, &conf); rc != 0) {
        fail(fmt::format("{}: configure: {}", what, rte_strerror(-rc)));
    }
    std::uint16_t rxd = descriptors;
    std::uint16_t txd = descriptors;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(id);
    const unsigned numa = socket < 0 ? 0 : static_cast<unsigned>(socket);
    for (std::uint16_t q = 0; q < n; ++q) {
        if (int rc = rte_eth_rx_queue_setup(id, q, rxd, numa, nullptr, pool); rc != 0) {
            fail(fmt::format("{}: rx queue {}: {}", what, q, rte_strerror(-rc)));
        }
        if (int rc = rte_eth_tx_queue_setup(id, q, txd, numa, nullptr); rc != 0) {
            fail(fmt::format("{}: tx queue {}: {}", what, q, rte_strerror(-rc)));
        }
    }
    if (int rc = rte_eth_dev_start(id); rc != 0) {
        fail(fmt::format("{}: start: {}", what, rte_strerror(-rc)));
    }
    // The device's MAC is the TAP's too, but frames for other MACs (a
    // virtual bridge, a veth) must reach the kernel's exception path.
    rte_eth_promiscuous_enable(id);
    return checksums;
}

}  // namespace

dpdk_engine::dpdk_engine(const engine_config& config)
    : _pool(config.port_min, config.port_max), _port_min(_pool.first_rtp()) {
    if (config.dpdk.ports.empty()) {
        fail("no ports configured (media.dpdk.ports)");
    }
    _lcores = config.dpdk.lcores.empty() ? std::vector<unsigned>{1} : config.dpdk.lcores;
    try {
        start_eal(config);
        start_ports(config);
    } catch (...) {
        shutdown();
        throw;
    }
}

dpdk_engine::~dpdk_engine() { shutdown(); }

void dpdk_engine::shutdown() noexcept {
    for (auto& w : _workers) {
        w->stop();
    }
    if (_eal) {
        rte_eal_mp_wait_lcore();
    }
    _workers.clear();
    _open.clear();
    _closing.clear();
    for (auto& p : _ports) {
        rte_eth_dev_stop(p.phys);
        rte_eth_dev_close(p.phys);
        rte_eth_dev_stop(p.tap);
        rte_eth_dev_close(p.tap);  // removes the TAP interface from the kernel
    }
    _ports.clear();
    for (auto* r : _dispatch) {
        rte_ring_free(r);
    }
    _dispatch.clear();
    if (_mempool != nullptr) {
        rte_mempool_free(static_cast<rte_mempool*>(_mempool));
        _mempool = nullptr;
    }
    if (_eal) {
        // EAL makes /var/run/dpdk/<file-prefix> (or under XDG_RUNTIME_DIR)
        // even without shared files (--no-shconf, --in-memory), and
        // rte_eal_cleanup leaves it. rmdir removes it only when empty, so
        // another process's files under the same prefix (or a telemetry
        // socket the configuration asked for) stay.
        const std::string runtime_dir = rte_eal_get_runtime_dir();
        rte_eal_cleanup();
        _eal = false;
        if (!runtime_dir.empty()) {
            ::rmdir(runtime_dir.c_str());
        }
    }
}

void dpdk_engine::start_eal(const engine_config& config) {
    unsigned main_lcore = 0;
    while (std::find(_lcores.begin(), _lcores.end(), main_lcore) != _lcores.end()) {
        ++main_lcore;
    }
    std::string list = std::to_string(main_lcore);
    for (unsigned l : _lcores) {
        list += "," + std::to_string(l);
    }
    // No shared configuration files under /var/run/dpdk, so no clash between
    // two instances and nothing left behind (--in-memory says the same and
    // unlinks hugepage files, but does not go with --no-huge); no telemetry
    // socket either (sbcctl stats has the ports' counters; the socket of a
    // second instance would clash, and EAL unlinks it only at exit, after
    // shutdown() removed the runtime directory); warnings and worse only,
    // unless the configured arguments say otherwise (later ones win).
    const auto& extra = config.dpdk.eal_args;
    const auto has = [&](const char* arg) {
        return std::find(extra.begin(), extra.end(), arg) != extra.end();
    };
    std::vector<std::string> args{"sbcd"};
    // An --lcores map among the arguments ("0@0,1@1,2@1": lcore@CPU) says
    // where the lcores run, and then replaces the plain list; it must name
    // the main lcore (the lowest one not in `lcores`) and every worker's.
    if (!has("--lcores")) {
        args.insert(args.end(), {"-l", list});
    }
    args.insert(args.end(), {"--main-lcore", std::to_string(main_lcore),
                             has("--no-huge") ? "--no-shconf" : "--in-memory", "--no-telemetry",
                             "--log-level=5"});
    args.insert(args.end(), config.dpdk.eal_args.begin(), config.dpdk.eal_args.end());
    for (std::size_t i = 0; i < config.dpdk.ports.size(); ++i) {
        const auto& p = config.dpdk.ports[i];
        args.push_back(is_pci(p.device) ? "-a" : "--vdev");
        args.push_back(p.device);
        args.push_back("--vdev");
        args.push_back(fmt::format("net_tap{},iface={}", i, p.exception_interface));
    }
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        fail(fmt::format("EAL initialisation failed: {} (arguments: {})", rte_error(),
                         fmt::join(args, " ")));
    }
    _eal = true;
}

void dpdk_engine::start_ports(const engine_config& config) {
    const auto& d = config.dpdk;
    auto* pool = rte_pktmbuf_pool_create("sbc_mbufs", d.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                         static_cast<int>(rte_socket_id()));
    if (pool == nullptr) {
        fail(fmt::format("cannot create a pool of {} mbufs: {}", d.mbufs, rte_error()));
    }
    _mempool = pool;
    const auto workers = static_cast<unsigned>(_lcores.size());
    _ports = std::vector<port_runtime>(d.ports.size());
    std::vector<unsigned> taps;
    for (std::size_t i = 0; i < d.ports.size(); ++i) {
        const auto& pc = d.ports[i];
        auto& p = _ports[i];
        _devices.push_back(pc.device);
        auto media = ip_endpoint::from_string(pc.media_address, 0);
        if (!media) {
            fail(fmt::format("port {}: bad media address '{}'", pc.device, pc.media_address));
        }
        p.media = *media;
        p.media_key = ip_key::of(*media);
        if (rte_eth_dev_get_port_by_name(device_name(pc.device).c_str(), &p.phys) != 0) {
            fail(fmt::format("port {}: no such device after EAL start", pc.device));
        }
        const auto tap_name = fmt::format("net_tap{}", i);
        if (rte_eth_dev_get_port_by_name(tap_name.c_str(), &p.tap) != 0) {
            fail(fmt::format("port {}: no exception interface {}", pc.device, tap_name));
        }
        p.checksum_offload = configure_port(p.phys, pc.device, workers, pool, true);
        configure_port(p.tap, pc.exception_interface, workers, pool, false);
        rte_ether_addr mac{};
        rte_eth_macaddr_get(p.phys, &mac);
        std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), p.mac.begin());
        // The kernel's ARP and ND answers must name the device's MAC.
        if (int rc = rte_eth_dev_default_mac_addr_set(p.tap, &mac); rc != 0) {
            fail(fmt::format("{}: setting its MAC: {}", pc.exception_interface, rte_strerror(-rc)));
        }
        const unsigned ifindex = if_nametoindex(pc.exception_interface.c_str());
        if (ifindex == 0) {
            fail(fmt::format("exception interface {} did not appear", pc.exception_interface));
        }
        if (auto added = add_address(ifindex, p.media, pc.prefix); !added) {
            fail(added.error_message());
        }
        taps.push_back(ifindex);
        _tap_ifindex.push_back(ifindex);
        // IPPROTO_RAW implies a header the sender writes (IP_HDRINCL, and
        // on IPv6 likewise), so the kernel routes the worker's datagram as is.
        unique_fd raw{
            ::socket(p.media.family(), SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW)};
        if (!raw ||
            ::setsockopt(raw.get(), SOL_SOCKET, SO_BINDTODEVICE, pc.exception_interface.c_str(),
                         static_cast<socklen_t>(pc.exception_interface.size())) != 0) {
            fail(fmt::format("{}: raw socket for unresolved next hops: {}", pc.exception_interface,
                             std::strerror(errno)));
        }
        _routers.push_back(std::move(raw));
    }
    auto watch = neighbor_watch::open(taps);
    if (!watch) {
        fail(watch.error_message());
    }
    _neighbors_watch.emplace(std::move(watch.value()));
    start_wake_set();

    _slots = std::vector<stream_slot>(_pool.capacity());
    if (workers > 1) {
        for (unsigned w = 0; w < workers; ++w) {
            auto* r = rte_ring_create(fmt::format("sbc_dispatch_{}", w).c_str(), dispatch_ring_size,
                                      static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
            if (r == nullptr) {
                fail(fmt::format("dispatch ring {}: {}", w, rte_error()));
            }
            _dispatch.push_back(r);
        }
    }
    for (unsigned w = 0; w < workers; ++w) {
        _workers.push_back(std::make_unique<worker>(w, _ports, _slots, _port_min,
                                                    workers > 1 ? _dispatch[w] : nullptr, _dispatch,
                                                    _wake.get()));
    }
    _backlog.resize(workers);
    _posted.assign(workers, 0);
    _retired.resize(workers);
    _last_busy.assign(workers, 0);
    _last_total.assign(workers, 0);
    for (unsigned w = 0; w < workers; ++w) {
        if (int rc = rte_eal_remote_launch(worker::main, _workers[w].get(), _lcores[w]); rc != 0) {
            fail(fmt::format("cannot start the worker on lcore {}: {}", _lcores[w],
                             rte_strerror(-rc)));
        }
    }
}

void dpdk_engine::start_wake_set() {
    _wake = unique_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
    _wake_set = unique_fd{::epoll_create1(EPOLL_CLOEXEC)};
    if (!_wake || !_wake_set) {
        fail(fmt::format("eventfd or epoll set for the control thread: {}", std::strerror(errno)));
    }
    for (int fd : {_wake.get(), _neighbors_watch->fd()}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (::epoll_ctl(_wake_set.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
            fail(fmt::format("epoll set for the control thread: {}", std::strerror(errno)));
        }
    }
}

open_result dpdk_engine::open_session(session_id id, const std::string& local_a,
                                      const std::string& local_b) {
    return open({&local_a, &local_b}, id, {0, 0});
}

open_result dpdk_engine::open_session_at(session_id id, const std::string& local_a,
                                         std::uint16_t rtp_a, const std::string& local_b,
                                         std::uint16_t rtp_b) {
    // Port 0 would ask open() for any pair: not what a restore means.
    if (rtp_a == 0 || rtp_b == 0) {
        open_result out;
        out.error = "media port 0 is no RTP port of the range";
        return out;
    }
    return open({&local_a, &local_b}, id, {rtp_a, rtp_b});
}

open_result dpdk_engine::open(const std::array<const std::string*, 2>& locals, session_id id,
                              const std::array<std::uint16_t, 2>& wanted) {
    open_result out;
    if (_open.count(id) != 0) {
        out.error = fmt::format("media session {} is already open", id);
        return out;
    }
    const auto w = static_cast<unsigned>(id % _workers.size());
    auto s = std::make_unique<dpdk_session>(id, w);
    for (side sd : {side::a, side::b}) {
        auto local = ip_endpoint::from_string(*locals[index(sd)], 0);
        auto port = std::find_if(_ports.begin(), _ports.end(), [&](const port_runtime& p) {
            return local && ip_key::of(p.media) == ip_key::of(*local);
        });
        if (port == _ports.end()) {
            out.error = fmt::format("no DPDK port serves media address '{}'", *locals[index(sd)]);
            destroy(std::move(s));
            return out;
        }
        const auto rtp = take_port(*local, wanted[index(sd)], out.error);
        if (!rtp) {
            destroy(std::move(s));
            return out;
        }
        s->ports.rtp[index(sd)] = *rtp;
        local->set_port(*rtp);
        s->local[index(sd)] = *local;
        s->port_index[index(sd)] = static_cast<unsigned>(port - _ports.begin());
        s->control_port_index[index(sd)] = s->port_index[index(sd)];
    }
    for (auto rtp : s->ports.rtp) {
        _slots[static_cast<std::size_t>(rtp - _port_min) / 2].owner_plus_one.store(
            w + 1, std::memory_order_release);
    }
    out.ok = true;
    out.ports = s->ports;
    command c;
    c.what = command::kind::add_session;
    c.session = s.get();
    c.ports = s->ports;
    post(w, c);
    _open.emplace(id, std::move(s));
    return out;
}

std::optional<std::uint16_t> dpdk_engine::take_port(const ip_endpoint& local, std::uint16_t wanted,
                                                    std::string& error) {
    if (wanted == 0) {
        auto rtp = _pool.allocate();
        if (!rtp) {
            error =
                fmt::format("no free media port in {}-{}", _pool.first_rtp(), _pool.last_rtp() + 1);
        }
        return rtp;
    }
    // The pool is the only record of what is bound: no socket to fail here.
    if (!_pool.reserve(wanted)) {
        auto at = local;
        at.set_port(wanted);
        error = _pool.in_use(wanted)
                    ? fmt::format("media port {} is in use", at.to_string())
                    : fmt::format("media port {} is no RTP port of the range {}-{}", wanted,
                                  _pool.first_rtp(), _pool.last_rtp() + 1);
        return std::nullopt;
    }
    return wanted;
}

void dpdk_engine::set_remote(session_id id, side s, const ip_endpoint& rtp,
                             const ip_endpoint& rtcp) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    dpdk_session& ds = *it->second;
    command c;
    c.what = command::kind::set_remote;
    c.s = s;
    c.session = &ds;
    c.rtp = rtp;
    c.rtcp = rtcp;
    post(ds.worker, c);
    track_peer(ds, s, ds.sdp_peer[index(s)], rtp);
}

void dpdk_engine::track_peer(dpdk_session& ds, side s, std::optional<ip_key>& slot,
                             const ip_endpoint& peer) {
    const auto post = [this](const ip_key& ip, const mac_address* mac) { post_neighbor(ip, mac); };
    if (slot) {
        _next_hops.release(*slot, post);
        slot.reset();
    }
    const unsigned port = ds.control_port_index[index(s)];
    if (!peer.valid() || peer.is_unspecified() || port >= _tap_ifindex.size() ||
        peer.family() != _ports[port].media.family()) {
        return;
    }
    // No route out of the TAP: left to the kernel's path, which answers
    // for itself (an ICMP error, a drop).
    if (auto gateway = gateway_to(_tap_ifindex[port], peer)) {
        slot = ip_key::of(peer);
        _next_hops.use(*slot, gateway.value(), post);
    }
}

void dpdk_engine::post_neighbor(const ip_key& ip, const mac_address* mac) {
    command c;
    c.what = command::kind::neighbor;
    c.neighbor_ip = ip;
    if (mac != nullptr) {
        c.neighbor_mac = *mac;
    } else {
        c.neighbor_gone = true;
    }
    post_all(c);
}

void dpdk_engine::route_through_kernel(rte_mbuf* m) noexcept {
    const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const unsigned port = m->port;
    if (port < _routers.size()) {
        // The destination, port 0: a raw socket of protocol IPPROTO_RAW
        // takes no other (and on IPv6 refuses one).
        sockaddr_storage to{};
        socklen_t len = 0;
        if (_ports[port].media.family() == AF_INET6) {
            auto& sa = reinterpret_cast<sockaddr_in6&>(to);
            sa.sin6_family = AF_INET6;
            std::memcpy(&sa.sin6_addr, ip + 24, sizeof(sa.sin6_addr));
            len = sizeof(sa);
        } else {
            auto& sa = reinterpret_cast<sockaddr_in&>(to);
            sa.sin_family = AF_INET;
            std::memcpy(&sa.sin_addr, ip + 16, sizeof(sa.sin_addr));
            len = sizeof(sa);
        }
        // Best effort, like the NIC queue it stands in for: a full socket
        // buffer drops the datagram.
        ::sendto(_routers[port].get(), ip, m->data_len, MSG_DONTWAIT,
                 reinterpret_cast<const sockaddr*>(&to), len);
    }
    rte_pktmbuf_free(m);
}

void dpdk_engine::set_srtp(session_id id, side s, std::unique_ptr<srtp::stream_crypto> from_peer,
                           std::unique_ptr<srtp::stream_crypto> to_peer) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    dpdk_session& ds = *it->second;
    command c;
    c.what = command::kind::set_srtp;
    c.s = s;
    c.session = &ds;
    c.from_peer = from_peer.get();
    c.to_peer = to_peer.get();
    const command_seq seq = post(ds.worker, c);
    // The worker may use the contexts this call replaces until it has
    // applied the command: they wait in the retire list until then.
    auto& owned = ds.objects.sides[index(s)];
    _retired[ds.worker].retire(seq, std::exchange(owned.unprotect, std::move(from_peer)));
    _retired[ds.worker].retire(seq, std::exchange(owned.protect, std::move(to_peer)));
}

void dpdk_engine::set_chain(session_id id, side from,
                            std::unique_ptr<transcoder::media_chain> chain) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    dpdk_session& ds = *it->second;
    command c;
    c.what = command::kind::set_chain;
    c.s = from;
    c.session = &ds;
    c.chain = chain.get();
    const command_seq seq = post(ds.worker, c);
    // As set_srtp; the worker also reads the chain it replaces while it
    // applies the command (the new chain continues its stream).
    _retired[ds.worker].retire(
        seq, std::exchange(ds.objects.sides[index(from)].chain, std::move(chain)));
}

void dpdk_engine::start_tone(session_id id, side to,
                             std::unique_ptr<transcoder::tone_source> tone) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    dpdk_session& ds = *it->second;
    if (!tone && !ds.objects.sides[index(to)].tone) {
        return;  // none plays: nothing to stop
    }
    command c;
    c.what = command::kind::set_tone;
    c.s = to;
    c.session = &ds;
    c.tone = tone.get();
    c.tone_pool = static_cast<rte_mempool*>(_mempool);
    const command_seq seq = post(ds.worker, c);
    // As set_chain: the worker may still be playing the tone this replaces.
    _retired[ds.worker].retire(seq,
                               std::exchange(ds.objects.sides[index(to)].tone, std::move(tone)));
}

void dpdk_engine::set_rtcp_mux(session_id id, side s, bool muxed) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    command c;
    c.what = command::kind::set_rtcp_mux;
    c.s = s;
    c.session = it->second.get();
    c.rtcp_mux = muxed;
    post(c.session->worker, c);
}

void dpdk_engine::set_payload_types(session_id id, side to, const payload_type_map& map) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    command c;
    c.what = command::kind::set_payload_types;
    c.s = to;
    c.session = it->second.get();
    c.payload_types = map;
    post(c.session->worker, c);
}

bool dpdk_engine::set_ice_credentials(session_id id, side s,
                                      const std::optional<ice_credentials>& credentials) {
    const auto it = _open.find(id);
    if (it == _open.end() || (credentials && !credentials->invalid_because().empty())) {
        return false;
    }
    dpdk_session& ds = *it->second;
    auto& current = ds.objects.sides[index(s)].ice;
    if (current ? credentials && current->credentials() == *credentials : !credentials) {
        return true;  // as they are: the 200 confirming the 183's, say
    }
    auto ice = credentials ? std::make_unique<ice_responder>(*credentials) : nullptr;
    command c;
    c.what = command::kind::set_ice;
    c.s = s;
    c.session = &ds;
    c.ice = ice.get();
    c.ice_restart = ice_responder::restarts(current.get(), credentials ? &*credentials : nullptr);
    const command_seq seq = post(ds.worker, c);
    // As set_srtp: the worker may answer with the old one until it applied this.
    _retired[ds.worker].retire(seq, std::exchange(current, std::move(ice)));
    return true;
}

void dpdk_engine::send_dtmf(session_id id, side from, char digit, std::uint32_t duration_ms) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    command c;
    c.what = command::kind::send_dtmf;
    c.s = from;
    c.session = it->second.get();
    c.digit = digit;
    c.duration_ms = duration_ms;
    post(c.session->worker, c);
}

void dpdk_engine::set_media_timeout(session_id id, std::chrono::nanoseconds after) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    command c;
    c.what = command::kind::set_timeout;
    c.session = it->second.get();
    c.timeout_ns = after.count();
    post(it->second->worker, c);
}

open_result dpdk_engine::prepare_side_move(session_id id, side s, const std::string& local) {
    open_result out;
    const auto it = _open.find(id);
    if (it == _open.end()) {
        out.error = fmt::format("no media session {}", id);
        return out;
    }
    auto at = ip_endpoint::from_string(local, 0);
    auto port = std::find_if(_ports.begin(), _ports.end(), [&](const port_runtime& p) {
        return at && ip_key::of(p.media) == ip_key::of(*at);
    });
    if (port == _ports.end()) {
        out.error = fmt::format("no DPDK port serves media address '{}'", local);
        return out;
    }
    cancel_side_move(id, s);
    auto rtp = _pool.allocate();
    if (!rtp) {
        out.error =
            fmt::format("no free media port in {}-{}", _pool.first_rtp(), _pool.last_rtp() + 1);
        return out;
    }
    dpdk_session& ds = *it->second;
    at->set_port(*rtp);
    ds.pending[index(s)] =
        dpdk_session::parked_port{*rtp, *at, static_cast<unsigned>(port - _ports.begin())};
    // Owned from now on, so frames for it reach the session's worker, which
    // hands them to the kernel until the move is committed.
    _slots[static_cast<std::size_t>(*rtp - _port_min) / 2].owner_plus_one.store(
        ds.worker + 1, std::memory_order_release);
    out.ok = true;
    out.ports = ds.ports;
    out.ports.rtp[index(s)] = *rtp;
    return out;
}

void dpdk_engine::commit_side_move(session_id id, side s) {
    const auto it = _open.find(id);
    if (it == _open.end() || !it->second->pending[index(s)]) {
        return;
    }
    dpdk_session& ds = *it->second;
    const auto moved = *ds.pending[index(s)];
    ds.pending[index(s)].reset();
    // The peers this side sent to were reached through the old port.
    track_peer(ds, s, ds.sdp_peer[index(s)], ip_endpoint{});
    track_peer(ds, s, ds.latched_peer[index(s)], ip_endpoint{});
    const auto old_port = ds.ports.rtp[index(s)];
    _slots[static_cast<std::size_t>(old_port - _port_min) / 2].owner_plus_one.store(
        0, std::memory_order_release);
    ds.retired_ports.push_back(old_port);
    ds.ports.rtp[index(s)] = moved.rtp_port;
    ds.control_port_index[index(s)] = moved.port_index;
    command c;
    c.what = command::kind::move_side;
    c.s = s;
    c.session = &ds;
    c.ports = ds.ports;
    c.old_rtp_port = old_port;
    c.local = moved.local;
    c.port_index = moved.port_index;
    post(ds.worker, c);
}

void dpdk_engine::cancel_side_move(session_id id, side s) {
    const auto it = _open.find(id);
    if (it == _open.end() || !it->second->pending[index(s)]) {
        return;
    }
    // The worker never mapped this port: it is free at once.
    const auto port = it->second->pending[index(s)]->rtp_port;
    it->second->pending[index(s)].reset();
    _slots[static_cast<std::size_t>(port - _port_min) / 2].owner_plus_one.store(
        0, std::memory_order_release);
    _pool.release(port);
}

void dpdk_engine::close_session(session_id id) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    auto s = std::move(it->second);
    _open.erase(it);
    for (auto rtp : s->ports.rtp) {
        _slots[static_cast<std::size_t>(rtp - _port_min) / 2].owner_plus_one.store(
            0, std::memory_order_release);
    }
    for (const auto& parked : s->pending) {
        if (parked) {
            _slots[static_cast<std::size_t>(parked->rtp_port - _port_min) / 2].owner_plus_one.store(
                0, std::memory_order_release);
        }
    }
    command c;
    c.what = command::kind::remove_session;
    c.session = s.get();
    c.ports = s->ports;
    post(s->worker, c);
    for (side sd : {side::a, side::b}) {
        track_peer(*s, sd, s->sdp_peer[index(sd)], ip_endpoint{});
        track_peer(*s, sd, s->latched_peer[index(sd)], ip_endpoint{});
    }
    const dpdk_session* key = s.get();
    _closing.emplace(key, std::move(s));
}

std::optional<session_stats> dpdk_engine::stats(session_id id) const {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return std::nullopt;
    }
    return it->second->relay.stats();
}

void dpdk_engine::poll() {
    if (_wake) {
        // Cleared before the workers are re-armed and their rings drained,
        // so a signal after this read wakes the loop again.
        std::uint64_t signals = 0;
        (void)::read(_wake.get(), &signals, sizeof signals);
    }
    for (auto& w : _workers) {
        w->rearm_wake();
    }
    for (unsigned w = 0; w < _workers.size(); ++w) {
        flush_backlog(w);
        _retired[w].reclaim(_workers[w]->acknowledged());
        media_event ev;
        while (_workers[w]->try_next_event(ev)) {
            if (ev.what == media_event::kind::latched) {
                // Behind a NAT the latched source is another address, which
                // may sit behind another gateway.
                if (auto it = _open.find(ev.id); it != _open.end()) {
                    auto& ds = *it->second;
                    track_peer(ds, ev.s, ds.latched_peer[index(ev.s)], ev.latched);
                }
            }
            _events.push_back(ev);
        }
        rte_mbuf* m = nullptr;
        while (_workers[w]->try_next_unresolved(m)) {
            route_through_kernel(m);
        }
        dpdk_session* removed = nullptr;
        while (_workers[w]->try_next_removed(removed)) {
            const auto it = _closing.find(removed);
            if (it != _closing.end()) {
                auto s = std::move(it->second);
                _closing.erase(it);
                destroy(std::move(s));
            }
        }
    }
    if (_neighbors_watch) {
        _neighbors_watch->poll([this](const ip_key& ip, const mac_address* mac) {
            _next_hops.neighbor(
                ip, mac, [this](const ip_key& k, const mac_address* m) { post_neighbor(k, m); });
        });
    }
}

std::vector<worker_stats> dpdk_engine::worker_counters() {
    std::vector<worker_stats> out;
    for (unsigned w = 0; w < _workers.size(); ++w) {
        const auto busy = _workers[w]->busy_cycles();
        const auto total = _workers[w]->total_cycles();
        worker_stats ws;
        ws.index = w;
        const auto dt = total - _last_total[w];
        ws.busy_fraction = dt == 0 ? 0.0 : static_cast<double>(busy - _last_busy[w]) / dt;
        ws.bursts = _workers[w]->bursts();
        ws.packets = _workers[w]->packets();
        _last_busy[w] = busy;
        _last_total[w] = total;
        out.push_back(ws);
    }
    return out;
}

std::vector<port_stats> dpdk_engine::port_counters() const {
    std::vector<port_stats> out;
    for (std::size_t i = 0; i < _ports.size(); ++i) {
        rte_eth_stats st{};
        rte_eth_stats_get(_ports[i].phys, &st);
        port_stats ps;
        ps.device = _devices[i];
        ps.rx_packets = st.ipackets;
        ps.rx_bytes = st.ibytes;
        ps.tx_packets = st.opackets;
        ps.tx_bytes = st.obytes;
        ps.rx_missed = st.imissed;
        ps.rx_errors = st.ierrors;
        ps.tx_errors = st.oerrors;
        ps.to_kernel = _ports[i].to_kernel.load(std::memory_order_relaxed);
        ps.from_kernel = _ports[i].from_kernel.load(std::memory_order_relaxed);
        ps.unresolved = _ports[i].unresolved.load(std::memory_order_relaxed);
        ps.checksum_offload = _ports[i].checksum_offload;
        ps.tx_full = _ports[i].tx_full.load(std::memory_order_relaxed);
        ps.kernel_full = _ports[i].kernel_full.load(std::memory_order_relaxed);
        ps.dispatch_full = _ports[i].dispatch_full.load(std::memory_order_relaxed);
        out.push_back(ps);
    }
    return out;
}

command_seq dpdk_engine::post(unsigned w, const command& c) {
    _backlog[w].post(c, [&](const command& x) { return _workers[w]->try_post(x); });
    // The backlog keeps the order, so the worker applies commands in the
    // order they are numbered here.
    return ++_posted[w];
}

void dpdk_engine::post_all(const command& c) {
    for (unsigned w = 0; w < _workers.size(); ++w) {
        post(w, c);
    }
}

void dpdk_engine::flush_backlog(unsigned w) {
    _backlog[w].flush([&](const command& x) { return _workers[w]->try_post(x); });
}

void dpdk_engine::destroy(std::unique_ptr<dpdk_session> s) {
    std::vector<std::uint16_t> ports = std::move(s->retired_ports);
    ports.insert(ports.end(), s->ports.rtp.begin(), s->ports.rtp.end());
    for (const auto& parked : s->pending) {
        if (parked) {
            ports.push_back(parked->rtp_port);
        }
    }
    s.reset();
    for (const auto port : ports) {
        if (port != 0) {
            _pool.release(port);
        }
    }
}

}  // namespace sbc::dataplane::dpdk

namespace sbc::dataplane {

std::unique_ptr<media_engine> make_dpdk_engine(const engine_config& config) {
    return std::make_unique<dpdk::dpdk_engine>(config);
}

}  // namespace sbc::dataplane
