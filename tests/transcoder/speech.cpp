// espeak-ng's speech for the codec tests, read from its WAV output.
#include "tests/transcoder/speech.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numbers>
#include <string>

#include "tests/support/temp_dir.hpp"
#include "transcoder/resample/resampler.hpp"

extern char** environ;

namespace sbc::transcoder::test {

namespace {

constexpr const char* text =
    "Thank you for calling. Your call is important to us. "
    "Please hold the line while we connect you to the next available agent.";

std::uint32_t le32(const std::vector<char>& b, std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}

std::uint16_t le16(const std::vector<char>& b, std::size_t at) {
    return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                      static_cast<unsigned char>(b[at + 1]) << 8);
}

struct wav {
    std::uint32_t rate = 0;
    std::vector<std::int16_t> samples;
};

/// A RIFF/WAVE file of 16-bit mono PCM, as espeak-ng writes it.
wav read_wav(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> b{std::istreambuf_iterator<char>(in), {}};
    REQUIRE(b.size() >= 12);
    REQUIRE(std::string(b.data(), 4) == "RIFF");
    REQUIRE(std::string(b.data() + 8, 4) == "WAVE");
    wav w;
    bool have_format = false;
    for (std::size_t at = 12; at + 8 <= b.size();) {
        const std::string id(b.data() + at, 4);
        std::size_t size = le32(b, at + 4);
        const std::size_t body = at + 8;
        size = std::min(size, b.size() - body);  // a streamed file's size may be a placeholder
        if (id == "fmt ") {
            REQUIRE(size >= 16);
            REQUIRE(le16(b, body) == 1);        // PCM
            REQUIRE(le16(b, body + 2) == 1);    // mono
            REQUIRE(le16(b, body + 14) == 16);  // 16-bit
            w.rate = le32(b, body + 4);
            have_format = true;
        } else if (id == "data") {
            REQUIRE(have_format);
            w.samples.resize(size / 2);
            for (std::size_t i = 0; i < w.samples.size(); ++i) {
                w.samples[i] = static_cast<std::int16_t>(le16(b, body + 2 * i));
            }
        }
        at = body + size + (size & 1);
    }
    REQUIRE(w.rate != 0);
    REQUIRE(!w.samples.empty());
    return w;
}

wav make_speech() {
    sbc::test::temp_dir dir{"sbc-codecs"};
    const std::string file = (dir.path() / "speech.wav").string();
    std::string prog = "espeak-ng";
    std::string w_flag = "-w";
    std::string words = text;
    char* argv[] = {prog.data(), w_flag.data(), const_cast<char*>(file.c_str()), words.data(),
                    nullptr};
    pid_t pid = 0;
    const int err = posix_spawnp(&pid, "espeak-ng", nullptr, nullptr, argv, environ);
    if (err != 0) {
        FAIL("cannot run espeak-ng (" << std::strerror(err)
                                      << "): the codec tests need it to make speech; install "
                                         "the espeak-ng package");
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        FAIL("espeak-ng failed (status " << status << ") writing " << file);
    }
    return read_wav(file);
}

}  // namespace

const std::vector<std::int16_t>& speech(std::uint32_t rate) {
    static wav source;
    static std::map<std::uint32_t, std::vector<std::int16_t>> by_rate;
    if (auto it = by_rate.find(rate); it != by_rate.end()) {
        return it->second;
    }
    if (source.samples.empty()) {
        source = make_speech();
    }
    std::vector<std::int16_t> out;
    if (rate == source.rate) {
        out = source.samples;
    } else {
        resampler r(source.rate, rate, 8);
        out.resize(source.samples.size() * rate / source.rate + 2);
        const int n = r.process(source.samples, out);
        REQUIRE(n > 0);
        out.resize(static_cast<std::size_t>(n));
    }
    out.resize(out.size() - out.size() % (rate / 100));  // whole 10 ms packets
    return by_rate.emplace(rate, std::move(out)).first->second;
}

double snr_db(std::span<const std::int16_t> original, std::span<const std::int16_t> decoded,
              std::size_t delay) {
    double signal = 0;
    double noise = 0;
    for (std::size_t i = 0; i < original.size() && i + delay < decoded.size(); ++i) {
        const double x = original[i];
        const double e = x - decoded[i + delay];
        signal += x * x;
        noise += e * e;
    }
    return 10 * std::log10(signal / std::max(noise, 1e-9));
}

double energy(std::span<const std::int16_t> signal) {
    double sum = 0;
    for (std::int16_t s : signal) {
        sum += static_cast<double>(s) * s;
    }
    return signal.empty() ? 0 : sum / static_cast<double>(signal.size());
}

std::vector<std::int16_t> sine(double hz, double amplitude, std::uint32_t rate, std::size_t n) {
    std::vector<std::int16_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<std::int16_t>(
            std::lround(amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) /
                                             static_cast<double>(rate))));
    }
    return out;
}

}  // namespace sbc::transcoder::test
