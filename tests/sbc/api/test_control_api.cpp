// Unit tests of the control API: the JSON codec, request dispatch, the
// unix-socket server on a real su_root, the client, and sbcctl's output and
// socket lookup.
//
// The server runs on this thread's su_root, stepped by the test while a
// client runs in a std::async thread; every client is bounded by its own
// 5 s deadline, so a broken server fails a test instead of hanging it.
#include "sbc/api/control_client.hpp"
#include "sbc/api/control_server.hpp"
#include "sbc/api/json_codec.hpp"
#include "sbc/config/config.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/sbcctl/output.hpp"
#include "tools/sbcctl/socket_path.hpp"

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
using sbc::test::temp_dir;
namespace api = sbc::api;
namespace fs = std::filesystem;

namespace {

// --- collaborators ------------------------------------------------------

api::call_info call_row(std::string id, std::string from, std::string to, std::string state,
                        double seconds, std::uint64_t a_to_b, std::uint64_t b_to_a) {
    api::call_info c;
    c.id = std::move(id);
    c.from_trunk = std::move(from);
    c.to_trunk = std::move(to);
    c.state = std::move(state);
    c.duration_seconds = seconds;
    c.packets_a_to_b = a_to_b;
    c.packets_b_to_a = b_to_a;
    return c;
}

/// The rest of sbcd, as the server sees it.
class fake_handler final : public api::control_handler {
public:
    api::status_info status() override {
        ++status_requests;
        if (fail) {
            throw std::runtime_error("boom");
        }
        return status_reply;
    }
    std::vector<api::call_info> calls() override {
        ++calls_requests;
        return calls_reply;
    }
    nlohmann::json trunks() override { return {{"trunks", nlohmann::json::array()}}; }
    nlohmann::json stats() override { return {{"calls", nlohmann::json::array()}}; }
    nlohmann::json reload() override { return {{"ok", true}}; }

    api::status_info status_reply{
        "0.1.0",
        3723.5,
        {{"carrier", {"udp://127.0.1.1:5060", "tcp://127.0.1.1:5060"}, "127.0.1.1"}},
        1,
        std::nullopt};
    std::vector<api::call_info> calls_reply{
        call_row("c1", "carrier", "pbx", "established", 65.2, 3260, 3255)};
    int status_requests = 0;
    int calls_requests = 0;
    bool fail = false;
};

/// A fresh sofia su_root for one test.
class sofia_loop {
public:
    sofia_loop() {
        su_init();
        _root = su_root_create(nullptr);
        REQUIRE(_root != nullptr);
    }
    ~sofia_loop() {
        su_root_destroy(_root);
        su_deinit();
    }
    sofia_loop(const sofia_loop&) = delete;
    sofia_loop& operator=(const sofia_loop&) = delete;

    su_root_t* root() const { return _root; }

    /// Runs `client` on another thread while this thread drives the loop.
    template <typename F>
    auto serve(F client) {
        auto done = std::async(std::launch::async, std::move(client));
        while (done.wait_for(0ms) != std::future_status::ready) {
            su_root_step(_root, 5);
        }
        return done.get();
    }

    /// Steps the loop until `condition` holds or ~10 s of steps have passed.
    bool step_until(const std::function<bool()>& condition) {
        for (int i = 0; i < 2000 && !condition(); ++i) {
            su_root_step(_root, 5);
        }
        return condition();
    }

private:
    su_root_t* _root = nullptr;
};

// --- clients (run on the client thread) -----------------------------------

api::deadline five_seconds() { return std::chrono::steady_clock::now() + 5s; }

/// One request through the real client; "ERROR: ..." if it failed.
std::string request(const std::string& path, const std::string& line) {
    auto fd = api::connect_control(path, five_seconds());
    if (!fd) {
        return "ERROR: connect: " + fd.error_message();
    }
    auto reply = api::exchange(*fd, line, five_seconds());
    return reply ? *reply : "ERROR: " + reply.error_message();
}

sbc::unique_fd raw_connect(const std::string& path) {
    sbc::unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    return fd;
}

void send_raw(const sbc::unique_fd& fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) {
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        sent += static_cast<std::size_t>(n);
    }
}

