// media_session::restore: a call's media rebuilt from its state on the node
// that takes the call over. Against the fake engine of another node (what
// the standby's engine is told: the same ports, keys, remotes, mux, ICE,
// payload types and chains), and against a real kernel engine on loopback,
// where the session is closed and rebuilt on the same ports and RTP (and
// SRTP with the old keys, and transcoded RTP) is relayed through it again.
// Real sockets: media ports 42000-42099 on 127.0.1.1 and 127.0.2.1, peers on
// 127.0.0.1; waits are bounded and nothing asserts on timing.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/srtp/stream_crypto.hpp"
#include "tests/dataplane/udp_peer.hpp"
#include "tests/sbc/media_ctl/media_call.hpp"

namespace media_session_restore_test {

using sbc::config::srtp_suite;
using sbc::dataplane::ip_endpoint;
using sbc::dataplane::side;
using sbc::media_ctl::media_session;
using sbc::media_ctl::media_state;
using sbc::media_ctl::sdp_origin;
using sbc::test::carrier_peer;
using sbc::test::crypto_of;
using sbc::test::eventually;
using sbc::test::fake_media_engine;
using sbc::test::media_call;
using sbc::test::pbx_peer;
using sbc::test::peer_crypto;
using sbc::test::peer_sdp;
using sbc::test::trunk_keys;
using sbc::test::udp_peer;
using sbc::test::why;

sbc::media_ctl::trunk_lookup trunks_of(const sbc::config::config& cfg) {
    return [&cfg](const std::string& name) { return cfg.find_trunk(name); };
}

peer_sdp with_ice(peer_sdp p) {
    p.attributes.push_back("ice-ufrag:CarR");
    p.attributes.push_back("ice-pwd:CarrierPasswordOf22Chr");
    p.attributes.push_back("candidate:1 1 UDP 2130706431 " + p.address + " " +
                           std::to_string(p.port) + " typ host");
    return p;
}

// ---------------------------------------------------------------------------
// On the fake engine of the node that takes over.

/// `call`'s session, rebuilt on `standby` as the other node would.
struct taken_over {
    fake_media_engine standby{50000};  // hands out other ports than the call's
    media_session media{standby, media_call::id, "restored"};

