#include "sbc/metrics/exporter.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "sbc/metrics/process.hpp"

namespace sbc::metrics {

/// Shared by the scrape threads (Collect) and the control thread (refresh);
/// each field's rule is beside it.
class exporter::collectable : public prometheus::Collectable {
public:
    collectable(builder build, std::chrono::milliseconds wait)
        : _build(std::move(build)), _wait(wait), _fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (_fd < 0) {
            throw std::system_error(errno, std::generic_category(), "metrics: eventfd");
        }
    }
    ~collectable() override { ::close(_fd); }
    collectable(const collectable&) = delete;
    collectable& operator=(const collectable&) = delete;

    int fd() const noexcept { return _fd; }

    /// Scrape thread.
    std::vector<prometheus::MetricFamily> Collect() const override {
        std::vector<prometheus::MetricFamily> out;
        {
            std::unique_lock lock(_mutex);
            if (!_stopping) {
                const auto wanted = ++_requested;
                const std::uint64_t one = 1;
                // Cannot fail short of an overflow of 2^64 - 1 wakes.
                (void)!::write(_fd, &one, sizeof one);
                _ready.wait_for(lock, _wait, [&] { return _built >= wanted || _stopping; });
            }
            out = _families;
        }
        add_process_families(out);
        return out;
    }

    /// Control thread: the eventfd is readable.
    void refresh() {
        std::uint64_t n = 0;
        (void)!::read(_fd, &n, sizeof n);
        std::uint64_t wanted = 0;
        {
            std::lock_guard lock(_mutex);
            wanted = _requested;
        }
        // Built outside the lock: a scrape that gives up meanwhile takes
        // the previous families without waiting for these.
        auto families = _build();
        std::lock_guard lock(_mutex);
        _families = std::move(families);
        _built = wanted;
        _ready.notify_all();
    }

    /// Control thread, before the Exposer goes: scrapes stop waiting.
    void stop() {
        std::lock_guard lock(_mutex);
        _stopping = true;
        _ready.notify_all();
    }

private:
    const builder _build;  ///< control thread only
    const std::chrono::milliseconds _wait;
    const int _fd;  ///< scrape threads write, the control thread reads
    mutable std::mutex _mutex;
    mutable std::condition_variable _ready;
    // Under _mutex:
    mutable std::uint64_t _requested = 0;  ///< scrapes that asked
    std::uint64_t _built = 0;              ///< the _requested the families answer
    std::vector<prometheus::MetricFamily> _families;
    bool _stopping = false;
};

exporter::exporter(su_root_t* root, const std::string& listen, builder build,
                   std::chrono::milliseconds wait)
    : _collectable(std::make_shared<collectable>(std::move(build), wait)) {
    _watch.emplace(root, _collectable->fd(), [c = _collectable.get()] { c->refresh(); });
    try {
        // Two threads: Prometheus and a person with curl at once.
        _exposer = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
        throw std::runtime_error("metrics: cannot listen on " + listen + ": " + e.what());
    }
    _exposer->RegisterCollectable(_collectable);
}

exporter::~exporter() {
    _collectable->stop();
    _exposer.reset();  // joins civetweb's threads
    _watch.reset();
}

int exporter::port() const {
    const auto ports = _exposer->GetListeningPorts();
    return ports.empty() ? 0 : ports.front();
}

}  // namespace sbc::metrics
