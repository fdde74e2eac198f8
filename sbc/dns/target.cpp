#include "sbc/dns/target.hpp"

#include <netinet/in.h>

#include <fmt/format.h>

namespace sbc::dns {

std::string_view to_string(transport t) noexcept {
    switch (t) {
        case transport::udp:
            return "udp";
        case transport::tcp:
            return "tcp";
        case transport::tls:
            return "tls";
    }
    return "udp";
}

std::string to_string(const target& t) {
    const auto address = t.family == AF_INET6 ? fmt::format("[{}]", t.address) : t.address;
    return fmt::format("{} {}:{} priority {} weight {} ({})", to_string(t.proto), address, t.port,
                       t.priority, t.weight, t.host);
}

}  // namespace sbc::dns
