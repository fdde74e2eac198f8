#include "sbc/metrics/process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>

namespace sbc::metrics {

namespace {

prometheus::MetricFamily one_value(const char* name, const char* help, prometheus::MetricType type,
                                   double value) {
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
        m.counter.value = value;
    } else {
        m.gauge.value = value;
    }
    return {name, help, type, {m}};
}

// Fields 14 (utime), 15 (stime) and 22 (starttime) of /proc/self/stat, in
// clock ticks, and 24 (rss) in pages (proc(5)); counted after the ")" that
// ends the command name, which may itself hold spaces.
struct proc_stat {
    double utime = 0;
    double stime = 0;
    double starttime = 0;
    double rss_pages = 0;
};

std::optional<proc_stat> read_stat() {
    std::ifstream f("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream rest(text.substr(close + 1));
    std::string field;
    proc_stat s;
    for (int n = 3; rest >> field; ++n) {  // field 3 is the state
        try {
            if (n == 14) {
                s.utime = std::stod(field);
            } else if (n == 15) {
                s.stime = std::stod(field);
            } else if (n == 22) {
                s.starttime = std::stod(field);
            } else if (n == 24) {
                s.rss_pages = std::stod(field);
                return s;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    return std::nullopt;
}

// The boot time (btime of /proc/stat), seconds since the epoch.
std::optional<double> boot_time() {
    std::ifstream f("/proc/stat");
    std::string key;
    while (f >> key) {
        if (key == "btime") {
            double t = 0;
            if (f >> t) {
                return t;
            }
            return std::nullopt;
        }
        f.ignore(1 << 20, '\n');
    }
    return std::nullopt;
}

}  // namespace

void add_process_families(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    if (auto s = read_stat(); s && ticks > 0) {
        out.push_back(one_value("process_cpu_seconds_total",
                                "User and system CPU time spent, in seconds.", MetricType::Counter,
                                (s->utime + s->stime) / ticks));
        out.push_back(one_value("process_resident_memory_bytes", "Resident memory size in bytes.",
                                MetricType::Gauge, s->rss_pages * page));
        if (auto boot = boot_time()) {
            out.push_back(one_value("process_start_time_seconds",
                                    "Start time of the process since the Unix epoch, in seconds.",
                                    MetricType::Gauge, *boot + s->starttime / ticks));
        }
    }
    std::error_code ec;
    std::size_t fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        ++fds;
    }
    if (!ec) {
        // Less the one the iterator itself holds open.
        out.push_back(one_value("process_open_fds", "Number of open file descriptors.",
                                MetricType::Gauge, static_cast<double>(fds > 0 ? fds - 1 : 0)));
    }
    if (struct rlimit lim{};
        ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
        out.push_back(one_value("process_max_fds", "Maximum number of open file descriptors.",
                                MetricType::Gauge, static_cast<double>(lim.rlim_cur)));
    }
}

}  // namespace sbc::metrics
