// Decoding each section of the YAML into the structs of config.hpp. The
// checks here need one map at a time; validate.cpp does the ones across maps.
#include "sbc/config/decode.hpp"

#include "sbc/common/text.hpp"
#include "sbc/config/address.hpp"
#include "sbc/config/profiles.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

namespace sbc::config::detail {

namespace {

constexpr std::string_view listen_expected = "udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT";
constexpr std::string_view peer_expected =
    "sip:HOST[:PORT][;transport=udp|tcp|tls], sips:HOST[:PORT] or HOST[:PORT] (HOST an IP "
    "address or a host name), or a map with uri, "
    "priority and weight";
// RFC 3550 11: RTP on an even port, RTCP on the next odd one.
constexpr std::string_view even_port =
    "an even port (RTP takes the even ports, RTCP the next odd one)";
// sockaddr_un::sun_path holds 108 bytes with the terminating NUL.
constexpr std::size_t max_socket_path = 107;

std::optional<ip_address> read_ip(problem_list& p, const located& at, std::string_view what) {
    auto text = read_string(p, at, what);
    if (!text) {
        return std::nullopt;
    }
    auto ip = parse_ip(*text);
    if (!ip) {
        expected(p, at, what);
    }
    return ip;
}

std::optional<std::string> read_path(decoded& d, problem_list& p, const located& at) {
    constexpr std::string_view what = "an absolute file or directory path";
    auto text = read_string(p, at, what);
    if (text && (text->empty() || text->front() != '/' || text->find('\0') != std::string::npos)) {
        expected(p, at, what);
        return std::nullopt;
    }
    if (text) {
        d.marks[at.path] = at.mark;
    }
    return text;
}

std::optional<tls_config> decode_tls(decoded& d, problem_list& p, const located& at) {
    auto m = map_reader::open(
        p, at,
        {"certificate", "private_key", "ca_file", "ca_dir", "ciphers", "ciphersuites",
         "min_version"},
        "a TLS identity: a map with certificate, private_key and ca_file or ca_dir");
    if (!m) {
        return std::nullopt;
    }
    tls_config tc;
    tc.mark = to_source_mark(at.mark);
    if (auto v = m->require("certificate", "a PEM certificate chain file")) {
        tc.certificate = read_path(d, p, *v).value_or("");
    }
    if (auto v = m->require("private_key", "a PEM private key file")) {
        tc.private_key = read_path(d, p, *v).value_or("");
    }
    auto ca_file = m->find("ca_file");
    auto ca_dir = m->find("ca_dir");
    if (ca_file) {
        tc.ca_file = read_path(d, p, *ca_file).value_or("");
    }
    if (ca_dir) {
        tc.ca_dir = read_path(d, p, *ca_dir).value_or("");
    }
    if (!ca_file && !ca_dir) {
        // Mutual TLS needs a trust store: without one no peer could be verified.
        p.add(at.mark, at.path,
              "required key missing: ca_file or ca_dir (expected the CAs that sign the "
              "peers' certificates)");
    }
    for (auto [key, field] :
         {std::pair{"ciphers", &tc.ciphers}, std::pair{"ciphersuites", &tc.ciphersuites}}) {
        if (auto v = m->find(key)) {
            constexpr std::string_view what = "an OpenSSL cipher list";
            auto text = read_string(p, *v, what);
            if (text && (text->empty() || text->find('\0') != std::string::npos)) {
                expected(p, *v, what);
            } else if (text) {
                *field = *text;
                d.marks[v->path] = v->mark;
            }
        }
    }
    if (auto v = m->find("min_version")) {
        constexpr std::string_view what = "\"1.2\" or \"1.3\" (older TLS is never allowed)";
        auto text = read_string(p, *v, what);
        if (text && (*text == "1.2" || *text == "1.3")) {
            tc.min_version = *text;
        } else if (text) {
            expected(p, *v, what);
        }
    }
    return tc;
}

void decode_interface(decoded& d, problem_list& p, const located& at) {
    auto m = map_reader::open(
        p, at, {"name", "listen", "media_address", "fqdn", "tls", "allow_sources", "flood"},
        "an interface: a map with name, listen and media_address");
    if (!m) {
        d.all_interface_names = false;
        return;
    }
    interface_config ic;
    ic.mark = to_source_mark(at.mark);
    if (auto v = m->require("name", name_expected)) {
        ic.name = read_name(d, p, *v).value_or("");
    }
    d.all_interface_names = d.all_interface_names && !ic.name.empty();
    const std::string list_expected = fmt::format("a list of {}", listen_expected);
    if (auto v = m->require("listen", list_expected)) {
        for (const auto& e : read_list(p, *v, list_expected, true)) {
            auto text = read_string(p, e, listen_expected);
            if (!text) {
                continue;
            }
            auto uri = parse_listen(*text);
            if (!uri) {
                rejected(p, e, uri.error_message());
                continue;
            }
            ic.listen.push_back(*uri);
            d.listeners.push_back(
                {*uri, e.path, e.mark, d.cfg.interfaces.size(), describe(e.node)});
        }
    }
    constexpr std::string_view address_expected = "an IP address the media and the SDP use";
    if (auto v = m->require("media_address", address_expected)) {
        if (auto ip = read_ip(p, *v, address_expected)) {
            if (ip->is_unspecified()) {
                // RFC 4566 5.7: c= names where to send media; 0.0.0.0 says "nowhere".
                expected(p, *v, "a unicast address; 0.0.0.0 and :: cannot go into SDP");
            } else {
                ic.media_address = ip->text;
            }
        }
    }
    if (auto v = m->find("fqdn")) {
        decode_fqdn(p, *v, ic);
    }
    if (auto v = m->find("tls")) {
        ic.tls = decode_tls(d, p, *v);
    }
    if (auto v = m->find("allow_sources")) {
        ic.allow_sources = read_sources(p, *v);
    }
    if (auto v = m->find("flood")) {
        decode_flood(p, *v, ic.flood);
    }
    d.interface_paths.push_back(at.path);
    d.cfg.interfaces.push_back(std::move(ic));
}

void decode_peers(decoded& d, problem_list& p, const located& at, trunk_config& tc, bool need_one) {
    const std::string list_expected = fmt::format("a list of peers, {}", peer_expected);
    const auto first_peer = d.peers.size();
    for (const auto& entry : read_list(p, at, list_expected, need_one)) {
        located e = entry;
        std::optional<map_reader> m;
        if (entry.node.IsMap()) {
            m = map_reader::open(p, entry, {"uri", "priority", "weight"},
                                 "a peer: a map with uri, priority and weight");
            if (!m) {
                continue;
            }
            auto uri = m->require("uri", "the peer's SIP URI");
            if (!uri) {
                continue;
            }
            e = *uri;
        }
        auto text = read_string(p, e, peer_expected);
        if (!text) {
            continue;
        }
        auto peer = parse_peer(*text);
        if (!peer) {
            rejected(p, e, peer.error_message());
            continue;
        }
        if (m) {
            if (auto v = m->find("priority")) {
                peer->priority = static_cast<unsigned>(
                    read_number(p, *v, 0, 65535, "a priority 0..65535 (lower is tried first)")
                        .value_or(peer->priority));
            }
            if (auto v = m->find("weight")) {
                peer->weight = static_cast<unsigned>(
                    read_number(p, *v, 0, 65535, "a weight 0..65535").value_or(peer->weight));
            }
        }
        if (!peer->is_name && parse_ip(peer->host)->is_unspecified()) {
            expected(p, e, "a peer's own address, not 0.0.0.0 or ::");
            continue;
        }
        auto same = std::find_if(d.peers.begin() + static_cast<std::ptrdiff_t>(first_peer),
                                 d.peers.end(), [&](const placed<peer_config>& q) {
                                     return q.value.host == peer->host &&
                                            q.value.port == peer->port &&
                                            q.value.proto == peer->proto;
                                 });
        if (same != d.peers.end()) {
            p.add(
                e.mark, e.path,
                fmt::format("duplicate peer; first given on line {}", position(same->mark).first));
            continue;
        }
        tc.peers.push_back(*peer);
        d.peers.push_back({*peer, e.path, e.mark, d.cfg.trunks.size(), describe(e.node)});
    }
}

void decode_forward_headers(problem_list& p, const located& at, trunk_config& tc) {
    if (!at.node.IsSequence()) {
        read_list(p, at, "a list of header names ([] forwards none)", false);  // reports it
        return;
    }
    std::vector<std::string> headers;
    std::vector<YAML::Mark> marks;
    for (const auto& e : read_list(p, at, "a list of header names", false)) {
        auto name = read_string(p, e, "a header name");
        if (!name) {
            continue;
        }
        if (!is_header_token(*name)) {
            expected(p, e, "a header name (RFC 3261 25.1 token)");
            continue;
        }
        if (is_never_forwarded_header(*name)) {
            // RFC 5853 3.1: these carry one side's addresses, dialog identity or
            // per-leg negotiation; the B2BUA builds them for each leg itself.
            expected(p, e,
                     "a header the SBC does not build itself; Via, Route, Record-Route, "
                     "Contact, Call-ID, From, To, CSeq, Max-Forwards, Content-* and the others "
                     "listed in conf/README.md are never forwarded");
            continue;
        }
        auto same = std::find_if(headers.begin(), headers.end(),
                                 [&](const std::string& h) { return iequals(h, *name); });
        if (same != headers.end()) {
            const auto first = marks[static_cast<std::size_t>(same - headers.begin())];
            p.add(e.mark, e.path,
                  fmt::format("duplicate header; first given on line {}", position(first).first));
            continue;
        }
        headers.push_back(*name);
        marks.push_back(e.mark);
    }
    tc.forward_headers = std::move(headers);
}

void decode_codecs(problem_list& p, const located& at, trunk_config& tc) {
    constexpr std::string_view what = "a codec: opus, PCMU, PCMA, G722, G729 or telephone-event";
    std::vector<codec> codecs;
    bool audio = false;
    for (const auto& e : read_list(p, at, "a list of codecs in order of preference", true)) {
        auto text = read_string(p, e, what);
        if (!text) {
            continue;
        }
        std::optional<codec> c;
        for (auto candidate : {codec::opus, codec::pcmu, codec::pcma, codec::g722, codec::g729,
                               codec::telephone_event}) {
            // RFC 4566 6: encoding names compare case-insensitively.
            if (iequals(*text, to_string(candidate))) {
                c = candidate;
            }
        }
        if (!c) {
            expected(p, e, what);
            continue;
        }
        if (std::find(codecs.begin(), codecs.end(), *c) != codecs.end()) {
            expected(p, e, "each codec once");
            continue;
        }
        audio = audio || *c != codec::telephone_event;
        codecs.push_back(*c);
    }
    if (!codecs.empty() && !audio) {
        expected(p, at, "at least one audio codec besides telephone-event");
    }
    if (!codecs.empty()) {
        tc.codecs = std::move(codecs);
    }
}

void decode_srtp_suites(problem_list& p, const located& at, trunk_config& tc) {
    constexpr std::string_view what =
        "an SRTP suite: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AEAD_AES_128_GCM, "
        "AEAD_AES_256_GCM, AES_256_CM_HMAC_SHA1_80 or AES_256_CM_HMAC_SHA1_32";
    std::vector<srtp_suite> suites;
    for (const auto& e : read_list(p, at, "a list of SRTP suites in order of preference", true)) {
        auto text = read_string(p, e, what);
        if (!text) {
            continue;
        }
        std::optional<srtp_suite> s;
        for (auto candidate :
             {srtp_suite::aes_cm_128_hmac_sha1_80, srtp_suite::aes_cm_128_hmac_sha1_32,
              srtp_suite::aead_aes_128_gcm, srtp_suite::aead_aes_256_gcm,
              srtp_suite::aes_256_cm_hmac_sha1_80, srtp_suite::aes_256_cm_hmac_sha1_32}) {
            if (*text == to_string(candidate)) {  // RFC 4568 9.1: case-sensitive
                s = candidate;
            }
        }
        if (!s) {
            expected(p, e, what);
        } else if (std::find(suites.begin(), suites.end(), *s) != suites.end()) {
            expected(p, e, "each suite once");
        } else {
            suites.push_back(*s);
        }
    }
    if (!suites.empty()) {
        tc.srtp_suites = std::move(suites);
    }
}

void decode_keepalive(problem_list& p, const located& at, keepalive_config& kc) {
    auto m = map_reader::open(p, at, {"interval", "timeout", "down_after", "up_after"},
                              "a map of keep-alive settings");
    if (!m) {
        return;
    }
    read_number_into(p, *m, "interval", 0, 3600,
                     "a number of seconds 0..3600 (0: no OPTIONS pings)", kc.interval_seconds);
    read_number_into(p, *m, "timeout", 1, 60, "a number of seconds 1..60", kc.timeout_seconds);
    read_number_into(p, *m, "down_after", 1, 100, "a count 1..100", kc.down_after);
    read_number_into(p, *m, "up_after", 1, 100, "a count 1..100", kc.up_after);
}

void decode_trunk_tls(problem_list& p, const located& at, trunk_tls_config& tc) {
    auto m = map_reader::open(p, at, {"verify", "identities"}, "a map with verify and identities");
    if (!m) {
        return;
    }
    if (auto v = m->find("verify")) {
        constexpr std::string_view what = "true or false";
        auto text = read_string(p, *v, what);
        if (text && (*text == "true" || *text == "false")) {
            tc.verify = *text == "true";
        } else if (text) {
            expected(p, *v, what);
        }
    }
    if (auto v = m->find("identities")) {
        constexpr std::string_view what = "a DNS name or an IP address";
        for (const auto& e : read_list(p, *v, "a list of DNS names or IP addresses", false)) {
            auto text = read_string(p, e, what);
            if (!text) {
                continue;
            }
            // RFC 1035 2.3.1 host names (with a leading '*.' wildcard as RFC
            // 6125 6.4.3 allows), or an IP literal.
            bool ok = !text->empty() && text->size() <= 253 &&
                      std::all_of(text->begin(), text->end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':' ||
                                 c == '*';
                      });
            if (!ok) {
                expected(p, e, what);
                continue;
            }
            tc.identities.push_back(*text);
        }
    }
}

// A profile's own peers, for a trunk that lists none. They are decoded as
// if the trunk had listed them, and the problems found later in them (an
// interface without a TLS listener, say) point at the `profile` key.
void decode_profile_peers(decoded& d, problem_list& p, const located& profile_at,
                          trunk_config& tc) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const auto& peer : profile_peers(tc.profile)) {
        YAML::Node entry(YAML::NodeType::Map);
        entry["uri"] = peer.uri;
        entry["priority"] = peer.priority;
        list.push_back(entry);
    }
    const auto first = d.peers.size();
    decode_peers(d, p, located{list, profile_at.mark, profile_at.path}, tc, true);
    for (auto i = first; i < d.peers.size(); ++i) {
        d.peers[i].mark = profile_at.mark;
        d.peers[i].path = profile_at.path;
    }
}

