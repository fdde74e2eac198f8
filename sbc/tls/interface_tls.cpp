#include "sbc/tls/interface_tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cstdlib>
#include <stdexcept>

#include "sbc/tls/identity.hpp"

namespace sbc::tls {

struct interface_tls::connection {
    std::string peer;  ///< "ip:port"
    std::string ip;
    bool inbound = false;
    peer_rule rule;
    bool known = false;  ///< some trunk has a peer at this address
    /// Outbound: the dialled host name as SNI carries it and the certificate
    /// must match it, without a trailing dot; "" for none.
    std::string server_name;
    bool server_name_invalid = false;  ///< the rule's server_name is no host name
    std::string failure;               ///< why we refused, once known
    std::uint64_t* counter = nullptr;
    bool finished = false;  ///< counted as completed or failed
    bool failure_after_done = false;
};

namespace {

constexpr log::logger tls_log{"tls"};

/// Per-connection state, hung on the SSL object and freed with it.
int connection_index() {
    static const int index = SSL_get_ex_new_index(
        0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
            delete static_cast<interface_tls::connection*>(ptr);
        });
    return index;
}

int owner_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

interface_tls* owner_of(const SSL* ssl) {
    return static_cast<interface_tls*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), owner_index()));
}

/// OpenSSL's queued errors as one line, and the queue cleared.
std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) {
            out += "; ";
        }
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

std::string peer_address(const SSL* ssl, std::string& ip) {
    int fd = SSL_get_fd(ssl);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return "?";
    }
    char text[INET6_ADDRSTRLEN] = {};
    unsigned port = 0;
    if (ss.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        port = ntohs(in->sin_port);
        ip = text;
        return fmt::format("{}:{}", ip, port);
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
    ip = text;
    return fmt::format("[{}]:{}", ip, port);
}

/// Why OpenSSL itself ended a handshake it refused (no callback of ours had
/// a reason), from the alert it sent and the error it queued. OpenSSL's
/// state machine raises the error and then sends the alert (SSLfatal), so
/// the newest queued error is this handshake's. The moment of the alert says
/// nothing: a server refuses a protocol version or a cipher, like a missing
/// certificate, before it has seen any client certificate.
struct refusal {
    enum kind { protocol, cipher, no_certificate, other } what;
    std::string why;
};

refusal classify_refusal(int alert_description) {
    const unsigned long e = ERR_peek_last_error();
    const int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    const char* text = reason != 0 ? ERR_reason_error_string(e) : nullptr;
    const std::string detail =
        text != nullptr ? text : SSL_alert_desc_string_long(alert_description);
    switch (reason) {
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_UNSUPPORTED_SSL_VERSION:
            return {refusal::protocol, "no protocol version in common (" + detail + ")"};
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_NO_CIPHERS_AVAILABLE:
        case SSL_R_NO_SHARED_GROUPS:
        case SSL_R_NO_SHARED_SIGNATURE_ALGORITHMS:
            return {refusal::cipher, "no cipher in common (" + detail + ")"};
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return {refusal::no_certificate, "no client certificate"};
        default:
            break;
    }
    // RFC 8446 6.2 / RFC 5246 7.2.2: protocol_version is only ever sent for
    // a version the sender will not speak; certificate_required only for a
    // missing client certificate (TLS 1.3).
    switch (alert_description) {
        case SSL_AD_PROTOCOL_VERSION:
            return {refusal::protocol, "no protocol version in common (" + detail + ")"};
        case SSL_AD_CERTIFICATE_REQUIRED:
            return {refusal::no_certificate, "no client certificate"};
        default:
            return {refusal::other, "handshake failed (" + detail + ")"};
    }
}

extern "C" int client_hello_trampoline(SSL* ssl, int* alert, void*) {
    try {
        auto* owner = owner_of(ssl);
        if (owner == nullptr) {  // the interface is going away
            *alert = SSL_AD_INTERNAL_ERROR;
            return SSL_CLIENT_HELLO_ERROR;
        }
        return owner->on_client_hello(ssl, alert);
    } catch (...) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
}

extern "C" int verify_trampoline(int preverify_ok, X509_STORE_CTX* store) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    try {
        auto* owner = owner_of(ssl);
        return owner != nullptr ? owner->on_verify(preverify_ok, store) : 0;
    } catch (...) {
        return 0;
    }
}

extern "C" void info_trampoline(const SSL* ssl, int where, int ret) {
    try {
        if (auto* owner = owner_of(ssl)) {
            owner->on_info(ssl, where, ret);
        }
    } catch (...) {
        // Bookkeeping only: a failure here must not affect the connection.
    }
}

