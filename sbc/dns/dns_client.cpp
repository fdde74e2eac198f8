#include "sbc/dns/dns_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <sofia-sip/sresolv.h>

#include "sbc/common/log.hpp"
#include "sbc/common/text.hpp"
#include "sbc/dns/loop_timer.hpp"

namespace sbc::dns {

namespace {

constexpr log::logger client_log{"dns"};

// A DNS name as sres decodes it ("Sip1.Example.COM.") in the form the rest
// of sbc/dns compares: lower case, without the root's dot. The root itself
// (an SRV target "." saying "no service here", RFC 2782) stays ".".
std::string normalized_name(const char* name) {
    if (name == nullptr) {
        return {};
    }
    std::string out(name);
    if (out.size() > 1 && out.back() == '.') {
        out.pop_back();
    }
    std::transform(out.begin(), out.end(), out.begin(), ascii_lower);
    return out;
}

std::string text_of(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// sres reports a failed query as one record whose r_status is set.
dns_status status_of_error(unsigned status) noexcept {
    switch (status) {
        case SRES_NAME_ERR:
            return dns_status::nxdomain;
        case SRES_RECORD_ERR:
            return dns_status::no_data;
        case SRES_SERVER_ERR:
        case SRES_AUTH_ERR:
            return dns_status::server_failure;
        case SRES_TIMEOUT_ERR:
            return dns_status::timeout;
        case SRES_NETWORK_ERR:
            return dns_status::network_error;
        default:
            return dns_status::other;
    }
}

std::string address_text(int family, const void* bytes) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (inet_ntop(family, bytes, text.data(), text.size()) == nullptr) {
        return {};
    }
    return text.data();
}

// The records of `type` in an sres answer, as plain values.
dns_answer convert(record_type type, sres_record_t* const* answers) {
    dns_answer out;
    std::optional<dns_status> error;
    for (std::size_t i = 0; answers != nullptr && answers[i] != nullptr; ++i) {
        const sres_record_t* rr = answers[i];
        const sres_common_t& common = *rr->sr_record;
        if (common.r_status != 0) {
            error = error.value_or(status_of_error(common.r_status));
            continue;
        }
        if (common.r_type != static_cast<std::uint16_t>(type)) {
            continue;  // a CNAME on the way, or a record of another type
        }
        switch (type) {
            case record_type::a: {
                auto text = address_text(AF_INET, &rr->sr_a->a_addr);
                if (!text.empty()) {
                    out.addresses.push_back({std::move(text), AF_INET, common.r_ttl});
                }
                break;
            }
            case record_type::aaaa: {
                auto text = address_text(AF_INET6, &rr->sr_aaaa->aaaa_addr);
                if (!text.empty()) {
                    out.addresses.push_back({std::move(text), AF_INET6, common.r_ttl});
                }
                break;
            }
            case record_type::srv: {
                const auto& srv = *rr->sr_srv;
                out.srv.push_back({srv.srv_priority, srv.srv_weight, srv.srv_port,
                                   normalized_name(srv.srv_target), common.r_ttl});
                break;
            }
            case record_type::naptr: {
                const auto& naptr = *rr->sr_naptr;
                out.naptr.push_back({naptr.na_order, naptr.na_prefer, text_of(naptr.na_flags),
                                     text_of(naptr.na_services), text_of(naptr.na_regexp),
                                     normalized_name(naptr.na_replace), common.r_ttl});
                break;
            }
        }
    }
    if (!out.addresses.empty() || !out.srv.empty() || !out.naptr.empty()) {
        out.status = dns_status::ok;
    } else if (error) {
        out.status = *error;
    } else {
        // sres passes SERVFAIL and REFUSED on as an answer with no records
        // and no error record (it makes error records only for NXDOMAIN,
        // NODATA and NOTIMP); an answer of nothing is no answer either way.
        out.status = dns_status::server_failure;
    }
    return out;
}

// The resolv.conf that sres reads: the configured servers and their port
// (sres's own "port" directive), in an anonymous memory file whose
// /proc/self/fd path sres opens and stats. Nothing on disk to clean up.
unique_fd write_conf(const std::vector<std::string>& servers) {
    std::string text;
    std::uint16_t port = 53;
    for (const auto& s : servers) {
        auto server = parse_server(s);
        if (!server) {
            throw std::invalid_argument(server.error_message());
        }
        text += fmt::format("nameserver {}\n", server->ip);
        port = server->port;
    }
    text += fmt::format("port {}\n", port);
    unique_fd fd(::memfd_create("sbc-dns-resolv.conf", MFD_CLOEXEC));
    if (!fd) {
        throw std::system_error(errno, std::generic_category(), "dns: memfd_create");
    }
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw std::system_error(errno, std::generic_category(), "dns: writing resolv.conf");
        }
        done += static_cast<std::size_t>(n);
    }
    return fd;
}

}  // namespace

namespace detail {

struct pending_query {
    pending_query(dns_client& c, record_type t, std::string n, dns_client::answer_fn fn)
        : client(&c), type(t), name(std::move(n)), done(std::move(fn)), deadline(c.root()) {}

    dns_client* client;  ///< nullptr once answered, or when the client went first
    record_type type;
    std::string name;
    dns_client::answer_fn done;
    sres_query_t* query = nullptr;  ///< sres's, until it answers or is unbound
    loop_timer deadline;
};

}  // namespace detail