/// Everything the server sends until it closes; "TIMEOUT" if it does not
/// close within 5 s.
std::string read_to_eof(const sbc::unique_fd& fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 5000) == 0) {
            return "TIMEOUT";
        }
        ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
        if (n <= 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
}

nlohmann::json parse(const std::string& line) {
    auto j = api::parse_line(line);
    REQUIRE(j.ok());
    return *j;
}

std::string error_of(const std::string& line) {
    auto e = api::reply_error(parse(line));
    return e ? *e : "<no error>";
}

bool is_status_reply(const std::string& line) {
    auto j = api::parse_line(line);
    return j.ok() && api::decode_status(*j).ok();
}

/// A socket file with nobody behind it, as a killed sbcd leaves.
void make_stale_socket(const std::string& path) {
    sbc::unique_fd fd{::socket(AF_UNIX, SOCK_STREAM, 0)};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
}

}  // namespace

// --- JSON codec --------------------------------------------------------------

TEST_CASE("the JSON codec round-trips status and calls", "[api][codec]") {
    fake_handler h;

    nlohmann::json status = h.status_reply;
    CHECK(status["version"] == "0.1.0");
    CHECK(status["uptime_seconds"] == 3723.5);
    CHECK(status["active_calls"] == 1);
    CHECK(status["interfaces"][0]["name"] == "carrier");
    CHECK(status["interfaces"][0]["listen"][1] == "tcp://127.0.1.1:5060");
    CHECK(status["interfaces"][0]["media_address"] == "127.0.1.1");

    auto back = api::decode_status(parse(api::to_line(status)));
    REQUIRE(back.ok());
    CHECK(back->version == "0.1.0");
    CHECK(back->uptime_seconds == 3723.5);
    CHECK(back->active_calls == 1);
    REQUIRE(back->interfaces.size() == 1);
    CHECK(back->interfaces[0].listen == h.status_reply.interfaces[0].listen);
    CHECK(back->interfaces[0].media_address == "127.0.1.1");

    nlohmann::json calls = api::encode_calls(h.calls_reply);
    CHECK(calls["calls"][0]["id"] == "c1");
    CHECK(calls["calls"][0]["from_trunk"] == "carrier");
    CHECK(calls["calls"][0]["to_trunk"] == "pbx");
    CHECK(calls["calls"][0]["state"] == "established");
    CHECK(calls["calls"][0]["duration_seconds"] == 65.2);
    CHECK(calls["calls"][0]["packets_a_to_b"] == 3260);
    CHECK(calls["calls"][0]["packets_b_to_a"] == 3255);

    auto calls_back = api::decode_calls(parse(api::to_line(calls)));
    REQUIRE(calls_back.ok());
    REQUIRE(calls_back->size() == 1);
    CHECK((*calls_back)[0].id == "c1");
    CHECK((*calls_back)[0].packets_a_to_b == 3260);
    CHECK((*calls_back)[0].packets_b_to_a == 3255);
    CHECK_FALSE((*calls_back)[0].quality_a.has_value());

    // Each leg's quality, null until its peer's first RTP packet.
    auto rated = h.calls_reply;
    rated[0].quality_b = api::call_quality{5.0, 30.5, std::nullopt, 3.81};
    calls = api::encode_calls(rated);
    CHECK(calls["calls"][0]["quality_a"].is_null());
    CHECK(calls["calls"][0]["quality_b"]["rtt_ms"].is_null());
    calls_back = api::decode_calls(parse(api::to_line(calls)));
    REQUIRE(calls_back.ok());
    REQUIRE((*calls_back)[0].quality_b.has_value());
    CHECK((*calls_back)[0].quality_b->loss_percent == 5.0);
    CHECK((*calls_back)[0].quality_b->jitter_ms == 30.5);
    CHECK_FALSE((*calls_back)[0].quality_b->rtt_ms.has_value());
    CHECK((*calls_back)[0].quality_b->mos == 3.81);
}

TEST_CASE("decoding a malformed reply is an error, not an exception", "[api][codec]") {
    CHECK_FALSE(api::decode_status(parse(R"({"version":"1"})")).ok());
    CHECK_FALSE(api::decode_status(parse("[]")).ok());
    CHECK_FALSE(api::decode_calls(parse(R"({"calls":[{"id":5}]})")).ok());
    CHECK_FALSE(api::decode_calls(parse(R"({"calls":7})")).ok());
    CHECK_FALSE(api::parse_line("{not json").ok());
    CHECK(api::reply_error(parse(R"({"error":"x"})")) == "x");
    CHECK_FALSE(api::reply_error(parse(R"({"calls":[]})")).has_value());
}

