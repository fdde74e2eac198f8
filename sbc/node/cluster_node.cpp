#include "sbc/node/cluster_node.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "sbc/b2bua/call_state_json.hpp"
#include "sbc/cluster/sealer.hpp"
#include "sbc/common/log.hpp"

namespace sbc::node {

namespace {

constexpr log::logger ha_log{"cluster"};

/// Errors kept per take-over, for `sbcctl cluster`: the first ones say why.
constexpr std::size_t errors_kept = 8;

cluster::sealer make_sealer(const config::cluster_config& cfg) {
    auto s = cluster::sealer::from_hex(cfg.key_hex);
    if (!s) {
        throw std::runtime_error("cluster key_file: " + s.error_message());
    }
    return std::move(*s);
}

const char* hand_over_name(int phase) {
    static constexpr const char* names[] = {"none", "writing", "released", "done"};
    return names[phase];
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    const auto secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

cluster_node::cluster_node(su_root_t* root, const config::cluster_config& cfg, b2bua::b2bua& calls)
    : _cfg(cfg),
      _calls(calls),
      _store(std::make_unique<cluster::call_store>(root, cfg, make_sealer(cfg))),
      _registrations(root, cfg, calls),
      _active(!cfg.standby),
      _hand_over_timer(root),
      _warm_timer(root) {
    _store->on_resync([this] { resync(); });
    _calls.set_active(_active);
    _calls.set_observer(this);
    _calls.set_cluster_api([this](const nlohmann::json& args) { return control(args); });
    _calls.set_hand_over([this] { return hand_over(); });
}

cluster_node::~cluster_node() {
    _calls.set_hand_over({});
    _calls.set_cluster_api({});
    _calls.set_observer(nullptr);
}

void cluster_node::start() {
    _store->start();
    _registrations.start();
    // A fresh process holds no call: what it wrote before died with it, or
    // its partner took it over when keepalived moved the addresses (and
    // then deleted it already).
    _store->forget_node(_cfg.node);
    write_hand_over_file("0");
    refresh_warm_copy();
    ha_log.info("node {} ({}), partner {}, store {}", _cfg.node, _active ? "active" : "standby",
                _cfg.partner.empty() ? "none" : _cfg.partner, _cfg.store.address);
}

void cluster_node::become_active() {
    if (!_active) {
        _active = true;
        _calls.set_active(true);
    }
    _registrations.take_over(_cfg.partner);
    if (_cfg.partner.empty() || _taking_over) {
        return;
    }
    // The partner's calls, as it last wrote them. Asked again on every
    // "active": a repeated notify finds nothing left (the keys are deleted
    // once taken), and a node made active twice never restores a call twice.
    _taking_over = true;
    take_over_record rec;
    rec.at = std::chrono::system_clock::now();
    rec.began = std::chrono::steady_clock::now();
    _last_take_over = std::move(rec);
    ++_take_overs;
    ha_log.info("taking over the calls of {}", _cfg.partner);
    _store->load_node(_cfg.partner, [this](result<cluster::node_calls> found) {
        _taking_over = false;
        if (!found && _warm && _warm_at) {
            // The store is away: the copy read while standby is the best
            // there is (at most a second old, as of its last read).
            ha_log.warn(
                "cannot read the calls of {} from the store ({}): taking over the {} "
                "call(s) of the copy read {} ms before",
                _cfg.partner, found.error_message(), _warm->calls.size(),
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - *_warm_at)
                    .count());
            _last_take_over->errors.push_back("store: " + found.error_message() +
                                              " (the standby's copy was used)");
            auto warm = _warm->to_node_calls();
            forget_warm_copy();
            restore(std::move(warm));
            return;
        }
        forget_warm_copy();
        if (!found) {
            ha_log.error("cannot read the calls of {} from the store: {}", _cfg.partner,
                         found.error_message());
            _last_take_over->errors.push_back("store: " + found.error_message());
            return;
        }
        restore(std::move(*found));
    });
}

void cluster_node::become_standby() {
    if (_active) {
        _active = false;
        _calls.set_active(false);
        refresh_warm_copy();
    }
}

void cluster_node::refresh_warm_copy() {
    using namespace std::chrono_literals;
    if (_active || _cfg.partner.empty()) {
        return;  // a take-over under way may still want the copy: it drops it
    }
    if (!_warm_loading) {
        // Each refresh reads the partner's index and only the documents
        // that changed since the last: a standby beside thousands of calls
        // does not read and open every one of them every second.
        _warm_loading = true;
        if (!_warm) {
            _warm = std::make_shared<cluster::node_copy>();
        }
        // Only this copy's refresh dates it: a take-over may have dropped
        // it, and a new one begun, meanwhile.
        auto copy = _warm;
        _store->refresh_copy(_cfg.partner, copy,
                             [this, copy](result<cluster::copy_refresh> refreshed) {
                                 _warm_loading = false;
                                 if (refreshed && !_active && _warm == copy) {
                                     _warm_at = std::chrono::steady_clock::now();
                                 }
                             });
    }
    _warm_timer.arm(1000ms, [this] { refresh_warm_copy(); });
}

void cluster_node::forget_warm_copy() {
    // A refresh under way holds the copy until it ends, then lets it go.
    _warm.reset();
    _warm_at.reset();
}

void cluster_node::restore(cluster::node_calls found) {
    auto& rec = *_last_take_over;
    for (const auto& why : found.unreadable) {
        ++rec.failed;
        ha_log.warn("cannot take over {} of {}", why, _cfg.partner);
        if (rec.errors.size() < errors_kept) {
            rec.errors.push_back(why);
        }
    }
    for (const auto& stored : found.calls) {
        auto state = b2bua::call_state_from_json_value(stored.doc);
        result<std::uint64_t> id = state ? _calls.restore_call(*state)
                                         : result<std::uint64_t>(error{state.error_message()});
        if (id) {
            ++rec.restored;
            ha_log.info("call {} of {} taken over as call {}", state->id, _cfg.partner, *id);
        } else {
            ++rec.failed;
            const auto why = fmt::format("call {}: {}", state ? std::to_string(state->id) : "?",
                                         id.error_message());
            ha_log.warn("cannot take over {} of {}", why, _cfg.partner);
            if (rec.errors.size() < errors_kept) {
                rec.errors.push_back(why);
            }
        }
    }
    rec.took_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - rec.began)
            .count();
    // The calls are this node's now: it writes them under its own name on
    // the next tick, and the partner's copies go.
    _store->forget_node(_cfg.partner);
    ha_log.info("took over {} call(s) of {} in {:.1f} ms ({} could not be)", rec.restored,
                _cfg.partner, rec.took_ms, rec.failed);
}

void cluster_node::call_changed(const b2bua::call& c) {
    if (_hand_over == hand_over_phase::released || _hand_over == hand_over_phase::done) {
        // The partner may have read and deleted this node's copies: a call
        // written now would be taken over a second time at its next failover.
        return;
    }
    auto doc = b2bua::to_json_value(c.snapshot());
    _store->put(c.id(), doc);
}

void cluster_node::call_gone(std::uint64_t id) { _store->erase(id); }

void cluster_node::resync() {
    if (_hand_over == hand_over_phase::released || _hand_over == hand_over_phase::done) {
        return;  // as in call_changed: the partner may have taken them already
    }
    for (const auto id : _calls.call_ids()) {
        if (auto s = _calls.call_state_of(id); s && s->state == "established") {
            _store->put(id, b2bua::to_json_value(*s));
        }
    }
}

result<bool> cluster_node::hand_over() {
    if (_cfg.partner.empty()) {
        return error{"cluster.partner is not set"};
    }
    if (!_active) {
        return error{"this node is standby: its partner holds the calls"};
    }
    if (_hand_over != hand_over_phase::none) {
        return true;  // under way already
    }
    _hand_over = hand_over_phase::writing;
    _hand_over_resynced = false;
    ha_log.info("hand-over to {}: writing {} call(s) to the store", _cfg.partner,
                _calls.call_count());
    hand_over_step();
    return true;
}

void cluster_node::hand_over_step() {
    using namespace std::chrono_literals;
    if (_hand_over == hand_over_phase::writing) {
        // A call being set up holds transactions its partner could not
        // resume: the drain refuses new calls, so these end or settle soon.
        bool settled = true;
        for (const auto id : _calls.call_ids()) {
            const auto s = _calls.call_state_of(id);
            settled =
                settled && s && s->state == "established" && s->under_way == b2bua::operation::none;
        }
        if (settled && !_hand_over_resynced) {
            resync();
            _hand_over_resynced = true;
        }
        const auto st = _store->stats();
        if (settled && st.up && st.queued == 0 && st.in_flight == 0) {
            _hand_over = hand_over_phase::released;
            write_hand_over_file("1");
            ha_log.info("hand-over to {}: {} call(s) written; addresses released{}", _cfg.partner,
                        _calls.call_count(),
                        _cfg.hand_over_file.empty() ? " (move them: no hand_over_file)" : "");
        }
    } else if (_hand_over == hand_over_phase::released && !_hand_over_checking) {
        // The partner deletes this node's copies once it has taken them.
        _hand_over_checking = true;
        _store->load_node(_cfg.node, [this](result<cluster::node_calls> found) {
            _hand_over_checking = false;
            if (found && found->calls.empty() && found->unreadable.empty()) {
                _hand_over = hand_over_phase::done;
                ha_log.info("hand-over to {}: the partner holds the calls", _cfg.partner);
                _calls.abandon_all();
            }
        });
    }
    if (_hand_over != hand_over_phase::done) {
        _hand_over_timer.arm(100ms, [this] { hand_over_step(); });
    }
}

void cluster_node::write_hand_over_file(const char* value) {
    if (_cfg.hand_over_file.empty()) {
        return;
    }
    const auto tmp = _cfg.hand_over_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    const bool written = f != nullptr && std::fputs(value, f) >= 0 && std::fputc('\n', f) != EOF;
    const bool closed = f != nullptr && std::fclose(f) == 0;
    if (!written || !closed || std::rename(tmp.c_str(), _cfg.hand_over_file.c_str()) != 0) {
        ha_log.error("cannot write {} to the hand-over file {}: {}", value, _cfg.hand_over_file,
                     std::strerror(errno));
    }
}

nlohmann::json cluster_node::control(const nlohmann::json& args) {
    const auto action = args.value("action", std::string("show"));
    if (action == "active") {
        become_active();
    } else if (action == "standby") {
        become_standby();
    } else if (action != "show") {
        return {{"error", fmt::format("unknown cluster action '{}'", action.substr(0, 32))}};
    }
    return show();
}

nlohmann::json cluster_node::show() const {
    const auto st = _store->stats();
    nlohmann::json j{{"node", _cfg.node},
                     {"partner", _cfg.partner},
                     {"role", _active ? "active" : "standby"},
                     {"calls", _calls.call_count()},
                     {"store",
                      {{"address", _cfg.store.address},
                       {"tls", _cfg.store.tls.has_value()},
                       {"up", st.up},
                       {"queue", st.queued},
                       {"in_flight", st.in_flight},
                       {"dropped", st.dropped},
                       {"written", st.written},
                       {"deleted", st.deleted},
                       {"failures", st.failures},
                       {"lag_ms", st.lag.count()},
                       {"resyncs", st.resyncs},
                       {"last_error", st.last_error}}},
                     {"take_overs", _take_overs},
                     {"hand_over", hand_over_name(static_cast<int>(_hand_over))},
                     {"registrations", _registrations.show()}};
    if (_warm && _warm_at) {
        j["partner_calls"] = _warm->calls.size();
        j["partner_copy_age_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - *_warm_at)
                                       .count();
    }
    if (_last_take_over) {
        const auto& r = *_last_take_over;
        j["last_take_over"] = {{"at", iso_time(r.at)}, {"in_progress", _taking_over},
                               {"took_ms", r.took_ms}, {"restored", r.restored},
                               {"failed", r.failed},   {"errors", r.errors}};
    }
    return j;
}

}  // namespace sbc::node
