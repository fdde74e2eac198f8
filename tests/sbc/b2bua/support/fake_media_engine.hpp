// A media_engine for the in-process B2BUA tests: it binds nothing and
// relays nothing, records every call the B2BUA makes, hands out ports in a
// fixed order, and lets a test inject what workers would report (latching,
// a media timeout, DTMF).
//
// Object graph: one per test fixture, borrowed by the b2bua under test (as
// the real engine is in sbcd). Control thread only, as the interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/api/media_engine.hpp"

namespace sbc::test {

/// What the B2BUA asked of one media session, side by side.
struct fake_session {
    std::array<std::string, 2> local;  ///< media address of each side
    dataplane::session_ports ports;
    struct side_state {
        std::optional<dataplane::ip_endpoint> rtp;  ///< the latest set_remote
        std::optional<dataplane::ip_endpoint> rtcp;
        unsigned remotes_set = 0;
        bool rtcp_mux = false;  ///< the latest set_rtcp_mux
        unsigned rtcp_mux_set = 0;
        bool srtp_in = false;   ///< the latest set_srtp gave from_peer
        bool srtp_out = false;  ///< ... and to_peer
        unsigned srtp_set = 0;
        bool chain = false;  ///< the latest set_chain gave one (RTP from this side)
        unsigned chains_set = 0;
        /// The latest start_tone gave one (played to this side's peer): its
        /// format's encoding and payload type.
        std::optional<transcoder::audio_format> tone;
        unsigned tones_started = 0;
        unsigned tones_stopped = 0;
        dataplane::payload_type_map payload_types;  ///< towards this side's peer
        std::vector<char> dtmf_sent;                ///< send_dtmf from this side
        std::optional<std::string> pending_move;    ///< prepare_side_move's local
        unsigned moves = 0;                         ///< commit_side_move
        /// The latest set_ice_credentials that took (nullopt: none, or cleared).
        std::optional<dataplane::ice_credentials> ice;
        unsigned ice_set = 0;  ///< set_ice_credentials calls that took, clearing included
    };
    std::array<side_state, 2> sides;
    std::chrono::nanoseconds media_timeout{};
    bool closed = false;
    /// What stats() reports (inject_stats); all zero unless a test sets it.
    dataplane::session_stats counters{};

    side_state& of(dataplane::side s) { return sides[dataplane::index(s)]; }
    const side_state& of(dataplane::side s) const { return sides[dataplane::index(s)]; }
};

class fake_media_engine final : public dataplane::media_engine {
public:
    /// Ports are handed out from `first_port` up, two per side (RTP, RTCP).
    explicit fake_media_engine(std::uint16_t first_port = 40000) : _next_port(first_port) {}

    // What a test reads.
    /// Every call made, in order, one line each ("open 1", "set_remote 1 a
    /// 127.0.0.1:4000", ...), for a failing test to print.
    const std::vector<std::string>& journal() const noexcept { return _journal; }
    /// Every session ever opened, closed or not.
    const std::map<dataplane::session_id, fake_session>& sessions() const noexcept {
        return _sessions;
    }
    /// The one session a single-call test made; fails (throws) otherwise.
    const fake_session& only_session() const;
    /// Make the next open_session fail (a port range used up).
    void refuse_next_open(std::string why) { _refuse = std::move(why); }

    // What workers would report; the b2bua takes them on its next tick.
    void inject_latched(dataplane::session_id id, dataplane::side s,
                        const dataplane::ip_endpoint& from);
    void inject_timeout(dataplane::session_id id);
    /// The counters stats() reports for the session from now on.
    void inject_stats(dataplane::session_id id, const dataplane::session_stats& st);
    void inject_dtmf(dataplane::session_id id, dataplane::side s, char digit,
                     std::uint32_t duration_ms);
    void inject_srtp_rollover(dataplane::session_id id, dataplane::side s, bool to_peer,
                              std::uint32_t ssrc, std::uint32_t roc);
    void inject_srtcp_sent(dataplane::session_id id, dataplane::side s, std::uint32_t ssrc,
                           std::uint32_t sent);

    // dataplane::media_engine
    dataplane::open_result open_session(dataplane::session_id id, const std::string& local_a,
                                        const std::string& local_b) override;
    /// The ports given; refused when an open session holds one of them.
    dataplane::open_result open_session_at(dataplane::session_id id, const std::string& local_a,
                                           std::uint16_t rtp_a, const std::string& local_b,
                                           std::uint16_t rtp_b) override;
    void set_remote(dataplane::session_id id, dataplane::side s, const dataplane::ip_endpoint& rtp,
                    const dataplane::ip_endpoint& rtcp) override;
    void set_rtcp_mux(dataplane::session_id id, dataplane::side s, bool muxed) override;
    void set_srtp(dataplane::session_id id, dataplane::side s,
                  std::unique_ptr<dataplane::srtp::stream_crypto> from_peer,
                  std::unique_ptr<dataplane::srtp::stream_crypto> to_peer) override;
    void set_chain(dataplane::session_id id, dataplane::side from,
                   std::unique_ptr<transcoder::media_chain> chain) override;
    void set_payload_types(dataplane::session_id id, dataplane::side to,
                           const dataplane::payload_type_map& map) override;
    void start_tone(dataplane::session_id id, dataplane::side to,
                    std::unique_ptr<transcoder::tone_source> tone) override;
    /// As the real engines: false, and nothing recorded, for credentials
    /// out of RFC 8839's grammar or an unknown session.
    bool set_ice_credentials(dataplane::session_id id, dataplane::side s,
                             const std::optional<dataplane::ice_credentials>& credentials) override;
    void send_dtmf(dataplane::session_id id, dataplane::side from, char digit,
                   std::uint32_t duration_ms) override;
    void set_media_timeout(dataplane::session_id id, std::chrono::nanoseconds after) override;
    dataplane::open_result prepare_side_move(dataplane::session_id id, dataplane::side s,
                                             const std::string& local) override;
    void commit_side_move(dataplane::session_id id, dataplane::side s) override;
    void cancel_side_move(dataplane::session_id id, dataplane::side s) override;
    void close_session(dataplane::session_id id) override;
    std::optional<dataplane::session_stats> stats(dataplane::session_id id) const override;
    void poll() override {}
    std::size_t open_sessions() const override;
    std::size_t free_port_pairs() const override { return 1000; }
    std::vector<dataplane::media_event> take_events() override;

private:
    fake_session* find(dataplane::session_id id, const char* what);
    void note(std::string line) { _journal.push_back(std::move(line)); }
    std::uint16_t next_pair() {
        const auto p = _next_port;
        _next_port = static_cast<std::uint16_t>(_next_port + 2);
        return p;
    }

    std::map<dataplane::session_id, fake_session> _sessions;
    std::vector<std::string> _journal;
    std::vector<dataplane::media_event> _events;
    std::optional<std::string> _refuse;
    std::uint16_t _next_port;
};

}  // namespace sbc::test
