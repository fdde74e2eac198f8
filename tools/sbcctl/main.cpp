// sbcctl: the operator's command line for a running sbcd.
//
// Sends one request over the control socket (sbc/api/control_server.hpp) and
// prints the reply as text or, with --json, as the raw JSON line.
#include "sbc/api/control_client.hpp"
#include "sbc/api/json_codec.hpp"
#include "sbc/config/config.hpp"
#include "tools/sbcctl/output.hpp"
#include "tools/sbcctl/sip_ladder.hpp"
#include "tools/sbcctl/sip_pcap.hpp"
#include "tools/sbcctl/socket_path.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <variant>

namespace {

constexpr int exit_ok = 0;
constexpr int exit_error = 1;
constexpr int exit_usage = 2;

constexpr auto request_timeout = std::chrono::seconds(5);

/// The --help footer; the order is resolve_socket()'s (socket_path.hpp).
std::string footer() {
    return fmt::format(R"(Control socket, first match wins:
  1. --socket PATH
  2. the SBC_SOCKET environment variable
  3. control.socket in --config FILE
  4. control.socket in /etc/sbc/sbc.yaml, else in ./conf/sbc.yaml, whichever
     is readable first (a file without the key: sbcd's default, {})
  5. {}

Exit status: 0 success, 1 error (sbcd unreachable or it reported an error),
2 usage error.)",
                       sbc::config::control_config{}.socket, sbc::ctl::fallback_socket);
}

struct options {
    std::optional<std::string> socket;
    std::optional<std::string> config;
    bool json = false;
};

/// `sbcctl drain`'s options.
struct drain_args {
    std::optional<unsigned> deadline;
    bool wait = false;
    bool cancel = false;
    bool hand_over = false;
};

/// `sbcctl route test`'s call.
struct route_test_args {
    std::string from_trunk;
    std::string ruri;
    std::string from;
    std::string to;
    std::string source;
    std::string at;
};

void fail(const std::string& message) { fmt::print(stderr, "sbcctl: {}\n", message); }

/// Prints the reply of `cmd` in the requested form; returns the exit status.
int show(const std::string& cmd, const std::string& reply_line, bool json) {
    auto reply = sbc::api::parse_line(reply_line);
    if (!reply) {
        fail(fmt::format("unreadable reply from sbcd: {}", reply.error_message()));
        return exit_error;
    }
    auto error = sbc::api::reply_error(*reply);
    if (json) {
        fmt::print("{}\n", reply_line);
        // A refused reload is an error too, whatever the form of the output.
        bool refused = cmd == "reload" && !reply->value("ok", false);
        return error || refused ? exit_error : exit_ok;
    }
    if (error) {
        fail(fmt::format("sbcd: {}", *error));
        return exit_error;
    }
    if (cmd == "trunks") {
        fmt::print("{}", sbc::ctl::render_trunks(*reply));
        return exit_ok;
    }
    if (cmd == "stats") {
        fmt::print("{}", sbc::ctl::render_stats(*reply));
        return exit_ok;
    }
    if (cmd == "reload") {
        fmt::print("{}", sbc::ctl::render_reload(*reply));
        return reply->value("ok", false) ? exit_ok : exit_error;
    }
    if (cmd == "route_test") {
        fmt::print("{}", sbc::ctl::render_route_test(*reply));
        return exit_ok;
    }
    if (cmd == "call_state") {
        fmt::print("{}\n", (*reply)["call"].dump(2));
        return exit_ok;
    }
    if (cmd == "cluster") {
        fmt::print("{}", sbc::ctl::render_cluster(*reply));
        return exit_ok;
    }
    if (cmd == "drain") {
        auto drain = sbc::api::decode_drain(*reply);
        if (!drain) {
            fail(drain.error_message());
            return exit_error;
        }
        fmt::print("{}", *drain ? sbc::ctl::render_drain(**drain) : "admitting new calls\n");
        return exit_ok;
    }
    if (cmd == "status") {
        auto status = sbc::api::decode_status(*reply);
        if (!status) {
            fail(status.error_message());
            return exit_error;
        }
        fmt::print("{}", sbc::ctl::render_status(*status));
        return exit_ok;
    }
    auto calls = sbc::api::decode_calls(*reply);
    if (!calls) {
        fail(calls.error_message());
        return exit_error;
    }
    fmt::print("{}", sbc::ctl::render_calls(*calls));
    return exit_ok;
}

sbc::result<std::string> socket_path(const options& opts) {
    sbc::ctl::socket_sources sources;
    sources.option = opts.socket;
    sources.config_file = opts.config;
    if (const char* env = std::getenv("SBC_SOCKET")) {
        sources.environment = env;
    }
    return sbc::ctl::resolve_socket(sources);
}

/// What went wrong when sbcd could not be asked.
struct ask_failure {
    bool connected = false;  ///< false: nothing listens at the path (sbcd is not running)
    std::string message;
};

/// Sends `request` to sbcd at `path`; its reply line, or why there is none.
std::variant<std::string, ask_failure> ask(const std::string& path, const nlohmann::json& request) {
    auto until = std::chrono::steady_clock::now() + request_timeout;
    auto fd = sbc::api::connect_control(path, until);
    if (!fd) {
        return ask_failure{false, fmt::format("cannot connect to sbcd at {}: {} (is sbcd "
                                              "running? --socket?)",
                                              path, fd.error_message())};
    }
    auto reply = sbc::api::exchange(*fd, sbc::api::to_line(request), until);
    if (!reply) {
        return ask_failure{true, fmt::format("sbcd at {}: {}", path, reply.error_message())};
    }
    return *reply;
}

int run(const std::string& cmd, const nlohmann::json& request, const options& opts) {
    auto path = socket_path(opts);
    if (!path) {
        fail(path.error_message());
        return exit_error;
    }
    auto reply = ask(*path, request);
    if (const auto* f = std::get_if<ask_failure>(&reply)) {
        fail(f->message);
        return exit_error;
    }
    return show(cmd, std::get<std::string>(reply), opts.json);
}

/// `sbcctl drain --wait`: a line every second with the calls left, until
/// sbcd has exited (its socket is gone). Exit 0 then; 1 when the drain was
/// cancelled meanwhile or sbcd stopped answering.
int wait_for_exit(const std::string& path, bool json) {
    for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        auto reply = ask(path, sbc::api::make_request("status"));
        if (const auto* f = std::get_if<ask_failure>(&reply)) {
            if (!f->connected) {
                fmt::print("sbcd has exited\n");
                return exit_ok;
            }
            fail(f->message);
            return exit_error;
        }
        const auto& line = std::get<std::string>(reply);
        auto parsed = sbc::api::parse_line(line);
        auto status =
            parsed ? sbc::api::decode_status(*parsed)
                   : sbc::result<sbc::api::status_info>(sbc::make_error(parsed.error_message()));
        if (!status) {
            fail(fmt::format("unreadable reply from sbcd: {}", status.error_message()));
            return exit_error;
        }
        if (!status->drain) {
            fail("the drain was cancelled; sbcd admits new calls");
            return exit_error;
        }
        if (json) {
            fmt::print("{}\n", line);
        } else {
            fmt::print("{}", sbc::ctl::render_drain(*status->drain));
        }
        std::fflush(stdout);
    }
}

