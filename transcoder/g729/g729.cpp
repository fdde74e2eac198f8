// G.729 encoder and decoder over bcg729, and the registry entry.
#include "transcoder/g729/g729.hpp"

// bcg729's headers declare C functions without extern "C" of their own.
extern "C" {
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
}

#include <algorithm>
#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

#include "sbc/common/c_handle.hpp"

namespace sbc::transcoder {

namespace {

constexpr std::uint32_t g729_rate = 8000;
constexpr std::array<std::uint32_t, 1> g729_pcm_rates{g729_rate};

// RFC 3551 4.5.6: a frame is 10 ms, 80 samples, 10 octets; an Annex B SID
// frame is 2 octets.
constexpr std::size_t frame_samples = 80;
constexpr std::size_t frame_octets = 10;
constexpr std::size_t sid_octets = 2;
// 20 frames: 200 ms, 200 octets, the most any leg negotiates in practice.
constexpr unsigned g729_max_ptime_ms = 200;

using g729_encoder_handle = c_handle<bcg729EncoderChannelContextStruct, closeBcg729EncoderChannel>;
using g729_decoder_handle = c_handle<bcg729DecoderChannelContextStruct, closeBcg729DecoderChannel>;

class g729_encoder final : public encoder {
public:
    g729_encoder(g729_encoder_handle ctx, std::size_t frames)
        : _ctx(std::move(ctx)), _frames(frames) {}

    std::uint32_t sample_rate() const noexcept override { return g729_rate; }
    std::size_t packet_samples() const noexcept override { return _frames * frame_samples; }

    int encode(std::span<const std::int16_t> pcm, std::span<std::uint8_t> out) noexcept override {
        if (pcm.size() != packet_samples() || out.size() < _frames * frame_octets) {
            return -1;
        }
        std::size_t used = 0;
        std::array<std::uint8_t, frame_octets> sid{};
        std::size_t sid_len = 0;
        for (std::size_t i = 0; i < _frames; ++i) {
            // Without Annex B every frame is 10 octets. With it, bcg729 gives
            // 10 (speech), 2 (SID) or 0 (not transmitted, DTX).
            std::array<std::uint8_t, frame_octets> frame{};
            std::uint8_t len = 0;
            bcg729Encoder(_ctx.get(), pcm.data() + i * frame_samples, frame.data(), &len);
            if (len == frame_octets) {
                std::copy_n(frame.begin(), frame_octets, out.begin() + used);
                used += frame_octets;
                // RFC 3551 4.5.6: a SID frame may only end a packet. One
                // followed by speech is dropped: the speech supersedes the
                // noise description it carried.
                sid_len = 0;
            } else if (len == sid_octets) {
                sid = frame;
                sid_len = sid_octets;
            }
        }
        // An untransmitted frame before a sent one (0 then 10 octets, at a
        // talk-spurt onset) moves the later audio 10 ms early in the packet:
        // encode() cannot say where in the packet its audio starts. Annex
        // B's VAD stops sending only after a hangover, so this happens at
        // onsets alone, where the receiver re-aligns its playout anyway.
        if (sid_len != 0) {
            std::copy_n(sid.begin(), sid_len, out.begin() + used);
            used += sid_len;
        }
        return static_cast<int>(used);  // 0: the whole packet is DTX silence
    }

private:
    g729_encoder_handle _ctx;
    std::size_t _frames;
};

class g729_decoder final : public decoder {
public:
    explicit g729_decoder(g729_decoder_handle ctx) : _ctx(std::move(ctx)) {}

    std::uint32_t sample_rate() const noexcept override { return g729_rate; }

