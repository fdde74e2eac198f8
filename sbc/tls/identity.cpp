#include "sbc/tls/identity.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace sbc::tls {

namespace {
struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};

bool is_ip_literal(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}
}  // namespace

bool matches_identity(X509* cert, const std::vector<std::string>& identities) {
    if (identities.empty()) {
        return true;
    }
    for (const auto& id : identities) {
        if (is_ip_literal(id)) {
            if (X509_check_ip_asc(cert, id.c_str(), 0) == 1) {
                return true;
            }
            continue;
        }
        // X509_check_host falls back to the CN only without DNS SANs, and
        // lets a leftmost "*" cover exactly one label: RFC 6125 6.4.
        if (X509_check_host(cert, id.data(), id.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                            nullptr) == 1) {
            return true;
        }
    }
    return false;
}

std::string subject_of(X509* cert) {
    std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
    if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0,
                                   XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0) {
        return {};
    }
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string{};
}

std::string not_after_of(X509* cert) {
    struct tm t {};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &t) != 1) {
        return {};
    }
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &t);
    return out;
}

}  // namespace sbc::tls
