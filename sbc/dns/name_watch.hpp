// Keeps a set of SIP peer names resolved (RFC 3263), in the background, on
// the control thread's su_root: the trunks' peer tables read its answers
// and never resolve on a call's path.
//
// Each name is resolved when added, and again shortly before its answer's
// TTL runs out (settings::refresh_lead, never sooner than min_refresh). When
// its targets change, `on_change` runs on the loop with the new state. A
// name that stops resolving (timeout, SERVFAIL, NXDOMAIN, no server) keeps
// its last answer, marked stale once past its expiry, until
// settings::stale_grace after that expiry; then its targets are dropped
// (and `on_change` runs). Failed attempts are retried with a doubling back-off
// from retry_initial up to retry_max. An IP literal resolves to itself,
// without DNS, and never expires.
//
// Names are counted: each add() of a name wants one remove(); the first
// add() starts its resolution, the last remove() forgets it.
//
// Object graph: the watch owns the dns_client and one entry per name; each
// entry owns its lookup under way and its timer. Control thread only; its
// callbacks may add() and remove() names (their own included), but must
// not destroy the watch.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/common/result.hpp"
#include "sbc/dns/dns_client.hpp"
#include "sbc/dns/peer_name.hpp"
#include "sbc/dns/settings.hpp"
#include "sbc/dns/sip_services.hpp"
#include "sbc/dns/target.hpp"

struct su_root_s;
typedef struct su_root_s su_root_t;

namespace sbc::dns {

class loop_timer;
class sip_lookup;

/// What the watch knows of one name, as `sbcctl trunks` shows it.
struct name_state {
    std::string name;             ///< canonical peer text (peer_name::text())
    std::vector<target> targets;  ///< the last complete answer; empty before the first
    /// When the targets were resolved and when they expire (wall clock, for
    /// display; the watch itself counts time on the monotonic clock).
    std::optional<std::chrono::system_clock::time_point> resolved_at;
    std::optional<std::chrono::system_clock::time_point> expires;
    /// Past `expires`, kept because refreshing them fails.
    bool stale = false;
    /// Why the last attempt failed; empty when it succeeded.
    std::string last_error;
    std::optional<std::chrono::system_clock::time_point> last_error_at;
    unsigned failures_in_row = 0;
    bool resolving = false;         ///< an attempt is under way
    std::uint64_t resolutions = 0;  ///< attempts that succeeded
    std::uint64_t failures = 0;     ///< attempts that failed
};

class name_watch {
public:
    using change_fn = std::function<void(const name_state&)>;

    /// Throws std::invalid_argument for settings validate() refuses, and
    /// std::runtime_error when the resolver cannot start.
    name_watch(su_root_t* root, const settings& s, change_fn on_change);
    ~name_watch();
    name_watch(const name_watch&) = delete;
    name_watch& operator=(const name_watch&) = delete;

    /// Watches the peer `text` ("sip:pbx.example.com", "sips:carrier.example.net",
    /// "192.0.2.10:5060", ...); returns its canonical name, the key of the
    /// other calls, or why `text` is no peer name. The first resolution
    /// starts on the loop's next turn. `allowed`: the transports the caller
    /// can use (the first add() of a name decides them).
    result<std::string> add(std::string_view text, transport_set allowed = transport_set::all());
    /// Undoes one add() of `name`; false when it is not watched.
    bool remove(std::string_view name);

    /// The state of `name` (a copy), or nothing when it is not watched.
    std::optional<name_state> state(std::string_view name) const;
    /// Every watched name's state, ordered by name.
    std::vector<name_state> states() const;
    /// The targets of `name` (stale ones included; empty when none).
    std::vector<target> targets(std::string_view name) const;

    /// Resolves `name` again now, whatever its TTL (e.g. on `sbcctl`
    /// request); false when it is not watched. An attempt under way goes on.
    bool refresh(std::string_view name);

    std::size_t size() const noexcept { return _entries.size(); }
    const dns_client& client() const noexcept { return *_client; }

private:
    struct entry;

    void start(entry& e);
    void on_result(entry& e, result<resolution> r);
    void succeeded(entry& e, resolution r);
    void failed(entry& e, const std::string& why);
    void schedule(entry& e, std::chrono::milliseconds delay);
    name_state snapshot(const entry& e) const;

    su_root_t* _root;
    settings _settings;
    change_fn _on_change;
    std::unique_ptr<dns_client> _client;
    std::map<std::string, std::unique_ptr<entry>, std::less<>> _entries;
};

}  // namespace sbc::dns
