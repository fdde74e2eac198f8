#include "dataplane/io/dpdk/dpdk_worker.hpp"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace sbc::dataplane::dpdk {

namespace {

// Empty polls in a row before a worker that carries no call naps, and for
// how long. A worker with calls polls without pause, as a DPDK lcore is
// meant to: a nap asked for 20 us lasts 80-110 us on a virtual machine
// (timer slack, the hypervisor's timers), and media would wait it out.
// Without calls, naps keep an idle appliance (or a test machine) from
// burning a core; the first packet of a call then waits one nap at most.
constexpr unsigned idle_polls_before_nap = 256;
constexpr unsigned nap_us = 20;

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void send_all(std::uint16_t port, std::uint16_t queue, rte_mbuf** frames, std::uint16_t& count,
              std::atomic<std::uint64_t>& refused) noexcept {
    if (count == 0) {
        return;
    }
    const std::uint16_t sent = rte_eth_tx_burst(port, queue, frames, count);
    if (sent < count) {
        // The queue is full: dropped, as a NIC would, and counted per port
        // (the relay counted them as sent when they were queued).
        for (std::uint16_t i = sent; i < count; ++i) {
            rte_pktmbuf_free(frames[i]);
        }
        refused.fetch_add(count - sent, std::memory_order_relaxed);
    }
    count = 0;
}

}  // namespace

worker::worker(unsigned index, std::vector<port_runtime>& ports, std::vector<stream_slot>& slots,
               std::uint16_t port_min, rte_ring* dispatch_in, std::vector<rte_ring*> dispatch_out,
               int wake_fd)
    : _index(index),
      _ports(ports),
      _slots(slots),
      _port_min(port_min),
      _dispatch_in(dispatch_in),
      _dispatch_out(std::move(dispatch_out)),
      _wake_fd(wake_fd),
      _streams(slots.size(), {nullptr, side::a}),
      _phys_tx(ports.size()),
      _tap_tx(ports.size()) {
    _tx.sink = &_sink;
}

int worker::main(void* self) {
    static_cast<worker*>(self)->run();
    return 0;
}

void worker::run() noexcept {
    const auto queue = static_cast<std::uint16_t>(_index);
    std::array<rte_mbuf*, max_burst> frames{};
    unsigned idle = 0;
    std::uint64_t last = rte_get_tsc_cycles();
    while (!_stop.load(std::memory_order_acquire)) {
        bool work = drain_commands();
        for (unsigned p = 0; p < _ports.size(); ++p) {
            auto& port = _ports[p];
            std::uint16_t n = rte_eth_rx_burst(port.phys, queue, frames.data(), max_burst);
            if (n > 0) {
                work = true;
                _bursts.store(_bursts.load(std::memory_order_relaxed) + 1,
                              std::memory_order_relaxed);
                _packets.store(_packets.load(std::memory_order_relaxed) + n,
                               std::memory_order_relaxed);
                handle_frames(p, frames.data(), n);
            }
            // The kernel's side: SIP, ARP, ND, ICMP from the media address.
            n = rte_eth_rx_burst(port.tap, queue, frames.data(), max_burst);
            if (n > 0) {
                work = true;
                port.from_kernel.fetch_add(n, std::memory_order_relaxed);
                auto& q = _phys_tx[p];
                for (std::uint16_t i = 0; i < n; ++i) {
                    if (q.count == max_burst) {
                        send_all(port.phys, queue, q.frames.data(), q.count, port.tx_full);
                    }
                    q.frames[q.count++] = frames[i];
                }
            }
        }
        if (_dispatch_in != nullptr) {
            unsigned n = rte_ring_dequeue_burst(
                _dispatch_in, reinterpret_cast<void**>(frames.data()), max_burst, nullptr);
            if (n > 0) {
                work = true;
                // Handed over frames carry their port in the mbuf's port field.
                for (unsigned i = 0; i < n; ++i) {
                    handle_frames(frames[i]->port, &frames[i], 1);
                }
            }
        }
        if (!_pacer.empty()) {
            const std::int64_t now_ns = steady_now_ns();
            if (_pacer.next_due_ns() <= now_ns) {
                work = true;
                _pacer.release(now_ns,
                               [this, now_ns](dpdk_session& s) { release_paced(s, now_ns); });
            }
        }
        if (_queued_unresolved) {
            wake_control_thread();
        }
        flush();
        // A quiescent point: nothing replaced by this round's commands is
        // held any more (what chains made was copied into frames), so the
        // control thread may free it.
        _progress.quiescent();
        if (!_timeouts.empty()) {
            _timeouts.scan(steady_now_ns(), [this](dpdk_session& s) {
                // Dropped when the control thread lags a full ring behind;
                // the control plane re-arms a timeout it has not heard from.
                media_event ev;
                ev.what = media_event::kind::timeout;
                ev.id = s.id;
                (void)_events.try_push(ev);
            });
        }
        const std::uint64_t now = rte_get_tsc_cycles();
        const std::uint64_t round = now - last;
        _total.store(_total.load(std::memory_order_relaxed) + round, std::memory_order_relaxed);
        last = now;
        if (work) {
            _busy.store(_busy.load(std::memory_order_relaxed) + round, std::memory_order_relaxed);
            idle = 0;
        } else if (++idle >= idle_polls_before_nap && _sessions == 0) {
            rte_delay_us_sleep(nap_us);
            // The nap is idle time: counted in the total, never as busy.
            last = rte_get_tsc_cycles();
            _total.store(_total.load(std::memory_order_relaxed) + (last - now),
                         std::memory_order_relaxed);
        }
    }
    flush();
}

