// The STUN wire format (RFC 8489): the parser and the writer against RFC
// 5769's test vectors byte for byte, the HMACs against OpenSSL's own, and
// malformed messages refused by name.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/core/stun.hpp"
#include "tests/dataplane/rfc5769.hpp"
#include "tests/dataplane/stun_client.hpp"

using namespace sbc::dataplane;
using sbc::test::rfc5769_id;
using sbc::test::rfc5769_ipv4_response;
using sbc::test::rfc5769_ipv6_response;
using sbc::test::rfc5769_password;
using sbc::test::rfc5769_request;

namespace {

std::span<const std::uint8_t> octets(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

stun::parse_error parse_bytes(const std::vector<std::uint8_t>& bytes, stun::message& m) {
    return stun::parse(std::span<const std::uint8_t>(bytes.data(), bytes.size()), m);
}

// RFC 5769 2.2 and 2.3 as the writer makes them: the response with its
// SOFTWARE padded as the vectors pad it.
std::vector<std::uint8_t> write_rfc5769_response(const ip_endpoint& mapped) {
    std::vector<std::uint8_t> buf(256);
    const stun::integrity_key key(rfc5769_password);
    stun::writer w(buf, stun::type::binding_success, rfc5769_id);
    w.add(stun::attribute::software, octets("test vector"), 0x20);
    w.add_xor_address(stun::attribute::xor_mapped_address, mapped);
    w.add_message_integrity(key);
    w.add_fingerprint();
    REQUIRE(w.ok());
    buf.resize(w.size());
    return buf;
}

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

// A message of a header and the given attribute octets, its length set.
std::vector<std::uint8_t> handmade(std::vector<std::uint8_t> attributes) {
    std::vector<std::uint8_t> m = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
    m.insert(m.end(), rfc5769_id.begin(), rfc5769_id.end());
    put16(m, 2, static_cast<std::uint16_t>(attributes.size()));
    m.insert(m.end(), attributes.begin(), attributes.end());
    return m;
}

}  // namespace

TEST_CASE("stun: CRC-32 is ISO-HDLC's (RFC 8489 14.7)") {
    CHECK(stun::crc32(octets("123456789")) == 0xCBF43926u);
    CHECK(stun::crc32({}) == 0u);
}

TEST_CASE("stun: RFC 5769's sample request parses, and its integrity and fingerprint verify") {
    stun::message m;
    REQUIRE(parse_bytes(rfc5769_request, m) == stun::parse_error::none);
    CHECK(m.type == stun::type::binding_request);
    CHECK(m.id == rfc5769_id);
    CHECK(m.size == rfc5769_request.size());
    CHECK(m.text(m.username) == "evtj:h6vY");  // its padding is not part of it
    CHECK(m.value(m.priority).size() == 4);
    CHECK(m.value(m.priority)[0] == 0x6e);
    CHECK(m.ice_controlled.present());
    CHECK_FALSE(m.ice_controlling.present());
    CHECK_FALSE(m.use_candidate.present());
    CHECK(m.unknown_count == 0);
    CHECK(stun::fingerprint_valid(m));
    CHECK(stun::integrity_valid(m, stun::integrity_key(rfc5769_password)));
    CHECK_FALSE(stun::integrity_valid(m, stun::integrity_key("VOkJxbRl1RmTxUk/WvJxBu")));
    CHECK_FALSE(stun::integrity_sha256_valid(m, stun::integrity_key(rfc5769_password)));
}

TEST_CASE("stun: the writer makes RFC 5769's sample request byte for byte") {
    std::vector<std::uint8_t> buf(256);
    stun::writer w(buf, stun::type::binding_request, rfc5769_id);
    w.add(stun::attribute::software, octets("STUN test client"));
    w.add(stun::attribute::priority, std::array<std::uint8_t, 4>{0x6e, 0x00, 0x01, 0xff});
    w.add(stun::attribute::ice_controlled,
          std::array<std::uint8_t, 8>{0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36});
    w.add(stun::attribute::username, octets("evtj:h6vY"), 0x20);
    w.add_message_integrity(stun::integrity_key(rfc5769_password));
    w.add_fingerprint();
    REQUIRE(w.ok());
    buf.resize(w.size());
    CHECK(buf == rfc5769_request);
}

TEST_CASE("stun: the writer makes RFC 5769's IPv4 and IPv6 responses byte for byte") {
    const auto v4 = *ip_endpoint::from_string("192.0.2.1", 32853);
    const auto v6 = *ip_endpoint::from_string("2001:db8:1234:5678:11:2233:4455:6677", 32853);
    CHECK(write_rfc5769_response(v4) == rfc5769_ipv4_response);
    CHECK(write_rfc5769_response(v6) == rfc5769_ipv6_response);

    // And the parser reads them back.
    for (const auto* bytes : {&rfc5769_ipv4_response, &rfc5769_ipv6_response}) {
        stun::message m;
        REQUIRE(parse_bytes(*bytes, m) == stun::parse_error::none);
        CHECK(m.type == stun::type::binding_success);
        CHECK(stun::fingerprint_valid(m));
        CHECK(stun::integrity_valid(m, stun::integrity_key(rfc5769_password)));
        const auto mapped = stun::read_xor_address(m, m.xor_mapped_address);
        REQUIRE(mapped);
        CHECK(*mapped == (bytes == &rfc5769_ipv4_response ? v4 : v6));
    }
}

TEST_CASE("stun: the HMACs are OpenSSL's, for passwords short and longer than a block") {
    const std::string message = "any text at all, of some length";
    for (const std::string& password : {std::string("short"), std::string(22, 'p'),
                                        std::string(64, 'k'), std::string(200, 'L')}) {
        INFO("password of " << password.size());
        const stun::integrity_key key(password);
        const std::array<std::span<const std::uint8_t>, 2> parts{octets(message).subspan(0, 5),
                                                                 octets(message).subspan(5)};
        std::uint8_t ours1[20];
        key.sha1(parts, ours1);
        std::uint8_t ours256[32];
        key.sha256(parts, ours256);
        unsigned char theirs[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        HMAC(EVP_sha1(), password.data(), static_cast<int>(password.size()), octets(message).data(),
             message.size(), theirs, &len);
        REQUIRE(len == 20);
        CHECK(std::memcmp(ours1, theirs, 20) == 0);
        HMAC(EVP_sha256(), password.data(), static_cast<int>(password.size()),
             octets(message).data(), message.size(), theirs, &len);
        REQUIRE(len == 32);
        CHECK(std::memcmp(ours256, theirs, 32) == 0);
    }
}

TEST_CASE("stun: MESSAGE-INTEGRITY-SHA256 verifies whole and truncated (RFC 8489 14.6)") {
    const stun::integrity_key key(rfc5769_password);
    std::vector<std::uint8_t> buf(256);
    stun::writer w(buf, stun::type::binding_request, rfc5769_id);
    w.add(stun::attribute::username, octets("evtj:h6vY"));
    w.add_message_integrity(key);
    w.add_message_integrity_sha256(key);
    w.add_fingerprint();
    REQUIRE(w.ok());
    buf.resize(w.size());
    stun::message m;
    REQUIRE(parse_bytes(buf, m) == stun::parse_error::none);
    CHECK(m.value(m.message_integrity_sha256).size() == 32);
    CHECK(stun::integrity_valid(m, key));  // it covers what comes before it only
    CHECK(stun::integrity_sha256_valid(m, key));
    CHECK(stun::fingerprint_valid(m));
    CHECK_FALSE(stun::integrity_sha256_valid(m, stun::integrity_key("another password")));

    // Truncated to 16 octets: the header's length then ends 16 octets sooner.
    std::vector<std::uint8_t> t(256);
    stun::writer tw(t, stun::type::binding_request, rfc5769_id);
    tw.add(stun::attribute::username, octets("evtj:h6vY"));
    const auto before = tw.size();
    put16(t, 2, static_cast<std::uint16_t>(before + 4 + 16 - stun::header_length));
    const std::array<std::span<const std::uint8_t>, 1> text{std::span(t.data(), before)};
    std::uint8_t mac[32];
    key.sha256(text, mac);
    tw.add(stun::attribute::message_integrity_sha256, std::span(mac, 16));
    REQUIRE(tw.ok());
    t.resize(tw.size());
    REQUIRE(parse_bytes(t, m) == stun::parse_error::none);
    CHECK(stun::integrity_sha256_valid(m, key));
    t[t.size() - 1] ^= 1;
    REQUIRE(parse_bytes(t, m) == stun::parse_error::none);
    CHECK_FALSE(stun::integrity_sha256_valid(m, key));
}

TEST_CASE("stun: every truncation of a message is refused") {
    for (std::size_t n = 0; n < rfc5769_request.size(); ++n) {
        INFO("first " << n << " octets");
        stun::message m;
        const auto e = stun::parse(std::span(rfc5769_request.data(), n), m);
        CHECK(e == (n < stun::header_length ? stun::parse_error::not_stun
                                            : stun::parse_error::bad_length));
    }
}

TEST_CASE("stun: headers that are not STUN's, or lengths that do not add up, are refused") {
    stun::message m;
    auto bad = rfc5769_request;
    bad[0] |= 0x80;  // RFC 7983: RTP's range
    CHECK(parse_bytes(bad, m) == stun::parse_error::not_stun);
    bad = rfc5769_request;
    bad[4] ^= 1;  // not the magic cookie
    CHECK(parse_bytes(bad, m) == stun::parse_error::not_stun);
    bad = rfc5769_request;
    put16(bad, 2, 0x57);  // not a multiple of 4
    CHECK(parse_bytes(bad, m) == stun::parse_error::bad_length);
    bad = rfc5769_request;
    put16(bad, 2, 0x5c);  // more than the datagram holds
    CHECK(parse_bytes(bad, m) == stun::parse_error::bad_length);
    bad = rfc5769_request;
    bad.insert(bad.end(), {0, 0, 0, 0});  // trailing octets
    CHECK(parse_bytes(bad, m) == stun::parse_error::bad_length);
    // A header alone is a message without attributes.
    CHECK(parse_bytes(handmade({}), m) == stun::parse_error::none);
}

TEST_CASE("stun: attributes that run past the end, or break their definition, are refused") {
    stun::message m;
    auto bad = rfc5769_request;
    put16(bad, 22, 0x60);  // SOFTWARE claims more octets than there are
    CHECK(parse_bytes(bad, m) == stun::parse_error::attribute_overrun);
    // The last attribute's padding runs past the end.
    CHECK(parse_bytes(handmade({0x80, 0x22, 0x00, 0x05, 'a', 'b', 'c', 'd'}), m) ==
          stun::parse_error::attribute_overrun);
    // Empty attributes are attributes.
    CHECK(parse_bytes(handmade({0x80, 0x22, 0x00, 0x00, 0x80, 0x22, 0x00, 0x00}), m) ==
          stun::parse_error::none);
    // MESSAGE-INTEGRITY of 16 octets, FINGERPRINT of 8, USE-CANDIDATE with a value.
    CHECK(parse_bytes(handmade({0x00, 0x08, 0x00, 0x10, 1,  2,  3,  4,  5,  6,
                                7,    8,    9,    10,   11, 12, 13, 14, 15, 16}),
                      m) == stun::parse_error::bad_attribute);
    CHECK(parse_bytes(handmade({0x80, 0x28, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}), m) ==
          stun::parse_error::bad_attribute);
    CHECK(parse_bytes(handmade({0x00, 0x25, 0x00, 0x04, 0, 0, 0, 0}), m) ==
          stun::parse_error::bad_attribute);
    // Anything after FINGERPRINT.
    auto after = rfc5769_request;
    after.insert(after.end(), {0x80, 0x22, 0x00, 0x00});
    put16(after, 2, static_cast<std::uint16_t>(after.size() - stun::header_length));
    CHECK(parse_bytes(after, m) == stun::parse_error::after_fingerprint);
}

TEST_CASE("stun: unknown comprehension-required attributes are listed, optional ones ignored") {
    sbc::test::check_options o;
    o.extra = {0x7777, 0xC001, 0x0003, 0x7FFF};
    const auto bytes = sbc::test::binding_request(o);
    stun::message m;
    REQUIRE(parse_bytes(bytes, m) == stun::parse_error::none);
    REQUIRE(m.unknown_count == 3);
    CHECK(m.unknown[0] == 0x7777);
    CHECK(m.unknown[1] == 0x0003);
    CHECK(m.unknown[2] == 0x7FFF);
}

TEST_CASE("stun: what follows MESSAGE-INTEGRITY is ignored but for SHA256 and FINGERPRINT") {
    const stun::integrity_key key(rfc5769_password);
    std::vector<std::uint8_t> buf(256);
    stun::writer w(buf, stun::type::binding_request, rfc5769_id);
    w.add_message_integrity(key);
    w.add(stun::attribute::username, octets("late:user"));
    w.add(0x7777, octets("unknown"));
    w.add(stun::attribute::use_candidate, {});
    w.add_fingerprint();
    REQUIRE(w.ok());
    buf.resize(w.size());
    stun::message m;
    REQUIRE(parse_bytes(buf, m) == stun::parse_error::none);
    CHECK_FALSE(m.username.present());
    CHECK_FALSE(m.use_candidate.present());
    CHECK(m.unknown_count == 0);
    CHECK(m.fingerprint.present());
    CHECK(stun::fingerprint_valid(m));
    CHECK(stun::integrity_valid(m, key));
}

TEST_CASE("stun: a changed octet fails the integrity check, a changed fingerprint its own") {
    stun::message m;
    auto bad = rfc5769_request;
    bad[44] ^= 0x01;  // the PRIORITY
    REQUIRE(parse_bytes(bad, m) == stun::parse_error::none);
    CHECK_FALSE(stun::integrity_valid(m, stun::integrity_key(rfc5769_password)));
    CHECK_FALSE(stun::fingerprint_valid(m));
    bad = rfc5769_request;
    bad.back() ^= 0x01;
    REQUIRE(parse_bytes(bad, m) == stun::parse_error::none);
    CHECK(stun::integrity_valid(m, stun::integrity_key(rfc5769_password)));
    CHECK_FALSE(stun::fingerprint_valid(m));
    // Without a FINGERPRINT there is nothing to verify.
    sbc::test::check_options o;
    o.fingerprint = false;
    const auto none = sbc::test::binding_request(o);
    REQUIRE(parse_bytes(none, m) == stun::parse_error::none);
    CHECK_FALSE(stun::fingerprint_valid(m));
}

TEST_CASE("stun: the writer never writes past its buffer") {
    for (std::size_t room = 0; room < 80; ++room) {
        INFO("room for " << room);
        std::vector<std::uint8_t> buf(room + 16, 0xEE);
        stun::writer w(std::span(buf.data(), room), stun::type::binding_success, rfc5769_id);
        w.add_xor_address(stun::attribute::xor_mapped_address,
                          *ip_endpoint::from_string("2001:db8::1", 9));
        w.add_message_integrity(stun::integrity_key(rfc5769_password));
        w.add_fingerprint();
        CHECK(w.ok() == (room >= 20 + 24 + 24 + 8));
        CHECK(w.size() <= room);
        for (std::size_t i = room; i < buf.size(); ++i) {
            CHECK(buf[i] == 0xEE);
        }
        if (!w.ok()) {
            continue;
        }
        stun::message m;
        REQUIRE(stun::parse(std::span(buf.data(), w.size()), m) == stun::parse_error::none);
        CHECK(stun::fingerprint_valid(m));
    }
}
