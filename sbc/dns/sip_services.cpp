#include "sbc/dns/sip_services.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <tuple>

#include "sbc/common/text.hpp"

namespace sbc::dns {

namespace {

// Enough for every transport twice; a hostile zone gets no more queries.
constexpr std::size_t max_services = 6;

// RFC 3263 4.1 (and its IANA registry): the three services of SIP over the
// transports sbc speaks. SCTP (D2S) and WebSocket (D2W) are not among them.
std::optional<transport> service_transport(std::string_view services, bool sips) {
    if (iequals(services, "SIPS+D2T")) {
        return transport::tls;
    }
    if (sips) {
        // A sips: URI MUST discard every service but SIPS ones.
        return std::nullopt;
    }
    if (iequals(services, "SIP+D2U")) {
        return transport::udp;
    }
    if (iequals(services, "SIP+D2T")) {
        return transport::tcp;
    }
    return std::nullopt;
}

// Where two addresses' bytes compare as numbers ("10.0.0.9" before
// "10.0.0.10"), for a stable order of an address RRset.
std::tuple<int, std::string> address_key(const target& t) {
    std::string bytes(16, '\0');
    inet_pton(t.family, t.address.c_str(), bytes.data());
    return {t.family == AF_INET6 ? 1 : 0, bytes};
}

}  // namespace

std::vector<srv_service> services_from_naptr(const std::vector<naptr_record>& records, bool sips,
                                             transport_set allowed) {
    std::vector<const naptr_record*> usable;
    for (const auto& r : records) {
        // RFC 3263 4.1: SIP's NAPTR records are terminal ("S": the next
        // lookup is SRV) with an empty regular expression; the replacement
        // is the SRV name.
        if (!iequals(r.flags, "s") || !r.regexp.empty() || r.replacement.empty() ||
            r.replacement == ".") {
            continue;
        }
        const auto proto = service_transport(r.services, sips);
        if (!proto || !allowed.has(*proto)) {
            continue;
        }
        usable.push_back(&r);
    }
    // RFC 3403 4.1: Order first, Preference among equal Orders.
    std::stable_sort(usable.begin(), usable.end(), [](const auto* a, const auto* b) {
        return std::tie(a->order, a->preference) < std::tie(b->order, b->preference);
    });
    std::vector<srv_service> out;
    for (const auto* r : usable) {
        srv_service s{r->replacement, *service_transport(r->services, sips), 0};
        const bool seen = std::any_of(out.begin(), out.end(), [&](const srv_service& o) {
            return o.name == s.name && o.proto == s.proto;
        });
        if (seen) {
            continue;
        }
        s.rank = static_cast<std::uint16_t>(out.size());
        out.push_back(std::move(s));
        if (out.size() == max_services) {
            break;
        }
    }
    return out;
}

std::vector<srv_service> default_services(const std::string& host, bool sips,
                                          transport_set allowed) {
    std::vector<srv_service> out;
    auto add = [&](transport proto) {
        if (allowed.has(proto)) {
            auto s = service_for(host, proto);
            s.rank = static_cast<std::uint16_t>(out.size());
            out.push_back(std::move(s));
        }
    };
    if (!sips) {
        add(transport::udp);
        add(transport::tcp);
    }
    add(transport::tls);
    return out;
}

srv_service service_for(const std::string& host, transport proto) {
    // RFC 3263 4.2: "_sips" for TLS; "_sip" otherwise, with the transport's
    // own protocol label.
    switch (proto) {
        case transport::udp:
            return {"_sip._udp." + host, proto, 0};
        case transport::tcp:
            return {"_sip._tcp." + host, proto, 0};
        case transport::tls:
            return {"_sips._tcp." + host, proto, 0};
    }
    return {"_sip._udp." + host, transport::udp, 0};
}

void order_srv(std::vector<srv_record>& records) {
    std::sort(records.begin(), records.end(), [](const srv_record& a, const srv_record& b) {
        const bool a_zero = a.weight == 0;
        const bool b_zero = b.weight == 0;
        return std::make_tuple(a.priority, a_zero, -static_cast<int>(a.weight), a.target, a.port) <
               std::make_tuple(b.priority, b_zero, -static_cast<int>(b.weight), b.target, b.port);
    });
}

void order_targets(std::vector<target>& targets) {
    std::sort(targets.begin(), targets.end(), [](const target& a, const target& b) {
        const bool a_zero = a.weight == 0;
        const bool b_zero = b.weight == 0;
        return std::make_tuple(a.priority, a_zero, -static_cast<int>(a.weight), a.host,
                               address_key(a), a.port, a.proto) <
               std::make_tuple(b.priority, b_zero, -static_cast<int>(b.weight), b.host,
                               address_key(b), b.port, b.proto);
    });
    std::vector<target> unique;
    unique.reserve(targets.size());
    for (auto& t : targets) {
        const bool seen = std::any_of(unique.begin(), unique.end(), [&](const target& u) {
            return u.address == t.address && u.port == t.port && u.proto == t.proto;
        });
        if (!seen) {
            unique.push_back(std::move(t));
        }
    }
    targets = std::move(unique);
}

}  // namespace sbc::dns
