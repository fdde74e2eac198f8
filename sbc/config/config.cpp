// Loading: file -> text -> YAML nodes -> decode_document() -> validate(), and
// the small helpers of config.hpp.
#include "sbc/config/config.hpp"

#include "sbc/common/text.hpp"
#include "sbc/config/address.hpp"
#include "sbc/config/decode.hpp"
#include "sbc/config/yaml_reader.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

namespace sbc::config {

namespace {

// A configuration is a few kilobytes; this bounds what a mistaken path such
// as /dev/zero can make us read.
constexpr std::size_t max_file_size = 16 * 1024 * 1024;

std::string join_lines(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) {
        out += out.empty() ? "" : "\n";
        out += l;
    }
    return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw config_error({fmt::format("{}: {}", path, what)});
}

std::string read_whole_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(path, fmt::format("cannot open the file: {}", std::strerror(errno)));
    }
    // Closes the descriptor on every way out, exceptions included.
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        fail(path, "cannot read the file: it is a directory");
    }
    std::string text;
    std::array<char, 65536> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(path, fmt::format("cannot read the file: {}", std::strerror(errno)));
        }
        if (n == 0) {
            return text;
        }
        text.append(buffer.data(), static_cast<std::size_t>(n));
        if (text.size() > max_file_size) {
            fail(path, fmt::format("cannot read the file: larger than {} bytes", max_file_size));
        }
    }
}

// Counts the documents of a stream, stopping at two. yaml-cpp 0.7's LoadAll()
// loops for ever on some invalid input ("," alone: jbeder/yaml-cpp#1040, fixed
// upstream in 2024 by #1319) because a document that consumes no token is
// followed by the same document again; a document that starts where the
// previous one did is that loop, and ends the count.
class document_counter final : public YAML::EventHandler {
public:
    int count(const std::string& text) {
        std::istringstream in(text);
        YAML::Parser parser(in);
        int documents = 0;
        while (documents < 2 && parser.HandleNextDocument(*this)) {
            if (documents > 0 && _start.pos <= _previous_start) {
                break;
            }
            _previous_start = _start.pos;
            ++documents;
        }
        return documents;
    }
    const YAML::Mark& last_start() const noexcept { return _start; }

    void OnDocumentStart(const YAML::Mark& mark) override { _start = mark; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

private:
    YAML::Mark _start;
    int _previous_start = -1;
};

// The first document of `text`; nothing (and a problem) when the text is not
// YAML or holds no document. A second document is a problem too, but the
// first is still decoded so that its own problems are reported as well.
std::optional<YAML::Node> parse_yaml(const std::string& text, detail::problem_list& p) {
    constexpr std::string_view top =
        "a map with interfaces, trunks, routes, media, control, dns, cdr, cluster and metrics";
    try {
        document_counter counter;
        const int documents = counter.count(text);
        if (documents == 0) {
            p.add(YAML::Mark::null_mark(), "", fmt::format("expected {} (got an empty file)", top));
            return std::nullopt;
        }
        if (documents > 1) {
            // A second document is most likely a second file pasted in, or a
            // stray "---"; which one was meant is for the engineer to say.
            p.add(counter.last_start(), "", "expected one YAML document (got a second one)");
        }
        return YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp's guard against stack exhaustion; its message says only "bad file".
        p.add(e.mark, "",
              fmt::format("YAML syntax error: nested deeper than {} levels", e.depth()));
    } catch (const YAML::Exception& e) {
        // ParserException carries where the parser stopped.
        p.add(e.mark, "", fmt::format("YAML syntax error: {}", e.msg));
    }
    return std::nullopt;
}

}  // namespace

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), _problems(std::move(problems)) {}

const interface_config* config::find_interface(const std::string& name) const {
    for (const auto& i : interfaces) {
        if (i.name == name) {
            return &i;
        }
    }
    return nullptr;
}

