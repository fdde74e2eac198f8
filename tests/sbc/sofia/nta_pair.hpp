// Two nta agents on loopback for the tests of the owned sofia handles: a
// client ("uac") and a server ("uas") on one su_root the test drives. The
// uas takes every request outside its dialogs on a default leg and keeps the
// server transactions for the test to answer; the uac sends with
// client_transactions whose callbacks record what they got.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sbc/sofia/client_transaction.hpp"
#include "sbc/sofia/leg.hpp"
#include "sbc/sofia/server_transaction.hpp"
#include "tests/support/loopback_agent.hpp"
#include "tests/support/sip_loop.hpp"

namespace sbc::test {

/// Keeps every request a leg delivers, with its method, for the test to answer.
struct request_keeper final : sofia::dialog_handler {
    std::vector<sofia::server_transaction> kept;
    std::vector<std::string> methods;
    int on_request(sofia::server_transaction& request, const sip_t* sip) override {
        methods.emplace_back(sip->sip_request->rq_method_name);
        if (request.method() != sip_method_ack) {
            kept.push_back(std::move(request));
        }
        return 0;
    }
};

/// The statuses a client transaction's callback was called with.
struct status_log {
    std::vector<int> statuses;
    sofia::client_transaction::response_callback callback() {
        return [this](const sofia::response& r) { statuses.push_back(r.status); };
    }
    bool final() const { return !statuses.empty() && statuses.back() >= 200; }
};

struct nta_pair {
    sip_loop loop;
    loopback_agent uac{loop.root()};
    loopback_agent uas{loop.root(), /*cancel_487=*/false};  // as the SBC's agents
    request_keeper uac_requests;
    request_keeper uas_requests;
    sofia::leg uac_default = sofia::leg::create(uac.get(), uac_requests, NTATAG_NO_DIALOG(1));
    sofia::leg uas_default = sofia::leg::create(uas.get(), uas_requests, NTATAG_NO_DIALOG(1));

    /// A request outside any dialog from the uac to the uas.
    sofia::client_transaction send(sip_method_t method, const char* name, status_log& log) {
        const auto to = uas.uri("bob");
        const auto from = "<" + uac.uri("alice") + ">";
        return sofia::client_transaction::send(uac_default.get(), log.callback(), nullptr, method,
                                               name, URL_STRING_MAKE(to.c_str()),
                                               SIPTAG_FROM_STR(from.c_str()));
    }
    /// Runs the loop until the uas holds `n` requests.
    bool uas_holds(std::size_t n) {
        return loop.run_until([&] { return uas_requests.kept.size() >= n; });
    }
};

}  // namespace sbc::test
