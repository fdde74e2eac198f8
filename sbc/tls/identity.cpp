#include "sbc/tls/identity.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>
#include <string>

namespace sbc::tls {

namespace {
struct bio_free {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct general_names_free {
    void operator()(GENERAL_NAMES* n) const noexcept { GENERAL_NAMES_free(n); }
};
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, general_names_free>;

general_names_ptr alt_names(X509* cert) {
    return general_names_ptr(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
}

std::string_view text_of(const ASN1_STRING* s) {
    const auto* data = ASN1_STRING_get0_data(s);
    const int n = ASN1_STRING_length(s);
    if (data == nullptr || n <= 0) {
        return {};
    }
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(n)};
}

char lower(char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool is_letter(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/// "sip.example.test." names the same host as "sip.example.test".
std::string_view without_root_dot(std::string_view name) {
    if (!name.empty() && name.back() == '.') {
        name.remove_suffix(1);
    }
    return name;
}

/// The SIP domain a subjectAltName URI names, "" if none: RFC 5922 7.1
/// accepts only the sip scheme, and only without a user part.
std::string_view sip_domain_of(std::string_view uri) {
    constexpr std::string_view scheme = "sip:";
    if (uri.size() <= scheme.size() || !iequals(uri.substr(0, scheme.size()), scheme)) {
        return {};
    }
    std::string_view rest = uri.substr(scheme.size());
    if (rest.find('@') != std::string_view::npos) {
        return {};
    }
    return without_root_dot(rest.substr(0, rest.find_first_of(";?:")));
}

/// Certificate text for a log line: control and non-ASCII bytes replaced,
/// and bounded, since the certificate comes from the peer.
std::string printable(std::string_view text) {
    constexpr std::size_t longest = 255;
    std::string out;
    for (char ch : text.substr(0, longest)) {
        out += ch >= 0x20 && ch < 0x7f ? ch : '?';
    }
    return text.size() > longest ? out + "..." : out;
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
    std::string_view raw = text_of(ip);
    char text[INET6_ADDRSTRLEN] = {};
    const int family = raw.size() == 4 ? AF_INET : raw.size() == 16 ? AF_INET6 : AF_UNSPEC;
    if (family == AF_UNSPEC || inet_ntop(family, raw.data(), text, sizeof text) == nullptr) {
        return "?";
    }
    return text;
}
}  // namespace

bool is_ip_literal(std::string_view name) {
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
        name = name.substr(1, name.size() - 2);
    }
    const std::string s(name);
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_host_name(std::string_view name) {
    name = without_root_dot(name);
    if (name.empty() || name.size() > 253) {
        return false;
    }
    std::string_view label;
    for (std::string_view rest = name; !rest.empty();) {
        const std::size_t dot = rest.find('.');
        label = rest.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (char ch : label) {
            if (!is_letter(ch) && !is_digit(ch) && ch != '-') {
                return false;
            }
        }
        if (dot == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(dot + 1);
        if (rest.empty()) {
            return false;  // "a..": an empty label
        }
    }
    // RFC 3261 25.1: toplabel = ALPHA ...; this also keeps "192.0.2.1" out.
    return is_letter(label.front());
}

bool matches_host_name(X509* cert, std::string_view name) {
    name = without_root_dot(name);
    if (!is_host_name(name)) {
        return false;
    }
    bool sip_domains = false;
    if (auto names = alt_names(cert)) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
            if (gn->type != GEN_URI) {
                continue;
            }
            const std::string_view domain = sip_domain_of(text_of(gn->d.uniformResourceIdentifier));
            if (domain.empty()) {
                continue;
            }
            // A URI names one domain: no wildcards in it.
            if (iequals(domain, name)) {
                return true;
            }
            sip_domains = true;
        }
    }
    // X509_check_host takes the DNS entries, or the CN when there are none
    // (RFC 6125 6.4.4); RFC 5922 7.1 also passes the CN over when there are
    // sip: URIs. NO_PARTIAL_WILDCARDS: "s*.example.test" is no wildcard
    // (RFC 6125 6.4.3 allows only a whole left-most label).
    const unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                           (sip_domains ? X509_CHECK_FLAG_NEVER_CHECK_SUBJECT : 0u);
    return X509_check_host(cert, name.data(), name.size(), flags, nullptr) == 1;
}

std::string alt_names_of(X509* cert) {
    constexpr int listed_at_most = 8;
    auto names = alt_names(cert);
    const int n = names ? sk_GENERAL_NAME_num(names.get()) : 0;
    std::string out;
    int listed = 0;
    for (int i = 0; i < n; ++i) {
        if (listed == listed_at_most) {
            out += " and " + std::to_string(n - i) + " more";
            break;
        }
        const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
        std::string entry;
        switch (gn->type) {
            case GEN_DNS:
                entry = "DNS:" + printable(text_of(gn->d.dNSName));
                break;
            case GEN_URI:
                entry = "URI:" + printable(text_of(gn->d.uniformResourceIdentifier));
                break;
            case GEN_IPADD:
                entry = "IP:" + ip_text(gn->d.iPAddress);
                break;
            default:
                continue;  // e-mail, directory names: no host identity
        }
        out += (out.empty() ? "" : ", ") + entry;
        ++listed;
    }
    return out.empty() ? "none" : out;
}

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
