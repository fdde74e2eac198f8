// Why interface_tls refuses a handshake (issue 19 item 5), and what it sends
// and demands of a peer it dialled by name (issue 21: SNI, RFC 6125): real
// OpenSSL handshakes between a client context and a context the interface
// adopted, over an in-memory BIO pair, with certificates made at test time.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbc/tls/identity.hpp"
#include "sbc/tls/interface_tls.hpp"
#include "tests/support/test_certs.hpp"

namespace test_interface_tls {

/// A directory holding one self-signed EC certificate (its own CA) and key.
struct test_identity {
    std::string dir;
    std::string cert;
    std::string key;

    test_identity() {
        char templ[] = "/tmp/sbc-test-tls-XXXXXX";
        REQUIRE(mkdtemp(templ) != nullptr);
        dir = templ;
        cert = dir + "/cert.pem";
        key = dir + "/key.pem";
        EVP_PKEY* pkey = EVP_EC_gen("P-256");
        X509* x = X509_new();
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, pkey);
        X509_NAME* name = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("carrier.test"), -1, -1,
                                   0);
        X509_set_issuer_name(x, name);
        X509_sign(x, pkey, EVP_sha256());
        FILE* f = std::fopen(cert.c_str(), "w");
        PEM_write_X509(f, x);
        std::fclose(f);
        f = std::fopen(key.c_str(), "w");
        PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
        std::fclose(f);
        X509_free(x);
        EVP_PKEY_free(pkey);
    }
    ~test_identity() {
        std::remove(cert.c_str());
        std::remove(key.c_str());
        ::rmdir(dir.c_str());
    }
};

struct ctx_free {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_free>;

/// Runs a handshake between an SSL of each context to its end; true if both
/// sides completed it.
bool drive_handshake(SSL_CTX* server, SSL_CTX* client) {
    SSL* s = SSL_new(server);
    SSL* c = SSL_new(client);
    BIO* sb = nullptr;
    BIO* cb = nullptr;
    BIO_new_bio_pair(&sb, 0, &cb, 0);
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    int sr = 0;
    int cr = 0;
    for (int i = 0; i < 20; ++i) {
        cr = SSL_do_handshake(c);
        sr = SSL_do_handshake(s);
        const bool c_stuck = cr <= 0 && SSL_get_error(c, cr) != SSL_ERROR_WANT_READ;
        const bool s_stuck = sr <= 0 && SSL_get_error(s, sr) != SSL_ERROR_WANT_READ;
        if ((cr == 1 && sr == 1) || c_stuck || s_stuck) {
            break;
        }
    }
    // TLS 1.3: the server checks the client's certificate after the
    // client has finished; one read lets the server's verdict arrive.
    char byte = 0;
    SSL_read(c, &byte, 1);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    return cr == 1 && sr == 1;
}

/// The interface (server side, its trunk verifying or not) and a client; or,
/// `outbound`, the interface as the client of a plain OpenSSL server (the
/// trunk's peer) with the same certificate.
struct bench {
    test_identity id;
    sbc::config::tls_config cfg;
    std::unique_ptr<sbc::tls::interface_tls> tls;
    ctx_ptr server{SSL_CTX_new(TLS_server_method())};
    ctx_ptr client{SSL_CTX_new(TLS_client_method())};

    explicit bench(bool verify, bool outbound = false, std::string server_name = {}) {
        cfg.certificate = id.cert;
        cfg.private_key = id.key;
        cfg.ca_file = id.cert;
        // A BIO pair has no peer address: every client is the trunk's peer.
        sbc::tls::peer_rule rule{"carrier", verify, {}, std::move(server_name)};
        tls = std::make_unique<sbc::tls::interface_tls>(
            "carrier", cfg, [rule](const std::string&) { return std::optional(rule); });
        if (outbound) {
            REQUIRE(tls->adopt(client.get()));
            REQUIRE(SSL_CTX_use_certificate_file(server.get(), id.cert.c_str(), SSL_FILETYPE_PEM) ==
                    1);
            REQUIRE(SSL_CTX_use_PrivateKey_file(server.get(), id.key.c_str(), SSL_FILETYPE_PEM) ==
                    1);
            return;
        }
        REQUIRE(tls->adopt(server.get()));
        SSL_CTX_set_verify(client.get(), SSL_VERIFY_NONE, nullptr);
        REQUIRE(SSL_CTX_use_certificate_file(client.get(), id.cert.c_str(), SSL_FILETYPE_PEM) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey_file(client.get(), id.key.c_str(), SSL_FILETYPE_PEM) == 1);
    }
    ~bench() { tls->detach(); }

