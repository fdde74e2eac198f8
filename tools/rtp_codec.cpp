// rtp_codec: the transcoder's codecs on the command line, for the e2e tests
// (tests/e2e/media_tools.py), which make RTP payloads for sipp to play and
// decode what the SBC sent, with the same codec code the data plane runs.
//
//   rtp_codec decode ENCODING CLOCK [PT] [fmtp...]
//       stdin: records of a 2-octet big-endian length and that many octets of
//       RTP payload; a zero length is a lost packet (concealed, for as long as
//       the packet before it). stdout: s16le mono PCM at 8000 Hz (G722: its
//       lower sub-band, as the SBC decodes it towards a narrowband leg).
//   rtp_codec encode ENCODING CLOCK PTIME_MS [fmtp...]
//       stdin: s16le mono PCM at 8000 Hz. stdout: one length-prefixed record
//       per packet (a trailing part packet is padded with silence). The
//       encoder runs at encoder_pcm_rate() for the format, as the SBC's codec
//       chain does (Opus: 48000 Hz unless maxplaybackrate lowers it; G722:
//       16000 Hz, on its 8000 Hz RTP clock, RFC 3551 4.5.2); the
//       8000 Hz input is resampled up to it with the transcoder's resampler.
//   rtp_codec resample FROM TO
//       stdin: s16le mono PCM at FROM Hz; stdout: the same at TO Hz.
//   rtp_codec tones DIGITS [ON_MS [OFF_MS [LEAD_MS]]]
//       stdout: s16le mono PCM at 8000 Hz: LEAD_MS of silence (default
//       200), then each DTMF key of DIGITS ('0'-'9', '*', '#', 'A'-'D') as
//       its tone for ON_MS (default 100) followed by OFF_MS of silence
//       (default 100; at least the generator's own gap), through the
//       transcoder's tone_generator (spandsp's dtmf_tx, as the SBC plays
//       digits to an inband leg).
//   rtp_codec detect
//       stdin: s16le mono PCM at 8000 Hz. stdout: one line per DTMF tone
//       the transcoder's tone_detector (spandsp's dtmf_rx, as the SBC
//       listens to an inband leg) heard: "DIGIT START_MS DURATION_MS".
//
// fmtp arguments fill transcoder::audio_format as the SDP would (RFC 7587
// 7.1, RFC 4856 2.1.9): maxplaybackrate=N, sprop-maxcapturerate=N,
// maxaveragebitrate=N, stereo=0|1, useinbandfec=0|1, usedtx=0|1,
// annexb=yes|no, ptime=N. Any error (bad arguments, a truncated record, a
// payload that does not decode): a message on stderr and exit status 2.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "transcoder/api/codec.hpp"
#include "transcoder/dtmf/telephone_event.hpp"
#include "transcoder/dtmf/tone_detector.hpp"
#include "transcoder/dtmf/tone_generator.hpp"
#include "transcoder/resample/resampler.hpp"

namespace tc = sbc::transcoder;

namespace {

constexpr std::uint32_t io_rate = 8000;
constexpr std::size_t max_payload = 65535;
constexpr int exit_usage = 2;

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::uint32_t parse_uint(std::string_view what, const std::string& text) {
    std::size_t used = 0;
    unsigned long value = 0;
    try {
        value = std::stoul(text, &used, 10);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || value > UINT32_MAX) {
        throw usage_error(std::string(what) + ": '" + text + "' is not a number");
    }
    return static_cast<std::uint32_t>(value);
}

bool parse_flag(const std::string& name, const std::string& value) {
    if (value == "1" || value == "yes") {
        return true;
    }
    if (value == "0" || value == "no") {
        return false;
    }
    throw usage_error("fmtp " + name + ": '" + value + "' is not 0/1 or yes/no");
}

void apply_fmtp(tc::audio_format& f, const std::string& arg) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos) {
        throw usage_error("fmtp argument '" + arg + "' is not name=value");
    }
    const std::string name = arg.substr(0, eq);
    const std::string value = arg.substr(eq + 1);
    if (name == "maxplaybackrate") {
        f.max_playback_rate = parse_uint(name, value);
    } else if (name == "sprop-maxcapturerate") {
        f.sprop_max_capture_rate = parse_uint(name, value);
    } else if (name == "maxaveragebitrate") {
        f.max_average_bitrate = parse_uint(name, value);
    } else if (name == "stereo") {
        f.stereo = parse_flag(name, value);
    } else if (name == "useinbandfec") {
        f.use_inband_fec = parse_flag(name, value);
    } else if (name == "usedtx") {
        f.use_dtx = parse_flag(name, value);
    } else if (name == "annexb") {
        f.annexb = parse_flag(name, value);
    } else if (name == "ptime") {
        f.ptime_ms = parse_uint(name, value);
    } else {
        throw usage_error("unknown fmtp parameter '" + name + "'");
    }
}