// sbc_header: {name: X-..., value: ...}. An extension header alone, with a
// value of printable characters (no CR or LF can reach the wire).
void decode_sbc_header(problem_list& p, const located& at, trunk_config& tc) {
    auto m = map_reader::open(p, at, {"name", "value"}, "a map with name and value");
    if (!m) {
        return;
    }
    trunk_config::header_line h;
    if (auto v = m->require("name", "an extension header name, X-...")) {
        static const std::regex extension("X-[A-Za-z0-9-]{1,64}", std::regex::icase);
        auto text = read_string(p, *v, "an extension header name, X-...");
        if (text && std::regex_match(*text, extension)) {
            h.name = *text;
        } else if (text) {
            expected(p, *v, "an extension header name, X- and up to 64 letters, digits or '-'");
            return;
        }
    }
    if (auto v = m->require("value", "the header's value")) {
        auto text = read_string(p, *v, "the header's value");
        const bool printable =
            text && !text->empty() && text->size() <= 256 &&
            std::all_of(text->begin(), text->end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
        if (text && !printable) {
            expected(p, *v, "1..256 printable ASCII characters");
            return;
        }
        if (text) {
            h.value = *text;
        }
    }
    if (!h.name.empty() && !h.value.empty()) {
        tc.sbc_header = h;
    }
}

// name, interface and peers: who the trunk is and where it sends calls.
void decode_trunk_identity(decoded& d, problem_list& p, const map_reader& m, trunk_config& tc,
                           const std::optional<located>& profile_at) {
    if (auto v = m.require("name", name_expected)) {
        tc.name = read_name(d, p, *v).value_or("");
    }
    d.all_trunk_names = d.all_trunk_names && !tc.name.empty();
    if (auto v = m.require("interface", "the name of an interface")) {
        tc.interface = read_name(d, p, *v).value_or("");
    }
    // A registrar's trunk reaches the contacts registered with it; peers
    // of its own are optional.
    const bool registrar = m.find("registrar").has_value();
    // A profile that brings its peers makes the trunk's own optional.
    const bool profile_peers_given = profile_at && !profile_peers(tc.profile).empty();
    const auto peers_expected = fmt::format("a list of peers, {}", peer_expected);
    if (auto v = registrar || profile_peers_given ? m.find("peers")
                                                  : m.require("peers", peers_expected)) {
        decode_peers(d, p, *v, tc, !registrar);
    } else if (profile_peers_given) {
        decode_profile_peers(d, p, *profile_at, tc);
    }
}

// Runs after the trunk's codecs are known: inband tones need G.711 among them.
void decode_dtmf(problem_list& p, const located& at, trunk_config& tc) {
    auto mode = read_choice<dtmf_mode>(p, at, "rfc4733, info or inband",
                                       {{"rfc4733", dtmf_mode::rfc4733},
                                        {"info", dtmf_mode::info},
                                        {"inband", dtmf_mode::inband}});
    if (!mode) {
        return;
    }
    // Tones survive only G.711: a compressed codec's model of speech
    // distorts them past what a receiver detects.
    const bool g711 = std::any_of(tc.codecs.begin(), tc.codecs.end(),
                                  [](codec c) { return c == codec::pcmu || c == codec::pcma; });
    if (*mode == dtmf_mode::inband && !g711) {
        expected(p, at, "rfc4733 or info (inband needs PCMU or PCMA in the trunk's codecs)");
        return;
    }
    tc.dtmf = *mode;
}

// codecs, dtmf and hold: what the trunk's media may carry, and how a hold
// is said to it.
void decode_trunk_media(problem_list& p, const map_reader& m, trunk_config& tc) {
    if (auto v = m.find("codecs")) {
        decode_codecs(p, *v, tc);
    }
    if (auto v = m.find("dtmf")) {
        decode_dtmf(p, *v, tc);
    }
    if (auto v = m.find("hold")) {
        tc.hold = read_choice<hold_style>(p, *v, "pass, inactive or sendonly",
                                          {{"pass", hold_style::pass},
                                           {"inactive", hold_style::inactive},
                                           {"sendonly", hold_style::sendonly}})
                      .value_or(tc.hold);
    }
}

// srtp, srtp_suites, rtcp_mux and ice: whether and how the trunk's media
// is encrypted, whether its RTCP shares the RTP port, and whether the SBC
// answers ICE checks on it.
void decode_trunk_srtp(problem_list& p, const map_reader& m, trunk_config& tc) {
    if (auto v = m.find("srtp")) {
        tc.srtp = read_choice<srtp_mode>(p, *v, "off, optional or required",
                                         {{"off", srtp_mode::off},
                                          {"optional", srtp_mode::optional},
                                          {"required", srtp_mode::required}})
                      .value_or(tc.srtp);
    }
    if (auto v = m.find("srtp_suites")) {
        decode_srtp_suites(p, *v, tc);
    }
    if (auto v = m.find("rtcp_mux")) {
        tc.rtcp_mux = read_choice<rtcp_mux_mode>(p, *v, "off, accept or offer",
                                                 {{"off", rtcp_mux_mode::off},
                                                  {"accept", rtcp_mux_mode::accept},
                                                  {"offer", rtcp_mux_mode::offer}})
                          .value_or(tc.rtcp_mux);
    }
    if (auto v = m.find("ice")) {
        tc.ice = read_choice<ice_mode>(p, *v, "off or lite",
                                       {{"off", ice_mode::off}, {"lite", ice_mode::lite}})
                     .value_or(tc.ice);
    }
}

// keepalive, failover_timeout and tls: how the SBC watches and reaches the
// trunk's peers.
void decode_trunk_peering(problem_list& p, const map_reader& m, trunk_config& tc) {
    if (auto v = m.find("keepalive")) {
        decode_keepalive(p, *v, tc.keepalive);
    }
    if (auto v = m.find("failover_timeout")) {
        tc.failover_timeout_seconds =
            static_cast<unsigned>(read_number(p, *v, 1, 300, "a number of seconds 1..300")
                                      .value_or(tc.failover_timeout_seconds));
    }
    if (auto v = m.find("tls")) {
        decode_trunk_tls(p, *v, tc.tls);
    }
}

// normalize, headers and limits: what the SBC changes in and allows of the
// trunk's requests.
void decode_trunk_policy(problem_list& p, const map_reader& m, trunk_config& tc) {
    if (auto v = m.find("normalize")) {
        decode_normalize(p, *v, tc.normalize);
    }
    if (auto v = m.find("headers")) {
        decode_header_rules(p, *v, tc.headers);
    }
    if (auto v = m.find("limits")) {
        decode_limits(p, *v, tc.limits);
    }
}

void decode_trunk(decoded& d, problem_list& p, const located& at) {
    auto m = map_reader::open(
        p, at, {"name",     "interface",     "peers",     "early_offer",      "forward_headers",
                "codecs",   "dtmf",          "keepalive", "failover_timeout", "tls",
                "srtp",     "srtp_suites",   "normalize", "headers",          "limits",
                "auth",     "register",      "challenge", "registrar",        "session_timer",
                "refer",    "rtcp_mux",      "profile",   "use_fqdn",         "sbc_header",
                "ringback", "ringback_tone", "hold",      "user_phone",       "replaces",
                "ice"},
        "a trunk: a map with name, interface and peers");
    if (!m) {
        d.all_trunk_names = false;
        return;
    }
    // The profile first: its defaults are what the trunk's own keys override.
    auto profile_at = m->find("profile");
    auto profile = trunk_profile::generic;
    if (profile_at) {
        profile = read_choice<trunk_profile>(p, *profile_at, "generic, microsoft or zoom",
                                             {{"generic", trunk_profile::generic},
                                              {"microsoft", trunk_profile::microsoft},
                                              {"zoom", trunk_profile::zoom}})
                      .value_or(profile);
    }
    trunk_config tc = profile_defaults(profile);
    tc.mark = to_source_mark(at.mark);
    decode_trunk_identity(d, p, *m, tc, profile_at);
    if (auto v = m->find("early_offer")) {
        tc.early_offer = read_choice<early_offer_policy>(p, *v, "pass, convert or reject",
                                                         {{"pass", early_offer_policy::pass},
                                                          {"convert", early_offer_policy::convert},
                                                          {"reject", early_offer_policy::reject}})
                             .value_or(tc.early_offer);
    }
    if (auto v = m->find("forward_headers")) {
        decode_forward_headers(p, *v, tc);
    }
    decode_trunk_media(p, *m, tc);
    // Problems found at one position are reported in the order of these calls.
    decode_trunk_peering(p, *m, tc);
    decode_trunk_srtp(p, *m, tc);
    decode_trunk_policy(p, *m, tc);
    decode_trunk_auth(d, p, *m, tc);
    if (auto v = m->find("session_timer")) {
        decode_session_timer(p, *v, tc.session_timer);
    }
    if (auto v = m->find("use_fqdn")) {
        constexpr std::string_view what = "true or false";
        auto text = read_string(p, *v, what);
        if (text && (*text == "true" || *text == "false")) {
            tc.use_fqdn = *text == "true";
            d.marks[v->path] = v->mark;
        } else if (text) {
            expected(p, *v, what);
        }
    }
    if (auto v = m->find("sbc_header")) {
        decode_sbc_header(p, *v, tc);
    }
    if (auto v = m->find("user_phone")) {
        tc.user_phone = read_flag(p, *v).value_or(tc.user_phone);
    }
    if (auto v = m->find("refer")) {
        tc.refer = read_choice<refer_policy>(
                       p, *v, "reject or handle",
                       {{"reject", refer_policy::reject}, {"handle", refer_policy::handle}})
                       .value_or(tc.refer);
    }
    if (auto v = m->find("ringback")) {
        tc.ringback = read_choice<ringback_mode>(
                          p, *v, "off or local",
                          {{"off", ringback_mode::off}, {"local", ringback_mode::local}})
                          .value_or(tc.ringback);
    }
    if (auto v = m->find("ringback_tone")) {
        tc.ringback_tone = read_choice<ringback_style>(p, *v, "us, eu or uk",
                                                       {{"us", ringback_style::us},
                                                        {"eu", ringback_style::eu},
                                                        {"uk", ringback_style::uk}})
                               .value_or(tc.ringback_tone);
    }
    if (auto v = m->find("replaces")) {
        tc.replaces = read_choice<replaces_policy>(p, *v, "pass or terminate",
                                                   {{"pass", replaces_policy::pass},
                                                    {"terminate", replaces_policy::terminate}})
                          .value_or(tc.replaces);
    }
    d.trunk_paths.push_back(at.path);
    d.cfg.trunks.push_back(std::move(tc));
}

// Checks across the keys of media, made only with values that decoded well so
// that a bad port is reported once and not again as a bad range.
void check_port_range(problem_list& p, const media_config& mc, const located* min_at,
                      const located* max_at, const located& media_at) {
    if (min_at != nullptr && mc.port_min % 2 != 0) {
        expected(p, *min_at, even_port);
        return;
    }
    if (mc.port_min > mc.port_max) {
        if (max_at != nullptr) {
            expected(p, *max_at, fmt::format("a port not below port_min {}", mc.port_min));
        } else if (min_at != nullptr) {
            expected(p, *min_at, fmt::format("a port not above port_max {}", mc.port_max));
        }
        return;
    }
    const unsigned pairs = (unsigned{mc.port_max} - mc.port_min + 1) / 2;
    if (pairs < 2) {
        const located& at = max_at != nullptr ? *max_at : (min_at != nullptr ? *min_at : media_at);
        p.add(at.mark, at.path,
              fmt::format("expected a range of at least 2 RTP/RTCP port pairs "
                          "(got {}..{}: {} {})",
                          mc.port_min, mc.port_max, pairs, pairs == 1 ? "pair" : "pairs"));
    }
}

void decode_ports(problem_list& p, const map_reader& m, media_config& mc) {
    constexpr std::string_view port = "a port number 1..65535";
    auto min_at = m.find("port_min");
    auto max_at = m.find("port_max");
    std::optional<std::uint64_t> min = mc.port_min;
    std::optional<std::uint64_t> max = mc.port_max;
    if (min_at) {
        min = read_number(p, *min_at, 1, 65535, port);
    }
    if (max_at) {
        max = read_number(p, *max_at, 1, 65535, port);
    }
    mc.port_min = static_cast<std::uint16_t>(min.value_or(mc.port_min));
    mc.port_max = static_cast<std::uint16_t>(max.value_or(mc.port_max));
    if (min && max) {
        check_port_range(p, mc, min_at ? &*min_at : nullptr, max_at ? &*max_at : nullptr, m.self());
    } else if (min && min_at && *min % 2 != 0) {
        expected(p, *min_at, even_port);
    }
}

void decode_dpdk_port(decoded& d, problem_list& p, const located& at, dpdk_config& dc) {
    auto m = map_reader::open(p, at, {"interface", "device", "prefix", "exception_interface"},
                              "a DPDK port: a map with interface and device");
    if (!m) {
        return;
    }
    dpdk_port_config pc;
    pc.mark = to_source_mark(at.mark);
    if (auto v = m->require("interface", "the name of an interface")) {
        pc.interface = read_string(p, *v, "the name of an interface").value_or("");
        d.marks[v->path] = v->mark;
    }
    if (auto v = m->require("device", "a DPDK device: a PCI address or a virtual device string")) {
        pc.device = read_string(p, *v, "a DPDK device: a PCI address or a virtual device string")
                        .value_or("");
    }
    if (auto v = m->find("prefix")) {
        pc.prefix = static_cast<unsigned>(
            read_number(p, *v, 1, 128, "a prefix length 1..128").value_or(pc.prefix));
    }
    pc.exception_interface = "sbc-" + pc.interface;
    if (auto v = m->find("exception_interface")) {
        constexpr std::string_view what = "a network interface name of 1 to 15 characters";
        auto text = read_string(p, *v, what);
        if (text && (text->size() > 15 || text->find_first_of(" /:") != std::string::npos)) {
            expected(p, *v, what);
        } else if (text) {
            pc.exception_interface = *text;
        }
    }
    if (pc.exception_interface.size() > 15) {
        expected(p, at,
                 "exception_interface (\"sbc-\" + the interface name is longer than 15 "
                 "characters)");
    }
    dc.ports.push_back(std::move(pc));
}

void decode_dpdk(decoded& d, problem_list& p, const located& at, dpdk_config& dc) {
    auto m =
        map_reader::open(p, at, {"eal_args", "lcores", "mbufs", "ports"}, "a map of DPDK settings");
    if (!m) {
        return;
    }
    if (auto v = m->find("eal_args")) {
        for (const auto& e : read_list(p, *v, "a list of EAL arguments", false)) {
            if (auto text = read_string(p, e, "an EAL argument")) {
                dc.eal_args.push_back(*text);
            }
        }
    }
    if (auto v = m->find("lcores")) {
        std::vector<unsigned> lcores;
        for (const auto& e : read_list(p, *v, "a list of lcore numbers", true)) {
            if (auto n = read_number(p, e, 0, 1023, "an lcore number 0..1023")) {
                if (std::find(lcores.begin(), lcores.end(), *n) != lcores.end()) {
                    expected(p, e, "each lcore once");
                } else {
                    lcores.push_back(static_cast<unsigned>(*n));
                }
            }
        }
        if (!lcores.empty()) {
            dc.lcores = std::move(lcores);
        }
    }
    if (auto v = m->find("mbufs")) {
        dc.mbufs = static_cast<unsigned>(
            read_number(p, *v, 1023, 4194303, "a number of mbufs 1023..4194303")
                .value_or(dc.mbufs));
    }
    if (auto v = m->find("ports")) {
        for (const auto& e : read_list(p, *v, "a list of DPDK ports", true)) {
            decode_dpdk_port(d, p, e, dc);
        }
    }
}

void decode_media(decoded& d, problem_list& p, const located& at, media_config& mc) {
    if (at.node.IsNull()) {
        return;  // "media:" with every key commented out: all defaults
    }
    auto m =
        map_reader::open(p, at, {"port_min", "port_max", "backend", "workers", "timeout", "dpdk"},
                         "a map of media settings");
    if (!m) {
        return;
    }
    decode_ports(p, *m, mc);
    std::optional<located> backend_at = m->find("backend");
    if (backend_at) {
        constexpr std::string_view what = "kernel or dpdk";
        auto text = read_string(p, *backend_at, what);
        if (text && *text != "kernel" && *text != "dpdk") {
            expected(p, *backend_at, what);
        } else if (text) {
            mc.backend = *text;
            d.marks[backend_at->path] = backend_at->mark;
        }
    }
    if (auto v = m->find("workers")) {
        mc.workers = static_cast<unsigned>(
            read_number(p, *v, 1, 64, "a number of workers 1..64").value_or(mc.workers));
    }
    if (auto v = m->find("dpdk")) {
        decode_dpdk(d, p, *v, mc.dpdk);
        d.dpdk_path = v->path;
    }
    if (mc.backend == "dpdk" && mc.dpdk.ports.empty()) {
        expected(p, *backend_at, "kernel, or dpdk with a port per interface in media.dpdk.ports");
    }
    if (auto v = m->find("timeout")) {
        mc.timeout_seconds =
            static_cast<unsigned>(read_number(p, *v, 1, 86400, "a number of seconds 1..86400")
                                      .value_or(mc.timeout_seconds));
    }
}

void decode_control(problem_list& p, const located& at, control_config& cc) {
    if (at.node.IsNull()) {
        return;
    }
    auto m = map_reader::open(p, at, {"socket"}, "a map of control settings");
    if (!m) {
        return;
    }
    if (auto v = m->find("socket")) {
        const auto what = fmt::format("an absolute path for the control socket, at most {} bytes",
                                      max_socket_path);
        auto text = read_string(p, *v, what);
        if (text && (text->empty() || text->front() != '/' || text->size() > max_socket_path ||
                     text->find('\0') != std::string::npos)) {
            expected(p, *v, what);
        } else if (text) {
            cc.socket = *text;
        }
    }
}

// Decodes each entry of a required list; false when the list itself is
// missing or not a list (an empty one is reported but counts as read).
template <typename Decode>
bool decode_list(problem_list& p, const map_reader& root, std::string_view key,
                 std::string_view what, Decode decode_entry) {
    auto v = root.require(key, what);
    if (!v) {
        return false;
    }
    auto entries = read_list(p, *v, what, true);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        decode_entry(entries[i], i);
    }
    return v->node.IsSequence();
}

}  // namespace

