// stun_bench: what answering one ICE connectivity check costs the data
// plane (dataplane/core/ice_responder): ns per Binding request of a full
// agent's usual shape (PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, USERNAME,
// MESSAGE-INTEGRITY, FINGERPRINT: 92 octets) answered in place with a
// success, one refused with 401, and the HMAC-SHA1 on its own, next to
// OpenSSL's one-shot HMAC(); with the OpenSSL allocations each makes
// (counted through CRYPTO_set_mem_functions). One core, from memory, no I/O.
//
//   build/tools/bench/stun_bench [requests]
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/core/ice_responder.hpp"

using namespace sbc::dataplane;

namespace {

// OpenSSL's allocations, counted.
std::size_t openssl_allocations = 0;

void* counting_malloc(std::size_t n, const char*, int) {
    ++openssl_allocations;
    return std::malloc(n);
}
void* counting_realloc(void* p, std::size_t n, const char*, int) {
    ++openssl_allocations;
    return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) { std::free(p); }

const ice_credentials credentials{"evtj", "VOkJxbRl1RmTxUk/WvJxBt", "h6vY"};

std::vector<std::uint8_t> check(const std::string& password) {
    std::vector<std::uint8_t> buf(256);
    stun::writer w(buf, stun::type::binding_request,
                   stun::transaction_id{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    w.add(stun::attribute::priority, std::array<std::uint8_t, 4>{0x6e, 0x00, 0x01, 0xff});
    w.add(stun::attribute::ice_controlling, std::array<std::uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8});
    w.add(stun::attribute::use_candidate, {});
    const std::string username = credentials.local_ufrag + ":" + credentials.remote_ufrag;
    w.add(stun::attribute::username,
          std::span(reinterpret_cast<const std::uint8_t*>(username.data()), username.size()));
    w.add_message_integrity(stun::integrity_key(password));
    w.add_fingerprint();
    buf.resize(w.size());
    return buf;
}

struct figure {
    double ns = 0;
    double allocations = 0;  // per request
};

// Runs `one` `count` times; ns and OpenSSL allocations per run.
template <typename F>
figure measure(int count, F&& one) {
    const std::size_t before = openssl_allocations;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
        one();
    }
    const auto t1 = std::chrono::steady_clock::now();
    return {std::chrono::duration<double, std::nano>(t1 - t0).count() / count,
            static_cast<double>(openssl_allocations - before) / count};
}

}  // namespace

int main(int argc, char** argv) {
    // Before OpenSSL allocates anything.
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free);
    const int count = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
    if (count <= 0) {
        std::fprintf(stderr, "usage: stun_bench [requests]\n");
        return 2;
    }
    const ice_responder responder(credentials);
    const auto source = *ip_endpoint::from_string("192.0.2.1", 32853);
    const auto good = check(credentials.local_pwd);
    const auto bad = check("aWrongPasswordOf22Char");
    std::array<std::uint8_t, 2048> buffer{};
    std::size_t answered = 0;
    std::size_t refused = 0;

    // The worker's case: the response written over the request, in its buffer.
    const auto copy_only = measure(count, [&] {
        std::memcpy(buffer.data(), good.data(), good.size());
        asm volatile("" : : "r"(buffer.data()) : "memory");
    });
    const auto success = measure(count, [&] {
        std::memcpy(buffer.data(), good.data(), good.size());
        const auto a = responder.respond(std::span(buffer.data(), good.size()), source, buffer);
        answered += a.what == ice_responder::verdict::success ? 1 : 0;
    });
    const auto failure = measure(count, [&] {
        std::memcpy(buffer.data(), bad.data(), bad.size());
        const auto a = responder.respond(std::span(buffer.data(), bad.size()), source, buffer);
        refused += a.error_code == 401 ? 1 : 0;
    });
    const stun::integrity_key key(credentials.local_pwd);
    std::uint8_t mac[20];
    // What the request's MESSAGE-INTEGRITY covers: all before it.
    const std::size_t covered = good.size() - 24 - 8;
    const std::array<std::span<const std::uint8_t>, 1> text{std::span(good.data(), covered)};
    const auto prepared = measure(count, [&] {
        key.sha1(text, mac);
        asm volatile("" : : "r"(mac) : "memory");
    });
    unsigned char one_shot_mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const auto one_shot = measure(count, [&] {
        HMAC(EVP_sha1(), credentials.local_pwd.data(),
             static_cast<int>(credentials.local_pwd.size()), good.data(), covered, one_shot_mac,
             &len);
        asm volatile("" : : "r"(one_shot_mac) : "memory");
    });
    if (answered != static_cast<std::size_t>(count) || refused != static_cast<std::size_t>(count) ||
        std::memcmp(mac, one_shot_mac, sizeof mac) != 0) {
        std::fprintf(stderr, "stun_bench: unexpected results (%zu answered, %zu refused)\n",
                     answered, refused);
        return 1;
    }
    std::printf("STUN Binding request of %zu octets, %d runs each (ns per request, allocations):\n",
                good.size(), count);
    std::printf("  %-46s %8.1f ns  %.1f\n", "answered (success response, in place)", success.ns,
                success.allocations);
    std::printf("  %-46s %8.1f ns  %.1f\n", "refused (401: integrity fails)", failure.ns,
                failure.allocations);
    std::printf("  %-46s %8.1f ns\n", "  of which copying the request in", copy_only.ns);
    std::printf("  %-46s %8.1f ns  %.1f\n", "HMAC-SHA1, keyed state prepared once", prepared.ns,
                prepared.allocations);
    std::printf("  %-46s %8.1f ns  %.1f\n", "HMAC-SHA1, OpenSSL's one-shot HMAC()", one_shot.ns,
                one_shot.allocations);
    return 0;
}
