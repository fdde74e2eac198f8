// The relay pipeline and STUN on the media ports (RFC 7983): checks answered
// from the port they came to when the side has ICE credentials, dropped
// when not, never relayed; nominations (USE-CANDIDATE) latching; RTP on the
// same ports relayed as before.
#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/core/ice_responder.hpp"
#include "dataplane/core/relay.hpp"
#include "tests/dataplane/stun_client.hpp"

using namespace sbc::dataplane;
using sbc::test::binding_request;
using sbc::test::check_options;
using sbc::test::read_check_response;

namespace {

ip_endpoint ice_ep(const char* ip, std::uint16_t port) {
    return *ip_endpoint::from_string(ip, port);
}

const ip_endpoint teams_host = ice_ep("192.0.2.30", 50000);    // the peer's host candidate
const ip_endpoint teams_srflx = ice_ep("203.0.113.30", 3478);  // its NAT's mapping
const ip_endpoint teams_rtcp = ice_ep("192.0.2.30", 50001);
const ip_endpoint pbx_rtp = ice_ep("198.51.100.40", 7000);
const ip_endpoint pbx_rtcp = ice_ep("198.51.100.40", 7001);

// Datagrams as a backend holds them: buffers of 2048 octets (a response is
// written over its request), and their sources.
class ice_burst {
public:
    ice_burst& add(const ip_endpoint& source, const std::vector<std::uint8_t>& payload) {
        auto& buf = _buffers.emplace_back(2048);
        std::copy(payload.begin(), payload.end(), buf.begin());
        _lengths.push_back(payload.size());
        _sources.push_back(source);
        return *this;
    }
    ice_burst& add(const ip_endpoint& source, const std::string& payload) {
        return add(source, std::vector<std::uint8_t>(payload.begin(), payload.end()));
    }
    std::vector<rx_packet> packets() {
        std::vector<rx_packet> out;
        for (std::size_t i = 0; i < _buffers.size(); ++i) {
            out.push_back(rx_packet{_buffers[i].data(), static_cast<std::uint32_t>(_lengths[i]),
                                    false, &_sources[i],
                                    static_cast<std::uint32_t>(_buffers[i].size())});
        }
        return out;
    }

private:
    std::deque<std::vector<std::uint8_t>> _buffers;
    std::deque<std::size_t> _lengths;
    std::deque<ip_endpoint> _sources;
};

class ice_pipeline : public relay_session {
public:
    tx_batch feed(side from, channel ch, ice_burst b) {
        _bursts.push_back(std::move(b));
        _packets.push_back(_bursts.back().packets());
        tx_batch out;
        out.reply_count = 99;  // relay() must reset it
        relay(from, ch, _packets.back(), 1, out);
        return out;
    }

private:
    std::deque<ice_burst> _bursts;
    std::deque<std::vector<rx_packet>> _packets;
};

std::vector<std::uint8_t> bytes_of(const tx_packet& p) { return {p.data, p.data + p.len}; }

const ice_responder& teams_responder() {
    static const ice_responder r(ice_credentials{
        sbc::test::check_local_ufrag, sbc::test::check_password, sbc::test::check_remote_ufrag});
    return r;
}

check_options nominating(std::uint32_t priority, std::uint8_t id = 1) {
    check_options o;
    o.use_candidate = true;
    o.priority = priority;
    o.id = id;
    return o;
}

}  // namespace

TEST_CASE(
    "relay: without ICE credentials STUN is dropped, counted, and neither relayed nor latched") {
    ice_pipeline r;
    r.set_remote(side::a, teams_host, teams_rtcp);
    r.set_remote(side::b, pbx_rtp, pbx_rtcp);
    const auto out = r.feed(side::a, channel::rtp, ice_burst().add(teams_srflx, binding_request()));
    CHECK(out.count == 0);
    CHECK(out.reply_count == 0);
    CHECK(out.latched == nullptr);
    const auto st = r.stats();
    CHECK(st.sides[0].stun_dropped == 1);
    CHECK(st.sides[0].stun_answered == 0);
    CHECK(st.sides[0].rtp_rx_packets == 1);
    CHECK_FALSE(st.sides[0].latched_rtp);
    CHECK(st.sides[0].drops_wrong_source == 0);
    CHECK(st.sides[0].last_rx_ns == 0);
}

