// Digest authentication: the RFC examples, both sides of a SIP challenge, and
// header values a hostile or broken peer might send.
#include <catch2/catch.hpp>

#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sbc/auth/digest.hpp"
#include "sbc/auth/nonce.hpp"

using namespace sbc::auth;
using namespace std::string_literals;
using namespace std::string_view_literals;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_digest {

namespace {

constexpr std::array all_algorithms{algorithm::md5,        algorithm::md5_sess,
                                    algorithm::sha256,     algorithm::sha256_sess,
                                    algorithm::sha512_256, algorithm::sha512_256_sess};

// ---- RFC 7616 3.9.1 ----
constexpr std::string_view rfc7616_realm = "http-auth@example.org";
constexpr std::string_view rfc7616_nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr std::string_view rfc7616_cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
constexpr std::string_view rfc7616_opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

// The two challenges of the example as they arrive: one header each, folded.
std::string rfc7616_challenge(std::string_view algo) {
    return "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n"
           "    algorithm="s +
           std::string(algo) +
           ",\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
           "    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
}

const credentials mufasa{.username = "Mufasa", .password = "Circle of Life"};
const request_info get_index{.method = "GET", .uri = "/dir/index.html", .body = ""};

// ---- a SIP call: the client side answers a carrier, the server side a trunk ----
const credentials trunk_7{.username = "trunk-7", .password = "s3cr\"et\\"};
constexpr std::string_view carrier_realm = "sip.carrier.example";
constexpr std::string_view sdp_offer =
    "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\n";

request_info invite(std::string_view body = sdp_offer) {
    return request_info{
        .method = "INVITE", .uri = "sip:+14155550100@sip.carrier.example;user=phone", .body = body};
}

challenge carrier_challenge(algorithm a, bool auth, bool auth_int) {
    challenge c;
    c.realm = carrier_realm;
    c.nonce = "nonce-XYZ/+=";
    c.algo = a;
    c.qop_auth = auth;
    c.qop_auth_int = auth_int;
    return c;
}

constexpr std::string_view fixed_cnonce = "0123456789abcdef0123456789abcdef";

// The quoted value of `name` in a header value we wrote ourselves.
std::string param_of(const std::string& value, const std::string& name) {
    auto at = value.find(", " + name + "=");
    if (at == std::string::npos) {
        at = value.find(" " + name + "=");
    }
    if (at == std::string::npos) {
        return "<absent>";
    }
    auto start = value.find('=', at) + 1;
    auto end = value.find(", ", start);
    return value.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
    return std::chrono::system_clock::time_point{std::chrono::seconds{unix_seconds}};
}

constexpr std::int64_t t0 = 1'700'000'000;

}  // namespace

// ---- the RFC examples ----

TEST_CASE("RFC 7616 3.9.1: the MD5 and SHA-256 responses", "[digest][rfc]") {
    for (auto [algo, response] : {
             std::pair{"MD5"sv, "8ca523f5e9506fed4657c9700eebdbec"sv},
             std::pair{"SHA-256"sv,
                       "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"sv},
         }) {
        CAPTURE(algo);
        auto c = parse_challenge(rfc7616_challenge(algo));
        REQUIRE(c);
        auto value = authorization_value(*c, mufasa, get_index, 1, rfc7616_cnonce);
        REQUIRE(param_of(value, "response") == "\"" + std::string(response) + "\"");
        REQUIRE(param_of(value, "nc") == "00000001");
        REQUIRE(param_of(value, "qop") == "auth");
        REQUIRE(param_of(value, "opaque") == "\"" + std::string(rfc7616_opaque) + "\"");
    }
}

TEST_CASE("RFC 7616 3.9.1: the example's Authorization verifies", "[digest][rfc]") {
    auto a = parse_authorization(
        "Digest username=\"Mufasa\",\r\n"
        "    realm=\"http-auth@example.org\",\r\n"
        "    uri=\"/dir/index.html\",\r\n"
        "    algorithm=SHA-256,\r\n"
        "    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
        "    nc=00000001,\r\n"
        "    cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
        "    qop=auth,\r\n"
        "    response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n"
        "    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"");
    REQUIRE(a);
    REQUIRE(a->username == "Mufasa");
    REQUIRE(a->realm == rfc7616_realm);
    REQUIRE(a->nonce == rfc7616_nonce);
    REQUIRE(a->cnonce == rfc7616_cnonce);
    REQUIRE(a->opaque == rfc7616_opaque);
    REQUIRE(a->algo == algorithm::sha256);
    REQUIRE(a->qop == "auth");
    REQUIRE(a->nc == "00000001");
    REQUIRE(verify(*a, "Circle of Life", get_index));
    REQUIRE_FALSE(verify(*a, "Circle Of Life", get_index));
}

TEST_CASE("RFC 2617 3.5: the MD5 response", "[digest][rfc]") {
    auto c = parse_challenge(
        "Digest\r\n"
        "    realm=\"testrealm@host.com\",\r\n"
        "    qop=\"auth,auth-int\",\r\n"
        "    nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n"
        "    opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
    REQUIRE(c);
    REQUIRE(c->algo == algorithm::md5);  // absent means MD5
    const credentials who{.username = "Mufasa", .password = "Circle Of Life"};
    auto value = authorization_value(*c, who, get_index, 1, "0a4f113b");
    REQUIRE(param_of(value, "response") == "\"6629fae49393a05397450978507c4ef1\"");

    auto a = parse_authorization(value);
    REQUIRE(a);
    REQUIRE(verify(*a, "Circle Of Life", get_index));
}

// Expected values computed apart from this code, with Python's hashlib
// (which has SHA-512/256), from the formulas of RFC 7616 3.4.1-3.4.3.
TEST_CASE("every algorithm and qop matches an independent implementation", "[digest]") {
    struct vector {
        algorithm algo;
        bool auth, auth_int;
        std::string_view response;
    };
    const std::vector<vector> vectors{
        {algorithm::md5, true, false, "4f577b456a897f6fa9584c20265f39eb"},
        {algorithm::md5, false, true, "ab199559f6c53c8ac58aba00adffbfd5"},
        {algorithm::md5, false, false, "48d4f2908b633571b61334145c3fd9fd"},
        {algorithm::md5_sess, true, false, "24f7e71e27f7a49279b239d3db98e55c"},
        {algorithm::md5_sess, false, true, "9df020bfa440ebcc7c1b90c6030e79bf"},
        {algorithm::md5_sess, false, false, "4fe70c1569f3807ec2223b288f579790"},
        {algorithm::sha256, true, false,
         "25894807fd39144b3598312e0d4b89ac28b11315676be0e6bb1d47e8e4fb6735"},
        {algorithm::sha256, false, true,
         "5d637ca7822950c0a289d2ff4c3cb7a4243160425c985b1895efb63dd9a5775a"},
        {algorithm::sha256, false, false,
         "41f5046021140c07e28051c9ac6a4cf3f7f5f2b35452f87f63b9c6dce77186f1"},
        {algorithm::sha256_sess, true, false,
         "531a10f015ccae5afe7d2dd8e5a5308b26e771fd9fbf7574aed74bb2da6084f5"},
        {algorithm::sha256_sess, false, true,
         "c7d9520bd4aec0e8aa258e18b7dc6da9db4f52d776d3bbb619eb1243ac781b1e"},
        {algorithm::sha256_sess, false, false,
         "e388ec7f5433a975f065713f2264e86228ba637dabc780c3495a47691e1b4172"},
        {algorithm::sha512_256, true, false,
         "1c2b599f33365b5471cbab38fa77d327c7e507d776559098a29a3070cbaccf3c"},
        {algorithm::sha512_256, false, true,
         "d182de5697980c424749b5ad63a5abec452e15dc1f2588f0a279aacbfd0de293"},
        {algorithm::sha512_256, false, false,
         "9fe310388d82d7cc3b978de5e939e56830dd326606d114f649ccef8feeac30d5"},
        {algorithm::sha512_256_sess, true, false,
         "501fbc4e3456bf5c7b28ee913037804360ceb322f86139e64b9b8018ca6ac5bd"},
        {algorithm::sha512_256_sess, false, true,
         "d9b4bb7571a0d768b947a2985159e3d5edc26f7254ad3024367e95d1fab73753"},
        {algorithm::sha512_256_sess, false, false,
         "5333ddf9b976a4f0384f217f33e66c2141c284088b257388c4c49b273d749505"},
    };
    for (const auto& v : vectors) {
        CAPTURE(to_string(v.algo), v.auth, v.auth_int);
        auto value = authorization_value(carrier_challenge(v.algo, v.auth, v.auth_int), trunk_7,
                                         invite(), 0x2a, fixed_cnonce);
        REQUIRE(param_of(value, "response") == "\"" + std::string(v.response) + "\"");
    }
}

// ---- algorithm names ----

TEST_CASE("algorithm names are RFC 8760's and parse case-insensitively", "[digest]") {
    REQUIRE(to_string(algorithm::md5) == "MD5");
    REQUIRE(to_string(algorithm::md5_sess) == "MD5-sess");
    REQUIRE(to_string(algorithm::sha256) == "SHA-256");
    REQUIRE(to_string(algorithm::sha256_sess) == "SHA-256-sess");
    REQUIRE(to_string(algorithm::sha512_256) == "SHA-512-256");
    REQUIRE(to_string(algorithm::sha512_256_sess) == "SHA-512-256-sess");
    for (auto a : all_algorithms) {
        REQUIRE(parse_algorithm(to_string(a)) == a);
    }
    REQUIRE(parse_algorithm("md5") == algorithm::md5);
    REQUIRE(parse_algorithm("sha-512-256-SESS") == algorithm::sha512_256_sess);
    REQUIRE_FALSE(parse_algorithm("SHA-512"));
    REQUIRE_FALSE(parse_algorithm("SHA256"));
    REQUIRE_FALSE(parse_algorithm("AKAv1-MD5"));
    REQUIRE_FALSE(parse_algorithm(""));
}

// ---- parsing challenges ----

TEST_CASE("challenge: the RFC 7616 3.9.1 challenges", "[digest][parse]") {
    auto sha = parse_challenge(rfc7616_challenge("SHA-256"));
    REQUIRE(sha);
    REQUIRE(sha->realm == rfc7616_realm);
    REQUIRE(sha->nonce == rfc7616_nonce);
    REQUIRE(sha->opaque == rfc7616_opaque);
    REQUIRE(sha->algo == algorithm::sha256);
    REQUIRE(sha->qop_auth);
    REQUIRE(sha->qop_auth_int);
    REQUIRE_FALSE(sha->stale);

    auto md5 = parse_challenge(rfc7616_challenge("MD5"));
    REQUIRE(md5);
    REQUIRE(md5->algo == algorithm::md5);
}

TEST_CASE("challenge: several in one value, the first supported wins", "[digest][parse]") {
    // RFC 7235 4.1: challenges of any scheme, comma separated, in one value.
    const std::string value =
        "Negotiate abc+/def==, Basic realm=\"b\", "
        "Digest realm=\"r\", nonce=\"n1\", algorithm=SHA-512-999, qop=\"auth\", "
        "Digest realm=\"r\", nonce=\"n2\", algorithm=SHA-512-256, qop=\"auth\", "
        "Digest realm=\"r\", nonce=\"n3\", algorithm=MD5, qop=\"auth\", Bearer";
    auto c = parse_challenge(value);
    REQUIRE(c);
    REQUIRE(c->nonce == "n2");
    REQUIRE(c->algo == algorithm::sha512_256);

    auto all = parse_challenges(value);
    REQUIRE(all.size() == 2);
    REQUIRE(all[0].nonce == "n2");
    REQUIRE(all[1].nonce == "n3");
}

TEST_CASE("choose_challenge: the first value that parses, in the order given", "[digest]") {
    REQUIRE(choose_challenge({rfc7616_challenge("SHA-256"), rfc7616_challenge("MD5")})->algo ==
            algorithm::sha256);
    REQUIRE(choose_challenge({rfc7616_challenge("MD5"), rfc7616_challenge("SHA-256")})->algo ==
            algorithm::md5);
    // RFC 8760 2.4: a client skips what it does not support.
    REQUIRE(choose_challenge({rfc7616_challenge("SHA-512"), "Basic realm=\"x\"",
                              rfc7616_challenge("SHA-512-256"), rfc7616_challenge("MD5")})
                ->algo == algorithm::sha512_256);
    REQUIRE_FALSE(choose_challenge({}));
    REQUIRE_FALSE(choose_challenge({"Basic realm=\"x\"", "", rfc7616_challenge("AKAv1-MD5")}));
}

TEST_CASE("challenge: odd spacing, case and empty list elements", "[digest][parse]") {
    auto c = parse_challenge(
        "  dIgEsT \t REALM = \"r\" ,,  NONCE=abc/+9==\t,Algorithm = sha-256-SESS ,"
        "QOP=\"  AUTH-INT ,\tauth-conf\" , StAlE=TRUE , ");
    REQUIRE(c);
    REQUIRE(c->realm == "r");
    REQUIRE(c->nonce == "abc/+9==");
    REQUIRE(c->algo == algorithm::sha256_sess);
    REQUIRE_FALSE(c->qop_auth);
    REQUIRE(c->qop_auth_int);
    REQUIRE(c->stale);

    // Unquoted qop and quoted algorithm, as some servers send them.
    auto loose = parse_challenge("Digest realm=r, nonce=n, qop=auth, algorithm=\"SHA-256\"");
    REQUIRE(loose);
    REQUIRE(loose->qop_auth);
    REQUIRE(loose->algo == algorithm::sha256);

    // No qop at all: RFC 2069 compatibility.
    auto old = parse_challenge("Digest realm=\"r\", nonce=\"n\", stale=false");
    REQUIRE(old);
    REQUIRE_FALSE(old->qop_auth);
    REQUIRE_FALSE(old->qop_auth_int);
    REQUIRE_FALSE(old->stale);
    REQUIRE(old->opaque.empty());
}

TEST_CASE("challenge: unknown parameters are ignored", "[digest][parse]") {
    auto c = parse_challenge(
        "Digest realm=\"r\", domain=\"sip:a sip:b\", nonce=\"n\", charset=UTF-8, "
        "userhash=true, x-vendor=\"a, b=c\", qop=\"auth\"");
    REQUIRE(c);
    REQUIRE(c->realm == "r");
    REQUIRE(c->nonce == "n");
    REQUIRE(c->qop_auth);
}

TEST_CASE("challenge: quoted strings with escapes", "[digest][parse]") {
    auto c = parse_challenge(
        R"(Digest realm="a \"quoted\" realm, with \\ and \, ", nonce="n\o\n\c\e", qop="auth")");
    REQUIRE(c);
    REQUIRE(c->realm == R"(a "quoted" realm, with \ and , )");
    REQUIRE(c->nonce == "nonce");

    // Written back escaped, so the server reads the same realm.
    auto a = parse_authorization(authorization_value(*c, trunk_7, invite(), 1, fixed_cnonce));
    REQUIRE(a);
    REQUIRE(a->realm == c->realm);
    REQUIRE(verify(*a, trunk_7.password, invite()));

    // obs-text (a UTF-8 realm) and HTAB are allowed in a quoted string.
    auto utf8 = parse_challenge("Digest realm=\"J\xC3\xA4s\xC3\xB8n\tDoe\", nonce=\"n\"");
    REQUIRE(utf8);
    REQUIRE(utf8->realm == "J\xC3\xA4s\xC3\xB8n\tDoe");
}

TEST_CASE("challenge: what is refused", "[digest][parse]") {
    const char* refused[] = {
        "",
        "Digest",
        "Basic realm=\"r\"",
        "Digestive realm=\"r\", nonce=\"n\"",
        "Digest realm=\"r\"",                                    // no nonce
        "Digest nonce=\"n\"",                                    // no realm
        "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1",      // unknown algorithm
        "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-MD5",  // RFC 3310, not ours
        "Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\"",    // no qop we can answer
        "Digest realm=\"r\", nonce=\"n\", qop=\"\"",
        "Digest realm=\"r\", nonce=\"n\", realm=\"s\"",  // duplicated parameter
        "Digest realm=\"r\", nonce=\"n\", ALGORITHM=MD5, algorithm=SHA-256",
        "Digest realm=\"r\" nonce=\"n\"",  // no comma
        "Digest realm=\"r\"; nonce=\"n\"",
        "Digestrealm=\"r\", nonce=\"n\"",
        "Digest realm=\"r\", nonce=",
        "Digest realm=\"r\", nonce=\"n\", opaque=a\"b\"",
        "Digest realm=\"r\", =\"n\"",
        "Digest abcdef==",                                   // token68
        "Digest realm=\"r\", nonce=\"n\r\nX-Injected: 1\"",  // CR LF in a quoted string
        "Digest realm=\"r\", nonce=\"n\\\r\"",               // escaped CR
        "Digest realm=\"r\x01\", nonce=\"n\"",
        "Digest realm=r\x7f, nonce=n",
        "\"Digest\" realm=\"r\", nonce=\"n\"",
    };
    for (const char* value : refused) {
        CAPTURE(value);
        REQUIRE_FALSE(parse_challenge(value));
    }
    std::string nul("Digest realm=\"r\0\", nonce=\"n\"", 29);
    REQUIRE_FALSE(parse_challenge(nul));
}

TEST_CASE("challenge: truncated values", "[digest][parse]") {
    const std::string full =
        "Digest realm=\"r\", nonce=\"n\\\"1\", opaque=\"o\", algorithm=SHA-256, "
        "qop=\"auth\", stale=true";
    REQUIRE(parse_challenge(full));
    for (std::size_t n = 0; n < full.size(); ++n) {
        CAPTURE(full.substr(0, n));
        auto c = parse_challenge(full.substr(0, n));
        if (c) {
            // What a truncated value still yields is never half a value.
            REQUIRE(c->realm == "r");
            REQUIRE(c->nonce == "n\"1");
            REQUIRE((c->opaque.empty() || c->opaque == "o"));
        }
    }
    REQUIRE_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n"));
    REQUIRE_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n\\"));
    REQUIRE_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n\", qop=\"au"));
    REQUIRE_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-2"));
    REQUIRE_FALSE(parse_challenge("Digest realm=\"r\", nonce=\"n\", opaque="));
}

TEST_CASE("parsers survive random and mutated input", "[digest][parse][fuzz]") {
    std::mt19937 rng(20240601);  // fixed: a failure reproduces
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    const std::string syntax = "Digest realm nonce qop auth-int algorithm=SHA-256 \"\\,= \t\r\n";
    const std::vector<std::string> seeds{
        rfc7616_challenge("SHA-256"),
        authorization_value(carrier_challenge(algorithm::md5_sess, true, true), trunk_7, invite(),
                            7, fixed_cnonce),
        R"(Digest realm="a \"b\"", nonce=x, qop="auth,auth-int", stale=TRUE, opaque="")",
    };
    nonce_issuer issuer("k");
    std::size_t parsed = 0;

    // Anything that parses must survive being answered and read back: the
    // quoting on the way out matches the unquoting on the way in.
    auto exercise = [&](const std::string& input) {
        for (const auto& c : parse_challenges(input)) {
            ++parsed;
            auto value = authorization_value(c, trunk_7, invite(), 1, fixed_cnonce);
            auto a = parse_authorization(value);
            REQUIRE(a);
            REQUIRE(a->realm == c.realm);
            REQUIRE(a->nonce == c.nonce);
            REQUIRE(a->opaque == c.opaque);
            REQUIRE(verify(*a, trunk_7.password, invite()));
        }
        (void)choose_challenge({input, input});
        if (auto a = parse_authorization(input)) {
            (void)verify(*a, "pw", invite());
        }
        (void)issuer.check(input, "r", at(t0), std::chrono::seconds(60));
    };

    for (int i = 0; i < 3000; ++i) {
        std::string input(pick(120), '\0');
        for (auto& ch : input) {
            ch = static_cast<char>(pick(256));
        }
        exercise(input);

        std::string tokens;
        for (std::size_t n = pick(60); n > 0; --n) {
            tokens += syntax[pick(syntax.size())];
        }
        exercise(tokens);
        exercise("Digest " + tokens);

        auto mutated = seeds[pick(seeds.size())];
        for (std::size_t n = 1 + pick(4); n > 0; --n) {
            auto pos = pick(mutated.size());
            switch (pick(3)) {
                case 0:
                    mutated[pos] = syntax[pick(syntax.size())];
                    break;
                case 1:
                    mutated.erase(pos, 1 + pick(8));
                    break;
                default:
                    mutated.insert(pos, 1, static_cast<char>(pick(256)));
                    break;
            }
        }
        exercise(mutated);
    }
    REQUIRE(parsed > 0);  // the property above was tested on something
}

