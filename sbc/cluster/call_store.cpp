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

// After an error reply to a write (OOM, NOPERM) the writes wait this long:
// the same write again at once would only meet the same error.
constexpr std::chrono::seconds write_pause{1};
// Documents per MGET of a refresh: a few MB at most in one reply.
constexpr std::size_t fetch_batch = 500;

// A call's document and its entry in the node's index change together: a
// script runs whole, so a reader never sees one without the other.
// KEYS: the document, the index; ARGV: the envelope, the call id, its seq.
constexpr const char* put_script =
    "redis.call('SET', KEYS[1], ARGV[1]) "
    "redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) "
    "return 1";
// KEYS: the document, the index; ARGV: the call id.
constexpr const char* erase_script =
    "redis.call('DEL', KEYS[1]) "
    "redis.call('HDEL', KEYS[2], ARGV[1]) "
    "return 1";

// The N of an envelope this store made: {"seq":N,"doc":...}.
std::string seq_of(const std::string& envelope) {
    constexpr std::string_view head = "{\"seq\":";
    const auto comma = envelope.find(',', head.size());
    return comma == std::string::npos ? "0" : envelope.substr(head.size(), comma - head.size());
}

std::optional<std::uint64_t> number_of(std::string_view text) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
        return std::nullopt;
    }
    return n;
}

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

struct call_store::refresh_job {
    std::string prefix;  ///< of the node's keys, before the call id
    std::string index;
    std::shared_ptr<node_copy> copy;
    refresh_fn done;
    bool indexed = false;  ///< the index was read: now the documents
    bool busy = false;
    bool finished = false;
    std::vector<std::uint64_t> wanted;  ///< calls whose document is to be read
    std::size_t next = 0;               ///< into `wanted`
    std::vector<std::uint64_t> batch;   ///< the MGET out
    copy_refresh outcome;
    std::vector<std::string> unreadable;
};

node_calls node_copy::to_node_calls() const {
    node_calls out;
    out.calls.reserve(calls.size());
    for (const auto& [id, c] : calls) {
        out.calls.push_back(c);
    }
    out.unreadable = unreadable;
    return out;
}

struct call_store::job {
    enum class kind { load, forget, resync };

    job(kind w, std::string key_prefix)
        : what(w),
          prefix(std::move(key_prefix)),
          scan(prefix + "*", w == kind::load     ? key_scan::action::read
                             : w == kind::forget ? key_scan::action::remove
                                                 : key_scan::action::list) {}

    kind what;
    std::string prefix;  ///< of the keys, before the call id
    key_scan scan;
    bool finished = false;
    load_fn load_done;
    std::function<void(std::size_t)> forget_done;
};

call_store::call_store(su_root_t* root, const config::cluster_config& cfg, std::optional<sealer> s)
    : _prefix(cfg.prefix),
      _node(cfg.node),
      _own_prefix(cfg.prefix + ":call:" + cfg.node + ":"),
      _own_index(cfg.prefix + ":calls:" + cfg.node),
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

std::string call_store::index_of(const std::string& node) const {
    return _prefix + ":calls:" + node;
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
    auto j = std::make_unique<job>(job::kind::load, _prefix + ":call:" + node + ":");
    j->load_done = std::move(done);
    _jobs.push_back(std::move(j));
    kick();  // `done` is never called inside this call
}

void call_store::forget_node(const std::string& node, std::function<void(std::size_t)> done) {
    auto j = std::make_unique<job>(job::kind::forget, _prefix + ":call:" + node + ":");
    j->scan.remove_too(index_of(node));
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
        _jobs.push_back(std::make_unique<job>(job::kind::resync, _own_prefix));
    }
    // Steps may end jobs, and ending one may start another (a callback's
    // load_node): index, not iterators.
    for (std::size_t i = 0; i < _jobs.size(); ++i) {
        if (!_jobs[i]->scan.busy() && !_jobs[i]->finished) {
            step(*_jobs[i]);
        }
    }
    std::erase_if(_jobs, [](const auto& j) { return j->finished; });
    for (std::size_t i = 0; i < _refreshes.size(); ++i) {
        if (!_refreshes[i]->busy && !_refreshes[i]->finished) {
            step_refresh(*_refreshes[i]);
        }
    }
    std::erase_if(_refreshes, [](const auto& r) { return r->finished; });
    pump_writes();
}