int run_drain(const nlohmann::json& request, bool wait, const options& opts) {
    auto path = socket_path(opts);
    if (!path) {
        fail(path.error_message());
        return exit_error;
    }
    auto reply = ask(*path, request);
    if (const auto* f = std::get_if<ask_failure>(&reply)) {
        fail(f->message);
        return exit_error;
    }
    const int status = show("drain", std::get<std::string>(reply), opts.json);
    std::fflush(stdout);
    return status == exit_ok && wait ? wait_for_exit(*path, opts.json) : status;
}

/// One request whose reply is a JSON object without "error"; the object,
/// or the failure already printed.
std::optional<nlohmann::json> ask_object(const std::string& path, const nlohmann::json& request) {
    auto reply = ask(path, request);
    if (const auto* f = std::get_if<ask_failure>(&reply)) {
        fail(f->message);
        return std::nullopt;
    }
    auto parsed = sbc::api::parse_line(std::get<std::string>(reply));
    if (!parsed || !parsed->is_object()) {
        fail("unreadable reply from sbcd");
        return std::nullopt;
    }
    if (auto e = parsed->find("error"); e != parsed->end()) {
        fail(e->is_string() ? e->get<std::string>() : e->dump());
        return std::nullopt;
    }
    return *parsed;
}

struct trace_args {
    std::string filter;
    bool follow = false;
    std::optional<double> for_seconds;
};