/// What the SBC dialled, as TLS uses it: RFC 6066 3 sends a host name
/// without its trailing dot, and never an IP literal (no HostName), which
/// is also no name to check the certificate against.
void dialled_name(interface_tls::connection& c) {
    const std::string& name = c.rule.server_name;
    if (name.empty() || is_ip_literal(name)) {
        return;
    }
    if (!is_host_name(name)) {
        c.server_name_invalid = true;
        return;
    }
    c.server_name = name.back() == '.' ? name.substr(0, name.size() - 1) : name;
}

}  // namespace

interface_tls::interface_tls(std::string interface_name, const config::tls_config& cfg,
                             peer_lookup lookup)
    : _name(std::move(interface_name)), _cfg(cfg), _lookup(std::move(lookup)) {
    _material = load_material(cfg);
    X509* own = SSL_CTX_get0_certificate(_material.get());
    _own_subject = subject_of(own);
    _own_not_after = not_after_of(own);
}

interface_tls::~interface_tls() = default;

void interface_tls::detach() noexcept {
    for (SSL_CTX* ctx : _contexts) {
        SSL_CTX_set_ex_data(ctx, owner_index(), nullptr);
    }
    _contexts.clear();
}

const char* interface_tls::sofia_certificate_dir() {
    static const std::string dir = [] {
        const char* base = std::getenv("RUNTIME_DIRECTORY");  // systemd's, when set
        std::string templ = std::string(base != nullptr ? base : "/tmp") + "/sbcd-tls-XXXXXX";
        if (mkdtemp(templ.data()) == nullptr) {
            throw std::runtime_error("cannot create a directory for sofia-sip's TLS set-up");
        }
        return templ;
    }();
    return dir.c_str();
}

interface_tls::ctx_ptr interface_tls::load_material(const config::tls_config& cfg) {
    ERR_clear_error();
    ctx_ptr ctx(SSL_CTX_new(TLS_method()));
    if (!ctx) {
        throw std::runtime_error("cannot create a TLS context: " + openssl_errors());
    }
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cfg.certificate.c_str()) != 1) {
        throw std::runtime_error(
            fmt::format("certificate {}: {}", cfg.certificate, openssl_errors()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), cfg.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw std::runtime_error(
            fmt::format("private_key {}: {}", cfg.private_key, openssl_errors()));
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        throw std::runtime_error(fmt::format("private_key {} does not belong to certificate {}",
                                             cfg.private_key, cfg.certificate));
    }
    const char* file = cfg.ca_file.empty() ? nullptr : cfg.ca_file.c_str();
    const char* dir = cfg.ca_dir.empty() ? nullptr : cfg.ca_dir.c_str();
    if (SSL_CTX_load_verify_locations(ctx.get(), file, dir) != 1) {
        throw std::runtime_error(fmt::format("trust store {}{}: {}", file ? file : "",
                                             dir ? dir : "", openssl_errors()));
    }
    return ctx;
}

void interface_tls::apply_material(SSL_CTX* ctx) const {
    SSL_CTX* m = _material.get();
    // SSL objects copy the certificate at creation: connections made before
    // a reload keep the old one, new ones get this.
    SSL_CTX_use_certificate(ctx, SSL_CTX_get0_certificate(m));
    SSL_CTX_use_PrivateKey(ctx, SSL_CTX_get0_privatekey(m));
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(m, &chain);
    SSL_CTX_set1_chain(ctx, chain);
    X509_STORE* store = SSL_CTX_get_cert_store(m);
    X509_STORE_up_ref(store);
    SSL_CTX_set_cert_store(ctx, store);
    // The CA names a server sends in its CertificateRequest (RFC 8446
    // 4.2.4) tell the client which certificate to pick.
    if (!_cfg.ca_file.empty()) {
        SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(_cfg.ca_file.c_str()));
    }
}

bool interface_tls::adopt(SSL_CTX* ctx) {
    ERR_clear_error();
    const int min = _cfg.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    bool ok = SSL_CTX_set_min_proto_version(ctx, min) == 1 &&
              SSL_CTX_set_cipher_list(ctx, _cfg.ciphers.c_str()) == 1 &&
              SSL_CTX_set_ciphersuites(ctx, _cfg.ciphersuites.c_str()) == 1;
    if (!ok) {
        tls_log.error("interface {}: TLS settings refused: {}", _name, openssl_errors());
        return false;
    }
    // RFC 9325 4: no renegotiation, no compression, the server's cipher order.
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_ex_data(ctx, owner_index(), this);
    apply_material(ctx);
    // Outbound connections verify the server; inbound ones get their mode
    // per client in the ClientHello callback, once the trunk is known.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_trampoline);
    SSL_CTX_set_client_hello_cb(ctx, client_hello_trampoline, nullptr);
    SSL_CTX_set_info_callback(ctx, info_trampoline);
    _contexts.push_back(ctx);
    return true;
}