    const sbc::test::fake_session& programmed() const {
        return standby.sessions().at(media_call::id);
    }
};

void restore_equal(const media_call& call, taken_over& node) {
    const auto s = call.media.state();
    auto restored = node.media.restore(s, trunks_of(call.cfg));
    INFO(why(restored));
    REQUIRE(restored);
    CHECK(node.media.is_open());
    CHECK(node.media.state() == s);
    CHECK(node.standby.journal().front() == fmt::format("open_at 7 127.0.1.1:{} 127.0.2.1:{}",
                                                        s.legs[0].rtp_port, s.legs[1].rtp_port));
    CHECK(node.programmed().ports.rtp == std::array<std::uint16_t, 2>{40000, 40002});
}

TEST_CASE("restore: a relayed call gets the same ports, remotes and payload type maps",
          "[media_ctl][restore]") {
    media_call call;
    auto answer = pbx_peer();
    answer.rtpmaps = {"0 PCMU/8000", "96 telephone-event/8000"};  // renumbered
    call.connect(carrier_peer(), answer);
    taken_over node;
    restore_equal(call, node);

    const auto& a = node.programmed().of(side::a);
    const auto& b = node.programmed().of(side::b);
    REQUIRE(a.rtp);
    CHECK(a.rtp->to_string() == "192.0.2.10:30000");
    CHECK(a.rtcp->to_string() == "192.0.2.10:30001");
    REQUIRE(b.rtp);
    CHECK(b.rtp->to_string() == "198.51.100.20:31000");
    CHECK_FALSE(a.srtp_in);
    CHECK_FALSE(a.rtcp_mux);
    CHECK(a.chains_set == 0);
    CHECK(b.chains_set == 0);
    CHECK(b.payload_types == call.programmed().of(side::b).payload_types);
    CHECK(a.payload_types == call.programmed().of(side::a).payload_types);
    CHECK_FALSE(b.payload_types.empty());
    CHECK(node.media.codec(side::a) == "PCMU/8000");

    // The restored session takes the next offer as the old one would: a
    // hold from the carrier is relayed.
    sdp_origin to_b{2002, 5, {}};
    auto held = carrier_peer();
    held.direction = "sendonly";
    auto to_pbx = node.media.translate(side::a, held.text(), sbc::media_ctl::sdp_role::offer,
                                       sbc::media_ctl::sdp_role::offer, to_b);
    INFO(why(to_pbx));
    REQUIRE(to_pbx);
    CHECK(sbc::test::contains(*to_pbx, "m=audio 40002 RTP/AVP"));
    CHECK(sbc::test::contains(*to_pbx, "a=sendonly"));
}

TEST_CASE("restore: an SRTP leg keeps its keys, in the engine and in later answers",
          "[media_ctl][restore][srtp]") {
    media_call call({.carrier = "srtp: required"});
    auto offer = carrier_peer();
    offer.profile = "RTP/SAVP";
    offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, 0x11)};
    call.connect(offer, pbx_peer());
    const auto s = call.media.state();
    REQUIRE(s.legs[0].srtp);
    taken_over node;
    restore_equal(call, node);
    CHECK(node.programmed().of(side::a).srtp_in);
    CHECK(node.programmed().of(side::a).srtp_out);
    CHECK(node.programmed().of(side::a).srtp_set == 1);
    CHECK_FALSE(node.programmed().of(side::b).srtp_in);
    CHECK(node.media.srtp_suite(side::a) == srtp_suite::aes_cm_128_hmac_sha1_80);

    // RFC 4568 7.1.4: the carrier's re-offer is answered with the key it
    // has, and the engine is not re-keyed.
    sdp_origin to_a{1001, 3, {}};
    sdp_origin to_b{2002, 3, {}};
    REQUIRE(node.media.translate(side::a, offer.text(), sbc::media_ctl::sdp_role::offer,
                                 sbc::media_ctl::sdp_role::offer, to_b));
    auto answered =
        node.media.translate(side::b, pbx_peer().text(), sbc::media_ctl::sdp_role::answer,
                             sbc::media_ctl::sdp_role::answer, to_a);
    INFO(why(answered));
    REQUIRE(answered);
    const auto lines = crypto_of(*answered);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].key.bytes() == s.legs[0].srtp->local.bytes());
    CHECK(node.programmed().of(side::a).srtp_set == 1);
}

TEST_CASE("restore: a transcoded call gets its codec chains again", "[media_ctl][restore]") {
    for (const auto& [pbx_codec, answer_map] :
         {std::pair{"opus", "111 opus/48000/2"}, std::pair{"G729", "18 G729/8000"}}) {
        DYNAMIC_SECTION(pbx_codec) {
            media_call call({.carrier = "codecs: [PCMA]",
                             .pbx = fmt::format("codecs: [{}, telephone-event]", pbx_codec)});
            auto offer = carrier_peer();
            offer.rtpmaps = {"8 PCMA/8000"};
            auto answer = pbx_peer();
            answer.rtpmaps = {answer_map, "101 telephone-event/8000"};
            call.connect(offer, answer);
            REQUIRE(call.media.transcoded());
            taken_over node;
            restore_equal(call, node);
            CHECK(node.media.transcoded());
            CHECK(node.programmed().of(side::a).chain);
            CHECK(node.programmed().of(side::b).chain);
            CHECK(node.media.codec(side::a) == "PCMA/8000");
            CHECK(node.media.codec(side::b) == call.media.codec(side::b));
            // The clock rate of what each peer sends (the unit of its
            // jitter), re-derived from the codecs the state names.
            for (auto s : {side::a, side::b}) {
                CHECK(node.programmed().of(s).payload_types.clock_hz ==
                      call.programmed().of(s).payload_types.clock_hz);
            }
            CHECK(node.programmed().of(side::a).payload_types.clock_hz ==
                  (std::string(pbx_codec) == "opus" ? 48000U : 0U));
        }
    }
}

