#include "sbc/sdp/session_description.hpp"

#include <fmt/format.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "sbc/common/c_handle.hpp"

namespace sbc::sdp {

namespace {

using parser_handle = c_handle<sdp_parser_t, sdp_parser_free>;

// RFC 4566 and its extensions: attributes that name the peer's addresses or
// belong to a transport the SBC does not relay end to end. ICE (RFC 8839)
// candidates and credentials would let the far side reach the peer directly;
// rtcp-mux (RFC 5761) and BUNDLE (RFC 9143) would move media onto ports the
// SBC does not anchor: it relays RTCP on its own RTP port + 1 and one stream.
constexpr std::array<std::string_view, 11> dropped_attributes = {
    "candidate", "remote-candidates", "end-of-candidates", "ice-ufrag", "ice-pwd", "ice-options",
    "ice-lite",  "ice-mismatch",      "rtcp-mux",          "group",     "rtcp",
};

constexpr std::array<std::string_view, 4> direction_names = {"sendrecv", "sendonly", "recvonly",
                                                             "inactive"};

std::string_view attribute_name(std::string_view line) {
    // "a=name:value" or "a=name"
    auto body = line.substr(2);
    return body.substr(0, body.find(':'));
}

std::optional<direction> direction_of(std::string_view attr) {
    for (size_t i = 0; i < direction_names.size(); ++i) {
        if (attr == direction_names[i]) {
            return static_cast<direction>(i);
        }
    }
    return std::nullopt;
}

std::optional<direction> direction_in(const sdp_attribute_t* a) {
    for (; a != nullptr; a = a->a_next) {
        if (a->a_name != nullptr) {
            if (auto d = direction_of(a->a_name)) {
                return d;
            }
        }
    }
    return std::nullopt;
}

const sdp_attribute_t* find_attribute(const sdp_attribute_t* a, std::string_view name) {
    for (; a != nullptr; a = a->a_next) {
        if (a->a_name != nullptr && name == a->a_name) {
            return a;
        }
    }
    return nullptr;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        auto eol = text.find('\n');
        auto line = text.substr(0, eol);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (!line.empty()) {
            lines.push_back(line);
        }
        if (eol == std::string_view::npos) {
            break;
        }
        text.remove_prefix(eol + 1);
    }
    return lines;
}

// RFC 3605: "a=rtcp:PORT [IN IP4 ADDRESS]".
std::optional<dataplane::ip_endpoint> rtcp_target(const char* value,
                                                  const dataplane::ip_endpoint& rtp) {
    if (value == nullptr) {
        return std::nullopt;
    }
    std::string_view v = value;
    unsigned port = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
    if (ec != std::errc() || port == 0 || port > 65535) {
        return std::nullopt;
    }
    std::string_view rest(end, static_cast<size_t>(v.data() + v.size() - end));
    auto last_space = rest.rfind(' ');
    if (last_space != std::string_view::npos && rest.find("IN ") != std::string_view::npos) {
        auto address = rest.substr(last_space + 1);
        return dataplane::ip_endpoint::from_string(address, static_cast<std::uint16_t>(port));
    }
    auto ep = rtp;
    ep.set_port(static_cast<std::uint16_t>(port));
    return ep;
}

// Whether a line of the peer's SDP other than m= passes into ours.
bool is_copied(std::string_view l, bool hold_rewritten, bool in_declined_stream) {
    if (in_declined_stream) {
        return false;  // a declined stream keeps only its m= line (RFC 3264 6)
    }
    switch (l[0]) {
        case 'v':
        case 'o':
        case 's':
        case 'c':  // ours stands at session level and covers every stream
        case 'i':
        case 'u':
        case 'e':
        case 'p':  // descriptions and contacts can name people and hosts
        case 'k':  // obsolete (RFC 8866 5.12), and a key must never cross
            return false;
        case 'a': {
            auto name = attribute_name(l);
            if (std::find(dropped_attributes.begin(), dropped_attributes.end(), name) !=
                dropped_attributes.end()) {
                return false;
            }
            return !(hold_rewritten && direction_of(name));  // replaced by the hold direction
        }
        default:
            return true;  // b=, t=, r=, z=
    }
}

// "m=<media> <port>[/<n>] <proto> <fmt> ..." with another port.
std::string with_port(std::string_view m_line, unsigned port) {
    auto first_space = m_line.find(' ');
    auto second_space =
        first_space == std::string_view::npos ? first_space : m_line.find(' ', first_space + 1);
    if (second_space == std::string_view::npos) {
        return std::string(m_line);  // the parser accepted it, so this cannot happen
    }
    return fmt::format("m={} {}{}", m_line.substr(2, first_space - 2), port,
                       m_line.substr(second_space));
}

// Where the peer receives the stream `audio` of `session` (RFC 4566 5.7:
// media-level c= overrides session-level; RFC 3605 a=rtcp, else RTP + 1).
result<media_target> audio_target(const sdp_session_t* session, const sdp_media_t* audio) {
    const sdp_connection_t* c =
        audio->m_connections != nullptr ? audio->m_connections : session->sdp_connection;
    if (c == nullptr || c->c_address == nullptr) {
        return make_error("no c= line for the audio stream");
    }
    if (audio->m_port > 65535) {
        return make_error("audio m= port out of range");
    }
    auto rtp = dataplane::ip_endpoint::from_string(c->c_address,
                                                   static_cast<std::uint16_t>(audio->m_port));
    if (!rtp) {
        return make_error(fmt::format("c= address '{}' is not an IP address", c->c_address));
    }

    media_target t;
    t.rtp = *rtp;
    t.port_zero = audio->m_port == 0;
    t.on_hold_address = rtp->is_unspecified();
    auto rtcp = rtcp_target(
        [&]() -> const char* {
            const auto* a = find_attribute(audio->m_attributes, "rtcp");
            return a != nullptr ? a->a_value : nullptr;
        }(),
        *rtp);
    if (rtcp) {
        t.rtcp = *rtcp;
    } else {
        t.rtcp = *rtp;
        t.rtcp.set_port(static_cast<std::uint16_t>(audio->m_port + 1));  // RFC 3550 11
    }
    // RFC 4566 6: a media-level direction overrides the session-level one.
    t.dir = direction_in(audio->m_attributes)
                .value_or(direction_in(session->sdp_attributes).value_or(direction::sendrecv));

    return t;
}

}  // namespace

