// The link's life cycle and RESP over one redis_stream (plain or TLS) that
// the su_root watches: the one place in sbc that sees hiredis, which only
// formats the commands (redisFormatCommandArgv) into the output buffer and
// parses the replies (its reader). The commands sent are answered in order
// (RESP is a pipeline), so the callbacks owed are a FIFO beside the
// connection.
//
// A callback may issue commands, or make the link drop its connection (a
// refused AUTH): every loop over the connection's input checks the
// connection's generation after each callback, and stops when it changed.
#include "sbc/cluster/redis_link.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <exception>
#include <stdexcept>
#include <utility>

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include "sbc/cluster/redis_stream.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/common/log.hpp"
#include "sbc/dns/loop_timer.hpp"

namespace sbc::cluster {

namespace {

constexpr log::logger store_log{"store"};
using steady = std::chrono::steady_clock;

std::invalid_argument bad_address(const std::string& address, const char* why) {
    return std::invalid_argument("store address '" + address + "': " + why +
                                 "; expected IP:PORT, [IPv6]:PORT or unix:/path (a host name "
                                 "would block the event loop while it is looked up)");
}

// Only literals: a host name would need getaddrinfo, which blocks
// (research-22.md 2.1). Fills `host` and `port`, or `path`.
void parse_address(const std::string& address, std::string& host, int& port_number,
                   std::string& path) {
    if (address.rfind("unix:", 0) == 0) {
        path = address.substr(5);
        if (path.empty() || path.front() != '/') {
            throw bad_address(address, "the socket's path must be absolute");
        }
        return;
    }
    std::string_view port;
    unsigned char buf[sizeof(in6_addr)];
    if (!address.empty() && address.front() == '[') {
        const auto close = address.find("]:");
        if (close == std::string::npos) {
            throw bad_address(address, "no ']:' after the IPv6 address");
        }
        host = address.substr(1, close - 1);
        port = std::string_view(address).substr(close + 2);
        if (inet_pton(AF_INET6, host.c_str(), buf) != 1) {
            throw bad_address(address, "not an IPv6 address");
        }
    } else {
        const auto colon = address.rfind(':');
        if (colon == std::string::npos) {
            throw bad_address(address, "no port");
        }
        host = address.substr(0, colon);
        port = std::string_view(address).substr(colon + 1);
        if (inet_pton(AF_INET, host.c_str(), buf) != 1) {
            throw bad_address(address, "not an IPv4 address");
        }
    }
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (ec != std::errc() || end != port.data() + port.size() || port_number < 1 ||
        port_number > 65535) {
        throw bad_address(address, "the port must be 1..65535");
    }
}

reply copy_reply(const redisReply& r) {
    reply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = reply::kind::string;
            break;
        case REDIS_REPLY_STATUS:
            out.type = reply::kind::status;
            break;
        case REDIS_REPLY_ERROR:
            out.type = reply::kind::error;
            break;
        case REDIS_REPLY_INTEGER:
            out.type = reply::kind::integer;
            out.integer = r.integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = reply::kind::array;
            out.elements.reserve(r.elements);
            for (std::size_t i = 0; i < r.elements; ++i) {
                out.elements.push_back(copy_reply(*r.element[i]));
            }
            break;
        default:
            out.type = reply::kind::nil;
            break;
    }
    if (r.str != nullptr && (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS ||
                             r.type == REDIS_REPLY_ERROR)) {
        out.str.assign(r.str, static_cast<std::size_t>(r.len));
    }
    return out;
}

// Runs a callback of the link's owner; nothing may escape into sofia's C
// frames.
template <typename Fn, typename... Args>
void guarded(const char* what, const Fn& fn, Args&&... args) noexcept {
    if (!fn) {
        return;
    }
    try {
        fn(std::forward<Args>(args)...);
    } catch (const std::exception& e) {
        store_log.error("{} failed: {}", what, e.what());
    }
}

using reader_ptr = c_handle<redisReader, redisReaderFree>;
using reply_ptr = c_handle<redisReply, freeReplyObject>;

// Read from the socket per call: a 64 KiB value arrives in a few reads.
constexpr std::size_t read_chunk = 16 * 1024;
// Sent bytes are cut from the output buffer's front once this many pile
// up, not after every write.
constexpr std::size_t compact_after = 64 * 1024;

}  // namespace

