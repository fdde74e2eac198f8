// The control API's unix-socket server; see control_server.hpp.
//
// Every socket is non-blocking and registered with the su_root, so the server
// runs inside sbcd's single control-plane loop and never stalls SIP. A client
// goes through two phases: reading (until '\n', EOF or the size cap) and
// replying (the reply is written as the socket accepts it; when the whole
// reply is out the connection is closed). Replies are written with a
// non-blocking loop that waits for writability through the su_root rather than
// by blocking with SO_SNDTIMEO, because a list of many calls can exceed the
// socket buffer and the loop must not wait on a slow reader. One idle timer
// sweeps clients that made no progress for options.idle_timeout.
#include "sbc/api/control_server.hpp"

#include "sbc/api/json_codec.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/common/log.hpp"
#include "sbc/common/unique_fd.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

// Typed callback arguments (STYLE.md, drachtio): sofia hands our impl back
// to the trampolines below instead of a void*.
#define SU_WAKEUP_ARG_T sbc::api::control_server::impl
#define SU_TIMER_ARG_T sbc::api::control_server::impl
#include <sofia-sip/su_wait.h>

namespace sbc::api {
namespace {

constexpr sbc::log::logger api_log{"api"};

/// Longest command name echoed back in an error, so a client cannot make the
/// reply large.
constexpr std::size_t max_echoed_command = 64;

using steady = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

[[noreturn]] void throw_system(const std::string& what, int err) {
    throw std::runtime_error(fmt::format("control socket: {}: {}", what, errno_text(err)));
}

nlohmann::json answer(std::string_view request, control_handler& handler) {
    auto parsed = parse_line(request);
    if (!parsed) {
        return make_error_reply(parsed.error_message());
    }
    const nlohmann::json& j = *parsed;
    if (!j.is_object()) {
        return make_error_reply("request must be a JSON object");
    }
    auto cmd = j.find("cmd");
    if (cmd == j.end()) {
        return make_error_reply("request has no \"cmd\"");
    }
    if (!cmd->is_string()) {
        return make_error_reply("\"cmd\" must be a string");
    }
    const auto& name = cmd->get_ref<const std::string&>();
    if (name == "status") {
        return handler.status();
    }
    if (name == "calls") {
        return encode_calls(handler.calls());
    }
    if (name == "trunks") {
        return handler.trunks();
    }
    if (name == "stats") {
        return handler.stats();
    }
    if (name == "reload") {
        return handler.reload();
    }
    if (name == "route_test") {
        return handler.route_test(j);
    }
    if (name == "call_state") {
        return handler.call_document(j);
    }
    if (name == "cluster") {
        return handler.cluster(j);
    }
    if (name == "drain") {
        return handler.drain(j);
    }
    if (name == "trace") {
        return handler.trace(j);
    }
    if (name == "sip_capture") {
        return handler.sip_capture(j);
    }
    return make_error_reply(
        fmt::format("unknown command '{}'", name.substr(0, max_echoed_command)));
}

/// Creates every missing directory above `path`, each with mode 0755 so that
/// sbcctl run by other users can reach the socket (its own mode decides).
void make_parent_directories(const std::string& path) {
    for (auto pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
        std::string dir = path.substr(0, pos);
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            throw_system(fmt::format("cannot create directory {}", dir), errno);
        }
    }
}

sockaddr_un make_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        throw std::runtime_error(fmt::format("control socket: path '{}' must be 1 to {} bytes long",
                                             path, sizeof(addr.sun_path) - 1));
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

/// Removes a socket file left behind by a process that died; refuses to touch
/// anything that is not a socket or a socket someone still listens on.
void remove_stale_socket(const std::string& path, const sockaddr_un& addr) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return;
        }
        throw_system(fmt::format("cannot inspect {}", path), errno);
    }
    if (!S_ISSOCK(st.st_mode)) {
        throw std::runtime_error(fmt::format(
            "control socket: {} exists and is not a socket; refusing to replace it", path));
    }
    unique_fd probe{::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (!probe) {
        throw_system("socket()", errno);
    }
    // A unix-socket connect completes at once when someone listens; EAGAIN
    // means a listener whose backlog is full, which is alive too.
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 ||
        errno == EAGAIN || errno == EINPROGRESS) {
        throw std::runtime_error(fmt::format(
            "control socket: another process is serving on {} (is another sbcd running?)", path));
    }
    if (errno != ECONNREFUSED) {
        return;  // gone meanwhile (ENOENT) or not ours to judge: bind() will tell
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw_system(fmt::format("cannot remove stale socket {}", path), errno);
    }
    api_log.info("removed stale control socket {}", path);
}

