// The exporter over real HTTP: a scrape from another thread while the
// su_root loop runs, the text it gets back, and that text through
// `promtool check metrics` when Debian's prometheus package is installed.
#include "sbc/metrics/exporter.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "sbc/metrics/families.hpp"
#include "tests/support/sip_loop.hpp"

namespace test_metrics_exporter {

namespace {

// GET `path` from 127.0.0.1:`port`, HTTP/1.0 so that the server closes when
// done; the whole response, headers included ("" when it cannot connect).
std::string http_get(int port, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return {};
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
        const auto request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size())) {
            char buf[4096];
            for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
                out.append(buf, static_cast<std::size_t>(n));
            }
        }
    }
    ::close(fd);
    return out;
}

std::string body_of(const std::string& response) {
    const auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

bool has_promtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("exporter: a scrape over HTTP gets the loop's families", "[metrics][exporter]") {
    sbc::test::sip_loop loop;
    int builds = 0;  // control thread only
    sbc::b2bua::call_tally tally;
    sbc::cdr::record r;
    r.from_trunk = "carrier";
    r.status = 200;
    r.start = sbc::cdr::wall_clock::now();
    r.answer = r.start;
    tally.count_attempt(r);
    sbc::metrics::exporter exporter(loop.root(), "127.0.0.1:0", [&] {
        ++builds;
        sbc::metrics::metrics_input in;
        in.active_calls = static_cast<std::size_t>(builds);
        in.tally = &tally;
        return sbc::metrics::build_families(in);
    });
    REQUIRE(exporter.port() > 0);

    for (int scrape = 1; scrape <= 2; ++scrape) {
        std::atomic<bool> done{false};
        std::string response;
        std::thread client([&] {
            response = http_get(exporter.port(), "/metrics");
            done = true;
        });
        const bool finished = loop.run_until([&] { return done.load(); });
        client.join();
        REQUIRE(finished);
        INFO(response);
        CHECK(response.rfind("HTTP/1.1 200", 0) == 0);
        const auto text = body_of(response);
        // Each scrape is built anew on the loop.
        CHECK(text.find("sbc_calls_active " + std::to_string(scrape)) != std::string::npos);
        CHECK(text.find("# TYPE sbc_calls_answered_total counter") != std::string::npos);
        CHECK(text.find("sbc_calls_answered_total{trunk=\"carrier\"} 1") != std::string::npos);
        CHECK(text.find("# TYPE sbc_call_setup_seconds histogram") != std::string::npos);
        CHECK(text.find("sbc_call_setup_seconds_bucket{trunk=\"carrier\",le=\"+Inf\"} 1") !=
              std::string::npos);
        CHECK(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
        CHECK(text.find("process_open_fds ") != std::string::npos);
        if (scrape == 2) {
            if (!has_promtool()) {
                WARN("promtool is not installed (Debian's prometheus): exposition not checked");
                continue;
            }
            const auto dir = std::filesystem::temp_directory_path();
            const auto file = dir / ("sbc-metrics-" + std::to_string(::getpid()) + ".txt");
            std::ofstream(file) << text;
            const auto command = "promtool check metrics < " + file.string() + " 2>&1";
            const int rc = std::system(command.c_str());
            std::filesystem::remove(file);
            CHECK(rc == 0);
        }
    }
}

TEST_CASE("exporter: a scrape the loop does not answer gets the last families",
          "[metrics][exporter]") {
    sbc::test::sip_loop loop;
    sbc::metrics::exporter exporter(
        loop.root(), "127.0.0.1:0",
        [] {
            sbc::metrics::metrics_input in;
            in.active_calls = 5;
            return sbc::metrics::build_families(in);
        },
        std::chrono::milliseconds(50));
    // Nobody runs the loop: the scrape times out with what it has (nothing
    // of the loop's yet), but still the process metrics.
    const auto text = body_of(http_get(exporter.port(), "/metrics"));
    CHECK(text.find("sbc_calls_active") == std::string::npos);
    CHECK(text.find("process_cpu_seconds_total") != std::string::npos);
}

TEST_CASE("exporter: an address in use is an error naming it", "[metrics][exporter]") {
    sbc::test::sip_loop loop;
    sbc::metrics::exporter first(loop.root(), "127.0.0.1:0",
                                 [] { return std::vector<prometheus::MetricFamily>{}; });
    const auto taken = "127.0.0.1:" + std::to_string(first.port());
    try {
        sbc::metrics::exporter second(loop.root(), taken,
                                      [] { return std::vector<prometheus::MetricFamily>{}; });
        FAIL("the second exporter bound " << taken);
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("metrics: cannot listen on " + taken) == 0);
    }
}

}  // namespace test_metrics_exporter
