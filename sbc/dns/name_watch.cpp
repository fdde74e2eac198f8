#include "sbc/dns/name_watch.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "sbc/common/log.hpp"
#include "sbc/dns/loop_timer.hpp"
#include "sbc/dns/sip_lookup.hpp"

namespace sbc::dns {

namespace {

constexpr log::logger watch_log{"dns"};

using steady = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Monotonic instants as the wall clock shows them, for display: one pair of
// readings for a whole snapshot, so its times keep their exact distances.
struct wall_clock {
    steady::time_point steady_now = steady::now();
    std::chrono::system_clock::time_point system_now = std::chrono::system_clock::now();

    std::chrono::system_clock::time_point operator()(steady::time_point t) const {
        return system_now + duration_cast<std::chrono::system_clock::duration>(t - steady_now);
    }
};

std::string targets_text(const std::vector<target>& targets) {
    std::string out;
    for (const auto& t : targets) {
        out += out.empty() ? to_string(t) : ", " + to_string(t);
    }
    return out.empty() ? "none" : out;
}

}  // namespace

struct name_watch::entry {
    entry(su_root_t* root, peer_name n, transport_set a)
        : name(std::move(n)), key(name.text()), allowed(a), timer(root) {}

    peer_name name;
    std::string key;
    transport_set allowed;
    unsigned refs = 1;

    std::vector<target> targets;
    std::optional<steady::time_point> resolved_at;
    std::optional<steady::time_point> expires;  ///< none: an IP literal, or no answer
    std::string last_error;
    std::optional<steady::time_point> last_error_at;
    unsigned failures_in_row = 0;
    std::uint64_t resolutions = 0;
    std::uint64_t failures = 0;