bool under_tmp(const std::string& path) { return path.rfind("/tmp/", 0) == 0; }

}  // namespace

/// The socket file this process created: unlinked when its owner goes away,
/// unless someone has replaced it since (then it is theirs). Outside the
/// anonymous namespace: impl holds one, and impl is not internal.
class socket_file {
public:
    socket_file() = default;
    socket_file(const socket_file&) = delete;
    socket_file& operator=(const socket_file&) = delete;
    ~socket_file() {
        struct stat st {};
        if (!_path.empty() && ::lstat(_path.c_str(), &st) == 0 && st.st_dev == _dev &&
            st.st_ino == _ino) {
            ::unlink(_path.c_str());
        }
    }

    void adopt(const std::string& path) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            throw_system(fmt::format("cannot inspect {}", path), errno);
        }
        _path = path;
        _dev = st.st_dev;
        _ino = st.st_ino;
    }

private:
    std::string _path;
    dev_t _dev = 0;
    ino_t _ino = 0;
};

std::string dispatch(std::string_view request, control_handler& handler) {
    try {
        return to_line(answer(request, handler));
    } catch (const std::exception& e) {
        // The handler is sbcd's own code, but a bug in it must not take the
        // control loop down with it.
        return to_line(make_error_reply(fmt::format("internal error: {}", e.what())));
    }
}

/// One client connection. Owned by impl::connections, keyed by its fd.
struct connection {
    unique_fd fd;
    int index = -1;        ///< su_root registration
    std::string request;   ///< bytes read so far
    std::string reply;     ///< set once the request is answered
    std::size_t sent = 0;  ///< bytes of `reply` written
    steady::time_point last_progress;
};

struct control_server::impl {
    impl(su_root_t* root, std::string path, control_handler& handler,
         control_server_options options);
    ~impl();

    void open_listener();
    void accept_clients();
    void add_client(unique_fd fd);
    void on_client_event(int fd);
    void read_request(connection& c);
    void start_reply(connection& c, std::string reply);
    void write_reply(connection& c);
    void drop(int fd);
    void sweep_idle();
    void arm_timer();
    void pause_accepting(int err);

    su_root_t* root;
    std::string path;
    control_handler& handler;
    control_server_options options;
    sbc::log::rate_limit warn_limit;

    socket_file file;  // declared before `listener`: unlinked after it is closed
    unique_fd listener;
    int listen_index = -1;
    bool accept_paused = false;
    c_handle<su_timer_t, su_timer_destroy> idle_timer;
    bool timer_armed = false;
    std::unordered_map<int, std::unique_ptr<connection>> connections;
};

namespace {

// C trampolines: no logic, and nothing may escape into sofia's C frames.
int on_listener_ready(su_root_magic_t*, su_wait_t*, control_server::impl* self) {
    try {
        self->accept_clients();
    } catch (const std::exception& e) {
        api_log.error("control socket: accept: {}", e.what());
    }
    return 0;
}

int on_client_ready(su_root_magic_t*, su_wait_t* w, control_server::impl* self) {
    int fd = w->fd;  // read first: dropping the client wipes *w
    try {
        self->on_client_event(fd);
    } catch (const std::exception& e) {
        api_log.error("control socket: client: {}", e.what());
        self->drop(fd);
    }
    return 0;
}

void on_idle_timer(su_root_magic_t*, su_timer_t*, control_server::impl* self) {
    try {
        self->sweep_idle();
    } catch (const std::exception& e) {
        api_log.error("control socket: idle sweep: {}", e.what());
    }
}

}  // namespace