TEST_CASE("a line never breaks the framing, whatever the strings hold", "[api][codec]") {
    api::call_info c;
    c.id = "a\nb\xff";  // a newline, and a byte that is not UTF-8
    auto line = api::to_line(api::encode_calls({c}));
    CHECK(line.find('\n') == std::string::npos);
    CHECK(parse(line)["calls"][0]["id"] == "a\nb\xEF\xBF\xBD");  // U+FFFD
}

// --- dispatch ----------------------------------------------------------------

TEST_CASE("dispatch answers each request", "[api][dispatch]") {
    fake_handler h;
    CHECK(is_status_reply(api::dispatch(R"({"cmd":"status"})", h)));
    CHECK(h.status_requests == 1);
    CHECK(parse(api::dispatch(R"({"cmd":"calls"})", h))["calls"][0]["id"] == "c1");
    CHECK(h.calls_requests == 1);

    CHECK(error_of(api::dispatch(R"({"cmd":"reboot"})", h)) == "unknown command 'reboot'");
    CHECK(error_of(api::dispatch("{\"cmd\":", h)).rfind("malformed JSON", 0) == 0);
    CHECK(error_of(api::dispatch("", h)).rfind("malformed JSON", 0) == 0);
    CHECK(error_of(api::dispatch("[1,2]", h)) == "request must be a JSON object");
    CHECK(error_of(api::dispatch("{}", h)) == "request has no \"cmd\"");
    CHECK(error_of(api::dispatch(R"({"cmd":1})", h)) == "\"cmd\" must be a string");

    std::string long_name(1000, 'x');
    auto reply = api::dispatch(R"({"cmd":")" + long_name + "\"}", h);
    CHECK(error_of(reply) == "unknown command '" + long_name.substr(0, 64) + "'");

    h.fail = true;
    CHECK(error_of(api::dispatch(R"({"cmd":"status"})", h)) == "internal error: boom");
}

// --- the server ----------------------------------------------------------------

TEST_CASE("the control server answers status, calls and bad requests", "[api][server]") {
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;
    api::control_server server{loop.root(), dir.file("sbcd.sock"), h};
    auto path = server.path();

    auto status = loop.serve([&] { return request(path, R"({"cmd":"status"})"); });
    REQUIRE(is_status_reply(status));
    CHECK(parse(status)["interfaces"][0]["name"] == "carrier");

    auto calls = loop.serve([&] { return request(path, R"({"cmd":"calls"})"); });
    CHECK(parse(calls)["calls"][0]["state"] == "established");

    auto unknown = loop.serve([&] { return request(path, R"({"cmd":"x"})"); });
    CHECK(error_of(unknown) == "unknown command 'x'");

    auto malformed = loop.serve([&] { return request(path, "{\"cmd\": status}"); });
    CHECK(error_of(malformed).rfind("malformed JSON", 0) == 0);

    CHECK(h.status_requests == 1);
    CHECK(h.calls_requests == 1);
    CHECK(loop.step_until([&] { return server.connection_count() == 0; }));
}

TEST_CASE("a request may arrive in pieces or end with EOF", "[api][server]") {
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;
    api::control_server server{loop.root(), dir.file("sbcd.sock"), h};
    auto path = server.path();

    auto pieces = loop.serve([&] {
        auto fd = raw_connect(path);
        send_raw(fd, "{\"cmd\":");
        std::this_thread::sleep_for(20ms);  // let the server read the first piece alone
        send_raw(fd, "\"calls\"}\r\n");
        return read_to_eof(fd);
    });
    REQUIRE(pieces.size() > 1);
    CHECK(pieces.back() == '\n');
    CHECK(parse(pieces)["calls"][0]["id"] == "c1");

    auto eof = loop.serve([&] {
        auto fd = raw_connect(path);
        send_raw(fd, R"({"cmd":"status"})");
        ::shutdown(fd.get(), SHUT_WR);
        return read_to_eof(fd);
    });
    CHECK(is_status_reply(eof));
}

