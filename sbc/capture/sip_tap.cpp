// The tap's two entry points replace sofia-sip's own (see sip_tap.hpp):
// they must keep sofia's C signatures exactly, from its tport_internal.h
// of 1.12.11, and they are found by the dynamic linker in sbcd before the
// library's own definitions.
#include "sbc/capture/sip_tap.hpp"

#include <dirent.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/su_time.h>
#include <sofia-sip/tport.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace sbc::capture {
namespace {

std::vector<sip_listener*>& listeners() {
    static std::vector<sip_listener*> all;
    return all;
}

std::int64_t wall_now_us() noexcept {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

sip_transport transport_of(const tport_t* tp) noexcept {
    const tp_name_t* name = tport_name(tp);
    const char* proto = name != nullptr && name->tpn_proto != nullptr ? name->tpn_proto : "udp";
    if (strcasecmp(proto, "tcp") == 0) {
        return sip_transport::tcp;
    }
    if (strcasecmp(proto, "tls") == 0) {
        return sip_transport::tls;
    }
    if (strcasecmp(proto, "sctp") == 0) {
        return sip_transport::sctp;
    }
    if (strcasecmp(proto, "ws") == 0) {
        return sip_transport::ws;
    }
    if (strcasecmp(proto, "wss") == 0) {
        return sip_transport::wss;
    }
    return sip_transport::udp;
}

dataplane::ip_endpoint endpoint_of(const su_addrinfo_t* ai) noexcept {
    if (ai == nullptr || ai->ai_addr == nullptr) {
        return {};
    }
    return dataplane::ip_endpoint::from_sockaddr(ai->ai_addr,
                                                 static_cast<socklen_t>(ai->ai_addrlen))
        .value_or(dataplane::ip_endpoint{});
}

// The socket's own address (getsockname) or its peer's (getpeername).
dataplane::ip_endpoint address_of(int fd, bool peer) noexcept {
    dataplane::ip_endpoint e;
    socklen_t len = dataplane::ip_endpoint::sockaddr_capacity;
    if ((peer ? getpeername(fd, e.sockaddr_buffer(), &len)
              : getsockname(fd, e.sockaddr_buffer(), &len)) != 0) {
        return {};
    }
    return dataplane::ip_endpoint::from_sockaddr(e.sockaddr_ptr(), len)
        .value_or(dataplane::ip_endpoint{});
}

dataplane::ip_endpoint sock_name(int fd) noexcept { return address_of(fd, false); }
dataplane::ip_endpoint peer_name(int fd) noexcept { return address_of(fd, true); }

// A connection's local address. sofia keeps it nowhere it shows: a
// connection's tport names its peer, and a connection sofia opened is bound
// to the interface's IP with an ephemeral port. The socket is found once
// among the process's descriptors (the one connected to `remote` from the
// interface's IP) and checked on each later message, since a closed
// connection's tport and descriptor may both be reused.
class connection_addresses {
public:
    dataplane::ip_endpoint local_of(const tport_t* tp, const dataplane::ip_endpoint& remote,
                                    const dataplane::ip_endpoint& interface_ip) {
        auto it = _known.find(tp);
        if (it != _known.end() && peer_name(it->second.fd) == remote &&
            sock_name(it->second.fd) == it->second.local) {
            return it->second.local;
        }
        auto found = scan(remote, interface_ip);
        if (_known.size() >= max_known) {
            _known.clear();
        }
        if (found.fd >= 0) {
            _known[tp] = found;
            return found.local;
        }
        // Not found (closed meanwhile): the interface's address, port 0.
        auto guess = interface_ip;
        guess.set_port(0);
        return guess;
    }

private:
    struct entry {
        int fd = -1;
        dataplane::ip_endpoint local;
    };
    static constexpr std::size_t max_known = 4096;

    static entry scan(const dataplane::ip_endpoint& remote,
                      const dataplane::ip_endpoint& interface_ip) {
        DIR* dir = opendir("/proc/self/fd");
        if (dir == nullptr) {
            return {};
        }
        entry found;
        while (const dirent* d = readdir(dir)) {
            char* end = nullptr;
            const long fd = std::strtol(d->d_name, &end, 10);
            if (end == d->d_name || *end != '\0' || fd == dirfd(dir)) {
                continue;
            }
            if (peer_name(static_cast<int>(fd)) != remote) {
                continue;
            }
            auto local = sock_name(static_cast<int>(fd));
            if (local.address() == interface_ip.address()) {
                found = {static_cast<int>(fd), local};
                break;
            }
        }
        closedir(dir);
        return found;
    }

    std::unordered_map<const tport_t*, entry> _known;
};

connection_addresses& connections() {
    static connection_addresses c;
    return c;
}

dataplane::ip_endpoint local_of(const tport_t* tp, const dataplane::ip_endpoint& remote) {
    if (tport_is_primary(tp) || tport_is_dgram(tp)) {
        return endpoint_of(tport_get_address(tp));
    }
    // A connection: its primary's address gives the interface's IP.
    const tport_t* primary = tport_parent(const_cast<tport_t*>(tp));
    auto interface_ip = endpoint_of(tport_get_address(primary != nullptr ? primary : tp));
    return connections().local_of(tp, remote, interface_ip);
}

void deliver(const tport_t* tp, msg_t* msg, sip_direction dir, std::string_view bytes) {
    sip_packet p;
    p.direction = dir;
    p.transport = transport_of(tp);
    p.remote = endpoint_of(msg_addrinfo(msg));
    p.local = local_of(tp, p.remote);
    p.wall_us = wall_now_us();
    p.bytes = bytes;
    const sip_t* sip = sip_object(msg);
    if (sip != nullptr && (sip->sip_request != nullptr || sip->sip_status != nullptr)) {
        p.sip = sip;
    }
    // A copy: a listener may remove itself (or another) while it runs.
    const auto current = listeners();
    for (sip_listener* l : current) {
        l->on_sip(p);
    }
}

// One write of a message on a stream may be partial: sofia queues the rest
// and reports it with a later write. The tap waits for the whole message.
struct partial_write {
    const msg_t* msg = nullptr;
    std::size_t total = 0;
    std::string bytes;
};

std::unordered_map<const tport_t*, partial_write>& partial_writes() {
    static std::unordered_map<const tport_t*, partial_write> all;
    return all;
}

void append_written(std::string& out, std::size_t n, const su_iovec_t iov[], std::size_t iovused) {
    for (std::size_t i = 0; i < iovused && n > 0; ++i) {
        const std::size_t len = std::min<std::size_t>(iov[i].siv_len, n);
        out.append(static_cast<const char*>(iov[i].siv_base), len);
        n -= len;
    }
}

void on_written(const tport_t* tp, msg_t* msg, std::size_t n, const su_iovec_t iov[],
                std::size_t iovused) {
    std::size_t offered = 0;
    for (std::size_t i = 0; i < iovused; ++i) {
        offered += iov[i].siv_len;
    }
    auto& partial = partial_writes();
    auto it = partial.find(tp);
    if (it != partial.end() && it->second.msg == msg) {
        append_written(it->second.bytes, n, iov, iovused);
        if (it->second.bytes.size() >= it->second.total) {
            const std::string whole = std::move(it->second.bytes);
            partial.erase(it);
            deliver(tp, msg, sip_direction::out, whole);
        }
        return;
    }
    if (it != partial.end()) {
        partial.erase(it);  // a connection that failed mid-message
    }
    thread_local std::string buffer;
    buffer.clear();
    append_written(buffer, n, iov, iovused);
    if (n >= offered) {
        deliver(tp, msg, sip_direction::out, buffer);
        return;
    }
    if (partial.size() >= 1024) {
        partial.clear();  // connections that died mid-message, never written again
    }
    partial[tp] = partial_write{msg, offered, buffer};
}

void on_received(const tport_t* tp, msg_t* msg) {
    // MSG_DO_EXTRACT_COPY (TPTAG_LOG) kept each header's text as received,
    // so the message serializes as it was on the wire.
    thread_local std::vector<msg_iovec_t> iov(64);
    isize_t used = msg_iovec(msg, iov.data(), static_cast<isize_t>(iov.size()));
    if (used > 0 && static_cast<std::size_t>(used) > iov.size()) {
        // More fragments than room: msg_iovec() said how many it needs.
        iov.resize(static_cast<std::size_t>(used));
        used = msg_iovec(msg, iov.data(), static_cast<isize_t>(iov.size()));
    }
    if (used <= 0 || static_cast<std::size_t>(used) > iov.size()) {
        return;
    }
    thread_local std::string buffer;
    buffer.clear();
    for (std::size_t i = 0; i < static_cast<std::size_t>(used); ++i) {
        buffer.append(static_cast<const char*>(iov[i].mv_base), iov[i].mv_len);
    }
    deliver(tp, msg, sip_direction::in, buffer);
}

bool same_name(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
               return lower(x) == lower(y);
           });
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

// The Call-ID header's value in a message's bytes: a header line of the
// head (RFC 3261 7.3.1: "name: value", any case, "i" its compact form,
// white space around the colon); folded continuation lines are not
// followed, as no Call-ID needs them.
std::string_view call_id_in_bytes(std::string_view bytes) noexcept {
    auto line_end = bytes.find('\n');  // the start line
    while (line_end != std::string_view::npos) {
        bytes.remove_prefix(line_end + 1);
        line_end = bytes.find('\n');
        const auto line = bytes.substr(0, line_end);
        if (trim(line).empty()) {
            break;  // the end of the head
        }
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            continue;
        }
        const auto name = trim(line.substr(0, colon));
        if (same_name(name, "call-id") || same_name(name, "i")) {
            return trim(line.substr(colon + 1));
        }
    }
    return {};
}

}  // namespace