void worker::flush() noexcept {
    const auto queue = static_cast<std::uint16_t>(_index);
    for (unsigned p = 0; p < _ports.size(); ++p) {
        auto& port = _ports[p];
        send_all(port.phys, queue, _phys_tx[p].frames.data(), _phys_tx[p].count, port.tx_full);
        send_all(port.tap, queue, _tap_tx[p].frames.data(), _tap_tx[p].count, port.kernel_full);
    }
    // Removals are acknowledged once no frame of this round can name them.
    // The link is read before the push: once pushed, the control thread
    // may destroy the session at once.
    while (_unacked != nullptr) {
        dpdk_session* s = _unacked;
        dpdk_session* next = s->next_unacked;
        s->next_unacked = nullptr;
        if (!_removed.try_push(s)) {
            s->next_unacked = next;
            break;
        }
        _unacked = next;
    }
}

void worker::wake_control_thread() noexcept {
    _queued_unresolved = false;
    // The datagrams were pushed before this exchange; the control thread
    // exchanges the flag too before it drains (rearm_wake). The two are
    // ordered on the flag: if the control thread's came first, this one reads
    // true and signals; if this one came first, the control thread's acquires
    // it and its drain sees the datagrams. Either way none is left behind
    // unsignalled.
    if (_wake_fd >= 0 && _wake_armed.exchange(false, std::memory_order_acq_rel)) {
        // Once per drain of the control thread, not per packet: a new peer's
        // first datagrams must not wait for its housekeeping tick (200 ms),
        // and the kernel resolves the peer only once it has them.
        const std::uint64_t one = 1;
        (void)::write(_wake_fd, &one, sizeof one);
    }
}

void worker::to_kernel(unsigned p, rte_mbuf* m) noexcept {
    auto& q = _tap_tx[p];
    if (q.count == max_burst) {
        send_all(_ports[p].tap, static_cast<std::uint16_t>(_index), q.frames.data(), q.count,
                 _ports[p].kernel_full);
    }
    q.frames[q.count++] = m;
    _ports[p].to_kernel.fetch_add(1, std::memory_order_relaxed);
}