control_server::impl::impl(su_root_t* r, std::string p, control_handler& h,
                           control_server_options o)
    : root(r), path(std::move(p)), handler(h), options(o) {
    open_listener();

    // Sweep at half the idle timeout (10 ms .. 1 s): a client is dropped
    // between idle_timeout and 1.5 x idle_timeout after its last progress.
    auto tick =
        std::clamp<std::chrono::milliseconds::rep>(options.idle_timeout.count() / 2, 10, 1000);
    idle_timer.reset(su_timer_create(su_root_task(root), static_cast<su_duration_t>(tick)));
    if (!idle_timer) {
        throw std::runtime_error("control socket: cannot create the idle timer");
    }

    su_wait_t wait{};
    if (su_wait_create(&wait, listener.get(), SU_WAIT_IN) != 0) {
        throw_system("su_wait_create", errno);
    }
    listen_index = su_root_register(root, &wait, on_listener_ready, this, 0);
    if (listen_index < 0) {
        throw_system("su_root_register", errno);
    }
    api_log.info("control API listening on {}", path);
}

control_server::impl::~impl() {
    for (auto& [fd, c] : connections) {
        su_root_deregister(root, c->index);
    }
    connections.clear();
    if (listen_index >= 0) {
        su_root_deregister(root, listen_index);
    }
    // idle_timer, listener and file are released by their own destructors.
}

void control_server::impl::open_listener() {
    sockaddr_un addr = make_address(path);
    make_parent_directories(path);
    remove_stale_socket(path, addr);

    listener.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listener) {
        throw_system("socket()", errno);
    }
    if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        throw_system(fmt::format("cannot bind {}", path), errno);
    }
    file.adopt(path);
    // 0666 under /tmp so that the demo's unprivileged sbcctl can talk to a
    // root sbcd; 0660 elsewhere so that only sbcd's user and group can.
    mode_t mode = under_tmp(path) ? 0666 : 0660;
    if (::chmod(path.c_str(), mode) != 0) {
        throw_system(fmt::format("cannot chmod {}", path), errno);
    }
    if (::listen(listener.get(), 16) != 0) {
        throw_system(fmt::format("cannot listen on {}", path), errno);
    }
}

void control_server::impl::accept_clients() {
    // Bounded so that a flood of connections cannot starve SIP in one wakeup.
    for (int i = 0; i < 16; ++i) {
        unique_fd fd{::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
        if (!fd) {
            int err = errno;
            if (err == EINTR || err == ECONNABORTED) {
                continue;
            }
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                pause_accepting(err);
            } else if (err != EAGAIN && err != EWOULDBLOCK && warn_limit.allow()) {
                api_log.warn("control socket: accept: {}", errno_text(err));
            }
            return;
        }
        if (connections.size() >= options.max_connections) {
            if (warn_limit.allow()) {
                api_log.warn("control socket: {} clients already connected; refusing one",
                             connections.size());
            }
            continue;  // `fd` closes here
        }
        add_client(std::move(fd));
    }
}

/// Out of descriptors: the listener would stay readable and spin the loop, so
/// stop watching it until the idle sweep (which also frees descriptors).
void control_server::impl::pause_accepting(int err) {
    if (warn_limit.allow()) {
        api_log.warn("control socket: accept: {}; pausing", errno_text(err));
    }
    su_root_eventmask(root, listen_index, listener.get(), 0);
    accept_paused = true;
    arm_timer();
}

void control_server::impl::add_client(unique_fd fd) {
    su_wait_t wait{};
    if (su_wait_create(&wait, fd.get(), SU_WAIT_IN) != 0) {
        return;
    }
    int index = su_root_register(root, &wait, on_client_ready, this, 0);
    if (index < 0) {
        return;
    }
    auto c = std::make_unique<connection>();
    c->index = index;
    c->last_progress = steady::now();
    int key = fd.get();
    c->fd = std::move(fd);
    connections.emplace(key, std::move(c));
    arm_timer();
}

