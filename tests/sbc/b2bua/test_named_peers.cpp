// A trunk whose peer is a host name (RFC 3263), served by a real dnsmasq on
// loopback: calls reach the resolved scripted peers with the name in the
// Request-URI, SRV priority orders failover, a changed answer moves new calls
// and keeps the calls already up, and the peer ACL follows the answer.
#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/support/dns_servers.hpp"

using namespace sbc::test;

// Its own namespace: the tier's files are compiled together in a unity build.
namespace test_named_peers {

namespace {

constexpr const char* dns_address = "127.0.54.1";
constexpr const char* name = "pbx.sbc.test";

/// NAPTR -> SRV -> A for pbx.sbc.test: each {address, port} a target of its
/// own, the first at SRV priority 10, the next at 20, and so on.
std::vector<std::string> records(const std::vector<std::pair<std::string, std::uint16_t>>& hosts) {
    std::vector<std::string> r{
        "--local-ttl=600",
        fmt::format("--naptr-record={},10,50,s,SIP+D2U,,_sip._udp.{}", name, name),
    };
    unsigned priority = 10;
    int n = 1;
    for (const auto& [address, port] : hosts) {
        r.push_back(
            fmt::format("--srv-host=_sip._udp.{},h{}.sbc.test,{},{},100", name, n, port, priority));
        r.push_back(fmt::format("--host-record=h{}.sbc.test,{},600", n, address));
        priority += 10;
        ++n;
    }
    return r;
}

topology named_pbx(const dnsmasq& dns) {
    topology t;
    t.pbx_peers = fmt::format("\"sip:{}\"", name);
    t.top = {fmt::format("dns: {{servers: ['{}']}}", dns.server())};
    return t;
}

/// The pbx trunk's peer (the name) as `sbcctl trunks --json` shows it.
nlohmann::json pbx_peer(b2bua_fixture& f) {
    const auto reply = f.sbc().trunks();
    for (const auto& t : reply["trunks"]) {
        if (t["name"] == "pbx") {
            return t["peers"][0];
        }
    }
    FAIL("no trunk pbx");
    return {};
}

bool has_target(b2bua_fixture& f, const std::string& address) {
    const auto* table = f.sbc().peers_of("pbx");
    for (std::size_t i = 0; i < table->size(); ++i) {
        if (table->target_at(i).current && table->target_at(i).host == address) {
            return true;
        }
    }
    return false;
}

/// dnsmasq serves `r` from now on, and the name is resolved again at once;
/// returns once `address` is among its targets.
void serve(dnsmasq& dns, b2bua_fixture& f, const std::vector<std::string>& r,
           const std::string& address) {
    // The attempt under way (the first one) is left to finish, so that the
    // refresh below is a new one, asking the new records.
    REQUIRE(f.loop.run_until([&] {
        const auto p = pbx_peer(f);
        return !p["last_error"].is_null() || !p["resolved_at"].is_null();
    }));
    dns.restart(r);
    f.sbc().refresh_names();
    REQUIRE(f.loop.run_until([&] { return has_target(f, address); }));
}

std::string host_of(const url_t* url) { return url != nullptr ? url->url_host : ""; }

/// The scripted peer `p` takes the INVITE the carrier sent through the SBC.
void answer(incoming_request& invite, peer_dialog& caller, scripted_peer& p) {
    invite.reply(200, sdp_audio(31000, p.name()));
    caller.expect(200);
    caller.ack();
    p.expect("ACK");
}

/// An OPTIONS from `p` to the SBC's pbx side: the status it gets (the ACL
/// answers 403 for an address that is no peer of the pbx trunk).
void options_from(scripted_peer& p, b2bua_fixture& f, int status) {
    p.send(SIP_METHOD_OPTIONS, f.pbx_side_uri("ping")).expect(status);
}

}  // namespace

TEST_CASE("a peer by name: the call reaches its SRV target with the name in the Request-URI",
          "[b2bua][names]") {
    dnsmasq dns({}, dns_address);
    b2bua_fixture f(named_pbx(dns));
    scripted_peer first(f.loop, "first", "127.0.0.4");
    scripted_peer second(f.loop, "second", "127.0.0.5");
    serve(dns, f, records({{"127.0.0.4", first.port()}, {"127.0.0.5", second.port()}}),
          "127.0.0.4");

    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& invite = first.expect("INVITE");
    // RFC 3263: the URI the SBC dialled; the packet went to the address.
    CHECK(host_of(invite.sip()->sip_request->rq_url) == name);
    CHECK(host_of(invite.sip()->sip_to->a_url) == name);
    answer(invite, call, first);

    const auto peer = pbx_peer(f);
    CHECK(peer["name"] == "sip:pbx.sbc.test");
    CHECK(peer["state"] == "up");
    CHECK(peer["stale"] == false);
    CHECK(peer["last_error"].is_null());
    CHECK_FALSE(peer["expires"].is_null());
    REQUIRE(peer["targets"].size() == 2);
    CHECK(peer["targets"][0]["address"] == "127.0.0.4");
    CHECK(peer["targets"][0]["port"] == first.port());
    CHECK(peer["targets"][0]["transport"] == "udp");
    CHECK(peer["targets"][0]["priority"] < peer["targets"][1]["priority"]);
    CHECK(peer["targets"][0]["current"] == true);
    CHECK(peer["targets"][0]["active_calls"] == 1);

    auto& bye = call.bye();
    first.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    second.expect_nothing_more();
}

TEST_CASE("a peer by name: SRV priority orders failover", "[b2bua][names][failover]") {
    dnsmasq dns({}, dns_address);
    b2bua_fixture f(named_pbx(dns));
    scripted_peer first(f.loop, "first", "127.0.0.4");
    scripted_peer second(f.loop, "second", "127.0.0.5");
    serve(dns, f, records({{"127.0.0.4", first.port()}, {"127.0.0.5", second.port()}}),
          "127.0.0.5");

    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    first.expect("INVITE").reply(503);
    auto& invite = second.expect("INVITE");
    CHECK(host_of(invite.sip()->sip_request->rq_url) == name);
    answer(invite, call, second);
    auto& bye = call.bye();
    second.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    first.expect_nothing_more();
}

TEST_CASE("a changed answer moves new calls; a call on the old target stays up, the ACL follows",
          "[b2bua][names]") {
    dnsmasq dns({}, dns_address);
    b2bua_fixture f(named_pbx(dns));
    scripted_peer old_peer(f.loop, "old", "127.0.0.4");
    scripted_peer new_peer(f.loop, "new", "127.0.0.6");
    serve(dns, f, records({{"127.0.0.4", old_peer.port()}}), "127.0.0.4");
    options_from(old_peer, f, 200);
    options_from(new_peer, f, 403);

    auto& up = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& up_invite = old_peer.expect("INVITE");
    answer(up_invite, up, old_peer);

    serve(dns, f, records({{"127.0.0.6", new_peer.port()}}), "127.0.0.6");
    // The old address is kept while a call uses it; the new one is a peer.
    options_from(old_peer, f, 200);
    options_from(new_peer, f, 200);
    const auto peer = pbx_peer(f);
    REQUIRE(peer["targets"].size() == 2);
    CHECK(peer["targets"][0]["current"] == false);
    CHECK(peer["targets"][0]["active_calls"] == 1);
    CHECK(peer["targets"][1]["current"] == true);

    // A new call goes to the new target.
    auto& next = f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(30100, "carrier"));
    auto& next_invite = new_peer.expect("INVITE");
    CHECK(host_of(next_invite.sip()->sip_request->rq_url) == name);
    answer(next_invite, next, new_peer);

    // The call on the old target is still up, and ends from there.
    auto& bye = up_invite.dialog().bye();
    f.carrier.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.loop.run_until([&] { return f.sbc().call_count() == 1; }));
    // Its last call gone, the old address is no peer any more.
    options_from(old_peer, f, 403);
    options_from(new_peer, f, 200);

    auto& bye2 = next.bye();
    new_peer.expect("BYE").reply(200);
    bye2.expect(200);
    REQUIRE(f.calls_gone());
}

TEST_CASE("a peer by name without targets: its calls fail at once, as to a down peer",
          "[b2bua][names]") {
    dnsmasq dns({"--local-ttl=600"}, dns_address);
    b2bua_fixture f(named_pbx(dns));
    // Not resolved yet, or resolved to nothing (NXDOMAIN): no wait on DNS.
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    call.expect(503);
    REQUIRE(f.loop.run_until([&] { return !pbx_peer(f)["last_error"].is_null(); }));
    CHECK(pbx_peer(f)["state"] == "down");
    CHECK(pbx_peer(f)["targets"].empty());
    auto& again = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    again.expect(503);
    REQUIRE(f.calls_gone());
}

}  // namespace test_named_peers
