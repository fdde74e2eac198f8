// worker: the kernel backend's burst loop.
#include "dataplane/io/kernel/worker.hpp"

#include <pthread.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <utility>

namespace sbc::dataplane::kernel {

namespace {

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Sends msgs[0, n) with as few sendmmsg calls as the kernel allows. A message
// the kernel refuses (full send buffer, unreachable, wrong address family) is
// skipped and counted in `failed`, so one bad destination cannot stall the
// rest. Returns the number sent; `bytes` gets their payload bytes.
std::size_t send_all(int fd, mmsghdr* msgs, std::size_t n, std::size_t& failed,
                     std::size_t& bytes) noexcept {
    std::size_t off = 0;
    std::size_t sent = 0;
    failed = 0;
    bytes = 0;
    while (off < n) {
        const int r = ::sendmmsg(fd, msgs + off, static_cast<unsigned>(n - off), MSG_DONTWAIT);
        if (r > 0) {
            for (int i = 0; i < r; ++i) {
                bytes += msgs[off + static_cast<std::size_t>(i)].msg_len;
            }
            sent += static_cast<std::size_t>(r);
            off += static_cast<std::size_t>(r);
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            ++failed;
            ++off;
        }
    }
    return sent;
}

// Single-writer counters: a relaxed load and store, no locked instruction.
void add_relaxed(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

worker::worker(unsigned index) : _index(index) {
    _epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!_epoll) {
        throw std::system_error(errno, std::generic_category(), "media worker: epoll_create1");
    }
    _wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!_wake) {
        throw std::system_error(errno, std::generic_category(), "media worker: eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // nullptr marks the eventfd; sockets carry a socket_ref
    if (::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, _wake.get(), &ev) != 0) {
        throw std::system_error(errno, std::generic_category(), "media worker: epoll_ctl");
    }
    for (std::size_t i = 0; i < max_burst; ++i) {
        _buf.rx_iov[i] = iovec{_buf.data[i].data(), buffer_size};
        _buf.rx_msgs[i] = mmsghdr{};
        _buf.rx_msgs[i].msg_hdr.msg_iov = &_buf.rx_iov[i];
        _buf.rx_msgs[i].msg_hdr.msg_iovlen = 1;
        _buf.rx_msgs[i].msg_hdr.msg_name = _buf.sources[i].sockaddr_buffer();
    }
    for (std::size_t i = 0; i < max_tx_burst; ++i) {
        _buf.tx_msgs[i] = mmsghdr{};
        _buf.tx_msgs[i].msg_hdr.msg_iov = &_buf.tx_iov[i];
        _buf.tx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    _buf.tx.sink = &_sink;
    _thread = std::thread([this] { run(); });
    const auto name = "sbc-media-" + std::to_string(_index);
    ::pthread_setname_np(_thread.native_handle(), name.c_str());
}

worker::~worker() {
    _stop.store(true, std::memory_order_release);
    wake();
    if (_thread.joinable()) {
        _thread.join();
    }
}

bool worker::try_post(const command& c) noexcept {
    if (!_commands.try_push(c)) {
        return false;
    }
    wake();
    return true;
}

void worker::wake() noexcept {
    const std::uint64_t one = 1;
    // Only fails when the counter would overflow, and then it is awake anyway.
    [[maybe_unused]] auto r = ::write(_wake.get(), &one, sizeof(one));
}

void worker::drain_wake() noexcept {
    std::uint64_t count = 0;
    [[maybe_unused]] auto r = ::read(_wake.get(), &count, sizeof(count));
}

int worker::wait(std::int64_t timeout_ns) noexcept {
    const int max = static_cast<int>(_buf.events.size());
    if (_have_pwait2) {
        timespec ts{};
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
        const int n = ::epoll_pwait2(_epoll.get(), _buf.events.data(), max,
                                     timeout_ns < 0 ? nullptr : &ts, nullptr);
        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        _have_pwait2 = false;
    }
    // Rounded up: a wake-up before the due time would only spin.
    const int timeout_ms =
        timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    return ::epoll_wait(_epoll.get(), _buf.events.data(), max, timeout_ms);
}

void worker::run() noexcept {
    std::int64_t last_ns = steady_now_ns();
    while (!_stop.load(std::memory_order_acquire)) {
        // While an acknowledgement waits for room in the event ring, poll
        // every millisecond instead of sleeping until the next packet; while
        // a media timeout is armed, wake up for its scans; while a chain
        // holds packets, wake up when the first is due.
        std::int64_t timeout_ns = _unacked != nullptr  ? 1'000'000
                                  : !_timeouts.empty() ? 100'000'000
                                                       : -1;
        if (const std::int64_t due = _pacer.next_due_ns(); due != transcoder::no_due_ns) {
            const std::int64_t until = std::max<std::int64_t>(0, due - steady_now_ns());
            timeout_ns = timeout_ns < 0 ? until : std::min(timeout_ns, until);
        }
        const int n = wait(timeout_ns);
        const std::int64_t woke_ns = steady_now_ns();
        // The eventfd is read before the commands are: a command posted
        // after the read wakes the next wait. Read after them, it would
        // swallow the wake-up of a command posted in between, which would
        // then wait for whatever woke the worker next (for ever, when nothing
        // does: a removal never acknowledged, its ports never freed).
        for (int i = 0; i < n; ++i) {
            if (_buf.events[i].data.ptr == nullptr) {
                drain_wake();
            }
        }
        // Commands before the bursts, so a set_remote() the control thread
        // made before a packet arrived applies to that packet.
        drain_commands();
        for (int i = 0; i < n; ++i) {
            const auto* ref = static_cast<const socket_ref*>(_buf.events[i].data.ptr);
            if (ref != nullptr && !ref->session->removed) {
                handle_socket(*ref);
            }
        }
        // Removals are acknowledged only now: this batch's events could still
        // name a session removed above, and the next epoll_wait cannot.
        flush_unacked();
        if (!_pacer.empty()) {
            const std::int64_t due_ns = steady_now_ns();
            _pacer.release(due_ns, [this, due_ns](kernel_session& s) { release_paced(s, due_ns); });
        }
        const std::int64_t now_ns = steady_now_ns();
        _timeouts.scan(now_ns, [this](kernel_session& s) {
            // Dropped when the control thread lags a full ring behind; the
            // control plane re-arms a timeout it has not heard from.
            media_event ev;
            ev.what = media_event::kind::timeout;
            ev.id = s.id;
            (void)_events.try_push(event{nullptr, ev});
        });
        // A quiescent point: nothing replaced by this round's commands is
        // held any more, so the control thread may free it.
        _progress.quiescent();
        add_relaxed(_busy_ns, static_cast<std::uint64_t>(now_ns - woke_ns));
        add_relaxed(_total_ns, static_cast<std::uint64_t>(now_ns - last_ns));
        last_ns = now_ns;
    }
}

std::size_t worker::receive(int fd) noexcept {
    for (auto& m : _buf.rx_msgs) {
        m.msg_hdr.msg_namelen = ip_endpoint::sockaddr_capacity;
        m.msg_hdr.msg_flags = 0;
    }
    const int n = ::recvmmsg(fd, _buf.rx_msgs.data(), max_burst, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
        // EAGAIN (another reader, or a spurious wake-up) or a pending socket
        // error; level-triggered epoll reports the socket again if need be.
        return 0;
    }
    const auto count = static_cast<std::size_t>(n);
    add_relaxed(_bursts, 1);
    add_relaxed(_packets, count);
    for (std::size_t i = 0; i < count; ++i) {
        const auto& m = _buf.rx_msgs[i];
        if (m.msg_hdr.msg_namelen == 0) {
            _buf.sources[i] = ip_endpoint{};  // no source: the relay drops it
        }
        _buf.rx[i] =
            rx_packet{_buf.data[i].data(), m.msg_len, (m.msg_hdr.msg_flags & MSG_TRUNC) != 0,
                      &_buf.sources[i], static_cast<std::uint32_t>(buffer_size)};
    }
    return count;
}

void worker::handle_socket(const socket_ref& ref) noexcept {
    kernel_session& s = *ref.session;
    const std::size_t n = receive(s.fd(ref.from, ref.ch));
    if (n == 0) {
        return;
    }
    s.relay.relay(ref.from, ref.ch, std::span<const rx_packet>(_buf.rx.data(), n), steady_now_ns(),
                  _buf.tx);
    if (_buf.tx.latched != nullptr) {
        // Informational: dropped when the control thread lags a full ring behind.
        media_event ev;
        ev.id = s.id;
        ev.s = ref.from;
        ev.latched = *_buf.tx.latched;
        (void)_events.try_push(event{nullptr, ev});
    }
    report_events(s, ref.from);
    if (_buf.tx.count > 0) {
        transmit(s, other(ref.from));
    }
    if (_buf.tx.reply_count > 0) {
        transmit_replies(s, ref.from, ref.ch);
    }
    _pacer.schedule(s, s.relay.next_due_ns());
}

void worker::report_events(const kernel_session& s, side from) noexcept {
    for (std::size_t i = 0; i < _buf.tx.digit_count; ++i) {
        // Dropped when the control thread lags a full ring behind (counted
        // nowhere else: the digit is lost, as a lost INFO would be).
        (void)_events.try_push(event{nullptr, dtmf_event(s.id, from, _buf.tx.digits[i])});
    }
    for (std::size_t i = 0; i < _buf.tx.rollover_count; ++i) {
        // Dropped when the control thread lags a full ring behind: a node
        // taking the call over then starts that stream a wrap behind, as
        // it would have before the next wrap was written anyway.
        (void)_events.try_push(event{nullptr, rollover_event(s.id, _buf.tx.rollovers[i])});
    }
}

void worker::release_paced(kernel_session& s, std::int64_t now_ns) noexcept {
    for (side from : {side::a, side::b}) {
        s.relay.release_due(from, now_ns, _buf.tx);
        report_events(s, from);
        if (_buf.tx.count > 0) {
            transmit(s, other(from));
        }
    }
    _pacer.schedule(s, s.relay.next_due_ns());
}

std::size_t worker::send_packets(int fd, std::span<const tx_packet> packets, channel via,
                                 std::size_t& failed, std::size_t& bytes) noexcept {
    std::size_t n = 0;
    for (const tx_packet& p : packets) {
        if (p.via != via || n == _buf.tx_msgs.size()) {
            continue;
        }
        // sendmmsg does not write through these; the casts only fit the C API.
        _buf.tx_iov[n] = iovec{const_cast<std::uint8_t*>(p.data), p.len};
        auto& h = _buf.tx_msgs[n].msg_hdr;
        h.msg_name = const_cast<sockaddr*>(p.destination->sockaddr_ptr());
        h.msg_namelen = p.destination->sockaddr_len();
        ++n;
    }
    if (n == 0) {
        failed = 0;
        bytes = 0;
        return 0;
    }
    return send_all(fd, _buf.tx_msgs.data(), n, failed, bytes);
}

void worker::transmit(kernel_session& s, side to) noexcept {
    const std::span<const tx_packet> packets(_buf.tx.packets.data(), _buf.tx.count);
    // Mostly one port per burst; a muxed peer's burst of RTP and RTCP
    // towards a side that is not muxed takes both (RFC 5761 4).
    for (channel via : {channel::rtp, channel::rtcp}) {
        std::size_t failed = 0;
        std::size_t bytes = 0;
        const std::size_t sent = send_packets(s.fd(to, via), packets, via, failed, bytes);
        s.relay.note_tx(to, sent, bytes, failed);
    }
}

void worker::transmit_replies(kernel_session& s, side from, channel ch) noexcept {
    std::size_t failed = 0;
    std::size_t bytes = 0;
    (void)send_packets(s.fd(from, ch),
                       std::span<const tx_packet>(_buf.tx.replies.data(), _buf.tx.reply_count), ch,
                       failed, bytes);
    // Not media: the side's tx counters leave them out (side_counters::
    // stun_answered and stun_rejected count them), but a refused one is a
    // transmit error like any other.
    if (failed > 0) {
        s.relay.note_tx(from, 0, 0, failed);
    }
}

void worker::drain_commands() noexcept {
    command c;
    while (_commands.try_pop(c)) {
        apply(c);
        _progress.applied();
    }
}

void worker::apply(const command& c) noexcept {
    switch (c.what) {
        case command::kind::add_session:
            add_session(*c.session);
            break;
        case command::kind::set_remote:
            c.session->relay.set_remote(c.s, c.rtp, c.rtcp);
            break;
        case command::kind::remove_session:
            remove_session(*c.session);
            break;
        case command::kind::set_srtp:
            c.session->relay.set_srtp(c.s, c.from_peer, c.to_peer);
            break;
        case command::kind::set_timeout:
            _timeouts.arm(*c.session, c.timeout_ns, steady_now_ns());
            break;
        case command::kind::set_tone:
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
        case command::kind::move_side:
            move_side(*c.session, c.s, c.rtp_fd, c.rtcp_fd);
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
    }
}

void worker::watch(kernel_session& s, std::size_t socket) noexcept {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &s.refs[socket];
    if (::epoll_ctl(_epoll.get(), EPOLL_CTL_ADD, s.active[socket], &ev) != 0) {
        // The socket stays inert (its packets queue up in the kernel and are
        // dropped there); removal still works. Counted, not logged.
        _registration_failures.store(registration_failures() + 1, std::memory_order_relaxed);
    }
}

void worker::add_session(kernel_session& s) noexcept {
    for (std::size_t i = 0; i < s.refs.size(); ++i) {
        watch(s, i);
    }
}

void worker::move_side(kernel_session& s, side sd, int rtp_fd, int rtcp_fd) noexcept {
    // An event of this epoll round may still name the side's ref: it reads
    // the new socket then, which is harmless. What waits on the old one is
    // never read; the control thread closes it with the session.
    for (const auto& [ch, fd] :
         {std::pair{channel::rtp, rtp_fd}, std::pair{channel::rtcp, rtcp_fd}}) {
        const std::size_t i = socket_index(sd, ch);
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, s.active[i], nullptr);
        s.active[i] = fd;
        watch(s, i);
    }
}

void worker::remove_session(kernel_session& s) noexcept {
    for (const auto& ref : s.refs) {
        // ENOENT if registration failed; nothing to undo then.
        ::epoll_ctl(_epoll.get(), EPOLL_CTL_DEL, s.fd(ref.from, ref.ch), nullptr);
    }
    _timeouts.forget(s);
    _pacer.forget(s);
    // Acknowledged by flush_unacked() after the current epoll batch.
    s.removed = true;
    s.next_unacked = _unacked;
    _unacked = &s;
}

void worker::flush_unacked() noexcept {
    // The link is read before the push: once pushed, the control thread
    // may destroy the session at once.
    while (_unacked != nullptr) {
        kernel_session* s = _unacked;
        kernel_session* next = s->next_unacked;
        if (!_events.try_push(event{s, {}})) {
            break;
        }
        _unacked = next;
    }
}

}  // namespace sbc::dataplane::kernel
