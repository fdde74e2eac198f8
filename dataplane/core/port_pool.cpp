// port_pool: a circular queue of pair slots plus in-use and queued bits per slot.
#include "dataplane/core/port_pool.hpp"

namespace sbc::dataplane {

namespace {

// The number of even ports p in [first, port_max] with p + 1 <= port_max.
std::size_t pair_count(std::uint32_t first, std::uint32_t port_max) noexcept {
    if (first + 1 > port_max) {
        return 0;
    }
    return (port_max - 1 - first) / 2 + 1;
}

}  // namespace

port_pool::port_pool(std::uint16_t port_min, std::uint16_t port_max) {
    // Round up to even, and skip port 0 (bind()'s "pick one for me").
    std::uint32_t first = port_min + (port_min % 2U);
    if (first == 0) {
        first = 2;
    }
    // At most 32767 pairs, so slot indexes fit the uint16_t queue entries.
    const auto count = pair_count(first, port_max);
    _first = static_cast<std::uint16_t>(count > 0 ? first : 0);
    _queue.resize(count);
    _in_use.assign(count, false);
    _queued.assign(count, true);
    for (std::size_t i = 0; i < count; ++i) {
        _queue[i] = static_cast<std::uint16_t>(i);
    }
    _queue_length = count;
    _free_count = count;
}

std::uint16_t port_pool::last_rtp() const noexcept {
    if (_in_use.empty()) {
        return 0;
    }
    return static_cast<std::uint16_t>(_first + 2 * (_in_use.size() - 1));
}

std::optional<std::size_t> port_pool::slot_of(std::uint16_t rtp) const noexcept {
    if (_in_use.empty() || rtp < _first || (rtp - _first) % 2 != 0) {
        return std::nullopt;
    }
    const std::size_t slot = (rtp - _first) / 2U;
    if (slot >= _in_use.size()) {
        return std::nullopt;
    }
    return slot;
}

std::optional<std::uint16_t> port_pool::allocate() noexcept {
    if (_free_count == 0) {
        return std::nullopt;
    }
    // Entries of reserved pairs are dropped on the way: each costs one step,
    // paid for by the reserve() that left it.
    while (_queue_length > 0) {
        const std::uint16_t slot = _queue[_queue_head];
        _queue_head = (_queue_head + 1) % _queue.size();
        --_queue_length;
        _queued[slot] = false;
        if (_in_use[slot]) {
            continue;
        }
        --_free_count;
        _in_use[slot] = true;
        return static_cast<std::uint16_t>(_first + 2 * slot);
    }
    return std::nullopt;  // cannot happen: every free slot is queued
}

bool port_pool::reserve(std::uint16_t rtp) noexcept {
    const auto slot = slot_of(rtp);
    if (!slot || _in_use[*slot]) {
        return false;
    }
    _in_use[*slot] = true;
    --_free_count;
    return true;
}

bool port_pool::release(std::uint16_t rtp) noexcept {
    const auto slot = slot_of(rtp);
    if (!slot || !_in_use[*slot]) {
        return false;
    }
    _in_use[*slot] = false;
    ++_free_count;
    if (_queued[*slot]) {
        return true;  // reserved while queued: its entry is still there
    }
    _queue[(_queue_head + _queue_length) % _queue.size()] = static_cast<std::uint16_t>(*slot);
    ++_queue_length;
    _queued[*slot] = true;
    return true;
}

bool port_pool::in_use(std::uint16_t rtp) const noexcept {
    const auto slot = slot_of(rtp);
    return slot && _in_use[*slot];
}

}  // namespace sbc::dataplane