void expected(problem_list& p, const located& at, std::string_view what) {
    p.add(at.mark, at.path, fmt::format("expected {} (got {})", what, describe(at.node)));
}

void rejected(problem_list& p, const located& at, std::string_view message) {
    p.add(at.mark, at.path, fmt::format("{} (got {})", message, describe(at.node)));
}

source_mark to_source_mark(const YAML::Mark& mark) {
    const auto [line, column] = position(mark);
    return source_mark{line, column};
}

std::optional<std::string> read_name(decoded& d, problem_list& p, const located& at) {
    auto text = read_string(p, at, name_expected);
    if (text && !is_valid_name(*text)) {
        expected(p, at, name_expected);
        return std::nullopt;
    }
    if (text) {
        d.marks[at.path] = at.mark;
    }
    return text;
}

void read_number_into(problem_list& p, const map_reader& m, std::string_view key, std::uint64_t min,
                      std::uint64_t max, std::string_view what, unsigned& field) {
    if (auto v = m.find(key)) {
        field = static_cast<unsigned>(read_number(p, *v, min, max, what).value_or(field));
    }
}

std::optional<bool> read_flag(problem_list& p, const located& at) {
    constexpr std::string_view what = "true or false";
    auto text = read_string(p, at, what);
    if (text && (*text == "true" || *text == "false")) {
        return *text == "true";
    }
    if (text) {
        expected(p, at, what);
    }
    return std::nullopt;
}

