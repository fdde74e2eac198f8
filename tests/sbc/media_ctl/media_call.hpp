// One call's media_session (sbc/media_ctl) between two trunks, driven by the
// SDP its peers would send, against the fake media engine that records what
// the session programs.
//
// The configuration is YAML loaded through sbc/config: interfaces "carrier"
// (media address 127.0.1.1), "pbx" (127.0.2.1) and "teams" (127.0.3.1), a
// trunk of the same name on each; leg a is the carrier trunk's, leg b the
// pbx trunk's, and the teams trunk is there for transfer targets behind
// another interface. A test adds trunk keys in YAML flow style
// ("srtp: required, codecs: [PCMA]").
//
// Object graph: the fixture owns the configuration, the fake engine and the
// session, declared so that the session (which borrows both) goes first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/config/config.hpp"
#include "sbc/media_ctl/media_session.hpp"
#include "sbc/sdp/sdes.hpp"
#include "sbc/sdp/session_description.hpp"
#include "tests/sbc/b2bua/support/fake_media_engine.hpp"

namespace sbc::test {

using dataplane::side;

// The SBC's media addresses, per interface.
inline const std::string carrier_media = "127.0.1.1";
inline const std::string pbx_media = "127.0.2.1";
inline const std::string teams_media = "127.0.3.1";

/// Whether `part` occurs in `text`.
inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// A peer's SDP as a phone or a carrier writes it: one audio stream.
struct peer_sdp {
    std::string address{};  ///< o= and, unless `connection` is set, c=
    std::uint16_t port = 0;
    std::string profile = "RTP/AVP";
    /// "<pt> <encoding>/<clock>[/<channels>]"; the m= line lists them in order.
    std::vector<std::string> rtpmaps = {"0 PCMU/8000", "101 telephone-event/8000"};
    /// Media-level attributes without "a=": "fmtp:101 0-15", "ptime:20", "crypto:...".
    std::vector<std::string> attributes{};
    std::string direction = "sendrecv";
    std::string connection{};  ///< c= when not `address` ("0.0.0.0": old-style hold)

    std::string text() const;
};

/// The peers: the carrier's behind leg a, the PBX behind leg b, a transfer
/// target behind the teams trunk. Documentation addresses (RFC 5737).
peer_sdp carrier_peer();
peer_sdp pbx_peer();
peer_sdp target_peer();

/// A peer's a=crypto value ("crypto:" included, for peer_sdp::attributes)
/// with a key of `octet` repeated.
std::string peer_crypto(unsigned tag, config::srtp_suite s, std::uint8_t octet);
/// The inline key of an a=crypto value, base64, as it appears in SDP.
std::string inline_key(const std::string& crypto_value);

/// `body` parsed; fails the test when it does not parse.
sdp::session_description parsed(const std::string& body);
/// The a=crypto values of `body`'s audio stream, parsed.
std::vector<sdp::sdes_crypto> crypto_of(const std::string& body);
/// The payload formats of `body`'s audio stream, "<pt> <encoding>/<clock>" each.
std::vector<std::string> formats_of(const std::string& body);

/// The error of `r`, "" when it holds a value: for INFO() (error_message()
/// of a value is not allowed).
template <typename T>
std::string why(const result<T>& r) {
    return r ? std::string() : r.error_message();
}

/// YAML lines added to each trunk, in flow style.
struct trunk_keys {
    std::string carrier{};
    std::string pbx{};
    std::string teams{};
};

/// The configuration media_call runs with (see the top of this file).
config::config media_call_config(const trunk_keys& keys = {});

class media_call {
public:
    static constexpr dataplane::session_id id = 7;

    /// Legs set and, unless `open` is false, the session opened.
    explicit media_call(const trunk_keys& keys = {}, bool open = true);

    const config::trunk_config& trunk(const std::string& name) const;
    /// The fake engine's record of this session.
    const fake_session& programmed() const { return engine.sessions().at(id); }
    /// The journal's lines that start with `prefix` ("set_remote", "set_chain 7 a").
    std::vector<std::string> journal(std::string_view prefix) const;

    /// What leg `from`'s peer sends, translated for the other leg as the
    /// b2bua does it: an offer relayed as an offer, an answer as an answer.
    result<std::string> offer(side from, const peer_sdp& sdp);
    result<std::string> answer(side from, const peer_sdp& sdp);
    /// The carrier's offer, the PBX's answer: a call with its media set up.
    /// Fails the test unless both translate.
    void connect(const peer_sdp& a_offer = carrier_peer(), const peer_sdp& b_answer = pbx_peer());

    config::config cfg;
    fake_media_engine engine;
    media_ctl::media_session media;
    media_ctl::sdp_origin to_a{1001, 1, {}};  ///< the SBC's o= on leg a's dialog
    media_ctl::sdp_origin to_b{2002, 1, {}};  ///< ... and on leg b's
};

}  // namespace sbc::test
