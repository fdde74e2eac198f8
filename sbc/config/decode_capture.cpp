// The capture section: how much of each recent call's SIP sbcd keeps (for
// sbcctl trace and pcap), and where it sends every SIP message as HEP3.
#include <algorithm>

#include "sbc/config/address.hpp"
#include "sbc/config/decode.hpp"

namespace sbc::config::detail {

namespace {

constexpr std::string_view hep_address_expected =
    "the capture server's HEP address, IP:PORT (IPv6 in brackets), e.g. 127.0.0.1:9060";
constexpr std::string_view hep_password_expected =
    "a password of 1..128 printable characters (the HEP auth key)";

std::optional<hep_config> decode_hep_section(problem_list& p, const located& at) {
    if (at.node.IsNull()) {
        return std::nullopt;  // "hep:" with nothing under it: no export
    }
    auto m = map_reader::open(p, at, {"address", "transport", "password", "capture_id"},
                              "a map with address, transport, password and capture_id");
    if (!m) {
        return std::nullopt;
    }
    hep_config hc;
    bool ok = true;
    if (auto v = m->require("address", hep_address_expected)) {
        if (auto text = read_string(p, *v, hep_address_expected)) {
            auto address = parse_hep_address(*text);
            if (address) {
                hc.address = std::move(*address);
            } else {
                rejected(p, *v, address.error_message());
                ok = false;
            }
        } else {
            ok = false;
        }
    } else {
        ok = false;
    }
    if (auto v = m->find("transport")) {
        using t = hep_config::hep_transport;
        auto choice = read_choice<t>(p, *v, "udp or tcp", {{"udp", t::udp}, {"tcp", t::tcp}});
        if (choice) {
            hc.transport = *choice;
        } else {
            ok = false;
        }
    }
    if (auto v = m->find("password")) {
        auto text = read_string(p, *v, hep_password_expected);
        const auto printable = [](const std::string& s) {
            return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f; });
        };
        if (text && !text->empty() && text->size() <= 128 && printable(*text)) {
            hc.password = std::move(*text);
        } else {
            if (text) {
                expected(p, *v, hep_password_expected);
            }
            ok = false;
        }
    }
    if (auto v = m->find("capture_id")) {
        auto id = read_number(p, *v, 1, 0xffffffffU, "a capture agent ID 1..4294967295");
        if (id) {
            hc.capture_id = static_cast<std::uint32_t>(*id);
        } else {
            ok = false;
        }
    }
    return ok ? std::optional<hep_config>(std::move(hc)) : std::nullopt;
}

}  // namespace

void decode_capture(problem_list& p, const located& at, capture_config& cc) {
    if (at.node.IsNull()) {
        return;  // "capture:" alone: the defaults
    }
    auto m = map_reader::open(p, at, {"calls", "messages_per_call", "hep"},
                              "a map with calls, messages_per_call and hep");
    if (!m) {
        return;
    }
    if (auto v = m->find("calls")) {
        cc.calls = read_number(p, *v, 0, 100000, "a number of calls 0..100000").value_or(cc.calls);
    }
    if (auto v = m->find("messages_per_call")) {
        cc.messages_per_call = read_number(p, *v, 1, 100000, "a number of messages 1..100000")
                                   .value_or(cc.messages_per_call);
    }
    if (auto v = m->find("hep")) {
        cc.hep = decode_hep_section(p, *v);
    }
}

}  // namespace sbc::config::detail