TEST_CASE("an oversize request is refused and the server keeps serving", "[api][server]") {
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;
    api::control_server server{loop.root(), dir.file("sbcd.sock"), h};
    auto path = server.path();

    auto reply = loop.serve([&] {
        auto fd = raw_connect(path);
        send_raw(fd, std::string(64 * 1024 + 1, 'x'));  // no newline within the cap
        return read_to_eof(fd);
    });
    CHECK(error_of(reply) == "request longer than 65536 bytes");
    CHECK(h.status_requests == 0);

    CHECK(is_status_reply(loop.serve([&] { return request(path, R"({"cmd":"status"})"); })));
}

TEST_CASE("a client that says nothing does not stop the server", "[api][server]") {
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;
    api::control_server_options opts;
    opts.idle_timeout = 100ms;
    api::control_server server{loop.root(), dir.file("sbcd.sock"), h, opts};
    auto path = server.path();

    SECTION("it connects and leaves") {
        loop.serve([&] { raw_connect(path); });  // closed at once
        CHECK(is_status_reply(loop.serve([&] { return request(path, R"({"cmd":"status"})"); })));
        CHECK(loop.step_until([&] { return server.connection_count() == 0; }));
    }
    SECTION("it stays connected and is dropped when idle") {
        auto seen = loop.serve([&] {
            auto fd = raw_connect(path);
            return read_to_eof(fd);  // the server must close: "" rather than "TIMEOUT"
        });
        CHECK(seen.empty());
        CHECK(server.connection_count() == 0);
        CHECK(is_status_reply(loop.serve([&] { return request(path, R"({"cmd":"status"})"); })));
    }
}

TEST_CASE("clients past max_connections are closed at once", "[api][server]") {
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;
    api::control_server_options opts;
    opts.max_connections = 1;
    api::control_server server{loop.root(), dir.file("sbcd.sock"), h, opts};
    auto path = server.path();

    auto first = raw_connect(path);  // the backlog holds it until the loop accepts it
    REQUIRE(loop.step_until([&] { return server.connection_count() == 1; }));

    auto refused = loop.serve([&] { return request(path, R"({"cmd":"status"})"); });
    CHECK(refused.rfind("ERROR: ", 0) == 0);
    CHECK(h.status_requests == 0);

    first.reset();
    REQUIRE(loop.step_until([&] { return server.connection_count() == 0; }));
    CHECK(is_status_reply(loop.serve([&] { return request(path, R"({"cmd":"status"})"); })));
}

TEST_CASE("the socket file: parents, mode, stale files, live servers", "[api][server]") {
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;

    SECTION("missing parent directories are created and the file goes with the server") {
        auto path = dir.file("run/sbc/control.sock");
        {
            api::control_server server{loop.root(), path, h};
            struct stat st {};
            REQUIRE(::stat(path.c_str(), &st) == 0);
            CHECK(S_ISSOCK(st.st_mode));
            CHECK((st.st_mode & 07777) == 0666);  // under /tmp: usable by everyone
            REQUIRE(::stat(dir.file("run/sbc").c_str(), &st) == 0);
            CHECK(S_ISDIR(st.st_mode));
        }
        CHECK_FALSE(fs::exists(fs::symlink_status(path)));
    }
    SECTION("a stale socket is replaced") {
        auto path = dir.file("sbcd.sock");
        make_stale_socket(path);
        REQUIRE(fs::is_socket(path));
        api::control_server server{loop.root(), path, h};
        CHECK(is_status_reply(loop.serve([&] { return request(path, R"({"cmd":"status"})"); })));
    }
    SECTION("a live server is left alone") {
        auto path = dir.file("sbcd.sock");
        api::control_server first{loop.root(), path, h};
        CHECK_THROWS_WITH((api::control_server{loop.root(), path, h}),
                          Catch::Contains("another process is serving"));
        CHECK(is_status_reply(loop.serve([&] { return request(path, R"({"cmd":"status"})"); })));
    }
    SECTION("something that is not a socket is left alone") {
        auto path = dir.file("sbc.yaml");
        std::ofstream{path} << "precious\n";
        CHECK_THROWS_WITH((api::control_server{loop.root(), path, h}),
                          Catch::Contains("not a socket"));
        CHECK(fs::is_regular_file(path));
    }
    SECTION("a path too long for sun_path is refused") {
        CHECK_THROWS_AS((api::control_server{loop.root(), dir.file(std::string(200, 'a')), h}),
                        std::runtime_error);
    }
}