/// `sbcctl trace`: the kept messages of the matching calls as a ladder;
/// with --follow, the new ones as they come, until interrupted or --for
/// has passed.
int run_trace(const trace_args& ta, const options& opts) {
    auto path = socket_path(opts);
    if (!path) {
        fail(path.error_message());
        return exit_error;
    }
    auto until = std::chrono::steady_clock::time_point::max();
    if (ta.for_seconds) {
        until = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<long>(*ta.for_seconds * 1000));
    }
    sbc::ctl::sip_ladder ladder;
    std::uint64_t since = 0;
    for (;;) {
        auto request = sbc::api::make_request("trace");
        request["filter"] = ta.filter;
        request["since"] = since;
        auto reply = ask_object(*path, request);
        if (!reply) {
            return exit_error;
        }
        const auto next = reply->value("next", since);
        const bool more =
            next > since && reply->value("messages", nlohmann::json::array()).size() > 0;
        if (opts.json) {
            fmt::print("{}\n", reply->dump());
        } else {
            fmt::print("{}", ladder.render(*reply));
        }
        std::fflush(stdout);
        since = next;
        if (more) {
            continue;  // a full batch: ask for the rest at once
        }
        if (!ta.follow || std::chrono::steady_clock::now() >= until) {
            return exit_ok;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

/// `sbcctl pcap CALL -o FILE`.
int run_pcap(const std::string& call, const std::string& file, const options& opts) {
    auto path = socket_path(opts);
    if (!path) {
        fail(path.error_message());
        return exit_error;
    }
    auto request = sbc::api::make_request("sip_capture");
    request["call"] = call;
    auto reply = ask_object(*path, request);
    if (!reply) {
        return exit_error;
    }
    auto bytes = sbc::ctl::sip_pcapng(*reply);
    if (!bytes) {
        fail(fmt::format("call {}: {}", call, bytes.error_message()));
        return exit_error;
    }
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
    out.close();
    if (!out) {
        fail(fmt::format("cannot write {}", file));
        return exit_error;
    }
    const auto n = reply->value("messages", nlohmann::json::array()).size();
    const auto dropped = reply->value("dropped", std::uint64_t{0});
    fmt::print("call {}: {} SIP messages written to {}{}\n", reply->value("call", call), n, file,
               dropped > 0
                   ? fmt::format(" ({} more were not kept: capture.messages_per_call)", dropped)
                   : std::string());
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sbcctl: query a running sbcd over its control socket", "sbcctl"};
    app.footer(footer());
    app.set_version_flag("--version", SBC_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // `sbcctl calls --json` works as well as `sbcctl --json calls`

    options opts;
    app.add_option("--socket", opts.socket, "path of sbcd's control socket")->type_name("PATH");
    app.add_option("--config", opts.config, "read control.socket from this sbcd configuration")
        ->type_name("FILE");
    app.add_flag("--json", opts.json, "print sbcd's JSON reply as it came");
    app.add_subcommand("status", "version, uptime, call count and signaling interfaces");
    app.add_subcommand("calls", "the calls in progress");
    app.add_subcommand("trunks", "trunks, their peers' health and TLS sessions");
    app.add_subcommand("stats", "media counters per call leg: packets, drops, SRTP");
    app.add_subcommand("reload",
                       "re-read the configuration file (TLS certificates take effect at once)");
    auto* call_state = app.add_subcommand(
        "call-state", "a call's state document (JSON, secrets redacted), as a store would keep it");
    std::uint64_t call_id = 0;
    call_state->add_option("ID", call_id, "the call's number (sbcctl calls)")->required();
    auto* cluster = app.add_subcommand(
        "cluster", "this node's role, partner, store and replication; or make it active/standby");
    std::string cluster_action = "show";
    cluster
        ->add_option("ACTION", cluster_action,
                     "show (default); active: take over the partner's calls (keepalived made this "
                     "node master); standby: stay silent on the shared addresses")
        ->check(CLI::IsMember({"show", "active", "standby"}));
    auto* route = app.add_subcommand("route", "routing: see which route a call would take");
    route->require_subcommand(1);
    auto* route_test =
        route->add_subcommand("test", "which route a call would take and why, without placing it");
    route_test_args rt;
    route_test->add_option("--from-trunk", rt.from_trunk, "the trunk the call comes from")
        ->required()
        ->type_name("NAME");
    route_test->add_option("--ruri", rt.ruri, "the request-URI's user (the number dialled)")
        ->required()
        ->type_name("USER");
    route_test->add_option("--from", rt.from, "the From user (the caller)")->type_name("USER");
    route_test->add_option("--to", rt.to, "the To user (default: --ruri)")->type_name("USER");
    route_test
        ->add_option("--source", rt.source,
                     "the caller's IP address (default: the trunk's first peer)")
        ->type_name("IP");
    route_test->add_option("--at", rt.at, "the time of the call (default: now)")
        ->type_name("2026-12-02T09:30:00Z");

    auto* drain = app.add_subcommand(
        "drain",
        "refuse new calls (503), exit once the calls in progress have ended (conf/README.md)");
    drain_args da;
    drain
        ->add_option("--deadline", da.deadline,
                     "hang up the calls left after this many seconds, then exit")
        ->type_name("SECONDS")
        ->check(CLI::Range(1, 86400));
    drain->add_flag("--wait", da.wait, "print the calls left every second until sbcd exits");
    auto* cancel = drain->add_flag("--cancel", da.cancel, "stop draining: admit new calls again");
    drain->add_flag("--hand-over", da.hand_over,
                    "hand the calls over to the cluster partner (needs a cluster: configuration)");
    cancel->excludes("--deadline")->excludes("--wait")->excludes("--hand-over");

    auto* trace = app.add_subcommand(
        "trace", "the SIP ladder of recent and current calls (both legs, TLS in the clear)");
    trace_args ta;
    trace->add_option("FILTER", ta.filter,
                      "a call's ID, a leg's Call-ID, a trunk, or part of either number "
                      "(default: every call)");
    trace->add_flag("-f,--follow", ta.follow, "go on printing new messages as they come");
    trace->add_option("--for", ta.for_seconds, "with --follow: stop after this many seconds")
        ->type_name("SECONDS")
        ->check(CLI::PositiveNumber);
    auto* pcap = app.add_subcommand(
        "pcap", "write a call's SIP (both legs, TLS in the clear) as a pcapng file for Wireshark");
    std::string pcap_call;
    std::string pcap_file;
    pcap->add_option("CALL", pcap_call, "the call's ID (sbcctl calls) or a leg's Call-ID")
        ->required();
    pcap->add_option("-o,--output", pcap_file, "the file to write")->required()->type_name("FILE");

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return app.exit(e);  // --help, --version
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return exit_usage;
    }
    std::string cmd = app.get_subcommands().front()->get_name();
    nlohmann::json request = sbc::api::make_request(cmd);
    if (cmd == "route") {
        cmd = "route_test";
        request = sbc::api::make_request(cmd);
        request["from_trunk"] = rt.from_trunk;
        request["ruri"] = rt.ruri;
        request["from"] = rt.from;
        request["to"] = rt.to;
        request["source"] = rt.source;
        request["at"] = rt.at;
    }
    if (cmd == "cluster") {
        request["action"] = cluster_action;
    }
    if (cmd == "call-state") {
        cmd = "call_state";
        request = sbc::api::make_request(cmd);
        request["id"] = call_id;
    }
    if (cmd == "drain") {
        if (da.deadline) {
            request["deadline"] = *da.deadline;
        }
        request["cancel"] = da.cancel;
        request["hand_over"] = da.hand_over;
    }
    try {
        if (cmd == "trace") {
            return run_trace(ta, opts);
        }
        if (cmd == "pcap") {
            return run_pcap(pcap_call, pcap_file, opts);
        }
        if (cmd == "drain") {
            return run_drain(request, da.wait, opts);
        }
        return run(cmd, request, opts);
    } catch (const std::exception& e) {
        fail(e.what());
        return exit_error;
    }
}
