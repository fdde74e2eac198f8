// Codec negotiation across the legs: see codec_plan.hpp for the rules.
//
// Formats are matched by encoding name and clock rate, never by number:
// session_description::formats() names the static payload types (RFC 3551
// 6), and dynamic numbers mean nothing across legs (RFC 3551 3).
#include "sbc/sdp/codec_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

#include "sbc/sdp/offer_builder.hpp"

namespace sbc::sdp {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    // RFC 4566 6: encoding names and fmtp parameter names are case-insensitive.
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

bool is_events(const format& f) { return same_name(f.encoding, "telephone-event"); }
bool is_noise(const format& f) { return same_name(f.encoding, "CN"); }

// A format that carries audio: not RFC 4733 events, not RFC 3389 comfort
// noise, and named (a dynamic number without an rtpmap says nothing).
bool is_audio(const format& f) { return !f.encoding.empty() && !is_events(f) && !is_noise(f); }

bool same_codec(const format& a, const format& b) {
    return a.clock_rate == b.clock_rate && same_name(a.encoding, b.encoding);
}

bool lists(const std::vector<config::codec>& codecs, config::codec c) {
    return std::find(codecs.begin(), codecs.end(), c) != codecs.end();
}

const format* find_same(const std::vector<format>& formats, const format& f) {
    auto it = std::find_if(formats.begin(), formats.end(),
                           [&](const format& g) { return same_codec(f, g); });
    return it != formats.end() ? &*it : nullptr;
}

bool has_number(const std::vector<format>& formats, std::uint8_t pt) {
    return std::any_of(formats.begin(), formats.end(),
                       [&](const format& f) { return f.payload_type == pt; });
}

std::string names(const std::vector<format>& formats) {
    std::string out;
    for (const auto& f : formats) {
        out += out.empty() ? "" : ", ";
        out += f.encoding.empty() ? std::to_string(f.payload_type) : f.encoding;
    }
    return out.empty() ? "none" : out;
}

error untranscodable(const media_formats& a_offer) {
    return make_error(
        fmt::format("no codec in common, and none offered ({}) that the SBC can transcode",
                    names(a_offer.formats)));
}

// The format of A's offer the transcoder works with on A's side: the first
// of A's trunk codecs, in A's order, that A offered and the transcoder can
// handle.
std::optional<format> transcodable_on_a(const media_formats& a_offer,
                                        const std::vector<config::codec>& a_codecs,
                                        const transcodable_fn& transcodable) {
    for (auto c : a_codecs) {
        for (const auto& f : a_offer.formats) {
            if (is_audio(f) && trunk_codec(f) == c && transcodable(f)) {
                return f;
            }
        }
    }
    return std::nullopt;
}

// RFC 4733: events share the timestamps of the audio they go with, so they
// should share its clock. A peer that offers none at that rate gets its
// first one (phones offering opus often have telephone-event/8000 only).
const format* events_for(const std::vector<format>& formats, std::uint32_t clock_rate) {
    const format* first = nullptr;
    for (const auto& f : formats) {
        if (is_events(f)) {
            if (f.clock_rate == clock_rate) {
                return &f;
            }
            first = first != nullptr ? first : &f;
        }
    }
    return first;
}

// The relay offer's formats: what both trunks allow, in B's order (RFC 3264
// 5.1: the m= order is the offerer's preference, and on B's leg the SBC
// offers), then the events and comfort noise that go with them. Empty when
// no audio codec is shared.
std::vector<format> shared_formats(const media_formats& a_offer,
                                   const std::vector<config::codec>& a_codecs,
                                   const std::vector<config::codec>& b_codecs) {
    std::vector<format> out;
    for (auto c : b_codecs) {
        if (c == config::codec::telephone_event || !lists(a_codecs, c)) {
            continue;
        }
        for (const auto& f : a_offer.formats) {
            if (is_audio(f) && trunk_codec(f) == c && !has_number(out, f.payload_type)) {
                out.push_back(f);
            }
        }
    }
    if (out.empty()) {
        return out;
    }
    std::vector<std::uint32_t> rates;
    for (const auto& f : out) {
        rates.push_back(f.clock_rate);
    }
    auto at_kept_rate = [&](const format& f) {
        return std::find(rates.begin(), rates.end(), f.clock_rate) != rates.end();
    };
    const bool events = lists(a_codecs, config::codec::telephone_event) &&
                        lists(b_codecs, config::codec::telephone_event);
    bool kept_events = false;
    for (const auto& f : a_offer.formats) {
        // Events and comfort noise pass untouched with the audio, so they
        // go with the audio's clock (RFC 4733, RFC 3389 5).
        if (((events && is_events(f)) || is_noise(f)) && at_kept_rate(f) &&
            !has_number(out, f.payload_type)) {
            out.push_back(f);
            kept_events = kept_events || is_events(f);
        }
    }
    if (events && !kept_events) {
        // Events at another clock (opus offered with telephone-event/8000
        // only, as many phones do) still beat no DTMF at all.
        if (const format* ev = events_for(a_offer.formats, 0)) {
            out.push_back(*ev);
        }
    }
    return out;
}

// --- fmtp (RFC 4566 6: a=fmtp:<format> <format specific parameters>) ---

std::string_view trim(std::string_view s) {
    auto start = s.find_first_not_of(" \t");
    if (start == std::string_view::npos) {
        return {};
    }
    auto end = s.find_last_not_of(" \t");
    return s.substr(start, end - start + 1);
}

std::optional<std::uint32_t> number(std::string_view v) {
    std::uint32_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) {
        return std::nullopt;
    }
    return n;
}

