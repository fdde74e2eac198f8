// Next-hop MAC addresses by IP, as one dpdk worker looks them up per
// packet: a fixed-size open-addressing table the worker owns, filled from
// the kernel's neighbour table (netlink, read by the control thread) through
// the worker's command ring.
//
// Fixed capacity, linear probing, tombstone-free deletion by backward shift:
// no allocation after construction, no lock, O(1) expected per lookup.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dataplane/io/dpdk/packet_headers.hpp"

namespace sbc::dataplane::dpdk {

/// An IP address as 16 octets (IPv4 as ::ffff:a.b.c.d, RFC 4291 2.5.5.2).
struct ip_key {
    std::array<std::uint8_t, 16> bytes{};
    bool operator==(const ip_key&) const noexcept = default;

    static ip_key of(const ip_endpoint& ep) noexcept {
        ip_key k;
        const sockaddr* sa = ep.sockaddr_ptr();
        if (ep.family() == AF_INET6) {
            std::memcpy(k.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
        } else {
            k.bytes[10] = 0xFF;
            k.bytes[11] = 0xFF;
            std::memcpy(k.bytes.data() + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr,
                        4);
        }
        return k;
    }
};

class neighbor_table {
public:
    /// Room for `capacity` entries (rounded up to a power of two, at most
    /// half full before refusing inserts). Allocates here only.
    explicit neighbor_table(std::size_t capacity = 4096) {
        std::size_t n = 16;
        _shift = 60;
        while (n < capacity * 2) {
            n *= 2;
            --_shift;
        }
        _slots.resize(n);
        _max = n / 2;
    }

    /// Adds or replaces; false when full (the packet then goes unsent).
    bool set(const ip_key& k, const mac_address& mac) noexcept {
        std::size_t i = home(k);
        while (_slots[i].used) {
            if (_slots[i].key == k) {
                _slots[i].mac = mac;
                return true;
            }
            i = (i + 1) & (_slots.size() - 1);
        }
        if (_count >= _max) {
            return false;
        }
        _slots[i] = slot{k, mac, true};
        ++_count;
        return true;
    }

    const mac_address* find(const ip_key& k) const noexcept {
        std::size_t i = home(k);
        while (_slots[i].used) {
            if (_slots[i].key == k) {
                return &_slots[i].mac;
            }
            i = (i + 1) & (_slots.size() - 1);
        }
        return nullptr;
    }

    void erase(const ip_key& k) noexcept {
        const std::size_t mask = _slots.size() - 1;
        std::size_t i = home(k);
        while (_slots[i].used && !(_slots[i].key == k)) {
            i = (i + 1) & mask;
        }
        if (!_slots[i].used) {
            return;
        }
        // Backward-shift deletion keeps every probe chain unbroken.
        std::size_t j = i;
        for (;;) {
            j = (j + 1) & mask;
            if (!_slots[j].used) {
                break;
            }
            std::size_t h = home(_slots[j].key);
            // Move j back to i unless its home lies cyclically in (i, j].
            bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
            if (!stays) {
                _slots[i] = _slots[j];
                i = j;
            }
        }
        _slots[i].used = false;
        --_count;
    }

    std::size_t size() const noexcept { return _count; }

private:
    struct slot {
        ip_key key;
        mac_address mac{};
        bool used = false;
    };

    std::size_t home(const ip_key& k) const noexcept {
        // Two 64-bit halves, multiplied by odd constants and folded: a few
        // cycles per lookup, and the host bits of one subnet spread well.
        std::uint64_t hi;
        std::uint64_t lo;
        std::memcpy(&hi, k.bytes.data(), 8);
        std::memcpy(&lo, k.bytes.data() + 8, 8);
        // Fibonacci hashing: the high bits of the product depend on every bit.
        const std::uint64_t h = (hi ^ (lo * 0xC2B2AE3D27D4EB4FULL)) * 0x9E3779B97F4A7C15ULL;
        return static_cast<std::size_t>(h >> _shift);
    }

    std::vector<slot> _slots;
    std::size_t _count = 0;
    std::size_t _max = 0;
    unsigned _shift = 60;  ///< 64 - log2(slots)
};

}  // namespace sbc::dataplane::dpdk
