// kernel_engine: session life cycle on the control thread.
//
// open_session   bind 2 pairs -> add_session command      -> _open
//   (_at: the pairs given, reserved in the pool, else the same)
// set_remote     set_remote command (the worker applies it between bursts)
// side move      prepare: bind a pair, park it; commit: move_side command,
//                the replaced pair retired until the session is destroyed
// set_srtp/chain set_srtp / set_chain command; what it replaces -> _retired
// ICE creds      set_ice command, a new ice_responder; the old one -> _retired
// close_session  remove_session command; _open -> _closing
// poll()         commands acknowledged: free what they replaced;
//                session_removed events: close the sockets, free the ports
#include "dataplane/io/kernel/kernel_engine.hpp"

#include <utility>

#include "dataplane/io/kernel/udp_socket.hpp"

namespace sbc::dataplane::kernel {

kernel_engine::kernel_engine(const engine_config& config)
    : _pool(config.port_min, config.port_max) {
    const unsigned count = config.workers > 0 ? config.workers : 1;
    _workers.reserve(count);
    for (unsigned i = 0; i < count; ++i) {
        _workers.push_back(std::make_unique<worker>(i));
    }
    _backlog.resize(count);
    _posted.resize(count, 0);
    _retired.resize(count);
    _last_load.resize(count);
}

kernel_engine::~kernel_engine() {
    // Join the workers before any session (and its sockets) goes away.
    _workers.clear();
}

open_result kernel_engine::open_session(session_id id, const std::string& local_a,
                                        const std::string& local_b) {
    return open({&local_a, &local_b}, id, {0, 0});
}

open_result kernel_engine::open_session_at(session_id id, const std::string& local_a,
                                           std::uint16_t rtp_a, const std::string& local_b,
                                           std::uint16_t rtp_b) {
    // Port 0 would ask open() for any pair: not what a restore means.
    for (const auto port : {rtp_a, rtp_b}) {
        if (port == 0) {
            open_result out;
            out.error = "media port 0 is no RTP port of the range";
            return out;
        }
    }
    return open({&local_a, &local_b}, id, {rtp_a, rtp_b});
}

open_result kernel_engine::open(const std::array<const std::string*, 2>& locals, session_id id,
                                const std::array<std::uint16_t, 2>& rtp) {
    open_result out;
    if (_open.count(id) != 0) {
        out.error = "media session " + std::to_string(id) + " is already open";
        return out;
    }
    const auto w = static_cast<unsigned>(id % _workers.size());
    auto s = std::make_unique<kernel_session>(id, w);
    for (side sd : {side::a, side::b}) {
        const auto local = ip_endpoint::from_string(*locals[index(sd)], 0);
        if (!local) {
            out.error = "bad media address '" + *locals[index(sd)] + "'";
        } else {
            const auto port = rtp[index(sd)];
            auto pair = port == 0 ? bind_pair(_pool, *local) : bind_pair_at(_pool, *local, port);
            if (pair.error.empty()) {
                s->ports.rtp[index(sd)] = pair.rtp_port;
                s->fds[socket_index(sd, channel::rtp)] = std::move(pair.rtp);
                s->fds[socket_index(sd, channel::rtcp)] = std::move(pair.rtcp);
                continue;
            }
            out.error = std::move(pair.error);
        }
        // Side a may hold a pair already: give it back.
        destroy(std::move(s));
        return out;
    }
    for (std::size_t i = 0; i < s->fds.size(); ++i) {
        s->active[i] = s->fds[i].get();
    }
    out.ok = true;
    out.ports = s->ports;
    post(w, command{command::kind::add_session, side::a, s.get(), {}, {}});
    _open.emplace(id, std::move(s));
    return out;
}

void kernel_engine::set_remote(session_id id, side s, const ip_endpoint& rtp,
                               const ip_endpoint& rtcp) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    post(ks.worker, command{command::kind::set_remote, s, &ks, rtp, rtcp});
}

void kernel_engine::set_rtcp_mux(session_id id, side s, bool muxed) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    command c{command::kind::set_rtcp_mux, s, &ks, {}, {}};
    c.rtcp_mux = muxed;
    post(ks.worker, c);
}

void kernel_engine::set_srtp(session_id id, side s, std::unique_ptr<srtp::stream_crypto> from_peer,
                             std::unique_ptr<srtp::stream_crypto> to_peer) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    command c{command::kind::set_srtp, s, &ks, {}, {}};
    c.from_peer = from_peer.get();
    c.to_peer = to_peer.get();
    const command_seq seq = post(ks.worker, c);
    // The worker may use the contexts this call replaces until it has
    // applied the command: they wait in the retire list until then.
    auto& owned = ks.objects.sides[index(s)];
    _retired[ks.worker].retire(seq, std::exchange(owned.unprotect, std::move(from_peer)));
    _retired[ks.worker].retire(seq, std::exchange(owned.protect, std::move(to_peer)));
}