void control_server::impl::on_client_event(int fd) {
    auto it = connections.find(fd);
    if (it == connections.end()) {
        return;
    }
    connection& c = *it->second;
    if (c.reply.empty()) {
        read_request(c);
    } else {
        write_reply(c);
    }
}

void control_server::impl::read_request(connection& c) {
    std::array<char, 4096> buf;
    for (;;) {
        ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n < 0 || (n == 0 && c.request.empty())) {
            drop(c.fd.get());  // reset, or connected and left without a word
            return;
        }
        c.last_progress = steady::now();
        std::size_t scan_from = c.request.size();
        c.request.append(buf.data(), static_cast<std::size_t>(n));
        auto nl = c.request.find('\n', scan_from);
        if (nl == std::string::npos && c.request.size() > options.max_request_bytes) {
            start_reply(c, to_line(make_error_reply(fmt::format("request longer than {} bytes",
                                                                options.max_request_bytes))));
            return;
        }
        if (nl != std::string::npos || n == 0) {
            // A request ended by EOF (the client shut its side) counts too.
            std::string_view line{c.request.data(),
                                  nl == std::string::npos ? c.request.size() : nl};
            if (!line.empty() && line.back() == '\r') {
                line.remove_suffix(1);
            }
            start_reply(c, dispatch(line, handler));
            return;
        }
    }
}

void control_server::impl::start_reply(connection& c, std::string reply) {
    c.request.clear();
    c.request.shrink_to_fit();
    c.reply = std::move(reply);
    c.reply += '\n';
    c.sent = 0;
    // From now on wake up for writability only; what else the client sends
    // is ignored.
    su_root_eventmask(root, c.index, c.fd.get(), SU_WAIT_OUT);
    write_reply(c);
}

void control_server::impl::write_reply(connection& c) {
    while (c.sent < c.reply.size()) {
        ssize_t n = ::send(c.fd.get(), c.reply.data() + c.sent, c.reply.size() - c.sent,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;  // the su_root calls back when the client has read some
        }
        if (n < 0) {
            break;  // the client went away; nothing left to do for it
        }
        c.sent += static_cast<std::size_t>(n);
        c.last_progress = steady::now();
    }
    drop(c.fd.get());
}

void control_server::impl::drop(int fd) {
    auto it = connections.find(fd);
    if (it == connections.end()) {
        return;
    }
    su_root_deregister(root, it->second->index);
    connections.erase(it);  // closes the fd, after sofia has forgotten it
}

void control_server::impl::sweep_idle() {
    timer_armed = false;
    auto now = steady::now();
    std::vector<int> idle;
    for (const auto& [fd, c] : connections) {
        if (now - c->last_progress >= options.idle_timeout) {
            idle.push_back(fd);
        }
    }
    for (int fd : idle) {
        api_log.debug("control socket: dropping a client idle for {} ms",
                      options.idle_timeout.count());
        drop(fd);
    }
    if (accept_paused) {
        accept_paused = false;
        su_root_eventmask(root, listen_index, listener.get(), SU_WAIT_IN);
    }
    if (!connections.empty()) {
        arm_timer();
    }
}

void control_server::impl::arm_timer() {
    if (!timer_armed && su_timer_set(idle_timer.get(), on_idle_timer, this) == 0) {
        timer_armed = true;
    }
}

control_server::control_server(su_root_t* root, std::string path, control_handler& handler)
    : control_server(root, std::move(path), handler, control_server_options{}) {}

control_server::control_server(su_root_t* root, std::string path, control_handler& handler,
                               control_server_options options)
    : _impl(std::make_unique<impl>(root, std::move(path), handler, options)) {}

control_server::~control_server() = default;

const std::string& control_server::path() const noexcept { return _impl->path; }

std::size_t control_server::connection_count() const noexcept { return _impl->connections.size(); }

}  // namespace sbc::api
