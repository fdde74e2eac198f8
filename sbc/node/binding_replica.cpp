#include "sbc/node/binding_replica.hpp"

#include "sbc/common/log.hpp"
#include "sbc/registrar/binding_document.hpp"

namespace sbc::node {

namespace {
constexpr log::logger reg_log{"cluster"};
}  // namespace

binding_replica::binding_replica(su_root_t* root, const config::cluster_config& cfg,
                                 b2bua::b2bua& b2bua)
    : _cfg(cfg), _b2bua(b2bua), _store(root, cfg) {
    _b2bua.set_bindings_observer(
        [this](const std::string& trunk, const std::string& user,
               const std::vector<registrar::binding>& live) { changed(trunk, user, live); });
}

binding_replica::~binding_replica() { _b2bua.set_bindings_observer({}); }

void binding_replica::start() {
    _store.start();
    take_over(_cfg.node);
}

void binding_replica::changed(const std::string& trunk, const std::string& user,
                              const std::vector<registrar::binding>& live) {
    if (live.empty()) {
        _store.erase(trunk, user);
        return;
    }
    const auto now = registrar::clock_pair::now();
    _store.put(trunk, user, registrar::to_document({trunk, user, live}, now),
               registrar::last_expiry(live, now));
}

void binding_replica::take_over(const std::string& node) {
    if (node.empty()) {
        return;
    }
    _store.load_node(node, [this, node](result<cluster::node_bindings> found) {
        if (!found) {
            _last_error = found.error_message();
            reg_log.error("cannot read the registrations of {} from the store: {}", node,
                          _last_error);
            return;
        }
        const auto taken = adopt(*found, node);
        reg_log.info("took {} registrar binding(s) of {} over ({} unreadable)", taken, node,
                     _unreadable);
        if (node != _cfg.node) {
            // Written under this node's name by adopt(): the partner's copies go.
            _store.forget_node(node);
        }
    });
}

std::size_t binding_replica::adopt(const cluster::node_bindings& found, const std::string& node) {
    const auto now = registrar::clock_pair::now();
    _unreadable = found.unreadable.size();
    _adopted = 0;
    for (const auto& why : found.unreadable) {
        reg_log.warn("registrations of {}: {}", node, why);
    }
    for (const auto& doc : found.documents) {
        auto d = registrar::from_document(doc, now);
        if (!d) {
            ++_unreadable;
            reg_log.warn("registrations of {}: {}", node, d.error_message());
            continue;
        }
        _adopted += _b2bua.adopt_bindings(d->trunk, d->user, d->bindings);
    }
    return _adopted;
}

nlohmann::json binding_replica::show() const {
    const auto st = _store.stats();
    return {{"up", st.up},
            {"queue", st.queued},
            {"in_flight", st.in_flight},
            {"dropped", st.dropped},
            {"written", st.written},
            {"deleted", st.deleted},
            {"failures", st.failures},
            {"last_error", _last_error.empty() ? st.last_error : _last_error},
            {"last_load", {{"adopted", _adopted}, {"unreadable", _unreadable}}}};
}

}  // namespace sbc::node
