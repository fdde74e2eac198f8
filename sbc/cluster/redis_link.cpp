// hiredis 0.14.1's asynchronous context driven by the su_root: the one place
// in sbc that sees hiredis. Its event hooks (addRead .. cleanup) set the
// interest of one su_root registration; its context is made and freed here
// only, and learnt gone through `cleanup`, which hiredis calls exactly once
// whatever freed it (our redisAsyncFree, a lost connection, a failed
// connect). The commands sent are answered in order (RESP is a pipeline), so
// the callbacks owed are a FIFO beside the context.
#include "sbc/cluster/redis_link.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <exception>
#include <stdexcept>
#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

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

// Only literals: hiredis resolves a host name with getaddrinfo, which
// blocks (research-22.md 2.1). Fills `host` and `port`, or `path`.
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

// Runs a callback of the link's owner; nothing may escape into hiredis's or
// sofia's C frames.
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

}  // namespace

struct redis_link::impl {
    impl(su_root_t* r, link_settings s);
    ~impl();

    enum class phase {
        idle,        ///< before start()
        waiting,     ///< for the backoff to pass
        connecting,  ///< TCP connect and AUTH / CLIENT SETNAME under way
        up,          ///< commands go out
        closing,     ///< the context is being freed
    };

    // Life cycle.
    void connect();
    void handshake();
    void became_up();
    void drop(std::string why);
    void settle();
    void on_deadline();

    // Commands.
    bool send(const std::vector<std::string>& argv, reply_fn done, bool internal);
    void replied(redisReply* r);
    void maybe_ready();

    // hiredis's event hooks and su_root's wake-up.
    bool attach(redisAsyncContext* c);
    void set_mask(int mask);
    void released();
    void events(int revents);

    su_root_t* root;
    link_settings settings;
    // Where the server is: an IP literal and port, or a unix socket's path.
    std::string host;
    int port = 0;
    std::string path;
    redisAsyncContext* ac = nullptr;  ///< owned; freed with redisAsyncFree only
    int fd = -1;
    int index = -1;  ///< su_root registration of `fd`
    int mask = 0;    ///< SU_WAIT_IN / SU_WAIT_OUT interest registered
    phase now = phase::idle;
    /// Set by `cleanup`: the context is gone, handled once hiredis returns.
    bool gone = false;
    std::string gone_why;
    bool came_up = false;  ///< this connection was up: its loss is on_down's
    std::string drop_why;  ///< why we freed the context ourselves
    std::chrono::milliseconds backoff;
    dns::loop_timer timer;  ///< the connect deadline, a command's, or the backoff

