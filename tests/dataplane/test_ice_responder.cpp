// The ICE-lite responder (RFC 8445 7.3, RFC 8489 6.3 and 9.1.3): which
// checks are answered, which rejected with which error, which dropped, and
// what the responses hold, as the checking agent reads them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "dataplane/core/ice_responder.hpp"
#include "tests/dataplane/rfc5769.hpp"
#include "tests/dataplane/stun_client.hpp"

using namespace sbc::dataplane;
using sbc::test::binding_request;
using sbc::test::check_options;
using sbc::test::read_check_response;

namespace {

ice_credentials rfc5769_credentials(std::string remote = sbc::test::check_remote_ufrag) {
    return ice_credentials{sbc::test::check_local_ufrag, sbc::test::check_password,
                           std::move(remote)};
}

const ip_endpoint checker_v4 = *ip_endpoint::from_string("192.0.2.1", 32853);

// What respond() made of `request`, and the response as its sender reads it.
struct ice_exchange {
    ice_responder::answer answer;
    std::vector<std::uint8_t> response;
    sbc::test::check_response read;
};

ice_exchange ice_check(const ice_responder& r, const std::vector<std::uint8_t>& request,
                       const ip_endpoint& from = checker_v4) {
    ice_exchange e;
    std::vector<std::uint8_t> out(ice_responder::max_response);
    e.answer = r.respond(request, from, out);
    if (e.answer.what != ice_responder::verdict::drop) {
        out.resize(e.answer.length);
        e.response = out;
        e.read = read_check_response(out);
    }
    return e;
}

check_options ice_options(void (*change)(check_options&)) {
    check_options o;
    change(o);
    return o;
}

}  // namespace

TEST_CASE("ice: a controlling agent's check gets a success with its address, signed") {
    const ice_responder r(rfc5769_credentials());
    const auto request = binding_request();
    const auto e = ice_check(r, request);
    REQUIRE(e.answer.what == ice_responder::verdict::success);
    CHECK(e.answer.error_code == 0);
    CHECK_FALSE(e.answer.nominated);
    CHECK(e.answer.priority == 0x6e0001ffu);
    const auto& resp = e.read;
    REQUIRE(resp.parsed);
    CHECK(resp.type == stun::type::binding_success);
    CHECK(resp.id == sbc::test::check_id(1));
    REQUIRE(resp.mapped);
    CHECK(*resp.mapped == checker_v4);
    CHECK(resp.has_integrity);
    CHECK(resp.integrity_ok);
    CHECK_FALSE(resp.has_integrity_sha256);
    CHECK(resp.fingerprint_ok);
    CHECK_FALSE(resp.has_username);  // RFC 8489 9.1.3
    CHECK(e.response.size() == 20 + 12 + 24 + 8);
}

TEST_CASE("ice: the mapped address is the source's, over IPv6 too (RFC 8445 7.3.1.2)") {
    const ice_responder r(rfc5769_credentials());
    const auto from = *ip_endpoint::from_string("2001:db8:1234:5678:11:2233:4455:6677", 40000);
    const auto e = ice_check(r, binding_request(), from);
    REQUIRE(e.answer.what == ice_responder::verdict::success);
    REQUIRE(e.read.mapped);
    CHECK(*e.read.mapped == from);
    CHECK(e.read.integrity_ok);
}

TEST_CASE("ice: USE-CANDIDATE nominates, and the answer says so with the PRIORITY") {
    const ice_responder r(rfc5769_credentials());
    const auto e = ice_check(r, binding_request(ice_options([](check_options& o) {
                                 o.use_candidate = true;
                                 o.priority = 1234;
                             })));
    REQUIRE(e.answer.what == ice_responder::verdict::success);
    CHECK(e.answer.nominated);
    CHECK(e.answer.priority == 1234u);
}

