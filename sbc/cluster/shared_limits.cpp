#include "sbc/cluster/shared_limits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "sbc/cluster/store_link.hpp"
#include "sbc/common/log.hpp"

namespace sbc::cluster {

namespace {

constexpr log::logger limits_log{"store"};
using steady = std::chrono::steady_clock;

// KEYS: the counts, the leases, the bucket. ARGV: node, max_calls, cps,
// burst. Returns {verdict, calls up in the cluster, retry in ms}, verdict
// 0 admitted, 1 max_calls, 2 cps. Concurrency first: a call refused for
// max_calls takes no token (call_limiter's order).
constexpr const char* admit_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local max = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local total = 0
local counts = redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  local n = counts[i]
  local c = tonumber(counts[i + 1]) or 0
  if n ~= node and (tonumber(redis.call('HGET', KEYS[2], n) or '0') or 0) < now then
    redis.call('HDEL', KEYS[1], n)
    c = 0
  end
  if c > 0 then total = total + c end
end
if max > 0 and total >= max then return {1, total, 0} end
if rate > 0 then
  local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  if tokens < 1 then
    return {2, total, math.ceil((1 - tokens) * 1000 / rate)}
  end
  redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[3], math.ceil(burst * 1000 / rate) + 1000)
end
redis.call('HINCRBY', KEYS[1], node, 1)
return {0, total + 1, 0}
)lua";

// KEYS: the leases. ARGV: node, lease in ms. The lease ends on the
// server's clock, the one admit_script reads.
constexpr const char* lease_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', now + tonumber(ARGV[2])))
return 1
)lua";

link_settings limits_link_settings(const config::cluster_config& cfg) {
    return store_link_settings(cfg, "sbc-" + cfg.node + "-limits");
}

std::string fmt_double(double v) { return fmt::format("{}", v); }

// The burst call_limiter uses (make_bucket): the same limit on every node.
double burst_of(const admission::limits& l) {
    return l.burst > 0 ? static_cast<double>(l.burst) : std::max(1.0, std::ceil(l.cps));
}

}  // namespace

shared_limits::shared_limits(su_root_t* root, const config::cluster_config& cfg, counts_fn counts,
                             shared_limits_settings settings)
    : _prefix(cfg.prefix),
      _node(cfg.node),
      _counts(std::move(counts)),
      _settings(settings),
      _wait_timer(root),
      _lease_timer(root),
      _link(std::make_unique<redis_link>(root, limits_link_settings(cfg))) {
    _link->on_up([this] { on_up(); });
    _link->on_down([this](const std::string& why) {
        _stats.last_error = why;
        limits_log.warn("shared limits: store lost ({}); each node limits its own calls", why);
    });
}

shared_limits::~shared_limits() {
    // The link answers what it owes with nullptr as it goes: nobody is told.
    _closing = true;
    _link.reset();
}

void shared_limits::start() { _link->start(); }

std::string shared_limits::count_key(const std::string& trunk, bool inbound) const {
    return fmt::format("{}:limit:{}:{}", _prefix, trunk, inbound ? "in" : "out");
}

bool shared_limits::ask(const std::string& trunk, bool inbound, const admission::limits& l,
                        answer_fn done) {
    const auto id = _next_id;
    const bool sent = _link->command(
        {"EVAL", admit_script, "3", count_key(trunk, inbound), _prefix + ":limit-nodes",
         fmt::format("{}:cps:{}:{}", _prefix, trunk, inbound ? "in" : "out"), _node,
         std::to_string(l.max_calls), fmt_double(l.cps), fmt_double(burst_of(l))},
        [this, id](const reply* r) { answered(id, r); });
    auto& v = _views[{trunk, inbound}];
    if (!sent) {
        ++_stats.not_asked;
        v.by_store = false;
        return false;
    }
    ++_next_id;
    _requests.emplace(id, request{std::move(done), trunk, inbound, false});
    _waits.emplace_back(id, steady::now() + _settings.wait);
    if (!_wait_timer.armed()) {
        _wait_timer.arm(_settings.wait, [this] { check_waits(); });
    }
    return true;
}