    struct pending {
        reply_fn done;
        steady::time_point sent;
        bool internal = false;  ///< AUTH, CLIENT SETNAME: not counted
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

// C trampolines: no logic, and nothing may escape into the C frames.
// su_root's argument stays void* (no typed SU_WAKEUP_ARG_T): other files of
// a unity build include su_wait.h first.
int on_wakeup(su_root_magic_t*, su_wait_t* w, su_wakeup_arg_t* arg) {
    auto* self = static_cast<redis_link::impl*>(arg);
    self->events(su_wait_events(w, self->fd));
    return 0;
}

void on_reply(redisAsyncContext*, void* r, void* priv) {
    static_cast<redis_link::impl*>(priv)->replied(static_cast<redisReply*>(r));
}

void on_connect(const redisAsyncContext* c, int status) {
    // A failed connect is learnt from `cleanup`, which follows at once.
    if (status == REDIS_OK) {
        static_cast<redis_link::impl*>(c->data)->handshake();
    }
}

void add_read(void* p) {
    auto* self = static_cast<redis_link::impl*>(p);
    self->set_mask(self->mask | SU_WAIT_IN);
}
void del_read(void* p) {
    auto* self = static_cast<redis_link::impl*>(p);
    self->set_mask(self->mask & ~SU_WAIT_IN);
}
void add_write(void* p) {
    auto* self = static_cast<redis_link::impl*>(p);
    self->set_mask(self->mask | SU_WAIT_OUT);
}
void del_write(void* p) {
    auto* self = static_cast<redis_link::impl*>(p);
    self->set_mask(self->mask & ~SU_WAIT_OUT);
}
void cleanup(void* p) { static_cast<redis_link::impl*>(p)->released(); }

}  // namespace

redis_link::impl::impl(su_root_t* r, link_settings s)
    : root(r), settings(std::move(s)), backoff(settings.backoff_min), timer(r) {
    parse_address(settings.address, host, port, path);
    settings.max_in_flight = std::max<std::size_t>(settings.max_in_flight, 1);
}

redis_link::impl::~impl() {
    timer.cancel();
    if (ac != nullptr) {
        // Every command owed gets nullptr now; no reconnect follows.
        now = phase::closing;
        drop_why = "the link was closed";
        redisAsyncFree(ac);
    }
}

void redis_link::impl::connect() {
    now = phase::connecting;
    gone = false;
    drop_why.clear();
    redisAsyncContext* c =
        path.empty() ? redisAsyncConnect(host.c_str(), port) : redisAsyncConnectUnix(path.c_str());
    if (c == nullptr) {
        gone = true;
        gone_why = "cannot allocate a connection";
        settle();
        return;
    }
    if (c->err != 0) {
        // Refused at once (a closed loopback port, a missing socket file):
        // nothing is attached yet, so nothing else learns of it.
        gone = true;
        gone_why = c->errstr;
        redisAsyncFree(c);
        settle();
        return;
    }
    if (!attach(c)) {
        gone = true;
        gone_why = "cannot watch the connection's socket";
        redisAsyncFree(c);
        settle();
        return;
    }
    // Attached first: setting the connect callback arms write interest
    // through the hooks (research-22.md 2.1).
    redisAsyncSetConnectCallback(c, on_connect);
    if (path.empty()) {
        redisEnableKeepAlive(&c->c);
    }
    // AUTH and CLIENT SETNAME are pipelined behind the connect: the link is
    // up once the last of them is answered.
    handshake_left = 0;
    const auto done = [this](const reply* r, const char* what, bool fatal) {
        if (r == nullptr) {
            return;  // the connection went; `cleanup` tells why
        }
        if (r->type == reply::kind::error) {
            if (fatal) {
                drop(std::string(what) + ": " + r->str);
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
    timer.arm(settings.timeout, [this] { on_deadline(); });
}

void redis_link::impl::handshake() {
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
    store_log.info("store {}: connected", settings.address);
    guarded("the store's on_up", up_fn);
    maybe_ready();
}

// Frees the context ourselves (a deadline passed, AUTH refused). Inside a
// hiredis callback the free waits until the callback returns; settle()
// then runs when hiredis has returned to us.
void redis_link::impl::drop(std::string why) {
    if (ac == nullptr || now == phase::closing) {
        return;
    }
    now = phase::closing;
    stats.up = false;
    drop_why = std::move(why);
    redisAsyncFree(ac);
    settle();
}

// After every return from hiredis: if the context went, the link is down,
// and it connects again after the backoff.
void redis_link::impl::settle() {
    if (!gone || ac != nullptr) {
        return;
    }
    gone = false;
    const bool was_up = came_up;
    came_up = false;
    now = phase::waiting;
    stats.up = false;
    ++stats.failures;
    stats.last_error = gone_why;
    // hiredis answered every command owed with nullptr before `cleanup`;
    // anything left was never handed to it.
    auto owed = std::move(in_flight);
    in_flight.clear();
    for (auto& p : owed) {
        if (!p.internal) {
            ++stats.unanswered;
        }
        guarded("a store command's callback", p.done, nullptr);
    }
    stats.in_flight = 0;
    store_log.warn("store {}: {}; connecting again in {} ms", settings.address, gone_why,
                   backoff.count());
    timer.arm(backoff, [this] { connect(); });
    backoff = std::min(backoff * 2, settings.backoff_max);
    if (was_up) {
        guarded("the store's on_down", down_fn, gone_why);
    }
}

void redis_link::impl::on_deadline() {
    if (now == phase::connecting) {
        const bool connected = ac != nullptr && (ac->c.flags & REDIS_CONNECTED) != 0;
        drop((connected ? "no answer to AUTH or CLIENT SETNAME within " : "no connection within ") +
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
        drop("no answer within " + std::to_string(settings.timeout.count()) + " ms");
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
    // Appends to hiredis's output buffer and arms write interest; the bytes
    // leave on a later turn of the loop.
    if (redisAsyncCommandArgv(ac, on_reply, this, static_cast<int>(argv.size()), ptrs.data(),
                              lens.data()) != REDIS_OK) {
        return false;
    }
    in_flight.push_back({std::move(done), steady::now(), internal});
    stats.in_flight = in_flight.size();
    return true;
}

void redis_link::impl::replied(redisReply* r) {
    if (in_flight.empty()) {
        return;  // cannot happen: hiredis calls back once per command sent
    }
    auto p = std::move(in_flight.front());
    in_flight.pop_front();
    stats.in_flight = in_flight.size();
    if (r == nullptr) {
        // The context is being freed: no command may go out on it now.
        if (now == phase::up) {
            now = phase::closing;
            stats.up = false;
        }
        if (!p.internal) {
            ++stats.unanswered;
        }
        guarded("a store command's callback", p.done, nullptr);
        return;
    }
    const auto copy = copy_reply(*r);
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

bool redis_link::impl::attach(redisAsyncContext* c) {
    // su_wait_create refuses an empty mask: read interest from the start,
    // which a connecting socket never meets (a refusal is HUP or ERR).
    su_wait_t wait{};
    if (su_wait_create(&wait, c->c.fd, SU_WAIT_IN) != 0) {
        return false;
    }
    index = su_root_register(root, &wait, on_wakeup, this, 0);
    if (index < 0) {
        su_wait_destroy(&wait);
        return false;
    }
    fd = c->c.fd;
    mask = SU_WAIT_IN;
    ac = c;
    c->data = this;
    c->ev.data = this;
    c->ev.addRead = add_read;
    c->ev.delRead = del_read;
    c->ev.addWrite = add_write;
    c->ev.delWrite = del_write;
    c->ev.cleanup = cleanup;
    return true;
}

// hiredis calls the hooks after every read and every command: only a change
// costs an epoll_ctl.
void redis_link::impl::set_mask(int m) {
    if (m == mask || index < 0) {
        return;
    }
    mask = m;
    su_root_eventmask(root, index, fd, m);
}

// `cleanup`: the context is being freed (the fd is still open, so epoll can
// forget it). Why is read now, while the context still holds it.
void redis_link::impl::released() {
    if (index >= 0) {
        su_root_deregister(root, index);
    }
    index = -1;
    fd = -1;
    mask = 0;
    if (!drop_why.empty()) {
        gone_why = drop_why;
    } else if (ac != nullptr && ac->err != 0 && ac->errstr != nullptr) {
        gone_why = ac->errstr;
    } else {
        gone_why = "the server closed the connection";
    }
    drop_why.clear();
    ac = nullptr;
    gone = true;
}

void redis_link::impl::events(int revents) {
    if (ac == nullptr) {
        return;
    }
    // epoll reports HUP and ERR whatever the mask: hiredis reads them as
    // the end of the connection, which they are.
    if ((revents & (SU_WAIT_IN | SU_WAIT_HUP | SU_WAIT_ERR)) != 0) {
        redisAsyncHandleRead(ac);
    }
    // `ac` may be gone now: `cleanup` cleared it.
    if (ac != nullptr && (revents & SU_WAIT_OUT) != 0) {
        redisAsyncHandleWrite(ac);
    }
    settle();
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
    if (i.now != impl::phase::up || i.ac == nullptr) {
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