// Calls `each(name, value)` for every "name=value" of a ';'-separated list
// (RFC 4856 and RFC 7587 both use that form); pieces without '=' are skipped.
template <typename Each>
void for_each_parameter(std::string_view fmtp, Each each) {
    while (!fmtp.empty()) {
        auto semi = fmtp.find(';');
        auto piece = fmtp.substr(0, semi);
        fmtp.remove_prefix(semi == std::string_view::npos ? fmtp.size() : semi + 1);
        auto eq = piece.find('=');
        if (eq != std::string_view::npos) {
            each(trim(piece.substr(0, eq)), trim(piece.substr(eq + 1)));
        }
    }
}

// RFC 4856 2.1.9: annexb=yes|no; "yes" when absent. Any other value is
// ignored, which leaves the default.
bool annexb_allowed(std::string_view fmtp) {
    bool yes = true;
    for_each_parameter(fmtp, [&](std::string_view name, std::string_view value) {
        if (same_name(name, "annexb")) {
            if (same_name(value, "no")) {
                yes = false;
            } else if (same_name(value, "yes")) {
                yes = true;
            }
        }
    });
    return yes;
}

// RFC 7587 7.1. Rates: Opus works at 8-48 kHz, so a larger or smaller cap
// means the nearest end; 0 is no rate and is ignored. maxaveragebitrate
// outside 6000-510000 is ignored (the encoder then chooses).
void parse_opus(std::string_view fmtp, transcoder::audio_format& a) {
    auto rate = [](std::string_view v, std::uint32_t& out) {
        if (auto n = number(v); n && *n > 0) {
            out = std::clamp<std::uint32_t>(*n, 8000, 48000);
        }
    };
    auto flag = [](std::string_view v, bool& out) {
        if (v == "0" || v == "1") {
            out = v == "1";
        }
    };
    for_each_parameter(fmtp, [&](std::string_view name, std::string_view value) {
        if (same_name(name, "maxplaybackrate")) {
            rate(value, a.max_playback_rate);
        } else if (same_name(name, "sprop-maxcapturerate")) {
            rate(value, a.sprop_max_capture_rate);
        } else if (same_name(name, "stereo")) {
            flag(value, a.stereo);
        } else if (same_name(name, "useinbandfec")) {
            flag(value, a.use_inband_fec);
        } else if (same_name(name, "usedtx")) {
            flag(value, a.use_dtx);
        } else if (same_name(name, "maxaveragebitrate")) {
            if (auto n = number(value); n && *n >= 6000 && *n <= 510000) {
                a.max_average_bitrate = *n;
            }
        }
    });
}

// The fmtp the SBC states when it answers A with `f` while transcoding.
// RFC 7587 7.1: opus parameters describe the receiver, so the SBC states its
// own (its decoder recovers losses from in-band FEC). Others take the
// offer's: for G.729, RFC 4856 2.1.9's annexb is then the same on both
// ends; telephone-event keeps the offered event list.
std::string answer_fmtp(const format& f) {
    if (same_name(f.encoding, "opus")) {
        return own_format(config::codec::opus).fmtp;
    }
    return f.fmtp;
}

chain_side make_side(const format& theirs, const format& ours, std::uint8_t received_pt,
                     unsigned ptime) {
    chain_side side;
    side.sdp = theirs;
    side.ptime = ptime != 0 ? ptime : 20;
    side.audio = to_audio_format(theirs, side.ptime);
    // RFC 4856 2.1.9: Annex B only where neither end's SDP refused it.
    side.audio.annexb = side.audio.annexb && annexb_allowed(ours.fmtp);
    side.received_payload_type = received_pt;
    return side;
}

