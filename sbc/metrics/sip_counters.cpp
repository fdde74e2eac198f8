#include "sbc/metrics/sip_counters.hpp"

#include <utility>

namespace sbc::metrics {

std::string_view to_label(sip_method_slot m) noexcept {
    switch (m) {
        case sip_method_slot::invite:
            return "INVITE";
        case sip_method_slot::ack:
            return "ACK";
        case sip_method_slot::bye:
            return "BYE";
        case sip_method_slot::cancel:
            return "CANCEL";
        case sip_method_slot::options:
            return "OPTIONS";
        case sip_method_slot::register_:
            return "REGISTER";
        case sip_method_slot::update:
            return "UPDATE";
        case sip_method_slot::info:
            return "INFO";
        case sip_method_slot::refer:
            return "REFER";
        case sip_method_slot::notify:
            return "NOTIFY";
        case sip_method_slot::subscribe:
            return "SUBSCRIBE";
        case sip_method_slot::prack:
            return "PRACK";
        case sip_method_slot::message:
            return "MESSAGE";
        case sip_method_slot::publish:
            return "PUBLISH";
        case sip_method_slot::other:
            break;
    }
    return "other";
}

sip_method_slot slot_of(int sofia_method) noexcept {
    switch (static_cast<sip_method_t>(sofia_method)) {
        case sip_method_invite:
            return sip_method_slot::invite;
        case sip_method_ack:
            return sip_method_slot::ack;
        case sip_method_bye:
            return sip_method_slot::bye;
        case sip_method_cancel:
            return sip_method_slot::cancel;
        case sip_method_options:
            return sip_method_slot::options;
        case sip_method_register:
            return sip_method_slot::register_;
        case sip_method_update:
            return sip_method_slot::update;
        case sip_method_info:
            return sip_method_slot::info;
        case sip_method_refer:
            return sip_method_slot::refer;
        case sip_method_notify:
            return sip_method_slot::notify;
        case sip_method_subscribe:
            return sip_method_slot::subscribe;
        case sip_method_prack:
            return sip_method_slot::prack;
        case sip_method_message:
            return sip_method_slot::message;
        case sip_method_publish:
            return sip_method_slot::publish;
        case sip_method_invalid:
        case sip_method_unknown:
            break;
    }
    return sip_method_slot::other;
}

sip_counters::sip_counters(std::vector<interface_addresses> interfaces) {
    for (auto& i : interfaces) {
        for (const auto& l : i.listeners) {
            _listeners.push_back({l, _names.size()});
        }
        _names.push_back(std::move(i.name));
    }
    _names.emplace_back(unknown_interface);
    _counts.assign(_names.size() * 2 * per_direction, 0);
    _malformed.assign(_names.size() * 2, 0);
}

std::size_t sip_counters::interface_of(const dataplane::ip_endpoint& local) const noexcept {
    const std::size_t unknown = _names.size() - 1;
    auto covers = [&](const dataplane::ip_endpoint& listener) {
        return listener.same_address(local) ||
               (listener.is_unspecified() && listener.family() == local.family());
    };
    for (const auto& l : _listeners) {
        if (l.address.port() == local.port() && covers(l.address)) {
            return l.iface;
        }
    }
    // A connection sbcd opened has an ephemeral port on a listener's
    // address; should that address be shared, the port cannot tell whose.
    std::size_t found = unknown;
    for (const auto& l : _listeners) {
        if (!covers(l.address)) {
            continue;
        }
        if (found != unknown && found != l.iface) {
            return unknown;
        }
        found = l.iface;
    }
    return found;
}

std::size_t sip_counters::base(std::size_t iface, direction d) const noexcept {
    return (iface * 2 + (d == direction::in ? 0 : 1)) * per_direction;
}

void sip_counters::on_sip(const capture::sip_packet& p) noexcept {
    const auto iface = interface_of(p.local);
    const auto b = base(iface, p.direction);
    const sip_t* sip = p.sip;
    if (sip != nullptr && sip->sip_request != nullptr) {
        ++_counts[b + static_cast<std::size_t>(slot_of(sip->sip_request->rq_method))];
        return;
    }
    if (sip != nullptr && sip->sip_status != nullptr && sip->sip_status->st_status >= 100 &&
        sip->sip_status->st_status <= 699) {
        const auto m =
            sip->sip_cseq != nullptr ? slot_of(sip->sip_cseq->cs_method) : sip_method_slot::other;
        const auto status_class = static_cast<std::size_t>(sip->sip_status->st_status / 100 - 1);
        ++_counts[b + sip_method_slots + static_cast<std::size_t>(m) * sip_status_classes +
                  status_class];
        return;
    }
    ++_malformed[iface * 2 + (p.direction == direction::in ? 0 : 1)];
}

std::uint64_t sip_counters::requests(std::size_t iface, direction d,
                                     sip_method_slot m) const noexcept {
    if (iface >= _names.size()) {
        return 0;
    }
    return _counts[base(iface, d) + static_cast<std::size_t>(m)];
}

std::uint64_t sip_counters::responses(std::size_t iface, direction d, sip_method_slot m,
                                      std::size_t status_class) const noexcept {
    if (iface >= _names.size() || status_class >= sip_status_classes) {
        return 0;
    }
    return _counts[base(iface, d) + sip_method_slots +
                   static_cast<std::size_t>(m) * sip_status_classes + status_class];
}

std::uint64_t sip_counters::malformed(std::size_t iface, direction d) const noexcept {
    if (iface >= _names.size()) {
        return 0;
    }
    return _malformed[iface * 2 + (d == direction::in ? 0 : 1)];
}

}  // namespace sbc::metrics
