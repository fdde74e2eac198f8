#include "sbc/dns/sip_lookup.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace sbc::dns {

namespace {

// SRV targets whose addresses one lookup asks for: a zone listing more
// gets its first ones (in RFC 2782 order), not a query storm.
constexpr std::size_t max_hosts = 16;

constexpr std::uint32_t composite_priority(std::uint16_t rank, std::uint16_t srv_priority) {
    return (static_cast<std::uint32_t>(rank) << 16) | srv_priority;
}

// RFC 3263 4.1: with nothing in DNS to say otherwise, UDP for sip: and TLS
// for sips: (or the next transport the caller can use).
transport fallback_transport(bool sips, transport_set allowed) {
    if (sips) {
        return transport::tls;
    }
    for (auto t : {transport::udp, transport::tcp, transport::tls}) {
        if (allowed.has(t)) {
            return t;
        }
    }
    return transport::udp;
}

}  // namespace

resolution literal_resolution(const peer_name& name) {
    const auto proto = name.default_transport();
    target t;
    t.address = name.host;
    t.family = name.family;
    t.port = name.port.value_or(default_port(proto));
    t.proto = proto;
    t.host = name.host;
    return resolution{{std::move(t)}, std::chrono::seconds::max()};
}

sip_lookup::sip_lookup(dns_client& dns, peer_name name, transport_set allowed, done_fn done)
    : _dns(&dns),
      _name(std::move(name)),
      _allowed(allowed),
      _done(std::move(done)),
      _later(dns.root()) {
    auto fail_later = [this](std::string why) {
        _later.arm(std::chrono::milliseconds(0),
                   [this, why = std::move(why)] { finish(make_error(why)); });
    };
    const auto proto = _name.default_transport();
    if (_name.is_ip || _name.proto || _name.port) {
        if (!_allowed.has(proto)) {
            fail_later(
                fmt::format("{}: transport {} is not usable here", _name.text(), to_string(proto)));
            return;
        }
    }
    if (_name.is_ip) {
        // RFC 3263 4.2: a numeric address is used as it is.
        _later.arm(std::chrono::milliseconds(0), [this] { finish(literal_resolution(_name)); });
    } else if (_name.port) {
        // RFC 3263 4.2: an explicit port skips NAPTR and SRV, whatever the
        // transport (explicit, or UDP for sip: and TLS for sips:).
        _fallback = proto;
        ask_addresses(_name.host, {*_name.port, proto, 0, 0});
        ask_host_addresses();
    } else if (_name.proto) {
        // RFC 3263 4.2: an explicit transport skips NAPTR; SRV for it, and
        // A/AAAA at its default port when there is no SRV record.
        _fallback = proto;
        ask_srv({service_for(_name.host, proto)});
    } else {
        ask_naptr();
    }
}

sip_lookup::~sip_lookup() = default;

void sip_lookup::ask_naptr() {
    _naptr = _dns->ask(record_type::naptr, _name.host,
                       [this](dns_answer answer) { on_naptr(std::move(answer)); });
}

void sip_lookup::on_naptr(dns_answer answer) {
    if (answer.status == dns_status::timeout || answer.status == dns_status::network_error) {
        finish(make_error(fmt::format("NAPTR {}: {}", _name.host, to_string(answer.status))));
        return;
    }
    std::vector<srv_service> services;
    if (answer.status == dns_status::ok) {
        services = services_from_naptr(answer.naptr, _name.sips, _allowed);
    }
    if (!services.empty()) {
        for (const auto& r : answer.naptr) {
            note_ttl(r.ttl);
        }
        // RFC 3263 4.1: with NAPTR records, the domain's most preferred
        // transport is the first usable one; it is also the one the A/AAAA
        // fallback takes when no SRV record exists.
        _fallback = services.front().proto;
    } else {
        // RFC 3263 4.1: no (usable) NAPTR records: SRV for each transport.
        services = default_services(_name.host, _name.sips, _allowed);
        _fallback = fallback_transport(_name.sips, _allowed);
        if (services.empty()) {
            finish(make_error(fmt::format("{}: no transport usable here", _name.text())));
            return;
        }
    }
    ask_srv(std::move(services));
}

void sip_lookup::ask_srv(std::vector<srv_service> services) {
    _srv.clear();
    _srv.resize(services.size());
    _srv_pending = services.size();
    for (std::size_t i = 0; i < services.size(); ++i) {
        _srv[i].service = std::move(services[i]);
        _srv[i].query = _dns->ask(record_type::srv, _srv[i].service.name,
                                  [this, i](dns_answer answer) { on_srv(i, std::move(answer)); });
    }
}