TEST_CASE("restore: RTCP multiplexing and ICE-lite come back", "[media_ctl][restore][ice]") {
    media_call call({.carrier = "rtcp_mux: accept, ice: lite"});
    auto offer = with_ice(carrier_peer());
    offer.attributes.push_back("rtcp-mux");
    call.connect(offer, pbx_peer());
    const auto s = call.media.state();
    CHECK(s.legs[0].rtcp_mux);
    CHECK_FALSE(s.legs[1].rtcp_mux);
    REQUIRE(s.legs[0].ice);
    CHECK(s.legs[0].ice->in_use);
    taken_over node;
    restore_equal(call, node);
    const auto& a = node.programmed().of(side::a);
    CHECK(a.rtcp_mux);
    REQUIRE(a.rtp);
    CHECK(a.rtcp->to_string() == a.rtp->to_string());  // RFC 5761: RTCP with RTP
    CHECK(a.ice == call.programmed().of(side::a).ice);
    CHECK(node.media.ice_in_use(side::a));
    CHECK(node.media.ice_ufrag(side::a) == call.media.ice_ufrag(side::a));
    CHECK_FALSE(node.programmed().of(side::b).rtcp_mux);
    CHECK_FALSE(node.programmed().of(side::b).ice);
}

TEST_CASE("restore: a call on hold stays on hold", "[media_ctl][restore]") {
    media_call call;
    call.connect();
    auto held = carrier_peer();
    held.direction = "sendonly";
    REQUIRE(call.offer(side::a, held));
    auto answer = pbx_peer();
    answer.direction = "recvonly";
    REQUIRE(call.answer(side::b, answer));
    CHECK_FALSE(call.media.media_expected());
    taken_over node;
    restore_equal(call, node);
    CHECK_FALSE(node.media.media_expected());
}

TEST_CASE("restore: what the engine cannot serve is an error, and nothing stays open",
          "[media_ctl][restore]") {
    media_call call;
    call.connect();
    auto s = call.media.state();
    taken_over node;

    SECTION("a trunk the configuration does not have") {
        s.legs[1].trunk = "gone";
        auto restored = node.media.restore(s, trunks_of(call.cfg));
        REQUIRE_FALSE(restored);
        CHECK(restored.error_message() == "leg b: no trunk 'gone' in the configuration");
        CHECK(node.standby.journal().empty());
    }
    SECTION("a port another call holds") {
        REQUIRE(node.standby.open_session_at(99, "127.0.2.1", 40002, "127.0.2.1", 40010).ok);
        auto restored = node.media.restore(s, trunks_of(call.cfg));
        REQUIRE_FALSE(restored);
        CHECK(restored.error_message() == "media port 40002 is in use");
        CHECK(node.standby.open_sessions() == 1);
    }
    SECTION("keys the engine cannot take") {
        s.legs[0].srtp = sbc::media_ctl::srtp_state{srtp_suite::aes_cm_128_hmac_sha1_80,
                                                    sbc::secret({1, 2, 3}),
                                                    sbc::secret({4, 5}),
                                                    {},
                                                    {},
                                                    {}};
        auto restored = node.media.restore(s, trunks_of(call.cfg));
        REQUIRE_FALSE(restored);
        CHECK_THAT(restored.error_message(), Catch::StartsWith("leg a: cannot set up SRTP"));
        CHECK(node.standby.open_sessions() == 0);
    }
    CHECK_FALSE(node.media.is_open());
    CHECK(node.media.rtp_port(side::a) == 0);
    CHECK_FALSE(node.media.has_chains());
    // And a session that is open already is not restored over.
    media_call open_one;
    auto again = open_one.media.restore(s, trunks_of(call.cfg));
    REQUIRE_FALSE(again);
    CHECK(again.error_message() == "the media session is open already");
}