    /// Runs the handshake to its end; true if both sides completed it.
    bool handshake() { return drive_handshake(server.get(), client.get()); }
};

TEST_CASE("a client offering only TLS 1.1 is refused for its protocol version", "[tls]") {
    for (bool verify : {true, false}) {
        bench b(verify);
        SSL_CTX_set_security_level(b.client.get(), 0);  // else OpenSSL will not offer 1.1
        SSL_CTX_set_min_proto_version(b.client.get(), TLS1_VERSION);
        SSL_CTX_set_max_proto_version(b.client.get(), TLS1_1_VERSION);
        SSL_CTX_set_cipher_list(b.client.get(), "DEFAULT:@SECLEVEL=0");
        CHECK_FALSE(b.handshake());
        const auto& n = b.tls->counters();
        CHECK(n.protocol == 1);
        CHECK(n.no_certificate == 0);
        CHECK(n.other == 0);
    }
}

TEST_CASE("a client offering only CBC suites is refused for its cipher", "[tls]") {
    for (bool verify : {true, false}) {
        bench b(verify);
        SSL_CTX_set_max_proto_version(b.client.get(), TLS1_2_VERSION);
        SSL_CTX_set_cipher_list(b.client.get(), "ECDHE-ECDSA-AES128-SHA256");
        CHECK_FALSE(b.handshake());
        const auto& n = b.tls->counters();
        CHECK(n.cipher == 1);
        CHECK(n.no_certificate == 0);
        CHECK(n.other == 0);
    }
}

TEST_CASE("a client without a certificate is still refused as such", "[tls]") {
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        bench b(true);
        SSL_CTX_set_max_proto_version(b.client.get(), version);
        ctx_ptr bare(SSL_CTX_new(TLS_client_method()));
        b.client = std::move(bare);
        SSL_CTX_set_verify(b.client.get(), SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_max_proto_version(b.client.get(), version);
        CHECK_FALSE(b.handshake());
        const auto& n = b.tls->counters();
        CHECK(n.no_certificate == 1);
        CHECK(n.protocol == 0);
        CHECK(n.cipher == 0);
    }
}

TEST_CASE("a client with the trusted certificate completes", "[tls]") {
    bench b(true);
    CHECK(b.handshake());
    CHECK(b.tls->counters().completed == 1);
}

TEST_CASE("a peer refusing the SBC's handshake is counted as refused by the peer", "[tls]") {
    bench b(true, true);
    // A TLS 1.2 server with only a CBC suite: it answers the SBC's hello with
    // a fatal handshake_failure alert.
    SSL_CTX_set_max_proto_version(b.server.get(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(b.server.get(), "ECDHE-ECDSA-AES128-SHA256");
    CHECK_FALSE(b.handshake());
    const auto& n = b.tls->counters();
    CHECK(n.refused_by_peer == 1);
    CHECK(n.completed == 0);
    CHECK(n.cipher == 0);
    const auto* f = b.tls->last_failure("");
    REQUIRE(f != nullptr);
    CHECK_FALSE(f->inbound);
    CHECK(f->reason.rfind("the peer refused the handshake (", 0) == 0);
}

TEST_CASE("a TLS 1.3 server refusing the SBC's certificate after its Finished is counted",
          "[tls]") {
    bench b(true, true);
    // RFC 8446 4.4.2: the client is done before the server has checked its
    // certificate; this server trusts no CA, so it refuses the SBC's.
    SSL_CTX_set_verify(b.server.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    CHECK_FALSE(b.handshake());
    const auto& n = b.tls->counters();
    CHECK(n.completed == 1);
    CHECK(n.refused_by_peer == 1);
    CHECK(b.tls->last_session("") != nullptr);
    const auto* f = b.tls->last_failure("");
    REQUIRE(f != nullptr);
    CHECK(f->reason.rfind("the peer refused the handshake (", 0) == 0);
}

TEST_CASE("an inbound client is not checked against a peer's dialled name", "[tls]") {
    // The dialled name is the server's (RFC 6066 3); the client presents
    // CN=carrier.test, which no check of a name "sip.example.test" passes.
    bench b(true, false, "sip.example.test");
    CHECK(b.handshake());
    CHECK(b.tls->counters().completed == 1);
    CHECK(b.tls->counters().name_mismatch == 0);
}

// Peers dialled by name: the interface is the client of a plain OpenSSL
// server whose certificate a test CA issues with the names a test asks for.

using sbc::test::issued;
using sbc::test::write_pem_file;

/// What the server saw of the ClientHello's server_name extension.
struct sni_seen {
    bool asked = false;  ///< the servername callback ran (it runs with or without SNI)
    std::optional<std::string> name;
};

extern "C" int test_interface_tls_record_sni(SSL* ssl, int*, void* arg) {
    auto* seen = static_cast<sni_seen*>(arg);
    seen->asked = true;
    if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
        seen->name = name;
    }
    return SSL_TLSEXT_ERR_OK;
}

/// The SBC (its interface trusting `ca`) dialling a peer under `rule`.
struct dialled {
    issued ca{"Test CA", ""};
    issued own{"sbc.test", "DNS:sbc.test", &ca};
    std::string dir;
    std::unique_ptr<sbc::tls::interface_tls> tls;
    ctx_ptr server{SSL_CTX_new(TLS_server_method())};
    ctx_ptr client{SSL_CTX_new(TLS_client_method())};
    sni_seen sni;

    explicit dialled(sbc::tls::peer_rule rule) {
        char templ[] = "/tmp/sbc-test-sni-XXXXXX";
        REQUIRE(mkdtemp(templ) != nullptr);
        dir = templ;
        write_pem_file(dir + "/ca.pem", ca.cert.get(), nullptr);
        write_pem_file(dir + "/own.pem", own.cert.get(), nullptr);
        write_pem_file(dir + "/own.key", nullptr, own.key.get());
        sbc::config::tls_config cfg;
        cfg.certificate = dir + "/own.pem";
        cfg.private_key = dir + "/own.key";
        cfg.ca_file = dir + "/ca.pem";
        tls = std::make_unique<sbc::tls::interface_tls>(
            "carrier", cfg, [rule](const std::string&) { return std::optional(rule); });
        REQUIRE(tls->adopt(client.get()));
        SSL_CTX_set_tlsext_servername_callback(server.get(), test_interface_tls_record_sni);
        SSL_CTX_set_tlsext_servername_arg(server.get(), &sni);
    }
    ~dialled() {
        tls->detach();
        for (const char* f : {"/ca.pem", "/own.pem", "/own.key"}) {
            std::remove((dir + f).c_str());
        }
        ::rmdir(dir.c_str());
    }

    /// Dials a peer presenting a certificate from the CA with subject CN
    /// `cn` and subjectAltName `san`; true if the handshake completed.
    bool dial(const std::string& cn, const std::string& san, int version = TLS1_3_VERSION) {
        issued peer{cn, san, &ca};
        REQUIRE(SSL_CTX_use_certificate(server.get(), peer.cert.get()) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey(server.get(), peer.key.get()) == 1);
        SSL_CTX_set_max_proto_version(server.get(), version);
        sni = {};
        return drive_handshake(server.get(), client.get());
    }

    std::string failure() const {
        const auto* f = tls->last_failure("");
        return f != nullptr ? f->reason : std::string{};
    }
};

sbc::tls::peer_rule by_name(std::string name, std::vector<std::string> identities = {},
                            bool verify = true) {
    return sbc::tls::peer_rule{"teams", verify, std::move(identities), std::move(name)};
}

}  // namespace test_interface_tls

using test_interface_tls::by_name;
using test_interface_tls::dialled;

TEST_CASE("outbound TLS sends the dialled name as SNI", "[tls]") {
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        dialled d(by_name("sip.example.test"));
        CHECK(d.dial("sip.example.test", "DNS:sip.example.test", version));
        CHECK(d.sni.asked);
        CHECK(d.sni.name == "sip.example.test");
        CHECK(d.tls->counters().completed == 1);
    }
    // RFC 6066 3: the HostName goes without its trailing dot.
    dialled d(by_name("sip.example.test."));
    CHECK(d.dial("sip.example.test", "DNS:sip.example.test"));
    CHECK(d.sni.name == "sip.example.test");
}

TEST_CASE("outbound TLS sends no SNI to a peer configured by IP address", "[tls]") {
    // RFC 6066 3: an IP literal is no HostName; the B2BUA leaves the name
    // empty for such a peer, and a literal given anyway is not sent either.
    for (const char* name : {"", "192.0.2.7", "2001:db8::7", "[2001:db8::7]"}) {
        CAPTURE(name);
        dialled d(by_name(name));
        CHECK(d.dial("carrier.test", "DNS:carrier.test"));
        CHECK(d.sni.asked);
        CHECK_FALSE(d.sni.name.has_value());
        CHECK(d.tls->counters().completed == 1);
    }
}

TEST_CASE("a peer's certificate for the dialled name is accepted", "[tls]") {
    dialled d(by_name("sip.example.test"));
    CHECK(d.dial("whatever.test", "DNS:other.example.test,DNS:SIP.Example.Test"));
    CHECK(d.tls->counters().completed == 1);
    // No DNS subjectAltName: the CN is the name (RFC 6125 6.4.4).
    CHECK(d.dial("sip.example.test", ""));
    CHECK(d.tls->counters().completed == 2);
    CHECK(d.tls->counters().name_mismatch == 0);
}

TEST_CASE("a peer's certificate for another name is refused and counted", "[tls]") {
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        dialled d(by_name("sip.example.test"));
        CHECK_FALSE(d.dial("other.example.test", "DNS:other.example.test,IP:192.0.2.9", version));
        const auto& n = d.tls->counters();
        CHECK(n.name_mismatch == 1);
        CHECK(n.completed == 0);
        CHECK(n.untrusted == 0);
        const std::string why = d.failure();
        CHECK_THAT(why, Catch::Contains("dialled name sip.example.test"));
        CHECK_THAT(why, Catch::Contains("DNS:other.example.test, IP:192.0.2.9"));
        CHECK_THAT(why, Catch::Contains("CN = other.example.test"));
    }
    // The CN counts only without DNS subjectAltNames.
    dialled d(by_name("sip.example.test"));
    CHECK_FALSE(d.dial("sip.example.test", "DNS:other.example.test"));
    CHECK(d.tls->counters().name_mismatch == 1);
}

