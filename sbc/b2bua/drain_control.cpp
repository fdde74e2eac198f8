// The b2bua's side of a drain (drain.hpp): the control API's "drain"
// command, the 503 that new calls, OPTIONS and REGISTERs get meanwhile, and
// the check sbcd's main loop makes to know when to exit.
#include <fmt/format.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include <string>

#include "sbc/api/json_codec.hpp"
#include "sbc/b2bua/b2bua.hpp"
#include "sbc/common/log.hpp"
#include "sbc/sofia/reply.hpp"

namespace sbc::b2bua {

namespace {

constexpr log::logger drain_log{"drain"};

nlohmann::json drain_reply(const std::optional<api::drain_status>& s) {
    return {{"ok", true}, {"drain", s ? nlohmann::json(*s) : nlohmann::json(nullptr)}};
}

}  // namespace

nlohmann::json b2bua::drain(const nlohmann::json& args) {
    auto request = parse_drain_request(args);
    if (!request) {
        return api::make_error_reply(request.error_message());
    }
    const auto now = drain_state::clock::now();
    if (request->cancel) {
        if (_drain.cancel()) {
            drain_log.info("drain cancelled: admitting new calls again ({} calls up)",
                           _calls.size());
        }
        return drain_reply(std::nullopt);
    }
    if (request->hand_over) {
        if (!_cfg.cluster) {
            return api::make_error_reply(
                "--hand-over needs a cluster partner: this node has no cluster: configuration");
        }
        if (_cfg.cluster->partner.empty()) {
            return api::make_error_reply(
                "--hand-over needs a cluster partner: cluster.partner is not set");
        }
        if (!_hand_over) {
            return api::make_error_reply("--hand-over needs the cluster support running");
        }
        // New calls are refused first: the hand-over then writes the calls
        // there are, releases the addresses, and ends once the partner has
        // taken them (sbc/node/cluster_node.hpp).
        _drain.start(request->deadline, now, drain_state::wall_clock::now());
        if (auto r = _hand_over(); !r) {
            _drain.cancel();
            return api::make_error_reply("--hand-over: " + r.error_message());
        }
        drain_log.info("handing over to the partner: refusing new calls, {} calls to hand over",
                       _calls.size());
        return drain_reply(_drain.status(_calls.size(), now));
    }
    const bool again = _drain.active();
    _drain.start(request->deadline, now, drain_state::wall_clock::now());
    const auto s = _drain.status(_calls.size(), now);
    drain_log.info("{}: refusing new calls, {} calls left, deadline {}",
                   again ? "drain deadline changed" : "draining", _calls.size(),
                   s->deadline.empty() ? "none" : s->deadline);
    return drain_reply(s);
}

bool b2bua::refuse_while_draining(nta_incoming_t* irq) {
    if (!_drain.refuses_new_calls()) {
        return false;
    }
    // RFC 3261 21.5.4 and 20.33: the node is going away for a while; the
    // peer tries another (RFC 3263 4.3) and this one again after that.
    const auto retry = std::to_string(_drain.retry_after(drain_state::clock::now()));
    sofia::treply(irq, SIP_503_SERVICE_UNAVAILABLE, SIPTAG_RETRY_AFTER_STR(retry.c_str()));
    return true;
}

drain_state::verdict b2bua::drain_check() const {
    return _drain.check(_calls.size(), drain_state::clock::now());
}

}  // namespace sbc::b2bua