struct redis_link::impl {
    impl(su_root_t* r, link_settings s);
    ~impl();

    enum class phase {
        idle,        ///< before start()
        waiting,     ///< for the backoff to pass
        connecting,  ///< connect, TLS handshake, AUTH / CLIENT SETNAME under way
        up,          ///< commands go out
    };

    // Life cycle.
    void connect();
    void connected();
    void became_up();
    void fail(std::string why);
    void on_deadline();

    // Commands.
    bool send(const std::vector<std::string>& argv, reply_fn done, bool internal);
    void replied(const redisReply& r);
    void maybe_ready();

    // The socket: su_root's wake-up, reading and writing.
    bool watch();
    void unwatch() noexcept;
    void set_mask(int mask);
    void events(int revents);
    bool read_all(std::uint64_t gen);
    bool flush();

    su_root_t* root;
    link_settings settings;
    // Where the server is: an IP literal and port, or a unix socket's path.
    std::string host;
    int port = 0;
    std::string path;
    std::unique_ptr<tls_client> tls;  ///< with settings.tls only
    redis_stream stream;
    reader_ptr reader;
    std::string out;                ///< formatted commands not yet written
    std::size_t out_sent = 0;       ///< of `out`, written already
    bool read_wants_write = false;  ///< TLS must write before it reads on
    int index = -1;                 ///< su_root registration of the stream's fd
    int mask = 0;                   ///< SU_WAIT_IN / SU_WAIT_OUT interest registered
    phase now = phase::idle;
    /// One more for every connection made or lost: a loop over a
    /// connection's input stops when a callback changed it.
    std::uint64_t generation = 0;
    bool came_up = false;  ///< this connection was up: its loss is on_down's
    std::chrono::milliseconds backoff;
    dns::loop_timer timer;  ///< the connect deadline, a command's, or the backoff

    struct pending {
        reply_fn done;
        steady::time_point sent;
        bool internal = false;  ///< AUTH, CLIENT SETNAME, PING: not counted
    };
    std::deque<pending> in_flight;
    std::size_t handshake_left = 0;
    bool want_ready = false;
    link_stats stats;

    std::function<void()> up_fn;
    std::function<void(const std::string&)> down_fn;
    std::function<void()> ready_fn;
};

namespace {

// The C trampoline: no logic, and nothing may escape into the C frames.
// su_root's argument stays void* (no typed SU_WAKEUP_ARG_T): other files of
// a unity build include su_wait.h first.
int on_wakeup(su_root_magic_t*, su_wait_t* w, su_wakeup_arg_t* arg) {
    auto* self = static_cast<redis_link::impl*>(arg);
    self->events(su_wait_events(w, self->stream.fd()));
    return 0;
}

}  // namespace

redis_link::impl::impl(su_root_t* r, link_settings s)
    : root(r), settings(std::move(s)), backoff(settings.backoff_min), timer(r) {
    parse_address(settings.address, host, port, path);
    settings.max_in_flight = std::max<std::size_t>(settings.max_in_flight, 1);
    if (settings.tls) {
        if (!path.empty()) {
            throw std::invalid_argument("store address '" + settings.address +
                                        "': Redis serves TLS on a TCP port only, not on a unix "
                                        "socket");
        }
        tls = std::make_unique<tls_client>(*settings.tls, host);
    }
}

redis_link::impl::~impl() {
    timer.cancel();
    unwatch();
    stream.close();
    // Every command owed gets nullptr now; no reconnect follows.
    now = phase::idle;
    stats.up = false;
    auto owed = std::move(in_flight);
    in_flight.clear();
    for (auto& p : owed) {
        if (!p.internal) {
            ++stats.unanswered;
        }
        guarded("a store command's callback", p.done, nullptr);
    }
}

