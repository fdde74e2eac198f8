#include "transcoder/dtmf/telephone_event.hpp"

namespace sbc::transcoder::dtmf {

namespace {

// RFC 4733 3.2, table 1: events 0-15 in the order of their codes.
constexpr char event_symbols[] = "0123456789*#ABCD";

}  // namespace

std::size_t event_block_count(std::span<const std::uint8_t> payload) noexcept {
    if (payload.empty() || payload.size() % event_payload_size != 0) {
        return 0;
    }
    return payload.size() / event_payload_size;
}

event_payload parse_event_block(std::span<const std::uint8_t> payload, std::size_t index) noexcept {
    // RFC 4733 2.3:
    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // |     event     |E|R| volume    |          duration             |
    const std::uint8_t* p = payload.data() + index * event_payload_size;
    event_payload e;
    e.event = p[0];
    e.end = (p[1] & 0x80) != 0;
    e.volume = p[1] & 0x3f;
    e.duration = static_cast<std::uint16_t>((p[2] << 8) | p[3]);
    return e;
}

std::optional<event_payload> parse_event(std::span<const std::uint8_t> payload) noexcept {
    const std::size_t blocks = event_block_count(payload);
    if (blocks == 0) {
        return std::nullopt;
    }
    return parse_event_block(payload, blocks - 1);
}

std::size_t write_event(const event_payload& e, std::span<std::uint8_t> out) noexcept {
    if (out.size() < event_payload_size) {
        return 0;
    }
    out[0] = e.event;
    out[1] = static_cast<std::uint8_t>((e.end ? 0x80 : 0x00) | (e.volume & max_volume));
    out[2] = static_cast<std::uint8_t>(e.duration >> 8);
    out[3] = static_cast<std::uint8_t>(e.duration & 0xff);
    return event_payload_size;
}

std::optional<std::uint8_t> event_of(char symbol) noexcept {
    if (symbol >= '0' && symbol <= '9') {
        return static_cast<std::uint8_t>(symbol - '0');
    }
    if (symbol >= 'A' && symbol <= 'D') {
        return static_cast<std::uint8_t>(12 + (symbol - 'A'));
    }
    if (symbol >= 'a' && symbol <= 'd') {
        return static_cast<std::uint8_t>(12 + (symbol - 'a'));
    }
    switch (symbol) {
        case '*':
            return 10;
        case '#':
            return 11;
        case flash_symbol:
            return max_dtmf_event;
        default:
            return std::nullopt;
    }
}

char digit_of(std::uint8_t event) noexcept {
    if (event < sizeof(event_symbols) - 1) {
        return event_symbols[event];
    }
    return event == max_dtmf_event ? flash_symbol : '\0';
}

bool is_dtmf_key(char symbol) noexcept {
    const auto e = event_of(symbol);
    return e.has_value() && *e < max_dtmf_event;
}

}  // namespace sbc::transcoder::dtmf