namespace {

// sres declares its callback context as an opaque struct; the pending query
// is what it points to, so these two casts are the only way across.
sres_context_t* context_of(detail::pending_query* p) noexcept {
    return reinterpret_cast<sres_context_t*>(p);
}
detail::pending_query* pending_of(sres_context_t* context) noexcept {
    return reinterpret_cast<detail::pending_query*>(context);
}

// C trampoline: takes sres's records over and frees them; nothing escapes.
void on_sres_answer(sres_context_t* context, sres_query_t*, sres_record_t** answers) {
    auto* p = pending_of(context);
    dns_client* client = p->client;
    if (client == nullptr) {
        return;  // cannot happen: an unbound query has no callback
    }
    dns_answer answer;
    try {
        answer = convert(p->type, answers);
    } catch (const std::exception& e) {
        client_log.error("{} {}: cannot take the answer over: {}", to_string(p->type), p->name,
                         e.what());
        answer.status = dns_status::other;
    }
    sres_free_answers(client->sres(), answers);
    // sres frees its query once this callback returns.
    p->query = nullptr;
    client->answered(*p, std::move(answer));
}

// What a query abandoned by its caller (timed out, cancelled) is rebound
// to: sres still delivers a late answer, whose records would stay
// referenced in sres's cache for the resolver's lifetime if nobody freed
// them. The context is the resolver itself.
void drop_late_answer(sres_context_t* context, sres_query_t*, sres_record_t** answers) {
    sres_free_answers(reinterpret_cast<sres_resolver_t*>(context), answers);
}

void abandon(sres_resolver_t* sres, sres_query_t* query) noexcept {
    sres_query_bind(query, drop_late_answer, reinterpret_cast<sres_context_t*>(sres));
}

}  // namespace

std::string_view to_string(record_type t) noexcept {
    switch (t) {
        case record_type::a:
            return "A";
        case record_type::aaaa:
            return "AAAA";
        case record_type::srv:
            return "SRV";
        case record_type::naptr:
            return "NAPTR";
    }
    return "?";
}

std::string_view to_string(dns_status s) noexcept {
    switch (s) {
        case dns_status::ok:
            return "ok";
        case dns_status::no_data:
            return "no records of that type";
        case dns_status::nxdomain:
            return "NXDOMAIN";
        case dns_status::server_failure:
            return "server failure (SERVFAIL or REFUSED)";
        case dns_status::timeout:
            return "timeout";
        case dns_status::network_error:
            return "network error (no DNS server reachable)";
        case dns_status::other:
            return "resolver error";
    }
    return "?";
}

dns_client::query::query() noexcept = default;
dns_client::query::query(std::unique_ptr<pending> p) noexcept : _p(std::move(p)) {}
dns_client::query::query(query&&) noexcept = default;
dns_client::query& dns_client::query::operator=(query&& other) noexcept {
    if (this != &other) {
        reset();
        _p = std::move(other._p);
    }
    return *this;
}
dns_client::query::~query() { reset(); }

bool dns_client::query::outstanding() const noexcept { return _p && _p->client != nullptr; }

void dns_client::query::reset() noexcept {
    if (!_p) {
        return;
    }
    if (_p->client != nullptr) {
        _p->client->forget(*_p);
    }
    _p.reset();
}

dns_client::dns_client(su_root_t* root, const settings& s) : _root(root), _settings(s) {
    if (auto problems = validate(s); !problems.empty()) {
        throw std::invalid_argument("dns: " + problems.front());
    }
    std::string path;
    if (!s.servers.empty()) {
        _conf = write_conf(s.servers);
        path = fmt::format("/proc/self/fd/{}", _conf.get());
    }
    // A null path: sres reads the system's /etc/resolv.conf.
    _sres = sres_resolver_create(root, path.empty() ? nullptr : path.c_str(), TAG_END());
    if (_sres == nullptr) {
        throw std::runtime_error(
            fmt::format("dns: cannot start the resolver: {}", std::strerror(errno)));
    }
}

dns_client::~dns_client() {
    // Queries still held elsewhere are disarmed: sres frees its own query
    // objects with the resolver, and no callback may run after this.
    for (pending* p : _pending) {
        p->deadline.cancel();
        p->query = nullptr;
        p->client = nullptr;
    }
    sres_resolver_destroy(_sres);
}

dns_client::query dns_client::ask(record_type type, std::string_view name, answer_fn done) {
    auto p = std::make_unique<pending>(*this, type, std::string(name), std::move(done));
    pending* raw = p.get();
    _pending.insert(raw);
    raw->query = sres_query(_sres, on_sres_answer, context_of(raw),
                            static_cast<std::uint16_t>(type), raw->name.c_str());
    if (raw->query == nullptr) {
        // Nothing was sent (no server reachable, a name sres will not
        // encode): answered a turn later, never inside ask().
        const auto status = errno == ENAMETOOLONG || errno == EFAULT ? dns_status::other
                                                                     : dns_status::network_error;
        raw->deadline.arm(std::chrono::milliseconds(0), [this, raw, status] {
            answered(*raw, dns_answer{status, {}, {}, {}});
        });
    } else {
        raw->deadline.arm(_settings.query_timeout, [this, raw] {
            abandon(_sres, raw->query);
            raw->query = nullptr;
            answered(*raw, dns_answer{dns_status::timeout, {}, {}, {}});
        });
    }
    return query(std::move(p));
}

void dns_client::answered(pending& p, dns_answer answer) noexcept {
    p.deadline.cancel();
    _pending.erase(&p);
    p.client = nullptr;
    // The callback runs last: it may destroy the query handle, and the
    // pending state with it, so nothing of `p` is used after it.
    auto done = std::move(p.done);
    const auto type = p.type;
    try {
        done(std::move(answer));
    } catch (const std::exception& e) {
        client_log.error("{} query: handling the answer failed: {}", to_string(type), e.what());
    }
}

void dns_client::forget(pending& p) noexcept {
    if (p.query != nullptr) {
        abandon(_sres, p.query);
        p.query = nullptr;
    }
    p.deadline.cancel();
    _pending.erase(&p);
    p.client = nullptr;
}

}  // namespace sbc::dns
