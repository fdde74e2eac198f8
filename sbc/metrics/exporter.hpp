// The Prometheus exporter: an HTTP server (prometheus-cpp's Exposer, on
// civetweb) that answers GET /metrics on the configured address.
//
// Threads: civetweb serves HTTP on threads of its own, but every counter
// sbcd keeps belongs to the control thread (the su_root loop, DESIGN.md
// "Threads"), which reads them without locks. So a scrape does not read
// them: it wakes the loop through an eventfd the loop watches, and the loop
// builds the families (the `build` function) and hands them back under a
// mutex. The scrape waits for them at most `wait` (1 s in sbcd); should the
// loop be that busy, it answers with the families of the last scrape rather
// than with nothing, so that a slow loop shows as flat lines, not gaps. The
// process metrics (process.hpp) are read on the scrape thread itself, from
// /proc: they stay fresh even then.
//
// Object graph: sbcd's main owns the exporter; the exporter owns the
// Exposer, the eventfd's watch and the collectable shared with the Exposer.
#pragma once

#include <prometheus/metric_family.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbc/sofia/fd_watch.hpp"

struct su_root_s;
typedef struct su_root_s su_root_t;

namespace prometheus {
class Exposer;
}

namespace sbc::metrics {

class exporter {
public:
    /// Runs on the control thread; what one scrape exports besides the
    /// process metrics.
    using builder = std::function<std::vector<prometheus::MetricFamily>()>;

    /// Starts serving at once. Throws std::runtime_error naming `listen`
    /// when it cannot be bound (in use, not an address of this host).
    /// @param root    the loop that runs `build`; borrowed, outlives the exporter
    /// @param listen  "IP:PORT" or "[IPv6]:PORT"; port 0 takes a free one (tests)
    /// @param wait    how long a scrape waits for the loop
    exporter(su_root_t* root, const std::string& listen, builder build,
             std::chrono::milliseconds wait = std::chrono::seconds(1));
    /// Stops the HTTP server; a scrape in progress gets the last families.
    ~exporter();
    exporter(const exporter&) = delete;
    exporter& operator=(const exporter&) = delete;

    /// The TCP port it listens on (the one port 0 chose).
    int port() const;

    class collectable;  ///< public only for the .cpp's use

private:
    std::shared_ptr<collectable> _collectable;
    std::optional<sofia::fd_watch> _watch;
    std::unique_ptr<prometheus::Exposer> _exposer;
};

}  // namespace sbc::metrics
