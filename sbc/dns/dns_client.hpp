// The asynchronous DNS client of the control thread: sofia-sip's sres
// resolver on the su_root, wrapped once here at the edge of sbc/dns.
//
// Why sres and not c-ares: sres hands every record over with its own TTL
// (NAPTR and SRV included; Debian 12's c-ares 1.18 parses SRV and NAPTR
// without one, so expiry would need a DNS parser of our own), and it
// already lives on su_root (its sockets and retransmission timer are the
// root's), linked through sofia-sip as it is.
//
// ask() sends one query and returns a handle; the answer comes later, on the
// loop, never inside ask(). Destroying the handle cancels the query: its
// callback is never called after that. Each query has a deadline of its own
// (settings::query_timeout): sres alone would retransmit for about two
// minutes before giving up.
//
// Object graph: the client owns the sres resolver (and through it the
// sockets registered on the su_root); each query handle owns its pending
// state and deadline timer and points back at the client. Handles should
// go before the client; one that outlives it is disarmed, not dangling.
// A callback must not destroy the client (sres is still on the stack).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "sbc/common/unique_fd.hpp"
#include "sbc/dns/settings.hpp"

struct su_root_s;
typedef struct su_root_s su_root_t;
struct sres_resolver_s;
typedef struct sres_resolver_s sres_resolver_t;

namespace sbc::dns {

namespace detail {
struct pending_query;  // a query's state between ask() and its answer (dns_client.cpp)
}

enum class record_type : std::uint16_t { a = 1, aaaa = 28, srv = 33, naptr = 35 };

std::string_view to_string(record_type t) noexcept;

/// How a query ended.
enum class dns_status {
    ok,              ///< records of the type asked for
    no_data,         ///< the name exists, without records of this type
    nxdomain,        ///< the name does not exist (RCODE 3)
    server_failure,  ///< SERVFAIL, REFUSED or an answer without records or error
    timeout,         ///< no answer within the query's deadline
    network_error,   ///< no server could be sent to (or an ICMP error came back)
    other,           ///< any other error sres reports
};

std::string_view to_string(dns_status s) noexcept;

/// True for the statuses that say "there are no such records" (as opposed
/// to "we could not find out").
constexpr bool is_negative(dns_status s) noexcept {
    return s == dns_status::no_data || s == dns_status::nxdomain;
}

struct address_record {
    std::string address;  ///< canonical IP literal
    int family = 0;       ///< AF_INET or AF_INET6
    std::uint32_t ttl = 0;
};

/// RFC 2782.
struct srv_record {
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::uint16_t port = 0;
    std::string target;  ///< lower case, no trailing dot; "." stays "."
    std::uint32_t ttl = 0;
};

/// RFC 3403.
struct naptr_record {
    std::uint16_t order = 0;
    std::uint16_t preference = 0;
    std::string flags;
    std::string services;
    std::string regexp;
    std::string replacement;  ///< lower case, no trailing dot
    std::uint32_t ttl = 0;
};

/// The answer to one query: its status and, with ok, the records of the
/// type asked for (one of the three vectors); CNAMEs are followed by sres.
struct dns_answer {
    dns_status status = dns_status::other;
    std::vector<address_record> addresses;
    std::vector<srv_record> srv;
    std::vector<naptr_record> naptr;
};

class dns_client {
    using pending = detail::pending_query;

public:
    using answer_fn = std::function<void(dns_answer)>;

    /// An outstanding query; destroying it cancels the query. Empty when
    /// default-made or moved from.
    class query {
    public:
        query() noexcept;
        explicit query(std::unique_ptr<pending> p) noexcept;
        ~query();
        query(query&&) noexcept;
        query& operator=(query&&) noexcept;
        query(const query&) = delete;
        query& operator=(const query&) = delete;

        /// True until the answer (or the deadline) has been delivered.
        bool outstanding() const noexcept;
        /// Cancels the query (its callback will not run) and empties the handle.
        void reset() noexcept;

    private:
        std::unique_ptr<pending> _p;
    };

    /// A resolver on `root` asking `s.servers` (or those of
    /// /etc/resolv.conf). Throws std::invalid_argument for settings that
    /// validate() refuses, std::runtime_error when sres cannot start.
    dns_client(su_root_t* root, const settings& s);
    ~dns_client();
    dns_client(const dns_client&) = delete;
    dns_client& operator=(const dns_client&) = delete;

    /// Asks for `type` records of `name` (absolute; no search domains).
    /// `done` runs once on the loop with the answer, unless the returned
    /// handle is destroyed first. A name sres cannot send (too long, no
    /// server reachable) is answered the same way, a turn later.
    [[nodiscard]] query ask(record_type type, std::string_view name, answer_fn done);

    /// Queries not yet answered, for tests and `sbcctl`.
    std::size_t outstanding() const noexcept { return _pending.size(); }

    su_root_t* root() const noexcept { return _root; }
    /// Whether lookups ask for A and AAAA records (settings::ipv4, ipv6).
    bool ipv4() const noexcept { return _settings.ipv4; }
    bool ipv6() const noexcept { return _settings.ipv6; }

    /// For the sres trampoline (sres_free_answers); not for other callers.
    sres_resolver_t* sres() const noexcept { return _sres; }
    /// Called by the sres trampoline and the deadline; not for other callers.
    void answered(pending& p, dns_answer answer) noexcept;
    void forget(pending& p) noexcept;

private:
    su_root_t* _root;
    settings _settings;
    /// The resolv.conf sres reads, written from settings::servers into an
    /// anonymous memory file (sres takes its servers only from a file).
    unique_fd _conf;
    sres_resolver_t* _sres = nullptr;  ///< owned: sres_resolver_destroy
    std::unordered_set<pending*> _pending;
};

}  // namespace sbc::dns