// ---- answering a challenge ----

TEST_CASE("authorization: quoting and parameters per RFC 7616 3.4", "[digest]") {
    auto c = carrier_challenge(algorithm::sha256, true, true);
    c.opaque = "op/aque";
    auto value = authorization_value(c, trunk_7, invite(), 0x2a, fixed_cnonce);
    REQUIRE(value.rfind("Digest username=\"trunk-7\", ", 0) == 0);
    REQUIRE(param_of(value, "realm") == "\"sip.carrier.example\"");
    REQUIRE(param_of(value, "nonce") == "\"nonce-XYZ/+=\"");
    REQUIRE(param_of(value, "uri") == "\"sip:+14155550100@sip.carrier.example;user=phone\"");
    REQUIRE(param_of(value, "algorithm") == "SHA-256");
    REQUIRE(param_of(value, "cnonce") == "\"" + std::string(fixed_cnonce) + "\"");
    REQUIRE(param_of(value, "opaque") == "\"op/aque\"");
    REQUIRE(param_of(value, "qop") == "auth");  // auth preferred when both are offered
    REQUIRE(param_of(value, "nc") == "0000002a");
    REQUIRE(param_of(value, "response").size() == 2 + 64);

    auto big = authorization_value(c, trunk_7, invite(), 0xDEADBEEF, fixed_cnonce);
    REQUIRE(param_of(big, "nc") == "deadbeef");
}

