// The location service of the SBC's registrar (RFC 3261 10.3): the table of
// bindings from an address-of-record's user to contacts, and the rules by
// which a REGISTER changes it.
//
// The b2bua owns one location_service per trunk that has a `registrar`
// section. It parses a REGISTER (sip_t) into a register_request, checks the
// AOR's domain and the credentials itself, calls apply() and writes the
// response from the outcome; a call routed to the trunk asks lookup() for the
// binding of the Request-URI's user. Nothing here touches sofia or a socket.
//
// Single-threaded (the SIP thread). Time is injected, never read, so the
// rules are deterministic and the tests never sleep.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/config/config.hpp"

namespace sbc::registrar {

using clock = std::chrono::steady_clock;

/// One Contact of a REGISTER.
struct contact_param {
    std::string uri;                  ///< "sip:2001@203.0.113.7:5062;transport=tcp" (without <>)
    std::optional<unsigned> expires;  ///< its expires= parameter, if any
    std::optional<double> q;          ///< its q= parameter (0..1), if any
};

/// A REGISTER as the b2bua parsed it.
struct register_request {
    std::string user;  ///< the AOR's user (the To URI's user); must not be empty
    std::vector<contact_param> contacts;
    bool wildcard = false;            ///< "Contact: *"
    std::optional<unsigned> expires;  ///< the Expires header
    std::string call_id;
    std::uint32_t cseq = 0;
    dataplane::ip_endpoint source;  ///< where it came from (address and port)
    config::transport transport = config::transport::udp;
};

struct binding {
    std::string user;
    std::string contact;  ///< the Contact URI as last registered
    /// Where the REGISTER came from: requests to the binding go there, since a
    /// phone behind NAT is reachable only at that address (a simplified RFC
    /// 5626 flow).
    dataplane::ip_endpoint source;
    config::transport transport = config::transport::udp;
    clock::time_point expires_at;
    std::string call_id;
    std::uint32_t cseq = 0;
    double q = 1.0;  ///< 1.0 when the Contact had no q

    /// Whole seconds until it expires, rounded up so that a live binding never
    /// shows 0 (which would read as removed); 0 once expired. What the
    /// Contact's expires parameter of a 200 says (RFC 3261 10.3 step 8).
    unsigned seconds_left(clock::time_point now) const;
};

/// The answer to a REGISTER.
struct outcome {
    int status = 200;          ///< 200, 400, 423, 500 or 503
    std::string phrase;        ///< "OK", "Interval Too Brief", "Invalid wildcard" ...
    unsigned min_expires = 0;  ///< for 423: the Min-Expires header
    /// For 200: every current binding of the AOR (RFC 3261 10.3 step 8), in
    /// the order lookup() prefers them (highest q, then most recent).
    std::vector<binding> bindings;
};

/// Whether two Contact URIs name the same contact: RFC 3261 19.1.4, with one
/// deliberate departure. sip and sips differ; the scheme, host and parameters
/// compare case-insensitively, the userinfo case-sensitively; %HH escapes of
/// characters outside the reserved set equal the characters; IPv6 references
/// compare as addresses; the order of parameters and headers does not
/// matter; a parameter present in only one URI is ignored unless it is user,
/// ttl, method or maddr; headers must all match. Departure: an absent port
/// equals the scheme's default (5061 for sips: and transport=tls, else 5060),
/// which 19.1.4 does not allow, so that a phone that writes its port once with
/// and once without refreshes its binding instead of adding a second one for
/// the same device. Other schemes (tel:, urn:) compare the scheme
/// case-insensitively and the rest exactly. An unparseable URI equals nothing.
bool uri_equivalent(std::string_view a, std::string_view b);

/// The bindings of all users of one trunk, in bounded memory.
class location_service {
public:
    /// min_expires 0: no minimum. max_expires is raised to at least
    /// max(min_expires, 1), so that no expiry is both required and refused;
    /// the two maxima to at least 1.
    explicit location_service(unsigned min_expires = 60, unsigned max_expires = 3600,
                              std::size_t max_bindings_per_user = 10,
                              std::size_t max_users = 10000);

    /// Processes a REGISTER (RFC 3261 10.3 steps 6 to 8) atomically: either
    /// every change it asks for is made, or none is.
    ///   400 "Missing AOR user", "Invalid Contact" (a URI that does not
    ///       parse), "Invalid q", "Invalid wildcard" (RFC 3261 10.3 step 6);
    ///   423 "Interval Too Brief" with min_expires;
    ///   500 "Out of order": a binding with the same Call-ID and a CSeq not
    ///       lower than the request's;
    ///   503 "Too many registrations": a new user when max_users users have
    ///       bindings;
    ///   200 "OK" otherwise, a REGISTER without Contact being a query.
    /// A user's binding beyond max_bindings_per_user evicts the one registered
    /// or refreshed least recently.
    outcome apply(const register_request& r, clock::time_point now);

    /// The binding to send a call to: the highest q, then the most recently
    /// registered or refreshed; nullopt when the user has none live.
    std::optional<binding> lookup(std::string_view user, clock::time_point now) const;

    /// The live bindings of `user`, in the order lookup() prefers them.
    std::vector<binding> bindings_of(std::string_view user, clock::time_point now) const;

    /// Takes in a binding another node of the cluster registered (its
    /// partner's, at a take-over): it replaces the user's binding of the
    /// same contact unless that one was registered later (same Call-ID and
    /// a higher CSeq: RFC 3261 10.3 step 7's order), and counts as the most
    /// recent. False when it is expired, or a new user finds the table full.
    bool adopt(const binding& b, clock::time_point now);

    /// The live bindings, sorted by user then contact (for the CLI).
    std::vector<binding> all(clock::time_point now) const;

    /// Drops expired bindings (and users left without any); how many bindings.
    std::size_t purge(clock::time_point now);

    /// New limits (a reload). Existing bindings keep their expiry; the new
    /// maximum applies from their next refresh.
    void reconfigure(unsigned min_expires, unsigned max_expires);

    /// Bindings stored, expired ones included until purge().
    std::size_t binding_count() const noexcept;
    /// Users stored, those with only expired bindings included until purge().
    std::size_t user_count() const noexcept { return _users.size(); }

private:
    /// Per user, in the order registered or refreshed (the most recent last):
    /// that order breaks lookup()'s ties and picks whom eviction drops. At
    /// most max_bindings_per_user long, so apply() parses the stored contacts
    /// again rather than keeping a parsed copy of each.
    using user_bindings = std::vector<binding>;

    outcome apply_wildcard(const register_request& r, clock::time_point now);
    outcome apply_contacts(const register_request& r, clock::time_point now);
    /// Room for one more user: true when there is, purging at most once a
    /// second when the table is full so that a flood of new users does not
    /// walk the whole table per request.
    bool room_for_user(clock::time_point now);
    static outcome ok(const user_bindings& list, clock::time_point now);

    unsigned _min_expires;
    unsigned _max_expires;
    std::size_t _max_bindings_per_user;
    std::size_t _max_users;
    std::map<std::string, user_bindings, std::less<>> _users;
    std::optional<clock::time_point> _last_full_purge;
};

}  // namespace sbc::registrar