// ---------------------------------------------------------------------------
// On a real kernel engine: closed, rebuilt on the same ports, relaying.

constexpr std::uint8_t carrier_key = 0x11;

/// RFC 3550 5.1: version 2, `pt`, then 20 ms of audio filled with `fill`:
/// 160 octets of G.711, two G.729 frames (RFC 3551 4.5.6: 10 octets
/// each), or one CELT-only Opus frame (RFC 6716 3.1: TOC config 31,
/// one frame), whose range-coded bits decode whatever they are.
std::vector<std::uint8_t> rtp_packet(std::uint8_t pt, std::uint16_t seq, std::uint8_t fill) {
    const std::size_t audio = pt == 18 ? 20 : pt == 111 ? 61 : 160;
    std::vector<std::uint8_t> p(12 + audio, fill);
    p[0] = 0x80;
    p[1] = pt;
    p[2] = static_cast<std::uint8_t>(seq >> 8);
    p[3] = static_cast<std::uint8_t>(seq);
    const std::uint32_t ts = seq * (pt == 111 ? 960U : 160U);
    const std::uint32_t ssrc = 0x5eed0000U + fill;
    for (int i = 0; i < 4; ++i) {
        p[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
        p[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
    }
    if (pt == 111) {
        p[12] = 0xF8;
    }
    return p;
}

std::string as_text(const std::vector<std::uint8_t>& v) { return {v.begin(), v.end()}; }

std::uint8_t payload_type_of(const std::string& packet) {
    return packet.size() < 2 ? 0xff : static_cast<std::uint8_t>(packet[1] & 0x7f);
}

/// A call between two trunks on a kernel engine, with its peers on 127.0.0.1:
/// the carrier's SDP names `a_sdp`, where nothing is ever sent from, and it
/// really sends from `a_rtp` (behind a NAT, say), so media to it follows the
/// latch (symmetric RTP); the PBX sends from where its SDP says.
struct real_call {
    explicit real_call(const trunk_keys& keys)
        : cfg(sbc::test::media_call_config(keys)),
          engine(sbc::dataplane::make_kernel_engine(engine_config())) {
        open_original();
    }

    static sbc::dataplane::engine_config engine_config() {
        sbc::dataplane::engine_config c;
        c.port_min = 42000;
        c.port_max = 42099;
        c.workers = 1;
        return c;
    }

    void open_original() {
        media.emplace(*engine, 7, "original");
        media->set_leg(side::a, *cfg.find_trunk("carrier"), sbc::test::carrier_media);
        media->set_leg(side::b, *cfg.find_trunk("pbx"), sbc::test::pbx_media);
        REQUIRE(media->open());
    }

    peer_sdp carrier(peer_sdp p) const {
        p.address = "127.0.0.1";
        p.port = a_sdp.address().port();
        if (muxed_carrier) {
            p.attributes.push_back("rtcp-mux");
        } else {
            p.attributes.push_back(fmt::format("rtcp:{}", a_rtcp.address().port()));
        }
        return p;
    }
    peer_sdp pbx(peer_sdp p) const {
        p.address = "127.0.0.1";
        p.port = b_rtp.address().port();
        p.attributes.push_back(fmt::format("rtcp:{}", b_rtcp.address().port()));
        return p;
    }

    void connect(const peer_sdp& a_offer, const peer_sdp& b_answer) {
        using sbc::media_ctl::sdp_role;
        auto offered = media->translate(side::a, carrier(a_offer).text(), sdp_role::offer,
                                        sdp_role::offer, to_b);
        INFO(why(offered));
        REQUIRE(offered);
        auto answered = media->translate(side::b, pbx(b_answer).text(), sdp_role::answer,
                                         sdp_role::answer, to_a);
        INFO(why(answered));
        REQUIRE(answered);
    }

    std::uint16_t port(side s) const { return media->rtp_port(s); }
    ip_endpoint sbc_address(side s, std::uint16_t p) const {
        auto e = *ip_endpoint::from_string(
            s == side::a ? sbc::test::carrier_media : sbc::test::pbx_media, p);
        return e;
    }

    /// The carrier's RTP, SRTP-protected when `protect` is given.
    void carrier_sends(std::uint8_t pt, std::uint16_t seq,
                       sbc::dataplane::srtp::stream_crypto* protect) {
        auto p = rtp_packet(pt, seq, 0xca);
        if (protect != nullptr) {
            std::size_t len = p.size();
            p.resize(len + sbc::dataplane::srtp::max_overhead);
            REQUIRE(protect->protect_rtp(p.data(), len) == sbc::dataplane::srtp::outcome::ok);
            p.resize(len);
        }
        a_rtp.send_to(sbc_address(side::a, port(side::a)), as_text(p));
    }
    void pbx_sends(std::uint8_t pt, std::uint16_t seq) {
        b_rtp.send_to(sbc_address(side::b, port(side::b)), as_text(rtp_packet(pt, seq, 0xbb)));
    }

    /// Closes the session and waits until the engine has its ports back.
    void close() {
        media.reset();
        REQUIRE(eventually([&] {
            engine->poll();
            return engine->open_sessions() == 0 &&
                   engine->free_port_pairs() == 50;  // 42000-42099: 50 pairs
        }));
    }

    sbc::config::config cfg;
    std::unique_ptr<sbc::dataplane::media_engine> engine;
    std::optional<media_session> media;
    sdp_origin to_a{1001, 1, {}};
    sdp_origin to_b{2002, 1, {}};
    bool muxed_carrier = false;
    udp_peer a_sdp, a_rtp, a_rtcp, b_rtp, b_rtcp;
};

/// RTP from the peer `from` arrives at `to`, and what came is returned.
std::string next_from(const udp_peer& to) {
    const auto got = to.receive();
    REQUIRE(got);
    return got->payload;
}

/// The packet the carrier receives, unprotected with `unprotect` when given.
std::string carrier_receives(real_call& c, sbc::dataplane::srtp::stream_crypto* unprotect) {
    auto got = next_from(c.a_rtp);
    if (unprotect != nullptr) {
        std::vector<std::uint8_t> p(got.begin(), got.end());
        std::size_t len = p.size();
        REQUIRE(unprotect->unprotect_rtp(p.data(), len) == sbc::dataplane::srtp::outcome::ok);
        got.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len));
    }
    return got;
}

