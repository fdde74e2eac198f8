// RFC 3263 4 against a real dnsmasq on loopback: each path a peer name can
// take (NAPTR -> SRV -> A, SRV for an explicit transport, A/AAAA for an
// explicit port or when nothing else exists, sips:, IPv6), the order of the
// targets, the answer's TTL, and the ways a name fails.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "sbc/dns/sip_lookup.hpp"
#include "tests/support/dns_servers.hpp"
#include "tests/support/sip_loop.hpp"

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_sip_lookup {

using namespace sbc::dns;
using sbc::test::dnsmasq;
using sbc::test::sip_loop;

namespace {

// The zone the lookups below resolve in (dnsmasq options).
std::vector<std::string> zone() {
    return {
        "--local-ttl=30",
        // NAPTR -> SRV -> A: UDP preferred, then TCP; SCTP is not ours.
        "--naptr-record=naptr.sbc.test,10,50,s,SIP+D2U,,_sip._udp.naptr.sbc.test",
        "--naptr-record=naptr.sbc.test,20,50,s,SIP+D2T,,_sip._tcp.naptr.sbc.test",
        "--naptr-record=naptr.sbc.test,5,50,s,SIP+D2S,,_sip._sctp.naptr.sbc.test",
        "--srv-host=_sip._udp.naptr.sbc.test,udp1.sbc.test,5070,10,60",
        "--srv-host=_sip._udp.naptr.sbc.test,udp2.sbc.test,5070,20,0",
        "--srv-host=_sip._tcp.naptr.sbc.test,tcp1.sbc.test,5071,10,0",
        "--srv-host=_sip._sctp.naptr.sbc.test,udp1.sbc.test,5072,10,0",
        "--srv-host=_sips._tcp.naptr.sbc.test,tls1.sbc.test,5061,10,0",
        "--host-record=naptr.sbc.test,127.0.5.9",
        "--host-record=udp1.sbc.test,127.0.5.1,20",
        "--host-record=udp2.sbc.test,127.0.5.2",
        "--host-record=tcp1.sbc.test,127.0.5.3",
        "--host-record=tls1.sbc.test,127.0.5.4",
        // TLS preferred over TCP by NAPTR.
        "--naptr-record=secure.sbc.test,10,10,s,SIPS+D2T,,_sips._tcp.secure.sbc.test",
        "--naptr-record=secure.sbc.test,20,10,s,SIP+D2T,,_sip._tcp.secure.sbc.test",
        "--srv-host=_sips._tcp.secure.sbc.test,tls1.sbc.test,5061,0,0",
        "--srv-host=_sip._tcp.secure.sbc.test,tcp1.sbc.test,5060,0,0",
        // SRV without NAPTR: priority and weight.
        "--srv-host=_sip._udp.srv.sbc.test,w0.sbc.test,5060,10,0",
        "--srv-host=_sip._udp.srv.sbc.test,w50.sbc.test,5060,10,50",
        "--srv-host=_sip._udp.srv.sbc.test,p20.sbc.test,5060,20,100",
        "--srv-host=_sip._udp.srv.sbc.test,w80.sbc.test,5060,10,80",
        "--host-record=w0.sbc.test,127.0.6.1",
        "--host-record=w50.sbc.test,127.0.6.2",
        "--host-record=p20.sbc.test,127.0.6.3",
        "--host-record=w80.sbc.test,127.0.6.4",
        // Addresses alone, IPv4 and IPv6.
        "--host-record=plain.sbc.test,127.0.7.1",
        "--host-record=dual.sbc.test,127.0.7.2,::1",
        // An alias (RFC 2782 forbids one as an SRV target, but a peer's own
        // name may well be one).
        "--cname=alias.sbc.test,plain.sbc.test",
        // A service said to be unavailable (no target: "." in the SRV record).
        "--srv-host=_sip._udp.none.sbc.test",
        // An SRV record whose target has no address.
        "--srv-host=_sip._udp.dangling.sbc.test,nowhere.sbc.test,5060,10,0",
    };
}

settings asking(const dnsmasq& server) {
    settings s;
    s.servers = {server.server()};
    s.query_timeout = std::chrono::seconds(5);
    return s;
}

sbc::result<resolution> resolve(sip_loop& loop, dns_client& client, std::string_view text,
                                transport_set allowed = transport_set::all()) {
    auto name = parse_peer_name(text);
    INFO(text);
    REQUIRE(name.ok());
    std::optional<sbc::result<resolution>> out;
    sip_lookup lookup(client, name.value(), allowed,
                      [&](sbc::result<resolution> r) { out.emplace(std::move(r)); });
    CHECK_FALSE(out.has_value());  // never inside the constructor
    REQUIRE(loop.run_until([&] { return out.has_value(); }));
    CHECK(lookup.finished());
    return std::move(*out);
}

std::vector<std::string> described(const sbc::result<resolution>& r) {
    INFO((r.ok() ? std::string() : r.error_message()));
    REQUIRE(r.ok());
    std::vector<std::string> out;
    for (const auto& t : r->targets) {
        out.push_back(to_string(t));
    }
    return out;
}

std::string failure(const sbc::result<resolution>& r) {
    REQUIRE_FALSE(r.ok());
    return r.error_message();
}

using lines = std::vector<std::string>;

}  // namespace

TEST_CASE("NAPTR leads to SRV and SRV to addresses (RFC 3263 4.1, 4.2)", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    const auto r = resolve(loop, client, "sip:naptr.sbc.test");
    // UDP's SRV records (NAPTR order 10) before TCP's (order 20, rank 1 in
    // the high bits); SCTP's NAPTR record is not used; the sips SRV name is
    // never asked for, since NAPTR names the domain's transports.
    CHECK(described(r) == lines{
                              "udp 127.0.5.1:5070 priority 10 weight 60 (udp1.sbc.test)",
                              "udp 127.0.5.2:5070 priority 20 weight 0 (udp2.sbc.test)",
                              "tcp 127.0.5.3:5071 priority 65546 weight 0 (tcp1.sbc.test)",
                          });
    // The smallest TTL on the path: udp1's address record.
    CHECK(r->ttl == std::chrono::seconds(20));
}

TEST_CASE("NAPTR's order picks TLS first, and sips: takes TLS alone", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    CHECK(described(resolve(loop, client, "sip:secure.sbc.test")) ==
          lines{
              "tls 127.0.5.4:5061 priority 0 weight 0 (tls1.sbc.test)",
              "tcp 127.0.5.3:5060 priority 65536 weight 0 (tcp1.sbc.test)",
          });
    CHECK(described(resolve(loop, client, "sips:secure.sbc.test")) ==
          lines{"tls 127.0.5.4:5061 priority 0 weight 0 (tls1.sbc.test)"});
    // A caller without TLS gets the TCP record alone.
    CHECK(described(resolve(loop, client, "sip:secure.sbc.test",
                            transport_set::of({transport::udp, transport::tcp}))) ==
          lines{"tcp 127.0.5.3:5060 priority 0 weight 0 (tcp1.sbc.test)"});
    // NAPTR without SIPS+D2T: a sips: URI asks for _sips._tcp itself.
    CHECK(described(resolve(loop, client, "sips:naptr.sbc.test")) ==
          lines{"tls 127.0.5.4:5061 priority 10 weight 0 (tls1.sbc.test)"});
}

TEST_CASE("an explicit transport goes to its SRV name directly (RFC 3263 4.2)", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    CHECK(described(resolve(loop, client, "sip:naptr.sbc.test;transport=tcp")) ==
          lines{"tcp 127.0.5.3:5071 priority 10 weight 0 (tcp1.sbc.test)"});
    CHECK(described(resolve(loop, client, "sip:naptr.sbc.test;transport=tls")) ==
          lines{"tls 127.0.5.4:5061 priority 10 weight 0 (tls1.sbc.test)"});
    // No SRV record for the transport: the domain's own address, at the
    // transport's default port.
    CHECK(described(resolve(loop, client, "sip:plain.sbc.test;transport=tcp")) ==
          lines{"tcp 127.0.7.1:5060 priority 0 weight 0 (plain.sbc.test)"});
    CHECK_THAT(failure(resolve(loop, client, "sip:naptr.sbc.test;transport=tls",
                               transport_set::of({transport::udp}))),
               Catch::Contains("transport tls is not usable"));
}

TEST_CASE("SRV records keep RFC 2782's order: priority, then weight, weight 0 last",
          "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    // No NAPTR: _sip._udp, _sip._tcp and _sips._tcp are asked for; only
    // _sip._udp exists.
    CHECK(described(resolve(loop, client, "sip:srv.sbc.test")) ==
          lines{
              "udp 127.0.6.4:5060 priority 10 weight 80 (w80.sbc.test)",
              "udp 127.0.6.2:5060 priority 10 weight 50 (w50.sbc.test)",
              "udp 127.0.6.1:5060 priority 10 weight 0 (w0.sbc.test)",
              "udp 127.0.6.3:5060 priority 20 weight 100 (p20.sbc.test)",
          });
}

TEST_CASE("an explicit port, or no NAPTR and no SRV, means addresses alone", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    // naptr.sbc.test has NAPTR and SRV records; a port skips both.
    CHECK(described(resolve(loop, client, "sip:naptr.sbc.test:5080")) ==
          lines{"udp 127.0.5.9:5080 priority 0 weight 0 (naptr.sbc.test)"});
    CHECK(described(resolve(loop, client, "naptr.sbc.test:5080")) ==
          lines{"udp 127.0.5.9:5080 priority 0 weight 0 (naptr.sbc.test)"});
    // A port with a transport: still no SRV (RFC 3263 4.2), that transport.
    CHECK(described(resolve(loop, client, "sip:naptr.sbc.test:5080;transport=tcp")) ==
          lines{"tcp 127.0.5.9:5080 priority 0 weight 0 (naptr.sbc.test)"});
    const auto plain = resolve(loop, client, "sip:plain.sbc.test");
    CHECK(described(plain) == lines{"udp 127.0.7.1:5060 priority 0 weight 0 (plain.sbc.test)"});
    CHECK(plain->ttl == std::chrono::seconds(30));
    CHECK(described(resolve(loop, client, "sips:plain.sbc.test")) ==
          lines{"tls 127.0.7.1:5061 priority 0 weight 0 (plain.sbc.test)"});
    // sres follows a CNAME to the addresses.
    CHECK(described(resolve(loop, client, "sip:alias.sbc.test:5070")) ==
          lines{"udp 127.0.7.1:5070 priority 0 weight 0 (alias.sbc.test)"});
}

TEST_CASE("AAAA records give IPv6 targets, after the IPv4 ones", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    CHECK(described(resolve(loop, client, "sip:dual.sbc.test:5060")) ==
          lines{
              "udp 127.0.7.2:5060 priority 0 weight 0 (dual.sbc.test)",
              "udp [::1]:5060 priority 0 weight 0 (dual.sbc.test)",
          });
    auto v6_only = asking(server);
    v6_only.ipv4 = false;
    dns_client client6(loop.root(), v6_only);
    CHECK(described(resolve(loop, client6, "sip:dual.sbc.test")) ==
          lines{"udp [::1]:5060 priority 0 weight 0 (dual.sbc.test)"});
    CHECK_THAT(failure(resolve(loop, client6, "sip:plain.sbc.test")),
               Catch::Contains("no address records"));
}

TEST_CASE("an IP literal resolves to itself, without DNS", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    CHECK(described(resolve(loop, client, "sip:[2001:db8::1]:5070;transport=tcp")) ==
          lines{"tcp [2001:db8::1]:5070 priority 0 weight 0 (2001:db8::1)"});
    CHECK(described(resolve(loop, client, "sips:192.0.2.1")) ==
          lines{"tls 192.0.2.1:5061 priority 0 weight 0 (192.0.2.1)"});
    CHECK(client.outstanding() == 0);
}

TEST_CASE("names that do not resolve fail with what went wrong", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    CHECK_THAT(failure(resolve(loop, client, "sip:nope.sbc.test")),
               Catch::Contains("nope.sbc.test: NXDOMAIN"));
    CHECK_THAT(failure(resolve(loop, client, "sip:none.sbc.test;transport=udp")),
               Catch::Contains("not available"));
    CHECK_THAT(failure(resolve(loop, client, "sip:dangling.sbc.test;transport=udp")),
               Catch::Contains("nowhere.sbc.test: NXDOMAIN"));
    // A server that refuses (SERVFAIL alike) fails the lookup: no partial
    // answer stands in for a complete one.
    CHECK_THAT(failure(resolve(loop, client, "sip:peer.example.com")),
               Catch::Contains("SRV _sip._udp.peer.example.com: server failure"));
}

TEST_CASE("a host whose AAAA query fails still resolves by its A records (RFC 4074)",
          "[dns][lookup]") {
    // Outside dnsmasq's zone, with nothing to forward to: the host record
    // answers A, and AAAA gets REFUSED.
    auto options = zone();
    options.push_back("--host-record=v4only.example.net,127.0.5.7");
    dnsmasq server(options);
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    CHECK(described(resolve(loop, client, "sip:v4only.example.net:5060")) ==
          lines{"udp 127.0.5.7:5060 priority 0 weight 0 (v4only.example.net)"});
}

TEST_CASE("a lookup destroyed before its answer calls nobody", "[dns][lookup]") {
    dnsmasq server(zone());
    sip_loop loop;
    dns_client client(loop.root(), asking(server));
    bool called = false;
    {
        auto name = parse_peer_name("sip:naptr.sbc.test");
        REQUIRE(name.ok());
        sip_lookup lookup(client, name.value(), transport_set::all(),
                          [&](sbc::result<resolution>) { called = true; });
        CHECK(client.outstanding() == 1);  // its NAPTR query
    }
    CHECK(client.outstanding() == 0);
    loop.drain();
    CHECK_FALSE(called);
}

}  // namespace test_sip_lookup
