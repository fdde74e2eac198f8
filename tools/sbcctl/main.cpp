// sbcctl: the operator's command line for a running sbcd.
//
// Sends one request over the control socket (sbc/api/control_server.hpp) and
// prints the reply as text or, with --json, as the raw JSON line.
#include "sbc/api/control_client.hpp"
#include "sbc/api/json_codec.hpp"
#include "sbc/config/config.hpp"
#include "tools/sbcctl/output.hpp"
#include "tools/sbcctl/socket_path.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

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

int run(const std::string& cmd, const nlohmann::json& request, const options& opts) {
    sbc::ctl::socket_sources sources;
    sources.option = opts.socket;
    sources.config_file = opts.config;
    if (const char* env = std::getenv("SBC_SOCKET")) {
        sources.environment = env;
    }
    auto path = sbc::ctl::resolve_socket(sources);
    if (!path) {
        fail(path.error_message());
        return exit_error;
    }
    auto until = std::chrono::steady_clock::now() + request_timeout;
    auto fd = sbc::api::connect_control(*path, until);
    if (!fd) {
        fail(fmt::format("cannot connect to sbcd at {}: {} (is sbcd running? --socket?)", *path,
                         fd.error_message()));
        return exit_error;
    }
    auto reply = sbc::api::exchange(*fd, sbc::api::to_line(request), until);
    if (!reply) {
        fail(fmt::format("sbcd at {}: {}", *path, reply.error_message()));
        return exit_error;
    }
    return show(cmd, *reply, opts.json);
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
    try {
        return run(cmd, request, opts);
    } catch (const std::exception& e) {
        fail(e.what());
        return exit_error;
    }
}
