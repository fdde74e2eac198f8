#include "transcoder/chain/reorder_buffer.hpp"

#include <algorithm>
#include <limits>

namespace sbc::transcoder {

bool reorder_buffer::hold(std::uint16_t sequence, std::span<const std::uint8_t> packet,
                          std::int64_t now_ns) noexcept {
    if (packet.size() > max_packet) {
        return false;
    }
    entry* free_entry = nullptr;
    for (auto& e : _entries) {
        if (e.used && e.sequence == sequence) {
            return true;
        }
        if (!e.used && free_entry == nullptr) {
            free_entry = &e;
        }
    }
    if (free_entry == nullptr) {
        return false;
    }
    free_entry->used = true;
    free_entry->sequence = sequence;
    free_entry->arrived_ns = now_ns;
    free_entry->len = packet.size();
    std::copy(packet.begin(), packet.end(), free_entry->data.begin());
    ++_count;
    return true;
}

reorder_buffer::entry* reorder_buffer::earliest(std::uint16_t expected) noexcept {
    entry* best = nullptr;
    std::uint16_t best_distance = std::numeric_limits<std::uint16_t>::max();
    for (auto& e : _entries) {
        if (!e.used) {
            continue;
        }
        const auto distance = static_cast<std::uint16_t>(e.sequence - expected);
        if (best == nullptr || distance < best_distance) {
            best = &e;
            best_distance = distance;
        }
    }
    return best;
}

void reorder_buffer::release(entry& e) noexcept {
    if (e.used) {
        e.used = false;
        --_count;
    }
}

std::int64_t reorder_buffer::oldest_arrival_ns() const noexcept {
    std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
    for (const auto& e : _entries) {
        if (e.used) {
            oldest = std::min(oldest, e.arrived_ns);
        }
    }
    return oldest;
}

void reorder_buffer::clear() noexcept {
    for (auto& e : _entries) {
        e.used = false;
    }
    _count = 0;
}

}  // namespace sbc::transcoder
