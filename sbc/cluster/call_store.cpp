#include "sbc/cluster/call_store.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>

#include "sbc/cluster/store_link.hpp"
#include "sbc/common/log.hpp"

namespace sbc::cluster {

namespace {

constexpr log::logger call_store_log{"store"};

// Keys per SCAN step, and so per MGET or DEL: a few MB of documents at most
// in one reply, well inside a command's timeout.
constexpr const char* scan_count = "500";
// After an error reply to a write (OOM, NOPERM) the writes wait this long:
// the same write again at once would only meet the same error.
constexpr std::chrono::seconds write_pause{1};

link_settings settings_of(const config::cluster_config& cfg) {
    return store_link_settings(cfg, "sbc-" + cfg.node);
}

// Microseconds of the wall clock: the first seq of a node that restarted is
// above the last one it wrote before.
std::uint64_t first_seq() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

struct call_store::job {
    enum class kind { load, forget, resync };
    kind what;
    std::string pattern;  ///< SCAN MATCH
    std::string prefix;   ///< of the keys, before the call id
    std::string cursor = "0";
    bool scanned_once = false;
    bool busy = false;  ///< a command of this job is out
    bool done = false;
    std::vector<std::string> batch;  ///< keys to MGET or DEL next
    std::vector<std::string> keys;   ///< resync: every key seen
    node_calls found;                ///< load
    std::size_t deleted = 0;         ///< forget
    load_fn load_done;
    std::function<void(std::size_t)> forget_done;

