// The sealer (sbc/cluster/sealer.hpp): AES-256-GCM round trips, refusals
// of a wrong key and of tampering, fresh nonces, and a call state document
// with SRTP keys and ICE passwords that leaves the process with none of
// them readable and comes back equal.
#include "sbc/cluster/sealer.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sbc/b2bua/call_state_json.hpp"
#include "sbc/sdp/sdes.hpp"

using sbc::cluster::sealer;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_sealer {

namespace {

const std::string key_a = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string key_b = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

sealer make_sealer(const std::string& hex) {
    auto s = sealer::from_hex(hex);
    REQUIRE(s.ok());
    return s.value();
}

std::vector<std::uint8_t> bytes_of(const std::string& text) {
    return std::vector<std::uint8_t>(text.begin(), text.end());
}

std::span<const std::uint8_t> span_of(const std::string& sealed) {
    return std::span(reinterpret_cast<const std::uint8_t*>(sealed.data()), sealed.size());
}

std::vector<std::uint8_t> pattern(std::size_t size, std::uint8_t first) {
    std::vector<std::uint8_t> out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<std::uint8_t>(first + i);
    }
    return out;
}

// The secrets of the call below, as its document writes them.
const auto srtp_peer = pattern(30, 0xa0);  // master key || salt, AES_CM_128
const auto srtp_local = pattern(30, 0x10);
const std::string ice_local_pwd = "asd88fgpdd777uzjYhagZg";
const std::string ice_peer_pwd = "peerPasswordOf22Chars0";

// An established call with SRTP on leg a and ICE-lite on leg b, built as
// the store would see it: the B2BUA's own document of a call_state.
sbc::b2bua::call_state call_with_secrets() {
    sbc::b2bua::call_state s;
    s.id = 42;
    s.state = "established";
    s.legs[0].call_id = "a84b4c76e66710@carrier";
    s.legs[0].local_tag = "sbc-a";
    s.legs[0].remote_tag = "carrier-1";
    s.legs[0].interface = "carrier";
    s.legs[0].trunk = "carrier";
    s.legs[0].confirmed = true;
    s.legs[0].sdp_last_sent =
        "v=0\r\nm=audio 20000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" +
        sbc::sdp::base64_encode(srtp_local) + "\r\n";
    s.legs[1].call_id = "b2bua-leg-b";
    s.legs[1].interface = "pbx";
    s.legs[1].trunk = "pbx";
    s.legs[1].confirmed = true;
    s.media.open = true;
    s.media.legs[0].trunk = "carrier";
    s.media.legs[0].rtp_port = 20000;
    s.media.legs[0].srtp =
        sbc::media_ctl::srtp_state{sbc::config::srtp_suite::aes_cm_128_hmac_sha1_80,
                                   sbc::secret(srtp_peer),
                                   sbc::secret(srtp_local),
                                   {},
                                   {},
                                   {}};
    s.media.legs[1].trunk = "pbx";
    s.media.legs[1].rtp_port = 20002;
    s.media.legs[1].ice =
        sbc::media_ctl::ice_state{true, "8hhY", sbc::secret(bytes_of(ice_local_pwd)), "peerU",
                                  sbc::secret(bytes_of(ice_peer_pwd))};
    return s;
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("sealer: what is sealed opens back to the same bytes", "[cluster][sealer]") {
    const auto s = make_sealer(key_a);
    for (const auto& plain :
         {std::vector<std::uint8_t>{}, pattern(1, 7), pattern(30, 0xa0), pattern(1000, 3)}) {
        const auto sealed = s.seal(plain);
        // RFC 5116 5.2: a 12-octet nonce and a 16-octet tag around the text.
        CHECK(sealed.size() == 12 + plain.size() + 16);
        auto opened = s.open(span_of(sealed));
        REQUIRE(opened.ok());
        CHECK(opened->bytes() == plain);
    }
    // A copy holds the same key.
    const sealer copy = s;
    auto opened = copy.open(span_of(s.seal(pattern(16, 1))));
    REQUIRE(opened.ok());
    CHECK(opened->bytes() == pattern(16, 1));
}

TEST_CASE("sealer: two seals of the same plain differ", "[cluster][sealer]") {
    const auto s = make_sealer(key_a);
    const auto plain = pattern(30, 0xa0);
    const auto first = s.seal(plain);
    const auto second = s.seal(plain);
    CHECK(first != second);
    // The nonces differ (SP 800-38D 8.2.2: a fresh random one each time).
    CHECK(first.substr(0, 12) != second.substr(0, 12));
    CHECK(first.find(std::string(plain.begin(), plain.end())) == std::string::npos);
}

TEST_CASE("sealer: another key does not open it", "[cluster][sealer]") {
    const auto sealed = make_sealer(key_a).seal(pattern(30, 0xa0));
    auto opened = make_sealer(key_b).open(span_of(sealed));
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error_message() ==
          "the sealed secret does not open: another key, or it was changed");
}

TEST_CASE("sealer: a flipped bit anywhere does not open", "[cluster][sealer]") {
    const auto s = make_sealer(key_a);
    const auto sealed = s.seal(pattern(30, 0xa0));
    // In the nonce, the ciphertext and the tag.
    for (std::size_t at : {std::size_t{0}, std::size_t{11}, std::size_t{12}, std::size_t{41},
                           std::size_t{42}, sealed.size() - 1}) {
        auto changed = sealed;
        changed[at] = static_cast<char>(changed[at] ^ 0x01);
        INFO("octet " << at);
        CHECK_FALSE(s.open(span_of(changed)).ok());
    }
    // Cut short, or with nothing but a tag's worth.
    CHECK_FALSE(s.open(span_of(sealed.substr(0, sealed.size() - 1))).ok());
    auto shorter = s.open(span_of(sealed.substr(0, 27)));
    REQUIRE_FALSE(shorter.ok());
    CHECK(shorter.error_message() == "a sealed secret is at least 28 octets, not 27");
}

TEST_CASE("sealer: keys from hex", "[cluster][sealer]") {
    CHECK(sealer::from_hex(key_a).ok());
    CHECK(
        sealer::from_hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F").ok());

    auto short_key = sealer::from_hex(key_a.substr(0, 62));
    REQUIRE_FALSE(short_key.ok());
    CHECK(short_key.error_message() == "expected 64 hex digits (32 octets), not 62 characters");
    CHECK_FALSE(sealer::from_hex("").ok());
    CHECK_FALSE(sealer::from_hex(key_a + " ").ok());

    // The error says where, never what the key holds.
    auto bad = sealer::from_hex(key_a.substr(0, 40) + "zz" + key_a.substr(42));
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error_message() == "expected hex digits only; character 41 is not one");

    // Upper and lower case are the same key.
    const auto upper =
        make_sealer("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    auto opened = upper.open(span_of(make_sealer(key_a).seal(pattern(8, 9))));
    REQUIRE(opened.ok());
    CHECK(opened->bytes() == pattern(8, 9));
}

TEST_CASE("sealer: a call state document leaves with its secrets sealed and comes back equal",
          "[cluster][sealer]") {
    const auto s = make_sealer(key_a);
    const auto call = call_with_secrets();
    const auto plain_doc = sbc::b2bua::to_json_value(call);
    const auto plain_text = plain_doc.dump();
    // The document marks five secrets: two SRTP keys, two ICE passwords and
    // the SDP that carried the SBC's key.
    REQUIRE(count_of(plain_text, "\"$secret\"") == 5);

    auto doc = plain_doc;
    s.seal_document(doc);
    const auto sealed_text = doc.dump();
    INFO(sealed_text);
    CHECK(count_of(sealed_text, "\"$secret\"") == 0);
    CHECK(count_of(sealed_text, "\"$sealed\"") == 5);
    for (const auto& key : {srtp_peer, srtp_local}) {
        CHECK(sealed_text.find(sbc::sdp::base64_encode(key)) == std::string::npos);
        CHECK(sealed_text.find(std::string(key.begin(), key.end())) == std::string::npos);
    }
    for (const auto& pwd : {ice_local_pwd, ice_peer_pwd}) {
        CHECK(sealed_text.find(pwd) == std::string::npos);
        CHECK(sealed_text.find(sbc::sdp::base64_encode(bytes_of(pwd))) == std::string::npos);
    }
    CHECK(sealed_text.find("a=crypto") == std::string::npos);
    // What is not secret stays readable, for a store that looks into it.
    CHECK(doc["legs"][0]["call_id"] == "a84b4c76e66710@carrier");
    CHECK(doc["media"]["legs"][1]["ice"]["local_ufrag"] == "8hhY");

    // Through text, as Redis holds it.
    auto back = nlohmann::json::parse(sealed_text);
    auto opened = s.open_document(back);
    REQUIRE(opened.ok());
    CHECK(back == plain_doc);
    auto state = sbc::b2bua::call_state_from_json_value(back);
    REQUIRE(state.ok());
    CHECK(state.value() == call);
}

TEST_CASE("sealer: a sealed document does not open with another key or changed",
          "[cluster][sealer]") {
    const auto s = make_sealer(key_a);
    auto doc = sbc::b2bua::to_json_value(call_with_secrets());
    s.seal_document(doc);

    auto other = doc;
    auto wrong_key = make_sealer(key_b).open_document(other);
    REQUIRE_FALSE(wrong_key.ok());
    // The first secret in the document's order names where it failed.
    CHECK(wrong_key.error_message().find(": the sealed secret does not open: another key, or it "
                                         "was changed") != std::string::npos);
    CHECK(wrong_key.error_message().front() == '/');

    // One octet of a sealed key changed.
    auto changed = doc;
    auto& sealed = changed["media"]["legs"][0]["srtp"]["peer"]["$sealed"];
    auto text = sealed.get<std::string>();
    text[20] = text[20] == 'A' ? 'B' : 'A';
    sealed = text;
    auto refused = s.open_document(changed);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error_message() ==
          "/media/legs/0/srtp/peer: the sealed secret does not open: another key, or it was "
          "changed");

    auto not_base64 = doc;
    not_base64["media"]["legs"][0]["srtp"]["local"]["$sealed"] = "not base64!";
    auto refused_text = s.open_document(not_base64);
    REQUIRE_FALSE(refused_text.ok());
    CHECK(refused_text.error_message() ==
          "/media/legs/0/srtp/local: a sealed secret that is not base64");

    auto not_string = doc;
    not_string["media"]["legs"][1]["ice"]["peer_pwd"]["$sealed"] = 7;
    auto refused_type = s.open_document(not_string);
    REQUIRE_FALSE(refused_type.ok());
    CHECK(refused_type.error_message() ==
          "/media/legs/1/ice/peer_pwd: expected {\"$sealed\": BASE64}");
}

TEST_CASE("sealer: documents of any shape", "[cluster][sealer]") {
    const auto s = make_sealer(key_a);
    // Any value under "$secret" opens back as it was; an object with other
    // keys beside "$secret" is not a secret (b2bua::for_each_secret's rule).
    const auto plain = nlohmann::json::parse(R"({
        "a": {"$secret": "AAEC"},
        "b": [{"$secret": 5}, {"$secret": {"x": [1, "y"]}}, "$secret"],
        "c": {"$secret": "x", "other": 1},
        "d~/e": {"$secret": null}
    })");
    auto doc = plain;
    s.seal_document(doc);
    CHECK(doc["a"].contains("$sealed"));
    CHECK(doc["b"][0].contains("$sealed"));
    CHECK(doc["b"][1].contains("$sealed"));
    CHECK(doc["b"][2] == "$secret");
    CHECK(doc["c"] == plain["c"]);
    CHECK(doc["d~/e"].contains("$sealed"));
    auto opened = s.open_document(doc);
    REQUIRE(opened.ok());
    CHECK(doc == plain);

    // The whole document may be the one secret.
    auto whole = nlohmann::json{{"$secret", "AAEC"}};
    s.seal_document(whole);
    CHECK(whole.contains("$sealed"));
    REQUIRE(s.open_document(whole).ok());
    CHECK(whole == nlohmann::json{{"$secret", "AAEC"}});

    // A pointer escapes '~' and '/' (RFC 6901 3).
    doc = plain;
    s.seal_document(doc);
    doc["d~/e"]["$sealed"] = "AAAA";
    auto refused = s.open_document(doc);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error_message() == "/d~0~1e: a sealed secret is at least 28 octets, not 3");

    // Nothing to seal, nothing to open.
    auto none = nlohmann::json::parse(R"({"x": [1, 2, {"y": "z"}]})");
    const auto copy = none;
    s.seal_document(none);
    CHECK(none == copy);
    REQUIRE(s.open_document(none).ok());
    CHECK(none == copy);
}

}  // namespace test_sealer
