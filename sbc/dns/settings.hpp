// What the resolver of peer names is configured with: where to ask, how long
// to wait, and how the name_watch refreshes, retries and keeps stale answers.
//
// A plain struct with in-class defaults, free of sbc/config: the
// configuration's `dns:` section maps onto it key for key, and validate()
// is the check that section runs before anything starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/common/result.hpp"

namespace sbc::dns {

struct settings {
    /// DNS servers as "address[:port]": "192.0.2.53", "127.0.0.1:5353",
    /// "2001:db8::53", "[2001:db8::53]:5353". Empty: the system's
    /// /etc/resolv.conf. At most 6 (sofia-sip's sres takes no more), and all
    /// on one port (sres has one port for all of its servers).
    std::vector<std::string> servers;
    /// How long one DNS query may go unanswered before it counts as a
    /// timeout (sres retransmits within it, trying the next server).
    std::chrono::milliseconds query_timeout{5000};
    /// Ask for A and AAAA records; at least one of the two.
    bool ipv4 = true;
    bool ipv6 = true;

    /// A refresh starts this long before an answer's TTL runs out (at most
    /// a tenth of the TTL before), so fresh records arrive before the old
    /// ones expire.
    std::chrono::milliseconds refresh_lead{5000};
    /// The shortest time between two resolutions of one name (TTL 0 records
    /// would otherwise be asked for without pause).
    std::chrono::milliseconds min_refresh{5000};
    /// TTLs longer than this are cut to it, so a record published with a
    /// TTL of weeks is still looked at again.
    std::chrono::seconds max_ttl{86400};
    /// A name that stops resolving keeps its last answer, marked stale, for
    /// this long past the answer's expiry; then its targets are dropped.
    std::chrono::seconds stale_grace{3600};
    /// Back-off between failed attempts: the first retry after
    /// retry_initial, each next one twice as late, never later than retry_max.
    std::chrono::milliseconds retry_initial{1000};
    std::chrono::milliseconds retry_max{60000};
};

/// One DNS server of settings::servers, parsed.
struct server_address {
    std::string ip;  ///< canonical IP literal, without brackets
    int family = 0;  ///< AF_INET or AF_INET6
    std::uint16_t port = 53;
};

/// Parses "address[:port]" ("[v6]:port" for an IPv6 address with a port).
result<server_address> parse_server(std::string_view text);

/// The cross-field checks of `s`: each problem as one sentence naming the
/// key; empty when `s` is usable.
std::vector<std::string> validate(const settings& s);

}  // namespace sbc::dns