void worker::handle_frames(unsigned p, rte_mbuf** frames, std::uint16_t n) noexcept {
    const std::int64_t now_ns = steady_now_ns();
    auto& port = _ports[p];
    for (std::uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = frames[i];
        m->port = static_cast<std::uint16_t>(p);
        udp_datagram& d = _datagram;
        // Multi-segment frames are not audio: the kernel may have them.
        const bool udp =
            m->nb_segs == 1 && classify(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len, d);
        const std::uint16_t dport = udp ? d.destination.port() : 0;
        const std::size_t slot = static_cast<std::size_t>(dport - _port_min) / 2;
        if (!udp || dport < _port_min || slot >= _slots.size() ||
            !(ip_key::of(d.destination) == port.media_key)) {
            to_kernel(p, m);
            continue;
        }
        const std::uint32_t owner = _slots[slot].owner_plus_one.load(std::memory_order_acquire);
        if (owner == 0) {
            to_kernel(p, m);  // no session: the kernel answers port unreachable
            continue;
        }
        if (owner - 1 != _index) {
            // RSS put it on our queue; the session lives on another worker.
            if (rte_ring_enqueue(_dispatch_out[owner - 1], m) != 0) {
                rte_pktmbuf_free(m);
                port.dispatch_full.fetch_add(1, std::memory_order_relaxed);
            }
            continue;
        }
        auto [session, s] = _streams[slot];
        if (session == nullptr) {
            to_kernel(p, m);  // being added or removed right now
            continue;
        }
        relay_frame(m, d, *session, s, (dport & 1) != 0 ? channel::rtcp : channel::rtp, now_ns);
    }
}

void worker::relay_frame(rte_mbuf* m, const udp_datagram& d, dpdk_session& s, side from, channel ch,
                         std::int64_t now_ns) noexcept {
    std::uint8_t* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
    rx_packet pkt;
    pkt.data = frame + d.payload_offset;
    pkt.len = static_cast<std::uint32_t>(d.payload_length);
    pkt.source = &d.source;
    // SRTP may grow the payload up to the end of the buffer.
    pkt.capacity = static_cast<std::uint32_t>(d.payload_length + rte_pktmbuf_tailroom(m) +
                                              (m->data_len - d.payload_offset - d.payload_length));
    tx_batch& out = _tx;
    _tx_pool = m->pool;
    s.relay.relay(from, ch, std::span<const rx_packet>(&pkt, 1), now_ns, out);
    _pacer.schedule(s, s.relay.next_due_ns());
    if (out.latched != nullptr) {
        // Informational: dropped when the control thread lags a full ring behind.
        media_event ev;
        ev.id = s.id;
        ev.s = from;
        ev.latched = *out.latched;
        (void)_events.try_push(ev);
    }
    for (std::size_t i = 0; i < out.digit_count; ++i) {
        (void)_events.try_push(dtmf_event(s.id, from, out.digits[i]));
    }
    report_rollovers(s);
    if (out.reply_count > 0) {
        // The response to a connectivity check, written over its request:
        // the frame turns round, from the port it came to, and back through
        // the hop it came from if the neighbour table has no better one.
        mac_address came_from{};
        std::memcpy(came_from.data(), frame + 6, came_from.size());
        send_frame(m, pkt.data, out.replies[0], nullptr, s, from, &came_from);
        return;
    }
    if (out.count == 0) {
        rte_pktmbuf_free(m);
        return;
    }
    const side to = other(from);
    if (out.packets[0].data == pkt.data) {
        send_frame(m, pkt.data, out.packets[0], &d, s, to);
        return;
    }
    // Transcoded: the chain's packets live in the worker's sink, one frame
    // each from the pool the received one came from; that one is done with.
    send_made(s, to);
    rte_pktmbuf_free(m);
}

void worker::report_rollovers(const dpdk_session& s) noexcept {
    for (std::size_t i = 0; i < _tx.rollover_count; ++i) {
        // Dropped when the control thread lags a full ring behind: a node
        // taking the call over then starts that stream a wrap behind, as
        // it would have before the next wrap was written anyway.
        (void)_events.try_push(rollover_event(s.id, _tx.rollovers[i]));
    }
}