TEST_CASE("authorization: auth-int when only that is offered, nothing when no qop", "[digest]") {
    auto only_int = authorization_value(carrier_challenge(algorithm::md5, false, true), trunk_7,
                                        invite(), 1, fixed_cnonce);
    REQUIRE(param_of(only_int, "qop") == "auth-int");

    // RFC 2617 3.2.2: no cnonce or nc without a qop, and no opaque when none came.
    auto none = authorization_value(carrier_challenge(algorithm::md5, false, false), trunk_7,
                                    invite(), 1, fixed_cnonce);
    REQUIRE(param_of(none, "qop") == "<absent>");
    REQUIRE(param_of(none, "nc") == "<absent>");
    REQUIRE(param_of(none, "cnonce") == "<absent>");
    REQUIRE(param_of(none, "opaque") == "<absent>");

    // ... except that a -sess A1 needs the cnonce.
    auto sess = authorization_value(carrier_challenge(algorithm::sha256_sess, false, false),
                                    trunk_7, invite(), 1, fixed_cnonce);
    REQUIRE(param_of(sess, "cnonce") == "\"" + std::string(fixed_cnonce) + "\"");
    REQUIRE(param_of(sess, "nc") == "<absent>");
}

TEST_CASE("authorization: a CR LF in configuration cannot split the header", "[digest]") {
    const credentials evil{.username = "bob\r\nVia: x", .password = "p"};
    auto value = authorization_value(carrier_challenge(algorithm::md5, true, false), evil, invite(),
                                     1, fixed_cnonce);
    REQUIRE(value.find('\r') == std::string::npos);
    REQUIRE(value.find('\n') == std::string::npos);
    REQUIRE(quote("a\"b\\c\td\x01") == "\"a\\\"b\\\\c\td\"");
}

