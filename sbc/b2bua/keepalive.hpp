// OPTIONS pings to every current target of every trunk that asks for them
// (RFC 3261 11: OPTIONS as a capability query, used by carriers as a
// heartbeat), and the target health they feed (sbc/trunking/peer_table): a
// peer given by name has its resolved addresses pinged one by one.
//
// A ping succeeds on any final response but 408 and 5xx; it fails on those,
// on a transport or TLS failure (nta reports 503), and when nothing comes
// back within the trunk's keepalive timeout. Runs on the su_root thread,
// driven by the b2bua's tick.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sbc/common/c_handle.hpp"
#include "sbc/sofia/client_transaction.hpp"
#include "sbc/sofia/nta.hpp"
#include "sbc/trunking/peer_table.hpp"

namespace sbc::b2bua {

class b2bua;

class keepalive final {
public:
    explicit keepalive(b2bua& owner) : _owner(owner) {}
    ~keepalive();
    keepalive(const keepalive&) = delete;
    keepalive& operator=(const keepalive&) = delete;

    /// Sends the pings that are due and fails the ones that timed out.
    void tick(std::chrono::steady_clock::time_point now);
    /// Drops every outstanding ping (configuration reload, shutdown).
    void cancel_all();

private:
    struct ping {
        std::uint64_t serial = 0;  ///< names it to its response callback
        std::string trunk;
        std::size_t peer = 0;  ///< the target: an index into the trunk's peer table
        c_handle<nta_leg_t, nta_leg_destroy> leg;
        sofia::client_transaction orq;
        std::chrono::steady_clock::time_point sent;
    };
    void on_response(std::uint64_t serial, const sofia::response& r);
    /// The index of ping `serial` in _pings; nullopt when it is over.
    std::optional<std::size_t> find(std::uint64_t serial) const;
    void send(const std::string& trunk, std::size_t target,
              std::chrono::steady_clock::time_point now);
    void finish(std::size_t index, int status, const char* what);

    b2bua& _owner;
    std::vector<ping> _pings;
    std::uint64_t _serial = 0;
    std::map<std::pair<std::string, std::size_t>, std::chrono::steady_clock::time_point> _next_due;
};

}  // namespace sbc::b2bua