void worker::send_made(dpdk_session& s, side to) noexcept {
    for (std::size_t i = 0; i < _tx.count; ++i) {
        const tx_packet& tx = _tx.packets[i];
        rte_mbuf* f = _tx_pool != nullptr ? rte_pktmbuf_alloc(_tx_pool) : nullptr;
        if (f == nullptr || rte_pktmbuf_tailroom(f) < tx.len) {
            s.relay.note_tx(to, 0, 0, 1);
            if (f != nullptr) {
                rte_pktmbuf_free(f);
            }
            continue;
        }
        auto* payload = rte_pktmbuf_mtod(f, std::uint8_t*);
        std::memcpy(payload, tx.data, tx.len);
        send_frame(f, payload, tx, nullptr, s, to);
    }
}

void worker::release_paced(dpdk_session& s, std::int64_t now_ns) noexcept {
    for (side from : {side::a, side::b}) {
        s.relay.release_due(from, now_ns, _tx);
        for (std::size_t i = 0; i < _tx.digit_count; ++i) {
            (void)_events.try_push(dtmf_event(s.id, from, _tx.digits[i]));
        }
        report_rollovers(s);
        send_made(s, other(from));
    }
    _pacer.schedule(s, s.relay.next_due_ns());
}

void worker::send_frame(rte_mbuf* m, std::uint8_t* payload, const tx_packet& tx,
                        const udp_datagram* received, dpdk_session& s, side to,
                        const mac_address* via) noexcept {
    std::uint8_t* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
    const unsigned p = s.port_index[index(to)];
    port_runtime& egress = _ports[p];
    const mac_address* next_hop = _neighbors.find(ip_key::of(*tx.destination));
    if (next_hop == nullptr) {
        next_hop = via;
    }
    // A response to a check is not media: only a failure to send it counts,
    // as a transmit error (the kernel backend does the same).
    const auto note_sent = [&s, to, media = via == nullptr](std::size_t bytes) {
        if (media) {
            s.relay.note_tx(to, 1, bytes, 0);
        }
    };
    ip_endpoint source = s.local[index(to)];
    if (tx.via == channel::rtcp) {
        source.set_port(static_cast<std::uint16_t>(source.port() + 1));
    }
    const std::size_t header = header_length(source.family());
    if (tx.destination->family() != source.family() ||
        static_cast<std::size_t>(payload - static_cast<std::uint8_t*>(m->buf_addr)) < header) {
        // An address family this leg cannot send to.
        s.relay.note_tx(to, 0, 0, 1);
        rte_pktmbuf_free(m);
        return;
    }
    // The kernel's path (no next hop) takes finished checksums.
    const bool offload = egress.checksum_offload && next_hop != nullptr;
    // An unchanged payload keeps its sum: read it off the received checksum
    // (before the new headers overwrite the old ones).
    const auto payload_sum = offload || tx.transformed || received == nullptr
                                 ? std::nullopt
                                 : payload_sum_from_checksum(frame, *received);
    std::uint8_t* start = payload - header;
    write_headers(start, egress.mac, next_hop != nullptr ? *next_hop : mac_address{}, source,
                  *tx.destination, tx.len, payload_sum,
                  offload ? checksums::device : checksums::software);
    m->data_off = static_cast<std::uint16_t>(start - static_cast<std::uint8_t*>(m->buf_addr));
    m->data_len = static_cast<std::uint16_t>(header + tx.len);
    m->pkt_len = m->data_len;
    m->ol_flags = 0;
    if (offload) {
        const bool v6 = source.family() == AF_INET6;
        m->l2_len = ethernet_header_length;
        m->l3_len = v6 ? ipv6_header_length : ipv4_header_length;
        m->ol_flags = (v6 ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM) |
                      RTE_MBUF_F_TX_UDP_CKSUM;
    }
    if (next_hop == nullptr) {
        // No MAC for the next hop (a new peer, an expired entry, an off-link
        // peer behind a gateway): the kernel routes this one, resolving the
        // next hop as it does so; the neighbour watch then tells the workers.
        rte_pktmbuf_adj(m, ethernet_header_length);
        m->port = static_cast<std::uint16_t>(p);
        if (_unresolved.try_push(m)) {
            _queued_unresolved = true;
            egress.unresolved.fetch_add(1, std::memory_order_relaxed);
            note_sent(tx.len);
        } else {
            s.relay.note_tx(to, 0, 0, 1);
            rte_pktmbuf_free(m);
        }
        return;
    }
    auto& q = _phys_tx[p];
    if (q.count == max_burst) {
        send_all(egress.phys, static_cast<std::uint16_t>(_index), q.frames.data(), q.count,
                 egress.tx_full);
    }
    q.frames[q.count++] = m;
    note_sent(tx.len);
}