void call_store::pump_writes() {
    while (!_paused && _link->ready()) {
        auto item = _queue.take();
        if (!item) {
            break;
        }
        // Every queued key is one of this node's: "<own prefix><call id>".
        std::string id = item->key.substr(std::min(_own_prefix.size(), item->key.size()));
        std::vector<std::string> argv;
        if (item->value) {
            argv = {"EVAL",     put_script,   "2",           item->key,
                    _own_index, *item->value, std::move(id), seq_of(*item->value)};
        } else {
            argv = {"EVAL", erase_script, "2", item->key, _own_index, std::move(id)};
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
    if (!j.scan.done()) {
        if (!_link->up()) {
            if (j.what == job::kind::load) {
                end(j,
                    "the store is not connected" + (_link->stats().last_error.empty()
                                                        ? std::string()
                                                        : " (" + _link->stats().last_error + ")"));
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

result<stored_call> call_store::open_envelope(const std::string& key, std::string_view id_text,
                                              const std::string& value) {
    auto doc = nlohmann::json::parse(value, nullptr, false);
    const auto id = number_of(id_text);
    if (doc.is_discarded()) {
        return make_error(key + ": not JSON");
    }
    if (!doc.is_object() || !doc.contains("seq") || !doc["seq"].is_number_unsigned() ||
        !doc.contains("doc") || !doc["doc"].is_object()) {
        return make_error(key + ": not {\"seq\": N, \"doc\": {...}}");
    }
    if (!id) {
        return make_error(key + ": no call id after the node's name");
    }
    stored_call c{*id, doc["seq"].get<std::uint64_t>(), std::move(doc["doc"])};
    if (_sealer) {
        if (auto unsealed = _sealer->open_document(c.doc); !unsealed) {
            return make_error(key + ": " + unsealed.error_message());
        }
    }
    return c;
}

/// The calls a load read, or why each key could not be read.
node_calls call_store::opened(job& j) {
    node_calls found;
    for (auto& [key, value] : j.scan.values()) {
        auto c = open_envelope(key, std::string_view(key).substr(j.prefix.size()), value);
        if (c) {
            found.calls.push_back(std::move(c.value()));
        } else {
            found.unreadable.push_back(c.error_message());
        }
    }
    return found;
}

void call_store::refresh_copy(const std::string& node, std::shared_ptr<node_copy> copy,
                              refresh_fn done) {
    auto r = std::make_unique<refresh_job>();
    r->prefix = _prefix + ":call:" + node + ":";
    r->index = index_of(node);
    r->copy = std::move(copy);
    r->done = std::move(done);
    _refreshes.push_back(std::move(r));
    kick();  // `done` is never called inside this call
}

void call_store::step_refresh(refresh_job& r) {
    if (!_link->up()) {
        end_refresh(r, "the store is not connected");
        return;
    }
    // The answer may end the refresh, and pump() then destroys it: nothing
    // touches `r` after the pump.
    auto answered = [this, &r](const reply* a) {
        r.busy = false;
        if (r.indexed) {
            fetched(r, a);
        } else {
            indexed(r, a);
        }
        if (!_closing) {
            pump();
        }
    };
    if (!r.indexed) {
        r.busy = _link->command({"HGETALL", r.index}, answered);
        return;
    }
    if (r.next == r.wanted.size()) {
        end_refresh(r, "");
        return;
    }
    r.batch.assign(r.wanted.begin() + static_cast<std::ptrdiff_t>(r.next),
                   r.wanted.begin() + static_cast<std::ptrdiff_t>(
                                          std::min(r.next + fetch_batch, r.wanted.size())));
    std::vector<std::string> argv{"MGET"};
    for (auto id : r.batch) {
        argv.push_back(r.prefix + std::to_string(id));
    }
    r.busy = _link->command(std::move(argv), answered);
}

// The index read: calls it no longer lists leave the copy, and those whose
// N the copy does not have are to be fetched.
void call_store::indexed(refresh_job& r, const reply* a) {
    if (a == nullptr || a->type != reply::kind::array) {
        end_refresh(r, a == nullptr ? "the store connection was lost"
                                    : "HGETALL: " + (a->type == reply::kind::error
                                                         ? a->str
                                                         : std::string("an unexpected reply")));
        return;
    }
    std::unordered_map<std::uint64_t, std::uint64_t> listed;
    for (std::size_t i = 0; i + 1 < a->elements.size(); i += 2) {
        const auto id = number_of(a->elements[i].str);
        const auto seq = number_of(a->elements[i + 1].str);
        if (!id || !seq) {
            r.unreadable.push_back(r.index + " field " + a->elements[i].str + ": not a call's N");
            continue;
        }
        listed[*id] = *seq;
    }
    r.outcome.listed = listed.size();
    r.outcome.dropped = std::erase_if(
        r.copy->calls, [&](const auto& entry) { return !listed.contains(entry.first); });
    for (const auto& [id, seq] : listed) {
        const auto have = r.copy->calls.find(id);
        if (have == r.copy->calls.end() || have->second.seq != seq) {
            r.wanted.push_back(id);
        }
    }
    r.indexed = true;
}

void call_store::fetched(refresh_job& r, const reply* a) {
    if (a == nullptr || a->type == reply::kind::error) {
        end_refresh(r, a == nullptr ? "the store connection was lost" : "MGET: " + a->str);
        return;
    }
    for (std::size_t i = 0; i < r.batch.size() && i < a->elements.size(); ++i) {
        const auto id = r.batch[i];
        if (a->elements[i].type != reply::kind::string) {
            r.copy->calls.erase(id);  // deleted since the index was read: the call ended
            continue;
        }
        const auto key = r.prefix + std::to_string(id);
        auto c = open_envelope(key, std::to_string(id), a->elements[i].str);
        if (c) {
            r.copy->calls.insert_or_assign(id, std::move(c.value()));
            ++r.outcome.fetched;
        } else {
            r.unreadable.push_back(c.error_message());
        }
    }
    r.next += r.batch.size();
    r.batch.clear();
}

void call_store::end_refresh(refresh_job& r, const std::string& error) {
    r.finished = true;
    if (error.empty()) {
        r.copy->unreadable = std::move(r.unreadable);
    }
    if (_closing || !r.done) {
        return;
    }
    try {
        auto done = std::move(r.done);
        if (error.empty()) {
            done(r.outcome);
        } else {
            done(make_error(error));
        }
    } catch (const std::exception& e) {
        call_store_log.error("a store callback failed: {}", e.what());
    }
}

// A job ends: finished (error ""), or failed. A forget or resync that lost
// the link runs again from the start when it is back; a failed load is its
// caller's to retry.
void call_store::end(job& j, const std::string& error, bool lost) {
    if (lost && j.what == job::kind::forget) {
        j.scan.restart();
        return;
    }
    j.finished = true;
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
        finish_resync(j.scan.keys());
        return;
    }
    if (_closing) {
        return;
    }
    try {
        if (j.what == job::kind::load && j.load_done) {
            auto done = std::move(j.load_done);
            if (error.empty()) {
                done(opened(j));
            } else {
                done(make_error(error));
            }
        } else if (j.what == job::kind::forget && j.forget_done) {
            auto done = std::move(j.forget_done);
            done(j.scan.removed());
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