TEST_CASE("ice: a request with MESSAGE-INTEGRITY-SHA256 is answered with it alone") {
    const ice_responder r(rfc5769_credentials());
    const auto e = ice_check(
        r, binding_request(ice_options([](check_options& o) { o.integrity_sha256 = true; })));
    REQUIRE(e.answer.what == ice_responder::verdict::success);
    CHECK(e.read.has_integrity_sha256);
    CHECK(e.read.integrity_sha256_ok);
    CHECK_FALSE(e.read.has_integrity);  // RFC 8489 9.1.3: only one of them
    CHECK(e.read.fingerprint_ok);

    // A forged SHA256 value is caught even when MESSAGE-INTEGRITY is right
    // (RFC 8489 9.1.3: the SHA256 one is the one checked).
    auto forged = binding_request(ice_options([](check_options& o) { o.integrity_sha256 = true; }));
    forged[forged.size() - 8 - 1] ^= 1;  // the SHA256 value's last octet
    sbc::test::refingerprint(forged);
    const auto f = ice_check(r, forged);
    REQUIRE(f.answer.what == ice_responder::verdict::error);
    CHECK(f.answer.error_code == 401);
}

TEST_CASE("ice: RFC 5769's sample request, from a controlled agent, gets 487 (RFC 8445 7.3.1.1)") {
    // It passes every check but the role: its sender says it is controlled
    // (ICE-CONTROLLED), and so is a lite agent, always.
    const ice_responder r(rfc5769_credentials());
    const auto e = ice_check(r, sbc::test::rfc5769_request);
    REQUIRE(e.answer.what == ice_responder::verdict::error);
    CHECK(e.answer.error_code == 487);
    CHECK(e.read.type == stun::type::binding_error);
    CHECK(e.read.id == sbc::test::rfc5769_id);
    CHECK(e.read.error_code == 487);
    CHECK(e.read.integrity_ok);  // authenticated: its sender can trust it
    CHECK(e.read.fingerprint_ok);
    CHECK_FALSE(e.read.mapped);
    // The same from the helper's writer, so both say the same thing.
    const auto again = ice_check(r, binding_request(ice_options([](check_options& o) {
                                     o.controlling = false;
                                     o.controlled = true;
                                 })));
    CHECK(again.answer.error_code == 487);
}

TEST_CASE("ice: without USERNAME or integrity, 400, unsigned (RFC 8489 9.1.3)") {
    const ice_responder r(rfc5769_credentials());
    for (const auto& request :
         {binding_request(ice_options([](check_options& o) { o.username.reset(); })),
          binding_request(ice_options([](check_options& o) { o.integrity = false; }))}) {
        const auto e = ice_check(r, request);
        REQUIRE(e.answer.what == ice_responder::verdict::error);
        CHECK(e.read.error_code == 400);
        CHECK_FALSE(e.read.has_integrity);
        CHECK_FALSE(e.read.has_integrity_sha256);
        CHECK(e.read.fingerprint_ok);
        CHECK(e.read.id == sbc::test::check_id(1));
    }
}

TEST_CASE("ice: a wrong USERNAME or password gets 401, unsigned") {
    const ice_responder r(rfc5769_credentials());
    const std::vector<check_options> wrong = {
        ice_options([](check_options& o) { o.username = "evtX:h6vY"; }),   // not our ufrag
        ice_options([](check_options& o) { o.username = "evtj:h6vX"; }),   // not the peer's
        ice_options([](check_options& o) { o.username = "h6vY:evtj"; }),   // the wrong way round
        ice_options([](check_options& o) { o.username = "evtj"; }),        // no colon
        ice_options([](check_options& o) { o.username = "evtj:"; }),       // no remote part
        ice_options([](check_options& o) { o.username = "evtjj:h6vY"; }),  // a longer ufrag
        ice_options([](check_options& o) { o.password = "VOkJxbRl1RmTxUk/WvJxBu"; }),
    };
    for (const auto& o : wrong) {
        INFO("username " << o.username.value_or("(none)") << ", password " << o.password);
        const auto e = ice_check(r, binding_request(o));
        REQUIRE(e.answer.what == ice_responder::verdict::error);
        CHECK(e.read.error_code == 401);
        CHECK_FALSE(e.read.has_integrity);
        CHECK(e.read.fingerprint_ok);
    }
}

TEST_CASE("ice: before the peer's SDP, any remote fragment is taken (RFC 8445 7.3)") {
    const ice_responder r(rfc5769_credentials(""));
    const auto e = ice_check(
        r, binding_request(ice_options([](check_options& o) { o.username = "evtj:anyPeerFrag"; })));
    CHECK(e.answer.what == ice_responder::verdict::success);
    CHECK(ice_check(r, binding_request(ice_options([](check_options& o) { o.username = "evtj:"; })))
              .answer.error_code == 401);
}