void sip_lookup::on_srv(std::size_t index, dns_answer answer) {
    _srv.at(index).answer = std::move(answer);
    if (--_srv_pending > 0) {
        return;
    }
    bool declined = false;  // a service said "not here" with a "." target
    for (auto& step : _srv) {
        const auto& a = *step.answer;
        if (a.status != dns_status::ok && !is_negative(a.status)) {
            finish(make_error(fmt::format("SRV {}: {}", step.service.name, to_string(a.status))));
            return;
        }
        auto records = a.srv;
        order_srv(records);
        for (const auto& r : records) {
            if (r.target == ".") {
                // RFC 2782: "." as the target: the service is decidedly not
                // available at this domain.
                declined = true;
                continue;
            }
            if (_hosts.size() >= max_hosts && _hosts.count(r.target) == 0) {
                continue;
            }
            note_ttl(r.ttl);
            ask_addresses(r.target, {r.port, step.service.proto,
                                     composite_priority(step.service.rank, r.priority), r.weight});
        }
    }
    if (_hosts.empty()) {
        if (declined) {
            finish(make_error(fmt::format(
                "{}: SIP service not available there (SRV target \".\", RFC 2782)", _name.host)));
            return;
        }
        // RFC 3263 4.2: no SRV records: A/AAAA of the domain itself, at the
        // transport's default port.
        ask_addresses(_name.host, {default_port(_fallback), _fallback, 0, 0});
    }
    ask_host_addresses();
}

void sip_lookup::ask_addresses(const std::string& host, host_step::use use) {
    _hosts[host].uses.push_back(use);
}

void sip_lookup::ask_host_addresses() {
    // Counted first: no answer comes inside ask(), but the count must be
    // whole before any does.
    _host_pending = _hosts.size() * ((_dns->ipv4() ? 1 : 0) + (_dns->ipv6() ? 1 : 0));
    for (auto& [host, step] : _hosts) {
        if (_dns->ipv4()) {
            step.a = _dns->ask(record_type::a, host, [this, host = host](dns_answer answer) {
                on_address(host, record_type::a, std::move(answer));
            });
        }
        if (_dns->ipv6()) {
            step.aaaa = _dns->ask(record_type::aaaa, host, [this, host = host](dns_answer answer) {
                on_address(host, record_type::aaaa, std::move(answer));
            });
        }
    }
}

void sip_lookup::on_address(const std::string& host, record_type type, dns_answer answer) {
    auto& step = _hosts.at(host);
    (type == record_type::a ? step.a_answer : step.aaaa_answer) = std::move(answer);
    if (--_host_pending > 0) {
        return;
    }
    assemble();
}

void sip_lookup::assemble() {
    std::vector<target> targets;
    bool all_nxdomain = true;
    for (const auto& [host, step] : _hosts) {
        // One family's failure costs a host nothing when the other family
        // gave it addresses: servers that fail AAAA queries while answering
        // A ones are common enough to have an RFC (4074). A host with no
        // address and a failure fails the lookup: no partial answer stands
        // in for a complete one.
        std::string failure;
        bool addressed = false;
        for (const auto* a : {&step.a_answer, &step.aaaa_answer}) {
            if (!a->has_value()) {
                continue;
            }
            const auto& answer = **a;
            if (answer.status != dns_status::ok && !is_negative(answer.status)) {
                failure = fmt::format("{} {}: {}", a == &step.a_answer ? "A" : "AAAA", host,
                                      to_string(answer.status));
                continue;
            }
            all_nxdomain = all_nxdomain && answer.status == dns_status::nxdomain;
            for (const auto& address : answer.addresses) {
                addressed = true;
                note_ttl(address.ttl);
                for (const auto& use : step.uses) {
                    targets.push_back(target{address.address, address.family, use.port, use.proto,
                                             use.priority, use.weight, host});
                }
            }
        }
        if (!failure.empty() && !addressed) {
            finish(make_error(failure));
            return;
        }
    }
    if (targets.empty()) {
        std::string hosts;
        for (const auto& [host, step] : _hosts) {
            hosts += hosts.empty() ? host : ", " + host;
        }
        finish(make_error(all_nxdomain ? fmt::format("{}: NXDOMAIN", hosts)
                                       : fmt::format("{}: no address records", hosts)));
        return;
    }
    order_targets(targets);
    finish(resolution{std::move(targets), std::chrono::seconds(_ttl)});
}

void sip_lookup::note_ttl(std::uint32_t ttl) noexcept { _ttl = std::min(_ttl, ttl); }

void sip_lookup::finish(result<resolution> r) {
    if (!_done) {
        return;
    }
    // The callback runs last: it may destroy this lookup.
    auto done = std::move(_done);
    _done = nullptr;
    done(std::move(r));
}

}  // namespace sbc::dns
