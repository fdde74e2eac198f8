// The sbcd configuration as typed, validated data.
//
// conf/README.md documents every key. load_file() decodes the YAML into these
// structs, rejects unknown keys and wrong types, and runs the cross-field
// checks (undefined references, overlapping listeners, port ranges) before
// anything starts. A config object is immutable once loaded; later reloads
// publish a new one as a shared snapshot.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sbc::config {

enum class transport { udp, tcp };

/// Where a value came from in the YAML, for error messages at run time.
struct source_mark {
    int line = 0;    ///< 1-based
    int column = 0;  ///< 1-based
};

/// One SIP listener: "udp://127.0.1.1:5060" or "tcp://[::1]:5060".
struct listen_uri {
    transport proto = transport::udp;
    std::string host;  ///< IP literal, without brackets
    std::uint16_t port = 5060;
};

struct interface_config {
    std::string name;
    std::vector<listen_uri> listen;
    std::string media_address;  ///< IP literal the SDP and the RTP sockets use
    source_mark mark;
};

/// A peer of a trunk: "sip:127.0.1.2:5060;transport=tcp", or the shorthand
/// "127.0.1.2:5060" / "127.0.1.2" (UDP, port 5060).
struct peer_config {
    std::string host;  ///< IP literal, without brackets
    std::uint16_t port = 5060;
    transport proto = transport::udp;
};

/// What the SBC does with an INVITE without SDP (a delayed offer, RFC 3264
/// 5) bound for a trunk. Cloud trunks (Zoom BYOC, Teams Direct Routing)
/// require an offer in every INVITE they receive.
enum class early_offer_policy {
    pass,    ///< send it on without SDP; the offer comes in the 2xx
    reject,  ///< refuse it with 488 and a Warning
};

struct trunk_config {
    std::string name;
    std::string interface;  ///< name of an interface_config
    std::vector<peer_config> peers;
    /// Headers of the other leg that may be carried onto requests sent to this
    /// trunk (RFC 5853 topology hiding: everything else is dropped). Names are
    /// compared case-insensitively; Via, Route, Record-Route, Contact, Call-ID,
    /// From, To, CSeq and the body headers can never be allowed.
    early_offer_policy early_offer = early_offer_policy::pass;
    std::vector<std::string> forward_headers = {"Subject", "Priority", "Accept-Language",
                                                "Organization", "Date"};
    source_mark mark;
};

/// First match wins. A rule with no criteria matches everything.
struct route_config {
    std::string name;
    std::optional<std::string> from_interface;
    std::optional<std::string> from_trunk;
    std::optional<std::string> ruri_user;  ///< ECMAScript regex, searched in the R-URI user
    std::string to_trunk;
    source_mark mark;
};

struct media_config {
    std::uint16_t port_min = 20000;  ///< even; RTP takes even ports, RTCP the next odd one
    std::uint16_t port_max = 29999;
    std::string backend = "kernel";
    unsigned workers = 1;
    unsigned timeout_seconds = 60;  ///< no media on an established call for this long: BYE
};

struct control_config {
    std::string socket = "/run/sbc/control.sock";
};

struct config {
    std::string source_file;
    std::vector<interface_config> interfaces;
    std::vector<trunk_config> trunks;
    std::vector<route_config> routes;
    media_config media;
    control_config control;

    const interface_config* find_interface(const std::string& name) const;
    const trunk_config* find_trunk(const std::string& name) const;
};

/// A configuration that failed to load: every problem found, one a line, each
/// "file:line:column: key: what was expected".
class config_error : public std::runtime_error {
public:
    explicit config_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const noexcept { return _problems; }

private:
    std::vector<std::string> _problems;
};

/// "udp" or "tcp", as in a SIP URI's transport parameter.
std::string_view to_string(transport t) noexcept;

/// "udp://127.0.1.1:5060", "tcp://[::1]:5060": the form the YAML uses.
std::string to_string(const listen_uri& l);

/// "sip:127.0.1.2:5060;transport=udp", "sip:[2001:db8::1]:5060;transport=tcp".
std::string to_string(const peer_config& p);

/// True for the headers a B2BUA decides on each leg itself and so can never be
/// listed in forward_headers (case-insensitive): addresses and dialog identity
/// (Via, Route, Record-Route, Path, Contact, Call-ID, From, To, CSeq,
/// Max-Forwards), the body framing (Content-*, MIME-Version), per-leg
/// negotiation (Require, Proxy-Require, Supported, Unsupported, Allow, RSeq,
/// RAck), credentials (Authorization, Proxy-Authorization, WWW-Authenticate,
/// Proxy-Authenticate), and the compact forms of these (RFC 3261 7.3.3).
/// Covers every header sbc::policy::is_never_forwarded drops on the wire, and
/// any Content-* header besides the ones that lists.
bool is_never_forwarded_header(std::string_view name) noexcept;

/// Loads and validates a file. Throws config_error (with all problems found)
/// or config_error with one problem when the file cannot be read or parsed.
config load_file(const std::string& path);

/// Same, from text; `name` stands for the file name in messages (tests).
config load_string(const std::string& text, const std::string& name = "<string>");

}  // namespace sbc::config