// The registry's codec and the format the arguments describe.
struct codec_args {
    const tc::codec_info* info = nullptr;
    tc::audio_format format;
};

codec_args parse_codec(const std::vector<std::string>& args, std::size_t fmtp_from) {
    codec_args c;
    c.format.encoding = args.at(0);
    c.format.clock_rate = parse_uint("CLOCK", args.at(1));
    c.info = tc::find_codec(c.format.encoding, c.format.clock_rate);
    if (c.info == nullptr) {
        throw usage_error("no codec " + c.format.encoding + "/" + args.at(1) +
                          " in the transcoder's registry");
    }
    c.format.channels = c.info->sdp_channels;
    if (c.info->static_payload_type >= 0) {
        c.format.payload_type = static_cast<std::uint8_t>(c.info->static_payload_type);
    }
    for (std::size_t i = fmtp_from; i < args.size(); ++i) {
        apply_fmtp(c.format, args[i]);
    }
    return c;
}

// Reads exactly out.size() octets; false at a clean end of input before the
// first, throws on a truncated record.
bool read_exact(std::FILE* in, std::span<std::uint8_t> out) {
    const std::size_t got = std::fread(out.data(), 1, out.size(), in);
    if (got == out.size()) {
        return true;
    }
    if (got == 0 && std::feof(in)) {
        return false;
    }
    throw std::runtime_error("truncated input record");
}

void write_all(std::span<const std::uint8_t> data) {
    if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size()) {
        throw std::runtime_error("cannot write to stdout");
    }
}

void write_pcm(std::span<const std::int16_t> pcm) {
    std::vector<std::uint8_t> bytes(pcm.size() * 2);
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        const auto v = static_cast<std::uint16_t>(pcm[i]);
        bytes[2 * i] = static_cast<std::uint8_t>(v);
        bytes[2 * i + 1] = static_cast<std::uint8_t>(v >> 8);
    }
    write_all(bytes);
}

std::vector<std::int16_t> read_all_pcm(std::FILE* in) {
    std::vector<std::int16_t> pcm;
    std::uint8_t two[2];
    std::size_t got = 0;
    while ((got = std::fread(two, 1, 2, in)) == 2) {
        pcm.push_back(static_cast<std::int16_t>(two[0] | two[1] << 8));
    }
    if (got != 0) {
        throw std::runtime_error("odd number of PCM octets on stdin");
    }
    return pcm;
}

int run_decode(const std::vector<std::string>& args) {
    if (args.size() < 2) {
        throw usage_error("decode needs ENCODING CLOCK [PT] [fmtp...]");
    }
    std::size_t fmtp_from = 2;
    std::uint32_t pt = 0;
    bool have_pt = false;
    if (args.size() > 2 && args[2].find('=') == std::string::npos) {
        pt = parse_uint("PT", args[2]);
        have_pt = true;
        fmtp_from = 3;
    }
    codec_args c = parse_codec(args, fmtp_from);
    if (have_pt) {
        c.format.payload_type = static_cast<std::uint8_t>(pt & 0x7f);
    }
    auto dec = c.info->make_decoder(c.format, io_rate);
    // Room for the longest packet any registered codec takes (120 ms Opus
    // at 8000 Hz is 960 samples); generous.
    std::vector<std::int16_t> pcm(io_rate);
    std::vector<std::uint8_t> payload(max_payload);
    std::size_t last_samples = std::size_t{io_rate} * c.format.ptime_ms / 1000;
    std::uint8_t len_octets[2];
    std::size_t record = 0;
    while (read_exact(stdin, len_octets)) {
        const std::size_t len = static_cast<std::size_t>(len_octets[0] << 8 | len_octets[1]);
        if (len > 0 && !read_exact(stdin, {payload.data(), len})) {
            throw std::runtime_error("truncated input record");
        }
        int n = 0;
        if (len == 0) {
            n = dec->conceal({pcm.data(), last_samples});
        } else {
            n = dec->decode({payload.data(), len}, pcm);
        }
        if (n < 0) {
            throw std::runtime_error("record " + std::to_string(record) + " (" +
                                     std::to_string(len) + " octets) did not decode");
        }
        if (n > 0) {
            last_samples = static_cast<std::size_t>(n);
        }
        write_pcm({pcm.data(), static_cast<std::size_t>(n)});
        ++record;
    }
    return 0;
}