void kernel_engine::set_chain(session_id id, side from,
                              std::unique_ptr<transcoder::media_chain> chain) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    command c{command::kind::set_chain, from, &ks, {}, {}};
    c.chain = chain.get();
    const command_seq seq = post(ks.worker, c);
    // As set_srtp; the worker also reads the chain it replaces while it
    // applies the command (the new chain continues its stream).
    _retired[ks.worker].retire(
        seq, std::exchange(ks.objects.sides[index(from)].chain, std::move(chain)));
}

void kernel_engine::start_tone(session_id id, side to,
                               std::unique_ptr<transcoder::tone_source> tone) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    if (!tone && !ks.objects.sides[index(to)].tone) {
        return;  // none plays: nothing to stop
    }
    command c{command::kind::set_tone, to, &ks, {}, {}};
    c.tone = tone.get();
    const command_seq seq = post(ks.worker, c);
    // As set_chain: the worker may still be playing the tone this replaces.
    _retired[ks.worker].retire(seq,
                               std::exchange(ks.objects.sides[index(to)].tone, std::move(tone)));
}

void kernel_engine::set_payload_types(session_id id, side to, const payload_type_map& map) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    command c{command::kind::set_payload_types, to, &ks, {}, {}};
    c.payload_types = map;
    post(ks.worker, c);
}

bool kernel_engine::set_ice_credentials(session_id id, side s,
                                        const std::optional<ice_credentials>& credentials) {
    const auto it = _open.find(id);
    if (it == _open.end() || (credentials && !credentials->invalid_because().empty())) {
        return false;
    }
    kernel_session& ks = *it->second;
    auto& current = ks.objects.sides[index(s)].ice;
    if (current ? credentials && current->credentials() == *credentials : !credentials) {
        return true;  // as they are: the 200 confirming the 183's, say
    }
    auto ice = credentials ? std::make_unique<ice_responder>(*credentials) : nullptr;
    command c{command::kind::set_ice, s, &ks, {}, {}};
    c.ice = ice.get();
    c.ice_restart = ice_responder::restarts(current.get(), credentials ? &*credentials : nullptr);
    const command_seq seq = post(ks.worker, c);
    // As set_srtp: the worker may answer with the old one until it applied this.
    _retired[ks.worker].retire(seq, std::exchange(current, std::move(ice)));
    return true;
}

void kernel_engine::send_dtmf(session_id id, side from, char digit, std::uint32_t duration_ms) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    command c{command::kind::send_dtmf, from, &ks, {}, {}};
    c.digit = digit;
    c.duration_ms = duration_ms;
    post(ks.worker, c);
}

void kernel_engine::set_media_timeout(session_id id, std::chrono::nanoseconds after) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    kernel_session& ks = *it->second;
    command c{command::kind::set_timeout, side::a, &ks, {}, {}};
    c.timeout_ns = after.count();
    post(ks.worker, c);
}

open_result kernel_engine::prepare_side_move(session_id id, side s, const std::string& local) {
    open_result out;
    const auto it = _open.find(id);
    if (it == _open.end()) {
        out.error = "no media session " + std::to_string(id);
        return out;
    }
    const auto at = ip_endpoint::from_string(local, 0);
    if (!at) {
        out.error = "bad media address '" + local + "'";
        return out;
    }
    cancel_side_move(id, s);
    auto pair = bind_pair(_pool, *at);
    if (!pair.error.empty()) {
        out.error = std::move(pair.error);
        return out;
    }
    kernel_session& ks = *it->second;
    out.ok = true;
    out.ports = ks.ports;
    out.ports.rtp[index(s)] = pair.rtp_port;
    ks.pending[index(s)] =
        kernel_session::parked_pair{pair.rtp_port, std::move(pair.rtp), std::move(pair.rtcp)};
    return out;
}