TEST_CASE("make_cnonce: 32 fresh hex digits", "[digest]") {
    auto a = make_cnonce();
    auto b = make_cnonce();
    REQUIRE(a.size() == 32);
    REQUIRE(a.find_first_not_of("0123456789abcdef") == std::string::npos);
    REQUIRE(a != b);
}

// ---- verifying ----

TEST_CASE("round trip: every algorithm and qop verifies, and only with the right inputs",
          "[digest][verify]") {
    struct qop_mode {
        bool auth, auth_int;
        std::string_view name;
    };
    for (auto algo : all_algorithms) {
        for (auto mode : {qop_mode{true, false, "auth"}, qop_mode{false, true, "auth-int"},
                          qop_mode{false, false, ""}}) {
            CAPTURE(to_string(algo), mode.name);
            auto value = authorization_value(carrier_challenge(algo, mode.auth, mode.auth_int),
                                             trunk_7, invite(), 3, make_cnonce());
            auto a = parse_authorization(value);
            REQUIRE(a);
            REQUIRE(a->algo == algo);
            REQUIRE(a->qop == mode.name);
            REQUIRE(a->username == trunk_7.username);
            REQUIRE(verify(*a, trunk_7.password, invite()));
            // The server may leave the uri check to itself.
            REQUIRE(verify(*a, trunk_7.password,
                           request_info{.method = "INVITE", .uri = "", .body = sdp_offer}));

            REQUIRE_FALSE(verify(*a, "s3cr\"et", invite()));
            REQUIRE_FALSE(verify(*a, "", invite()));
            auto other_method = invite();
            other_method.method = "REGISTER";
            REQUIRE_FALSE(verify(*a, trunk_7.password, other_method));
            auto other_uri = invite();
            other_uri.uri = "sip:+14155550101@sip.carrier.example;user=phone";
            REQUIRE_FALSE(verify(*a, trunk_7.password, other_uri));
            // Only auth-int covers the body.
            REQUIRE(verify(*a, trunk_7.password, invite("v=0\r\n")) != (mode.name == "auth-int"));

            auto tampered = *a;
            tampered.response[0] = tampered.response[0] == '0' ? '1' : '0';
            REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
            tampered = *a;
            tampered.response.pop_back();
            REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
            tampered = *a;
            tampered.nonce += "x";
            REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
            tampered = *a;
            tampered.realm = "other.example";
            REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
            if (!mode.name.empty()) {
                tampered = *a;
                tampered.nc = "00000004";
                REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
                tampered = *a;
                tampered.cnonce += "x";
                REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
                tampered = *a;
                tampered.qop = mode.name == "auth" ? "auth-int" : "auth";
                REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
            }
            // The algorithm is part of what is verified, not taken on trust.
            tampered = *a;
            tampered.algo = algo == algorithm::md5 ? algorithm::sha256 : algorithm::md5;
            REQUIRE_FALSE(verify(tampered, trunk_7.password, invite()));
        }
    }
}

