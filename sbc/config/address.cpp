#include "sbc/config/address.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "sbc/common/text.hpp"
#include "sbc/dns/peer_name.hpp"

namespace sbc::config::detail {

namespace {

constexpr std::uint16_t default_sip_port = 5060;   // RFC 3261 19.1.2
constexpr std::uint16_t default_sips_port = 5061;  // RFC 3261 19.1.2, for TLS

struct host_port {
    ip_address ip;
    std::uint16_t port = default_sip_port;
};

bool has_letter(std::string_view text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
}

result<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    const bool digits_only =
        !text.empty() && text.size() <= 5 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits_only) {
        std::from_chars(text.data(), text.data() + text.size(), value);
    }
    if (!digits_only || value < 1 || value > 65535) {
        return make_error("expected a port 1..65535 after the address");
    }
    return static_cast<std::uint16_t>(value);
}

result<ip_address> parse_host(std::string_view text, int only_family) {
    auto ip = parse_ip(text);
    if (ip && (only_family == 0 || ip->family == only_family)) {
        return std::move(*ip);
    }
    if (only_family == 0 && has_letter(text) && text.find(':') == std::string_view::npos) {
        return make_error("expected an IP address, not a host name");
    }
    return make_error(only_family == AF_INET6 ? "expected an IPv6 address in brackets"
                                              : "expected an IP address");
}

// "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT".
result<host_port> parse_host_port(std::string_view text, std::uint16_t default_port) {
    host_port out;
    out.port = default_port;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return make_error("expected ']' after the IPv6 address");
        }
        auto ip = parse_host(text.substr(1, close - 1), AF_INET6);
        if (!ip) {
            return make_error(ip.error_message());
        }
        out.ip = std::move(*ip);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return make_error("expected ':PORT' after ']'");
            }
            port_text = rest.substr(1);
        }
    } else {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos &&
            text.find(':', colon + 1) != std::string_view::npos) {
            // Two colons: an IPv6 literal, whose last group would read as a port.
            return make_error("expected an IPv6 address in brackets, e.g. [2001:db8::1]:5060");
        }
        auto ip = parse_host(text.substr(0, colon), 0);
        if (!ip) {
            return make_error(ip.error_message());
        }
        out.ip = std::move(*ip);
        if (colon != std::string_view::npos) {
            port_text = text.substr(colon + 1);
        }
    }
    if (!port_text.empty() || (text.size() > 0 && text.back() == ':')) {
        auto port = parse_port(port_text);
        if (!port) {
            return make_error(port.error_message());
        }
        out.port = *port;
    }
    return out;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace

std::optional<std::string> parse_host_name(std::string_view text) {
    // One grammar of host names: the resolver's, whose names these are.
    if (!dns::is_hostname(text)) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        out += ascii_lower(c);
    }
    if (out.back() == '.') {
        out.pop_back();  // the root label: "example.com." is "example.com"
    }
    return out;
}

bool ip_address::is_unspecified() const noexcept {
    const std::size_t n = family == AF_INET ? 4 : 16;
    return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n),
                       [](unsigned char b) { return b == 0; });
}

result<cidr> parse_cidr(std::string_view text) {
    constexpr std::string_view what = "expected an address block: IP/PREFIX or an IP address";
    const auto slash = text.find('/');
    auto ip = parse_ip(text.substr(0, slash));
    if (!ip) {
        return make_error(std::string(what));
    }
    const unsigned bits = ip->family == AF_INET ? 32 : 128;
    unsigned prefix = bits;
    if (slash != std::string_view::npos) {
        auto digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 ||
            !std::all_of(digits.begin(), digits.end(),
                         [](char c) { return c >= '0' && c <= '9'; })) {
            return make_error(std::string(what));
        }
        prefix = static_cast<unsigned>(std::stoul(std::string(digits)));
        if (prefix > bits) {
            return make_error(fmt::format("expected a prefix length 0..{}", bits));
        }
    }
    cidr out;
    out.family = ip->family;
    out.bytes = ip->bytes;
    out.prefix = prefix;
    cidr masked = out;
    for (unsigned b = prefix; b < bits; ++b) {
        masked.bytes[b / 8] &= static_cast<unsigned char>(~(0x80U >> (b % 8)));
    }
    if (masked.bytes != out.bytes) {
        // Host bits set: the block would silently be wider than written.
        return make_error(
            fmt::format("expected an address block whose host bits are zero "
                        "(IP/{} starts at a multiple of the block size)",
                        prefix));
    }
    out.text = fmt::format("{}/{}", ip->text, prefix);
    return out;
}

