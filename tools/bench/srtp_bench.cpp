// srtp_bench: what SRTP costs per packet in this data plane's crypto, next
// to libsrtp2's own (Debian's, built on NSS). Prints ns per packet for
// protect and unprotect of 20 ms G.711 packets (172 octets of RTP), for each
// suite and each backend, on one core, from memory (no I/O).
//
//   build/tools/bench/srtp_bench [packets]
#include <srtp2/srtp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane/srtp/crypto_backend.hpp"

using namespace sbc::dataplane::srtp;

namespace {

constexpr int payload = 160;
constexpr int rtp_len = 12 + payload;

struct suite {
    const char* name;
    void (*policy)(srtp_crypto_policy_t*);
    int key_len;
};

srtp_t make(const suite& s, unsigned char* key, bool outbound) {
    srtp_policy_t p{};
    s.policy(&p.rtp);
    s.policy(&p.rtcp);
    p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    p.key = key;
    p.window_size = 1024;
    srtp_t out = nullptr;
    if (srtp_create(&out, &p) != srtp_err_status_ok) {
        std::fprintf(stderr, "srtp_create failed for %s\n", s.name);
        std::exit(1);
    }
    return out;
}

void fill(unsigned char* p, int seq) {
    std::memset(p, 0, rtp_len);
    p[0] = 0x80;
    p[1] = 8;
    p[2] = static_cast<unsigned char>(seq >> 8);
    p[3] = static_cast<unsigned char>(seq);
    p[11] = 0x42;
    for (int i = 12; i < rtp_len; ++i) {
        p[i] = static_cast<unsigned char>(i * 7 + seq);
    }
}

/// ns per packet for protect and unprotect of `count` packets.
std::pair<double, double> measure(const suite& s, int count) {
    unsigned char key[64];
    for (int i = 0; i < 64; ++i) {
        key[i] = static_cast<unsigned char>(i * 13 + 1);
    }
    srtp_t tx = make(s, key, true);
    srtp_t rx = make(s, key, false);
    std::vector<unsigned char> packets(static_cast<std::size_t>(count) * 256);
    std::vector<int> lens(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        fill(&packets[static_cast<std::size_t>(i) * 256], i);
    }
    using clk = std::chrono::steady_clock;
    auto t0 = clk::now();
    for (int i = 0; i < count; ++i) {
        int len = rtp_len;
        srtp_protect(tx, &packets[static_cast<std::size_t>(i) * 256], &len);
        lens[static_cast<std::size_t>(i)] = len;
    }
    auto t1 = clk::now();
    int failures = 0;
    for (int i = 0; i < count; ++i) {
        int len = lens[static_cast<std::size_t>(i)];
        failures += srtp_unprotect(rx, &packets[static_cast<std::size_t>(i) * 256], &len) !=
                    srtp_err_status_ok;
    }
    auto t2 = clk::now();
    srtp_dealloc(tx);
    srtp_dealloc(rx);
    if (failures != 0) {
        std::fprintf(stderr, "%s: %d packets failed to unprotect\n", s.name, failures);
        std::exit(1);
    }
    auto ns = [count](auto d) {
        return std::chrono::duration<double, std::nano>(d).count() / count;
    };
    return {ns(t1 - t0), ns(t2 - t1)};
}

}  // namespace

int main(int argc, char** argv) {
    int count = argc > 1 ? std::atoi(argv[1]) : 200000;
    if (count <= 0 || count > 5000000) {
        std::fprintf(stderr, "usage: srtp_bench [packets 1..5000000]\n");
        return 2;
    }
    const suite suites[] = {
        {"AES_CM_128_HMAC_SHA1_80", srtp_crypto_policy_set_rtp_default, 30},
        {"AES_CM_128_HMAC_SHA1_32", srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32, 30},
        {"AES_CM_256_HMAC_SHA1_80", srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 46},
        {"AEAD_AES_128_GCM", srtp_crypto_policy_set_aes_gcm_128_16_auth, 28},
        {"AEAD_AES_256_GCM", srtp_crypto_policy_set_aes_gcm_256_16_auth, 44},
    };
    std::printf("srtp_bench: %d packets of %d octets of RTP per run, one core, no I/O\n", count,
                rtp_len);
    std::printf("%-26s %-8s %12s %12s\n", "suite", "crypto", "protect ns", "unprotect ns");
    for (auto backend : {crypto_backend::libsrtp, crypto_backend::openssl}) {
        auto error = use_crypto(backend);
        if (!error.empty()) {
            std::fprintf(stderr, "%s\n", error.c_str());
            return 1;
        }
        for (const auto& s : suites) {
            auto [p, u] = measure(s, count);
            std::printf("%-26s %-8s %12.0f %12.0f\n", s.name,
                        backend == crypto_backend::openssl ? "openssl" : "libsrtp2", p, u);
        }
    }
    return 0;
}