bool worker::drain_commands() noexcept {
    bool any = false;
    command c;
    while (_commands.try_pop(c)) {
        apply(c);
        _progress.applied();
        any = true;
    }
    return any;
}

void worker::apply(const command& c) noexcept {
    auto slot_of = [this](std::uint16_t rtp_port) {
        return static_cast<std::size_t>(rtp_port - _port_min) / 2;
    };
    switch (c.what) {
        case command::kind::add_session:
            ++_sessions;
            for (side sd : {side::a, side::b}) {
                _streams[slot_of(c.ports.rtp[index(sd)])] = {c.session, sd};
            }
            break;
        case command::kind::set_remote:
            c.session->relay.set_remote(c.s, c.rtp, c.rtcp);
            break;
        case command::kind::set_srtp:
            c.session->relay.set_srtp(c.s, c.from_peer, c.to_peer);
            break;
        case command::kind::set_timeout:
            _timeouts.arm(*c.session, c.timeout_ns, steady_now_ns());
            break;
        case command::kind::set_tone:
            if (_tx_pool == nullptr) {
                _tx_pool = c.tone_pool;
            }
            c.session->relay.set_tone(c.s, c.tone, steady_now_ns());
            _pacer.schedule(*c.session, c.session->relay.next_due_ns());
            break;
        case command::kind::set_chain:
            c.session->relay.set_chain(c.s, c.chain);
            // The new chain took over the packets the old one held.
            _pacer.schedule(*c.session, c.session->relay.next_due_ns());
            break;
        case command::kind::send_dtmf:
            c.session->relay.queue_digit(c.s, c.digit, c.duration_ms);
            break;
        case command::kind::set_payload_types:
            c.session->relay.set_payload_types(c.s, c.payload_types);
            break;
        case command::kind::set_ice:
            c.session->relay.set_ice(c.s, c.ice, c.ice_restart);
            break;
        case command::kind::set_rtcp_mux:
            c.session->relay.set_rtcp_mux(c.s, c.rtcp_mux);
            break;
        case command::kind::remove_session:
            --_sessions;
            for (side sd : {side::a, side::b}) {
                _streams[slot_of(c.ports.rtp[index(sd)])] = {nullptr, side::a};
            }
            _timeouts.forget(*c.session);
            _pacer.forget(*c.session);
            c.session->next_unacked = _unacked;
            _unacked = c.session;
            break;
        case command::kind::move_side:
            // Frames still arriving on the old port go to the kernel, which
            // answers port unreachable, as for any port without a session.
            _streams[slot_of(c.old_rtp_port)] = {nullptr, side::a};
            _streams[slot_of(c.ports.rtp[index(c.s)])] = {c.session, c.s};
            c.session->local[index(c.s)] = c.local;
            c.session->port_index[index(c.s)] = c.port_index;
            break;
        case command::kind::neighbor:
            if (c.neighbor_gone) {
                _neighbors.erase(c.neighbor_ip);
            } else {
                _neighbors.set(c.neighbor_ip, c.neighbor_mac);
            }
            break;
    }
}

}  // namespace sbc::dataplane::dpdk