TEST_CASE("verify: upper-case hex from a client is accepted", "[digest][verify]") {
    auto a = parse_authorization(authorization_value(
        carrier_challenge(algorithm::sha256, true, false), trunk_7, invite(), 1, fixed_cnonce));
    REQUIRE(a);
    for (auto& ch : a->response) {
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    REQUIRE(verify(*a, trunk_7.password, invite()));
}

TEST_CASE("verify: a qop in upper case is hashed as the client sent it", "[digest][verify]") {
    // RFC 5234 2.3: "auth" in the ABNF matches AUTH too. Expected value from
    // Python's hashlib, on the RFC 2617 3.5 example with qop=AUTH.
    auto a = parse_authorization(
        R"(Digest username="Mufasa", realm="testrealm@host.com", )"
        R"(nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=AUTH, )"
        R"(nc=00000001, cnonce="0a4f113b", response="389109b310bc4cfc538ebec7701e34bd")");
    REQUIRE(a);
    REQUIRE(a->qop == "AUTH");
    REQUIRE(verify(*a, "Circle Of Life", get_index));
}

TEST_CASE("verify: structs filled by hand are checked like parsed ones", "[digest][verify]") {
    auto a = parse_authorization(authorization_value(
        carrier_challenge(algorithm::md5_sess, true, false), trunk_7, invite(), 1, fixed_cnonce));
    REQUIRE(a);
    auto bad = *a;
    bad.qop = "auth-conf";
    REQUIRE_FALSE(verify(bad, trunk_7.password, invite()));
    bad = *a;
    bad.nc = "1";
    REQUIRE_FALSE(verify(bad, trunk_7.password, invite()));
    bad = *a;
    bad.cnonce.clear();
    REQUIRE_FALSE(verify(bad, trunk_7.password, invite()));
    bad = *a;
    bad.qop.clear();
    bad.cnonce.clear();  // a -sess A1 without a cnonce
    REQUIRE_FALSE(verify(bad, trunk_7.password, invite()));
}

TEST_CASE("parse_authorization: what is refused", "[digest][parse]") {
    const std::string ok =
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", )"
        R"(qop=auth, nc=00000001, cnonce="c")";
    REQUIRE(parse_authorization(ok));
    REQUIRE(parse_authorization(ok + ", userhash=false, x-extra=1"));
    REQUIRE(parse_authorization(ok + ", algorithm=sha-512-256-sess")->algo ==
            algorithm::sha512_256_sess);
    REQUIRE(parse_authorization(R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", )"
                                R"(response="00")")
                ->qop.empty());
    REQUIRE(parse_authorization(ok + ", qop=\"AUTH\"") == std::nullopt);  // duplicate qop

    const std::string refused[] = {
        "",
        "Basic dTpw",
        R"(Digest realm="r", nonce="n", uri="sip:a@b", response="00")",
        R"(Digest username="u", nonce="n", uri="sip:a@b", response="00")",
        R"(Digest username="u", realm="r", uri="sip:a@b", response="00")",
        R"(Digest username="u", realm="r", nonce="n", response="00")",
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b")",
        ok + ", algorithm=SHA-1",
        ok + ", username=\"v\"",
        ok + ", Digest username=\"v\"",  // two credentials in one value
        ok + " garbage",
        ok + ", opaque=\"",
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", qop=auth)",
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", )"
        R"(qop=auth-conf, nc=00000001, cnonce="c")",
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", )"
        R"(qop=auth, nc=1, cnonce="c")",
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", )"
        R"(qop=auth, nc=0000000g, cnonce="c")",
        R"(Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="00", )"
        R"(qop=auth, nc=00000001)",
    };
    for (const auto& value : refused) {
        CAPTURE(value);
        REQUIRE_FALSE(parse_authorization(value));
    }
}

// ---- nonces ----

TEST_CASE("nonce: valid while young, stale once older than max_age", "[nonce]") {
    nonce_issuer issuer;
    const auto max_age = std::chrono::seconds(300);
    auto nonce = issuer.make(carrier_realm, at(t0));
    REQUIRE(nonce.size() == 54);
    REQUIRE(nonce.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                    "0123456789-_") == std::string::npos);

    using r = nonce_issuer::check_result;
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0), max_age) == r::valid);
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0 + 300), max_age) == r::valid);
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0 + 301), max_age) == r::stale);
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0 + 86400 * 365), max_age) == r::stale);
    // A clock stepped back a little does not spoil nonces; a lot does.
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0 - 10), max_age) == r::valid);
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0 - 301), max_age) == r::stale);
    REQUIRE(issuer.check(nonce, carrier_realm, at(t0), std::chrono::seconds(-1)) == r::stale);
}