const char* to_string(direction d) noexcept {
    return direction_names[static_cast<size_t>(d)].data();
}

struct session_description::impl {
    std::string text;             ///< the peer's SDP as received
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
    su_home_t home[1] = {SU_HOME_INIT(home)};
    // sdp_f_mode_manual: direction attributes stay attributes, so the rewrite
    // passes them on exactly as the peer wrote them.
    parser_handle parser(
        sdp_parse(home, body.data(), static_cast<issize_t>(body.size()), sdp_f_mode_manual));
    sdp_session_t* session = parser ? sdp_session(parser.get()) : nullptr;
    if (session == nullptr) {
        const char* why = parser ? sdp_parsing_error(parser.get()) : nullptr;
        auto msg = fmt::format("malformed SDP: {}", why != nullptr ? why : "cannot parse");
        parser.reset();
        su_home_deinit(home);
        return make_error(std::move(msg));
    }

    auto fail = [&](std::string msg) {
        parser.reset();
        su_home_deinit(home);
        return result<session_description>(make_error(std::move(msg)));
    };

    const sdp_media_t* audio = nullptr;
    std::size_t index = 0;
    for (const sdp_media_t* m = session->sdp_media; m != nullptr; m = m->m_next, ++index) {
        if (m->m_type == sdp_media_audio) {
            audio = m;
            break;
        }
    }
    if (audio == nullptr) {
        return fail("no audio m= line");
    }
    auto target = audio_target(session, audio);
    if (!target) {
        return fail(target.error_message());
    }
    auto i = std::make_unique<impl>();
    i->text.assign(body.data(), body.size());
    i->audio_index = index;
    parser.reset();
    su_home_deinit(home);
    session_description sd(std::move(i));
    sd._audio = target.value();
    return sd;
}

std::string session_description::rewrite(const rewrite_params& p) const {
    const bool v6 = p.local_address.find(':') != std::string::npos;
    const char* addrtype = v6 ? "IP6" : "IP4";
    // RFC 3264 8.4: the old c=0.0.0.0 hold becomes a direction attribute,
    // since the SBC's own address must stay in c= for the relay to work.
    std::optional<direction> hold_dir;
    if (_audio.on_hold_address) {
        hold_dir = (_audio.dir == direction::recvonly || _audio.dir == direction::inactive)
                       ? direction::inactive
                       : direction::sendonly;
    }

    std::string out;
    out.reserve(_impl->text.size() + 64);
    auto line = [&out](std::string_view l) { out.append(l).append("\r\n"); };
    line("v=0");
    line(fmt::format("o=sbc {} {} IN {} {}", p.origin_session_id, p.origin_version, addrtype,
                     p.local_address));
    line("s=sbc");
    line(fmt::format("c=IN {} {}", addrtype, p.local_address));

    long media_index = -1;  // -1: session level
    bool anchored = false;
    bool seen_time = false;
    for (auto l : split_lines(_impl->text)) {
        if (l.size() < 2 || l[1] != '=') {
            continue;
        }
        if (l[0] != 'm') {
            if (is_copied(l, hold_dir.has_value(), media_index >= 0 && !anchored)) {
                seen_time = seen_time || l[0] == 't';
                line(l);
            }
            continue;
        }
        if (!seen_time && media_index < 0) {
            line("t=0 0");  // RFC 4566 5.9: mandatory, whatever the peer sent
            seen_time = true;
        }
        ++media_index;
        anchored = static_cast<std::size_t>(media_index) == _impl->audio_index;
        bool relayed = anchored && !_audio.port_zero;
        line(with_port(l, relayed ? p.local_rtp_port : 0));
        if (relayed) {
            line(fmt::format("a=rtcp:{}", p.local_rtp_port + 1));  // RFC 3605
            if (hold_dir) {
                line(fmt::format("a={}", to_string(*hold_dir)));
            }
        }
    }
    return out;
}

}  // namespace sbc::sdp