    void restart() {
        cursor = "0";
        scanned_once = false;
        batch.clear();
        keys.clear();
    }
};

call_store::call_store(su_root_t* root, const config::cluster_config& cfg, std::optional<sealer> s)
    : _prefix(cfg.prefix),
      _node(cfg.node),
      _own_prefix(cfg.prefix + ":call:" + cfg.node + ":"),
      _sealer(std::move(s)),
      _queue(cfg.store.queue_limit),
      _seq(first_seq()),
      _kick(root),
      _pause(root),
      _link(std::make_unique<redis_link>(root, settings_of(cfg))) {
    _link->on_up([this] {
        // A store that was away may have come back empty (a restarted Redis
        // without persistence, or a failover to a replica behind): the calls
        // written before it left would then be missing until they next
        // change, and a take-over would not find them. So every
        // reconnection rewrites the live calls; the first connection has
        // nothing written yet to lose. Only rewrites: no deletion was lost
        // (a DEL not answered is given back), and keys are deleted only by
        // the full resync an overflow asks for, which rewrites too.
        if (_connected_before && !_resync_wanted) {
            rewrite_live();
        }
        _connected_before = true;
        pump();
    });
    _link->on_ready([this] { pump(); });
    _link->on_down([this](const std::string&) { kick(); });
}

call_store::~call_store() {
    _closing = true;
    _link.reset();  // commands out get nullptr now, while the rest still lives
}

void call_store::start() { _link->start(); }

std::string call_store::key_of(const std::string& node, std::uint64_t call_id) const {
    return _prefix + ":call:" + node + ":" + std::to_string(call_id);
}

std::string call_store::seal_and_wrap(const nlohmann::json& doc) {
    // Invalid UTF-8 in a string is replaced, not thrown: a write never fails
    // a call.
    constexpr auto replace = nlohmann::json::error_handler_t::replace;
    std::string text = "{\"seq\":" + std::to_string(++_seq) + ",\"doc\":";
    if (_sealer) {
        auto sealed = doc;
        _sealer->seal_document(sealed);
        text += sealed.dump(-1, ' ', false, replace);
    } else {
        text += doc.dump(-1, ' ', false, replace);
    }
    text += '}';
    return text;
}

void call_store::put(std::uint64_t call_id, const nlohmann::json& doc) {
    auto key = key_of(_node, call_id);
    std::string value;
    try {
        value = seal_and_wrap(doc);
    } catch (const std::exception& e) {
        // Not written; the call goes on (DESIGN.md: a store costs
        // replication, never calls).
        ++_failures;
        _last_error =
            std::string("cannot serialize call ") + std::to_string(call_id) + ": " + e.what();
        call_store_log.error("{}", _last_error);
        return;
    }
    if (_resync_running) {
        _resync_live.insert(key);
    }
    if (!_queue.put(key, std::move(value), state_queue::clock::now())) {
        overflowed();
    }
    pump_writes();
}

void call_store::erase(std::uint64_t call_id) {
    if (!_queue.erase(key_of(_node, call_id), state_queue::clock::now())) {
        overflowed();
    }
    pump_writes();
}

void call_store::overflowed() {
    if (!_resync_wanted) {
        call_store_log.warn(
            "store: {} changes wait to be written (queue_limit); the rest are "
            "dropped until every live call is written again",
            _queue.size());
    }
    _resync_wanted = true;
    kick();
}

void call_store::load_node(const std::string& node, load_fn done) {
    auto j = std::make_unique<job>();
    j->what = job::kind::load;
    j->prefix = _prefix + ":call:" + node + ":";
    j->pattern = j->prefix + "*";
    j->load_done = std::move(done);
    _jobs.push_back(std::move(j));
    kick();  // `done` is never called inside this call
}

void call_store::forget_node(const std::string& node, std::function<void(std::size_t)> done) {
    auto j = std::make_unique<job>();
    j->what = job::kind::forget;
    j->prefix = _prefix + ":call:" + node + ":";
    j->pattern = j->prefix + "*";
    j->forget_done = std::move(done);
    _jobs.push_back(std::move(j));
    kick();
}

void call_store::on_resync(std::function<void()> f) { _resync_fn = std::move(f); }

void call_store::resync() {
    _resync_wanted = true;
    kick();
}

void call_store::kick() {
    if (!_kick.armed()) {
        _kick.arm(std::chrono::milliseconds(0), [this] { pump(); });
    }
}

// Scans first (a takeover waits on them), then the writes.
void call_store::pump() {
    // A resync once the queue has room for the live calls again: started
    // with a full queue it would only overflow again.
    if (_resync_wanted && !_resync_running && _link->ready() &&
        _queue.size() <= _queue.limit() / 2) {
        _resync_wanted = false;
        _resync_running = true;
        _resync_live.clear();
        _queue.clear_overflow();
        auto j = std::make_unique<job>();
        j->what = job::kind::resync;
        j->prefix = _own_prefix;
        j->pattern = _own_prefix + "*";
        _jobs.push_back(std::move(j));
    }
    // Steps may end jobs, and ending one may start another (a callback's
    // load_node): index, not iterators.
    for (std::size_t i = 0; i < _jobs.size(); ++i) {
        if (!_jobs[i]->busy && !_jobs[i]->done) {
            step(*_jobs[i]);
        }
    }
    std::erase_if(_jobs, [](const auto& j) { return j->done; });
    pump_writes();
}

void call_store::pump_writes() {
    while (!_paused && _link->ready()) {
        auto item = _queue.take();
        if (!item) {
            break;
        }
        std::vector<std::string> argv;
        if (item->value) {
            argv = {"SET", item->key, *item->value};
        } else {
            argv = {"DEL", item->key};
        }
        const auto since = item->since;
        auto held = std::make_shared<state_queue::item>(std::move(*item));
        if (!_link->command(std::move(argv),
                            [this, held](const reply* r) { written(std::move(*held), r); })) {
            _queue.give_back(std::move(*held));
            break;
        }
        _in_flight_since.push_back(since);
    }
}

void call_store::written(state_queue::item item, const reply* r) {
    if (!_in_flight_since.empty()) {
        _in_flight_since.pop_front();  // answered in the order sent
    }
    if (r != nullptr && r->type != reply::kind::error) {
        ++(item.value ? _written : _deleted);
        if (_resync_wanted && !_resync_running) {
            kick();  // pump() starts it once the queue has room
        }
        pump_writes();
        return;
    }
    ++_failures;
    const char* command = item.value ? "SET: " : "DEL: ";
    _queue.give_back(std::move(item));
    if (r == nullptr) {
        // The link is going: its loss is handled once it has dropped the
        // connection.
        kick();
        return;
    }
    _last_error = command + r->str;
    pause_writes();
}

void call_store::pause_writes() {
    if (_paused) {
        return;
    }
    _paused = true;
    call_store_log.warn("store: {}; writes wait {} s", _last_error, write_pause.count());
    _pause.arm(write_pause, [this] {
        _paused = false;
        pump();
    });
}

// The job's next command, when the link can take it; a load cannot wait
// for a link that is down (its caller is taking over calls now).
void call_store::step(job& j) {
    if (!_link->up()) {
        if (j.what == job::kind::load) {
            end(j, "the store is not connected" + (_link->stats().last_error.empty()
                                                       ? std::string()
                                                       : " (" + _link->stats().last_error + ")"));
        }
        return;
    }
    if (!j.batch.empty()) {
        std::vector<std::string> argv{j.what == job::kind::load ? "MGET" : "DEL"};
        argv.insert(argv.end(), j.batch.begin(), j.batch.end());
        j.busy = _link->command(std::move(argv), [this, &j](const reply* r) { batch_done(j, r); });
        return;
    }
    if (j.scanned_once && j.cursor == "0") {
        end(j, "");
        return;
    }
    // SCAN walks the keyspace without blocking the server; a key may come
    // twice, which MGET and DEL do not mind.
    j.busy = _link->command({"SCAN", j.cursor, "MATCH", j.pattern, "COUNT", scan_count},
                            [this, &j](const reply* r) { scanned(j, r); });
}

void call_store::scanned(job& j, const reply* r) {
    j.busy = false;
    if (r == nullptr || r->type != reply::kind::array || r->elements.size() != 2 ||
        r->elements[1].type != reply::kind::array) {
        end(j,
            r == nullptr
                ? "the store connection was lost"
                : "SCAN: " + (r->type == reply::kind::error ? r->str : "an unexpected reply"),
            r == nullptr);
        return;
    }
    j.cursor = r->elements[0].str;
    j.scanned_once = true;
    for (const auto& k : r->elements[1].elements) {
        (j.what == job::kind::resync ? j.keys : j.batch).push_back(k.str);
    }
    pump();
}

void call_store::batch_done(job& j, const reply* r) {
    j.busy = false;
    if (r == nullptr || r->type == reply::kind::error) {
        end(j,
            r == nullptr ? "the store connection was lost"
                         : (j.what == job::kind::load ? "MGET: " : "DEL: ") + r->str,
            r == nullptr);
        return;
    }
    if (j.what == job::kind::forget) {
        j.deleted += static_cast<std::size_t>(std::max<long long>(r->integer, 0));
    } else {
        for (std::size_t i = 0; i < j.batch.size() && i < r->elements.size(); ++i) {
            const auto& key = j.batch[i];
            const auto& value = r->elements[i];
            if (value.type != reply::kind::string) {
                continue;  // deleted since the SCAN: the call ended
            }
            auto doc = nlohmann::json::parse(value.str, nullptr, false);
            std::uint64_t id = 0;
            const auto tail = std::string_view(key).substr(j.prefix.size());
            const auto [end_id, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), id);
            if (doc.is_discarded()) {
                j.found.unreadable.push_back(key + ": not JSON");
            } else if (!doc.is_object() || !doc.contains("seq") ||
                       !doc["seq"].is_number_unsigned() || !doc.contains("doc") ||
                       !doc["doc"].is_object()) {
                j.found.unreadable.push_back(key + ": not {\"seq\": N, \"doc\": {...}}");
            } else if (ec != std::errc() || end_id != tail.data() + tail.size()) {
                j.found.unreadable.push_back(key + ": no call id after the node's name");
            } else {
                stored_call c{id, doc["seq"].get<std::uint64_t>(), std::move(doc["doc"])};
                if (_sealer) {
                    if (auto opened = _sealer->open_document(c.doc); !opened) {
                        j.found.unreadable.push_back(key + ": " + opened.error_message());
                        continue;
                    }
                }
                j.found.calls.push_back(std::move(c));
            }
        }
    }
    j.batch.clear();
    pump();
}

// A job ends: finished (error ""), or failed. A forget or resync that lost
// the link runs again from the start when it is back; a failed load is its
// caller's to retry.
void call_store::end(job& j, const std::string& error, bool lost) {
    if (lost && j.what == job::kind::forget) {
        j.restart();
        return;
    }
    j.done = true;
    if (!error.empty()) {
        _last_error = error;
        call_store_log.warn("store: {}", error);
    }
    if (j.what == job::kind::resync) {
        if (!error.empty() || _closing) {
            _resync_running = false;
            _resync_wanted = lost;  // asked again when the link is back
            return;
        }
        finish_resync(j.keys);
        return;
    }
    if (_closing) {
        return;
    }
    try {
        if (j.what == job::kind::load && j.load_done) {
            auto done = std::move(j.load_done);
            if (error.empty()) {
                done(std::move(j.found));
            } else {
                done(make_error(error));
            }
        } else if (j.what == job::kind::forget && j.forget_done) {
            auto done = std::move(j.forget_done);
            done(j.deleted);
        }
    } catch (const std::exception& e) {
        call_store_log.error("a store callback failed: {}", e.what());
    }
}

void call_store::rewrite_live() {
    if (!_resync_fn) {
        return;
    }
    ++_resyncs;
    call_store_log.info("store: connected again; every live call is written again");
    try {
        _resync_fn();
    } catch (const std::exception& e) {
        call_store_log.error("the store's on_resync failed: {}", e.what());
    }
}

void call_store::finish_resync(const std::vector<std::string>& keys) {
    if (!_resync_fn) {
        // Without the owner's calls every key would look dead: delete none.
        _resync_running = false;
        call_store_log.warn("store: the queue overflowed and nothing rewrites the live calls");
        return;
    }
    ++_resyncs;
    call_store_log.info("store: rewriting every live call (the queue had overflowed)");
    try {
        _resync_fn();  // put() records the live keys while _resync_running
    } catch (const std::exception& e) {
        call_store_log.error("the store's on_resync failed: {}", e.what());
        _resync_running = false;
        _resync_wanted = true;
        return;
    }
    _resync_running = false;
    for (const auto& key : keys) {
        if (!_resync_live.contains(key)) {
            // A call that ended while its DEL was dropped.
            if (!_queue.erase(key, state_queue::clock::now())) {
                _resync_wanted = true;
            }
        }
    }
    _resync_live.clear();
    pump_writes();
}

store_stats call_store::stats() const {
    store_stats s;
    s.link = _link->stats();
    s.up = s.link.up;
    s.queued = _queue.size();
    s.in_flight = _in_flight_since.size();
    s.dropped = _queue.dropped();
    s.written = _written;
    s.deleted = _deleted;
    s.failures = _failures;
    s.resyncs = _resyncs;
    s.last_error = _last_error.empty() ? s.link.last_error : _last_error;
    std::optional<state_queue::clock::time_point> oldest = _queue.oldest();
    if (!_in_flight_since.empty()) {
        oldest = oldest ? std::min(*oldest, _in_flight_since.front()) : _in_flight_since.front();
    }
    if (oldest) {
        s.lag = std::chrono::duration_cast<std::chrono::milliseconds>(state_queue::clock::now() -
                                                                      *oldest);
    }
    return s;
}

}  // namespace sbc::cluster