TEST_CASE("nonce: stateless, so another issuer with the key accepts it", "[nonce]") {
    const std::string key(32, '\x5a');
    nonce_issuer a(key);
    nonce_issuer b(key);
    auto nonce = a.make("r", at(t0));
    REQUIRE(nonce == a.make("r", at(t0)));
    REQUIRE(nonce != a.make("r", at(t0 + 1)));
    REQUIRE(nonce != a.make("s", at(t0)));
    REQUIRE(b.check(nonce, "r", at(t0 + 1), std::chrono::seconds(60)) ==
            nonce_issuer::check_result::valid);
}

TEST_CASE("nonce: invalid for another realm, key, tampering or garbage", "[nonce]") {
    using r = nonce_issuer::check_result;
    const auto max_age = std::chrono::seconds(300);
    nonce_issuer issuer;
    auto nonce = issuer.make("r", at(t0));

    REQUIRE(issuer.check(nonce, "R", at(t0), max_age) == r::invalid);
    REQUIRE(issuer.check(nonce, "r ", at(t0), max_age) == r::invalid);
    REQUIRE(issuer.check(nonce, "", at(t0), max_age) == r::invalid);
    REQUIRE(nonce_issuer().check(nonce, "r", at(t0), max_age) == r::invalid);
    REQUIRE(nonce_issuer("another key").check(nonce, "r", at(t0), max_age) == r::invalid);

    // Every character changed, including the time (so an old nonce cannot be
    // made young) and the final character's unused bits.
    const std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (std::size_t i = 0; i < nonce.size(); ++i) {
        for (char replacement : alphabet) {
            if (replacement == nonce[i]) {
                continue;
            }
            auto tampered = nonce;
            tampered[i] = replacement;
            CAPTURE(i, replacement);
            REQUIRE(issuer.check(tampered, "r", at(t0), max_age) == r::invalid);
        }
    }

    for (const std::string& garbage : {
             ""s,
             "abc"s,
             nonce.substr(1),
             nonce + "A",
             nonce + "=",
             std::string(54, '*'),
             std::string(54, 'A'),
             std::string(80, '0'),
             nonce.substr(0, 53) + "\n",
             std::string(54, '\0'),
         }) {
        CAPTURE(garbage);
        REQUIRE(issuer.check(garbage, "r", at(t0), max_age) == r::invalid);
    }
}