std::optional<std::string> interface_tls::reload(const config::tls_config& cfg) {
    ctx_ptr material;
    try {
        material = load_material(cfg);
    } catch (const std::exception& e) {
        return std::string(e.what());
    }
    _material = std::move(material);
    _cfg.certificate = cfg.certificate;
    _cfg.private_key = cfg.private_key;
    _cfg.ca_file = cfg.ca_file;
    _cfg.ca_dir = cfg.ca_dir;
    for (SSL_CTX* ctx : _contexts) {
        apply_material(ctx);
    }
    X509* own = SSL_CTX_get0_certificate(_material.get());
    _own_subject = subject_of(own);
    _own_not_after = not_after_of(own);
    tls_log.info("interface {}: certificate {} (until {}) loaded for new connections", _name,
                 _own_subject, _own_not_after);
    return std::nullopt;
}

const session_info* interface_tls::last_session(const std::string& ip) const {
    auto it = _sessions.find(ip);
    return it == _sessions.end() ? nullptr : &it->second;
}

const failure_info* interface_tls::last_failure(const std::string& ip) const {
    auto it = _failures.find(ip);
    return it == _failures.end() ? nullptr : &it->second;
}

interface_tls::connection& interface_tls::state_of(const SSL* ssl) {
    auto* c = static_cast<connection*>(SSL_get_ex_data(ssl, connection_index()));
    if (c != nullptr) {
        return *c;
    }
    auto fresh = std::make_unique<connection>();
    fresh->inbound = SSL_is_server(ssl) == 1;
    fresh->peer = peer_address(ssl, fresh->ip);
    if (auto rule = _lookup ? _lookup(fresh->ip) : std::nullopt) {
        fresh->rule = std::move(*rule);
        fresh->known = true;
    }
    if (!fresh->inbound) {
        dialled_name(*fresh);
    }
    SSL_set_ex_data(const_cast<SSL*>(ssl), connection_index(), fresh.get());
    return *fresh.release();
}

void interface_tls::count_failure(connection& c, const std::string& reason,
                                  std::uint64_t& counter) {
    if (!c.failure.empty()) {
        return;
    }
    c.failure = reason;
    c.counter = &counter;
}

int interface_tls::on_client_hello(SSL* ssl, int* alert) {
    auto& c = state_of(ssl);
    if (!c.known) {
        // Mutual TLS is for trunks: a stranger gets no handshake at all.
        count_failure(c, "not the address of any trunk's peer", _counters.unknown_peer);
        *alert = SSL_AD_ACCESS_DENIED;
        return SSL_CLIENT_HELLO_ERROR;
    }
    if (c.rule.verify) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_trampoline);
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

int interface_tls::on_verify(int preverify_ok, X509_STORE_CTX* store) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto& c = state_of(ssl);
    if (c.known && !c.rule.verify) {
        return 1;
    }
    if (preverify_ok == 0) {
        const int err = X509_STORE_CTX_get_error(store);
        const bool dates =
            err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID;
        count_failure(
            c,
            fmt::format("certificate at depth {}: {}", X509_STORE_CTX_get_error_depth(store),
                        X509_verify_cert_error_string(err)),
            dates ? _counters.expired : _counters.untrusted);
        return 0;
    }
    if (X509_STORE_CTX_get_error_depth(store) == 0 &&
        !check_names(c, X509_STORE_CTX_get_current_cert(store))) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        return 0;
    }
    return 1;
}

bool interface_tls::check_names(connection& c, X509* cert) {
    // Outbound, the certificate must be for the name the SBC dialled, or
    // anyone the trust store vouches for could answer for any peer whose
    // address they hold (RFC 5922 7.2, RFC 6125 6).
    if (c.server_name_invalid) {
        count_failure(c,
                      fmt::format("the dialled name \"{}\" is not a host name to check certificate "
                                  "{} against",
                                  c.rule.server_name, subject_of(cert)),
                      _counters.name_mismatch);
        return false;
    }
    if (!c.server_name.empty() && !matches_host_name(cert, c.server_name)) {
        count_failure(
            c,
            fmt::format("certificate {} (subjectAltName {}) is not for the dialled name {}",
                        subject_of(cert), alt_names_of(cert), c.server_name),
            _counters.name_mismatch);
        return false;
    }
    if (!matches_identity(cert, c.rule.identities)) {
        std::string wanted;
        for (const auto& id : c.rule.identities) {
            wanted += (wanted.empty() ? "" : ", ") + id;
        }
        count_failure(c,
                      fmt::format("certificate {} carries none of trunk {}'s identities ({})",
                                  subject_of(cert), c.rule.trunk, wanted),
                      _counters.name_mismatch);
        return false;
    }
    return true;
}

