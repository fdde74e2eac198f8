// What replicating a call costs the control thread: CPU time per call state
// document of call_store::put() and its write through a real redis-server
// on loopback (started and stopped here), next to the document's
// serialization and sealing alone (no store). The document is a realistic
// established call (two dialogs with their last SDP, SRTP on both legs)
// written by b2bua::to_json_value.
//
//   replication_bench [--calls N]     (default 10,000)
//
// CPU time is this process's (getrusage): what the loop spends; the
// redis-server's own time is not counted.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "sbc/b2bua/call_state_json.hpp"
#include "sbc/cluster/call_store.hpp"
#include "sbc/sofia/runtime.hpp"
#include "tests/support/redis_server.hpp"

namespace {

using namespace sbc;
using namespace std::chrono_literals;

constexpr const char* bench_key =
    "8a1f0c3e5b7d9e2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f";

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

secret key_bytes(std::uint8_t seed) {
    std::vector<std::uint8_t> k(30);
    for (std::size_t i = 0; i < k.size(); ++i) {
        k[i] = static_cast<std::uint8_t>(seed + i * 7);
    }
    return secret(std::move(k));
}

std::string sdp_of(const std::string& address, std::uint16_t port, std::uint64_t id) {
    return fmt::format(
        "v=0\r\no=sbc {} 2 IN IP4 {}\r\ns=sbc\r\nc=IN IP4 {}\r\nt=0 0\r\n"
        "m=audio {} RTP/SAVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\na=rtcp:{}\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
        id, address, address, port, port + 1);
}

b2bua::dialog_state dialog(const std::string& side, std::uint64_t id, bool carrier) {
    b2bua::dialog_state d;
    d.call_id = fmt::format("{}-{:016x}@sbc.example.net", side, id * 2654435761u);
    d.local_uri =
        carrier ? "sip:+4930123456@sbc.example.net;user=phone" : "sip:1001@pbx.example.com";
    d.remote_uri =
        carrier ? "sip:+4989987654@carrier.example.org;user=phone" : "sip:2002@pbx.example.com";
    d.local_tag = fmt::format("{:x}", id * 40503u);
    d.remote_tag = fmt::format("as{:x}", id * 7919u);
    d.local_cseq = 3;
    d.remote_cseq = 102;
    d.route_set = {"<sip:edge1.carrier.example.org;lr;transport=tls>",
                   "<sip:core2.carrier.example.org;lr>"};
    d.remote_target = "sip:gw7.carrier.example.org:5061;transport=tls";
    d.interface = carrier ? "carrier" : "pbx";
    d.trunk = carrier ? "carrier-byoc" : "pbx";
    d.confirmed = true;
    d.peer_timer = true;
    d.timer.emplace();
    d.timer->interval_s = 1800;
    d.timer->we_refresh = true;
    d.sdp_session_id = id;
    d.sdp_version = 2;
    d.sdp_last_sent = sdp_of(carrier ? "203.0.113.10" : "192.0.2.10",
                             static_cast<std::uint16_t>(20000 + (id % 10000) * 2), id);
    return d;
}

nlohmann::json realistic_call(std::uint64_t id) {
    b2bua::call_state s;
    s.id = id;
    s.state = "established";
    s.created = std::chrono::system_clock::now();
    s.state_since = s.created;
    s.legs[0] = dialog("a", id, true);
    s.legs[1] = dialog("b", id, false);
    s.media.open = true;
    for (std::size_t i = 0; i < 2; ++i) {
        auto& m = s.media.legs[i];
        m.trunk = s.legs[i].trunk;
        m.media_address = i == 0 ? "203.0.113.10" : "192.0.2.10";
        m.rtp_port = static_cast<std::uint16_t>(20000 + i * 2);
        m.peer_rtp = media_ctl::endpoint_state{i == 0 ? "198.51.100.20" : "192.0.2.50", 31000};
        m.peer_rtcp = media_ctl::endpoint_state{i == 0 ? "198.51.100.20" : "192.0.2.50", 31001};
        m.latched_rtp = m.peer_rtp;
        m.srtp = media_ctl::srtp_state{config::srtp_suite::aes_cm_128_hmac_sha1_80,
                                       key_bytes(static_cast<std::uint8_t>(i)),
                                       key_bytes(static_cast<std::uint8_t>(i + 100)),
                                       {},
                                       {},
                                       {}};
        m.codec = "PCMA/8000";
        m.ptime = 20;
    }
    s.route = "byoc-inbound";
    s.next_trunks = {"carrier-backup"};
    s.source = "198.51.100.20:5061";
    s.caller_session_expires_s = 1800;
    s.caller_refresher = "uac";
    return b2bua::to_json_value(s);
}

config::cluster_config bench_config(const std::string& address) {
    config::cluster_config c;
    c.node = "bench";
    c.prefix = "sbcbench";
    c.store.address = address;
    c.store.user = test::redis_server::user();
    c.store.password = test::redis_server::password();
    c.store.timeout_ms = 5000;
    c.store.queue_limit = 1'000'000;
    c.key_hex = bench_key;
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t calls = 10'000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--calls") == 0 && i + 1 < argc) {
            calls = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: %s [--calls N]\n", argv[0]);
            return 2;
        }
    }
    if (calls == 0) {
        calls = 1;
    }
    try {
        auto sealed = cluster::sealer::from_hex(bench_key);
        if (!sealed) {
            std::fprintf(stderr, "sealer: %s\n", sealed.error_message().c_str());
            return 1;
        }
        const auto& seal = sealed.value();
        std::vector<nlohmann::json> docs;
        docs.reserve(calls);
        for (std::size_t i = 0; i < calls; ++i) {
            docs.push_back(realistic_call(i + 1));
        }
        const auto size = docs.front().dump().size();

        // No store: what put() does before it queues (copy, seal, serialize).
        std::size_t bytes = 0;
        const auto t0 = cpu_seconds();
        for (const auto& d : docs) {
            auto copy = d;
            seal.seal_document(copy);
            bytes += copy.dump().size();
        }
        const auto no_store = (cpu_seconds() - t0) / static_cast<double>(calls);

        test::redis_server server;
        sofia::runtime rt;
        cluster::call_store store(rt.root(), bench_config(server.address()), seal);
        store.start();
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (!store.stats().up && std::chrono::steady_clock::now() < until) {
            su_root_step(rt.root(), 10);
        }
        if (!store.stats().up) {
            std::fprintf(stderr, "the store did not come up: %s\n",
                         store.stats().last_error.c_str());
            return 1;
        }
        // Every put() now, then the loop until every write is acknowledged.
        const auto wall0 = std::chrono::steady_clock::now();
        const auto t1 = cpu_seconds();
        for (std::size_t i = 0; i < calls; ++i) {
            store.put(i + 1, docs[i]);
        }
        const auto done_by = std::chrono::steady_clock::now() + 120s;
        for (;;) {
            const auto s = store.stats();
            if (s.queued == 0 && s.in_flight == 0) {
                break;
            }
            if (std::chrono::steady_clock::now() > done_by) {
                std::fprintf(stderr, "writes did not finish: %zu queued\n", s.queued);
                return 1;
            }
            su_root_step(rt.root(), 1);
        }
        const auto with_store = (cpu_seconds() - t1) / static_cast<double>(calls);
        const auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0);
        const auto s = store.stats();

        std::printf("call state document: %zu bytes (%zu sealed), %zu calls\n", size, bytes / calls,
                    calls);
        std::printf("serialize + seal only:        %8.2f us CPU per call\n", no_store * 1e6);
        std::printf("put() + SET through Redis:    %8.2f us CPU per call\n", with_store * 1e6);
        std::printf("  %llu written, %llu failures, %.0f writes/s wall\n",
                    static_cast<unsigned long long>(s.written),
                    static_cast<unsigned long long>(s.failures),
                    static_cast<double>(calls) / wall.count());
        return s.written == calls ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "replication_bench: %s\n", e.what());
        return 1;
    }
}