TEST_CASE("challenge_value: what the server sends, and the client reads back", "[nonce]") {
    REQUIRE(challenge_value("sbc.example", "abc", algorithm::sha256, false) ==
            R"(Digest realm="sbc.example", nonce="abc", algorithm=SHA-256, qop="auth")");
    REQUIRE(challenge_value("r\"1", "abc", algorithm::md5_sess, true, "op") ==
            R"(Digest realm="r\"1", nonce="abc", opaque="op", algorithm=MD5-sess, qop="auth", )"
            R"(stale=true)");

    for (auto algo : all_algorithms) {
        auto c = parse_challenge(challenge_value("r\"1", "abc", algo, true, "op"));
        REQUIRE(c);
        REQUIRE(c->realm == "r\"1");
        REQUIRE(c->nonce == "abc");
        REQUIRE(c->opaque == "op");
        REQUIRE(c->algo == algo);
        REQUIRE(c->qop_auth);
        REQUIRE_FALSE(c->qop_auth_int);
        REQUIRE(c->stale);
    }
}

TEST_CASE("a trunk authenticates an INVITE to the SBC", "[digest][nonce]") {
    using r = nonce_issuer::check_result;
    const auto max_age = std::chrono::seconds(300);
    const std::string realm = "sbc.example";
    nonce_issuer issuer;

    // 407 from the SBC, answered by the trunk.
    auto offered = challenge_value(realm, issuer.make(realm, at(t0)), algorithm::sha256, false);
    auto c = choose_challenge({offered});
    REQUIRE(c);
    auto answer = authorization_value(*c, trunk_7, invite(), 1, make_cnonce());

    // The SBC checks the nonce, then the response.
    auto a = parse_authorization(answer);
    REQUIRE(a);
    REQUIRE(a->realm == realm);
    REQUIRE(issuer.check(a->nonce, a->realm, at(t0 + 2), max_age) == r::valid);
    REQUIRE(verify(*a, trunk_7.password, invite()));

    // Ten minutes later the same nonce is stale: challenge again with stale=true,
    // and the trunk answers the new nonce without asking anyone for a password.
    REQUIRE(issuer.check(a->nonce, a->realm, at(t0 + 600), max_age) == r::stale);
    auto again = parse_challenge(
        challenge_value(realm, issuer.make(realm, at(t0 + 600)), algorithm::sha256, true));
    REQUIRE(again);
    REQUIRE(again->stale);
    auto retry =
        parse_authorization(authorization_value(*again, trunk_7, invite(), 1, make_cnonce()));
    REQUIRE(retry);
    REQUIRE(issuer.check(retry->nonce, realm, at(t0 + 601), max_age) == r::valid);
    REQUIRE(verify(*retry, trunk_7.password, invite()));
}

}  // namespace test_digest