TEST_CASE("relay: a check is answered from its port, to its source, while RTP beside it relays") {
    ice_pipeline r;
    r.set_remote(side::a, teams_host, teams_rtcp);
    r.set_remote(side::b, pbx_rtp, pbx_rtcp);
    r.set_ice(side::a, &teams_responder(), true);
    const std::string rtp = "\x80rtp from teams";
    const auto out = r.feed(side::a, channel::rtp,
                            ice_burst()
                                .add(teams_srflx, binding_request())
                                .add(teams_host, rtp)
                                .add(teams_srflx, binding_request(nominating(5, 2))));
    // The RTP went to the other side...
    REQUIRE(out.count == 1);
    CHECK(std::string(reinterpret_cast<const char*>(out.packets[0].data), out.packets[0].len) ==
          rtp);
    CHECK(*out.packets[0].destination == pbx_rtp);
    // ...the checks' responses back to where each came from.
    REQUIRE(out.reply_count == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        const auto resp = read_check_response(bytes_of(out.replies[i]));
        CHECK(*out.replies[i].destination == teams_srflx);
        CHECK(resp.type == stun::type::binding_success);
        CHECK(resp.id == sbc::test::check_id(static_cast<std::uint8_t>(i + 1)));
        REQUIRE(resp.mapped);
        CHECK(*resp.mapped == teams_srflx);
        CHECK(resp.integrity_ok);
        CHECK(resp.fingerprint_ok);
    }
    const auto st = r.stats();
    CHECK(st.sides[0].stun_answered == 2);
    CHECK(st.sides[0].rtp_rx_packets == 3);
    // The nomination came after the RTP packet latched the host address,
    // and moved the latch: the check proved the NAT's mapping.
    CHECK(out.latched != nullptr);
    CHECK(st.sides[0].latched_rtp == teams_srflx);
}

