#include "transcoder/chain/pacing_queue.hpp"

#include <algorithm>

namespace sbc::transcoder {

bool pacing_queue::hold(std::span<const std::uint8_t> packet, std::int64_t due_ns) noexcept {
    if (full() || packet.size() > packet_sink::usable_octets) {
        return false;
    }
    const std::size_t i = (_head + _count) % _slots;
    std::copy(packet.begin(), packet.end(), data_of(i));
    _entries[i] = entry{due_ns, static_cast<std::uint32_t>(packet.size())};
    ++_count;
    return true;
}

bool pacing_queue::release_oldest(packet_sink& sink) noexcept {
    if (_count == 0) {
        return false;
    }
    const auto slot = sink.slot();
    if (slot.empty()) {
        return false;
    }
    const entry& e = _entries[_head];
    std::copy_n(data_of(_head), e.len, slot.begin());
    sink.commit(e.len);
    pop();
    return true;
}

std::size_t pacing_queue::release(std::int64_t now_ns, packet_sink& sink) noexcept {
    std::size_t n = 0;
    while (_count > 0 && _entries[_head].due_ns <= now_ns && release_oldest(sink)) {
        ++n;
    }
    return n;
}

std::size_t pacing_queue::clear() noexcept {
    const std::size_t n = _count;
    _head = 0;
    _count = 0;
    return n;
}

std::size_t pacing_queue::take_from(pacing_queue& from) noexcept {
    std::size_t n = 0;
    while (!from.empty() && !full()) {
        const entry& e = from._entries[from._head];
        hold({from.data_of(from._head), e.len}, e.due_ns);
        from.pop();
        ++n;
    }
    return n;
}

}  // namespace sbc::transcoder
