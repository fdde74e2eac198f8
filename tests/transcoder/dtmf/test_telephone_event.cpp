// telephone_event: the RFC 4733 2.3 payload layout, octet by octet, and the
// RFC 4733 3.2 mapping of keys to event codes.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "transcoder/dtmf/telephone_event.hpp"

using namespace sbc::transcoder::dtmf;

TEST_CASE("parse_event reads the RFC 4733 2.3 layout") {
    // Event 5, E=1, R=0, volume 10, duration 0x0320 (800).
    const std::array<std::uint8_t, 4> bytes{0x05, 0x8a, 0x03, 0x20};
    const auto e = parse_event(bytes);
    REQUIRE(e);
    CHECK(e->event == 5);
    CHECK(e->end);
    CHECK(e->volume == 10);
    CHECK(e->duration == 800);
}

TEST_CASE("parse_event ignores the reserved R bit and reads the full volume range") {
    // Event 11 (#), E=0, R=1, volume 63, duration 0xffff.
    const std::array<std::uint8_t, 4> bytes{0x0b, 0x7f, 0xff, 0xff};
    const auto e = parse_event(bytes);
    REQUIRE(e);
    CHECK(*e == event_payload{11, false, 63, 0xffff});
}

TEST_CASE("write_event writes the RFC 4733 2.3 layout") {
    std::array<std::uint8_t, 4> out{};
    CHECK(write_event(event_payload{10, true, 10, 160}, out) == 4);
    CHECK(out == std::array<std::uint8_t, 4>{0x0a, 0x8a, 0x00, 0xa0});
    CHECK(write_event(event_payload{1, false, 0, 0x1234}, out) == 4);
    CHECK(out == std::array<std::uint8_t, 4>{0x01, 0x00, 0x12, 0x34});
    // The volume has 6 bits: nothing leaks into E or R.
    CHECK(write_event(event_payload{16, false, 0xff, 1}, out) == 4);
    CHECK(out == std::array<std::uint8_t, 4>{0x10, 0x3f, 0x00, 0x01});
}

TEST_CASE("write_event refuses a short buffer") {
    std::array<std::uint8_t, 3> out{};
    CHECK(write_event(event_payload{1, false, 10, 1}, out) == 0);
}

TEST_CASE("payloads round-trip") {
    for (std::uint8_t event : {0, 9, 11, 15, 16, 255}) {
        for (bool end : {false, true}) {
            for (std::uint16_t duration : {0, 1, 400, 0xffff}) {
                const event_payload e{event, end, 7, duration};
                std::array<std::uint8_t, 4> out{};
                REQUIRE(write_event(e, out) == 4);
                const auto back = parse_event(out);
                REQUIRE(back);
                CHECK(*back == e);
            }
        }
    }
}

TEST_CASE("parse_event rejects lengths that are not a positive multiple of 4") {
    const std::vector<std::uint8_t> bytes(9, 0);
    for (std::size_t n : {0, 1, 2, 3, 5, 6, 7, 9}) {
        CHECK_FALSE(parse_event(std::span(bytes.data(), n)));
        CHECK(event_block_count(std::span(bytes.data(), n)) == 0);
    }
}

TEST_CASE("a packet of several events (RFC 4733 2.5.1.5) gives the last one") {
    // '1' ended after 400, then '2' going on for 160.
    const std::array<std::uint8_t, 8> bytes{0x01, 0x8a, 0x01, 0x90, 0x02, 0x0a, 0x00, 0xa0};
    CHECK(event_block_count(bytes) == 2);
    CHECK(parse_event_block(bytes, 0) == event_payload{1, true, 10, 400});
    const auto last = parse_event(bytes);
    REQUIRE(last);
    CHECK(*last == event_payload{2, false, 10, 160});
}

TEST_CASE("keys map to RFC 4733 3.2 event codes and back") {
    constexpr std::string_view keys = "0123456789*#ABCD";
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto e = event_of(keys[i]);
        REQUIRE(e);
        CHECK(*e == i);
        CHECK(digit_of(static_cast<std::uint8_t>(i)) == keys[i]);
        CHECK(is_dtmf_key(keys[i]));
    }
    CHECK(event_of('a') == std::uint8_t{12});
    CHECK(event_of('d') == std::uint8_t{15});
    CHECK(event_of(flash_symbol) == std::uint8_t{16});
    CHECK(digit_of(16) == flash_symbol);
    CHECK_FALSE(is_dtmf_key(flash_symbol));
    for (char c : {'E', 'e', 'x', ' ', '\0', '+', 'w'}) {
        CHECK_FALSE(event_of(c));
        CHECK_FALSE(is_dtmf_key(c));
    }
    for (int code : {17, 32, 49, 255}) {
        CHECK(digit_of(static_cast<std::uint8_t>(code)) == '\0');
    }
}