void interface_tls::on_info(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_HANDSHAKE_START) != 0 && SSL_is_server(ssl) == 0) {
        // OpenSSL hands its info callback a const SSL, but it is the
        // connection being set up, which the callback may still configure.
        on_client_start(const_cast<SSL*>(ssl));
        return;
    }
    if ((where & SSL_CB_HANDSHAKE_DONE) != 0) {
        on_handshake_done(ssl);
        return;
    }
    // A warning alert ("W") does not end the handshake; a fatal one ("F") does.
    if ((where & SSL_CB_ALERT) != 0 && std::string_view(SSL_alert_type_string(ret)) == "F") {
        on_fatal_alert(ssl, (where & SSL_CB_WRITE) != 0, ret);
    }
}

// sofia-sip makes the SSL objects and never sets a server name, so it is
// set here. OpenSSL 3.0's state machine (ssl/statem/statem.c,
// state_machine()) reports SSL_CB_HANDSHAKE_START before it sets up the
// handshake and runs the write state machine that builds the ClientHello
// and its server_name extension from the name set now.
void interface_tls::on_client_start(SSL* ssl) {
    auto& c = state_of(ssl);
    if (c.server_name.empty()) {
        return;
    }
    if (SSL_set_tlsext_host_name(ssl, c.server_name.c_str()) != 1) {
        // Only an allocation failure: is_host_name bounds the length.
        tls_log.warn("interface {}: TLS to {}: cannot send server name {}: {}", _name, c.peer,
                     c.server_name, openssl_errors());
    }
}

void interface_tls::on_handshake_done(const SSL* ssl) {
    auto& c = state_of(ssl);
    if (c.finished) {
        return;  // TLS 1.3 reports post-handshake messages as well
    }
    c.finished = true;
    ++_counters.completed;
    session_info s;
    s.peer = c.peer;
    s.inbound = c.inbound;
    s.protocol = SSL_get_version(ssl);
    s.cipher = SSL_get_cipher_name(ssl);
    if (X509* cert = SSL_get0_peer_certificate(ssl)) {
        s.subject = subject_of(cert);
        s.not_after = not_after_of(cert);
    }
    s.at = std::chrono::system_clock::now();
    tls_log.info("interface {}: TLS {} {} {}, {} {}{}", _name, c.inbound ? "from" : "to", c.peer,
                 c.rule.trunk.empty() ? "" : "(trunk " + c.rule.trunk + ")", s.protocol, s.cipher,
                 s.subject.empty() ? "" : ", peer " + s.subject);
    _failures.erase(c.ip);
    _sessions[c.ip] = std::move(s);
}

void interface_tls::on_fatal_alert(const SSL* ssl, bool sent, int alert) {
    auto& c = state_of(ssl);
    if (c.finished) {
        // TLS 1.3: a client's handshake is done before the server has
        // checked its certificate (RFC 8446 4.4.2), so a server that does not
        // trust us says so with an alert after that.
        if (sent || c.inbound || c.failure_after_done) {
            return;
        }
        c.failure_after_done = true;
        c.failure.clear();
    }
    c.finished = true;
    if (c.failure.empty()) {
        explain_alert(c, sent, alert);
    }
    ++*c.counter;
    record_failure(c);
}

// No callback of ours refused the handshake: the alert says who did and why.
void interface_tls::explain_alert(connection& c, bool sent, int alert) {
    if (!sent) {
        count_failure(
            c,
            fmt::format("the peer refused the handshake ({})", SSL_alert_desc_string_long(alert)),
            _counters.refused_by_peer);
        return;
    }
    auto r = classify_refusal(alert & 0xff);
    std::uint64_t* counters[] = {&_counters.protocol, &_counters.cipher, &_counters.no_certificate,
                                 &_counters.other};
    count_failure(c, r.why, *counters[r.what]);
}

void interface_tls::record_failure(const connection& c) {
    if (c.known) {
        _failures[c.ip] =
            failure_info{c.peer, c.inbound, c.failure, std::chrono::system_clock::now(),
                         std::chrono::steady_clock::now()};
    }
    if (_failure_log.allow()) {
        tls_log.warn("interface {}: TLS {} {} {}refused: {}{}", _name, c.inbound ? "from" : "to",
                     c.peer, c.rule.trunk.empty() ? "" : "(trunk " + c.rule.trunk + ") ", c.failure,
                     [&] {
                         auto n = _failure_log.take_suppressed();
                         return n ? fmt::format(" ({} more not logged)", n) : std::string{};
                     }());
    }
}

}  // namespace sbc::tls