std::optional<ip_address> parse_ip(std::string_view text) {
    // inet_pton wants a C string; anything longer than the longest IPv6 form
    // (an IPv4-mapped address with all groups written out) is not an address.
    char buffer[INET6_ADDRSTRLEN + 1] = {};
    if (text.empty() || text.size() >= sizeof(buffer) ||
        text.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    std::memcpy(buffer, text.data(), text.size());
    ip_address ip;
    for (int family : {AF_INET, AF_INET6}) {
        if (inet_pton(family, buffer, ip.bytes.data()) == 1) {
            ip.family = family;
            char canonical[INET6_ADDRSTRLEN] = {};
            if (inet_ntop(family, ip.bytes.data(), canonical, sizeof(canonical)) == nullptr) {
                return std::nullopt;
            }
            ip.text = canonical;
            return ip;
        }
    }
    return std::nullopt;
}

result<listen_uri> parse_listen(std::string_view text) {
    listen_uri out;
    if (starts_with_nocase(text, "udp://")) {
        out.proto = transport::udp;
    } else if (starts_with_nocase(text, "tcp://")) {
        out.proto = transport::tcp;
    } else if (starts_with_nocase(text, "tls://")) {
        out.proto = transport::tls;
    } else {
        return make_error("expected udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT");
    }
    auto hp = parse_host_port(text.substr(6),
                              out.proto == transport::tls ? default_sips_port : default_sip_port);
    if (!hp) {
        return make_error(hp.error_message());
    }
    out.host = std::move(hp->ip.text);
    out.port = hp->port;
    return out;
}

result<dns_server> parse_dns_server(std::string_view text) {
    constexpr std::uint16_t dns_port = 53;  // RFC 1035 4.2
    auto hp = parse_host_port(text, dns_port);
    if (!hp) {
        return make_error(hp.error_message());
    }
    if (hp->ip.is_unspecified()) {
        return make_error("expected a DNS server's address, not 0.0.0.0 or ::");
    }
    return dns_server{std::move(hp->ip.text), hp->port};
}

result<std::string> parse_metrics_listen(std::string_view text) {
    // Port 0 cannot come from the text: it marks a port that was left out.
    auto hp = parse_host_port(text, 0);
    if (!hp) {
        return make_error(hp.error_message());
    }
    if (hp->port == 0) {
        return make_error("expected IP:PORT (IPv6 in brackets), e.g. 127.0.0.1:9464");
    }
    return hp->ip.family == AF_INET6 ? fmt::format("[{}]:{}", hp->ip.text, hp->port)
                                     : fmt::format("{}:{}", hp->ip.text, hp->port);
}

result<std::string> parse_store_address(std::string_view text) {
    constexpr std::uint16_t redis_port = 6379;  // Redis's own default
    constexpr std::size_t max_unix_path = 107;  // sockaddr_un::sun_path, less its NUL
    constexpr std::string_view unix_scheme = "unix:";
    if (text.starts_with(unix_scheme)) {
        const auto path = text.substr(unix_scheme.size());
        if (path.empty() || path.front() != '/' || path.size() > max_unix_path ||
            path.find('\0') != std::string_view::npos) {
            return make_error("expected unix:/absolute/path, the path at most 107 bytes");
        }
        return std::string(text);
    }
    // The link connects from the event loop that carries every call, where
    // a name lookup (getaddrinfo) would block them all while it waits.
    const auto host = text.substr(0, text.find(':'));
    if (text.find(':') == text.rfind(':') && parse_host_name(host)) {
        return make_error(
            "expected an IP address or unix:/path, not a host name (sbcd connects to the store "
            "from its event loop, where waiting for a name lookup would hold up every call)");
    }
    auto hp = parse_host_port(text, redis_port);
    if (!hp) {
        return make_error(hp.error_message());
    }
    if (hp->ip.is_unspecified()) {
        return make_error("expected the store's address, not 0.0.0.0 or ::");
    }
    return hp->ip.family == AF_INET6 ? fmt::format("[{}]:{}", hp->ip.text, hp->port)
                                     : fmt::format("{}:{}", hp->ip.text, hp->port);
}

result<peer_config> parse_peer(std::string_view text) {
    // One parser of peer URIs: the resolver's (sbc/dns/peer_name.hpp), so
    // that what the configuration takes is what RFC 3263 resolves.
    auto name = dns::parse_peer_name(text);
    if (!name) {
        return make_error(name.error_message());
    }
    peer_config out;
    out.host = name->host;
    out.is_name = !name->is_ip;
    out.sips = name->sips;
    switch (name->default_transport()) {
        case dns::transport::udp:
            out.proto = transport::udp;
            break;
        case dns::transport::tcp:
            out.proto = transport::tcp;
            break;
        case dns::transport::tls:
            out.proto = transport::tls;
            break;
    }
    out.transport_given = name->proto.has_value() || name->sips;
    out.port_given = name->port.has_value();
    out.port = name->port.value_or(dns::default_port(name->default_transport()));
    return out;
}

}  // namespace sbc::config::detail