void redis_link::impl::connect() {
    now = phase::connecting;
    ++generation;
    out.clear();
    out_sent = 0;
    reader.reset(redisReaderCreate());
    if (!reader) {
        fail("cannot allocate a reply reader");
        return;
    }
    if (!stream.open(host, port, path, tls.get())) {
        // Refused at once (a closed loopback port, a missing socket file).
        fail(stream.error());
        return;
    }
    if (!watch()) {
        fail("cannot watch the connection's socket");
        return;
    }
    // AUTH and CLIENT SETNAME are queued behind the connect: the link is
    // up once the last of them is answered.
    handshake_left = 0;
    const auto done = [this](const reply* r, const char* what, bool fatal) {
        if (r == nullptr) {
            return;  // the connection went; fail() said why
        }
        if (r->type == reply::kind::error) {
            if (fatal) {
                fail(std::string(what) + ": " + r->str);
                return;
            }
            store_log.warn("store {}: {}: {}", settings.address, what, r->str);
        }
        if (--handshake_left == 0 && now == phase::connecting) {
            became_up();
        }
    };
    if (!settings.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!settings.user.empty()) {
            auth.push_back(settings.user);  // Redis 6 ACL user
        }
        auth.push_back(settings.password);
        ++handshake_left;
        send(
            auth, [done](const reply* r) { done(r, "AUTH", true); }, true);
    }
    if (!settings.client_name.empty()) {
        // Not fatal: a name only helps who reads CLIENT LIST, and an ACL may
        // not allow it.
        ++handshake_left;
        send(
            {"CLIENT", "SETNAME", settings.client_name},
            [done](const reply* r) { done(r, "CLIENT SETNAME", false); }, true);
    }
    if (handshake_left == 0 && tls) {
        // A server that refuses our certificate says so after the handshake
        // (TLS 1.3 sends its alert then): up only once it has answered.
        ++handshake_left;
        send(
            {"PING"}, [done](const reply* r) { done(r, "PING", true); }, true);
    }
    timer.arm(settings.timeout, [this] { on_deadline(); });
}

// The connect (and TLS handshake) completed: the queued commands can go.
void redis_link::impl::connected() {
    if (handshake_left == 0 && now == phase::connecting) {
        became_up();
    }
}

void redis_link::impl::became_up() {
    now = phase::up;
    came_up = true;
    backoff = settings.backoff_min;
    ++stats.connects;
    stats.up = true;
    timer.cancel();
    store_log.info("store {}: connected{}", settings.address, tls ? " (TLS)" : "");
    guarded("the store's on_up", up_fn);
    maybe_ready();
}

// Closes the connection (lost, refused, timed out, AUTH refused): every
// command owed gets nullptr, and the link connects again after the backoff.
void redis_link::impl::fail(std::string why) {
    const bool was_up = came_up;
    came_up = false;
    ++generation;
    unwatch();
    stream.close();
    out.clear();
    out_sent = 0;
    now = phase::waiting;
    stats.up = false;
    ++stats.failures;
    stats.last_error = why;
    auto owed = std::move(in_flight);
    in_flight.clear();
    stats.in_flight = 0;
    store_log.warn("store {}: {}; connecting again in {} ms", settings.address, why,
                   backoff.count());
    timer.arm(backoff, [this] { connect(); });
    backoff = std::min(backoff * 2, settings.backoff_max);
    for (auto& p : owed) {
        if (!p.internal) {
            ++stats.unanswered;
        }
        guarded("a store command's callback", p.done, nullptr);
    }
    if (was_up) {
        guarded("the store's on_down", down_fn, why);
    }
}