/// A shape of call: its trunks, SDP, and what each peer sends and hears.
struct shape {
    const char* name;
    trunk_keys keys;
    peer_sdp offer;
    peer_sdp answer;
    std::uint8_t carrier_pt;  ///< what the carrier sends with
    std::uint8_t pbx_hears;   ///< the payload type the PBX gets it with
    std::uint8_t pbx_pt;
    std::uint8_t carrier_hears;
    bool srtp = false;
    bool mux = false;
};

std::vector<shape> shapes() {
    auto srtp_offer = carrier_peer();
    srtp_offer.profile = "RTP/SAVP";
    srtp_offer.attributes = {peer_crypto(1, srtp_suite::aes_cm_128_hmac_sha1_80, carrier_key)};
    auto pcma = carrier_peer();
    pcma.rtpmaps = {"8 PCMA/8000"};
    auto opus = pbx_peer();
    opus.rtpmaps = {"111 opus/48000/2"};
    auto g729 = pbx_peer();
    g729.rtpmaps = {"18 G729/8000"};
    g729.attributes = {"fmtp:18 annexb=no"};
    return {
        {"plain relay", {}, carrier_peer(), pbx_peer(), 0, 0, 0, 0},
        {"SRTP to RTP", {.carrier = "srtp: required"}, srtp_offer, pbx_peer(), 0, 0, 0, 0, true},
        {"PCMA to opus",
         {.carrier = "codecs: [PCMA]", .pbx = "codecs: [opus]"},
         pcma,
         opus,
         8,
         111,
         111,
         8},
        {"PCMA to G.729",
         {.carrier = "codecs: [PCMA]", .pbx = "codecs: [G729]"},
         pcma,
         g729,
         8,
         18,
         18,
         8},
        {"rtcp-mux",
         {.carrier = "rtcp_mux: accept"},
         carrier_peer(),
         pbx_peer(),
         0,
         0,
         0,
         0,
         false,
         true},
        {"ICE lite", {.carrier = "ice: lite"}, with_ice(carrier_peer()), pbx_peer(), 0, 0, 0, 0},
    };
}