    /// The attempt under way, or the last one (kept until the next starts,
    /// so that it is never destroyed from inside its own callback).
    std::unique_ptr<sip_lookup> lookup;
    loop_timer timer;  ///< the next refresh or retry
};

name_watch::name_watch(su_root_t* root, const settings& s, change_fn on_change)
    : _root(root),
      _settings(s),
      _on_change(std::move(on_change)),
      _client(std::make_unique<dns_client>(root, s)) {}

name_watch::~name_watch() {
    // Entries (their lookups and queries) go before the client they use.
    _entries.clear();
}

result<std::string> name_watch::add(std::string_view text, transport_set allowed) {
    auto name = parse_peer_name(text);
    if (!name) {
        return make_error(name.error_message());
    }
    auto key = name->text();
    if (auto it = _entries.find(key); it != _entries.end()) {
        ++it->second->refs;
        return key;
    }
    auto e = std::make_unique<entry>(_root, std::move(*name), allowed);
    entry& ref = *e;
    _entries.emplace(key, std::move(e));
    if (ref.name.is_ip && allowed.has(ref.name.default_transport())) {
        // RFC 3263 4.2: nothing to ask; the targets are there at once, as
        // a peer given by address always was.
        ref.targets = literal_resolution(ref.name).targets;
        ref.resolved_at = steady::now();
        ++ref.resolutions;
        return key;
    }
    schedule(ref, milliseconds(0));
    return key;
}

bool name_watch::remove(std::string_view name) {
    auto it = _entries.find(name);
    if (it == _entries.end()) {
        return false;
    }
    if (--it->second->refs == 0) {
        _entries.erase(it);
    }
    return true;
}

std::optional<name_state> name_watch::state(std::string_view name) const {
    auto it = _entries.find(name);
    if (it == _entries.end()) {
        return std::nullopt;
    }
    return snapshot(*it->second);
}

std::vector<name_state> name_watch::states() const {
    std::vector<name_state> out;
    out.reserve(_entries.size());
    for (const auto& [key, e] : _entries) {
        out.push_back(snapshot(*e));
    }
    return out;
}

std::vector<target> name_watch::targets(std::string_view name) const {
    auto it = _entries.find(name);
    return it == _entries.end() ? std::vector<target>{} : it->second->targets;
}

bool name_watch::refresh(std::string_view name) {
    auto it = _entries.find(name);
    if (it == _entries.end()) {
        return false;
    }
    entry& e = *it->second;
    if (e.name.is_ip || (e.lookup && !e.lookup->finished())) {
        return true;
    }
    e.timer.cancel();
    start(e);
    return true;
}

void name_watch::start(entry& e) {
    e.lookup = std::make_unique<sip_lookup>(
        *_client, e.name, e.allowed,
        [this, &e](result<resolution> r) { on_result(e, std::move(r)); });
}

void name_watch::on_result(entry& e, result<resolution> r) {
    if (r) {
        succeeded(e, std::move(r.value()));
    } else {
        failed(e, r.error_message());
    }
}

void name_watch::succeeded(entry& e, resolution r) {
    const auto now = steady::now();
    const bool changed = e.targets != r.targets;
    const bool was_failing = e.failures_in_row > 0;
    e.targets = std::move(r.targets);
    e.resolved_at = now;
    e.last_error.clear();
    e.failures_in_row = 0;
    ++e.resolutions;
    if (e.name.is_ip) {
        e.expires.reset();
    } else {
        const auto ttl = duration_cast<milliseconds>(std::min(r.ttl, _settings.max_ttl));
        e.expires = now + ttl;
        // Fresh records should be there before the old ones expire: a lead
        // of at most a tenth of the TTL, and never a storm for TTL 0.
        const auto lead = std::min(ttl / 10, _settings.refresh_lead);
        schedule(e, std::max(_settings.min_refresh, ttl - lead));
    }
    if (was_failing) {
        watch_log.info("{}: resolves again", e.key);
    }
    if (changed) {
        watch_log.info("{}: {}", e.key, targets_text(e.targets));
        // Last: the callback may remove this very name.
        _on_change(snapshot(e));
    }
}

void name_watch::failed(entry& e, const std::string& why) {
    const auto now = steady::now();
    e.last_error = why;
    e.last_error_at = now;
    ++e.failures;
    ++e.failures_in_row;
    auto delay = _settings.retry_initial;
    for (unsigned i = 1; i < e.failures_in_row && delay < _settings.retry_max; ++i) {
        delay *= 2;
    }
    delay = std::min(delay, _settings.retry_max);
    bool dropped = false;
    if (!e.targets.empty() && e.expires) {
        const auto drop_at = *e.expires + _settings.stale_grace;
        if (now >= drop_at) {
            e.targets.clear();
            e.resolved_at.reset();
            e.expires.reset();
            dropped = true;
        } else {
            // Retried no later than the grace runs out, so a name that
            // stays broken loses its targets on time.
            delay = std::min(delay,
                             std::max(milliseconds(1), duration_cast<milliseconds>(drop_at - now)));
        }
    }
    // One line when a name starts failing and one when it loses its
    // targets: a broken name retried for hours does not fill the log.
    if (dropped) {
        watch_log.warn("{}: no answer for {} s past its expiry ({}); its targets are dropped",
                       e.key, _settings.stale_grace.count(), why);
    } else if (e.failures_in_row == 1) {
        watch_log.warn("{}: cannot resolve ({}); {}retrying", e.key, why,
                       e.targets.empty() ? "" : "keeping its last answer, ");
    } else {
        watch_log.debug("{}: cannot resolve ({}), attempt {}", e.key, why, e.failures_in_row);
    }
    schedule(e, delay);
    if (dropped) {
        _on_change(snapshot(e));  // last: the callback may remove this very name
    }
}

void name_watch::schedule(entry& e, milliseconds delay) {
    e.timer.arm(delay, [this, &e] { start(e); });
}

name_state name_watch::snapshot(const entry& e) const {
    const wall_clock wall;
    name_state s;
    s.name = e.key;
    s.targets = e.targets;
    if (e.resolved_at) {
        s.resolved_at = wall(*e.resolved_at);
    }
    if (e.expires) {
        s.expires = wall(*e.expires);
    }
    s.stale = !e.targets.empty() && e.expires && wall.steady_now >= *e.expires;
    s.last_error = e.last_error;
    if (e.last_error_at) {
        s.last_error_at = wall(*e.last_error_at);
    }
    s.failures_in_row = e.failures_in_row;
    s.resolving = e.lookup && !e.lookup->finished();
    s.resolutions = e.resolutions;
    s.failures = e.failures;
    return s;
}

}  // namespace sbc::dns