void redis_link::impl::on_deadline() {
    if (now == phase::connecting) {
        fail((stream.established()
                  ? "no answer to AUTH or CLIENT SETNAME within "
                  : (tls ? "no connection (TLS handshake) within " : "no connection within ")) +
             std::to_string(settings.timeout.count()) + " ms");
        return;
    }
    if (now != phase::up || in_flight.empty()) {
        return;
    }
    // The oldest command decides: RESP answers in order, so when it is late
    // every later one is too.
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() -
                                                                           in_flight.front().sent);
    if (age >= settings.timeout) {
        fail("no answer within " + std::to_string(settings.timeout.count()) + " ms");
        return;
    }
    timer.arm(settings.timeout - age, [this] { on_deadline(); });
}

bool redis_link::impl::send(const std::vector<std::string>& argv, reply_fn done, bool internal) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    char* cmd = nullptr;
    const long long len =
        redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    if (len < 0 || cmd == nullptr) {
        return false;
    }
    out.append(cmd, static_cast<std::size_t>(len));
    redisFreeCommand(cmd);
    in_flight.push_back({std::move(done), steady::now(), internal});
    stats.in_flight = in_flight.size();
    // The bytes leave on a later turn of the loop, with whatever else was
    // sent by then: a burst of commands goes out in few writes.
    if (stream.established()) {
        set_mask(SU_WAIT_IN | SU_WAIT_OUT);
    }
    return true;
}

void redis_link::impl::replied(const redisReply& r) {
    if (in_flight.empty()) {
        return;  // a reply to nothing sent: the server is not Redis
    }
    auto p = std::move(in_flight.front());
    in_flight.pop_front();
    stats.in_flight = in_flight.size();
    const auto copy = copy_reply(r);
    if (!p.internal) {
        ++stats.commands;
        if (copy.type == reply::kind::error) {
            ++stats.errors;
        }
    }
    guarded("a store command's callback", p.done, &copy);
    maybe_ready();
}

void redis_link::impl::maybe_ready() {
    if (want_ready && now == phase::up && in_flight.size() < settings.max_in_flight) {
        want_ready = false;
        guarded("the store's on_ready", ready_fn);
    }
}

bool redis_link::impl::watch() {
    // A connecting socket is writable once connected; a refusal is HUP or
    // ERR, which epoll reports whatever the mask.
    su_wait_t wait{};
    if (su_wait_create(&wait, stream.fd(), SU_WAIT_OUT) != 0) {
        return false;
    }
    index = su_root_register(root, &wait, on_wakeup, this, 0);
    if (index < 0) {
        su_wait_destroy(&wait);
        return false;
    }
    mask = SU_WAIT_OUT;
    return true;
}

// Before the descriptor closes, so that epoll forgets it.
void redis_link::impl::unwatch() noexcept {
    if (index >= 0) {
        su_root_deregister(root, index);
    }
    index = -1;
    mask = 0;
}

// Only a change costs an epoll_ctl.
void redis_link::impl::set_mask(int m) {
    if (m == mask || index < 0) {
        return;
    }
    mask = m;
    su_root_eventmask(root, index, stream.fd(), m);
}

void redis_link::impl::events(int) {
    if (!stream.is_open()) {
        return;
    }
    const auto gen = generation;
    if (!stream.established()) {
        switch (stream.progress(settings.address)) {
            case redis_stream::status::done:
                break;
            case redis_stream::status::want_read:
                set_mask(SU_WAIT_IN);
                return;
            case redis_stream::status::want_write:
                set_mask(SU_WAIT_OUT);
                return;
            case redis_stream::status::closed:
            case redis_stream::status::failed:
                fail(stream.error());
                return;
        }
        connected();
        if (gen != generation) {
            return;
        }
    }
    // Whatever woke us (readable, writable, HUP, ERR): read what is there,
    // then write what is owed. A read that finds nothing costs one syscall.
    if (read_all(gen) && gen == generation) {
        flush();
    }
}

