#include "sbc/node/cluster_node.hpp"

#include <fmt/format.h>

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
    : _root(root),
      _cfg(cfg),
      _calls(calls),
      _store(std::make_unique<cluster::call_store>(root, cfg, make_sealer(cfg))),
      _registrations(root, cfg, calls),
      _active(!cfg.standby) {
    _store->on_resync([this] { resync(); });
    _calls.set_active(_active);
    _calls.set_observer(this);
    _calls.set_cluster_api([this](const nlohmann::json& args) { return control(args); });
}

cluster_node::~cluster_node() {
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
    }
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
    auto doc = b2bua::to_json_value(c.snapshot());
    _store->put(c.id(), doc);
}

void cluster_node::call_gone(std::uint64_t id) { _store->erase(id); }

void cluster_node::resync() {
    for (const auto id : _calls.call_ids()) {
        if (auto s = _calls.call_state_of(id); s && s->state == "established") {
            _store->put(id, b2bua::to_json_value(*s));
        }
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
                     {"registrations", _registrations.show()}};
    if (_last_take_over) {
        const auto& r = *_last_take_over;
        j["last_take_over"] = {{"at", iso_time(r.at)}, {"in_progress", _taking_over},
                               {"took_ms", r.took_ms}, {"restored", r.restored},
                               {"failed", r.failed},   {"errors", r.errors}};
    }
    return j;
}

}  // namespace sbc::node
