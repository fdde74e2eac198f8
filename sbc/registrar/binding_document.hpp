// A user's registrar bindings as a JSON document: what a node of a redundant
// pair writes to the cluster's store for each address-of-record it holds
// bindings for, so that its partner can serve the same phones after taking
// its addresses over (conf/README.md, "cluster").
//
// A binding's expiry is kept on the steady clock in the process and as
// wall-clock milliseconds in the document: the steady clock of one process
// means nothing to another. Nothing here touches sofia, a socket or Redis.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbc/common/result.hpp"
#include "sbc/registrar/location_service.hpp"

namespace sbc::registrar {

/// The bindings of one user of one registrar trunk.
struct user_bindings_doc {
    std::string trunk;
    std::string user;
    std::vector<binding> bindings;
};

/// The two clocks read at one moment, to move expiries between them.
struct clock_pair {
    clock::time_point steady;
    std::chrono::system_clock::time_point wall;
    static clock_pair now() { return {clock::now(), std::chrono::system_clock::now()}; }
};

/// {"trunk": T, "user": U, "bindings": [{"contact", "source": {"address",
/// "port"}, "transport", "expires_ms" (wall clock, ms since the epoch),
/// "call_id", "cseq", "q"}]}
nlohmann::json to_document(const user_bindings_doc& d, const clock_pair& now);

/// A document read back; expiries land on this process's steady clock.
/// An error names the first field that is missing or wrong.
result<user_bindings_doc> from_document(const nlohmann::json& doc, const clock_pair& now);

/// The wall-clock time the last of `bindings` expires (the store's key
/// lives until then); `now.wall` when there is none.
std::chrono::system_clock::time_point last_expiry(const std::vector<binding>& bindings,
                                                  const clock_pair& now);

}  // namespace sbc::registrar