const trunk_config* config::find_trunk(const std::string& name) const {
    for (const auto& t : trunks) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

std::string_view to_string(transport t) noexcept {
    switch (t) {
        case transport::tcp:
            return "tcp";
        case transport::tls:
            return "tls";
        case transport::udp:
            break;
    }
    return "udp";
}

std::string_view to_string(codec c) noexcept {
    switch (c) {
        case codec::opus:
            return "opus";
        case codec::pcmu:
            return "PCMU";
        case codec::pcma:
            return "PCMA";
        case codec::g722:
            return "G722";
        case codec::g729:
            return "G729";
        case codec::telephone_event:
            break;
    }
    return "telephone-event";
}

std::string_view to_string(dtmf_mode m) noexcept {
    switch (m) {
        case dtmf_mode::info:
            return "info";
        case dtmf_mode::inband:
            return "inband";
        case dtmf_mode::rfc4733:
            break;
    }
    return "rfc4733";
}

std::string_view to_string(ringback_mode m) noexcept {
    return m == ringback_mode::local ? "local" : "off";
}

std::string_view to_string(ringback_style s) noexcept {
    switch (s) {
        case ringback_style::eu:
            return "eu";
        case ringback_style::uk:
            return "uk";
        case ringback_style::us:
            break;
    }
    return "us";
}

std::string_view to_string(srtp_mode m) noexcept {
    switch (m) {
        case srtp_mode::optional:
            return "optional";
        case srtp_mode::required:
            return "required";
        case srtp_mode::off:
            break;
    }
    return "off";
}

std::string_view to_string(srtp_suite s) noexcept {
    switch (s) {
        case srtp_suite::aes_cm_128_hmac_sha1_32:
            return "AES_CM_128_HMAC_SHA1_32";
        case srtp_suite::aead_aes_128_gcm:
            return "AEAD_AES_128_GCM";
        case srtp_suite::aead_aes_256_gcm:
            return "AEAD_AES_256_GCM";
        case srtp_suite::aes_256_cm_hmac_sha1_80:
            return "AES_256_CM_HMAC_SHA1_80";
        case srtp_suite::aes_256_cm_hmac_sha1_32:
            return "AES_256_CM_HMAC_SHA1_32";
        case srtp_suite::aes_cm_128_hmac_sha1_80:
            break;
    }
    return "AES_CM_128_HMAC_SHA1_80";
}

bool cidr::contains(int address_family, const unsigned char* address) const noexcept {
    if (address_family != family) {
        return false;
    }
    const unsigned whole = prefix / 8;
    if (std::memcmp(address, bytes.data(), whole) != 0) {
        return false;
    }
    const unsigned rest = prefix % 8;
    if (rest == 0) {
        return true;
    }
    const auto mask = static_cast<unsigned char>(0xFFU << (8 - rest));
    return (address[whole] & mask) == (bytes[whole] & mask);
}

std::string_view to_string(number_field f) noexcept {
    switch (f) {
        case field_ruri:
            return "ruri";
        case field_from:
            return "from";
        case field_to:
            return "to";
        case field_pai:
            return "pai";
        case field_diversion:
            return "diversion";
        default:
            return "?";
    }
}

bool interface_config::has_listener(transport t) const noexcept {
    return std::any_of(listen.begin(), listen.end(),
                       [t](const listen_uri& l) { return l.proto == t; });
}

namespace {
// RFC 3986 3.2.2: an IPv6 literal goes in brackets inside a URI.
std::string uri_host(const std::string& host) {
    return host.find(':') == std::string::npos ? host : "[" + host + "]";
}
}  // namespace

dns::settings resolver_settings(const dns_config& dns) {
    dns::settings s;
    for (const auto& server : dns.servers) {
        s.servers.push_back(fmt::format("{}:{}", uri_host(server.host), server.port));
    }
    s.stale_grace = std::chrono::seconds(dns.stale_seconds);
    return s;
}

std::string to_string(const listen_uri& l) {
    return fmt::format("{}://{}:{}", to_string(l.proto), uri_host(l.host), l.port);
}

std::string to_string(const peer_config& p) {
    if (!p.is_name) {
        return fmt::format("sip:{}:{};transport={}", uri_host(p.host), p.port, to_string(p.proto));
    }
    // A name as written: how it resolves depends on what the URI leaves out.
    std::string out = fmt::format("{}:{}", p.sips ? "sips" : "sip", p.host);
    if (p.port_given) {
        out += fmt::format(":{}", p.port);
    }
    if (p.transport_given && !p.sips) {
        out += fmt::format(";transport={}", to_string(p.proto));
    }
    return out;
}

bool is_never_forwarded_header(std::string_view name) noexcept {
    // RFC 5853 3.1 (topology hiding) and the per-leg state of a B2BUA; the
    // same set sbc::policy::is_never_forwarded enforces on the wire.
    static constexpr std::array<std::string_view, 24> full = {
        "Via",
        "Route",
        "Record-Route",
        "Path",
        "Contact",
        "Call-ID",
        "From",
        "To",
        "CSeq",
        "Max-Forwards",
        "MIME-Version",
        "Require",
        "Proxy-Require",
        "Supported",
        "Unsupported",
        "Allow",
        "RSeq",
        "RAck",
        "Authorization",
        "Proxy-Authorization",
        "WWW-Authenticate",
        "Proxy-Authenticate",
        // RFC 4028: each leg negotiates its own session timer.
        "Session-Expires",
        "Min-SE",
    };
    // RFC 3261 7.3.3 compact forms: Via, Call-ID, From, To, Contact,
    // Content-Length, Content-Type, Content-Encoding, Supported.
    static constexpr std::array<std::string_view, 10> compact = {"v", "i", "f", "t", "m",
                                                                 "l", "c", "e", "k", "x"};
    constexpr std::string_view content_prefix = "Content-";
    if (name.size() >= content_prefix.size() &&
        iequals(name.substr(0, content_prefix.size()), content_prefix)) {
        return true;
    }
    for (auto n : full) {
        if (iequals(n, name)) {
            return true;
        }
    }
    for (auto n : compact) {
        if (iequals(n, name)) {
            return true;
        }
    }
    return false;
}

config load_string(const std::string& text, const std::string& name) {
    detail::problem_list problems(name);
    const auto root = parse_yaml(text, problems);
    if (!root) {
        throw config_error(problems.messages());
    }
    detail::decoded d;
    try {
        d = detail::decode_document(problems, detail::located{*root, root->Mark(), ""});
        detail::validate(d, problems);
    } catch (const YAML::Exception& e) {
        // The decoder tests every node's type before using it; this is the
        // net under that rule, so odd YAML still ends in a message.
        problems.add(e.mark, "", fmt::format("cannot decode: {}", e.msg));
    }
    if (!problems.empty()) {
        throw config_error(problems.messages());
    }
    d.cfg.source_file = name;
    return std::move(d.cfg);
}

config load_file(const std::string& path) { return load_string(read_whole_file(path), path); }

}  // namespace sbc::config