int run_encode(const std::vector<std::string>& args) {
    if (args.size() < 3) {
        throw usage_error("encode needs ENCODING CLOCK PTIME_MS [fmtp...]");
    }
    codec_args c = parse_codec(args, 3);
    c.format.ptime_ms = parse_uint("PTIME_MS", args[2]);
    const std::uint32_t rate = tc::encoder_pcm_rate(*c.info, c.format);
    auto enc = c.info->make_encoder(c.format, rate);
    std::vector<std::int16_t> pcm = read_all_pcm(stdin);
    if (rate != io_rate) {
        tc::resampler up(io_rate, rate);
        std::vector<std::int16_t> out(pcm.size() * rate / io_rate + 16);
        const int n = up.process(pcm, out);
        if (n < 0) {
            throw std::runtime_error("the resampler refused the input");
        }
        out.resize(static_cast<std::size_t>(n));
        pcm = std::move(out);
    }
    const std::size_t step = enc->packet_samples();
    pcm.resize((pcm.size() + step - 1) / step * step, 0);
    std::vector<std::uint8_t> payload(max_payload);
    for (std::size_t at = 0; at < pcm.size(); at += step) {
        const int n = enc->encode({pcm.data() + at, step}, payload);
        if (n < 0) {
            throw std::runtime_error("the encoder failed at sample " + std::to_string(at));
        }
        const std::uint8_t len[2] = {static_cast<std::uint8_t>(n >> 8),
                                     static_cast<std::uint8_t>(n)};
        write_all(len);
        write_all({payload.data(), static_cast<std::size_t>(n)});
    }
    return 0;
}

int run_resample(const std::vector<std::string>& args) {
    if (args.size() != 2) {
        throw usage_error("resample needs FROM TO");
    }
    const std::uint32_t from = parse_uint("FROM", args[0]);
    const std::uint32_t to = parse_uint("TO", args[1]);
    const std::vector<std::int16_t> pcm = read_all_pcm(stdin);
    if (from == to) {
        write_pcm(pcm);
        return 0;
    }
    tc::resampler conv(from, to);
    std::vector<std::int16_t> out(pcm.size() * to / from + 16);
    const int n = conv.process(pcm, out);
    if (n < 0) {
        throw std::runtime_error("the resampler refused the input");
    }
    write_pcm({out.data(), static_cast<std::size_t>(n)});
    return 0;
}

