// The TLS side of one signaling interface: its certificate, its trust store
// and what it demands of each peer (issue 3, mutual TLS trunking).
//
// sofia-sip owns the TLS connections; this module owns their policy. It
// configures the SSL_CTXs sofia creates for the interface (see
// ssl_ctx_capture.hpp): TLS 1.2 or later, the configured ciphers, the
// certificate chain and key, and callbacks that decide per peer, during the
// handshake, whether the connection may continue:
// - inbound, the client's source address names its trunk; a source that is
//   no trunk's peer is refused, and a trunk that verifies demands a
//   certificate that chains to the trust store, is in date and carries one
//   of the trunk's identities;
// - outbound, the server's certificate is checked the same way, and the
//   SBC presents its own (client authentication); towards a peer it dialled
//   by host name it also sends that name (SNI) and demands a certificate
//   for it.
// Failures are logged with their reason and counted; completed handshakes
// are remembered per peer address for `sbcctl trunks`. reload() reads the
// files again and applies them to new handshakes only, so established
// connections and calls are untouched. Runs on the su_root thread.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbc/common/log.hpp"
#include "sbc/config/config.hpp"

namespace sbc::tls {

/// What a trunk requires of the peer at one address.
struct peer_rule {
    std::string trunk;
    bool verify = true;
    std::vector<std::string> identities;
    /// The host name the SBC dialled to reach this address ("" for a peer
    /// configured by IP address). Outbound only: sent as SNI (RFC 6066 3)
    /// and, when `verify` is on, the certificate must be for it (RFC 6125
    /// 6, RFC 5922 7.1) as well as carry one of `identities`. The braces
    /// keep three-member initializers free of -Wmissing-field-initializers.
    std::string server_name{};
};

/// The rule for a peer address (IP literal, canonical form), if any trunk on
/// the interface has a peer there.
using peer_lookup = std::function<std::optional<peer_rule>(const std::string& ip)>;

/// A completed handshake.
struct session_info {
    std::string peer;  ///< "ip:port"
    bool inbound = false;
    std::string protocol;   ///< "TLSv1.3"
    std::string cipher;     ///< "TLS_AES_256_GCM_SHA384"
    std::string subject;    ///< the peer certificate's subject, "" without one
    std::string not_after;  ///< its expiry, "2027-11-23T10:00:00Z"
    std::chrono::system_clock::time_point at;
};

/// Handshakes by outcome.
struct handshake_counters {
    std::uint64_t completed = 0;
    std::uint64_t no_certificate = 0;   ///< the peer presented none
    std::uint64_t untrusted = 0;        ///< chain does not verify against the trust store
    std::uint64_t expired = 0;          ///< outside its validity period
    std::uint64_t name_mismatch = 0;    ///< not for the dialled name, or none of the identities
    std::uint64_t unknown_peer = 0;     ///< source address is no trunk's peer
    std::uint64_t refused_by_peer = 0;  ///< the peer sent a fatal alert (did not trust us)
    std::uint64_t protocol = 0;         ///< no protocol version both sides allow
    std::uint64_t cipher = 0;           ///< no cipher suite, group or signature algorithm in common
    std::uint64_t other = 0;            ///< malformed, or a reason OpenSSL did not name
};

/// The last failed handshake with a peer, kept until one completes.
struct failure_info {
    std::string peer;  ///< "ip:port"
    bool inbound = false;
    std::string reason;  ///< as logged: "certificate CN=wrong.test carries none of ..."
    std::chrono::system_clock::time_point at;
    std::chrono::steady_clock::time_point at_steady;  ///< for "during this attempt?"
};

class interface_tls {
public:
    /// Loads the files of `cfg`. Throws std::runtime_error naming the file
    /// and OpenSSL's reason when one cannot be used.
    interface_tls(std::string interface_name, const config::tls_config& cfg, peer_lookup lookup);
    ~interface_tls();
    interface_tls(const interface_tls&) = delete;
    interface_tls& operator=(const interface_tls&) = delete;

    /// Makes a context sofia-sip created for this interface follow this
    /// interface's policy. Returns false (and logs) if OpenSSL refuses a
    /// setting, e.g. a cipher list that names no cipher.
    bool adopt(SSL_CTX* ctx);
    std::size_t adopted() const noexcept { return _contexts.size(); }
    /// Unhooks the adopted contexts, before sofia-sip frees them with its
    /// agent: callbacks during the teardown then find no owner.
    void detach() noexcept;

    /// Reads the certificate, key and trust store again. On success new
    /// handshakes use them; on failure nothing changes and the reason is
    /// returned.
    std::optional<std::string> reload(const config::tls_config& cfg);

    /// Applies a new peer lookup (a configuration reload changed the trunks).
    void set_lookup(peer_lookup lookup) { _lookup = std::move(lookup); }

    const handshake_counters& counters() const noexcept { return _counters; }
    /// The last completed handshake with `ip`, in either direction.
    const session_info* last_session(const std::string& ip) const;
    /// The last failed handshake with `ip`, in either direction, if none has
    /// completed since. sofia-sip reports a failed handshake to the requests
    /// waiting for the connection only as an internal 503; this says why.
    const failure_info* last_failure(const std::string& ip) const;
    /// The SBC's own certificate on this interface.
    const std::string& certificate_subject() const noexcept { return _own_subject; }
    const std::string& certificate_not_after() const noexcept { return _own_not_after; }

    /// An empty directory to give sofia-sip as TPTAG_CERTIFICATE: it finds no
    /// files there, and the contexts are filled in by adopt().
    static const char* sofia_certificate_dir();

    // For the OpenSSL callbacks (interface_tls.cpp).
    struct connection;
    int on_client_hello(SSL* ssl, int* alert);
    int on_verify(int preverify_ok, X509_STORE_CTX* store);
    void on_info(const SSL* ssl, int where, int ret);

private:
    struct ctx_free {
        void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
    };
    using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_free>;

    /// A context holding only the loaded files; validated before use.
    static ctx_ptr load_material(const config::tls_config& cfg);
    void apply_material(SSL_CTX* ctx) const;
    connection& state_of(const SSL* ssl);
    void count_failure(connection& c, const std::string& reason, std::uint64_t& counter);
    // on_info's two events: a handshake completed, or a fatal alert sent or
    // received ended one.
    void on_handshake_done(const SSL* ssl);
    /// Outbound, before the ClientHello is built: the SNI.
    void on_client_start(SSL* ssl);
    /// The peer certificate's names against the dialled name and the
    /// trunk's identities; false (and the failure counted) when refused.
    bool check_names(connection& c, X509* cert);
    void on_fatal_alert(const SSL* ssl, bool sent, int alert);
    void explain_alert(connection& c, bool sent, int alert);
    /// Remembers the failure for last_failure() and logs it (rate-limited).
    void record_failure(const connection& c);

    std::string _name;
    config::tls_config _cfg;
    peer_lookup _lookup;
    ctx_ptr _material;
    std::vector<SSL_CTX*> _contexts;  ///< sofia's; they live as long as the agent
    handshake_counters _counters;
    std::map<std::string, session_info> _sessions;  ///< by peer IP
    std::map<std::string, failure_info> _failures;  ///< by peer IP; bounded by the peers
    std::string _own_subject;
    std::string _own_not_after;
    log::rate_limit _failure_log{20};
};

}  // namespace sbc::tls
