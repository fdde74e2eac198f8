// Why interface_tls refuses a handshake (issue 19 item 5): real OpenSSL
// handshakes between a client context and a context the interface adopted,
// over an in-memory BIO pair, with a certificate made at test time.
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
#include <string>

#include "sbc/tls/interface_tls.hpp"

namespace {

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

/// The interface (server side, its trunk verifying or not) and a client; or,
/// `outbound`, the interface as the client of a plain OpenSSL server (the
/// trunk's peer) with the same certificate.
struct bench {
    test_identity id;
    sbc::config::tls_config cfg;
    std::unique_ptr<sbc::tls::interface_tls> tls;
    ctx_ptr server{SSL_CTX_new(TLS_server_method())};
    ctx_ptr client{SSL_CTX_new(TLS_client_method())};

    explicit bench(bool verify, bool outbound = false) {
        cfg.certificate = id.cert;
        cfg.private_key = id.key;
        cfg.ca_file = id.cert;
        // A BIO pair has no peer address: every client is the trunk's peer.
        tls = std::make_unique<
            sbc::tls::interface_tls>("carrier", cfg, [verify](const std::string&) {
            return std::optional<sbc::tls::peer_rule>(sbc::tls::peer_rule{"carrier", verify, {}});
        });
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
    bool handshake() {
        SSL* s = SSL_new(server.get());
        SSL* c = SSL_new(client.get());
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
};

}  // namespace

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