TEST_CASE("the server leaks no descriptors", "[api][server]") {
    auto open_fds = [] {
        return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
    };
    sofia_loop loop;
    temp_dir dir{"sbc-api"};
    fake_handler h;
    auto before = open_fds();
    {
        api::control_server server{loop.root(), dir.file("sbcd.sock"), h};
        auto path = server.path();
        loop.serve([&] { return request(path, R"({"cmd":"calls"})"); });
        loop.serve([&] { return request(path, "junk"); });
        loop.serve([&] {
            auto fd = raw_connect(path);
            std::string big(70 * 1024, 'x');
            // The server may hang up before all of it is sent; that is fine.
            [[maybe_unused]] auto n = ::send(fd.get(), big.data(), big.size(), MSG_NOSIGNAL);
        });
        auto silent = raw_connect(path);  // still connected when the server goes
        REQUIRE(loop.step_until([&] { return server.connection_count() == 1; }));
    }
    CHECK(open_fds() == before);
}

TEST_CASE("the client reports a missing server", "[api][client]") {
    temp_dir dir{"sbc-api"};
    auto fd = api::connect_control(dir.file("nobody.sock"), five_seconds());
    REQUIRE_FALSE(fd.ok());
    CHECK(fd.error_message() == std::strerror(ENOENT));
}

// --- sbcctl ------------------------------------------------------------------

TEST_CASE("sbcctl formats durations", "[sbcctl]") {
    CHECK(sbc::ctl::format_duration(0) == "0s");
    CHECK(sbc::ctl::format_duration(-5) == "0s");
    CHECK(sbc::ctl::format_duration(3.9) == "3s");
    CHECK(sbc::ctl::format_duration(123) == "2m03s");
    CHECK(sbc::ctl::format_duration(3723) == "1h02m03s");
    CHECK(sbc::ctl::format_duration(90061) == "1d01h01m01s");
}

TEST_CASE("sbcctl prints aligned tables", "[sbcctl]") {
    fake_handler h;
    CHECK(sbc::ctl::render_status(h.status_reply) ==
          "sbcd 0.1.0, up 1h02m03s, 1 active call\n"
          "\n"
          "NAME     LISTEN                                     MEDIA\n"
          "carrier  udp://127.0.1.1:5060,tcp://127.0.1.1:5060  127.0.1.1\n");

    h.calls_reply.push_back(call_row("call-22", "pbx", "carrier", "early", 2, 0, 17));
    h.calls_reply[0].codec_a = "PCMA/8000";
    h.calls_reply[0].ptime_a = 20;
    h.calls_reply[0].codec_b = "G729/8000";
    h.calls_reply[0].ptime_b = 30;
    h.calls_reply[0].media = "transcoded";
    h.calls_reply[1].codec_a = h.calls_reply[1].codec_b = "PCMU/8000";
    h.calls_reply[0].quality_a = sbc::api::call_quality{0.0, 1.5, 38.0, 4.39};
    h.calls_reply[0].quality_b = sbc::api::call_quality{5.0, 30.125, std::nullopt, 3.81};
    CHECK(sbc::ctl::render_calls(h.calls_reply) ==
          "ID       FROM     TO       STATE        DURATION  CODEC A         CODEC B       "
          "  MEDIA       PKTS A->B  PKTS B->A  QUALITY A             QUALITY B\n"
          "c1       carrier  pbx      established  1m05s     PCMA/8000 20ms  G729/8000 30ms"
          "  transcoded  3260       3255       0.0%/1.5ms/38ms/4.39  5.0%/30.1ms/-/3.81\n"
          "call-22  pbx      carrier  early        2s        PCMU/8000       PCMU/8000     "
          "  relayed     0          17         -                     -\n");
    CHECK(sbc::ctl::render_calls({}) == "no active calls\n");

    // Control characters from the daemon never reach the terminal.
    CHECK(sbc::ctl::render_table({{"a\x1b[2J", "b"}}) == "a?[2J  b\n");
}

