// session_description: sofia-sip parses the peer's SDP; the rewrite edits a
// deep copy of the parsed session and lets sofia's printer write it out.
//
// Working on the parsed structure (not on the peer's text) is what makes the
// topology hiding hold: whatever sofia skipped (unknown line types, lines
// after a malformed one, odd line endings) never reaches the other leg,
// because only what is in the structure, and passed the filters below, is
// printed.
#include "sbc/sdp/session_description.hpp"

#include <fmt/format.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <vector>

#include "dataplane/api/ice_credentials.hpp"
#include "sbc/common/c_handle.hpp"

namespace sbc::sdp {

namespace {

using parser_handle = c_handle<sdp_parser_t, sdp_parser_free>;
using printer_handle = c_handle<sdp_printer_t, sdp_printer_free>;
using home_handle = c_handle<su_home_t, su_home_unref>;

// Not strict: phones routinely send a=rtpmap for payload types missing from
// the m= line, or omit t=; sofia then ignores what it cannot use. Mode
// manual: direction attributes stay attributes, so a port-0 stream keeps its
// attributes and the direction is read exactly as RFC 4566 6 says (media
// level over session level over sendrecv). Garbage still fails: the first
// line must be v=0, o= must be there, and every live stream needs a c=.
constexpr int parse_flags = sdp_f_mode_manual;
constexpr int print_flags = sdp_f_mode_manual;

// Attributes of the anchored stream that reach the other leg. An allow-list,
// so topology hiding holds for attributes nobody thought of (RFC 5853): ICE
// (RFC 8839: candidate, remote-candidates, ice-ufrag, ice-pwd, ice-options,
// ice-lite, ...) would let the far side reach the peer around the SBC; SSRC
// cnames and a=tool name hosts and software; BUNDLE (RFC 9143) would move
// other streams onto the RTP port, while the SBC relays one stream only.
// rtcp-mux (RFC 5761) is negotiated per leg, so the peer's never passes:
// the SBC states its own (rewrite_params::rtcp_mux).
// rtpmap and fmtp appear here only for transports sofia does not know as RTP
// (it files them under m_rtpmaps otherwise, and they print from there).
// crypto (RFC 4568 SDES keys) is not on it: the SBC terminates SRTP on
// each leg and states keys of its own (rewrite_params::crypto).
constexpr std::array<const char*, 9> kept_media_attributes = {
    "rtpmap",   "fmtp",     "ptime",    "maxptime", "rtcp-fb",
    "sendrecv", "sendonly", "recvonly", "inactive",
};

constexpr std::array<const char*, 4> direction_names = {"sendrecv", "sendonly", "recvonly",
                                                        "inactive"};

bool is_direction_attribute(const char* name) {
    for (const char* d : direction_names) {
        if (strcasecmp(name, d) == 0) {
            return true;
        }
    }
    return false;
}

bool is_kept_media_attribute(const char* name) {
    for (const char* k : kept_media_attributes) {
        if (strcasecmp(name, k) == 0) {
            return true;
        }
    }
    return false;
}

direction from_mode(sdp_mode_t mode) {
    switch (mode) {
        case sdp_sendonly:
            return direction::sendonly;
        case sdp_recvonly:
            return direction::recvonly;
        case sdp_inactive:
            return direction::inactive;
        case sdp_sendrecv:
            break;
    }
    return direction::sendrecv;
}

std::vector<std::string_view> split_words(std::string_view text) {
    std::vector<std::string_view> words;
    while (!text.empty()) {
        auto start = text.find_first_not_of(" \t");
        if (start == std::string_view::npos) {
            break;
        }
        text.remove_prefix(start);
        auto end = text.find_first_of(" \t");
        words.push_back(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    }
    return words;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port > 65535) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
}

// RFC 4566 9: token-char, the characters sofia-sip's TOKEN set holds too.
bool is_token_char(char c) {
    static constexpr std::string_view extra = "-!#$%&'*+.^_`{|}~";
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
}

bool is_token(std::string_view word) {
    return !word.empty() && std::all_of(word.begin(), word.end(), is_token_char);
}

bool is_digits(std::string_view word) {
    return !word.empty() &&
           std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// proto = token *("/" token)
bool is_proto(std::string_view word) {
    for (;;) {
        auto slash = word.find('/');
        if (!is_token(word.substr(0, slash))) {
            return false;
        }
        if (slash == std::string_view::npos) {
            return true;
        }
        word.remove_prefix(slash + 1);
    }
}

// RFC 4566 5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
bool is_media_line(std::string_view rest) {
    auto words = split_words(rest);
    if (words.size() < 3 || !is_token(words[0]) || !is_proto(words[2])) {
        return false;
    }
    auto slash = words[1].find('/');
    if (!is_digits(words[1].substr(0, slash)) ||
        (slash != std::string_view::npos && !is_digits(words[1].substr(slash + 1)))) {
        return false;
    }
    return std::all_of(words.begin() + 3, words.end(), is_token);
}

// Debian's sofia-sip (1.12.11) loops allocating until memory runs out on an
// m= line of a transport it does not know as RTP whose format list holds a
// character outside its token set ("m=audio 4000 RT /AVP 0"); upstream fixed
// it in 2022 ("fix parse m-line"), Debian has not. So every m= line, split
// into lines as sofia splits them (any run of CR and LF; sofia stops at a
// NUL), must follow the grammar before sofia sees the body.
bool media_lines_well_formed(std::string_view body) {
    body = body.substr(0, body.find('\0'));
    while (!body.empty()) {
        auto eol = body.find_first_of("\r\n");
        auto line = body.substr(0, eol);
        body.remove_prefix(eol == std::string_view::npos ? body.size() : eol + 1);
        auto start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos) {
            continue;
        }
        line.remove_prefix(start);
        if (line.size() >= 2 && line[0] == 'm' && line[1] == '=' &&
            !is_media_line(line.substr(2))) {
            return false;
        }
    }
    return true;
}

// The connection address that applies to a stream, checked to be what the
// data plane can send to: a unicast IP literal of the type c= claims.
result<dataplane::ip_endpoint> connection_target(const sdp_connection_t* c, unsigned long port) {
    if (c == nullptr || c->c_address == nullptr) {
        return make_error("no c= line for the audio stream");
    }
    if (c->c_mcast || c->c_ttl != 0) {
        return make_error(fmt::format("multicast c= address '{}' is not supported", c->c_address));
    }
    auto ep = dataplane::ip_endpoint::from_string(c->c_address, static_cast<std::uint16_t>(port));
    // Host names would need a resolver on the signaling path; refused for now.
    if (!ep) {
        return make_error(fmt::format("c= address '{}' is not an IP address", c->c_address));
    }
    int expected = c->c_addrtype == sdp_addr_ip6 ? AF_INET6 : AF_INET;
    if (ep->family() != expected) {
        return make_error(
            fmt::format("c= address '{}' does not match its address type", c->c_address));
    }
    return *ep;
}

// RFC 3605 2.1: "a=rtcp:" port [nettype space addrtype space connection-address].
// Without the attribute RTCP goes to the RTP port + 1 (RFC 3550 11).
result<dataplane::ip_endpoint> rtcp_target(const sdp_media_t* audio,
                                           const dataplane::ip_endpoint& rtp) {
    const sdp_attribute_t* a = sdp_attribute_find(audio->m_attributes, "rtcp");
    auto ep = rtp;
    if (a == nullptr) {
        if (rtp.port() == 65535) {
            return make_error("audio m= port 65535 leaves no port for RTCP");
        }
        ep.set_port(rtp.port() == 0 ? 0 : static_cast<std::uint16_t>(rtp.port() + 1));
        return ep;
    }
    auto words = split_words(a->a_value != nullptr ? a->a_value : "");
    auto port = words.empty() ? std::nullopt : parse_port(words[0]);
    if (!port || (words.size() != 1 && words.size() != 4)) {
        return make_error("malformed a=rtcp attribute");
    }
    if (words.size() == 1) {
        ep.set_port(*port);
        return ep;
    }
    auto addr = dataplane::ip_endpoint::from_string(words[3], *port);
    int expected = words[2] == "IP6" ? AF_INET6 : AF_INET;
    if (words[1] != "IN" || !addr || addr->family() != expected) {
        return make_error("a=rtcp address is not an IP address of its type");
    }
    return *addr;
}

result<media_target> audio_target(const sdp_session_t* session, const sdp_media_t* audio) {
    if (audio->m_port > 65535) {
        return make_error("audio m= port out of range");
    }
    // RFC 4566 5.7: a media-level c= overrides the session-level one.
    const sdp_connection_t* c =
        audio->m_connections != nullptr ? audio->m_connections : session->sdp_connection;
    auto rtp = connection_target(c, audio->m_port);
    if (!rtp) {
        return make_error(rtp.error_message());
    }
    auto rtcp = rtcp_target(audio, *rtp);
    if (!rtcp) {
        return make_error(rtcp.error_message());
    }
    media_target t;
    t.rtp = *rtp;
    t.rtcp = *rtcp;
    t.port_zero = audio->m_port == 0;
    t.rtcp_mux = sdp_attribute_find(audio->m_attributes, "rtcp-mux") != nullptr;
    t.on_hold_address = rtp->is_unspecified();
    t.secure =
        audio->m_proto == sdp_proto_srtp ||
        (audio->m_proto_name != nullptr && (strcasecmp(audio->m_proto_name, "RTP/SAVP") == 0 ||
                                            strcasecmp(audio->m_proto_name, "RTP/SAVPF") == 0));
    // RFC 4566 6: a media-level direction overrides the session-level one.
    t.dir = from_mode(sdp_attribute_mode(
        audio->m_attributes, sdp_attribute_mode(session->sdp_attributes, sdp_sendrecv)));
    return t;
}

// --- rewrite helpers: everything is allocated in the rewrite's own home ---

sdp_connection_t* make_connection(su_home_t* home, const std::string& address, bool v6) {
    auto* c = static_cast<sdp_connection_t*>(su_salloc(home, sizeof(sdp_connection_t)));
    if (c != nullptr) {
        c->c_nettype = sdp_net_in;
        c->c_addrtype = v6 ? sdp_addr_ip6 : sdp_addr_ip4;
        c->c_address = su_strdup(home, address.c_str());
        c->c_groups = 1;
    }
    return c;
}

void append_attribute(su_home_t* home, sdp_attribute_t** list, const char* name,
                      const char* value) {
    auto* a = static_cast<sdp_attribute_t*>(su_salloc(home, sizeof(sdp_attribute_t)));
    if (a == nullptr) {
        return;
    }
    a->a_name = name;
    a->a_value = value;
    while (*list != nullptr) {
        list = &(*list)->a_next;
    }
    *list = a;
}

// Unlinks every attribute `keep` says no to; the nodes stay in the home.
template <typename Keep>
void filter_attributes(sdp_attribute_t** list, Keep keep) {
    while (*list != nullptr) {
        if ((*list)->a_name != nullptr && keep((*list)->a_name)) {
            list = &(*list)->a_next;
        } else {
            *list = (*list)->a_next;
        }
    }
}

// Debian's sofia-sip (1.12.11, 2011) files every b= type but CT and AS under
// "AS" without a name, so b=TIAS:64000 (bit/s) would leave as b=AS:64000
// (kbit/s). Only the types sofia names itself pass; b= is advisory (RFC 4566
// 5.8), and a missing b=RS/RR means the RTCP defaults (RFC 3556).
void keep_named_bandwidths(sdp_bandwidth_t** list) {
    while (*list != nullptr) {
        if ((*list)->b_modifier == sdp_bw_ct || (*list)->b_modifier_name != nullptr) {
            list = &(*list)->b_next;
        } else {
            *list = (*list)->b_next;
        }
    }
}

// RFC 3264 6: a declined stream keeps its m= line, port 0 and its format
// list; nothing else about it is of use to the other side.
void decline(sdp_media_t* m) {
    m->m_port = 0;
    m->m_number_of_ports = 0;
    m->m_information = nullptr;
    m->m_connections = nullptr;
    m->m_bandwidths = nullptr;
    m->m_key = nullptr;
    m->m_attributes = nullptr;
    for (sdp_rtpmap_t* rm = m->m_rtpmaps; rm != nullptr; rm = rm->rm_next) {
        rm->rm_predef = 1;  // the printer then lists the payload type in m= only
        rm->rm_fmtp = nullptr;
    }
}

// RFC 3711 12 / RFC 5124: the secure profiles differ from the plain ones
// by the S alone, and feedback (the F) is the peer's to keep.
void set_profile(sdp_media_t* m, bool secure) {
    const char* name = m->m_proto_name != nullptr ? m->m_proto_name : "";
    bool feedback = strcasecmp(name, "RTP/AVPF") == 0 || strcasecmp(name, "RTP/SAVPF") == 0;
    if (feedback) {
        m->m_proto = sdp_proto_x;
        m->m_proto_name = secure ? "RTP/SAVPF" : "RTP/AVPF";
    } else if (m->m_proto == sdp_proto_rtp || m->m_proto == sdp_proto_srtp) {
        m->m_proto = secure ? sdp_proto_srtp : sdp_proto_rtp;
        m->m_proto_name = secure ? "RTP/SAVP" : "RTP/AVP";
    }
}

// RFC 3551 6, Table 4: the audio payload types with a static meaning, for
// m= entries without an a=rtpmap (CN, 13, is RFC 3389's). 1, 2 and 19 are
// reserved; video types never name an audio stream's format.
struct static_entry {
    const char* encoding;
    std::uint32_t clock_rate;
    unsigned channels;
};

constexpr std::array<static_entry, 19> static_audio_types = {{
    {"PCMU", 8000, 1}, {"", 0, 1},         {"", 0, 1},         {"GSM", 8000, 1},  {"G723", 8000, 1},
    {"DVI4", 8000, 1}, {"DVI4", 16000, 1}, {"LPC", 8000, 1},   {"PCMA", 8000, 1}, {"G722", 8000, 1},
    {"L16", 44100, 2}, {"L16", 44100, 1},  {"QCELP", 8000, 1}, {"CN", 8000, 1},   {"MPA", 90000, 1},
    {"G728", 8000, 1}, {"DVI4", 11025, 1}, {"DVI4", 22050, 1}, {"G729", 8000, 1},
}};

format static_format(unsigned pt) {
    format f;
    f.payload_type = static_cast<std::uint8_t>(pt);
    if (pt < static_audio_types.size()) {
        f.encoding = static_audio_types[pt].encoding;
        f.clock_rate = static_audio_types[pt].clock_rate;
        f.channels = static_audio_types[pt].channels;
    }
    return f;
}

template <typename T>
std::optional<T> parse_number(std::string_view text, T max) {
    T value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > max) {
        return std::nullopt;
    }
    return value;
}

// RFC 3551 4.1 / RFC 4566 6: an audio rtpmap's encoding parameters are the
// channel count, 1 when absent; anything else unreadable counts as 1 too.
unsigned channels_of(const char* params) {
    auto n = params != nullptr ? parse_number<unsigned>(params, 255) : std::nullopt;
    return n && *n > 0 ? *n : 1U;
}

// The value of an a=rtpmap or a=fmtp attribute sofia left as an attribute
// (transports it does not know as RTP): "<pt> <rest>".
std::optional<std::string_view> value_for(const sdp_attribute_t* attributes, const char* name,
                                          unsigned pt) {
    for (const sdp_attribute_t* a = attributes; a != nullptr; a = a->a_next) {
        if (a->a_name == nullptr || a->a_value == nullptr || strcasecmp(a->a_name, name) != 0) {
            continue;
        }
        std::string_view v = a->a_value;
        auto space = v.find_first_of(" \t");
        if (space == std::string_view::npos ||
            parse_number<unsigned>(v.substr(0, space), 127) != pt) {
            continue;
        }
        v.remove_prefix(space);
        v.remove_prefix(std::min(v.size(), v.find_first_not_of(" \t")));
        return v;
    }
    return std::nullopt;
}

// "<encoding>/<clock rate>[/<encoding parameters>]" (RFC 4566 6).
bool parse_rtpmap_value(std::string_view v, format& f) {
    auto words = split_words(v);
    if (words.empty()) {
        return false;
    }
    std::string_view text = words[0];
    auto slash = text.find('/');
    if (slash == std::string_view::npos || !is_token(text.substr(0, slash))) {
        return false;
    }
    auto rest = text.substr(slash + 1);
    auto slash2 = rest.find('/');
    auto rate = parse_number<std::uint32_t>(rest.substr(0, slash2), 0xffffffffU);
    if (!rate) {
        return false;
    }
    f.encoding = std::string(text.substr(0, slash));
    f.clock_rate = *rate;
    f.channels = slash2 == std::string_view::npos
                     ? 1U
                     : channels_of(std::string(rest.substr(slash2 + 1)).c_str());
    return true;
}

std::vector<format> formats_of(const sdp_media_t* m) {
    std::vector<format> out;
    if (m->m_rtpmaps != nullptr) {
        // A transport sofia knows as RTP: it made one rtpmap per m= entry,
        // from the a=rtpmap line or (rm_predef) from its own static table.
        for (const sdp_rtpmap_t* rm = m->m_rtpmaps; rm != nullptr; rm = rm->rm_next) {
            if (rm->rm_any) {
                continue;
            }
            format f = static_format(rm->rm_pt);
            if (!rm->rm_predef && rm->rm_encoding != nullptr && *rm->rm_encoding != '\0') {
                f.encoding = rm->rm_encoding;
                f.clock_rate = static_cast<std::uint32_t>(rm->rm_rate);
                f.channels = channels_of(rm->rm_params);
            }
            f.fmtp = rm->rm_fmtp != nullptr ? rm->rm_fmtp : "";
            out.push_back(std::move(f));
        }
        return out;
    }
    // Otherwise (RTP/AVPF, RTP/SAVPF in Debian's sofia) the m= entries are
    // text and rtpmap and fmtp are plain attributes.
    for (const sdp_list_t* l = m->m_format; l != nullptr; l = l->l_next) {
        auto pt = l->l_text != nullptr ? parse_number<unsigned>(l->l_text, 127) : std::nullopt;
        if (!pt) {
            continue;
        }
        format f = static_format(*pt);
        if (auto v = value_for(m->m_attributes, "rtpmap", *pt)) {
            format named = f;
            if (parse_rtpmap_value(*v, named)) {
                f = named;
            }
        }
        if (auto v = value_for(m->m_attributes, "fmtp", *pt)) {
            f.fmtp = std::string(*v);
        }
        out.push_back(std::move(f));
    }
    return out;
}

unsigned ptime_of(const sdp_attribute_t* attributes) {
    const sdp_attribute_t* a = sdp_attribute_find(attributes, "ptime");
    if (a == nullptr || a->a_value == nullptr) {
        return 0;
    }
    auto words = split_words(a->a_value);
    auto ms = words.size() == 1 ? parse_number<unsigned>(words[0], 100000) : std::nullopt;
    return ms.value_or(0);
}

bool printable_on_one_line(std::string_view text) {
    return std::none_of(text.begin(), text.end(),
                        [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// rewrite_params::formats: the m= entries, rtpmaps and fmtps are the
// caller's. sofia prints the m= line and the rtpmap/fmtp lines from
// m_rtpmaps whenever it is set, whatever the transport.
void replace_formats(su_home_t* home, sdp_media_t* m, const std::vector<format>& formats) {
    const auto peer = formats_of(m);
    std::vector<unsigned> same;  // payload types that keep the peer's meaning
    sdp_rtpmap_t* list = nullptr;
    sdp_rtpmap_t** tail = &list;
    std::size_t written = 0;
    for (const auto& f : formats) {
        if (f.payload_type > 127 || !is_token(f.encoding) || !printable_on_one_line(f.fmtp)) {
            continue;
        }
        auto* rm = static_cast<sdp_rtpmap_t*>(su_salloc(home, sizeof(sdp_rtpmap_t)));
        if (rm == nullptr) {
            continue;
        }
        rm->rm_pt = f.payload_type;
        rm->rm_predef = 0;
        rm->rm_encoding = su_strdup(home, f.encoding.c_str());
        rm->rm_rate = f.clock_rate;
        rm->rm_params = f.channels > 1 ? su_sprintf(home, "%u", f.channels) : nullptr;
        rm->rm_fmtp = f.fmtp.empty() ? nullptr : su_strdup(home, f.fmtp.c_str());
        *tail = rm;
        tail = &rm->rm_next;
        ++written;
        bool kept = std::any_of(peer.begin(), peer.end(), [&](const format& p) {
            return p.payload_type == f.payload_type && p.clock_rate == f.clock_rate &&
                   strcasecmp(p.encoding.c_str(), f.encoding.c_str()) == 0;
        });
        if (kept) {
            same.push_back(f.payload_type);
        }
    }
    m->m_rtpmaps = list;
    m->m_format = nullptr;
    // RFC 4585 4.2: a=rtcp-fb:<pt>|* — feedback the peer stated for a codec
    // must not end up attached to another one under the same number.
    for (sdp_attribute_t** a = &m->m_attributes; *a != nullptr;) {
        const char* name = (*a)->a_name != nullptr ? (*a)->a_name : "";
        bool drop = strcasecmp(name, "rtpmap") == 0 || strcasecmp(name, "fmtp") == 0;
        if (!drop && strcasecmp(name, "rtcp-fb") == 0) {
            auto words = split_words((*a)->a_value != nullptr ? (*a)->a_value : "");
            if (words.empty()) {
                drop = true;
            } else if (words[0] == "*") {
                drop = same.size() != written;
            } else {
                auto pt = parse_number<unsigned>(words[0], 127);
                drop = !pt || std::find(same.begin(), same.end(), *pt) == same.end();
            }
        }
        if (drop) {
            *a = (*a)->a_next;
        } else {
            a = &(*a)->a_next;
        }
    }
}

void anchor(su_home_t* home, sdp_media_t* m, const media_target& t, const rewrite_params& p) {
    if (t.port_zero) {
        decline(m);  // the peer rejected it; it stays rejected
        return;
    }
    m->m_port = p.local_rtp_port;
    m->m_number_of_ports = 0;
    m->m_information = nullptr;
    m->m_connections = nullptr;  // the session-level c= (ours) covers it
    m->m_key = nullptr;
    keep_named_bandwidths(&m->m_bandwidths);
    set_profile(m, p.secure);
    filter_attributes(&m->m_attributes, [](const char* name) {
        return is_kept_media_attribute(name) && !is_direction_attribute(name);
    });
    if (!p.formats.empty()) {
        replace_formats(home, m, p.formats);
    }
    if (p.ptime != 0) {
        filter_attributes(&m->m_attributes, [](const char* name) {
            return strcasecmp(name, "ptime") != 0 && strcasecmp(name, "maxptime") != 0;
        });
        append_attribute(home, &m->m_attributes, "ptime", su_sprintf(home, "%u", p.ptime));
    }
    for (const auto& c : p.crypto) {
        append_attribute(home, &m->m_attributes, "crypto", su_strdup(home, c.c_str()));
    }
    // RFC 3605: our RTCP port, stated even where it is the default, so the
    // peer's a=rtcp (and any address in it) is always replaced. A muxed
    // answer receives RTCP on the RTP port (RFC 5761 5.1.1); an offer of
    // mux names RTP + 1 for a peer that declines it (RFC 5761 5.1.3).
    if (p.rtcp_mux == rtcp_mux_attribute::answer) {
        append_attribute(home, &m->m_attributes, "rtcp",
                         su_sprintf(home, "%u", unsigned{p.local_rtp_port}));
    } else if (p.local_rtp_port < 65535) {
        append_attribute(home, &m->m_attributes, "rtcp",
                         su_sprintf(home, "%u", unsigned{p.local_rtp_port} + 1U));
    }
    if (p.rtcp_mux != rtcp_mux_attribute::none) {
        append_attribute(home, &m->m_attributes, "rtcp-mux", nullptr);
    }
    // Always explicit on the stream, so the session-level one can go.
    append_attribute(home, &m->m_attributes, to_string(p.dir.value_or(stated_direction(t))),
                     nullptr);
    if (p.ice) {
        // RFC 8839 5.4 and 5.1: the SBC's credentials and host candidates
        // (the peer's went with the allow-list above).
        for (auto& line : ice_media_lines(*p.ice, p.local_address, p.local_rtp_port,
                                          p.rtcp_mux == rtcp_mux_attribute::answer)) {
            append_attribute(home, &m->m_attributes, line.name,
                             su_strdup(home, line.value.c_str()));
        }
    }
}

void scrub_session(su_home_t* home, sdp_session_t* s, const rewrite_params& p) {
    bool v6 = p.local_address.find(':') != std::string::npos;
    if (auto ep = dataplane::ip_endpoint::from_string(p.local_address, 0)) {
        v6 = ep->family() == AF_INET6;
    }
    auto* origin = static_cast<sdp_origin_t*>(su_salloc(home, sizeof(sdp_origin_t)));
    if (origin != nullptr) {
        origin->o_username = "sbc";
        origin->o_id = p.origin_session_id;
        origin->o_version = p.origin_version;
        origin->o_address = make_connection(home, p.local_address, v6);
    }
    s->sdp_next = nullptr;
    s->sdp_origin = origin;
    s->sdp_subject = "sbc";  // RFC 4566 5.3: mandatory, says nothing about the peer
    // i=, u=, e=, p= describe people and hosts; k= is obsolete (RFC 8866 5.12)
    // and a key must not cross in the clear.
    s->sdp_information = nullptr;
    s->sdp_uri = nullptr;
    s->sdp_emails = nullptr;
    s->sdp_phones = nullptr;
    s->sdp_key = nullptr;
    s->sdp_charset = nullptr;
    s->sdp_connection = make_connection(home, p.local_address, v6);
    keep_named_bandwidths(&s->sdp_bandwidths);
    if (s->sdp_time == nullptr) {
        // RFC 4566 5.9: t= is mandatory, whatever the peer sent.
        s->sdp_time = static_cast<sdp_time_t*>(su_salloc(home, sizeof(sdp_time_t)));
    }
    // Session-level attributes: none is needed, the anchored stream states
    // its direction itself; the rest (group, ice-*, tool, ...) is the peer's.
    s->sdp_attributes = nullptr;
    if (p.ice) {
        // RFC 8839 5.3: a lite agent says so at session level.
        for (auto& line : ice_session_lines()) {
            append_attribute(home, &s->sdp_attributes, line.name,
                             line.value.empty() ? nullptr : su_strdup(home, line.value.c_str()));
        }
    }
}

}  // namespace

// RFC 3264 8.4: the old c=0.0.0.0 hold becomes a direction attribute, since
// c= must keep naming the SBC for the relay to work.
direction stated_direction(const media_target& t) noexcept {
    if (!t.on_hold_address) {
        return t.dir;
    }
    return t.dir == direction::recvonly || t.dir == direction::inactive ? direction::inactive
                                                                        : direction::sendonly;
}

const char* to_string(direction d) noexcept {
    switch (d) {
        case direction::sendonly:
            return "sendonly";
        case direction::recvonly:
            return "recvonly";
        case direction::inactive:
            return "inactive";
        case direction::sendrecv:
            break;
    }
    return "sendrecv";
}

struct session_description::impl {
    parser_handle parser;  ///< owns the session and every string in it
    const sdp_session_t* session = nullptr;
    std::size_t audio_index = 0;  ///< which m= line (0-based) is anchored
};

session_description::session_description(std::unique_ptr<impl> i) : _impl(std::move(i)) {}
session_description::session_description(session_description&&) noexcept = default;
session_description& session_description::operator=(session_description&&) noexcept = default;
session_description::~session_description() = default;

result<session_description> session_description::parse(std::string_view body) {
    if (body.empty()) {
        return make_error("empty SDP body");
    }
    if (!media_lines_well_formed(body)) {
        return make_error("malformed SDP: bad m= line");
    }
    // No parent home: the parser owns a home of its own and frees it.
    parser_handle parser(
        sdp_parse(nullptr, body.data(), static_cast<issize_t>(body.size()), parse_flags));
    const sdp_session_t* session = sdp_session(parser.get());
    if (session == nullptr) {
        const char* why = parser ? sdp_parsing_error(parser.get()) : nullptr;
        return make_error(fmt::format("malformed SDP: {}", why != nullptr ? why : "cannot parse"));
    }

    const sdp_media_t* audio = nullptr;
    std::size_t index = 0;
    for (const sdp_media_t* m = session->sdp_media; m != nullptr; m = m->m_next, ++index) {
        if (m->m_type == sdp_media_audio) {
            audio = m;
            break;
        }
    }
    if (audio == nullptr) {
        return make_error("no audio m= line");
    }
    auto target = audio_target(session, audio);
    if (!target) {
        return make_error(target.error_message());
    }

    auto i = std::make_unique<impl>();
    i->parser = std::move(parser);
    i->session = session;
    i->audio_index = index;
    session_description sd(std::move(i));
    sd._audio = *target;
    return sd;
}

std::vector<std::string> session_description::crypto_attributes() const {
    std::vector<std::string> values;
    std::size_t index = 0;
    for (const sdp_media_t* m = _impl->session->sdp_media; m != nullptr; m = m->m_next, ++index) {
        if (index != _impl->audio_index) {
            continue;
        }
        for (const sdp_attribute_t* a = m->m_attributes; a != nullptr; a = a->a_next) {
            if (a->a_name != nullptr && strcasecmp(a->a_name, "crypto") == 0) {
                values.emplace_back(a->a_value != nullptr ? a->a_value : "");
            }
        }
    }
    return values;
}

std::optional<ice_attributes> session_description::ice() const {
    const sdp_media_t* audio = _impl->session->sdp_media;
    for (std::size_t i = 0; audio != nullptr && i < _impl->audio_index; ++i) {
        audio = audio->m_next;
    }
    // RFC 8839 5.4: media level, else session level.
    const auto value_of = [&](const char* name) -> std::string {
        const sdp_attribute_t* a =
            audio != nullptr ? sdp_attribute_find(audio->m_attributes, name) : nullptr;
        if (a == nullptr) {
            a = sdp_attribute_find(_impl->session->sdp_attributes, name);
        }
        return a != nullptr && a->a_value != nullptr ? a->a_value : "";
    };
    ice_attributes peer{value_of("ice-ufrag"), value_of("ice-pwd")};
    if (!dataplane::ice_credentials{peer.ufrag, peer.pwd, {}}.invalid_because().empty()) {
        return std::nullopt;
    }
    return peer;
}

std::vector<format> session_description::formats() const {
    std::size_t index = 0;
    for (const sdp_media_t* m = _impl->session->sdp_media; m != nullptr; m = m->m_next, ++index) {
        if (index == _impl->audio_index) {
            return formats_of(m);
        }
    }
    return {};
}

unsigned session_description::ptime() const {
    std::size_t index = 0;
    for (const sdp_media_t* m = _impl->session->sdp_media; m != nullptr; m = m->m_next, ++index) {
        if (index == _impl->audio_index) {
            // RFC 4566 6 defines ptime at media level; a session-level one,
            // which some phones send, is taken as applying to every stream.
            unsigned ms = ptime_of(m->m_attributes);
            return ms != 0 ? ms : ptime_of(_impl->session->sdp_attributes);
        }
    }
    return 0;
}

std::string session_description::rewrite(const rewrite_params& p) const {
    home_handle home(static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    if (!home) {
        return {};
    }
    sdp_session_t* s = sdp_session_dup(home.get(), _impl->session);
    if (s == nullptr) {
        return {};
    }
    scrub_session(home.get(), s, p);
    std::size_t index = 0;
    for (sdp_media_t* m = s->sdp_media; m != nullptr; m = m->m_next, ++index) {
        if (index == _impl->audio_index) {
            anchor(home.get(), m, _audio, p);
        } else {
            decline(m);
        }
    }
    printer_handle printer(sdp_print(home.get(), s, nullptr, 0, print_flags));
    const char* text = sdp_message(printer.get());
    if (text == nullptr) {
        return {};  // only when sofia's printer runs out of memory
    }
    return std::string(text, sdp_message_size(printer.get()));
}

}  // namespace sbc::sdp