/// What the PBX receives once the carrier sends from `seq` on (a codec
/// chain may take a few packets before it sends); nullopt when nothing came.
std::optional<std::string> pbx_hears_carrier(real_call& c, const shape& sh, std::uint16_t seq,
                                             sbc::dataplane::srtp::stream_crypto* carrier_out) {
    for (std::uint16_t n = 0; n < 10; ++n) {
        c.carrier_sends(sh.carrier_pt, static_cast<std::uint16_t>(seq + n), carrier_out);
        if (auto got = c.b_rtp.receive(std::chrono::milliseconds(200))) {
            return got->payload;
        }
    }
    return std::nullopt;
}

/// The media of `c` relayed both ways from sequence number `seq` on: the
/// PBX's first (to the carrier's latched address), then the carrier's. A
/// transcoded stream may take a few packets before the chain sends.
void expect_media_both_ways(real_call& c, const shape& sh, std::uint16_t seq,
                            sbc::dataplane::srtp::stream_crypto* carrier_out,
                            sbc::dataplane::srtp::stream_crypto* carrier_in) {
    c.pbx_sends(sh.pbx_pt, seq);
    std::string heard;
    for (std::uint16_t n = 1; heard.empty() && n < 10; ++n) {
        auto got = c.a_rtp.receive(std::chrono::milliseconds(200));
        if (!got) {
            c.pbx_sends(sh.pbx_pt, static_cast<std::uint16_t>(seq + n));
            continue;
        }
        heard = got->payload;
    }
    REQUIRE_FALSE(heard.empty());
    if (carrier_in != nullptr) {
        std::vector<std::uint8_t> p(heard.begin(), heard.end());
        std::size_t len = p.size();
        REQUIRE(carrier_in->unprotect_rtp(p.data(), len) == sbc::dataplane::srtp::outcome::ok);
        heard.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len));
    }
    CHECK(payload_type_of(heard) == sh.carrier_hears);

    const auto got_b = pbx_hears_carrier(c, sh, seq, carrier_out);
    REQUIRE(got_b);
    CHECK(payload_type_of(*got_b) == sh.pbx_hears);
    // Drain what a chain still sends, so the next round reads fresh packets.
    while (c.a_rtp.receive(std::chrono::milliseconds(50))) {
    }
    while (c.b_rtp.receive(std::chrono::milliseconds(50))) {
    }
}

