// The exporter's socket: one non-blocking UDP socket, or a TCP connection
// that the su_root watches (as sbc/cluster/redis_link.cpp watches its own)
// with a queue of whole HEP packets in one buffer, each packet's size kept
// beside it so that a connection lost mid-packet never leaves a torn packet
// at the head of the next connection's stream.
#include "sbc/capture/hep_exporter.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <sofia-sip/su_wait.h>

#include "sbc/capture/hep_encoder.hpp"
#include "sbc/common/log.hpp"
#include "sbc/common/unique_fd.hpp"
#include "sbc/dns/loop_timer.hpp"

namespace sbc::capture {

namespace {

constexpr sbc::log::logger hep_log{"hep"};

/// Past this many bytes already sent at the queue's head, the buffer moves
/// its rest to the front, so that a slow link does not keep old bytes.
constexpr std::size_t compact_after = 64 * 1024;

// "IP:PORT" or "[IPv6]:PORT", as the configuration gives it (canonical).
dataplane::ip_endpoint parse_server(const std::string& address) {
    const auto colon = address.rfind(':');
    std::uint16_t port = 0;
    if (colon != std::string::npos) {
        const char* first = address.data() + colon + 1;
        const char* last = address.data() + address.size();
        const auto [end, ec] = std::from_chars(first, last, port);
        if (ec != std::errc{} || end != last) {
            port = 0;
        }
    }
    std::string_view host = std::string_view(address).substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    auto ep = port != 0 ? dataplane::ip_endpoint::from_string(host, port) : std::nullopt;
    if (!ep) {
        throw std::invalid_argument("hep: '" + address +
                                    "' is not the capture server's IP:PORT ([IPv6]:PORT)");
    }
    return *ep;
}

hep_ip_protocol ip_protocol_of(sip_transport t) noexcept {
    switch (t) {
        case sip_transport::udp:
            return hep_ip_protocol::udp;
        case sip_transport::sctp:
            return hep_ip_protocol::sctp;
        case sip_transport::tcp:
        case sip_transport::tls:
        case sip_transport::ws:
        case sip_transport::wss:
            break;
    }
    return hep_ip_protocol::tcp;
}

}  // namespace

struct hep_exporter::impl {
    impl(su_root_t* r, const config::hep_config& s, const call_correlation* c,
         hep_exporter_limits l);
    ~impl();

    void submit(const hep_record& r);
    void send_udp(const hep_record& r);
    void enqueue(const hep_record& r);

    // The TCP link's life: connect, up, lost, connect again after backoff.
    void connect();
    void became_up();
    void fail(const std::string& why);
    bool watch();
    void unwatch() noexcept;
    void set_mask(int m);
    void events() noexcept;
    void step();
    bool drain_input();
    void flush();
    void completed();

    su_root_t* root;
    config::hep_config settings;
    const call_correlation* correlation;  ///< may be null; outlives this
    hep_exporter_limits limits;
    dataplane::ip_endpoint server;
    bool tcp;
    unique_fd fd;
    int index = -1;  ///< su_root registration of a TCP socket
    int mask = 0;    ///< SU_WAIT_IN / SU_WAIT_OUT registered
    enum class phase { waiting, connecting, up } now = phase::waiting;
    std::chrono::milliseconds backoff;
    dns::loop_timer timer;  ///< TCP: the connect deadline, or the backoff
    std::string scratch;    ///< UDP: the packet being sent

    // TCP queue: whole packets in `queue` from `head` on, their sizes in
    // `sizes`; `written` (>= head) is how far the socket has taken them.
    std::string queue;
    std::deque<std::uint32_t> sizes;
    std::size_t head = 0;
    std::size_t written = 0;

