#include "sbc/sdp/offer_builder.hpp"

#include <fmt/format.h>
#include <sofia-sip/sdp.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_string.h>

#include <algorithm>

#include "sbc/common/c_handle.hpp"

namespace sbc::sdp {

namespace {

using parser_handle = c_handle<sdp_parser_t, sdp_parser_free>;
using home_handle = c_handle<su_home_t, su_home_unref>;

/// A format of an offer or answer: payload type, and for dynamic ones the
/// encoding and clock rate.
struct named_format {
    unsigned pt;
    std::string encoding;
    unsigned long rate;
};

bool is_event_or_noise(const std::string& encoding) {
    // RFC 4733 telephone-event, RFC 3389 comfort noise.
    return su_casematch(encoding.c_str(), "telephone-event") ||
           su_casematch(encoding.c_str(), "CN");
}

const sdp_media_t* first_audio(const sdp_session_t* s) {
    for (const sdp_media_t* m = s ? s->sdp_media : nullptr; m != nullptr; m = m->m_next) {
        if (m->m_type == sdp_media_audio) {
            return m;
        }
    }
    return nullptr;
}

std::vector<named_format> named_formats_of(const sdp_media_t* m) {
    std::vector<named_format> out;
    for (const sdp_rtpmap_t* r = m->m_rtpmaps; r != nullptr; r = r->rm_next) {
        out.push_back({r->rm_pt, r->rm_encoding ? r->rm_encoding : "", r->rm_rate});
    }
    return out;
}

bool same_format(const named_format& a, const named_format& b) {
    // RFC 3551 6: payload types below 96 are static and mean the same everywhere.
    if (a.pt < 96 && b.pt < 96) {
        return a.pt == b.pt;
    }
    return su_casematch(a.encoding.c_str(), b.encoding.c_str()) && a.rate == b.rate;
}

std::string names(const std::vector<named_format>& fs) {
    std::string out;
    for (const auto& f : fs) {
        out += (out.empty() ? "" : ", ") + (f.encoding.empty() ? std::to_string(f.pt) : f.encoding);
    }
    return out.empty() ? "none" : out;
}

}  // namespace

format own_format(config::codec c) {
    switch (c) {
        case config::codec::pcmu:
            return {0, "PCMU", 8000, 1, ""};
        case config::codec::pcma:
            return {8, "PCMA", 8000, 1, ""};
        case config::codec::g722:
            // RFC 3551 4.5.2: 16 kHz audio, but an 8000 Hz RTP clock.
            return {9, "G722", 8000, 1, ""};
        case config::codec::g729:
            // RFC 4856 2.1.9: Annex B is on unless the fmtp says annexb=no.
            return {18, "G729", 8000, 1, "annexb=no"};
        case config::codec::opus:
            // RFC 7587 7: always opus/48000/2; the SBC's decoder can use FEC.
            return {111, "opus", 48000, 2, "useinbandfec=1"};
        case config::codec::telephone_event:
            break;
    }
    // RFC 4733 7.1.1: the DTMF events 0-15 and flash (16).
    return {101, "telephone-event", 8000, 1, "0-16"};
}

result<std::string> build_offer(const std::vector<config::codec>& codecs, const rewrite_params& p) {
    if (std::none_of(codecs.begin(), codecs.end(),
                     [](config::codec c) { return c != config::codec::telephone_event; })) {
        return make_error("no audio codec to offer");
    }
    const bool v6 = p.local_address.find(':') != std::string::npos;
    const char* ip = v6 ? "IP6" : "IP4";
    std::string pts;
    std::string attributes;
    for (auto c : codecs) {
        auto f = own_format(c);
        pts += fmt::format(" {}", f.payload_type);
        attributes += fmt::format("a=rtpmap:{} {}/{}", f.payload_type, f.encoding, f.clock_rate);
        attributes += f.channels > 1 ? fmt::format("/{}\r\n", f.channels) : "\r\n";
        if (!f.fmtp.empty()) {
            attributes += fmt::format("a=fmtp:{} {}\r\n", f.payload_type, f.fmtp);
        }
    }
    for (const auto& c : p.crypto) {
        attributes += fmt::format("a=crypto:{}\r\n", c);
    }
    std::string session_ice;
    std::string media_ice;
    if (p.ice) {
        // RFC 8839 5.3, 5.4, 5.1: the SBC as an ICE-lite agent; an offer
        // keeps component 2 for a peer that declines a=rtcp-mux.
        for (const auto& line : ice_session_lines()) {
            session_ice +=
                fmt::format("a={}{}{}\r\n", line.name, line.value.empty() ? "" : ":", line.value);
        }
        for (const auto& line : ice_media_lines(*p.ice, p.local_address, p.local_rtp_port,
                                                p.rtcp_mux == rtcp_mux_attribute::answer)) {
            media_ice += fmt::format("a={}:{}\r\n", line.name, line.value);
        }
    }
    return fmt::format(
        "v=0\r\n"
        "o=sbc {} {} IN {} {}\r\n"
        "s=sbc\r\n"
        "c=IN {} {}\r\n"
        "t=0 0\r\n"
        "{}"
        "m=audio {} {}{}\r\n"
        "{}"
        "a=ptime:20\r\n"
        "a=sendrecv\r\n"
        "a=rtcp:{}\r\n"
        "{}{}",
        p.origin_session_id, p.origin_version, ip, p.local_address, ip, p.local_address,
        session_ice, p.local_rtp_port, p.secure ? "RTP/SAVP" : "RTP/AVP", pts, attributes,
        p.local_rtp_port + 1,
        // RFC 5761 5.1.1; a=rtcp above is the fallback of 5.1.3.
        p.rtcp_mux == rtcp_mux_attribute::none ? "" : "a=rtcp-mux\r\n", media_ice);
}

result<bool> check_answer(std::string_view offer, std::string_view answer) {
    // session_description::parse refuses what sofia's parser would mishandle.
    auto checked = session_description::parse(answer);
    if (!checked) {
        return make_error("unusable answer: " + checked.error_message());
    }
    if (checked->audio().port_zero) {
        return make_error("the answer rejects the audio stream (port 0)");
    }
    home_handle home(static_cast<su_home_t*>(su_home_new(sizeof(su_home_t))));
    if (!home) {
        return make_error("out of memory");
    }
    const std::string offer_text(offer);
    const std::string answer_text(answer);
    parser_handle op(
        sdp_parse(home.get(), offer_text.c_str(), static_cast<issize_t>(offer_text.size()), 0));
    parser_handle ap(
        sdp_parse(home.get(), answer_text.c_str(), static_cast<issize_t>(answer_text.size()), 0));
    const sdp_media_t* om = first_audio(op ? sdp_session(op.get()) : nullptr);
    const sdp_media_t* am = first_audio(ap ? sdp_session(ap.get()) : nullptr);
    if (om == nullptr || am == nullptr) {
        return make_error(om == nullptr ? "the offer has no audio stream"
                                        : "the answer has no audio stream");
    }
    const auto offered = named_formats_of(om);
    const auto answered = named_formats_of(am);
    for (const auto& a : answered) {
        if (is_event_or_noise(a.encoding)) {
            continue;
        }
        for (const auto& o : offered) {
            if (same_format(a, o)) {
                return true;
            }
        }
    }
    return make_error(
        fmt::format("the answer names no codec the offer had (offered {}; answered {})",
                    names(offered), names(answered)));
}

}  // namespace sbc::sdp