result<answer_plan> relay_answer(const media_formats& a_offer,
                                 const std::vector<format>& offered_to_b,
                                 const media_formats& b_answer,
                                 const std::vector<config::codec>& a_codecs) {
    answer_plan plan;
    plan.how = answer_plan::mode::relay;
    for (const auto& f : b_answer.formats) {
        // Nothing A's trunk excludes reaches A: telephone-event the SBC
        // offered B itself, for a leg whose digits come another way.
        if (const auto c = trunk_codec(f);
            c && std::find(a_codecs.begin(), a_codecs.end(), *c) == a_codecs.end()) {
            continue;
        }
        const format* a = find_same(a_offer.formats, f);
        const format* offered = find_same(offered_to_b, f);
        // RFC 3264 6.1: an answer names formats of the offer only; anything
        // else B lists cannot be passed to A.
        if (a == nullptr || offered == nullptr || has_number(plan.formats, a->payload_type)) {
            continue;
        }
        // A's number and name, B's parameters: the fmtp of an answer states
        // what B receives, which is what A must know to send to it.
        format to_a = *a;
        to_a.fmtp = f.fmtp;
        plan.formats.push_back(std::move(to_a));
        if (f.payload_type != a->payload_type) {
            plan.a_to_b.push_back({a->payload_type, f.payload_type});
        }
        if (offered->payload_type != a->payload_type) {
            plan.b_to_a.push_back({a->payload_type, offered->payload_type});
        }
        // RFC 3264 5.1 has B send with the offer's numbers, but many peers
        // send with those of their own answer. Map those too, unless the
        // number names another format of the offer, which B may send.
        if (f.payload_type != a->payload_type && f.payload_type != offered->payload_type &&
            !has_number(offered_to_b, f.payload_type)) {
            plan.b_to_a.push_back({a->payload_type, f.payload_type});
        }
    }
    return plan;
}

// The SBC's side of a transcoded answer to A: A's format `a_audio`, with
// A's number (RFC 3264 6.1, so both directions on A's leg use it), and A's
// telephone-event if A's list has it.
void answer_a(const media_formats& a_offer, const format& a_audio,
              const std::vector<config::codec>& a_codecs, answer_plan& plan) {
    format to_a = a_audio;
    to_a.fmtp = answer_fmtp(a_audio);
    plan.formats.push_back(to_a);
    plan.side_a = make_side(a_audio, to_a, a_audio.payload_type, a_offer.ptime);
    plan.ptime = plan.side_a->ptime;
    if (lists(a_codecs, config::codec::telephone_event)) {
        if (const format* ev = events_for(a_offer.formats, a_audio.clock_rate)) {
            plan.formats.push_back(*ev);
            plan.side_a->events = event_format{ev->payload_type, ev->payload_type, ev->clock_rate};
        }
    }
}

result<answer_plan> transcode_answer(const media_formats& a_offer,
                                     const std::vector<format>& offered_to_b,
                                     const media_formats& b_answer, const format& b_audio,
                                     const std::vector<config::codec>& a_codecs,
                                     const transcodable_fn& transcodable) {
    auto a_audio = transcodable_on_a(a_offer, a_codecs, transcodable);
    if (!a_audio) {
        return untranscodable(a_offer);
    }
    if (!transcodable(b_audio)) {
        return make_error(
            fmt::format("the answer's codec {} cannot be transcoded", b_audio.encoding));
    }
    answer_plan plan;
    plan.how = answer_plan::mode::transcode;
    answer_a(a_offer, *a_audio, a_codecs, plan);

    // Side B: B receives with its answer's numbers and sends with the
    // offer's.
    const format* offered = find_same(offered_to_b, b_audio);
    plan.side_b = make_side(b_audio, *offered, offered->payload_type, b_answer.ptime);
    for (const auto& f : b_answer.formats) {
        const format* offered_ev = is_events(f) ? find_same(offered_to_b, f) : nullptr;
        if (offered_ev != nullptr) {
            plan.side_b->events =
                event_format{f.payload_type, offered_ev->payload_type, f.clock_rate};
            break;
        }
    }
    return plan;
}

}  // namespace

media_formats media_formats::of(const session_description& sd) {
    return media_formats{sd.formats(), sd.ptime()};
}

