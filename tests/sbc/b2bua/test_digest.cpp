// The SBC as a digest client (RFC 3261 22.2, RFC 7616) towards a trunk with
// credentials (auth:): a challenged INVITE is sent again with them, on the
// same Call-ID and From tag with the next CSeq, and the caller never sees
// the challenge (tests/e2e/test_auth.py outbound_digest_answered); refused
// credentials are not sent again, so a peer that challenges every time
// cannot hold a call in a loop.
#include <catch2/catch.hpp>

#include <string>

#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"
#include "tests/sbc/b2bua/support/sip_steps.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::check_credentials;
using sbc::test::digest_challenge;
using sbc::test::incoming_request;
using sbc::test::sdp_audio;

namespace {

sbc::test::topology pbx_with_credentials() {
    sbc::test::topology t;
    t.pbx_trunk.push_back("auth: {username: acme, password: s3cret}");
    return t;
}

// `retry` is `first` sent again as RFC 3261 22.2 has it: the same Call-ID
// and From tag, the next CSeq, the same offer.
void check_retry(const incoming_request& first, const incoming_request& retry) {
    const sip_t* a = first.sip();
    const sip_t* b = retry.sip();
    CHECK(std::string(b->sip_call_id->i_id) == a->sip_call_id->i_id);
    CHECK(std::string(b->sip_from->a_tag) == a->sip_from->a_tag);
    CHECK(b->sip_cseq->cs_seq == a->sip_cseq->cs_seq + 1);
    CHECK(retry.body() == first.body());
}

}  // namespace

TEST_CASE("a challenged INVITE is sent again with the trunk's credentials", "[b2bua][digest]") {
    const int challenge = GENERATE(401, 407);
    CAPTURE(challenge);
    b2bua_fixture f(pbx_with_credentials());
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& first = f.pbx.expect("INVITE");
    CHECK(first.sip()->sip_authorization == nullptr);
    CHECK(first.sip()->sip_proxy_authorization == nullptr);
    first.reply(challenge, {}, digest_challenge(challenge, "bm9uY2UtMQ"));

    auto& retry = f.pbx.expect("INVITE");
    check_retry(first, retry);
    check_credentials(retry, challenge, "bm9uY2UtMQ", "acme", "s3cret");
    retry.reply(200, sdp_audio(31000, "pbx"));
    // The caller's first final response is the 200: it never saw the
    // challenge.
    call.expect(200);
    call.ack();
    f.pbx.expect("ACK");
    auto& bye = call.bye();
    f.pbx.expect("BYE").reply(200);
    bye.expect(200);
    REQUIRE(f.calls_gone());
    f.carrier.expect_nothing_more();
    f.pbx.expect_nothing_more();
}

TEST_CASE("credentials challenged again are not sent again: the caller gets 403",
          "[b2bua][digest]") {
    b2bua_fixture f(pbx_with_credentials());
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    f.pbx.expect("INVITE").reply(401, {}, digest_challenge(401, "bm9uY2UtMQ"));
    auto& retry = f.pbx.expect("INVITE");
    check_credentials(retry, 401, "bm9uY2UtMQ", "acme", "s3cret");
    // A fresh nonce without stale=true: the credentials themselves were
    // refused (RFC 7616 3.3), and asking again would only loop.
    retry.reply(401, {}, digest_challenge(401, "bm9uY2UtMg"));
    call.expect(403);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
    f.carrier.expect_nothing_more();
    // Counted for the metrics as the pbx trunk refusing the SBC's credentials.
    const auto& refusals = f.sbc().tally().digest_refusals();
    REQUIRE(refusals.size() == 1);
    CHECK(refusals.begin()->first == b2bua::digest_refusal{"pbx", false, "refused"});
    CHECK(refusals.begin()->second == 1);
}

TEST_CASE("a stale nonce earns one more answer, and no more", "[b2bua][digest]") {
    b2bua_fixture f(pbx_with_credentials());
    auto& call = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    auto& first = f.pbx.expect("INVITE");
    first.reply(407, {}, digest_challenge(407, "bm9uY2UtMQ"));
    auto& second = f.pbx.expect("INVITE");
    check_credentials(second, 407, "bm9uY2UtMQ", "acme", "s3cret");
    // RFC 7616 3.3: stale=true says the nonce expired, not the credentials.
    second.reply(407, {}, digest_challenge(407, "bm9uY2UtMg", true));
    auto& third = f.pbx.expect("INVITE");
    check_retry(second, third);
    check_credentials(third, 407, "bm9uY2UtMg", "acme", "s3cret");
    third.reply(407, {}, digest_challenge(407, "bm9uY2UtMw", true));
    call.expect(403);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
}

TEST_CASE("INVITEs the SBC's own challenge refuses are counted by reason", "[b2bua][digest]") {
    sbc::test::topology t;
    t.carrier_trunk.push_back(
        "challenge: {realm: sbc.test, users: [{username: alice, password: pw}]}");
    b2bua_fixture f(t);
    // No credentials: the challenge every client gets first.
    auto& first = f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"));
    first.expect(407);
    // Credentials for a user the trunk does not know.
    auto& second =
        f.carrier.invite(f.carrier_side_uri("2000"), sdp_audio(30000, "carrier"), "caller",
                         "Proxy-Authorization: Digest username=\"mallory\", realm=\"sbc.test\", "
                         "nonce=\"bm9uY2U\", uri=\"sip:2000@sbc.test\", response=\"00\"\r\n");
    second.expect(407);
    REQUIRE(f.calls_gone());
    f.pbx.expect_nothing_more();
    const auto& refusals = f.sbc().tally().digest_refusals();
    CHECK(refusals.at({"carrier", true, "no_credentials"}) == 1);
    CHECK(refusals.at({"carrier", true, "unknown_user"}) == 1);
    CHECK(refusals.size() == 2);
}
