// sbcd: the session border controller daemon.
//
// Loads and validates the configuration, starts the data plane's workers,
// binds one SIP agent per interface and the control socket, then runs the
// su_root loop on this thread until SIGTERM or SIGINT, or until a drain
// (sbcctl drain) is over (DESIGN.md "Threads"). Exits 0 after either.
#include <sys/socket.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>

#include "dataplane/api/media_engine.hpp"
#include "dataplane/srtp/stream_crypto.hpp"
#include "sbc/api/control_server.hpp"
#include "sbc/b2bua/b2bua.hpp"
#include "sbc/common/log.hpp"
#include "sbc/config/config.hpp"
#include "sbc/metrics/b2bua_source.hpp"
#include "sbc/metrics/exporter.hpp"
#include "sbc/node/cluster_limits.hpp"
#include "sbc/node/cluster_node.hpp"
#include "sbc/service/b2bua_status.hpp"
#include "sbc/service/notifier.hpp"
#include "sbc/sofia/fd_watch.hpp"
#include "sbc/sofia/runtime.hpp"

namespace {

constexpr sbc::log::logger main_log{"sbcd"};

// Written by the signal handler, read by the loop's timer: the only state a
// signal handler may touch.
volatile std::sig_atomic_t g_stop_requested = 0;
volatile std::sig_atomic_t g_reload_requested = 0;

extern "C" void on_stop_signal(int) { g_stop_requested = 1; }
extern "C" void on_reload_signal(int) { g_reload_requested = 1; }

struct stop_watch {
    sbc::sofia::runtime* rt;
    sbc::b2bua::b2bua* b2bua;
    sbc::service::notifier* notifier;  ///< told STOPPING=1 (systemd)
    int grace_ticks = -1;              ///< counts down after the calls were hung up
    /// Then, while BYEs wait for their answer (one challenged is answered
    /// with credentials, RFC 3261 22.1), up to 2 s more: the far side's call
    /// must really end, or it stays up and billed until its own timers end it.
    int bye_ticks = 20;
};

/// After a drain, the loop runs this many ticks more before it stops: the
/// last calls' BYEs (the SBC's own, or relayed) are not waited for, and one
/// lost on UDP is sent again at 0.5, 1.5 and 3.5 s (RFC 3261 17.1.2.2,
/// Timer E); a drain is there so that no call is left up by the far side.
constexpr int drain_linger_ticks = 40;

/// Why sbcd stops now (what the calls left are hung up with), or null:
/// SIGTERM or SIGINT, or a drain that is over (sbcctl drain, drain.hpp).
/// `linger` says whether to give the last BYEs their retransmissions.
const char* stop_reason(const sbc::b2bua::b2bua& b2bua, bool& linger) {
    using verdict = sbc::b2bua::drain_state::verdict;
    linger = false;
    if (g_stop_requested != 0) {
        main_log.info("stopping: hanging up {} calls", b2bua.call_count());
        return "sbcd is stopping";
    }
    linger = true;
    switch (b2bua.drain_check()) {
        case verdict::drained:
            main_log.info("drained: the last call has ended; stopping");
            return "sbcd is stopping";
        case verdict::deadline:
            main_log.warn("drain deadline reached: hanging up the {} calls left",
                          b2bua.call_count());
            return "drain deadline";
        case verdict::keep_running:
            break;
    }
    return nullptr;
}

void watch_for_stop(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
    auto* w = static_cast<stop_watch*>(arg);
    if (g_reload_requested != 0) {
        g_reload_requested = 0;
        auto result = w->b2bua->reload();  // logs what it did
        if (!result.value("ok", false)) {
            for (const auto& e : result.value("errors", nlohmann::json::array())) {
                main_log.warn("SIGHUP reload: {}", e.get<std::string>());
            }
        }
    }
    if (w->grace_ticks < 0) {
        bool linger = false;
        const char* why = stop_reason(*w->b2bua, linger);
        if (why == nullptr) {
            return;
        }
        w->notifier->stopping(why);
        w->b2bua->hang_up_all(why);
        // Let the BYEs and CANCELs leave before the agents go away.
        w->grace_ticks = linger ? drain_linger_ticks : w->b2bua->call_count() > 0 ? 5 : 3;
        return;
    }
    if (w->grace_ticks > 0 && --w->grace_ticks == 0) {
        if (w->b2bua->byes_pending() > 0 && w->bye_ticks-- > 0) {
            w->grace_ticks = 1;
            return;
        }
        w->rt->stop();
    }
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    // SIGHUP re-reads the configuration, as `sbcctl reload` does.
    struct sigaction hup {};
    hup.sa_handler = on_reload_signal;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, nullptr);
}

int check_config(const std::string& path) {
    try {
        sbc::config::load_file(path);
        std::cout << path << ": configuration OK\n";
        return 0;
    } catch (const sbc::config::config_error& e) {
        for (const auto& p : e.problems()) {
            std::cerr << p << "\n";
        }
        return 1;
    }
}