std::optional<config::codec> trunk_codec(const format& f) {
    struct entry {
        const char* encoding;
        std::uint32_t clock_rate;
        config::codec codec;
    };
    static constexpr entry table[] = {
        {"PCMU", 8000, config::codec::pcmu},
        {"PCMA", 8000, config::codec::pcma},
        {"G722", 8000, config::codec::g722},  // RFC 3551 4.5.2: 8000 despite 16 kHz audio
        {"G729", 8000, config::codec::g729},
        {"opus", 48000, config::codec::opus},  // RFC 7587 4.1: always 48000
    };
    if (is_events(f)) {
        return config::codec::telephone_event;
    }
    for (const auto& e : table) {
        if (f.clock_rate == e.clock_rate && same_name(f.encoding, e.encoding)) {
            return e.codec;
        }
    }
    return std::nullopt;
}

result<offer_plan> plan_offer(const media_formats& a_offer,
                              const std::vector<config::codec>& a_codecs,
                              const std::vector<config::codec>& b_codecs,
                              const transcodable_fn& transcodable) {
    if (std::none_of(a_offer.formats.begin(), a_offer.formats.end(), is_audio)) {
        return make_error(
            fmt::format("the offer has no audio codec (offered {})", names(a_offer.formats)));
    }
    offer_plan plan;
    plan.formats = shared_formats(a_offer, a_codecs, b_codecs);
    if (!plan.formats.empty()) {
        return plan;
    }

    // Transcoding: B's leg is negotiated afresh, as if the SBC called B
    // itself; the chain will need a codec the transcoder handles on A's
    // side too, so fail now (488 to A) rather than after B rang.
    if (!transcodable_on_a(a_offer, a_codecs, transcodable)) {
        return untranscodable(a_offer);
    }
    for (auto c : b_codecs) {
        format f = own_format(c);
        if (c != config::codec::telephone_event && transcodable(f) &&
            !has_number(plan.formats, f.payload_type)) {
            plan.formats.push_back(std::move(f));
        }
    }
    if (plan.formats.empty()) {
        return make_error(
            "no codec in common, and the called trunk lists none the SBC can transcode");
    }
    if (lists(b_codecs, config::codec::telephone_event)) {
        plan.formats.push_back(own_format(config::codec::telephone_event));
    }
    plan.ptime = 20;
    plan.transcoding = true;
    return plan;
}

result<answer_plan> plan_answer(const media_formats& a_offer,
                                const std::vector<format>& offered_to_b,
                                const media_formats& b_answer,
                                const std::vector<config::codec>& a_codecs,
                                const transcodable_fn& transcodable,
                                const std::optional<format>& a_answered) {
    // RFC 3264 6.1: the answer's formats are a subset of the offer's, most
    // preferred first; the first that was really offered is the one used.
    auto b_audio = std::find_if(
        b_answer.formats.begin(), b_answer.formats.end(),
        [&](const format& f) { return is_audio(f) && find_same(offered_to_b, f) != nullptr; });
    if (b_audio == b_answer.formats.end()) {
        return make_error(
            fmt::format("the answer names no codec that was offered (offered {}; "
                        "answered {})",
                        names(offered_to_b), names(b_answer.formats)));
    }
    const format* a = find_same(a_offer.formats, *b_audio);
    auto on_a = a != nullptr ? trunk_codec(*a) : std::nullopt;
    // RFC 3261 13.2.1: A already has the SBC's answer (local ringback's
    // 183), so B's codec is relayed only when it is the one A was given.
    const bool same_as_answered =
        !a_answered || (a != nullptr && a->payload_type == a_answered->payload_type);
    if (on_a && lists(a_codecs, *on_a) && same_as_answered) {
        return relay_answer(a_offer, offered_to_b, b_answer, a_codecs);
    }
    return transcode_answer(a_offer, offered_to_b, b_answer, *b_audio, a_codecs, transcodable);
}

result<answer_plan> plan_local_answer(const media_formats& a_offer,
                                      const std::vector<config::codec>& a_codecs,
                                      const transcodable_fn& transcodable) {
    auto a_audio = transcodable_on_a(a_offer, a_codecs, transcodable);
    if (!a_audio) {
        return untranscodable(a_offer);
    }
    answer_plan plan;
    plan.how = answer_plan::mode::transcode;
    answer_a(a_offer, *a_audio, a_codecs, plan);
    return plan;
}

transcoder::audio_format to_audio_format(const format& f, unsigned ptime_ms) {
    transcoder::audio_format a;
    a.encoding = f.encoding;
    a.clock_rate = f.clock_rate;
    a.channels = f.channels;
    a.payload_type = f.payload_type;
    a.ptime_ms = ptime_ms != 0 ? ptime_ms : 20;
    if (same_name(f.encoding, "G729")) {
        a.annexb = annexb_allowed(f.fmtp);
    } else if (same_name(f.encoding, "opus")) {
        parse_opus(f.fmtp, a);
    }
    return a;
}

}  // namespace sbc::sdp