TEST_CASE("a wildcard certificate covers one whole left-most label", "[tls]") {
    SECTION("sip.example.test") {
        dialled d(by_name("sip.example.test"));
        CHECK(d.dial("wild", "DNS:*.example.test"));
        CHECK(d.tls->counters().completed == 1);
    }
    SECTION("a.b.example.test") {
        dialled d(by_name("a.b.example.test"));
        CHECK_FALSE(d.dial("wild", "DNS:*.example.test"));
        CHECK(d.tls->counters().name_mismatch == 1);
        CHECK_THAT(d.failure(), Catch::Contains("DNS:*.example.test"));
    }
    SECTION("a partial wildcard is no wildcard") {
        dialled d(by_name("sip.example.test"));
        CHECK_FALSE(d.dial("wild", "DNS:s*.example.test"));
        CHECK(d.tls->counters().name_mismatch == 1);
    }
}

TEST_CASE("a subjectAltName URI sip:name is a certificate for the name", "[tls]") {
    // RFC 5922 7.1: the host part of a sip URI without a user part.
    dialled d(by_name("sip.example.test"));
    CHECK(d.dial("unrelated.test", "URI:sip:sip.example.test"));
    CHECK(d.dial("unrelated.test", "URI:sip:sip.example.test;transport=tls"));
    CHECK(d.tls->counters().completed == 2);
    // A user part makes it no domain identity; a sips: URI none either.
    CHECK_FALSE(d.dial("unrelated.test", "URI:sip:alice@sip.example.test"));
    CHECK_FALSE(d.dial("unrelated.test", "URI:sips:sip.example.test"));
    // A sip: URI for another domain leaves no room for the CN.
    CHECK_FALSE(d.dial("sip.example.test", "URI:sip:other.example.test"));
    CHECK(d.tls->counters().name_mismatch == 3);
    CHECK(d.tls->counters().completed == 2);
}