std::string_view call_id_of(const sip_packet& p) noexcept {
    if (p.sip != nullptr && p.sip->sip_call_id != nullptr && p.sip->sip_call_id->i_id != nullptr) {
        return p.sip->sip_call_id->i_id;
    }
    return call_id_in_bytes(p.bytes);
}

std::string_view to_string(sip_direction d) noexcept {
    return d == sip_direction::in ? "in" : "out";
}

std::string_view to_string(sip_transport t) noexcept {
    switch (t) {
        case sip_transport::udp:
            return "udp";
        case sip_transport::tcp:
            return "tcp";
        case sip_transport::tls:
            return "tls";
        case sip_transport::sctp:
            return "sctp";
        case sip_transport::ws:
            return "ws";
        case sip_transport::wss:
            return "wss";
    }
    return "udp";
}

void add_sip_listener(sip_listener* l) {
    auto& all = listeners();
    if (std::find(all.begin(), all.end(), l) == all.end()) {
        all.push_back(l);
    }
}

void remove_sip_listener(sip_listener* l) noexcept {
    auto& all = listeners();
    all.erase(std::remove(all.begin(), all.end(), l), all.end());
}

int sip_tap_on() noexcept { return 1; }

}  // namespace sbc::capture

// sofia-sip's entry points (tport_internal.h). Received messages come
// through tport_log_msg(), once each, parsed ("recv"); writes through
// tport_dump_iovec() ("sent"), each time, so retransmissions are seen.
extern "C" {

void tport_log_msg(tport_t* self, msg_t* msg, char const* what, char const* via, su_time_t now);
void tport_dump_iovec(tport_t const* self, msg_t* msg, size_t n, su_iovec_t const iov[],
                      size_t iovused, char const* what, char const* how);

void tport_log_msg(tport_t* self, msg_t* msg, char const* what, char const* /*via*/,
                   su_time_t /*now*/) {
    if (self == nullptr || msg == nullptr || what == nullptr || what[0] != 'r' ||
        sbc::capture::listeners().empty()) {
        return;
    }
    try {
        sbc::capture::on_received(self, msg);
    } catch (...) {
        // Out of memory while copying: the message goes uncaptured.
    }
}

void tport_dump_iovec(tport_t const* self, msg_t* msg, size_t n, su_iovec_t const iov[],
                      size_t iovused, char const* what, char const* /*how*/) {
    if (self == nullptr || msg == nullptr || what == nullptr || what[0] != 's' || n == 0 ||
        sbc::capture::listeners().empty()) {
        return;
    }
    try {
        sbc::capture::on_written(self, msg, n, iov, iovused);
    } catch (...) {
        // As above.
    }
}

}  // extern "C"