TEST_CASE("restore: a session closed and rebuilt on the same ports relays again",
          "[media_ctl][restore][kernel]") {
    for (const auto& sh : shapes()) {
        DYNAMIC_SECTION(sh.name) {
            real_call c(sh.keys);
            c.muxed_carrier = sh.mux;
            c.connect(sh.offer, sh.answer);
            using sbc::dataplane::srtp::stream_crypto;
            std::optional<stream_crypto> carrier_out;
            std::optional<stream_crypto> carrier_in;
            const auto suite = sbc::dataplane::srtp::suite::aes_cm_128_hmac_sha1_80;
            if (sh.srtp) {
                const std::vector<std::uint8_t> key(30, carrier_key);
                carrier_out.emplace(std::move(
                    stream_crypto::create(suite, key, stream_crypto::direction::protect).value()));
            }
            // The carrier speaks first, so the SBC latches where it sends from.
            REQUIRE(pbx_hears_carrier(c, sh, 1, carrier_out ? &*carrier_out : nullptr));
            const auto ports = std::array<std::uint16_t, 2>{c.port(side::a), c.port(side::b)};
            if (sh.srtp) {
                const auto local = c.media->state().legs[0].srtp->local.bytes();
                carrier_in.emplace(std::move(
                    stream_crypto::create(suite, local, stream_crypto::direction::unprotect)
                        .value()));
            }
            expect_media_both_ways(c, sh, 20, carrier_out ? &*carrier_out : nullptr,
                                   carrier_in ? &*carrier_in : nullptr);

            const auto before = c.media->state();
            REQUIRE(before.legs[0].latched_rtp);
            CHECK(before.legs[0].latched_rtp->port == c.a_rtp.address().port());
            CHECK(before.legs[0].peer_rtp->port == c.a_sdp.address().port());
            CHECK(before.legs[0].rtcp_mux == sh.mux);
            c.close();

            c.media.emplace(*c.engine, 8, "restored");
            auto restored = c.media->restore(before, trunks_of(c.cfg));
            INFO(why(restored));
            REQUIRE(restored);
            CHECK(c.port(side::a) == ports[0]);
            CHECK(c.port(side::b) == ports[1]);
            CHECK(c.media->state() == before);
            // The PBX speaks first now: its media reaches the carrier where
            // the carrier was latched, before the carrier sent anything here;
            // SRTP to and from the carrier with the keys it has.
            expect_media_both_ways(c, sh, 40, carrier_out ? &*carrier_out : nullptr,
                                   carrier_in ? &*carrier_in : nullptr);
            CHECK(c.media->state() == before);
            CHECK_FALSE(c.a_sdp.receive(std::chrono::milliseconds(10)));
        }
    }
}

TEST_CASE("restore: RTCP of a muxed carrier leg goes on arriving on the RTP port",
          "[media_ctl][restore][kernel]") {
    real_call c({.carrier = "rtcp_mux: accept"});
    c.muxed_carrier = true;
    c.connect(carrier_peer(), pbx_peer());
    const auto before = c.media->state();
    c.close();
    c.media.emplace(*c.engine, 8, "restored");
    REQUIRE(c.media->restore(before, trunks_of(c.cfg)));
    // RFC 5761 4: a receiver report (type 201) on the RTP port is RTCP.
    const std::string rr{"\x80\xc9\x00\x01\xca\xfe\xba\xbe", 8};
    c.a_rtp.send_to(c.sbc_address(side::a, c.port(side::a)), rr);
    const auto got = c.b_rtcp.receive();
    REQUIRE(got);
    CHECK(got->payload == rr);
    CHECK(got->from.port() == c.port(side::b) + 1);
}

TEST_CASE("restore: a port another session holds on the engine is refused, nothing left open",
          "[media_ctl][restore][kernel]") {
    real_call c({});
    c.connect(carrier_peer(), pbx_peer());
    const auto before = c.media->state();
    c.close();
    // Another call took leg b's pair meanwhile.
    REQUIRE(c.engine
                ->open_session_at(50, "127.0.2.1", before.legs[1].rtp_port, "127.0.2.1",
                                  before.legs[0].rtp_port == 42098 ? 42096 : 42098)
                .ok);
    const auto free_before = c.engine->free_port_pairs();
    c.media.emplace(*c.engine, 8, "restored");
    auto restored = c.media->restore(before, trunks_of(c.cfg));
    REQUIRE_FALSE(restored);
    CHECK(restored.error_message() ==
          fmt::format("media port 127.0.2.1:{} is in use", before.legs[1].rtp_port));
    CHECK_FALSE(c.media->is_open());
    CHECK(c.engine->open_sessions() == 1);
    CHECK(c.engine->free_port_pairs() == free_before);
}