/// The media sockets bind addresses the host does not hold (IP_FREEBIND),
/// which a node of a pair needs for its shared addresses; a node on its own
/// should hear at start, not at its first call, that an interface's
/// media_address is none of its own. The name of the first such address, or
/// "" when all are local.
std::string foreign_media_address(const sbc::config::config& cfg) {
    for (const auto& i : cfg.interfaces) {
        auto ep = sbc::dataplane::ip_endpoint::from_string(i.media_address, 0);
        if (!ep) {
            continue;
        }
        const int fd = ::socket(ep->family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        const bool foreign =
            ::bind(fd, ep->sockaddr_ptr(), ep->sockaddr_len()) != 0 && errno == EADDRNOTAVAIL;
        ::close(fd);
        if (foreign) {
            return i.name + ": " + i.media_address;
        }
    }
    return {};
}

int run(const std::string& path) {
    sbc::config::config cfg;
    try {
        cfg = sbc::config::load_file(path);
    } catch (const sbc::config::config_error& e) {
        for (const auto& p : e.problems()) {
            std::cerr << p << "\n";
        }
        return 1;
    }
    if (!cfg.cluster && cfg.media.backend != "dpdk") {
        if (auto foreign = foreign_media_address(cfg); !foreign.empty()) {
            main_log.error(
                "interface {} is not an address of this host (only a node of a "
                "cluster, whose addresses keepalived moves, may use one)",
                foreign);
            return 1;
        }
    }
    install_signal_handlers();
    // libsrtp2's self-tests now, not in the first SRTP call or a take-over.
    // Should they fail, plain RTP still works and each SRTP call says why.
    if (const auto& srtp = sbc::dataplane::srtp::prepare(); !srtp.empty()) {
        main_log.error("SRTP cannot be set up, calls with SRTP will fail: {}", srtp);
    }
    sbc::sofia::runtime rt;
    sbc::dataplane::engine_config ec;
    ec.port_min = cfg.media.port_min;
    ec.port_max = cfg.media.port_max;
    ec.workers = cfg.media.workers;
    std::unique_ptr<sbc::dataplane::media_engine> media;
    if (cfg.media.backend == "dpdk") {
        const auto& dc = cfg.media.dpdk;
        ec.dpdk.eal_args = dc.eal_args;
        ec.dpdk.lcores = dc.lcores;
        ec.dpdk.mbufs = dc.mbufs;
        for (const auto& port : dc.ports) {
            const auto* iface = cfg.find_interface(port.interface);
            ec.dpdk.ports.push_back({port.device, iface != nullptr ? iface->media_address : "",
                                     port.prefix, port.exception_interface});
        }
        try {
            media = sbc::dataplane::make_dpdk_engine(ec);
        } catch (const std::exception& e) {
            main_log.error("cannot start the dpdk media backend: {}", e.what());
            return 1;
        }
        main_log.info("media: dpdk backend, {} worker lcore(s), {} port(s)", dc.lcores.size(),
                      dc.ports.size());
    } else {
        media = sbc::dataplane::make_kernel_engine(ec);
    }
    // The B2BUA polls the engine every 200 ms; what cannot wait that long
    // (the dpdk backend: a new peer's first packets, a neighbour's MAC)
    // wakes the loop through the engine's descriptor.
    std::optional<sbc::sofia::fd_watch> media_wake;
    if (const int fd = media->wake_fd(); fd >= 0) {
        media_wake.emplace(rt.root(), fd, [&media] { media->poll(); });
    }
    sbc::b2bua::b2bua b2bua(rt.root(), cfg, *media);
    sbc::api::control_server control(rt.root(), cfg.control.socket, b2bua);
    std::unique_ptr<sbc::node::cluster_node> cluster;
    if (cfg.cluster) {
        cluster = std::make_unique<sbc::node::cluster_node>(rt.root(), *cfg.cluster, b2bua);
        cluster->start();
    }
    // After the b2bua, so destroyed before it: no answer reaches a b2bua
    // that is gone.
    std::unique_ptr<sbc::node::cluster_limits> limits;
    if (cfg.cluster) {
        limits = std::make_unique<sbc::node::cluster_limits>(rt.root(), *cfg.cluster, b2bua);
        limits->start();
    }

    // GET /metrics (conf/README.md, "metrics"); a bind failure ends the start.
    std::unique_ptr<sbc::metrics::exporter> metrics;
    if (cfg.metrics) {
        metrics = std::make_unique<sbc::metrics::exporter>(
            rt.root(), cfg.metrics->listen, [&b2bua] { return sbc::metrics::families_of(b2bua); });
        main_log.info("metrics: http://{}/metrics", cfg.metrics->listen);
    }

    // systemd (Type=notify): READY=1 now that every part is up, a STATUS=
    // line and the watchdog's keep-alives from this loop.
    sbc::service::notifier notifier(rt.root(), [&b2bua, clustered = cfg.cluster.has_value()] {
        return sbc::service::status_line(sbc::service::summarize(b2bua, clustered));
    });
    stop_watch w{&rt, &b2bua, &notifier};
    su_timer_t* stop_timer = su_timer_create(su_root_task(rt.root()), 100);
    su_timer_run(stop_timer, watch_for_stop, &w);  // every 100 ms
    main_log.info("sbcd {} running on {} ({} interfaces, control socket {})", SBC_VERSION, path,
                  cfg.interfaces.size(), cfg.control.socket);
    notifier.ready();
    rt.run();
    su_timer_destroy(stop_timer);
    main_log.info("sbcd stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sbcd: session border controller"};
    std::string config_path;
    std::string check_path;
    std::string log_level = "info";
    app.add_option("-c,--config", config_path, "run with this configuration file");
    app.add_option("--check-config", check_path,
                   "validate this configuration file and exit 0 or 1");
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
    app.set_version_flag("--version", SBC_VERSION);
    CLI11_PARSE(app, argc, argv);

    using sbc::log::level;
    sbc::log::set_level(log_level == "debug"   ? level::debug
                        : log_level == "warn"  ? level::warn
                        : log_level == "error" ? level::error
                                               : level::info);
    if (!check_path.empty()) {
        return check_config(check_path);
    }
    if (config_path.empty()) {
        std::cerr << "sbcd: --config FILE or --check-config FILE is required\n";
        return 2;
    }
    try {
        return run(config_path);
    } catch (const std::exception& e) {
        main_log.error("{}", e.what());
        return 1;
    }
}
