#include "tests/sbc/media_ctl/media_call.hpp"

#include <fmt/format.h>
#include <catch2/catch.hpp>

namespace sbc::test {

namespace {

std::string trunk_yaml(const std::string& name, const std::string& peer, const std::string& keys) {
    return fmt::format(
        "  - {{name: {0}, interface: {0}, peers: [{1}], keepalive: {{interval: 0}}{2}{3}}}\n", name,
        peer, keys.empty() ? "" : ", ", keys);
}

std::string topology(const trunk_keys& keys) {
    std::string y = "interfaces:\n";
    for (const auto& [name, address] :
         {std::pair{"carrier", carrier_media}, std::pair{"pbx", pbx_media},
          std::pair{"teams", teams_media}}) {
        y += fmt::format("  - {{name: {0}, listen: [udp://{1}:5060], media_address: {1}}}\n", name,
                         address);
    }
    y += "trunks:\n";
    y += trunk_yaml("carrier", "192.0.2.10", keys.carrier);
    y += trunk_yaml("pbx", "198.51.100.20", keys.pbx);
    y += trunk_yaml("teams", "203.0.113.30", keys.teams);
    y += "routes:\n  - {from_trunk: carrier, to_trunk: pbx}\n";
    return y;
}

}  // namespace

std::string peer_sdp::text() const {
    std::string pts;
    std::string lines;
    for (const auto& r : rtpmaps) {
        pts += " " + r.substr(0, r.find(' '));
        lines += "a=rtpmap:" + r + "\r\n";
    }
    for (const auto& a : attributes) {
        lines += "a=" + a + "\r\n";
    }
    return fmt::format(
        "v=0\r\n"
        "o=peer 42 1 IN IP4 {0}\r\n"
        "s=-\r\n"
        "c=IN IP4 {1}\r\n"
        "t=0 0\r\n"
        "m=audio {2} {3}{4}\r\n"
        "{5}"
        "a={6}\r\n",
        address, connection.empty() ? address : connection, port, profile, pts, lines, direction);
}

peer_sdp carrier_peer() { return peer_sdp{.address = "192.0.2.10", .port = 30000}; }
peer_sdp pbx_peer() { return peer_sdp{.address = "198.51.100.20", .port = 31000}; }
peer_sdp target_peer() { return peer_sdp{.address = "203.0.113.30", .port = 32000}; }

std::string peer_crypto(unsigned tag, config::srtp_suite s, std::uint8_t octet) {
    sdp::sdes_crypto c{tag, s,
                       sdp::sdes_key(std::vector<std::uint8_t>(sdp::key_salt_length(s), octet))};
    return "crypto:" + sdp::format_crypto(c);
}

std::string inline_key(const std::string& crypto_value) {
    const auto at = crypto_value.find("inline:");
    REQUIRE(at != std::string::npos);
    const auto start = at + 7;
    return crypto_value.substr(start, crypto_value.find_first_of(" |", start) - start);
}

sdp::session_description parsed(const std::string& body) {
    auto sd = sdp::session_description::parse(body);
    INFO(body);
    REQUIRE(sd);
    return std::move(sd.value());
}

std::vector<sdp::sdes_crypto> crypto_of(const std::string& body) {
    std::vector<sdp::sdes_crypto> out;
    for (const auto& value : parsed(body).crypto_attributes()) {
        auto c = sdp::parse_crypto(value);
        REQUIRE(c);
        out.push_back(std::move(c.value()));
    }
    return out;
}

std::vector<std::string> formats_of(const std::string& body) {
    std::vector<std::string> out;
    for (const auto& f : parsed(body).formats()) {
        out.push_back(fmt::format("{} {}/{}", f.payload_type, f.encoding, f.clock_rate));
    }
    return out;
}

config::config media_call_config(const trunk_keys& keys) {
    return config::load_string(topology(keys), "media_call.yaml");
}

media_call::media_call(const trunk_keys& keys, bool open)
    : cfg(media_call_config(keys)), media(engine, id, "t") {
    media.set_leg(side::a, trunk("carrier"), carrier_media);
    media.set_leg(side::b, trunk("pbx"), pbx_media);
    if (open) {
        auto opened = media.open();
        INFO(why(opened));
        REQUIRE(opened);
    }
}

const config::trunk_config& media_call::trunk(const std::string& name) const {
    const auto* t = cfg.find_trunk(name);
    REQUIRE(t != nullptr);
    return *t;
}

std::vector<std::string> media_call::journal(std::string_view prefix) const {
    std::vector<std::string> out;
    for (const auto& line : engine.journal()) {
        if (line.starts_with(prefix)) {
            out.push_back(line);
        }
    }
    return out;
}

result<std::string> media_call::offer(side from, const peer_sdp& sdp) {
    using media_ctl::sdp_role;
    return media.translate(from, sdp.text(), sdp_role::offer, sdp_role::offer,
                           from == side::a ? to_b : to_a);
}

result<std::string> media_call::answer(side from, const peer_sdp& sdp) {
    using media_ctl::sdp_role;
    return media.translate(from, sdp.text(), sdp_role::answer, sdp_role::answer,
                           from == side::a ? to_b : to_a);
}

void media_call::connect(const peer_sdp& a_offer, const peer_sdp& b_answer) {
    auto offered = offer(side::a, a_offer);
    INFO(why(offered));
    REQUIRE(offered);
    auto answered = answer(side::b, b_answer);
    INFO(why(answered));
    REQUIRE(answered);
}

}  // namespace sbc::test
