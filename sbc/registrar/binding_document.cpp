#include "sbc/registrar/binding_document.hpp"

#include <algorithm>
#include <exception>

namespace sbc::registrar {

namespace {

using wall_ms = std::chrono::milliseconds;

std::int64_t wall_ms_of(clock::time_point t, const clock_pair& now) {
    const auto wall =
        now.wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - now.steady);
    return std::chrono::duration_cast<wall_ms>(wall.time_since_epoch()).count();
}

clock::time_point steady_of(std::int64_t ms, const clock_pair& now) {
    const auto wall = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(wall_ms(ms)));
    return now.steady + std::chrono::duration_cast<clock::duration>(wall - now.wall);
}

std::optional<config::transport> transport_named(const std::string& s) {
    for (auto t : {config::transport::udp, config::transport::tcp, config::transport::tls}) {
        if (config::to_string(t) == s) {
            return t;
        }
    }
    return std::nullopt;
}

// The binding at `j`, or why it is not one.
result<binding> binding_of(const nlohmann::json& j, const std::string& user,
                           const clock_pair& now) {
    if (!j.is_object()) {
        return error{"a binding is not an object"};
    }
    const auto string_at = [&](const char* key) -> const std::string* {
        const auto it = j.find(key);
        return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
    };
    const auto* contact = string_at("contact");
    const auto* transport = string_at("transport");
    const auto* call_id = string_at("call_id");
    if (contact == nullptr || contact->empty()) {
        return error{"a binding without contact"};
    }
    if (transport == nullptr || !transport_named(*transport)) {
        return error{"binding " + *contact + ": no transport udp, tcp or tls"};
    }
    const auto source = j.find("source");
    std::optional<dataplane::ip_endpoint> from;
    if (source != j.end() && source->is_object() && source->contains("address") &&
        (*source)["address"].is_string() && source->contains("port") &&
        (*source)["port"].is_number_unsigned() && (*source)["port"].get<std::uint64_t>() <= 65535) {
        from = dataplane::ip_endpoint::from_string(
            (*source)["address"].get<std::string>(),
            static_cast<std::uint16_t>((*source)["port"].get<std::uint64_t>()));
    }
    if (!from) {
        return error{"binding " + *contact + ": no source {address, port}"};
    }
    const auto expires = j.find("expires_ms");
    if (expires == j.end() || !expires->is_number_integer()) {
        return error{"binding " + *contact + ": no expires_ms"};
    }
    const auto cseq = j.find("cseq");
    const auto q = j.find("q");
    binding b;
    b.user = user;
    b.contact = *contact;
    b.source = *from;
    b.transport = *transport_named(*transport);
    b.expires_at = steady_of(expires->get<std::int64_t>(), now);
    b.call_id = call_id != nullptr ? *call_id : std::string();
    b.cseq = cseq != j.end() && cseq->is_number_unsigned()
                 ? static_cast<std::uint32_t>(cseq->get<std::uint64_t>())
                 : 0;
    b.q = q != j.end() && q->is_number() ? std::clamp(q->get<double>(), 0.0, 1.0) : 1.0;
    return b;
}

}  // namespace

nlohmann::json to_document(const user_bindings_doc& d, const clock_pair& now) {
    auto list = nlohmann::json::array();
    for (const auto& b : d.bindings) {
        list.push_back({{"contact", b.contact},
                        {"source", {{"address", b.source.address()}, {"port", b.source.port()}}},
                        {"transport", std::string(config::to_string(b.transport))},
                        {"expires_ms", wall_ms_of(b.expires_at, now)},
                        {"call_id", b.call_id},
                        {"cseq", b.cseq},
                        {"q", b.q}});
    }
    return {{"trunk", d.trunk}, {"user", d.user}, {"bindings", std::move(list)}};
}

result<user_bindings_doc> from_document(const nlohmann::json& doc, const clock_pair& now) {
    if (!doc.is_object()) {
        return error{"not an object"};
    }
    const auto trunk = doc.find("trunk");
    const auto user = doc.find("user");
    const auto list = doc.find("bindings");
    if (trunk == doc.end() || !trunk->is_string() || trunk->get<std::string>().empty()) {
        return error{"no trunk"};
    }
    if (user == doc.end() || !user->is_string() || user->get<std::string>().empty()) {
        return error{"no user"};
    }
    if (list == doc.end() || !list->is_array()) {
        return error{"no bindings array"};
    }
    user_bindings_doc d{trunk->get<std::string>(), user->get<std::string>(), {}};
    for (const auto& j : *list) {
        auto b = binding_of(j, d.user, now);
        if (!b) {
            return error{"user " + d.user + ": " + b.error_message()};
        }
        d.bindings.push_back(std::move(*b));
    }
    return d;
}

std::chrono::system_clock::time_point last_expiry(const std::vector<binding>& bindings,
                                                  const clock_pair& now) {
    auto last = now.steady;
    for (const auto& b : bindings) {
        last = std::max(last, b.expires_at);
    }
    return now.wall +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(last - now.steady);
}

}  // namespace sbc::registrar