TEST_CASE("sbcctl finds the control socket", "[sbcctl]") {
    temp_dir dir{"sbc-api"};
    auto with_key = dir.file("with.yaml");
    std::ofstream{with_key} << "control:\n  socket: /tmp/from-config.sock\n";
    auto without_key = dir.file("without.yaml");
    std::ofstream{without_key} << "interfaces: []\n";
    auto broken = dir.file("broken.yaml");
    std::ofstream{broken} << "control: [\n";

    sbc::ctl::socket_sources s;
    s.default_config_files = {dir.file("absent.yaml"), with_key};
    s.option = "/tmp/option.sock";
    s.environment = "/tmp/env.sock";
    s.config_file = without_key;
    CHECK(*sbc::ctl::resolve_socket(s) == "/tmp/option.sock");
    s.option.reset();
    CHECK(*sbc::ctl::resolve_socket(s) == "/tmp/env.sock");
    s.environment = "";  // set but empty counts as unset
    CHECK(*sbc::ctl::resolve_socket(s) == sbc::config::control_config{}.socket);
    s.config_file.reset();
    CHECK(*sbc::ctl::resolve_socket(s) == "/tmp/from-config.sock");
    s.default_config_files = {dir.file("absent.yaml")};
    CHECK(*sbc::ctl::resolve_socket(s) == sbc::ctl::fallback_socket);

    s.config_file = broken;
    CHECK_FALSE(sbc::ctl::resolve_socket(s).ok());
    s.config_file = dir.file("absent.yaml");
    CHECK_FALSE(sbc::ctl::resolve_socket(s).ok());
}

TEST_CASE("sbcctl prints a route test: numbers, rules and the outcome", "[sbcctl]") {
    auto reply = nlohmann::json::parse(R"({
        "from_trunk": "pbx", "source": "127.0.2.2", "at": "2026-12-02T12:00:00Z",
        "received": {"ruri": "030123", "from": "2001", "to": "030123"},
        "normalized": {"ruri": "+4930123", "from": "+49305552001", "to": "+4930123"},
        "rules": [{"rule": "uk", "matched": false, "why": "ruri_user '^\\+44' does not match '+4930123'"},
                  {"rule": "de", "matched": true, "why": "ruri_user '^\\+49' matched '+4930123'"}],
        "route": "de",
        "action": {"trunks": [{"trunk": "c1", "peers_up": true,
                               "numbers": {"ruri": "004930123", "from": "+49305552001", "to": "004930123"}},
                              {"trunk": "c2", "peers_up": false,
                               "numbers": {"ruri": "+4930123", "from": "+49305552001", "to": "+4930123"}}]}
    })");
    CHECK(sbc::ctl::render_route_test(reply) ==
          "call from trunk pbx (source 127.0.2.2) at 2026-12-02T12:00:00Z\n"
          "NUMBERS     RURI       FROM          TO\n"
          "received    030123     2001          030123\n"
          "normalized  +4930123   +49305552001  +4930123\n"
          "to c1       004930123  +49305552001  004930123\n"
          "to c2       +4930123   +49305552001  +4930123\n"
          "RULE  MATCH  WHY\n"
          "uk    no     ruri_user '^\\+44' does not match '+4930123'\n"
          "de    yes    ruri_user '^\\+49' matched '+4930123'\n"
          "route de: to c1, then c2 (every peer down)\n");
    reply["route"] = "blocked";
    reply["action"] = {{"reject", {{"code", 403}, {"reason", "Not here"}}}};
    CHECK(sbc::ctl::render_route_test(reply).find("route blocked: reject with 403 Not here\n") !=
          std::string::npos);
    reply["route"] = nullptr;
    CHECK(sbc::ctl::render_route_test(reply).find("no route matches: 403 Not here\n") !=
          std::string::npos);
}

