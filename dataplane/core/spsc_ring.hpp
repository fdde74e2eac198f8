// A single-producer single-consumer lock-free ring of fixed capacity.
//
// The control plane talks to each data-plane worker through two of these: a
// command ring (control thread -> worker) and an event ring (worker -> control
// thread). Exactly one thread pushes and exactly one thread pops; neither ever
// blocks, allocates or takes a lock, so the worker's loop stays wait-free.
//
// Head and tail are free-running counters (they wrap at 2^64, which never
// happens in practice and would still be correct with unsigned arithmetic);
// the slot is `counter & (Capacity - 1)`. Each side caches the other side's
// counter and reloads it only when the ring looks full (producer) or empty
// (consumer), so the common case touches no cache line the other side writes.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace sbc::dataplane {

template <typename T, std::size_t Capacity>
class spsc_ring {
    static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0,
                  "spsc_ring capacity must be a power of two");
    static_assert(std::is_nothrow_move_assignable_v<T> && std::is_default_constructible_v<T>,
                  "spsc_ring slots are default-constructed once and move-assigned after");

public:
    spsc_ring() = default;
    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    static constexpr std::size_t capacity() noexcept { return Capacity; }

    /// Producer thread only. False (and `value` untouched) when the ring is full.
    bool try_push(T value) noexcept {
        const std::size_t tail = _tail.load(std::memory_order_relaxed);
        if (tail - _producer_head_cache == Capacity) {
            // Acquire pairs with the consumer's release in try_pop(): the slot
            // it freed is no longer being read when we overwrite it.
            _producer_head_cache = _head.load(std::memory_order_acquire);
            if (tail - _producer_head_cache == Capacity) {
                return false;
            }
        }
        _slots[tail & mask] = std::move(value);
        // Release publishes the slot's contents before the new tail.
        _tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    /// Consumer thread only. False (and `out` untouched) when the ring is empty.
    bool try_pop(T& out) noexcept {
        const std::size_t head = _head.load(std::memory_order_relaxed);
        if (head == _consumer_tail_cache) {
            // Acquire pairs with the producer's release in try_push().
            _consumer_tail_cache = _tail.load(std::memory_order_acquire);
            if (head == _consumer_tail_cache) {
                return false;
            }
        }
        out = std::move(_slots[head & mask]);
        _head.store(head + 1, std::memory_order_release);
        return true;
    }

    /// Either thread; a snapshot that may be stale by the time it is used.
    bool empty() const noexcept {
        return _head.load(std::memory_order_acquire) == _tail.load(std::memory_order_acquire);
    }

private:
    static constexpr std::size_t mask = Capacity - 1;

    // Written by the consumer (try_pop), read by the producer.
    alignas(64) std::atomic<std::size_t> _head{0};
    // Consumer thread only.
    std::size_t _consumer_tail_cache = 0;
    // Written by the producer (try_push), read by the consumer.
    alignas(64) std::atomic<std::size_t> _tail{0};
    // Producer thread only.
    std::size_t _producer_head_cache = 0;
    // Slot i is owned by the producer while tail <= i < head + Capacity, by the
    // consumer while head <= i < tail; the counters hand it over.
    alignas(64) std::array<T, Capacity> _slots{};
};

}  // namespace sbc::dataplane
