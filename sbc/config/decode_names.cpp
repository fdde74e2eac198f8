// The SBC's own names (an interface's fqdn) and how it resolves its peers'
// (the dns section): the keys peering by name brings (RFC 3263).
#include <fmt/format.h>

#include "sbc/config/address.hpp"
#include "sbc/config/decode.hpp"

namespace sbc::config::detail {

void decode_fqdn(problem_list& p, const located& at, interface_config& ic) {
    constexpr std::string_view what =
        "the SBC's fully qualified domain name on this interface, e.g. sbc.example.com";
    auto text = read_string(p, at, what);
    if (!text) {
        return;
    }
    // A name, not an address: where a platform wants the FQDN, an IP
    // address in its place is what it refuses.
    auto name = parse_host_name(*text);
    if (!name || name->find('.') == std::string::npos) {
        expected(p, at, what);
        return;
    }
    ic.fqdn = std::move(*name);
}

void decode_dns(problem_list& p, const located& at, dns_config& dns) {
    if (at.node.IsNull()) {
        return;
    }
    auto m = map_reader::open(p, at, {"servers", "stale_seconds"},
                              "a map with servers and stale_seconds");
    if (!m) {
        return;
    }
    const auto servers = m->find("servers");
    if (servers) {
        constexpr std::string_view server_expected = "a DNS server, IP or IP:PORT";
        const auto list_expected = fmt::format("a list of DNS servers, IP or IP:PORT");
        for (const auto& e : read_list(p, *servers, list_expected, true)) {
            auto text = read_string(p, e, server_expected);
            if (!text) {
                continue;
            }
            auto server = parse_dns_server(*text);
            if (!server) {
                rejected(p, e, server.error_message());
                continue;
            }
            dns.servers.push_back(std::move(*server));
        }
    }
    // An hour past the TTL by default; a day at most, after which a peer
    // that no name leads to any more is not the peer the name meant.
    read_number_into(p, *m, "stale_seconds", 0, 86400,
                     "seconds 0..86400 an answer outlives its TTL while its name does not resolve",
                     dns.stale_seconds);
    // What the resolver itself cannot take (sofia-sip's sres: at most six
    // servers, all on one port), said here so that --check-config names it.
    for (auto problem : dns::validate(resolver_settings(dns))) {
        constexpr std::string_view key = "servers: ";  // the path names the key already
        if (servers && problem.rfind(key, 0) == 0) {
            problem.erase(0, key.size());
        }
        rejected(p, servers ? *servers : at, problem);
    }
}

}  // namespace sbc::config::detail
