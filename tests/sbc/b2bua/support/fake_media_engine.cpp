#include "tests/sbc/b2bua/support/fake_media_engine.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sbc::test {

namespace {
char name(dataplane::side s) { return s == dataplane::side::a ? 'a' : 'b'; }
}  // namespace

const fake_session& fake_media_engine::only_session() const {
    if (_sessions.size() != 1) {
        throw std::logic_error(
            fmt::format("expected one media session, the B2BUA opened {}", _sessions.size()));
    }
    return _sessions.begin()->second;
}

fake_session* fake_media_engine::find(dataplane::session_id id, const char* what) {
    auto it = _sessions.find(id);
    if (it == _sessions.end() || it->second.closed) {
        note(fmt::format("{} {}: no such open session", what, id));
        return nullptr;
    }
    return &it->second;
}

void fake_media_engine::inject_latched(dataplane::session_id id, dataplane::side s,
                                       const dataplane::ip_endpoint& from) {
    dataplane::media_event ev;
    ev.what = dataplane::media_event::kind::latched;
    ev.id = id;
    ev.s = s;
    ev.latched = from;
    _events.push_back(ev);
}

void fake_media_engine::inject_timeout(dataplane::session_id id) {
    dataplane::media_event ev;
    ev.what = dataplane::media_event::kind::timeout;
    ev.id = id;
    _events.push_back(ev);
}

void fake_media_engine::inject_dtmf(dataplane::session_id id, dataplane::side s, char digit,
                                    std::uint32_t duration_ms) {
    dataplane::media_event ev;
    ev.what = dataplane::media_event::kind::dtmf;
    ev.id = id;
    ev.s = s;
    ev.digit = digit;
    ev.duration_ms = duration_ms;
    _events.push_back(ev);
}

void fake_media_engine::inject_srtp_rollover(dataplane::session_id id, dataplane::side s,
                                             bool to_peer, std::uint32_t ssrc, std::uint32_t roc) {
    dataplane::media_event ev;
    ev.what = dataplane::media_event::kind::srtp_rollover;
    ev.id = id;
    ev.s = s;
    ev.to_peer = to_peer;
    ev.ssrc = ssrc;
    ev.roc = roc;
    _events.push_back(ev);
}

void fake_media_engine::inject_srtcp_sent(dataplane::session_id id, dataplane::side s,
                                          std::uint32_t ssrc, std::uint32_t sent) {
    dataplane::media_event ev;
    ev.what = dataplane::media_event::kind::srtp_rollover;
    ev.id = id;
    ev.s = s;
    ev.to_peer = true;
    ev.srtcp = true;
    ev.ssrc = ssrc;
    ev.srtcp_sent = sent;
    _events.push_back(ev);
}

dataplane::open_result fake_media_engine::open_session(dataplane::session_id id,
                                                       const std::string& local_a,
                                                       const std::string& local_b) {
    note(fmt::format("open {} {} {}", id, local_a, local_b));
    if (_refuse) {
        dataplane::open_result r;
        r.error = *std::exchange(_refuse, std::nullopt);
        return r;
    }
    if (auto it = _sessions.find(id); it != _sessions.end() && !it->second.closed) {
        return dataplane::open_result{false, {}, fmt::format("session {} is open", id)};
    }
    fake_session s;
    s.local = {local_a, local_b};
    s.ports.rtp = {next_pair(), next_pair()};
    _sessions[id] = s;
    return dataplane::open_result{true, s.ports, {}};
}

dataplane::open_result fake_media_engine::open_session_at(dataplane::session_id id,
                                                          const std::string& local_a,
                                                          std::uint16_t rtp_a,
                                                          const std::string& local_b,
                                                          std::uint16_t rtp_b) {
    note(fmt::format("open_at {} {}:{} {}:{}", id, local_a, rtp_a, local_b, rtp_b));
    if (_refuse) {
        dataplane::open_result r;
        r.error = *std::exchange(_refuse, std::nullopt);
        return r;
    }
    if (auto it = _sessions.find(id); it != _sessions.end() && !it->second.closed) {
        return dataplane::open_result{false, {}, fmt::format("session {} is open", id)};
    }
    // As the real engines' pool: a port held by an open session, on any
    // address, is in use.
    for (const auto& entry : _sessions) {
        const auto& open = entry.second;
        for (const auto port : open.ports.rtp) {
            if (!open.closed && (port == rtp_a || port == rtp_b)) {
                return dataplane::open_result{
                    false, {}, fmt::format("media port {} is in use", port)};
            }
        }
    }
    fake_session s;
    s.local = {local_a, local_b};
    s.ports.rtp = {rtp_a, rtp_b};
    _sessions[id] = s;
    return dataplane::open_result{true, s.ports, {}};
}

void fake_media_engine::set_remote(dataplane::session_id id, dataplane::side s,
                                   const dataplane::ip_endpoint& rtp,
                                   const dataplane::ip_endpoint& rtcp) {
    note(fmt::format("set_remote {} {} {} {}", id, name(s), rtp.to_string(), rtcp.to_string()));
    if (auto* f = find(id, "set_remote")) {
        auto& side = f->of(s);
        side.rtp = rtp;
        side.rtcp = rtcp;
        ++side.remotes_set;
    }
}

void fake_media_engine::set_rtcp_mux(dataplane::session_id id, dataplane::side s, bool muxed) {
    note(fmt::format("set_rtcp_mux {} {} {}", id, name(s), muxed));
    if (auto* f = find(id, "set_rtcp_mux")) {
        f->of(s).rtcp_mux = muxed;
        ++f->of(s).rtcp_mux_set;
    }
}