void kernel_engine::commit_side_move(session_id id, side s) {
    const auto it = _open.find(id);
    if (it == _open.end() || !it->second->pending[index(s)]) {
        return;
    }
    kernel_session& ks = *it->second;
    auto& moved = *ks.pending[index(s)];
    auto& rtp = ks.fds[socket_index(s, channel::rtp)];
    auto& rtcp = ks.fds[socket_index(s, channel::rtcp)];
    command c{command::kind::move_side, s, &ks, {}, {}};
    c.rtp_fd = moved.rtp.get();
    c.rtcp_fd = moved.rtcp.get();
    ks.retired.push_back({ks.ports.rtp[index(s)], std::move(rtp), std::move(rtcp)});
    rtp = std::move(moved.rtp);
    rtcp = std::move(moved.rtcp);
    ks.ports.rtp[index(s)] = moved.rtp_port;
    ks.pending[index(s)].reset();
    post(ks.worker, c);
}

void kernel_engine::cancel_side_move(session_id id, side s) {
    const auto it = _open.find(id);
    if (it == _open.end() || !it->second->pending[index(s)]) {
        return;
    }
    // The worker never saw this pair.
    release(std::move(*it->second->pending[index(s)]));
    it->second->pending[index(s)].reset();
}

void kernel_engine::close_session(session_id id) {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return;
    }
    auto s = std::move(it->second);
    _open.erase(it);
    post(s->worker, command{command::kind::remove_session, side::a, s.get(), {}, {}});
    const kernel_session* key = s.get();
    _closing.emplace(key, std::move(s));
}

std::optional<session_stats> kernel_engine::stats(session_id id) const {
    const auto it = _open.find(id);
    if (it == _open.end()) {
        return std::nullopt;
    }
    return it->second->relay.stats();
}

void kernel_engine::poll() {
    for (unsigned w = 0; w < _workers.size(); ++w) {
        flush_backlog(w);
        _retired[w].reclaim(_workers[w]->acknowledged());
        event ev;
        while (_workers[w]->try_next_event(ev)) {
            if (ev.removed == nullptr) {
                _events.push_back(ev.media);
                continue;
            }
            const auto it = _closing.find(ev.removed);
            if (it == _closing.end()) {
                continue;  // cannot happen: only removals are acknowledged
            }
            auto s = std::move(it->second);
            _closing.erase(it);
            destroy(std::move(s));
        }
    }
}

std::size_t kernel_engine::retired_objects() const noexcept {
    std::size_t n = 0;
    for (const auto& r : _retired) {
        n += r.size();
    }
    return n;
}

std::size_t kernel_engine::owned_objects() const noexcept {
    std::size_t n = retired_objects();
    for (const auto& [id, s] : _open) {
        n += s->objects.count();
    }
    for (const auto& [key, s] : _closing) {
        n += s->objects.count();
    }
    return n;
}

std::vector<worker_stats> kernel_engine::worker_counters() {
    std::vector<worker_stats> out;
    for (unsigned w = 0; w < _workers.size(); ++w) {
        const auto busy = _workers[w]->busy_ns();
        const auto total = _workers[w]->total_ns();
        worker_stats ws;
        ws.index = w;
        const auto dt = total - _last_load[w].total;
        ws.busy_fraction =
            dt == 0 ? 0.0
                    : static_cast<double>(busy - _last_load[w].busy) / static_cast<double>(dt);
        ws.bursts = _workers[w]->bursts();
        ws.packets = _workers[w]->packets();
        _last_load[w] = {busy, total};
        out.push_back(ws);
    }
    return out;
}

command_seq kernel_engine::post(unsigned w, const command& c) {
    _backlog[w].post(c, [&](const command& x) { return _workers[w]->try_post(x); });
    // The backlog keeps the order, so the worker applies commands in the
    // order they are numbered here.
    return ++_posted[w];
}

void kernel_engine::flush_backlog(unsigned w) {
    _backlog[w].flush([&](const command& x) { return _workers[w]->try_post(x); });
}

void kernel_engine::destroy(std::unique_ptr<kernel_session> s) {
    std::vector<std::uint16_t> ports(s->ports.rtp.begin(), s->ports.rtp.end());
    for (auto& parked : s->pending) {
        if (parked) {
            ports.push_back(parked->rtp_port);
        }
    }
    for (const auto& parked : s->retired) {
        ports.push_back(parked.rtp_port);
    }
    s.reset();  // closes every socket
    for (const auto port : ports) {
        if (port != 0) {
            _pool.release(port);
        }
    }
}

void kernel_engine::release(kernel_session::parked_pair pair) {
    const auto port = pair.rtp_port;
    pair.rtp.reset();
    pair.rtcp.reset();
    _pool.release(port);
}

}  // namespace sbc::dataplane::kernel

namespace sbc::dataplane {

std::unique_ptr<media_engine> make_kernel_engine(const engine_config& config) {
    return std::make_unique<kernel::kernel_engine>(config);
}

}  // namespace sbc::dataplane