bool is_valid_name(std::string_view name) noexcept {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

bool is_header_token(std::string_view name) noexcept {
    constexpr std::string_view marks = "-.!%*_+`'~";
    return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               marks.find(c) != std::string_view::npos;
    });
}

decoded decode_document(problem_list& p, const located& root) {
    decoded d;
    auto m = map_reader::open(
        p, root,
        {"interfaces", "trunks", "routes", "media", "control", "dns", "cdr", "cluster", "metrics"},
        "a map with interfaces, trunks, routes, media, control, dns, cdr, cluster and metrics");
    if (!m) {
        d.all_interface_names = false;
        d.all_trunk_names = false;
        return d;
    }
    if (!decode_list(p, *m, "interfaces", "a list of interfaces",
                     [&](const located& e, std::size_t) { decode_interface(d, p, e); })) {
        d.all_interface_names = false;
    }
    if (!decode_list(p, *m, "trunks", "a list of trunks",
                     [&](const located& e, std::size_t) { decode_trunk(d, p, e); })) {
        d.all_trunk_names = false;
    }
    decode_list(p, *m, "routes", "a list of routes",
                [&](const located& e, std::size_t i) { decode_route(d, p, e, i); });
    if (auto v = m->find("media")) {
        decode_media(d, p, *v, d.cfg.media);
    }
    if (auto v = m->find("dns")) {
        decode_dns(p, *v, d.cfg.dns);
    }
    if (auto v = m->find("control")) {
        decode_control(p, *v, d.cfg.control);
    }
    if (auto v = m->find("cdr")) {
        d.cfg.cdr = decode_cdr(d, p, *v);
    }
    if (auto v = m->find("cluster")) {
        d.cfg.cluster = decode_cluster(d, p, *v);
    }
    if (auto v = m->find("metrics")) {
        d.cfg.metrics = decode_metrics(p, *v);
    }
    return d;
}

}  // namespace sbc::config::detail