    int decode(std::span<const std::uint8_t> payload,
               std::span<std::int16_t> pcm) noexcept override {
        // RFC 3551 4.5.6: zero or more 10-octet frames, then at most one
        // 2-octet SID frame; the length tells which.
        const std::size_t frames = payload.size() / frame_octets;
        const std::size_t rest = payload.size() % frame_octets;
        if (rest != 0 && rest != sid_octets) {
            return -1;
        }
        const std::size_t blocks = frames + (rest != 0 ? 1 : 0);
        if (blocks * frame_samples > pcm.size() || blocks > max_frames) {
            return -1;
        }
        for (std::size_t i = 0; i < frames; ++i) {
            bcg729Decoder(_ctx.get(), payload.data() + i * frame_octets, frame_octets, 0, 0, 0,
                          pcm.data() + i * frame_samples);
        }
        if (rest != 0) {
            // The SID updates the noise parameters; the frame it stands for
            // is comfort noise (G.729 Annex B 4).
            bcg729Decoder(_ctx.get(), payload.data() + frames * frame_octets, sid_octets, 0, 1, 0,
                          pcm.data() + frames * frame_samples);
        }
        return static_cast<int>(blocks * frame_samples);
    }

    int conceal(std::span<std::int16_t> pcm) noexcept override {
        // G.729 4.4: an erased frame repeats the last parameters with
        // decaying gains; after a SID, bcg729 goes on with comfort noise,
        // which is what an untransmitted Annex B frame means.
        if (pcm.size() > max_frames * frame_samples) {
            return -1;
        }
        std::size_t done = 0;
        while (done + frame_samples <= pcm.size()) {
            bcg729Decoder(_ctx.get(), nullptr, 0, 1, 0, 0, pcm.data() + done);
            done += frame_samples;
        }
        if (done < pcm.size()) {
            // A span that is not whole frames (a timestamp gap off the
            // 10 ms grid): conceal one more frame and keep its start.
            std::array<std::int16_t, frame_samples> frame{};
            bcg729Decoder(_ctx.get(), nullptr, 0, 1, 0, 0, frame.data());
            std::copy_n(frame.begin(), pcm.size() - done, pcm.begin() + done);
        }
        return static_cast<int>(pcm.size());
    }

private:
    // Bounds the work one call may do, whatever the payload length says.
    static constexpr std::size_t max_frames = 64;

    g729_decoder_handle _ctx;
};

void check_g729_rate(std::uint32_t pcm_rate) {
    if (pcm_rate != g729_rate) {
        throw std::runtime_error("G.729: PCM rate " + std::to_string(pcm_rate) +
                                 " unsupported (only 8000)");
    }
}

std::unique_ptr<encoder> make_g729_encoder(const audio_format& f, std::uint32_t pcm_rate) {
    check_g729_rate(pcm_rate);
    if (f.ptime_ms == 0 || f.ptime_ms % 10 != 0 || f.ptime_ms > g729_max_ptime_ms) {
        throw std::runtime_error("G.729: ptime " + std::to_string(f.ptime_ms) +
                                 " ms is not a multiple of the 10 ms frame up to " +
                                 std::to_string(g729_max_ptime_ms));
    }
    // RFC 4856 2.1.9: VAD and DTX (Annex B) only when annexb=yes.
    g729_encoder_handle ctx{initBcg729EncoderChannel(f.annexb ? 1 : 0)};
    if (!ctx) {
        throw std::runtime_error("G.729: bcg729 refused to create an encoder channel");
    }
    return std::make_unique<g729_encoder>(std::move(ctx), f.ptime_ms / 10);
}

std::unique_ptr<decoder> make_g729_decoder(const audio_format& /*f*/, std::uint32_t pcm_rate) {
    // The decoder takes whatever framing arrives (SID frames included,
    // annexb or not): the length of each payload says what it holds.
    check_g729_rate(pcm_rate);
    g729_decoder_handle ctx{initBcg729DecoderChannel()};
    if (!ctx) {
        throw std::runtime_error("G.729: bcg729 refused to create a decoder channel");
    }
    return std::make_unique<g729_decoder>(std::move(ctx));
}

}  // namespace

// RFC 3551 Table 4: G729, type 18, 8000 Hz, mono.
constinit const codec_info g729_codec{
    .encoding = "G729",
    .clock_rate = g729_rate,
    .static_payload_type = 18,
    .sdp_channels = 1,
    .pcm_rates = g729_pcm_rates,
    .make_encoder = make_g729_encoder,
    .make_decoder = make_g729_decoder,
};

}  // namespace sbc::transcoder
