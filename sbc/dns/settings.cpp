#include "sbc/dns/settings.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

namespace sbc::dns {

namespace {

// sres keeps at most this many servers (SRES_MAX_NAMESERVERS) and silently
// drops the rest; a configuration that lists more is refused instead.
constexpr std::size_t max_servers = 6;

}  // namespace

result<server_address> parse_server(std::string_view text) {
    constexpr std::string_view form =
        "expected a DNS server as ADDRESS, ADDRESS:PORT or [IPv6]:PORT";
    std::string_view address = text;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos ||
            (close + 1 < text.size() && text[close + 1] != ':')) {
            return make_error(std::string(form));
        }
        address = text.substr(1, close - 1);
        port_text = close + 1 < text.size() ? text.substr(close + 2) : std::string_view{};
        if (close + 1 < text.size() && port_text.empty()) {
            return make_error(std::string(form));
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const auto colon = text.find(':');
        address = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (port_text.empty()) {
            return make_error(std::string(form));
        }
    }
    std::array<char, INET6_ADDRSTRLEN + 1> buffer{};
    if (address.empty() || address.size() >= buffer.size()) {
        return make_error(std::string(form));
    }
    std::memcpy(buffer.data(), address.data(), address.size());
    server_address out;
    std::array<unsigned char, 16> bytes{};
    for (int family : {AF_INET, AF_INET6}) {
        if (inet_pton(family, buffer.data(), bytes.data()) == 1) {
            out.family = family;
            break;
        }
    }
    if (out.family == 0) {
        return make_error(fmt::format("{}: '{}' is no IP address", form, address));
    }
    std::array<char, INET6_ADDRSTRLEN> canonical{};
    inet_ntop(out.family, bytes.data(), canonical.data(), canonical.size());
    out.ip = canonical.data();
    if (!port_text.empty()) {
        unsigned port = 0;
        for (char c : port_text) {
            if (c < '0' || c > '9' || port > 65535) {
                return make_error(fmt::format("{}: bad port '{}'", form, port_text));
            }
            port = port * 10 + static_cast<unsigned>(c - '0');
        }
        if (port == 0 || port > 65535) {
            return make_error(fmt::format("{}: bad port '{}'", form, port_text));
        }
        out.port = static_cast<std::uint16_t>(port);
    }
    return out;
}

std::vector<std::string> validate(const settings& s) {
    std::vector<std::string> problems;
    if (s.servers.size() > max_servers) {
        problems.push_back(
            fmt::format("servers: at most {} DNS servers, not {}", max_servers, s.servers.size()));
    }
    std::optional<std::uint16_t> port;
    for (const auto& text : s.servers) {
        auto server = parse_server(text);
        if (!server) {
            problems.push_back(fmt::format("servers: {}", server.error_message()));
            continue;
        }
        if (port && *port != server->port) {
            // sofia-sip's sres has one port for all of its servers.
            problems.push_back(fmt::format(
                "servers: every DNS server must use the same port ({} is on {}, another on {})",
                text, server->port, *port));
        }
        port = server->port;
    }
    if (s.query_timeout.count() <= 0) {
        problems.push_back("query_timeout: expected more than 0");
    }
    if (!s.ipv4 && !s.ipv6) {
        problems.push_back("ipv4, ipv6: expected at least one of the two");
    }
    if (s.min_refresh.count() <= 0) {
        problems.push_back("min_refresh: expected more than 0");
    }
    if (s.max_ttl.count() <= 0) {
        problems.push_back("max_ttl: expected more than 0");
    }
    if (s.refresh_lead.count() < 0 || s.stale_grace.count() < 0) {
        problems.push_back("refresh_lead, stale_grace: expected 0 or more");
    }
    if (s.retry_initial.count() <= 0 || s.retry_max < s.retry_initial) {
        problems.push_back("retry_initial, retry_max: expected 0 < retry_initial <= retry_max");
    }
    // su_timer counts milliseconds in an int; a day is far beyond any sane
    // setting and far below that limit.
    constexpr std::chrono::milliseconds longest = std::chrono::hours(24 * 7);
    if (s.query_timeout > longest || s.retry_max > longest || s.min_refresh > longest ||
        s.max_ttl > longest || s.stale_grace > longest * 4) {
        problems.push_back("durations: expected at most a week (stale_grace: four weeks)");
    }
    return problems;
}

}  // namespace sbc::dns
