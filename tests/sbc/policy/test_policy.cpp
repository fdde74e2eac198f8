// The peer ACL and the topology-hiding header allow-list (routing: test_routing.cpp).
#include <catch2/catch.hpp>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_parser.h>

#include <map>
#include <string>

#include "sbc/b2bua/status_map.hpp"
#include "sbc/policy/header_filter.hpp"
#include "sbc/policy/peer_acl.hpp"

using namespace sbc;

namespace {

config::config demo_config() {
    config::config c;
    c.interfaces.resize(2);
    c.interfaces[0].name = "carrier";
    c.interfaces[0].media_address = "127.0.1.1";
    c.interfaces[1].name = "pbx";
    c.interfaces[1].media_address = "127.0.2.1";
    config::trunk_config carrier;
    carrier.name = "carrier";
    carrier.interface = "carrier";
    carrier.peers = {{.host = "127.0.1.2", .port = 5060, .proto = config::transport::udp},
                     {.host = "2001:db8::7", .port = 5060, .proto = config::transport::tcp}};
    config::trunk_config pbx;
    pbx.name = "pbx";
    pbx.interface = "pbx";
    pbx.peers = {{.host = "127.0.2.2", .port = 5060, .proto = config::transport::udp}};
    c.trunks = {carrier, pbx};
    config::route_config emergency;
    emergency.name = "emergency";
    emergency.from_trunk = "pbx";
    emergency.ruri_user = "^(911|112)$";
    emergency.to_trunks = {"carrier"};
    config::route_config from_pbx;
    from_pbx.name = "from-pbx";
    from_pbx.from_interface = "pbx";
    from_pbx.ruri_user = "^\\+?[0-9]+$";
    from_pbx.to_trunks = {"carrier"};
    config::route_config from_carrier;
    from_carrier.name = "from-carrier";
    from_carrier.from_trunk = "carrier";
    from_carrier.to_trunks = {"pbx"};
    c.routes = {emergency, from_pbx, from_carrier};
    return c;
}

struct parsed_msg {
    explicit parsed_msg(const std::string& text) {
        msg = msg_make(sip_default_mclass(), 0, text.data(), text.size());
    }
    ~parsed_msg() { msg_destroy(msg); }
    const sip_t* sip() const { return sip_object(msg); }
    msg_t* msg;
};

/// The peer tables of `cfg`'s trunks, as the b2bua keeps them.
std::map<std::string, trunking::peer_table> tables_of(const config::config& cfg) {
    std::map<std::string, trunking::peer_table> tables;
    for (const auto& t : cfg.trunks) {
        tables.emplace(t.name, trunking::peer_table(t, trunking::clock::now()));
    }
    return tables;
}

dataplane::ip_endpoint source(const char* ip) {
    return *dataplane::ip_endpoint::from_string(ip, 5060);
}

const std::string invite_text =
    "INVITE sip:+14155550100@127.0.1.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.1.2:5060;branch=z9hG4bK-carrier-1\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:+12125550199@carrier.example>;tag=abc\r\n"
    "To: <sip:+14155550100@127.0.1.1>\r\n"
    "Call-ID: secret-call-id@10.9.8.7\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:alice@10.9.8.7:5060>\r\n"
    "Record-Route: <sip:proxy.carrier.example;lr>\r\n"
    "Subject: quarterly numbers\r\n"
    "Priority: urgent\r\n"
    "X-Internal-Route: core-7\r\n"
    "P-Asserted-Identity: <sip:+12125550199@10.9.8.7>\r\n"
    "Supported: 100rel, timer\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

}  // namespace

TEST_CASE("peer ACL: source address names the trunk, port ignored", "[acl]") {
    auto cfg = demo_config();
    policy::peer_acl acl(tables_of(cfg));
    auto from = [](const char* ip, std::uint16_t port) {
        return *dataplane::ip_endpoint::from_string(ip, port);
    };
    REQUIRE(acl.trunk_for("carrier", from("127.0.1.2", 5060))->name == "carrier");
    REQUIRE(acl.trunk_for("carrier", from("127.0.1.2", 40123))->name == "carrier");
    REQUIRE(acl.trunk_for("carrier", from("2001:db8::7", 5060))->name == "carrier");
    REQUIRE(acl.trunk_for("pbx", from("127.0.2.2", 5060))->name == "pbx");
}

TEST_CASE("peer ACL: unknown sources and wrong interfaces are refused", "[acl]") {
    auto cfg = demo_config();
    policy::peer_acl acl(tables_of(cfg));
    REQUIRE(acl.trunk_for("carrier", *dataplane::ip_endpoint::from_string("127.0.1.9", 5060)) ==
            nullptr);
    // The carrier's peer talking to the pbx interface is no peer there.
    REQUIRE(acl.trunk_for("pbx", *dataplane::ip_endpoint::from_string("127.0.1.2", 5060)) ==
            nullptr);
    REQUIRE(acl.trunk_for("carrier", dataplane::ip_endpoint{}) == nullptr);
}

