// transcode_bench: how many transcoded calls (both directions) one core
// carries, per codec pair, next to the bare cost of the same decode and
// encode calls (and the resampling between their rates) measured in the
// same run. The difference is the SBC's own work per packet: RTP parsing,
// the reordering buffer, the PCM FIFO, repacketizing, header writing.
//
// Usage: transcode_bench [seconds-of-audio-per-measurement (default 20)]
// It prints a table; it asserts nothing. Single-threaded: run it on an idle core.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "transcoder/api/codec.hpp"
#include "transcoder/chain/media_chain.hpp"
#include "transcoder/chain/rtp_packet.hpp"
#include "transcoder/resample/resampler.hpp"

namespace tc = sbc::transcoder;

namespace {

using clock_type = std::chrono::steady_clock;

tc::audio_format format(const char* encoding, std::uint32_t clock, std::uint8_t pt,
                        std::uint32_t max_playback = 48000) {
    tc::audio_format f;
    f.encoding = encoding;
    f.clock_rate = clock;
    f.channels = clock == 48000 ? 2 : 1;
    f.payload_type = pt;
    f.ptime_ms = 20;
    f.max_playback_rate = max_playback;
    return f;
}

// A speech-like signal: voiced harmonics with a moving pitch under a
// syllable-rate envelope, plus a little noise, so that encoders do real work.
std::vector<std::int16_t> voice(std::size_t samples, std::uint32_t rate) {
    std::vector<std::int16_t> pcm(samples);
    constexpr double pi = 3.14159265358979323846;
    double phase = 0;
    std::uint32_t noise = 12345;
    for (std::size_t i = 0; i < samples; ++i) {
        const double t = static_cast<double>(i) / rate;
        const double pitch = 140 + 40 * std::sin(2 * pi * 0.7 * t);
        phase += 2 * pi * pitch / rate;
        double v = 0;
        for (int h = 1; h <= 12; ++h) {
            v += std::sin(h * phase) / h;
        }
        noise = noise * 1664525 + 1013904223;
        const double env = std::max(0.0, std::sin(2 * pi * 4 * t));
        pcm[i] = static_cast<std::int16_t>(5000 * env * v + ((noise >> 16) & 0x3ff) - 512);
    }
    return pcm;
}

// One direction's input: RTP packets of `f`, 20 ms each, as its encoder makes them.
std::vector<std::vector<std::uint8_t>> packets_of(const tc::audio_format& f, std::size_t count) {
    const tc::codec_info* info = tc::find_codec(f.encoding, f.clock_rate);
    const std::uint32_t rate = tc::encoder_pcm_rate(*info, f);
    auto enc = info->make_encoder(f, rate);
    const std::size_t n = enc->packet_samples();
    const auto pcm = voice(n * count, rate);
    const std::uint32_t ts_step = f.clock_rate / 50;
    std::vector<std::vector<std::uint8_t>> out;
    std::vector<std::uint8_t> payload(1500);
    for (std::size_t i = 0; i < count; ++i) {
        int len = enc->encode({pcm.data() + i * n, n}, payload);
        if (len <= 0) {
            len = 0;
        }
        std::vector<std::uint8_t> p(tc::rtp_header_octets + static_cast<std::size_t>(len));
        tc::write_rtp_header(p, i == 0, f.payload_type, static_cast<std::uint16_t>(i),
                             static_cast<std::uint32_t>(i * ts_step), 0x1000);
        std::copy_n(payload.begin(), len, p.begin() + tc::rtp_header_octets);
        out.push_back(std::move(p));
    }
    return out;
}

// The same library calls a chain makes, without the chain: decode, resample
// where the rates differ, encode. Returns ns per packet.
double bare_ns(const tc::audio_format& from, const tc::audio_format& to,
               const std::vector<std::vector<std::uint8_t>>& in) {
    const tc::codec_info* src = tc::find_codec(from.encoding, from.clock_rate);
    const tc::codec_info* dst = tc::find_codec(to.encoding, to.clock_rate);
    const std::uint32_t rate = tc::encoder_pcm_rate(*dst, to);
    std::uint32_t dec_rate = src->pcm_rates.front();
    for (std::uint32_t r : src->pcm_rates) {
        if (r <= rate) {
            dec_rate = r;
        }
    }
    auto dec = src->make_decoder(from, dec_rate);
    auto enc = dst->make_encoder(to, rate);
    std::unique_ptr<tc::resampler> rs;
    if (dec_rate != rate) {
        rs = std::make_unique<tc::resampler>(dec_rate, rate);
    }
    std::vector<std::int16_t> pcm(5760);
    std::vector<std::int16_t> up(5760);
    std::vector<std::uint8_t> out(1500);
    std::size_t sink = 0;
    const auto start = clock_type::now();
    for (const auto& p : in) {
        const int n =
            dec->decode({p.data() + tc::rtp_header_octets, p.size() - tc::rtp_header_octets}, pcm);
        std::span<const std::int16_t> samples{pcm.data(), static_cast<std::size_t>(std::max(n, 0))};
        if (rs) {
            const int m = rs->process(samples, up);
            samples = {up.data(), static_cast<std::size_t>(std::max(m, 0))};
        }
        if (samples.size() >= enc->packet_samples()) {
            sink += static_cast<std::size_t>(
                std::max(0, enc->encode(samples.first(enc->packet_samples()), out)));
        }
    }
    const auto ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
    if (sink == 0) {
        std::fprintf(stderr, "warning: nothing encoded\n");
    }
    return ns / static_cast<double>(in.size());
}

// The chain the data plane runs for the same direction. Returns ns per packet.
double chain_ns(const tc::audio_format& from, const tc::audio_format& to,
                const std::vector<std::vector<std::uint8_t>>& in) {
    tc::chain_config cfg;
    cfg.in.audio = from;
    cfg.out.audio = to;
    cfg.origin = tc::output_origin{0x2000, 1, 1};
    auto made = tc::media_chain::make(cfg);
    if (!made) {
        std::fprintf(stderr, "cannot make the chain: %s\n", made.error_message().c_str());
        std::exit(1);
    }
    auto chain = std::move(made).value();
    tc::packet_sink sink(64);
    std::size_t sent = 0;
    std::int64_t now = 0;
    const auto start = clock_type::now();
    for (const auto& p : in) {
        sent += chain->push(p, now, sink);
        sink.clear();
        now += 20'000'000;
    }
    const auto ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
    if (sent == 0) {
        std::fprintf(stderr, "warning: the chain sent nothing\n");
    }
    return ns / static_cast<double>(in.size());
}

struct pair_spec {
    const char* name;
    tc::audio_format x;
    tc::audio_format y;
};

}  // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 20.0;
    const auto packets = static_cast<std::size_t>(std::max(1.0, seconds * 50));
    const pair_spec pairs[] = {
        // G.711 costs next to nothing: this row shows the chain's own work
        // per packet (parsing, buffering, FIFO, header) in absolute terms.
        {"PCMU <-> PCMA", format("PCMU", 8000, 0), format("PCMA", 8000, 8)},
        {"PCMA <-> G729", format("PCMA", 8000, 8), format("G729", 8000, 18)},
        {"PCMU <-> Opus NB", format("PCMU", 8000, 0), format("opus", 48000, 111, 8000)},
        {"PCMU <-> Opus WB", format("PCMU", 8000, 0), format("opus", 48000, 111, 16000)},
        {"PCMU <-> Opus FB", format("PCMU", 8000, 0), format("opus", 48000, 111, 48000)},
        {"Opus NB <-> G729", format("opus", 48000, 111, 8000), format("G729", 8000, 18)},
        {"Opus FB <-> G729", format("opus", 48000, 111, 48000), format("G729", 8000, 18)},
    };
    std::printf("transcode_bench: %zu packets of 20 ms per direction and measurement, best of 3\n",
                packets);
    std::printf(
        "a call = both directions; cost per call = us of one core per 20 ms of the call\n\n");
    std::printf("%-18s %12s %12s %9s %12s %12s\n", "pair", "bare us", "chain us", "overhead",
                "calls(bare)", "calls(chain)");
    for (const auto& p : pairs) {
        const auto xs = packets_of(p.x, packets);
        const auto ys = packets_of(p.y, packets);
        double bare = 1e300;
        double chain = 1e300;
        for (int round = 0; round < 3; ++round) {
            bare = std::min(bare, bare_ns(p.x, p.y, xs) + bare_ns(p.y, p.x, ys));
            chain = std::min(chain, chain_ns(p.x, p.y, xs) + chain_ns(p.y, p.x, ys));
        }
        const double bare_us = bare / 1000;
        const double chain_us = chain / 1000;
        std::printf("%-18s %12.2f %12.2f %8.1f%% %12.0f %12.0f\n", p.name, bare_us, chain_us,
                    100.0 * (chain_us - bare_us) / bare_us, 20000.0 / bare_us, 20000.0 / chain_us);
    }
    return 0;
}
