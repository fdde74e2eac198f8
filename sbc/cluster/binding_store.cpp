#include "sbc/cluster/binding_store.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "sbc/cluster/store_link.hpp"
#include "sbc/common/log.hpp"

namespace sbc::cluster {

namespace {

constexpr log::logger binding_store_log{"store"};

link_settings binding_link_settings(const config::cluster_config& cfg) {
    return store_link_settings(cfg, "sbc-" + cfg.node + "-reg");
}

// The queue holds one string per key: the PXAT milliseconds, a space, the
// document. Split again when the write goes out.
std::string queued_value(std::chrono::system_clock::time_point expires_at, const std::string& doc) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(expires_at.time_since_epoch())
            .count();
    return std::to_string(std::max<long long>(ms, 1)) + ' ' + doc;
}

}  // namespace

struct binding_store::job {
    job(bool reads, std::string pattern)
        : load(reads),
          scan(std::move(pattern), reads ? key_scan::action::read : key_scan::action::remove) {}

    bool load = false;  ///< else forget
    key_scan scan;
    bool finished = false;
    load_fn load_done;
    std::function<void(std::size_t)> forget_done;
};

binding_store::binding_store(su_root_t* root, const config::cluster_config& cfg)
    : _prefix(cfg.prefix),
      _node(cfg.node),
      _queue(cfg.store.queue_limit),
      _kick(root),
      _link(std::make_unique<redis_link>(root, binding_link_settings(cfg))) {
    _link->on_up([this] { pump(); });
    _link->on_ready([this] { pump(); });
    _link->on_down([this](const std::string&) { kick(); });
}

binding_store::~binding_store() {
    _closing = true;
    _link.reset();
}

void binding_store::start() { _link->start(); }

std::string binding_store::key_of(const std::string& node, const std::string& trunk,
                                  const std::string& user) const {
    return _prefix + ":reg:" + node + ":" + trunk + ":" + user;
}

void binding_store::put(const std::string& trunk, const std::string& user,
                        const nlohmann::json& doc,
                        std::chrono::system_clock::time_point expires_at) {
    // Invalid UTF-8 (a phone's Call-ID) is replaced, not thrown.
    const auto text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!_queue.put(key_of(_node, trunk, user), queued_value(expires_at, text),
                    state_queue::clock::now())) {
        binding_store_log.warn("store: bindings of {} not written: {} changes wait (queue_limit)",
                               user, _queue.size());
    }
    pump_writes();
}

void binding_store::erase(const std::string& trunk, const std::string& user) {
    if (!_queue.erase(key_of(_node, trunk, user), state_queue::clock::now())) {
        binding_store_log.warn("store: removal of {}'s bindings not written: queue full", user);
    }
    pump_writes();
}

void binding_store::load_node(const std::string& node, load_fn done) {
    auto j = std::make_unique<job>(true, _prefix + ":reg:" + node + ":*");
    j->load_done = std::move(done);
    _jobs.push_back(std::move(j));
    kick();
}

void binding_store::forget_node(const std::string& node, std::function<void(std::size_t)> done) {
    auto j = std::make_unique<job>(false, _prefix + ":reg:" + node + ":*");
    j->forget_done = std::move(done);
    _jobs.push_back(std::move(j));
    kick();
}

void binding_store::kick() {
    if (!_kick.armed()) {
        _kick.arm(std::chrono::milliseconds(0), [this] { pump(); });
    }
}

void binding_store::pump() {
    for (std::size_t i = 0; i < _jobs.size(); ++i) {
        if (!_jobs[i]->scan.busy() && !_jobs[i]->finished) {
            step(*_jobs[i]);
        }
    }
    std::erase_if(_jobs, [](const auto& j) { return j->finished; });
    pump_writes();
}

void binding_store::pump_writes() {
    while (_link->ready()) {
        auto item = _queue.take();
        if (!item) {
            break;
        }
        std::vector<std::string> argv;
        if (item->value) {
            const auto space = item->value->find(' ');
            // SET with PXAT (6.2+) writes the value
            // and its absolute expiry in one command.
            argv = {"SET", item->key, item->value->substr(space + 1), "PXAT",
                    item->value->substr(0, space)};
        } else {
            argv = {"DEL", item->key};
        }
        auto held = std::make_shared<state_queue::item>(std::move(*item));
        if (!_link->command(std::move(argv),
                            [this, held](const reply* r) { written(std::move(*held), r); })) {
            _queue.give_back(std::move(*held));
            break;
        }
        ++_in_flight;
    }
}

void binding_store::written(state_queue::item item, const reply* r) {
    if (_in_flight > 0) {
        --_in_flight;
    }
    if (r != nullptr && r->type != reply::kind::error) {
        ++(item.value ? _written : _deleted);
        pump_writes();
        return;
    }
    ++_failures;
    if (r == nullptr) {
        // Link lost: written again when it is back.
        _queue.give_back(std::move(item));
        kick();
        return;
    }
    // An error reply (OOM, NOPERM) would only come again: the write is
    // dropped, and the phone's next refresh writes its bindings anew.
    _last_error = (item.value ? "SET: " : "DEL: ") + r->str;
    binding_store_log.warn("store: {} ({})", _last_error, item.key);
}

void binding_store::step(job& j) {
    if (!j.scan.done()) {
        if (!_link->up()) {
            if (j.load) {
                end(j, "the store is not connected", false);
            }
            return;
        }
        // A link being destroyed (with this store) answers with nullptr:
        // then there is nothing to go on with.
        j.scan.step(*_link, [this] {
            if (!_closing) {
                pump();
            }
        });
        if (!j.scan.done()) {
            return;
        }
    }
    end(j, j.scan.error(), j.scan.lost());
}

node_bindings binding_store::read_back(job& j) {
    node_bindings found;
    for (auto& [key, value] : j.scan.values()) {
        auto doc = nlohmann::json::parse(value, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
            found.unreadable.push_back(key + ": not a JSON object");
        } else {
            found.documents.push_back(std::move(doc));
        }
    }
    return found;
}

// A forget that lost the link starts again when it is back; a failed load
// is its caller's to retry.
void binding_store::end(job& j, const std::string& error, bool lost) {
    if (lost && !j.load) {
        j.scan.restart();
        return;
    }
    j.finished = true;
    if (!error.empty()) {
        _last_error = error;
        binding_store_log.warn("store: {}", error);
    }
    if (_closing) {
        return;
    }
    try {
        if (j.load && j.load_done) {
            auto done = std::move(j.load_done);
            if (error.empty()) {
                done(read_back(j));
            } else {
                done(sbc::error{error});
            }
        } else if (!j.load && j.forget_done) {
            auto done = std::move(j.forget_done);
            done(j.scan.removed());
        }
    } catch (const std::exception& e) {
        binding_store_log.error("a binding store callback failed: {}", e.what());
    }
}

binding_store_stats binding_store::stats() const {
    binding_store_stats s;
    const auto link = _link->stats();
    s.up = link.up;
    s.queued = _queue.size();
    s.in_flight = _in_flight;
    s.dropped = _queue.dropped();
    s.written = _written;
    s.deleted = _deleted;
    s.failures = _failures;
    s.last_error = _last_error.empty() ? link.last_error : _last_error;
    return s;
}

}  // namespace sbc::cluster