TEST_CASE("peer ACL: a named peer's addresses follow its resolution", "[acl]") {
    auto cfg = demo_config();
    config::peer_config named;
    named.host = "carrier.sbc.test";
    named.is_name = true;
    cfg.trunks[0].peers.push_back(named);
    auto tables = tables_of(cfg);
    auto& carrier = tables.at("carrier");
    const auto now = trunking::clock::now();

    // Not resolved yet: only the peers given by address are known.
    REQUIRE(policy::peer_acl(tables).trunk_for("carrier", source("127.0.5.1")) == nullptr);

    trunking::target first{"127.0.5.1", 5060, config::transport::udp, 10, 100};
    trunking::target second{"127.0.5.2", 5060, config::transport::udp, 20, 100};
    carrier.set_resolved(2, {first, second}, now);
    policy::peer_acl resolved(tables);
    REQUIRE(resolved.trunk_for("carrier", source("127.0.5.1"))->name == "carrier");
    REQUIRE(resolved.trunk_for("carrier", source("127.0.5.2"))->name == "carrier");
    REQUIRE(resolved.trunk_for("pbx", source("127.0.5.1")) == nullptr);
    REQUIRE(resolved.trunk_for("carrier", source("127.0.1.2"))->name == "carrier");

    // The name moves to another address: the old one is refused ...
    trunking::target moved{"127.0.5.3", 5060, config::transport::udp, 10, 100};
    carrier.set_resolved(2, {moved}, now);
    policy::peer_acl after(tables);
    REQUIRE(after.trunk_for("carrier", source("127.0.5.1")) == nullptr);
    REQUIRE(after.trunk_for("carrier", source("127.0.5.3"))->name == "carrier");

    // ... unless a call still uses it, until that call ends.
    std::size_t old_index = 0;
    for (std::size_t i = 0; i < carrier.size(); ++i) {
        old_index = carrier.target_at(i).host == "127.0.5.1" ? i : old_index;
    }
    REQUIRE_FALSE(carrier.target_at(old_index).current);
    policy::peer_acl in_call(tables, {{"carrier", old_index}});
    REQUIRE(in_call.trunk_for("carrier", source("127.0.5.1"))->name == "carrier");
    REQUIRE(in_call.trunk_for("carrier", source("127.0.5.2")) == nullptr);

    // A name that resolves to nothing leaves only the address peers.
    carrier.set_resolved(2, {}, now);
    policy::peer_acl none(tables);
    REQUIRE(none.trunk_for("carrier", source("127.0.5.3")) == nullptr);
    REQUIRE(none.trunk_for("carrier", source("127.0.1.2"))->name == "carrier");
}

TEST_CASE("header allow-list: addresses and dialog identity never cross", "[headers]") {
    for (const char* h : {"Via", "via", "Route", "Record-Route", "Contact", "Call-ID", "i", "From",
                          "To", "CSeq", "Max-Forwards", "Content-Type", "Content-Length"}) {
        INFO(h);
        REQUIRE(policy::is_never_forwarded(h));
        REQUIRE_FALSE(policy::may_forward(h, {h}));
    }
    REQUIRE(policy::may_forward("subject", {"Subject"}));
    REQUIRE_FALSE(policy::may_forward("X-Internal-Route", {"Subject"}));
}

TEST_CASE("header allow-list: only listed headers of a real INVITE are carried", "[headers]") {
    parsed_msg m(invite_text);
    REQUIRE(m.sip() != nullptr);
    auto out = policy::forwarded_headers(m.sip(), {"Subject", "Priority", "Date"});
    REQUIRE(out == "Subject: quarterly numbers\r\nPriority: urgent\r\n");
    REQUIRE(out.find("10.9.8.7") == std::string::npos);
    REQUIRE(out.find("carrier.example") == std::string::npos);

    // An unknown header can be allowed by name; never-forwarded ones cannot.
    auto with_x = policy::forwarded_headers(m.sip(), {"X-Internal-Route", "Via", "Contact"});
    REQUIRE(with_x == "X-Internal-Route: core-7\r\n");
    REQUIRE(policy::forwarded_headers(m.sip(), {}).empty());
}

TEST_CASE("status map: per-hop and topology-revealing statuses are translated", "[status]") {
    using b2bua::map_final_status;
    REQUIRE(map_final_status(200).code == 200);
    REQUIRE(map_final_status(486).code == 486);
    REQUIRE(map_final_status(486).same_as_received);
    REQUIRE(map_final_status(404).code == 404);
    REQUIRE(map_final_status(487).code == 487);
    REQUIRE(map_final_status(603).code == 603);
    REQUIRE(map_final_status(302).code == 480);  // a redirect's Contact stays home
    REQUIRE(map_final_status(407).code == 403);
    REQUIRE(map_final_status(503).code == 500);  // RFC 3261 16.7
    REQUIRE(map_final_status(420).code == 500);
    REQUIRE(map_final_status(799).code == 500);
}
