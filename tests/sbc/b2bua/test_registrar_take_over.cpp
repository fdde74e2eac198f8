// Registrar bindings taken over by another node (issue 22): a phone
// registers with the SBC, the SBC dies without a word, another binds the
// same addresses, takes in the bindings the first one wrote (as the cluster
// node does from the store: node/binding_replica.hpp) and a call to the
// phone's user reaches the phone at the address it registered from.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "sbc/registrar/binding_document.hpp"
#include "tests/sbc/b2bua/support/b2bua_fixture.hpp"

using namespace sbc;
using sbc::test::b2bua_fixture;
using sbc::test::sdp_audio;

namespace registrar_take_over_test {

/// The target trunk is the phones' registrar, the phone is the peer
/// "target" (127.0.0.3), and the carrier's calls go to the phones.
test::topology phones() {
    test::topology t;
    t.target_trunk = true;
    t.target_trunk_lines = {"registrar: {sources: [127.0.0.3/32]}"};
    t.routes = {"{name: to-phones, from_trunk: carrier, to_trunk: target}"};
    return t;
}

/// What the store is told of the bindings, as the document it would hold.
struct recorder {
    std::optional<nlohmann::json> last;
    std::size_t told = 0;
    void watch(b2bua::b2bua& sbc, const std::string& expected_user) {
        sbc.set_bindings_observer([this, expected_user](const std::string& trunk,
                                                        const std::string& user,
                                                        const std::vector<registrar::binding>& b) {
            CHECK(user == expected_user);
            ++told;
            last = registrar::to_document({trunk, user, b}, registrar::clock_pair::now());
        });
    }
};

/// The URI of a request's first Contact.
std::string contact_uri(const sip_t* sip) {
    REQUIRE(sip->sip_contact != nullptr);
    char buf[256];
    const auto n = url_e(buf, sizeof buf, sip->sip_contact->m_url);
    REQUIRE(n > 0);
    REQUIRE(static_cast<std::size_t>(n) < sizeof buf);
    return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace registrar_take_over_test

using namespace registrar_take_over_test;

TEST_CASE("a phone registered with a node that died is called through the node that took over",
          "[b2bua][cluster][take-over][registrar]") {
    b2bua_fixture f(phones());
    recorder store;
    store.watch(f.sbc(), "2001");

    f.target.send(SIP_METHOD_REGISTER, f.pbx_side_uri("2001")).expect(200);
    REQUIRE(store.last);
    CHECK((*store.last)["trunk"] == "target");
    REQUIRE((*store.last)["bindings"].size() == 1);
    CHECK((*store.last)["bindings"][0]["source"]["address"] == "127.0.0.3");
    const auto written = store.last->dump();  // through text, as Redis holds it

    f.fail_over();
    // The new node knows no binding yet: the user is not reachable.
    f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(test::carrier_rtp, "carrier"))
        .expect(480);

    recorder own;
    own.watch(f.sbc(), "2001");
    auto doc =
        registrar::from_document(nlohmann::json::parse(written), registrar::clock_pair::now());
    REQUIRE(doc.ok());
    CHECK(f.sbc().adopt_bindings(doc->trunk, doc->user, doc->bindings) == 1);
    // Written again as the new node's own.
    CHECK(own.told == 1);
    REQUIRE(own.last);
    CHECK((*own.last)["bindings"][0]["contact"] == (*store.last)["bindings"][0]["contact"]);

    auto& caller =
        f.carrier.invite(f.carrier_side_uri("2001"), sdp_audio(test::carrier_rtp, "carrier"));
    auto& invite = f.target.expect("INVITE");
    // RFC 3261 10.3: to the registered Contact, sent where it registered from.
    const auto* ruri = invite.sip()->sip_request->rq_url;
    CHECK(std::string(ruri->url_host) == "127.0.0.3");
    CHECK(std::string(ruri->url_port) == std::to_string(f.target.port()));
    invite.reply(486);
    caller.expect(486);
}

TEST_CASE("bindings adopted for a trunk that is no registrar here are left alone",
          "[b2bua][cluster][registrar]") {
    b2bua_fixture f(phones());
    registrar::binding b;
    b.user = "2001";
    b.contact = "sip:2001@127.0.0.3:5060";
    b.source = *dataplane::ip_endpoint::from_string("127.0.0.3", 5060);
    b.expires_at = registrar::clock::now() + std::chrono::minutes(5);
    CHECK(f.sbc().adopt_bindings("carrier", "2001", {b}) == 0);
    CHECK(f.sbc().adopt_bindings("no-such-trunk", "2001", {b}) == 0);
    CHECK(f.sbc().adopt_bindings("target", "2001", {b}) == 1);
}

TEST_CASE("the node that takes over registers with the carrier afresh, on the same Contact",
          "[b2bua][cluster][take-over][registration]") {
    test::topology t;
    t.carrier_trunk = {"auth: {username: acme, password: s3cret}",
                       "register: {aor: 'sip:+4930123456@carrier.example', expires: 60}"};
    b2bua_fixture f(t);
    auto& first = f.carrier.expect("REGISTER");
    const auto contact = contact_uri(first.sip());
    const std::string call_id = first.sip()->sip_call_id->i_id;
    first.reply(200);

    f.fail_over();
    // RFC 3261 10.3 step 7: the same Contact URI under another Call-ID
    // updates the carrier's binding of the node that died, adds none.
    auto& again = f.carrier.expect("REGISTER");
    CHECK(contact_uri(again.sip()) == contact);
    CHECK(std::string(again.sip()->sip_call_id->i_id) != call_id);
    again.reply(200);
}
