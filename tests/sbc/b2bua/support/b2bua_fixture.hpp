// A real sbc::b2bua in one process, between two scripted peers, for the
// in-process B2BUA tests (DESIGN.md "Testing").
//
// The topology is the e2e suite's (tests/e2e/harness.py generated_config):
// interfaces "carrier" and "pbx", a trunk of the same name on each whose peer
// is the scripted peer of that name, routes carrier -> pbx and pbx ->
// carrier. Everything listens on 127.0.0.1 on ports the kernel chooses: the
// YAML is loaded and validated with placeholder ports, which are then set to
// 0 before the b2bua binds (the configuration refuses port 0, rightly for
// sbcd), and the b2bua's sip_interface reads the bound ports back. The media
// engine is a fake; the control socket path and the CDR file live in a
// temporary directory the fixture removes.
//
// Object graph: the fixture owns the loop, the peers, the fake engine, the
// configuration and the b2bua, declared so that the b2bua goes first and the
// loop last. Control thread only.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sbc/b2bua/b2bua.hpp"
#include "sbc/config/config.hpp"
#include "tests/sbc/b2bua/support/fake_media_engine.hpp"
#include "tests/sbc/b2bua/support/scripted_peer.hpp"
#include "tests/support/sip_loop.hpp"
#include "tests/support/temp_dir.hpp"

namespace sbc::test {

/// The RTP ports the carrier's and the PBX's SDP offer (sdp_audio).
inline constexpr std::uint16_t carrier_rtp = 30000;
inline constexpr std::uint16_t pbx_rtp = 31000;

/// What a test changes in the default topology: YAML lines added to a
/// trunk ("early_offer: convert"; a "keepalive: ..." line replaces the
/// default of no pings) or at the top level.
struct topology {
    std::vector<std::string> carrier_trunk;
    std::vector<std::string> pbx_trunk;
    std::vector<std::string> top;
    /// The routes section's entries, replacing carrier -> pbx and pbx -> carrier.
    std::vector<std::string> routes;
    unsigned media_timeout_seconds = 60;
    /// The pbx trunk's peers list (YAML flow entries, e.g.
    /// "\"sip:pbx.sbc.test\""), replacing the peer "pbx": a test's own
    /// peers, reached through names it serves by DNS (test_named_peers.cpp).
    std::string pbx_peers;
    /// The pbx trunk gets the peer "pbx2" as well, at a lower priority
    /// (tried after "pbx" fails).
    bool pbx_backup_peer = false;
    /// A third trunk, "target", on the pbx interface, whose peer is the
    /// peer "target"; unless `routes` says otherwise, the pbx's calls to
    /// 3000 go there. The e2e suite's transfer topology
    /// (tests/e2e/test_dialog.py target_trunk, TRANSFER_ROUTES).
    bool target_trunk = false;
    std::vector<std::string> target_trunk_lines;  ///< YAML lines added to it
    /// Both interfaces listen on TCP as well, and the carrier and the pbx
    /// are on TCP only, their trunks' peers "transport=tcp": every message
    /// of a call between them travels over TCP (tests/e2e/test_sbc.py
    /// tcp_both_legs).
    bool tcp = false;
    /// The pbx interface's fqdn (for a pbx trunk with use_fqdn); none when empty.
    std::string pbx_fqdn;
};

class b2bua_fixture {
public:
    explicit b2bua_fixture(const topology& t = {});
    ~b2bua_fixture();

    sip_loop loop;
    scripted_peer carrier{loop, "carrier"};
    scripted_peer pbx{loop, "pbx"};
    scripted_peer pbx2{loop, "pbx2"};  ///< a peer of the pbx trunk with pbx_backup_peer
    /// The target trunk's peer, on an address of its own so that the peer
    /// ACL never takes the pbx's requests for the target's.
    scripted_peer target{loop, "target", "127.0.0.3"};
    fake_media_engine media;
    temp_dir dir{"sbc-tier"};

    /// "sip:USER@127.0.0.1:PORT" of the SBC's interface facing that side
    /// (its TCP port and ";transport=tcp" with topology::tcp).
    std::string carrier_side_uri(const std::string& user) const;
    std::string pbx_side_uri(const std::string& user) const;
    b2bua::b2bua& sbc() noexcept { return *_sbc; }
    /// The SBC dies without a word and another takes its place on the same
    /// addresses and ports, with no call (its partner in a redundant pair,
    /// before it takes the calls over: b2bua::restore_call).
    void fail_over();
    const config::config& cfg() const noexcept { return _cfg; }
    const std::string& yaml() const noexcept { return _yaml; }
    /// The CDR file's lines so far.
    std::vector<std::string> cdr_lines() const;
    /// The one CDR written so far, parsed; fails the test unless there is
    /// exactly one.
    nlohmann::json only_cdr() const;
    /// Runs the loop until the b2bua holds no call (a finished call is
    /// reaped on the loop turn after it ended). False on the deadline.
    bool calls_gone();
    /// The SBC's call that `d` is a dialog with (RFC 3891 3 names it by the
    /// SBC's view of its tags). Fails the test when there is none. For a
    /// test to drive the call's periodic checks (check_session_timers,
    /// check_failover) at a time of its choosing instead of sleeping.
    b2bua::call& call_of(const peer_dialog& d);

private:
    std::string side_uri(const std::string& interface, const std::string& user) const;

    bool _tcp = false;
    std::string _yaml;
    config::config _cfg;
    std::unique_ptr<b2bua::b2bua> _sbc;  ///< last: destroyed first
};

/// A minimal SDP offer or answer from a peer at 127.0.0.1:`port`: PCMU and
/// telephone-event, as sipp's default scenarios send.
std::string sdp_audio(std::uint16_t port, const std::string& session = "peer");

/// A call carrier -> pbx, answered and acknowledged: the caller's dialog on
/// the carrier, the INVITE the pbx received (its dialog: callee()) and the
/// 200 the carrier received.
struct up_call {
    peer_dialog* caller = nullptr;
    incoming_request* invite = nullptr;
    const sip_t* ok = nullptr;
    peer_dialog& callee() { return invite->dialog(); }
};
/// Places an up_call to `user`, the peers' RTP at `rtp` and `rtp` + 1000;
/// the INVITE carries `headers` and the pbx's 200 `pbx_headers` (header
/// lines, "Name: value\r\n" each).
up_call carrier_calls_pbx(b2bua_fixture& f, const std::string& user = "2000",
                          std::uint16_t rtp = 30000, const std::string& headers = {},
                          const std::string& pbx_headers = {});
/// The carrier hangs the call up; the pbx answers the BYE the SBC relays.
void carrier_hangs_up(b2bua_fixture& f, up_call& c);

}  // namespace sbc::test
