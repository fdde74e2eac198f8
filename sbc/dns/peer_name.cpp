#include "sbc/dns/peer_name.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

#include "sbc/common/text.hpp"

namespace sbc::dns {

namespace {

constexpr std::string_view peer_form =
    "expected sip:HOST[:PORT][;transport=udp|tcp|tls], sips:HOST[:PORT] or HOST[:PORT]";

bool has_prefix(std::string_view text, std::string_view prefix) noexcept {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

bool is_alnum(char c) noexcept { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// An IP literal in canonical form, or nothing.
std::optional<std::pair<std::string, int>> ip_literal(std::string_view text) {
    std::array<char, INET6_ADDRSTRLEN + 1> buffer{};
    if (text.empty() || text.size() >= buffer.size()) {
        return std::nullopt;
    }
    std::memcpy(buffer.data(), text.data(), text.size());
    std::array<unsigned char, 16> bytes{};
    for (int family : {AF_INET, AF_INET6}) {
        if (inet_pton(family, buffer.data(), bytes.data()) == 1) {
            std::array<char, INET6_ADDRSTRLEN> canonical{};
            if (inet_ntop(family, bytes.data(), canonical.data(), canonical.size()) == nullptr) {
                return std::nullopt;
            }
            return std::make_pair(std::string(canonical.data()), family);
        }
    }
    return std::nullopt;
}

result<std::uint16_t> parse_port(std::string_view digits) {
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return make_error("expected a port number 1..65535");
    }
    unsigned value = 0;
    for (char c : digits) {
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) {
        return make_error("expected a port number 1..65535");
    }
    return static_cast<std::uint16_t>(value);
}

result<transport> parse_params(std::string_view params, bool sips) {
    std::optional<transport> proto;
    while (!params.empty()) {
        const auto semi = params.find(';');
        const auto param = params.substr(0, semi);
        params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
        const auto eq = param.find('=');
        if (eq == std::string_view::npos || !iequals(param.substr(0, eq), "transport")) {
            return make_error("expected ;transport=udp|tcp|tls as the only URI parameter");
        }
        if (proto) {
            return make_error("expected ;transport= once");
        }
        // RFC 3261 19.1.4: URI parameter values compare case-insensitively.
        const auto value = param.substr(eq + 1);
        if (iequals(value, "udp")) {
            proto = transport::udp;
        } else if (iequals(value, "tcp")) {
            // RFC 3261 26.2.2: in a sips: URI, transport=tcp is TLS over TCP.
            proto = sips ? transport::tls : transport::tcp;
        } else if (iequals(value, "tls")) {
            proto = transport::tls;
        } else {
            return make_error("expected ;transport=udp, ;transport=tcp or ;transport=tls");
        }
    }
    if (!proto) {
        return make_error("expected ;transport=udp|tcp|tls after ';'");
    }
    if (sips && *proto == transport::udp) {
        return make_error("expected no transport but tcp or tls in a sips: URI (RFC 3261 26.2.2)");
    }
    return *proto;
}

}  // namespace

bool is_hostname(std::string_view name) noexcept {
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);  // an absolute name (RFC 3261 25.1 allows the dot)
    }
    if (name.empty() || name.size() > 253) {
        return false;
    }
    std::string_view last;
    while (true) {
        const auto dot = name.find('.');
        const auto label = name.substr(0, dot);
        // RFC 3261 25.1: domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
        if (label.empty() || label.size() > 63 || !is_alnum(label.front()) ||
            !is_alnum(label.back()) || !std::all_of(label.begin(), label.end(), [](char c) {
                return is_alnum(c) || c == '-';
            })) {
            return false;
        }
        last = label;
        if (dot == std::string_view::npos) {
            break;
        }
        name.remove_prefix(dot + 1);
    }
    // toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum: this is what
    // tells "10.0.0.256" (no address, no name) from a host name.
    return std::isalpha(static_cast<unsigned char>(last.front())) != 0;
}

result<peer_name> parse_peer_name(std::string_view text) {
    peer_name out;
    if (has_prefix(text, "sips:")) {
        // RFC 3261 19.1: sips means TLS on every hop, so to this peer too.
        out.sips = true;
        text.remove_prefix(5);
    } else if (has_prefix(text, "sip:")) {
        text.remove_prefix(4);
    } else if (text.find("://") != std::string_view::npos) {
        return make_error(std::string(peer_form));
    }
    if (text.find('@') != std::string_view::npos || text.find('?') != std::string_view::npos) {
        // A peer is where requests go, not a user: a user part or URI
        // headers would be silently lost, so they are refused.
        return make_error(std::string(peer_form) + ", without a user part or headers");
    }
    const auto semi = text.find(';');
    if (semi != std::string_view::npos) {
        auto proto = parse_params(text.substr(semi + 1), out.sips);
        if (!proto) {
            return make_error(proto.error_message());
        }
        out.proto = *proto;
        text = text.substr(0, semi);
    }
    std::string_view host = text;
    std::optional<std::string_view> port_text;
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) {
            return make_error("expected ']' after an IPv6 address");
        }
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':') {
                return make_error("expected ':PORT' or nothing after ']'");
            }
            port_text = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
        auto ip = ip_literal(host);
        if (!ip || ip->second != AF_INET6) {
            return make_error("expected an IPv6 address inside [ ]");
        }
        out.host = std::move(ip->first);
        out.is_ip = true;
        out.family = AF_INET6;
    } else {
        const auto colon = host.find(':');
        if (colon != std::string_view::npos &&
            host.find(':', colon + 1) != std::string_view::npos) {
            return make_error("expected an IPv6 address in brackets: [2001:db8::1]:5060");
        }
        if (colon != std::string_view::npos) {
            port_text = host.substr(colon + 1);
            host = host.substr(0, colon);
        }
        if (host.empty()) {
            return make_error(std::string(peer_form) + ": the host is missing");
        }
        if (auto ip = ip_literal(host)) {
            out.host = std::move(ip->first);
            out.is_ip = true;
            out.family = ip->second;
        } else if (is_hostname(host)) {
            out.host.reserve(host.size());
            for (char c : host) {
                out.host += static_cast<char>(ascii_lower(c));
            }
            if (out.host.back() == '.') {
                out.host.pop_back();
            }
        } else {
            return make_error(fmt::format(
                "expected an IP address or a host name (letters, digits and inner hyphens in "
                "dot-separated labels of at most 63, the last beginning with a letter), not '{}'",
                host));
        }
    }
    if (port_text) {
        auto port = parse_port(*port_text);
        if (!port) {
            return make_error(port.error_message());
        }
        out.port = *port;
    }
    return out;
}

std::string peer_name::text() const {
    std::string out = sips ? "sips:" : "sip:";
    out += family == AF_INET6 ? fmt::format("[{}]", host) : host;
    if (port) {
        out += fmt::format(":{}", *port);
    }
    if (proto) {
        out += fmt::format(";transport={}", to_string(*proto));
    }
    return out;
}

transport peer_name::default_transport() const noexcept {
    if (proto) {
        return *proto;
    }
    return sips ? transport::tls : transport::udp;
}

}  // namespace sbc::dns
