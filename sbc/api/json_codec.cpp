// JSON encoding of the control API's messages; see json_codec.hpp.
#include "sbc/api/json_codec.hpp"

#include <fmt/format.h>

namespace sbc::api {

void to_json(nlohmann::json& j, const interface_status& s) {
    j = nlohmann::json{
        {"name", s.name},
        {"listen", s.listen},
        {"media_address", s.media_address},
    };
}

void to_json(nlohmann::json& j, const drain_status& d) {
    j = nlohmann::json{
        {"since", d.since},
        {"deadline", d.deadline.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.deadline)},
        {"seconds_left",
         d.seconds_left ? nlohmann::json(*d.seconds_left) : nlohmann::json(nullptr)},
        {"calls_left", d.calls_left},
    };
}

void to_json(nlohmann::json& j, const status_info& s) {
    j = nlohmann::json{
        {"version", s.version},
        {"uptime_seconds", s.uptime_seconds},
        {"active_calls", s.active_calls},
        {"interfaces", s.interfaces},
        {"drain", s.drain ? nlohmann::json(*s.drain) : nlohmann::json(nullptr)},
    };
}

namespace {
nlohmann::json call_quality_json(const std::optional<call_quality>& q) {
    if (!q) {
        return nullptr;
    }
    return {{"loss_percent", q->loss_percent},
            {"jitter_ms", q->jitter_ms},
            {"rtt_ms", q->rtt_ms ? nlohmann::json(*q->rtt_ms) : nlohmann::json(nullptr)},
            {"mos", q->mos}};
}

std::optional<call_quality> quality_from(const nlohmann::json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_object()) {
        return std::nullopt;  // none yet, or an older sbcd
    }
    call_quality q;
    q.loss_percent = it->value("loss_percent", 0.0);
    q.jitter_ms = it->value("jitter_ms", 0.0);
    if (const auto rtt = it->find("rtt_ms"); rtt != it->end() && rtt->is_number()) {
        q.rtt_ms = rtt->get<double>();
    }
    q.mos = it->value("mos", 0.0);
    return q;
}
}  // namespace

void to_json(nlohmann::json& j, const call_info& c) {
    j = nlohmann::json{
        {"id", c.id},
        {"from_trunk", c.from_trunk},
        {"to_trunk", c.to_trunk},
        {"state", c.state},
        {"duration_seconds", c.duration_seconds},
        {"packets_a_to_b", c.packets_a_to_b},
        {"packets_b_to_a", c.packets_b_to_a},
        {"codec_a", c.codec_a},
        {"codec_b", c.codec_b},
        {"ptime_a", c.ptime_a},
        {"ptime_b", c.ptime_b},
        {"media", c.media},
        {"ice_a", c.ice_ufrag_a.empty() ? nlohmann::json(nullptr)
                                        : nlohmann::json{{"ufrag", c.ice_ufrag_a}}},
        {"ice_b", c.ice_ufrag_b.empty() ? nlohmann::json(nullptr)
                                        : nlohmann::json{{"ufrag", c.ice_ufrag_b}}},
        {"local_ringback", c.local_ringback},
        {"quality_a", call_quality_json(c.quality_a)},
        {"quality_b", call_quality_json(c.quality_b)},
    };
}

void from_json(const nlohmann::json& j, interface_status& s) {
    j.at("name").get_to(s.name);
    j.at("listen").get_to(s.listen);
    j.at("media_address").get_to(s.media_address);
}

void from_json(const nlohmann::json& j, status_info& s) {
    j.at("version").get_to(s.version);
    j.at("uptime_seconds").get_to(s.uptime_seconds);
    j.at("active_calls").get_to(s.active_calls);
    j.at("interfaces").get_to(s.interfaces);
    // Absent from an older sbcd's replies; null while the node admits calls.
    if (auto it = j.find("drain"); it != j.end() && it->is_object()) {
        s.drain = it->get<drain_status>();
    }
}

void from_json(const nlohmann::json& j, drain_status& d) {
    j.at("since").get_to(d.since);
    const auto& deadline = j.at("deadline");
    d.deadline = deadline.is_null() ? "" : deadline.get<std::string>();
    const auto& left = j.at("seconds_left");
    d.seconds_left = left.is_null() ? std::nullopt : std::optional<double>(left.get<double>());
    j.at("calls_left").get_to(d.calls_left);
}

void from_json(const nlohmann::json& j, call_info& c) {
    j.at("id").get_to(c.id);
    j.at("from_trunk").get_to(c.from_trunk);
    j.at("to_trunk").get_to(c.to_trunk);
    j.at("state").get_to(c.state);
    j.at("duration_seconds").get_to(c.duration_seconds);
    j.at("packets_a_to_b").get_to(c.packets_a_to_b);
    j.at("packets_b_to_a").get_to(c.packets_b_to_a);
    // Absent from an older sbcd's replies.
    c.codec_a = j.value("codec_a", "");
    c.codec_b = j.value("codec_b", "");
    c.ptime_a = j.value("ptime_a", 0u);
    c.ptime_b = j.value("ptime_b", 0u);
    c.media = j.value("media", "relayed");
    for (auto [key, ufrag] :
         {std::pair{"ice_a", &c.ice_ufrag_a}, std::pair{"ice_b", &c.ice_ufrag_b}}) {
        if (auto it = j.find(key); it != j.end() && it->is_object()) {
            *ufrag = it->value("ufrag", "");
        }
    }
    c.local_ringback = j.value("local_ringback", false);
    c.quality_a = quality_from(j, "quality_a");
    c.quality_b = quality_from(j, "quality_b");
}

nlohmann::json encode_calls(const std::vector<call_info>& calls) {
    return nlohmann::json{{"calls", calls}};
}

result<status_info> decode_status(const nlohmann::json& reply) {
    try {
        return reply.get<status_info>();
    } catch (const nlohmann::json::exception& e) {
        return make_error(fmt::format("malformed status reply: {}", e.what()));
    }
}

result<std::optional<drain_status>> decode_drain(const nlohmann::json& reply) {
    try {
        const auto& d = reply.at("drain");
        return d.is_null() ? std::optional<drain_status>() : d.get<drain_status>();
    } catch (const nlohmann::json::exception& e) {
        return make_error(fmt::format("malformed drain reply: {}", e.what()));
    }
}

result<std::vector<call_info>> decode_calls(const nlohmann::json& reply) {
    try {
        return reply.at("calls").get<std::vector<call_info>>();
    } catch (const nlohmann::json::exception& e) {
        return make_error(fmt::format("malformed calls reply: {}", e.what()));
    }
}

nlohmann::json make_request(std::string_view cmd) { return nlohmann::json{{"cmd", cmd}}; }

nlohmann::json make_error_reply(std::string_view message) {
    return nlohmann::json{{"error", message}};
}

std::optional<std::string> reply_error(const nlohmann::json& reply) {
    if (!reply.is_object()) {
        return std::nullopt;
    }
    auto it = reply.find("error");
    if (it == reply.end()) {
        return std::nullopt;
    }
    // A non-string error is still an error; show it as JSON rather than lose it.
    return it->is_string() ? it->get<std::string>() : to_line(*it);
}

std::string to_line(const nlohmann::json& j) {
    // dump(-1) never emits a newline: control characters inside strings are
    // escaped, so the one-line framing cannot be broken by the payload.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

result<nlohmann::json> parse_line(std::string_view line) {
    try {
        return nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
        return make_error(fmt::format("malformed JSON: {}", e.what()));
    }
}

}  // namespace sbc::api
