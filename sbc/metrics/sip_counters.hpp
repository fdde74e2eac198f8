// The SIP messages sbcd sent and received, counted for the metrics
// (conf/README.md, "metrics"): requests by interface, direction and method,
// responses by interface, direction, the method their CSeq names and their
// status class, and received messages sofia could not parse.
//
// A listener of the SIP tap (sbc/capture/sip_tap.hpp), so it sees every
// message on the wire, retransmissions included, TLS legs in the clear.
// Counting costs no allocation and no lookup by string: the method is a
// switch on sofia's method enum, the interface a scan of the few listener
// addresses given at construction, and the counters one table sized then.
//
// Threading: on_sip() runs on the su_root thread, which also reads the
// counters when a scrape builds the families (families.hpp): no locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/api/ip_endpoint.hpp"
#include "sbc/capture/sip_tap.hpp"

namespace sbc::metrics {

/// The methods counted by name (RFC 3261 and the extensions sbcd meets);
/// every other method is `other`.
enum class sip_method_slot : std::uint8_t {
    invite,
    ack,
    bye,
    cancel,
    options,
    register_,
    update,
    info,
    refer,
    notify,
    subscribe,
    prack,
    message,
    publish,
    other,
};
inline constexpr std::size_t sip_method_slots = 15;
/// "INVITE", ..., "other": the `method` label.
std::string_view to_label(sip_method_slot m) noexcept;
/// The slot of sofia's method enum (sip_method_unknown and the like: other).
sip_method_slot slot_of(int sofia_method) noexcept;

/// 1xx..6xx: the `status_class` label of index 0..5.
inline constexpr std::size_t sip_status_classes = 6;

/// An interface's name and the addresses its listeners are bound to (the
/// ports as bound, not 0); 0.0.0.0 or :: stands for every address of its
/// family.
struct interface_addresses {
    std::string name;
    std::vector<dataplane::ip_endpoint> listeners;
};

class sip_counters final : public capture::sip_listener {
public:
    /// The interface of a message no listener address matches.
    static constexpr std::string_view unknown_interface = "unknown";

    explicit sip_counters(std::vector<interface_addresses> interfaces);

    void on_sip(const capture::sip_packet& p) noexcept override;

    /// Interfaces as given, then `unknown`: the first index of the counters.
    std::size_t interface_count() const noexcept { return _names.size(); }
    const std::string& interface_name(std::size_t i) const { return _names.at(i); }
    /// Which interface sbcd's address `local` belongs to: the one with a
    /// listener on that address and port (or on the wildcard address of its
    /// family and that port); else, for the ephemeral port of a connection
    /// sbcd opened, the only interface with a listener on that address;
    /// else unknown (interface_count() - 1).
    std::size_t interface_of(const dataplane::ip_endpoint& local) const noexcept;

    using direction = capture::sip_direction;
    std::uint64_t requests(std::size_t iface, direction d, sip_method_slot m) const noexcept;
    /// `status_class`: 0 for 1xx .. 5 for 6xx.
    std::uint64_t responses(std::size_t iface, direction d, sip_method_slot m,
                            std::size_t status_class) const noexcept;
    /// Messages received that sofia could not parse as SIP, or that are
    /// neither a request nor a response with a status of 100..699.
    std::uint64_t malformed(std::size_t iface, direction d) const noexcept;

private:
    struct listener {
        dataplane::ip_endpoint address;
        std::size_t iface = 0;
    };
    // Per interface and direction: the requests by method, then the
    // responses by method and class.
    static constexpr std::size_t per_direction =
        sip_method_slots + sip_method_slots * sip_status_classes;
    std::size_t base(std::size_t iface, direction d) const noexcept;

    std::vector<std::string> _names;
    std::vector<listener> _listeners;
    std::vector<std::uint64_t> _counts;     ///< interface_count() * 2 * per_direction
    std::vector<std::uint64_t> _malformed;  ///< interface_count() * 2
};

}  // namespace sbc::metrics