/// What the engine reported so far, handed to the session as the b2bua
/// does (b2bua::tick): the SRTP rollovers.
void take_rollovers(real_call& c) {
    c.engine->poll();
    for (const auto& ev : c.engine->take_events()) {
        if (ev.what == sbc::dataplane::media_event::kind::srtp_rollover) {
            c.media->note_srtp_rollover(ev);
        }
    }
}

TEST_CASE("restore: SRTP streams that rolled over go on with their rollover counters",
          "[media_ctl][restore][kernel][srtp][roc]") {
    using sbc::dataplane::srtp::outcome;
    using sbc::dataplane::srtp::stream_crypto;
    using sbc::media_ctl::srtp_position_state;
    const auto sh = shapes()[1];
    REQUIRE(std::string(sh.name) == "SRTP to RTP");
    real_call c(sh.keys);
    c.connect(sh.offer, sh.answer);
    const auto suite = sbc::dataplane::srtp::suite::aes_cm_128_hmac_sha1_80;
    const std::vector<std::uint8_t> key(30, carrier_key);
    auto carrier_out =
        std::move(stream_crypto::create(suite, key, stream_crypto::direction::protect).value());
    const auto local = c.media->state().legs[0].srtp->local.bytes();
    auto carrier_in =
        std::move(stream_crypto::create(suite, local, stream_crypto::direction::unprotect).value());

    // Both of the carrier's streams cross 65535 (RFC 3711 3.3.1: ROC 1): the
    // carrier's to the SBC, and the SBC's to it (the PBX's, relayed).
    REQUIRE(pbx_hears_carrier(c, sh, 65530, &carrier_out));
    for (std::uint16_t seq = 65531; seq != 4; ++seq) {
        c.carrier_sends(0, seq, &carrier_out);
        REQUIRE(c.b_rtp.receive());
    }
    for (std::uint16_t seq = 65530; seq != 4; ++seq) {
        c.pbx_sends(0, seq);
        CHECK(carrier_receives(c, &carrier_in).size() == 12 + 160);
    }
    REQUIRE(eventually([&] {
        take_rollovers(c);
        const auto& srtp = c.media->state().legs[0].srtp;
        return srtp->peer_stream && srtp->local_stream;
    }));
    auto before = c.media->state();
    CHECK(before.legs[0].srtp->peer_stream == srtp_position_state{0x5eed00ca, 1});
    CHECK(before.legs[0].srtp->local_stream == srtp_position_state{0x5eed00bb, 1});
    CHECK_FALSE(before.legs[1].srtp);
    c.close();

    SECTION("continued: media flows both ways after the take-over") {
        c.media.emplace(*c.engine, 8, "restored");
        auto restored = c.media->restore(before, trunks_of(c.cfg));
        INFO(why(restored));
        REQUIRE(restored);
        CHECK(c.media->state() == before);
        c.pbx_sends(0, 10);
        CHECK(carrier_receives(c, &carrier_in).size() == 12 + 160);
        const auto heard = pbx_hears_carrier(c, sh, 10, &carrier_out);
        REQUIRE(heard);
        CHECK(payload_type_of(*heard) == 0);
    }
    SECTION("not continued (the counters lost): nothing authenticates either way") {
        before.legs[0].srtp->peer_stream.reset();
        before.legs[0].srtp->local_stream.reset();
        c.media.emplace(*c.engine, 8, "restored");
        REQUIRE(c.media->restore(before, trunks_of(c.cfg)));
        c.pbx_sends(0, 10);
        auto got = next_from(c.a_rtp);
        std::vector<std::uint8_t> p(got.begin(), got.end());
        std::size_t len = p.size();
        CHECK(carrier_in.unprotect_rtp(p.data(), len) == outcome::auth_failed);
        CHECK_FALSE(pbx_hears_carrier(c, sh, 10, &carrier_out));
        CHECK(c.media->stats()->sides[0].srtp_auth_failures > 0);
    }
}

}  // namespace media_session_restore_test