TEST_CASE("ice: unknown comprehension-required attributes get 420 listing them, signed") {
    const ice_responder r(rfc5769_credentials());
    const auto e = ice_check(r, binding_request(ice_options([](check_options& o) {
                                 o.extra = {0x7777, 0xC001, 0x0042};
                             })));
    REQUIRE(e.answer.what == ice_responder::verdict::error);
    CHECK(e.read.error_code == 420);
    CHECK(e.read.unknown == std::vector<std::uint16_t>{0x7777, 0x0042});
    CHECK(e.read.integrity_ok);
    CHECK(e.read.fingerprint_ok);
    // Comprehension-optional ones alone are ignored.
    CHECK(ice_check(r, binding_request(ice_options([](check_options& o) { o.extra = {0xC001}; })))
              .answer.what == ice_responder::verdict::success);
    // The most a parse records still fits the response.
    const auto many = ice_check(r, binding_request(ice_options([](check_options& o) {
                                    o.extra = {0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0105,
                                               0x0106, 0x0107, 0x0108, 0x0109, 0x010A, 0x010B};
                                })));
    REQUIRE(many.answer.what == ice_responder::verdict::error);
    CHECK(many.read.unknown.size() == stun::message::max_unknown);
    CHECK(many.read.integrity_ok);
}

TEST_CASE("ice: what is not a Binding request with a right FINGERPRINT is dropped") {
    const ice_responder r(rfc5769_credentials());
    using reason = ice_responder::drop_reason;
    const auto drop_reason_of = [&](const std::vector<std::uint8_t>& bytes) {
        const auto e = ice_check(r, bytes);
        CHECK(e.answer.what == ice_responder::verdict::drop);
        return e.answer.why;
    };
    CHECK(drop_reason_of(binding_request(ice_options(
              [](check_options& o) { o.fingerprint = false; }))) == reason::bad_fingerprint);
    auto bad_fp = binding_request();
    bad_fp.back() ^= 0xFF;
    CHECK(drop_reason_of(bad_fp) == reason::bad_fingerprint);
    for (const std::uint16_t type : {stun::type::binding_indication, stun::type::binding_success,
                                     stun::type::binding_error, std::uint16_t{0x0003}}) {
        INFO("type " << type);
        auto o = check_options{};
        o.type = type;
        CHECK(drop_reason_of(binding_request(o)) == reason::not_request);
    }
    auto truncated = binding_request();
    truncated.resize(truncated.size() - 4);
    CHECK(drop_reason_of(truncated) == reason::malformed);
    CHECK(drop_reason_of({}) == reason::malformed);
    CHECK(drop_reason_of({0x00, 0x01}) == reason::malformed);
}

TEST_CASE("ice: the response may replace the request in its own buffer") {
    const ice_responder r(rfc5769_credentials());
    for (const bool sha256 : {false, true}) {
        check_options o;
        o.use_candidate = true;
        o.integrity_sha256 = sha256;
        o.extra = sha256 ? std::vector<std::uint16_t>{0x7001} : std::vector<std::uint16_t>{};
        const auto request = binding_request(o);
        const auto apart = ice_check(r, request);
        std::vector<std::uint8_t> buffer = request;
        buffer.resize(1500);
        const auto a = r.respond(std::span(buffer.data(), request.size()), checker_v4, buffer);
        REQUIRE(a.what == apart.answer.what);
        REQUIRE(a.length == apart.answer.length);
        buffer.resize(a.length);
        CHECK(buffer == apart.response);
    }
}

TEST_CASE("ice: no room for the response is a drop, and nothing is written past `out`") {
    const ice_responder r(rfc5769_credentials());
    const auto request = binding_request();
    std::vector<std::uint8_t> out(80, 0xEE);
    const auto a = r.respond(request, checker_v4, std::span(out.data(), 40));
    CHECK(a.what == ice_responder::verdict::drop);
    CHECK(a.why == ice_responder::drop_reason::no_room);
    for (std::size_t i = 40; i < out.size(); ++i) {
        CHECK(out[i] == 0xEE);
    }
}