    std::uint64_t sent = 0;
    std::uint64_t dropped = 0;
    std::uint64_t errors = 0;
    std::uint64_t connects = 0;
    std::string last_error;
    bool udp_failing = false;  ///< logs the first of a run of failed sends only
};

namespace {

// The C trampoline: no logic, and nothing may escape into the C frames.
// su_root's argument stays void* (no typed SU_WAKEUP_ARG_T): other files of
// a unity build include su_wait.h first.
int on_hep_socket(su_root_magic_t*, su_wait_t*, su_wakeup_arg_t* arg) {
    static_cast<hep_exporter::impl*>(arg)->events();
    return 0;
}

}  // namespace

hep_exporter::impl::impl(su_root_t* r, const config::hep_config& s, const call_correlation* c,
                         hep_exporter_limits l)
    : root(r),
      settings(s),
      correlation(c),
      limits(l),
      server(parse_server(s.address)),
      tcp(s.transport == config::hep_config::hep_transport::tcp),
      backoff(l.backoff_min),
      timer(r) {
    if (tcp) {
        connect();
        return;
    }
    fd.reset(::socket(server.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw std::system_error(errno, std::generic_category(), "hep: cannot make a UDP socket");
    }
}

hep_exporter::impl::~impl() {
    timer.cancel();
    unwatch();
}

void hep_exporter::impl::submit(const hep_record& r) {
    if (tcp) {
        enqueue(r);
    } else {
        send_udp(r);
    }
}

void hep_exporter::impl::send_udp(const hep_record& r) {
    scratch.clear();
    if (!encode_hep(r, scratch)) {
        ++dropped;  // larger than HEP can frame
        return;
    }
    const ssize_t n = ::sendto(fd.get(), scratch.data(), scratch.size(), 0, server.sockaddr_ptr(),
                               server.sockaddr_len());
    if (n == static_cast<ssize_t>(scratch.size())) {
        ++sent;
        udp_failing = false;
        return;
    }
    const int e = n < 0 ? errno : EMSGSIZE;
    if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
        ++dropped;  // the socket's buffer is full: this packet is lost
        return;
    }
    ++errors;
    last_error = std::strerror(e);
    if (!udp_failing) {
        udp_failing = true;
        hep_log.warn("{}: cannot send: {}", settings.address, last_error);
    }
}

void hep_exporter::impl::enqueue(const hep_record& r) {
    const std::size_t size = hep_encoded_size(r);
    if (size == 0 || queue.size() - head + size > limits.queue_bytes) {
        ++dropped;  // too large for HEP, or the queue is full
        return;
    }
    encode_hep(r, queue);
    sizes.push_back(static_cast<std::uint32_t>(size));
    // The bytes leave on the loop's next turn, with whatever else was
    // captured by then: a burst goes out in few writes.
    if (now == phase::up) {
        set_mask(SU_WAIT_IN | SU_WAIT_OUT);
    }
}

void hep_exporter::impl::connect() {
    now = phase::connecting;
    fd.reset(::socket(server.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        fail(std::string("cannot make a socket: ") + std::strerror(errno));
        return;
    }
    if (::connect(fd.get(), server.sockaddr_ptr(), server.sockaddr_len()) != 0 &&
        errno != EINPROGRESS) {
        fail(std::strerror(errno));  // refused at once (a closed loopback port)
        return;
    }
    if (!watch()) {
        fail("cannot watch the connection's socket");
        return;
    }
    timer.arm(limits.connect_timeout, [this] {
        fail("no connection within " + std::to_string(limits.connect_timeout.count()) + " ms");
    });
}

void hep_exporter::impl::became_up() {
    now = phase::up;
    backoff = limits.backoff_min;
    ++connects;
    timer.cancel();
    hep_log.info("{}: connected (TCP)", settings.address);
    set_mask(written < queue.size() ? SU_WAIT_IN | SU_WAIT_OUT : SU_WAIT_IN);
}

// Closes the connection and connects again after the backoff. A packet the
// socket took part of is dropped: the next connection starts a new stream,
// which must begin with a packet's header.
void hep_exporter::impl::fail(const std::string& why) {
    unwatch();
    fd.reset();
    if (written > head && !sizes.empty()) {
        head += sizes.front();
        sizes.pop_front();
        ++dropped;
    }
    queue.erase(0, head);
    head = written = 0;
    ++errors;
    last_error = why;
    now = phase::waiting;
    hep_log.warn("{}: {}; connecting again in {} ms", settings.address, why, backoff.count());
    timer.arm(backoff, [this] { connect(); });
    backoff = std::min(backoff * 2, limits.backoff_max);
}

bool hep_exporter::impl::watch() {
    // A connecting socket is writable once connected; a refusal is HUP or
    // ERR, which epoll reports whatever the mask.
    su_wait_t wait{};
    if (su_wait_create(&wait, fd.get(), SU_WAIT_OUT) != 0) {
        return false;
    }
    index = su_root_register(root, &wait, on_hep_socket, this, 0);
    if (index < 0) {
        su_wait_destroy(&wait);
        return false;
    }
    mask = SU_WAIT_OUT;
    return true;
}

// Before the descriptor closes, so that epoll forgets it.
void hep_exporter::impl::unwatch() noexcept {
    if (index >= 0) {
        su_root_deregister(root, index);
    }
    index = -1;
    mask = 0;
}

// Only a change costs an epoll_ctl.
void hep_exporter::impl::set_mask(int m) {
    if (m == mask || index < 0) {
        return;
    }
    mask = m;
    su_root_eventmask(root, index, fd.get(), m);
}

void hep_exporter::impl::events() noexcept {
    try {
        step();
    } catch (const std::exception& e) {
        // Only a timer sofia cannot arm: the link stays down, and says so.
        ++errors;
        last_error = e.what();
        hep_log.error("{}: {}", settings.address, e.what());
    }
}

void hep_exporter::impl::step() {
    if (!fd) {
        return;
    }
    if (now == phase::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err == EINPROGRESS || err == EALREADY) {
            return;
        }
        if (err != 0) {
            fail(std::strerror(err));
            return;
        }
        sockaddr_storage peer{};
        socklen_t plen = sizeof peer;
        if (::getpeername(fd.get(), reinterpret_cast<sockaddr*>(&peer), &plen) != 0) {
            return;  // woken before the connect completed
        }
        became_up();
    }
    if (now == phase::up && drain_input()) {
        flush();
    }
}

// A HEP server sends nothing back; reading is how a close is seen. False
// when the connection went.
bool hep_exporter::impl::drain_input() {
    char buf[512];
    for (;;) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            continue;
        }
        if (n == 0) {
            fail("the capture server closed the connection");
            return false;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return true;
        }
        fail(std::strerror(errno));
        return false;
    }
}