void shared_limits::answered(std::uint64_t id, const reply* r) {
    if (_closing) {
        return;
    }
    auto it = _requests.find(id);
    if (it == _requests.end()) {
        return;
    }
    auto req = std::move(it->second);
    _requests.erase(it);
    std::optional<admission::shared_answer> answer;
    if (r != nullptr && r->type == reply::kind::array && r->elements.size() == 3 &&
        r->elements[0].type == reply::kind::integer) {
        admission::shared_answer a;
        const auto verdict = r->elements[0].integer;
        a.what.what = verdict == 0   ? admission::verdict::admitted
                      : verdict == 1 ? admission::verdict::too_many_calls
                                     : admission::verdict::too_many_per_second;
        a.cluster_active = static_cast<unsigned>(std::max(0LL, r->elements[1].integer));
        a.what.retry_after =
            static_cast<unsigned>(std::max(1LL, (r->elements[2].integer + 999) / 1000));
        answer = a;
        _views[{req.trunk, req.inbound}].active = a.cluster_active;
    } else if (r != nullptr) {
        _stats.last_error = r->type == reply::kind::error ? r->str : "unexpected reply";
        limits_log.warn("shared limits: store answered {}: {}", count_key(req.trunk, req.inbound),
                        _stats.last_error);
    }
    if (req.answered) {
        // The local limiter decided meanwhile, and counted its call with
        // count() if it admitted one: the store's yes is given back.
        if (answer && answer->what) {
            delta(req.trunk, req.inbound, -1);
        }
        return;
    }
    if (answer && answer->what.what == admission::verdict::admitted) {
        answer->what.retry_after = 0;
    }
    if (answer) {
        ++(answer->what ? _stats.store_admitted : _stats.store_refused);
        _views[{req.trunk, req.inbound}].by_store = true;
    } else {
        _views[{req.trunk, req.inbound}].by_store = false;
    }
    if (req.done) {
        req.done(answer);
    }
}

void shared_limits::check_waits() {
    const auto now = steady::now();
    while (!_waits.empty() && _waits.front().second <= now) {
        const auto id = _waits.front().first;
        _waits.pop_front();
        auto it = _requests.find(id);
        if (it == _requests.end() || it->second.answered) {
            continue;
        }
        it->second.answered = true;
        ++_stats.late;
        _views[{it->second.trunk, it->second.inbound}].by_store = false;
        // Moved out first: the callback may ask again, which adds requests.
        auto done = std::move(it->second.done);
        if (done) {
            done(std::nullopt);
        }
    }
    // Those answered in time are dropped from the front as the timer passes.
    while (!_waits.empty() && _requests.count(_waits.front().first) == 0) {
        _waits.pop_front();
    }
    if (!_waits.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            _waits.front().second - steady::now());
        _wait_timer.arm(std::max(left, std::chrono::milliseconds(1)), [this] { check_waits(); });
    }
}

void shared_limits::count(const std::string& trunk, bool inbound) { delta(trunk, inbound, 1); }

void shared_limits::release(const std::string& trunk, bool inbound) { delta(trunk, inbound, -1); }

void shared_limits::delta(const std::string& trunk, bool inbound, int by) {
    // Not sent (link down or full): the count is written whole when the
    // link is up again (on_up).
    _link->command({"HINCRBY", count_key(trunk, inbound), _node, std::to_string(by)},
                   [](const reply*) {});
}

void shared_limits::on_up() {
    ++_stats.resyncs;
    _stats.up = true;
    // First on the new connection, so that every admission after it counts
    // on top: what this node holds now, whatever was lost with the last one.
    renew_lease();
    if (_counts) {
        for (const auto& c : _counts()) {
            _link->command({"HSET", count_key(c.trunk, c.inbound), _node, std::to_string(c.calls)},
                           [](const reply*) {});
        }
    }
    limits_log.info("shared limits: store up, node {}'s counts written", _node);
}

void shared_limits::renew_lease() {
    _link->command({"EVAL", lease_script, "1", _prefix + ":limit-nodes", _node,
                    std::to_string(_settings.lease.count())},
                   [](const reply*) {});
    _lease_timer.arm(_settings.lease / 3, [this] { renew_lease(); });
}

std::optional<unsigned> shared_limits::cluster_active(const std::string& trunk,
                                                      bool inbound) const {
    auto it = _views.find({trunk, inbound});
    return it == _views.end() ? std::nullopt : it->second.active;
}

std::string shared_limits::decided_by(const std::string& trunk, bool inbound) const {
    auto it = _views.find({trunk, inbound});
    return it != _views.end() && it->second.by_store ? "store" : "local";
}

shared_limits_stats shared_limits::stats() const {
    auto s = _stats;
    s.up = _link->up();
    return s;
}

}  // namespace sbc::cluster