TEST_CASE("ice: new local credentials are a restart, the peer's ufrag learnt is not") {
    const ice_responder before(rfc5769_credentials(""));
    auto after = rfc5769_credentials();
    CHECK_FALSE(ice_responder::restarts(&before, &after));  // the answer's ufrag filled in
    after.local_ufrag = "newU";
    CHECK(ice_responder::restarts(&before, &after));
    after = rfc5769_credentials();
    after.local_pwd = "aNewPasswordOf22Chars+";
    CHECK(ice_responder::restarts(&before, &after));
    CHECK(ice_responder::restarts(nullptr, &after));
    CHECK(ice_responder::restarts(&before, nullptr));
}

TEST_CASE("ice credentials follow RFC 8839's grammar") {
    CHECK(rfc5769_credentials().invalid_because().empty());
    CHECK(rfc5769_credentials("").invalid_because().empty());  // the peer's not known yet
    const auto with = [](std::string ufrag, std::string pwd, std::string remote) {
        return ice_credentials{std::move(ufrag), std::move(pwd), std::move(remote)}
            .invalid_because();
    };
    const std::string pwd = sbc::test::check_password;
    CHECK_FALSE(with("abc", pwd, "").empty());                  // ufrag under 4
    CHECK_FALSE(with(std::string(257, 'u'), pwd, "").empty());  // over 256
    CHECK(with(std::string(256, 'u'), std::string(256, 'p'), "").empty());
    CHECK_FALSE(with("ab:c", pwd, "").empty());                 // ':' is no ice-char
    CHECK_FALSE(with("abcd", "tooShortPassword", "").empty());  // pwd under 22
    CHECK_FALSE(with("abcd", pwd, "x y z").empty());
    CHECK(with("a+/9", pwd, "Z+/0").empty());
}

TEST_CASE("ice: corrupted and cut checks are answered or dropped, never misread") {
    // Untrusted input (STYLE.md): 20,000 checks with octets changed, the
    // length field changed or the datagram cut, from a fixed seed. Whatever
    // respond() sends must be a well-formed response to the same
    // transaction; under AddressSanitizer this also shows no read outside
    // the datagram.
    const ice_responder r(rfc5769_credentials());
    check_options o;
    o.use_candidate = true;
    o.integrity_sha256 = true;
    o.extra = {0xC001};
    const auto valid = binding_request(o);
    std::mt19937 rng(21);
    std::size_t answered = 0;
    for (int i = 0; i < 20000; ++i) {
        auto bytes = valid;
        switch (rng() % 3) {
            case 0:
                for (unsigned k = 0; k < 1 + rng() % 4; ++k) {
                    bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
                }
                break;
            case 1:
                bytes[2 + rng() % 2] = static_cast<std::uint8_t>(rng());
                break;
            default:
                bytes.resize(rng() % bytes.size());
                break;
        }
        if (rng() % 2 == 0 && bytes.size() >= 28) {
            sbc::test::refingerprint(bytes);  // reach past the fingerprint check
        }
        // Exactly the datagram's octets, so a read past them is one past the block.
        const std::vector<std::uint8_t> datagram(bytes.begin(), bytes.end());
        std::vector<std::uint8_t> out(ice_responder::max_response);
        const auto a = r.respond(datagram, checker_v4, out);
        if (a.what == ice_responder::verdict::drop) {
            continue;
        }
        ++answered;
        out.resize(a.length);
        const auto resp = read_check_response(out);
        INFO("case " << i);
        REQUIRE(resp.parsed);
        CHECK(resp.fingerprint_ok);
        CHECK(std::equal(resp.id.begin(), resp.id.end(), datagram.begin() + 8));
        CHECK((resp.type == stun::type::binding_success) ==
              (a.what == ice_responder::verdict::success));
        if (a.what == ice_responder::verdict::success) {
            CHECK(resp.mapped == checker_v4);
            // SHA256 if it still had it; a change that made its attribute
            // another leaves MESSAGE-INTEGRITY, which does not cover it.
            CHECK((resp.integrity_sha256_ok || resp.integrity_ok));
        }
    }
    CHECK(answered > 0);
}