// Writes what is queued, as far as the socket takes it; keeps write
// interest while some is left.
void hep_exporter::impl::flush() {
    while (written < queue.size()) {
        const ssize_t n =
            ::send(fd.get(), queue.data() + written, queue.size() - written, MSG_NOSIGNAL);
        if (n >= 0) {
            written += static_cast<std::size_t>(n);
            completed();
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            set_mask(SU_WAIT_IN | SU_WAIT_OUT);
            return;
        }
        fail(std::strerror(errno));
        return;
    }
    set_mask(SU_WAIT_IN);
}

// Counts the packets the socket has taken whole and lets go of their bytes.
void hep_exporter::impl::completed() {
    while (!sizes.empty() && head + sizes.front() <= written) {
        head += sizes.front();
        sizes.pop_front();
        ++sent;
    }
    if (head == queue.size()) {
        queue.clear();
        head = written = 0;
    } else if (head >= compact_after) {
        queue.erase(0, head);
        written -= head;
        head = 0;
    }
}

hep_exporter::hep_exporter(su_root_t* root, const config::hep_config& settings,
                           const call_correlation* correlation, hep_exporter_limits limits)
    : _impl(std::make_unique<impl>(root, settings, correlation, limits)) {}

hep_exporter::~hep_exporter() = default;

void hep_exporter::on_sip(const sip_packet& p) noexcept {
    auto& i = *_impl;
    try {
        const auto call_id = call_id_of(p);
        std::string correlated;
        if (i.correlation != nullptr && !call_id.empty()) {
            correlated = i.correlation->correlation_of(call_id);
        }
        hep_record r;
        r.type = hep_proto_type::sip;
        r.ip_protocol = ip_protocol_of(p.transport);
        const bool in = p.direction == sip_direction::in;
        r.src = in ? p.remote : p.local;
        r.dst = in ? p.local : p.remote;
        r.wall_us = p.wall_us;
        r.capture_id = i.settings.capture_id;
        r.password = i.settings.password;
        r.correlation_id = i.correlation != nullptr ? std::string_view(correlated) : call_id;
        r.payload = p.bytes;
        i.submit(r);
    } catch (const std::exception& e) {
        ++i.errors;  // out of memory, or a correlation store that threw
        i.last_error = e.what();
    }
}

void hep_exporter::send_report(std::string_view correlation_id, const dataplane::ip_endpoint& src,
                               const dataplane::ip_endpoint& dst, std::string_view json,
                               std::int64_t wall_us) noexcept {
    auto& i = *_impl;
    try {
        hep_record r;
        r.type = hep_proto_type::qos_report;
        r.ip_protocol = hep_ip_protocol::udp;  // the media's, which the report is about
        r.src = src;
        r.dst = dst;
        r.wall_us = wall_us;
        r.capture_id = i.settings.capture_id;
        r.password = i.settings.password;
        r.correlation_id = correlation_id;
        r.payload = json;
        i.submit(r);
    } catch (const std::exception& e) {
        ++i.errors;
        i.last_error = e.what();
    }
}

nlohmann::json hep_exporter::stats() const {
    const auto& i = *_impl;
    nlohmann::json j = {
        {"address", i.settings.address},
        {"transport", i.tcp ? "tcp" : "udp"},
        {"sent", i.sent},
        {"dropped", i.dropped},
        {"errors", i.errors},
        {"queue", i.sizes.size()},
        {"queue_bytes", i.queue.size() - i.head},
        {"connected", i.tcp ? i.now == impl::phase::up : true},
        {"connects", i.connects},
    };
    if (!i.last_error.empty()) {
        j["last_error"] = i.last_error;
    }
    return j;
}

}  // namespace sbc::capture