TEST_CASE("the dialled name and the trunk's identities must both hold", "[tls]") {
    dialled d(by_name("sip.example.test", {"carrier.example"}));
    CHECK(d.dial("both", "DNS:sip.example.test,DNS:carrier.example"));
    CHECK(d.tls->counters().completed == 1);

    CHECK_FALSE(d.dial("name only", "DNS:sip.example.test"));
    CHECK(d.tls->counters().name_mismatch == 1);
    CHECK_THAT(d.failure(), Catch::Contains("none of trunk teams's identities (carrier.example)"));

    CHECK_FALSE(d.dial("identity only", "DNS:carrier.example"));
    CHECK(d.tls->counters().name_mismatch == 2);
    CHECK_THAT(d.failure(), Catch::Contains("dialled name sip.example.test"));
    CHECK(d.tls->counters().completed == 1);
}

TEST_CASE("a trunk that does not verify still sends SNI but checks no name", "[tls]") {
    dialled d(by_name("sip.example.test", {}, false));
    CHECK(d.dial("other.example.test", "DNS:other.example.test"));
    CHECK(d.sni.name == "sip.example.test");
    CHECK(d.tls->counters().name_mismatch == 0);
}

TEST_CASE("a dialled name that is no host name is neither sent nor matched", "[tls]") {
    dialled d(by_name("sip_proxy..example.test"));
    CHECK_FALSE(d.dial("sip_proxy..example.test", ""));
    CHECK_FALSE(d.sni.name.has_value());
    CHECK(d.tls->counters().name_mismatch == 1);
    CHECK_THAT(d.failure(), Catch::Contains("is not a host name"));
}

TEST_CASE("host names as SNI and the name check take them", "[tls]") {
    using sbc::tls::is_host_name;
    CHECK(is_host_name("sip.pstnhub.microsoft.com"));
    CHECK(is_host_name("sip.example.test."));
    CHECK(is_host_name("localhost"));
    CHECK(is_host_name("a-1.example.test"));
    CHECK_FALSE(is_host_name(""));
    CHECK_FALSE(is_host_name("."));
    CHECK_FALSE(is_host_name("192.0.2.1"));
    CHECK_FALSE(is_host_name("-a.example.test"));
    CHECK_FALSE(is_host_name("a..example.test"));
    CHECK_FALSE(is_host_name(".example.test"));
    CHECK_FALSE(is_host_name("*.example.test"));
    CHECK_FALSE(is_host_name("a b.test"));
    CHECK_FALSE(is_host_name(std::string(64, 'a') + ".test"));
    CHECK_FALSE(is_host_name(std::string("a\0b.test", 8)));
    std::string long_name;
    for (int i = 0; i < 64; ++i) {
        long_name += "abc.";
    }
    CHECK_FALSE(is_host_name(long_name + "test"));  // 260 characters
}