TEST_CASE("sbcctl trunks shows admission limits and blocked sources", "[sbcctl]") {
    auto reply = nlohmann::json::parse(R"({
        "trunks": [{"name": "pbx", "active_calls": 1, "peers": [],
                    "admission": {"inbound": {"active": 1, "max_calls": 1, "cps": 0.0,
                                              "admitted": 3, "refused_max_calls": 2, "refused_cps": 0},
                                  "outbound": {"active": 0, "max_calls": 0, "cps": 0.5,
                                               "admitted": 0, "refused_max_calls": 0, "refused_cps": 4}}}],
        "interfaces": [{"name": "pbx", "tls": null,
                        "access": {"allow_sources": [], "refused_sources": 5, "dropped_udp": 12, "flood_blocks": 1,
                                   "flood_dropped": 9,
                                   "blocked": [{"address": "127.0.2.2", "seconds_left": 28,
                                                "dropped": 9}]}}]
    })");
    const auto text = sbc::ctl::render_trunks(reply);
    CHECK(text.find("TRUNK  DIRECTION  ACTIVE  MAX  CPS  ADMITTED  REFUSED MAX  REFUSED CPS\n"
                    "pbx    inbound    1       1    -    3         2            0\n"
                    "pbx    outbound   0       -    0.5  0         0            4\n") !=
          std::string::npos);
    CHECK(text.find("interface pbx: from outside allow_sources 12 UDP datagram(s) dropped, 5 "
                    "request(s) refused; flood guard: 1 block(s), 9 request(s) refused\n") !=
          std::string::npos);
    CHECK(text.find("INTERFACE  BLOCKED SOURCE  SECONDS LEFT  DROPPED\n"
                    "pbx        127.0.2.2       28            9\n") != std::string::npos);
}

TEST_CASE("sbcctl trunks names the profile a trunk started from", "[sbcctl]") {
    auto reply = nlohmann::json::parse(R"({
        "trunks": [{"name": "teams", "profile": "microsoft", "active_calls": 0, "peers": [
                       {"uri": "sips:127.0.6.9", "priority": 10, "weight": 100, "state": "up"}]},
                   {"name": "pbx", "profile": "generic", "active_calls": 0, "peers": [
                       {"uri": "127.0.6.8", "priority": 10, "weight": 100, "state": "up"}]}],
        "interfaces": []
    })");
    const auto text = sbc::ctl::render_trunks(reply);
    INFO(text);
    CHECK(text.find("\nteams (microsoft)  0      sips:127.0.6.9") != std::string::npos);
    CHECK(text.find("\npbx                0      127.0.6.8") != std::string::npos);
}

TEST_CASE("sbcctl trunks shows until when a peer is held off by Retry-After", "[sbcctl]") {
    auto reply = nlohmann::json::parse(R"({
        "trunks": [{"name": "pbx", "active_calls": 0, "peers": [
                       {"uri": "127.0.6.8", "priority": 10, "weight": 100, "state": "up",
                        "held_off_until": "2026-12-02T12:00:30Z"},
                       {"uri": "127.0.6.9", "priority": 20, "weight": 100, "state": "up",
                        "held_off_until": null}]}],
        "interfaces": []
    })");
    const auto text = sbc::ctl::render_trunks(reply);
    INFO(text);
    CHECK(text.find("127.0.6.8  10    100     up, held off until 2026-12-02T12:00:30Z") !=
          std::string::npos);
    CHECK(text.find("127.0.6.9  20    100     up ") != std::string::npos);
}

