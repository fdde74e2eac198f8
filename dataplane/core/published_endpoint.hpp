// An ip_endpoint that one thread writes and others read without a lock: how a
// worker publishes a latched source address to the control thread's stats().
//
// A sequence lock over atomic words (H.-J. Boehm, "Can seqlocks get along with
// programming language memory models?", 2012): the writer makes the sequence
// odd, stores the words, makes it even again; a reader retries when it saw an
// odd or changed sequence. The words are stored with release and loaded with
// acquire instead of the paper's fences: a reader that sees any word of a
// write in progress then also sees that write's odd sequence on its second
// look, and retries. ThreadSanitizer models this (it does not model fences),
// and on x86 both cost what relaxed ones do. The writer never waits; the reader gives up after
// a bounded number of tries instead of spinning on a writer that was
// preempted mid-update (it then reports "nothing", which a later stats() call
// corrects). Writes happen only when latching changes, never per packet.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <optional>

#include "dataplane/api/ip_endpoint.hpp"

namespace sbc::dataplane {

class published_endpoint {
public:
    /// Writer thread only.
    void store(const ip_endpoint& ep) noexcept {
        std::array<std::uint64_t, word_count> words{};
        const auto len = ep.sockaddr_len();
        if (len > 0 && len <= sizeof(words)) {
            std::memcpy(words.data(), ep.sockaddr_ptr(), len);
        }
        write(words);
    }

    /// Writer thread only.
    void clear() noexcept { write({}); }

    /// Any thread.
    std::optional<ip_endpoint> load() const noexcept {
        for (int attempt = 0; attempt < max_attempts; ++attempt) {
            const auto before = _seq.load(std::memory_order_acquire);
            if (before % 2 != 0) {
                continue;
            }
            std::array<std::uint64_t, word_count> words{};
            for (std::size_t i = 0; i < word_count; ++i) {
                words[i] = _words[i].load(std::memory_order_acquire);
            }
            if (_seq.load(std::memory_order_relaxed) != before) {
                continue;
            }
            sockaddr_storage ss{};
            std::memcpy(&ss, words.data(), sizeof(words));
            return ip_endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&ss),
                                              sizeof(words));
        }
        return std::nullopt;
    }

private:
    // sockaddr_in6 (28 bytes) rounded up to whole words.
    static constexpr std::size_t word_count = 4;
    static_assert(sizeof(sockaddr_in6) <= word_count * sizeof(std::uint64_t));
    static constexpr int max_attempts = 1000;

    void write(const std::array<std::uint64_t, word_count>& words) noexcept {
        const auto seq = _seq.load(std::memory_order_relaxed);
        _seq.store(seq + 1, std::memory_order_relaxed);
        for (std::size_t i = 0; i < word_count; ++i) {
            // Release: whoever reads this word sees the odd sequence above.
            _words[i].store(words[i], std::memory_order_release);
        }
        _seq.store(seq + 2, std::memory_order_release);
    }

    std::atomic<std::uint32_t> _seq{0};
    std::array<std::atomic<std::uint64_t>, word_count> _words{};
};

}  // namespace sbc::dataplane
