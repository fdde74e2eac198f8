// Test helpers that make chain tests read like RTP on the wire: build a
// stream's packets, push them through a chain, and look at what came out.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "transcoder/chain/media_chain.hpp"
#include "transcoder/chain/rtp_packet.hpp"

namespace sbc::transcoder::test {

inline std::vector<std::uint8_t> rtp(std::uint8_t pt, std::uint16_t seq, std::uint32_t ts,
                                     std::span<const std::uint8_t> payload, bool marker = false,
                                     std::uint32_t ssrc = 0x11223344) {
    std::vector<std::uint8_t> p(rtp_header_octets + payload.size());
    write_rtp_header(p, marker, pt, seq, ts, ssrc);
    std::copy(payload.begin(), payload.end(), p.begin() + rtp_header_octets);
    return p;
}

/// An rtpmap's format as a leg negotiated it.
inline audio_format format(const char* encoding, std::uint32_t clock, std::uint8_t pt,
                           unsigned ptime = 20, std::uint32_t max_playback = 48000) {
    audio_format f;
    f.encoding = encoding;
    f.clock_rate = clock;
    f.channels = clock == 48000 ? 2 : 1;
    f.payload_type = pt;
    f.ptime_ms = ptime;
    f.max_playback_rate = max_playback;
    return f;
}

/// What a chain sent, parsed, with the payload copied out of the sink.
struct sent {
    rtp_view header;
    std::vector<std::uint8_t> payload;
    std::int64_t at_ns = 0;  ///< the now_ns of the push or flush that sent it
};

/// media_chain::make() of a configuration the test means to be valid: the
/// chain, or the test case fails with make()'s reason.
inline std::unique_ptr<media_chain> make_chain(const chain_config& cfg) {
    auto made = media_chain::make(cfg);
    if (!made) {
        FAIL("media_chain::make: " << made.error_message());
    }
    return std::move(made).value();
}

/// Feeds packets to a chain and keeps everything it sends. Unless `paced`,
/// what the chain holds for later (media_chain's Pacing) is taken at once
/// too, so tests of what the chain sends need not wait for when.
class chain_driver {
public:
    explicit chain_driver(std::unique_ptr<media_chain> c) : chain(std::move(c)) {}

    std::size_t push(std::span<const std::uint8_t> packet, std::int64_t now_ns = 0) {
        auto n = chain->push(packet, now_ns, _sink);
        n += release_all();
        collect(now_ns);
        return n;
    }
    std::size_t flush(std::int64_t now_ns) {
        auto n = chain->flush_due(now_ns, _sink);
        n += release_all();
        collect(now_ns);
        return n;
    }

    std::unique_ptr<media_chain> chain;
    std::vector<sent> out;
    bool paced = false;

private:
    std::size_t release_all() { return paced ? 0 : chain->release_due(no_due_ns, _sink); }
    void collect(std::int64_t now_ns) {
        for (const auto& p : _sink.packets()) {
            auto v = parse_rtp({p.data, p.len});
            REQUIRE(v);
            out.push_back(sent{*v, {v->payload.begin(), v->payload.end()}, now_ns});
            out.back().header.payload = {};
        }
        _sink.clear();
    }
    packet_sink _sink{64};
};

/// A speech-like test signal: a few harmonics under a slow envelope, so
/// every codec has something non-trivial to code.
inline std::vector<std::int16_t> voice(std::size_t samples, std::uint32_t rate) {
    std::vector<std::int16_t> pcm(samples);
    constexpr double pi = 3.14159265358979323846;
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / rate;
        const double env = 0.5 + 0.5 * std::sin(2 * pi * 3 * t);
        const double v = std::sin(2 * pi * 220 * t) + 0.5 * std::sin(2 * pi * 440 * t) +
                         0.25 * std::sin(2 * pi * 1320 * t) + 0.1 * std::sin(2 * pi * 2750 * t);
        pcm[i] = static_cast<std::int16_t>(6000 * env * v);
    }
    return pcm;
}

}  // namespace sbc::transcoder::test