int run_tones(const std::vector<std::string>& args) {
    namespace dtmf = tc::dtmf;
    if (args.empty() || args.size() > 4) {
        throw usage_error("tones needs DIGITS [ON_MS [OFF_MS [LEAD_MS]]]");
    }
    const std::uint32_t on_ms = args.size() > 1 ? parse_uint("ON_MS", args[1]) : 100;
    const std::uint32_t off_ms = args.size() > 2 ? parse_uint("OFF_MS", args[2]) : 100;
    const std::uint32_t lead_ms = args.size() > 3 ? parse_uint("LEAD_MS", args[3]) : 200;
    if (on_ms < dtmf::tone_generator::min_duration_ms ||
        on_ms > dtmf::tone_generator::max_duration_ms) {
        throw usage_error("ON_MS must be " + std::to_string(dtmf::tone_generator::min_duration_ms) +
                          " to " + std::to_string(dtmf::tone_generator::max_duration_ms));
    }
    if (off_ms < dtmf::tone_generator::gap_ms || off_ms > 60000 || lead_ms > 60000) {
        throw usage_error("OFF_MS must be " + std::to_string(dtmf::tone_generator::gap_ms) +
                          " to 60000, LEAD_MS up to 60000");
    }
    constexpr std::uint32_t per_ms = dtmf::tone_generator::sample_rate / 1000;
    std::vector<std::int16_t> pcm(std::size_t{lead_ms} * per_ms, 0);
    dtmf::tone_generator gen;
    for (const char symbol : args[0]) {
        if (!dtmf::is_dtmf_key(symbol) || !gen.start(symbol, on_ms)) {
            throw usage_error(std::string("'") + symbol + "' is not a DTMF key");
        }
        // The tone, then silence to OFF_MS (the generator writes its own gap
        // of silence after the tone; the rest is padded here).
        const std::size_t at = pcm.size();
        pcm.resize(at + std::size_t{on_ms + off_ms} * per_ms, 0);
        std::span<std::int16_t> piece{pcm.data() + at, pcm.size() - at};
        (void)gen.fill(piece);
        // A digit that ends exactly at the end of `piece` still counts as
        // playing until the next fill() finds nothing left of it.
        std::int16_t probe = 0;
        if (gen.busy() && gen.fill({&probe, 1}) != 0) {
            throw std::runtime_error("the tone generator did not finish a digit in time");
        }
    }
    write_pcm(pcm);
    return 0;
}

int run_detect(const std::vector<std::string>& args) {
    namespace dtmf = tc::dtmf;
    if (!args.empty()) {
        throw usage_error("detect takes no arguments (PCM on stdin)");
    }
    const std::vector<std::int16_t> pcm = read_all_pcm(stdin);
    auto det = std::make_unique<dtmf::tone_detector>();
    constexpr std::uint32_t per_ms = dtmf::tone_detector::sample_rate / 1000;
    auto print = [](const dtmf::detected_digit& d) {
        std::printf("%c %llu %u\n", d.symbol,
                    static_cast<unsigned long long>(d.start_sample / per_ms),
                    d.duration_samples / per_ms);
    };
    // Fed in 20 ms pieces, as a codec chain feeds each decoded packet; the
    // ring holds 16 digits, so it is emptied after every piece.
    constexpr std::size_t piece = 20 * per_ms;
    for (std::size_t at = 0; at < pcm.size(); at += piece) {
        det->feed({pcm.data() + at, std::min(piece, pcm.size() - at)});
        while (auto d = det->take()) {
            print(*d);
        }
    }
    // A tone still sounding at the end of the input is ended by silence.
    const std::vector<std::int16_t> silence(dtmf::tone_detector::sample_rate / 10, 0);
    det->feed(silence);
    while (auto d = det->take()) {
        print(*d);
    }
    if (det->overflows() != 0) {
        throw std::runtime_error("the detector's ring overflowed");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> all(argv + 1, argv + argc);
    if (all.empty()) {
        std::fprintf(stderr,
                     "usage: rtp_codec decode ENCODING CLOCK [PT] [fmtp...]\n"
                     "       rtp_codec encode ENCODING CLOCK PTIME_MS [fmtp...]\n"
                     "       rtp_codec resample FROM TO\n"
                     "       rtp_codec tones DIGITS [ON_MS [OFF_MS [LEAD_MS]]]\n"
                     "       rtp_codec detect\n");
        return exit_usage;
    }
    const std::vector<std::string> args(all.begin() + 1, all.end());
    try {
        if (all[0] == "decode") {
            return run_decode(args);
        }
        if (all[0] == "encode") {
            return run_encode(args);
        }
        if (all[0] == "resample") {
            return run_resample(args);
        }
        if (all[0] == "tones") {
            return run_tones(args);
        }
        if (all[0] == "detect") {
            return run_detect(args);
        }
        throw usage_error("unknown command '" + all[0] +
                          "' (decode, encode, resample, tones or detect)");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rtp_codec: %s\n", e.what());
        return exit_usage;
    }
}