void fake_media_engine::set_srtp(dataplane::session_id id, dataplane::side s,
                                 std::unique_ptr<dataplane::srtp::stream_crypto> from_peer,
                                 std::unique_ptr<dataplane::srtp::stream_crypto> to_peer) {
    note(fmt::format("set_srtp {} {} in={} out={}", id, name(s), from_peer != nullptr,
                     to_peer != nullptr));
    if (auto* f = find(id, "set_srtp")) {
        auto& side = f->of(s);
        side.srtp_in = from_peer != nullptr;
        side.srtp_out = to_peer != nullptr;
        ++side.srtp_set;
    }
}

void fake_media_engine::set_chain(dataplane::session_id id, dataplane::side from,
                                  std::unique_ptr<transcoder::media_chain> chain) {
    note(fmt::format("set_chain {} {} {}", id, name(from), chain != nullptr));
    if (auto* f = find(id, "set_chain")) {
        f->of(from).chain = chain != nullptr;
        ++f->of(from).chains_set;
    }
}

void fake_media_engine::start_tone(dataplane::session_id id, dataplane::side to,
                                   std::unique_ptr<transcoder::tone_source> tone) {
    note(fmt::format("start_tone {} {} {}", id, name(to),
                     tone ? tone->config().out.encoding : std::string("stop")));
    if (auto* f = find(id, "start_tone")) {
        auto& s = f->of(to);
        if (tone) {
            s.tone = tone->config().out;
            ++s.tones_started;
        } else {
            s.tone.reset();
            ++s.tones_stopped;
        }
    }
}

void fake_media_engine::set_payload_types(dataplane::session_id id, dataplane::side to,
                                          const dataplane::payload_type_map& map) {
    note(fmt::format("set_payload_types {} {} {} entries", id, name(to), map.count));
    if (auto* f = find(id, "set_payload_types")) {
        f->of(to).payload_types = map;
    }
}

bool fake_media_engine::set_ice_credentials(
    dataplane::session_id id, dataplane::side s,
    const std::optional<dataplane::ice_credentials>& credentials) {
    if (!credentials) {
        note(fmt::format("set_ice_credentials {} {} none", id, name(s)));
    } else {
        note(fmt::format("set_ice_credentials {} {} ufrag={} remote={}", id, name(s),
                         credentials->local_ufrag, credentials->remote_ufrag));
    }
    auto* f = find(id, "set_ice_credentials");
    if (f == nullptr || (credentials && !credentials->invalid_because().empty())) {
        return false;
    }
    f->of(s).ice = credentials;
    ++f->of(s).ice_set;
    return true;
}

void fake_media_engine::send_dtmf(dataplane::session_id id, dataplane::side from, char digit,
                                  std::uint32_t duration_ms) {
    note(fmt::format("send_dtmf {} {} {} {}", id, name(from), digit, duration_ms));
    if (auto* f = find(id, "send_dtmf")) {
        f->of(from).dtmf_sent.push_back(digit);
    }
}

void fake_media_engine::set_media_timeout(dataplane::session_id id,
                                          std::chrono::nanoseconds after) {
    note(fmt::format("set_media_timeout {} {}ms", id,
                     std::chrono::duration_cast<std::chrono::milliseconds>(after).count()));
    if (auto* f = find(id, "set_media_timeout")) {
        f->media_timeout = after;
    }
}

dataplane::open_result fake_media_engine::prepare_side_move(dataplane::session_id id,
                                                            dataplane::side s,
                                                            const std::string& local) {
    note(fmt::format("prepare_side_move {} {} {}", id, name(s), local));
    auto* f = find(id, "prepare_side_move");
    if (f == nullptr) {
        return dataplane::open_result{false, {}, "no such session"};
    }
    f->of(s).pending_move = local;
    dataplane::open_result r{true, f->ports, {}};
    r.ports.rtp[dataplane::index(s)] = next_pair();
    return r;
}

void fake_media_engine::commit_side_move(dataplane::session_id id, dataplane::side s) {
    note(fmt::format("commit_side_move {} {}", id, name(s)));
    if (auto* f = find(id, "commit_side_move"); f != nullptr && f->of(s).pending_move) {
        f->local[dataplane::index(s)] = *std::exchange(f->of(s).pending_move, std::nullopt);
        ++f->of(s).moves;
    }
}

void fake_media_engine::cancel_side_move(dataplane::session_id id, dataplane::side s) {
    note(fmt::format("cancel_side_move {} {}", id, name(s)));
    if (auto* f = find(id, "cancel_side_move")) {
        f->of(s).pending_move.reset();
    }
}

void fake_media_engine::close_session(dataplane::session_id id) {
    note(fmt::format("close {}", id));
    if (auto* f = find(id, "close")) {
        f->closed = true;
    }
}

std::optional<dataplane::session_stats> fake_media_engine::stats(dataplane::session_id id) const {
    auto it = _sessions.find(id);
    if (it == _sessions.end() || it->second.closed) {
        return std::nullopt;
    }
    return it->second.counters;
}

void fake_media_engine::inject_stats(dataplane::session_id id, const dataplane::session_stats& st) {
    if (auto* f = find(id, "inject_stats")) {
        f->counters = st;
    }
}

std::size_t fake_media_engine::open_sessions() const {
    std::size_t n = 0;
    for (const auto& [id, s] : _sessions) {
        n += s.closed ? 0 : 1;
    }
    return n;
}

std::vector<dataplane::media_event> fake_media_engine::take_events() {
    return std::exchange(_events, {});
}

}  // namespace sbc::test
