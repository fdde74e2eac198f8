// The steps of RFC 3263 4.1 and RFC 2782 that need no network: which NAPTR
// records a client uses and in what order, the SRV names asked for without
// them, and the order of SRV records and final targets.
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include "sbc/dns/sip_services.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_sip_services {

using namespace sbc::dns;

namespace {

naptr_record naptr(std::uint16_t order, std::uint16_t pref, std::string services,
                   std::string replacement, std::string flags = "s", std::string regexp = "") {
    return naptr_record{order,
                        pref,
                        std::move(flags),
                        std::move(services),
                        std::move(regexp),
                        std::move(replacement),
                        300};
}

srv_record srv(std::uint16_t prio, std::uint16_t weight, std::string target,
               std::uint16_t port = 5060) {
    return srv_record{prio, weight, port, std::move(target), 300};
}

std::vector<std::string> names(const std::vector<srv_service>& services) {
    std::vector<std::string> out;
    for (const auto& s : services) {
        out.push_back(s.name + "/" + std::string(to_string(s.proto)) + "/" +
                      std::to_string(s.rank));
    }
    return out;
}

std::vector<std::string> targets_of(const std::vector<srv_record>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) {
        out.push_back(r.target);
    }
    return out;
}

}  // namespace

TEST_CASE("NAPTR records are used by order, then preference (RFC 3403 4.1)", "[dns][rfc3263]") {
    const std::vector<naptr_record> records = {
        naptr(90, 50, "SIP+D2T", "_sip._tcp.example.com"),
        naptr(50, 60, "SIP+D2U", "_sip._udp.example.com"),
        naptr(50, 50, "SIPS+D2T", "_sips._tcp.example.com"),
    };
    CHECK(names(services_from_naptr(records, false, transport_set::all())) ==
          std::vector<std::string>{"_sips._tcp.example.com/tls/0", "_sip._udp.example.com/udp/1",
                                   "_sip._tcp.example.com/tcp/2"});
}

TEST_CASE("NAPTR records a SIP client cannot use are discarded (RFC 3263 4.1)", "[dns][rfc3263]") {
    const std::vector<naptr_record> records = {
        naptr(10, 10, "SIP+D2S", "_sip._sctp.example.com"),          // SCTP: not ours
        naptr(10, 20, "E2U+sip", "_sip._udp.example.com"),           // ENUM, not RFC 3263
        naptr(10, 30, "SIP+D2U", "_sip._udp.example.com", "a"),      // not terminal in SRV
        naptr(10, 40, "SIP+D2U", "", "s"),                           // no replacement
        naptr(10, 50, "SIP+D2U", "x.example.com", "s", "!^.*$!x!"),  // a regexp: not SIP's form
        naptr(20, 10, "sip+d2t", "_sip._tcp.example.com", "S"),      // case does not matter
        naptr(20, 20, "SIP+D2T", "_sip._tcp.example.com"),           // a duplicate
        naptr(30, 10, "SIPS+D2T", "_sips._tcp.example.com"),
    };
    CHECK(names(services_from_naptr(records, false, transport_set::all())) ==
          std::vector<std::string>{"_sip._tcp.example.com/tcp/0", "_sips._tcp.example.com/tls/1"});
    // A sips: URI MUST discard every service but SIPS+D2T.
    CHECK(names(services_from_naptr(records, true, transport_set::all())) ==
          std::vector<std::string>{"_sips._tcp.example.com/tls/0"});
    // Transports the caller cannot use are discarded too.
    CHECK(names(services_from_naptr(records, false,
                                    transport_set::of({transport::udp, transport::tcp}))) ==
          std::vector<std::string>{"_sip._tcp.example.com/tcp/0"});
}

TEST_CASE("without NAPTR, SRV is asked for each transport (RFC 3263 4.1)", "[dns][rfc3263]") {
    CHECK(names(default_services("example.com", false, transport_set::all())) ==
          std::vector<std::string>{"_sip._udp.example.com/udp/0", "_sip._tcp.example.com/tcp/1",
                                   "_sips._tcp.example.com/tls/2"});
    CHECK(names(default_services("example.com", true, transport_set::all())) ==
          std::vector<std::string>{"_sips._tcp.example.com/tls/0"});
    CHECK(default_services("example.com", true, transport_set::of({transport::udp})).empty());
    CHECK(service_for("example.com", transport::tls).name == "_sips._tcp.example.com");
    CHECK(service_for("example.com", transport::tcp).name == "_sip._tcp.example.com");
}

TEST_CASE("SRV records: priority first, weight 0 after the weighted (RFC 2782)", "[dns][rfc3263]") {
    std::vector<srv_record> records = {
        srv(20, 100, "c.example.com"), srv(10, 0, "a.example.com"), srv(10, 50, "b.example.com"),
        srv(10, 80, "d.example.com"),  srv(10, 0, "0.example.com"), srv(5, 0, "e.example.com"),
    };
    order_srv(records);
    CHECK(targets_of(records) == std::vector<std::string>{"e.example.com", "d.example.com",
                                                          "b.example.com", "0.example.com",
                                                          "a.example.com", "c.example.com"});
    // A server that rotates its RRset changes nothing.
    std::rotate(records.begin(), records.begin() + 2, records.end());
    auto again = records;
    order_srv(again);
    CHECK(targets_of(again) == std::vector<std::string>{"e.example.com", "d.example.com",
                                                        "b.example.com", "0.example.com",
                                                        "a.example.com", "c.example.com"});
}

TEST_CASE("targets are ordered canonically and without duplicates", "[dns][rfc3263]") {
    std::vector<target> targets = {
        {"::1", AF_INET6, 5060, transport::udp, 0, 0, "h.example.com"},
        {"10.0.0.10", AF_INET, 5060, transport::udp, 0, 0, "h.example.com"},
        {"10.0.0.9", AF_INET, 5060, transport::udp, 0, 0, "h.example.com"},
        {"10.0.0.9", AF_INET, 5060, transport::udp, 65546, 0, "h.example.com"},  // again, worse
        {"10.0.0.9", AF_INET, 5060, transport::tcp, 65546, 0, "h.example.com"},  // other transport
    };
    order_targets(targets);
    REQUIRE(targets.size() == 4);
    CHECK(targets[0].address == "10.0.0.9");
    CHECK(targets[1].address == "10.0.0.10");
    CHECK(targets[2].address == "::1");
    CHECK(targets[3].proto == transport::tcp);
}

}  // namespace test_sip_services
