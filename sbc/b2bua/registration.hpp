// Registration of the SBC at a trunk that requires it (RFC 3261 10.2): a
// carrier's registration-based trunk takes calls for the trunk's number only
// while the SBC keeps a binding of the number's address of record to its
// Contact on the carrier's registrar.
//
// Object graph: the b2bua owns one registration per trunk with a `register`
// key; each sends on the nta agent of its trunk's interface and holds one nta
// leg (the Call-ID and From tag of every REGISTER it sends, RFC 3261 10.2.4),
// at most one client transaction and one su_timer (refresh or retry). All of
// it runs on the su_root thread; nothing here is shared with another thread.
#pragma once

#include <sofia-sip/su_alloc.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sbc/auth/digest.hpp"
#include "sbc/b2bua/call_tally.hpp"
#include "sbc/common/c_handle.hpp"
#include "sbc/common/log.hpp"
#include "sbc/config/config.hpp"
#include "sbc/sofia/nta.hpp"

namespace sbc::b2bua {

/// When to refresh a binding the registrar granted for `granted`: when half
/// of it has passed, but at least 5 s before it lapses (for grants under 10
/// s, where half would be closer than that); never sooner than 500 ms.
std::chrono::milliseconds refresh_delay(std::chrono::seconds granted) noexcept;

/// The REGISTER client of one trunk.
///
/// 2xx: registered; the binding's lifetime is the expires of the Contact in
/// the 2xx that is ours, else the Expires header, else what was asked; a new
/// REGISTER goes out after refresh_delay() of it. 401/407: answered with the
/// trunk's `auth` credentials (RFC 3261 22.2, digest of RFC 7616/8760); a
/// second challenge to an answer, unless stale=true, means the credentials
/// are wrong: failed, retried after 60 s. Later REGISTERs carry credentials
/// for the last challenge at once (the next nc, RFC 7616 3.6), so refreshes
/// need no round trip while the nonce lasts. 423: asked again at once for the
/// Min-Expires (RFC 3261 10.2.8). Anything else, a transport error or no
/// answer (nta's 503 and 408): failed, retried after 30 s or Retry-After
/// (at most an hour).
class registration final : public sofia::response_handler {
public:
    struct status {
        std::string state = "unregistered";  ///< "registering", "registered", "failed"
        /// "200 OK", "401 Unauthorized (bad credentials)", "408 no answer", ...
        std::string last_result;
        std::optional<std::chrono::system_clock::time_point> expires_at;  ///< while registered
        unsigned failures = 0;                                            ///< consecutive
    };

    /// @param root the loop the refresh and retry timer runs on.
    /// @param agent the nta agent of the trunk's interface; outlives this object.
    /// @param trunk a trunk with `register` (and `auth`); its values are
    ///   copied, so it need not outlive this object. Throws
    ///   std::invalid_argument without `register`.
    /// @param registrar_uri where the REGISTER goes,
    ///   "sip:127.0.1.2:5060;transport=udp" (the trunk's peer; no DNS).
    /// @param contact the SBC's Contact on this interface,
    ///   "<sip:+4930123456@127.0.1.1:5060>".
    /// @param tally counts the registrar's digest refusals of the SBC's
    ///   credentials (borrowed, outlives this object; may be null).
    /// Throws std::runtime_error when sofia cannot make the leg, the timer or
    /// parse `contact`. Sends nothing until start().
    registration(su_root_t* root, nta_agent_t* agent, const config::trunk_config& trunk,
                 std::string registrar_uri, std::string contact, call_tally* tally = nullptr);
    /// Sends nothing; destroys the outstanding transaction and the timer.
    ~registration();
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;

    /// Sends the first REGISTER now. Once only; later calls do nothing.
    void start();
    /// Sends REGISTER with Expires: 0 for our Contact (RFC 3261 10.2.2), at
    /// shutdown; best effort: a challenge is answered, nothing is retried,
    /// and no refresh follows. Does nothing before start() or when called
    /// again.
    void unregister();
    const status& state() const noexcept { return _status; }

    int on_response(nta_outgoing_t* orq, const sip_t* sip) override;

private:
    void send(bool answering);
    void on_success(int code, const sip_t* sip);
    void on_challenge(int code, const sip_t* sip);
    void on_too_brief(int code, const sip_t* sip);
    void fail(std::string result, std::chrono::seconds retry);
    /// fail() after a challenge the SBC's credentials could not meet.
    void auth_failed(std::string result, std::string_view reason);
    void schedule(std::chrono::milliseconds delay);
    void on_timer();
    static void timer_trampoline(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg);

    std::string _trunk;
    call_tally* _tally;
    std::string _aor;  ///< in angle brackets, as it goes into From and To
    std::string _registrar_uri;
    std::string _contact;
    std::optional<auth::credentials> _credentials;  ///< the trunk's `auth`
    unsigned _asked;  ///< seconds; the configured expires, raised by 423s

    c_handle<su_home_t, su_home_unref> _home;  ///< owns _our_contact
    const sip_contact_t* _our_contact = nullptr;
    // Destroyed in reverse order: the transaction before its leg.
    c_handle<su_timer_t, su_timer_destroy> _timer;
    c_handle<nta_leg_t, nta_leg_destroy> _leg;
    c_handle<nta_outgoing_t, nta_outgoing_destroy> _orq;  ///< the REGISTER in flight

    /// The last digest challenge and whether it came in a 407 (then the
    /// answer goes in Proxy-Authorization, RFC 3261 22.3).
    std::optional<auth::challenge> _challenge;
    bool _proxy = false;
    std::uint32_t _nc = 0;  ///< requests sent with _challenge's nonce (RFC 7616 3.4)
    /// The request in flight answers the challenge of the response just
    /// before it (rather than reusing an older one): a new challenge to it
    /// means the credentials are wrong.
    bool _answering = false;
    unsigned _challenges = 0;  ///< challenges since the last 2xx or timer start

    bool _started = false;
    bool _unregistering = false;
    bool _in_send = false;  ///< inside nta_outgoing_tcreate
    int _sync_status = 0;   ///< a final status nta reported from inside it
    status _status;
    log::rate_limit _log_limit{5, std::chrono::minutes(1)};
};

}  // namespace sbc::b2bua