// Reads until the socket has no more (a TLS record's rest, buffered inside
// OpenSSL, is read in the same loop: SSL_read serves it before it asks the
// socket again), answering each reply as it is parsed. False when the
// connection went.
bool redis_link::impl::read_all(std::uint64_t gen) {
    read_wants_write = false;
    char buf[read_chunk];
    for (;;) {
        std::size_t got = 0;
        switch (stream.read(buf, sizeof buf, got)) {
            case redis_stream::status::done:
                break;
            case redis_stream::status::want_read:
                return true;
            case redis_stream::status::want_write:
                // A TLS read that needs a write (a renegotiation): the write
                // interest brings us back, whatever flush() wants.
                read_wants_write = true;
                set_mask(SU_WAIT_IN | SU_WAIT_OUT);
                return true;
            case redis_stream::status::closed:
            case redis_stream::status::failed:
                fail(stream.error());
                return false;
        }
        if (redisReaderFeed(reader.get(), buf, got) != REDIS_OK) {
            fail(std::string("cannot parse the server's reply: ") + reader->errstr);
            return false;
        }
        for (;;) {
            void* r = nullptr;
            if (redisReaderGetReply(reader.get(), &r) != REDIS_OK) {
                fail(std::string("cannot parse the server's reply: ") + reader->errstr);
                return false;
            }
            if (r == nullptr) {
                break;
            }
            const reply_ptr owned(static_cast<redisReply*>(r));
            replied(*owned);
            if (gen != generation) {
                return false;  // a callback dropped the connection
            }
        }
    }
}

// Writes what is owed, as far as the socket takes it; keeps write interest
// while some is left. False when the connection went.
bool redis_link::impl::flush() {
    while (out_sent < out.size()) {
        std::size_t put = 0;
        switch (stream.write(out.data() + out_sent, out.size() - out_sent, put)) {
            case redis_stream::status::done:
                out_sent += put;
                continue;
            case redis_stream::status::want_write:
                if (out_sent >= compact_after) {
                    // TLS takes the rest again from its new place
                    // (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER): same bytes.
                    out.erase(0, out_sent);
                    out_sent = 0;
                }
                set_mask(SU_WAIT_IN | SU_WAIT_OUT);
                return true;
            case redis_stream::status::want_read:
                // TLS must read first: the read interest brings us back.
                set_mask(SU_WAIT_IN);
                return true;
            case redis_stream::status::closed:
            case redis_stream::status::failed:
                fail(stream.error());
                return false;
        }
    }
    out.clear();
    out_sent = 0;
    set_mask(read_wants_write ? SU_WAIT_IN | SU_WAIT_OUT : SU_WAIT_IN);
    return true;
}

redis_link::redis_link(su_root_t* root, link_settings settings)
    : _impl(std::make_unique<impl>(root, std::move(settings))) {}

redis_link::~redis_link() = default;

void redis_link::start() {
    if (_impl->now == impl::phase::idle) {
        _impl->connect();
    }
}

bool redis_link::command(std::vector<std::string> argv, reply_fn done) {
    auto& i = *_impl;
    if (i.now != impl::phase::up) {
        return false;
    }
    if (i.in_flight.size() >= i.settings.max_in_flight) {
        i.want_ready = true;
        return false;
    }
    if (!i.send(argv, std::move(done), false)) {
        return false;
    }
    if (!i.timer.armed()) {
        i.timer.arm(i.settings.timeout, [&i] { i.on_deadline(); });
    }
    return true;
}

bool redis_link::up() const noexcept { return _impl->now == impl::phase::up; }

bool redis_link::ready() const noexcept {
    return up() && _impl->in_flight.size() < _impl->settings.max_in_flight;
}

link_stats redis_link::stats() const { return _impl->stats; }

void redis_link::on_up(std::function<void()> f) { _impl->up_fn = std::move(f); }

void redis_link::on_down(std::function<void(const std::string& why)> f) {
    _impl->down_fn = std::move(f);
}

void redis_link::on_ready(std::function<void()> f) { _impl->ready_fn = std::move(f); }

}  // namespace sbc::cluster