TEST_CASE("relay: a nomination latches the side, and a lower one later does not move it") {
    ice_pipeline r;
    r.set_remote(side::a, teams_host, teams_rtcp);
    r.set_remote(side::b, pbx_rtp, pbx_rtcp);
    r.set_ice(side::a, &teams_responder(), true);

    auto out = r.feed(side::a, channel::rtp,
                      ice_burst().add(teams_srflx, binding_request(nominating(100))));
    REQUIRE(out.latched != nullptr);
    CHECK(*out.latched == teams_srflx);
    CHECK(r.stats().sides[0].latched_rtp == teams_srflx);

    // Media towards side a now goes to the nominated address.
    out = r.feed(side::b, channel::rtp, ice_burst().add(pbx_rtp, "\x80to teams"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == teams_srflx);

    // A lower nomination from the host address is answered, latches nothing.
    out = r.feed(side::a, channel::rtp,
                 ice_burst().add(teams_host, binding_request(nominating(50, 2))));
    CHECK(out.reply_count == 1);
    CHECK(out.latched == nullptr);
    CHECK(r.stats().sides[0].latched_rtp == teams_srflx);
    // RTP from there is a stranger's now.
    out = r.feed(side::a, channel::rtp, ice_burst().add(teams_host, "\x80stray"));
    CHECK(out.count == 0);
    CHECK(r.stats().sides[0].drops_wrong_source == 1);

    // An equal or higher one does (aggressive nomination's best pair).
    out = r.feed(side::a, channel::rtp,
                 ice_burst().add(teams_host, binding_request(nominating(100, 3))));
    REQUIRE(out.latched != nullptr);
    CHECK(r.stats().sides[0].latched_rtp == teams_host);

    // The peer's ufrag learnt from its SDP: the nomination stands.
    r.set_ice(side::a, &teams_responder(), false);
    out = r.feed(side::a, channel::rtp,
                 ice_burst().add(teams_srflx, binding_request(nominating(1, 4))));
    CHECK(out.latched == nullptr);
    CHECK(r.stats().sides[0].latched_rtp == teams_host);

    // New credentials (an ICE restart) forget the nomination, not the latch.
    r.set_ice(side::a, &teams_responder(), true);
    CHECK(r.stats().sides[0].latched_rtp == teams_host);
    out = r.feed(side::a, channel::rtp,
                 ice_burst().add(teams_srflx, binding_request(nominating(1, 5))));
    CHECK(r.stats().sides[0].latched_rtp == teams_srflx);
}

TEST_CASE("relay: a check that fails latches nothing; its error goes back; checks on RTCP too") {
    ice_pipeline r;
    r.set_remote(side::a, teams_host, teams_rtcp);
    r.set_remote(side::b, pbx_rtp, pbx_rtcp);
    r.set_ice(side::a, &teams_responder(), true);
    auto wrong = nominating(100);
    wrong.password = "wrongPasswordWrongPassword";
    auto out = r.feed(side::a, channel::rtp, ice_burst().add(teams_srflx, binding_request(wrong)));
    REQUIRE(out.reply_count == 1);
    CHECK(read_check_response(bytes_of(out.replies[0])).error_code == 401);
    CHECK(out.latched == nullptr);
    auto st = r.stats();
    CHECK(st.sides[0].stun_rejected == 1);
    CHECK_FALSE(st.sides[0].latched_rtp);

    // Malformed STUN (first octet 0-3, RFC 7983) is dropped, not relayed as RTP.
    out = r.feed(side::a, channel::rtp, ice_burst().add(teams_host, std::string("\x01garbage")));
    CHECK(out.count == 0);
    CHECK(out.reply_count == 0);
    CHECK(r.stats().sides[0].stun_dropped == 1);

    // Component 2 (RTCP, no rtcp-mux): answered from the RTCP port, and a
    // nomination there latches RTCP alone.
    const auto rtcp_srflx = ice_ep("203.0.113.30", 3479);
    out = r.feed(side::a, channel::rtcp,
                 ice_burst().add(rtcp_srflx, binding_request(nominating(7, 5))));
    REQUIRE(out.reply_count == 1);
    CHECK(*out.replies[0].destination == rtcp_srflx);
    CHECK(out.latched == nullptr);  // only RTP's latch is reported
    out = r.feed(side::b, channel::rtcp, ice_burst().add(pbx_rtcp, "\x80\xc9rr"));
    REQUIRE(out.count == 1);
    CHECK(*out.packets[0].destination == rtcp_srflx);
    st = r.stats();
    CHECK(st.sides[0].stun_answered == 1);
    CHECK(st.sides[0].rtcp_rx_packets == 1);
}

TEST_CASE("relay: set_remote forgets a nomination; clearing ICE drops checks again") {
    ice_pipeline r;
    r.set_remote(side::a, teams_host, teams_rtcp);
    r.set_remote(side::b, pbx_rtp, pbx_rtcp);
    r.set_ice(side::a, &teams_responder(), true);
    (void)r.feed(side::a, channel::rtp,
                 ice_burst().add(teams_srflx, binding_request(nominating(100))));
    CHECK(r.stats().sides[0].latched_rtp == teams_srflx);
    r.set_remote(side::a, teams_host, teams_rtcp);
    CHECK_FALSE(r.stats().sides[0].latched_rtp);
    (void)r.feed(side::a, channel::rtp,
                 ice_burst().add(teams_host, binding_request(nominating(1, 2))));
    CHECK(r.stats().sides[0].latched_rtp == teams_host);

    r.set_ice(side::a, nullptr, true);
    const auto out = r.feed(side::a, channel::rtp,
                            ice_burst().add(teams_host, binding_request(nominating(9, 3))));
    CHECK(out.reply_count == 0);
    CHECK(r.stats().sides[0].stun_dropped == 1);
    // Side b has no credentials of its own.
    const auto b = r.feed(side::b, channel::rtp, ice_burst().add(pbx_rtp, binding_request()));
    CHECK(b.reply_count == 0);
    CHECK(r.stats().sides[1].stun_dropped == 1);
}