TEST_CASE("sbcctl trunks shows a named peer's targets and its resolution", "[sbcctl]") {
    auto reply = nlohmann::json::parse(R"({
        "trunks": [{"name": "carrier", "active_calls": 1, "peers": [
            {"uri": "sip:carrier.sbc.test", "priority": 10, "weight": 100, "state": "up",
             "name": "sip:carrier.sbc.test", "resolved_at": "2026-12-02T12:00:00Z",
             "expires": "2026-12-02T12:00:05Z", "stale": true,
             "last_error": "NAPTR carrier.sbc.test: timeout", "last_error_at": "2026-12-02T12:00:09Z",
             "targets": [
                {"address": "127.0.6.4", "port": 5060, "transport": "udp", "priority": 10,
                 "weight": 100, "current": true, "state": "up", "since": "2026-12-02T12:00:00Z",
                 "last_result": "200", "last_rtt_ms": 1.5, "active_calls": 1, "tls": null,
                 "tls_failure": null},
                {"address": "2001:db8::5", "port": 5062, "transport": "tcp", "priority": 20,
                 "weight": 0, "current": false, "state": "down", "since": "2026-12-02T12:00:00Z",
                 "last_result": "timeout", "last_rtt_ms": null, "active_calls": 0, "tls": null,
                 "tls_failure": null}]}]}],
        "interfaces": []
    })");
    const auto text = sbc::ctl::render_trunks(reply);
    INFO(text);
    CHECK(text.find("carrier  1      sip:carrier.sbc.test            -     -       up") !=
          std::string::npos);
    CHECK(text.find("         1        udp 127.0.6.4:5060            10    100     up") !=
          std::string::npos);
    CHECK(text.find("  tcp [2001:db8::5]:5062 (old)  20    0       down") != std::string::npos);
    CHECK(text.find("trunk carrier: sip:carrier.sbc.test resolved 2026-12-02T12:00:00Z, expires "
                    "2026-12-02T12:00:05Z (stale); last error 2026-12-02T12:00:09Z: NAPTR "
                    "carrier.sbc.test: timeout\n") != std::string::npos);
}

TEST_CASE("a drain round-trips through status and sbcctl prints it", "[api][codec][sbcctl]") {
    fake_handler h;
    CHECK(nlohmann::json(h.status_reply)["drain"].is_null());
    CHECK_FALSE(api::decode_status(parse(api::to_line(h.status_reply)))->drain);

    api::drain_status d;
    d.since = "2026-12-07T19:30:00Z";
    d.deadline = "2026-12-07T19:45:00Z";
    d.seconds_left = 83.4;
    d.calls_left = 12;
    h.status_reply.drain = d;
    auto back = api::decode_status(parse(api::to_line(h.status_reply)));
    REQUIRE(back.ok());
    REQUIRE(back->drain);
    CHECK(back->drain->since == d.since);
    CHECK(back->drain->deadline == d.deadline);
    CHECK(back->drain->seconds_left == Approx(83.4));
    CHECK(back->drain->calls_left == 12);
    CHECK(sbc::ctl::render_status(*back).rfind(
              "sbcd 0.1.0, up 1h02m03s, 1 active call\n"
              "draining since 2026-12-07T19:30:00Z, 12 calls left, deadline "
              "2026-12-07T19:45:00Z (in 1m23s)\n\n",
              0) == 0);

    d.deadline.clear();
    d.seconds_left.reset();
    d.calls_left = 1;
    CHECK(sbc::ctl::render_drain(d) ==
          "draining since 2026-12-07T19:30:00Z, 1 call left, no deadline\n");
    const nlohmann::json reply = {{"ok", true}, {"drain", d}};
    CHECK(reply["drain"]["deadline"].is_null());
    CHECK(api::decode_drain(reply)->value().calls_left == 1);
    CHECK_FALSE(api::decode_drain({{"ok", true}, {"drain", nullptr}})->has_value());
    CHECK_FALSE(api::decode_drain({{"ok", true}, {"drain", {{"since", 5}}}}).ok());
}

TEST_CASE("dispatch passes drain to the handler; without one it is an error", "[api][dispatch]") {
    fake_handler h;
    CHECK(error_of(api::dispatch(R"({"cmd":"drain","deadline":60})", h)) ==
          "drain is not supported here");
}

TEST_CASE("sbcctl cluster says when the store is reached over TLS", "[sbcctl]") {
    nlohmann::json reply{{"node", "sbc-a"},
                         {"partner", "sbc-b"},
                         {"role", "active"},
                         {"calls", 2},
                         {"store",
                          {{"address", "192.0.2.30:6380"},
                           {"tls", true},
                           {"up", false},
                           {"last_error",
                            "TLS handshake with 192.0.2.30:6380 failed: certificate "
                            "verify failed (hostname mismatch)"}}}};
    const auto text = sbc::ctl::render_cluster(reply);
    CHECK(text.find("store 192.0.2.30:6380 (tls): DOWN") != std::string::npos);
    CHECK(text.find("last error: TLS handshake with 192.0.2.30:6380 failed") != std::string::npos);
    reply["store"]["tls"] = false;
    CHECK(sbc::ctl::render_cluster(reply).find("store 192.0.2.30:6380: DOWN") != std::string::npos);
}
