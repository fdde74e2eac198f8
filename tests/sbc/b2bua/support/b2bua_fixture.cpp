#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <tuple>

namespace sbc::test {

namespace {

// harness.py's generated_config, with the peers' real ports and
// placeholder ports for the SBC's listeners (5060, 5062: any two distinct
// valid ones; both become 0 before binding).
// A trunk's entry for the carrier's or the pbx's peer at `port`.
std::string peer_entry(const topology& t, std::uint16_t port) {
    return t.tcp ? fmt::format("\"sip:127.0.0.1:{};transport=tcp\"", port)
                 : fmt::format("\"127.0.0.1:{}\"", port);
}

// The trunk "target" of topology::target_trunk, and the routes that send
// the pbx's calls to 3000 there.
std::string target_trunk_yaml(const topology& t, const std::string& target_peer) {
    std::string y = fmt::format(
        "  - name: target\n    interface: pbx\n    peers: [\"{}\"]\n"
        "    keepalive: {{interval: 0}}\n",
        target_peer);
    for (const auto& line : t.target_trunk_lines) {
        y += "    " + line + "\n";
    }
    return y;
}

constexpr const char* transfer_routes =
    "  - {name: carrier-to-pbx, from_trunk: carrier, to_trunk: pbx}\n"
    "  - {name: transfers, from_trunk: pbx, ruri_user: \"^3000$\", to_trunk: target}\n"
    "  - {name: pbx-to-carrier, from_trunk: pbx, to_trunk: carrier}\n";

std::string topology_yaml(const topology& t, std::uint16_t carrier_peer, std::uint16_t pbx_peer,
                          std::uint16_t pbx_backup, const std::string& target_peer,
                          const std::filesystem::path& dir) {
    std::string y = "interfaces:\n";
    for (const auto& [name, port] : {std::pair{"carrier", 5060}, std::pair{"pbx", 5062}}) {
        const auto tcp = t.tcp ? fmt::format(", tcp://127.0.0.1:{}", port) : std::string();
        y += fmt::format(
            "  - name: {}\n    listen: [udp://127.0.0.1:{}{}]\n    media_address: 127.0.0.1\n",
            name, port, tcp);
        if (std::string_view(name) == "pbx" && !t.pbx_fqdn.empty()) {
            y += fmt::format("    fqdn: {}\n", t.pbx_fqdn);
        }
    }
    const auto backup = t.pbx_backup_peer
                            ? fmt::format(", {{uri: \"127.0.0.1:{}\", priority: 20}}", pbx_backup)
                            : std::string();
    y += "trunks:\n";
    for (const auto& [name, peers, extra] :
         {std::tuple{"carrier", peer_entry(t, carrier_peer), &t.carrier_trunk},
          std::tuple{"pbx", t.pbx_peers.empty() ? peer_entry(t, pbx_peer) + backup : t.pbx_peers,
                     &t.pbx_trunk}}) {
        // No OPTIONS pings, unless the test asks for some.
        const bool pings = std::any_of(extra->begin(), extra->end(), [](const std::string& l) {
            return l.rfind("keepalive:", 0) == 0;
        });
        y += fmt::format("  - name: {0}\n    interface: {0}\n    peers: [{1}]\n{2}", name, peers,
                         pings ? "" : "    keepalive: {interval: 0}\n");
        for (const auto& line : *extra) {
            y += "    " + line + "\n";
        }
    }
    if (t.target_trunk) {
        y += target_trunk_yaml(t, target_peer);
    }
    y += "routes:\n";
    if (t.routes.empty() && t.target_trunk) {
        y += transfer_routes;
    } else if (t.routes.empty()) {
        y += "  - {name: carrier-to-pbx, from_trunk: carrier, to_trunk: pbx}\n"
             "  - {name: pbx-to-carrier, from_trunk: pbx, to_trunk: carrier}\n";
    }
    for (const auto& r : t.routes) {
        y += "  - " + r + "\n";
    }
    y += fmt::format("media:\n  port_min: 40000\n  port_max: 40999\n  timeout: {}\n",
                     t.media_timeout_seconds);
    y += fmt::format("control:\n  socket: {}\n", (dir / "control.sock").string());
    y += fmt::format("cdr:\n  file: {}\n", (dir / "cdr.jsonl").string());
    for (const auto& line : t.top) {
        y += line + "\n";
    }
    return y;
}

}  // namespace

b2bua_fixture::b2bua_fixture(const topology& t)
    : carrier(loop, "carrier", "127.0.0.1", t.tcp ? "tcp" : "udp"),
      pbx(loop, "pbx", "127.0.0.1", t.tcp ? "tcp" : "udp"),
      _tcp(t.tcp),
      _yaml(topology_yaml(t, carrier.port(), pbx.port(), pbx2.port(), target.host_port(),
                          dir.path())),
      _cfg(config::load_string(_yaml, "b2bua_fixture.yaml")) {
    for (auto& iface : _cfg.interfaces) {
        for (auto& l : iface.listen) {
            l.port = 0;  // the kernel's choice; sip_interface reads it back
        }
    }
    _sbc = std::make_unique<b2bua::b2bua>(loop.root(), _cfg, media);
}

b2bua_fixture::~b2bua_fixture() {
    // Calls still up end as at shutdown; what they send goes nowhere that
    // matters, but the b2bua must not outlive the loop's turns it needs.
    _sbc->hang_up_all("test over");
    loop.drain();
    _sbc.reset();
}

void b2bua_fixture::fail_over() {
    // The partner binds what the failed node bound: the same ports, now
    // that they are known, on the same addresses.
    for (auto& iface : _cfg.interfaces) {
        for (auto& l : iface.listen) {
            l.port = _sbc->interface_named(iface.name).bound_port(l.proto);
        }
    }
    _sbc.reset();  // no BYE, no CANCEL: a node that died says nothing
    _sbc = std::make_unique<b2bua::b2bua>(loop.root(), _cfg, media);
}

std::string b2bua_fixture::side_uri(const std::string& interface, const std::string& user) const {
    const auto t = _tcp ? config::transport::tcp : config::transport::udp;
    return fmt::format("sip:{}@127.0.0.1:{}{}", user,
                       _sbc->interface_named(interface).bound_port(t),
                       _tcp ? ";transport=tcp" : "");
}

std::string b2bua_fixture::carrier_side_uri(const std::string& user) const {
    return side_uri("carrier", user);
}

std::string b2bua_fixture::pbx_side_uri(const std::string& user) const {
    return side_uri("pbx", user);
}

std::vector<std::string> b2bua_fixture::cdr_lines() const {
    std::vector<std::string> lines;
    std::ifstream in(dir.path() / "cdr.jsonl");
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

nlohmann::json b2bua_fixture::only_cdr() const {
    const auto lines = cdr_lines();
    REQUIRE(lines.size() == 1);
    return nlohmann::json::parse(lines.front());
}

bool b2bua_fixture::calls_gone() {
    return loop.run_until([&] { return _sbc->call_count() == 0; });
}

b2bua::call& b2bua_fixture::call_of(const peer_dialog& d) {
    // The SBC's side of `d`: its local tag is the peer's remote one.
    auto* leg = _sbc->leg_of_dialog({d.call_id(), d.remote_tag(), d.local_tag(), false});
    if (leg == nullptr) {
        FAIL("the SBC has no call with dialog " << d.call_id());
    }
    return leg->_call;
}

std::string sdp_audio(std::uint16_t port, const std::string& session) {
    return fmt::format(
        "v=0\r\n"
        "o={0} 1 1 IN IP4 127.0.0.1\r\n"
        "s={0}\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        "m=audio {1} RTP/AVP 0 101\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-15\r\n"
        "a=sendrecv\r\n",
        session, port);
}

up_call carrier_calls_pbx(b2bua_fixture& f, const std::string& user, std::uint16_t rtp,
                          const std::string& headers, const std::string& pbx_headers) {
    up_call c;
    c.caller =
        &f.carrier.invite(f.carrier_side_uri(user), sdp_audio(rtp, "carrier"), "caller", headers);
    c.invite = &f.pbx.expect("INVITE");
    c.invite->reply(200, sdp_audio(static_cast<std::uint16_t>(rtp + 1000), "pbx"), pbx_headers);
    c.ok = c.caller->expect(200);
    c.caller->ack();
    f.pbx.expect("ACK");
    return c;
}

void carrier_hangs_up(b2bua_fixture& f, up_call& c) {
    auto& bye = c.caller->bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
}

}  // namespace sbc::test
