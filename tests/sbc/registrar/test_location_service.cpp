// The registrar's location service: RFC 3261 10.3 REGISTER processing and
// the binding table, on an injected clock (no sleeping).
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sbc/registrar/location_service.hpp"

namespace reg = sbc::registrar;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_location_service {

namespace {

using time_point = reg::clock::time_point;
using sbc::config::transport;

// Far from the clock's epoch so that nothing depends on time_point{}.
const time_point t0 = time_point{} + std::chrono::hours(1000);

/// `seconds` after t0.
time_point at(double seconds) {
    return t0 +
           std::chrono::duration_cast<reg::clock::duration>(std::chrono::duration<double>(seconds));
}

sbc::dataplane::ip_endpoint endpoint(const char* ip, std::uint16_t port) {
    auto e = sbc::dataplane::ip_endpoint::from_string(ip, port);
    REQUIRE(e);
    return *e;
}

reg::contact_param contact(std::string uri, std::optional<unsigned> expires = std::nullopt,
                           std::optional<double> q = std::nullopt) {
    return {.uri = std::move(uri), .expires = expires, .q = q};
}

/// A REGISTER for `user` from 203.0.113.7:5062 over UDP, without Expires.
reg::register_request register_of(std::string user, std::vector<reg::contact_param> contacts,
                                  std::string call_id = "call-1", std::uint32_t cseq = 1) {
    return {.user = std::move(user),
            .contacts = std::move(contacts),
            .wildcard = false,
            .expires = std::nullopt,
            .call_id = std::move(call_id),
            .cseq = cseq,
            .source = endpoint("203.0.113.7", 5062),
            .transport = transport::udp};
}

/// "Contact: *" with Expires: 0.
reg::register_request unregister_all(std::string user, std::string call_id, std::uint32_t cseq) {
    auto r = register_of(std::move(user), {}, std::move(call_id), cseq);
    r.wildcard = true;
    r.expires = 0;
    return r;
}

/// A query: no Contact.
reg::register_request query(std::string user) { return register_of(std::move(user), {}, "q", 1); }

std::vector<std::string> contacts_of(const std::vector<reg::binding>& bindings) {
    std::vector<std::string> out;
    for (const auto& b : bindings) {
        out.push_back(b.contact);
    }
    return out;
}

using strings = std::vector<std::string>;

}  // namespace

// ------------------------------------------------------------ register, refresh, expire

TEST_CASE("register: a binding is made and answered", "[register]") {
    reg::location_service ls;
    auto r = register_of("2001", {contact("sip:2001@203.0.113.7:5062;transport=tcp")});
    r.transport = transport::tcp;
    const auto o = ls.apply(r, t0);
    REQUIRE(o.status == 200);
    CHECK(o.phrase == "OK");
    REQUIRE(o.bindings.size() == 1);
    const auto& b = o.bindings.front();
    CHECK(b.user == "2001");
    CHECK(b.contact == "sip:2001@203.0.113.7:5062;transport=tcp");
    CHECK(b.source == endpoint("203.0.113.7", 5062));
    CHECK(b.transport == transport::tcp);
    CHECK(b.call_id == "call-1");
    CHECK(b.cseq == 1);
    CHECK(b.q == 1.0);
    CHECK(b.seconds_left(t0) == 3600);  // the default when neither param nor header says

    const auto found = ls.lookup("2001", at(10));
    REQUIRE(found);
    CHECK(found->contact == b.contact);
    CHECK(ls.binding_count() == 1);
    CHECK(ls.user_count() == 1);
}

TEST_CASE("register: a refresh extends the binding and follows the source", "[register]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 600)}), t0).status == 200);
    // The phone's NAT mapping changed: the refresh comes from elsewhere.
    auto refresh = register_of("2001", {contact("sip:2001@192.0.2.10", 600)}, "call-1", 2);
    refresh.source = endpoint("198.51.100.1", 40000);
    const auto o = ls.apply(refresh, at(500));
    REQUIRE(o.status == 200);
    REQUIRE(o.bindings.size() == 1);
    CHECK(o.bindings.front().seconds_left(at(500)) == 600);
    CHECK(o.bindings.front().cseq == 2);
    CHECK(ls.binding_count() == 1);

    const auto found = ls.lookup("2001", at(1000));  // past the first expiry
    REQUIRE(found);
    CHECK(found->source == endpoint("198.51.100.1", 40000));
}

TEST_CASE("register: bindings expire and purge drops them", "[register][expire]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 120)}), t0).status == 200);
    REQUIRE(ls.apply(register_of("2002", {contact("sip:2002@192.0.2.11", 600)}), t0).status == 200);

    CHECK(ls.lookup("2001", at(119.5)));
    CHECK_FALSE(ls.lookup("2001", at(120)));
    CHECK(contacts_of(ls.all(at(119))) == strings{"sip:2001@192.0.2.10", "sip:2002@192.0.2.11"});
    CHECK(contacts_of(ls.all(at(120))) == strings{"sip:2002@192.0.2.11"});
    CHECK(ls.apply(query("2001"), at(121)).bindings.empty());

    // Expired but still stored until purged.
    CHECK(ls.binding_count() == 2);
    CHECK(ls.purge(at(121)) == 1);
    CHECK(ls.binding_count() == 1);
    CHECK(ls.user_count() == 1);
    CHECK(ls.purge(at(121)) == 0);
    CHECK(ls.purge(at(600)) == 1);
    CHECK(ls.user_count() == 0);
}

TEST_CASE("register: an expired binding does not block its re-registration", "[register]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 60)}, "call-1", 5), t0)
                .status == 200);
    // Same Call-ID, lower CSeq (a rebooted phone that kept its Call-ID), but
    // the old binding is gone: nothing to be out of order with.
    CHECK(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 60)}, "call-1", 1), at(61))
              .status == 200);
}

// ---------------------------------------------------------------- query

TEST_CASE("query: no Contact answers the bindings and changes nothing", "[query]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001",
                                 {contact("sip:2001@192.0.2.10"), contact("sip:2001@192.0.2.20")}),
                     t0)
                .status == 200);
    const auto o = ls.apply(query("2001"), at(100));
    REQUIRE(o.status == 200);
    CHECK(o.bindings.size() == 2);
    CHECK(o.bindings.front().seconds_left(at(100)) == 3500);
    CHECK(ls.binding_count() == 2);
}

TEST_CASE("query: an unknown user has no bindings and is not stored", "[query]") {
    reg::location_service ls;
    const auto o = ls.apply(query("9999"), t0);
    CHECK(o.status == 200);
    CHECK(o.bindings.empty());
    CHECK(ls.user_count() == 0);
    CHECK_FALSE(ls.lookup("9999", t0));
}

// ---------------------------------------------------------------- de-register

TEST_CASE("de-register: expires=0 removes one contact", "[deregister]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001",
                                 {contact("sip:2001@192.0.2.10"), contact("sip:2001@192.0.2.20")}),
                     t0)
                .status == 200);
    const auto o =
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 0)}, "call-1", 2), at(1));
    REQUIRE(o.status == 200);
    CHECK(contacts_of(o.bindings) == strings{"sip:2001@192.0.2.20"});
    CHECK(ls.binding_count() == 1);
}

TEST_CASE("de-register: Expires: 0 applies to contacts without a parameter", "[deregister]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}), t0).status == 200);
    auto r = register_of("2001", {contact("sip:2001@192.0.2.10")}, "call-1", 2);
    r.expires = 0;
    const auto o = ls.apply(r, at(1));
    REQUIRE(o.status == 200);
    CHECK(o.bindings.empty());
    CHECK(ls.user_count() == 0);
}

TEST_CASE("de-register: removing an unknown contact is a no-op", "[deregister]") {
    reg::location_service ls;
    const auto o = ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 0)}), t0);
    CHECK(o.status == 200);
    CHECK(o.bindings.empty());
    CHECK(ls.user_count() == 0);
}

TEST_CASE("de-register: the wildcard removes every binding of the user", "[deregister]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001",
                                 {contact("sip:2001@192.0.2.10"), contact("sip:2001@192.0.2.20")}),
                     t0)
                .status == 200);
    REQUIRE(ls.apply(register_of("2002", {contact("sip:2002@192.0.2.30")}), t0).status == 200);
    const auto o = ls.apply(unregister_all("2001", "call-1", 2), at(1));
    REQUIRE(o.status == 200);
    CHECK(o.bindings.empty());
    CHECK_FALSE(ls.lookup("2001", at(1)));
    CHECK(ls.lookup("2002", at(1)));  // other users untouched
    // Of an unknown user: nothing to do.
    CHECK(ls.apply(unregister_all("7777", "x", 1), at(1)).status == 200);
}

TEST_CASE("de-register: wildcard misuse is 400 and changes nothing", "[deregister][wildcard]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}), t0).status == 200);

    SECTION("with another Contact") {
        auto r = unregister_all("2001", "call-1", 2);
        r.contacts.push_back(contact("sip:2001@192.0.2.10"));
        const auto o = ls.apply(r, at(1));
        CHECK(o.status == 400);
        CHECK(o.phrase == "Invalid wildcard");
    }
    SECTION("without Expires") {
        auto r = unregister_all("2001", "call-1", 2);
        r.expires.reset();
        CHECK(ls.apply(r, at(1)).status == 400);
    }
    SECTION("with a non-zero Expires") {
        auto r = unregister_all("2001", "call-1", 2);
        r.expires = 3600;
        CHECK(ls.apply(r, at(1)).status == 400);
    }
    CHECK(ls.lookup("2001", at(1)));
}

TEST_CASE("de-register: an out-of-order wildcard is 500", "[deregister][wildcard]") {
    reg::location_service ls;
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}, "call-1", 5), t0).status ==
        200);
    const auto o = ls.apply(unregister_all("2001", "call-1", 5), at(1));
    CHECK(o.status == 500);
    CHECK(o.phrase == "Out of order");
    CHECK(ls.lookup("2001", at(1)));
    // From another Call-ID the CSeq does not matter.
    CHECK(ls.apply(unregister_all("2001", "call-2", 1), at(1)).status == 200);
    CHECK_FALSE(ls.lookup("2001", at(1)));
}

// ---------------------------------------------------------------- expiry limits

TEST_CASE("expiry: below min_expires is 423 and nothing changes", "[expires]") {
    reg::location_service ls(60, 3600);
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 300)}), t0).status == 200);
    // One Contact too brief refuses the whole request, the good one included.
    const auto o = ls.apply(
        register_of("2001",
                    {contact("sip:2001@192.0.2.20", 300), contact("sip:2001@192.0.2.10", 30)},
                    "call-1", 2),
        at(1));
    CHECK(o.status == 423);
    CHECK(o.phrase == "Interval Too Brief");
    CHECK(o.min_expires == 60);
    CHECK(o.bindings.empty());
    CHECK(contacts_of(ls.all(at(1))) == strings{"sip:2001@192.0.2.10"});
    CHECK(ls.all(at(1)).front().seconds_left(at(1)) == 299);
}

TEST_CASE("expiry: the Expires header is checked against the minimum too", "[expires]") {
    reg::location_service ls(60, 3600);
    auto r = register_of("2001", {contact("sip:2001@192.0.2.10")});
    r.expires = 59;
    CHECK(ls.apply(r, t0).status == 423);
    r.expires = 60;
    CHECK(ls.apply(r, t0).status == 200);
}

TEST_CASE("expiry: the parameter wins over the header, max_expires caps", "[expires]") {
    reg::location_service ls(60, 3600);
    auto r =
        register_of("2001", {contact("sip:2001@192.0.2.10", 120), contact("sip:2001@192.0.2.20"),
                             contact("sip:2001@192.0.2.30", 86400)});
    r.expires = 1800;
    const auto o = ls.apply(r, t0);
    REQUIRE(o.status == 200);
    const auto all = ls.all(t0);
    REQUIRE(all.size() == 3);
    CHECK(all[0].seconds_left(t0) == 120);
    CHECK(all[1].seconds_left(t0) == 1800);
    CHECK(all[2].seconds_left(t0) == 3600);
}

TEST_CASE("expiry: reconfigure changes the limits for the next REGISTER", "[expires]") {
    reg::location_service ls(60, 3600);
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 3600)}), t0).status ==
            200);
    ls.reconfigure(300, 900);
    CHECK(ls.lookup("2001", at(1))->seconds_left(at(1)) == 3599);  // kept until refreshed
    const auto too_brief =
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 120)}, "call-1", 2), at(1));
    CHECK(too_brief.status == 423);
    CHECK(too_brief.min_expires == 300);
    const auto o =
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 3600)}, "call-1", 3), at(1));
    REQUIRE(o.status == 200);
    CHECK(o.bindings.front().seconds_left(at(1)) == 900);
}

TEST_CASE("expiry: a maximum below the minimum is raised to it", "[expires]") {
    reg::location_service ls(600, 60);
    const auto o = ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 3600)}), t0);
    REQUIRE(o.status == 200);
    CHECK(o.bindings.front().seconds_left(t0) == 600);
}

// ---------------------------------------------------------------- ordering

TEST_CASE("order: same Call-ID and a CSeq not higher is 500", "[cseq]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 600)}, "call-1", 7), t0)
                .status == 200);

    for (std::uint32_t cseq : {7U, 6U}) {
        const auto o = ls.apply(
            register_of("2001", {contact("sip:2001@192.0.2.10", 0)}, "call-1", cseq), at(1));
        CHECK(o.status == 500);
        CHECK(o.phrase == "Out of order");
    }
    CHECK(ls.lookup("2001", at(1)));
}

TEST_CASE("order: an out-of-order Contact refuses the whole request", "[cseq]") {
    reg::location_service ls;
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}, "call-1", 7), t0).status ==
        200);
    const auto o = ls.apply(
        register_of("2001", {contact("sip:2001@192.0.2.20"), contact("sip:2001@192.0.2.10")},
                    "call-1", 3),
        at(1));
    CHECK(o.status == 500);
    CHECK(contacts_of(ls.all(at(1))) == strings{"sip:2001@192.0.2.10"});
}

TEST_CASE("order: an eviction in the request does not hide a stale Contact", "[cseq][bounds]") {
    reg::location_service ls(60, 3600, 1, 100);
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}, "call-1", 7), t0).status ==
        200);
    // .20 alone would evict .10 before .10 is reached; the request is old all the same.
    const auto o = ls.apply(
        register_of("2001", {contact("sip:2001@192.0.2.20"), contact("sip:2001@192.0.2.10")},
                    "call-1", 3),
        at(1));
    CHECK(o.status == 500);
    CHECK(contacts_of(ls.all(at(1))) == strings{"sip:2001@192.0.2.10"});
}

TEST_CASE("order: a new Call-ID replaces the binding whatever its CSeq", "[cseq]") {
    reg::location_service ls;
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}, "call-1", 100), t0).status ==
        200);
    const auto o =
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 600)}, "call-2", 1), at(1));
    REQUIRE(o.status == 200);
    REQUIRE(o.bindings.size() == 1);
    CHECK(o.bindings.front().call_id == "call-2");
    CHECK(o.bindings.front().cseq == 1);
    CHECK(o.bindings.front().seconds_left(at(1)) == 600);
}

TEST_CASE("order: a Contact repeated in one request is not out of order", "[cseq]") {
    reg::location_service ls;
    const auto o = ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 600),
                                                 contact("sip:2001@192.0.2.10", 300)}),
                            t0);
    REQUIRE(o.status == 200);
    REQUIRE(o.bindings.size() == 1);
    CHECK(o.bindings.front().seconds_left(t0) == 300);  // the last one wins
}

// ---------------------------------------------------------------- q and lookup

TEST_CASE("lookup: the highest q wins", "[lookup][q]") {
    reg::location_service ls;
    const auto o = ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", std::nullopt, 0.9),
                                                 contact("sip:2001@192.0.2.20", std::nullopt, 0.5),
                                                 contact("sip:2001@192.0.2.30")}),
                            t0);
    REQUIRE(o.status == 200);
    // Absent q counts as 1.0; the 200 lists them in the order lookup prefers.
    CHECK(contacts_of(o.bindings) ==
          strings{"sip:2001@192.0.2.30", "sip:2001@192.0.2.10", "sip:2001@192.0.2.20"});
    CHECK(ls.lookup("2001", t0)->contact == "sip:2001@192.0.2.30");

    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.30", 0)}, "call-1", 2), t0)
                .status == 200);
    CHECK(ls.lookup("2001", t0)->contact == "sip:2001@192.0.2.10");
}

TEST_CASE("lookup: of equal q the most recently registered wins", "[lookup][q]") {
    reg::location_service ls;
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 600)}, "a", 1), t0).status ==
        200);
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.20", 600)}, "b", 1), at(1))
                .status == 200);
    CHECK(ls.lookup("2001", at(2))->contact == "sip:2001@192.0.2.20");
    // A refresh counts as registering again.
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 60)}, "a", 2), at(2)).status ==
        200);
    CHECK(ls.lookup("2001", at(3))->contact == "sip:2001@192.0.2.10");
    // Once it expires the other one is left, until it expires too.
    CHECK(ls.lookup("2001", at(62))->contact == "sip:2001@192.0.2.20");
    CHECK_FALSE(ls.lookup("2001", at(601)));
}

TEST_CASE("lookup: an unknown user has no binding", "[lookup]") {
    reg::location_service ls;
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}), t0).status == 200);
    CHECK_FALSE(ls.lookup("2002", t0));
    CHECK_FALSE(ls.lookup("", t0));
    CHECK_FALSE(ls.lookup("20011", t0));
}

// ---------------------------------------------------------------- bounds

TEST_CASE("bounds: a user's binding beyond the maximum evicts the oldest", "[bounds]") {
    reg::location_service ls(60, 3600, 2, 100);
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}, "a", 1), t0).status ==
            200);
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.20")}, "b", 1), at(1)).status ==
            200);
    // Refreshing .10 makes .20 the least recently registered.
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10")}, "a", 2), at(2)).status ==
            200);
    const auto o = ls.apply(register_of("2001", {contact("sip:2001@192.0.2.30")}, "c", 1), at(3));
    REQUIRE(o.status == 200);
    CHECK(contacts_of(ls.all(at(3))) == strings{"sip:2001@192.0.2.10", "sip:2001@192.0.2.30"});
    CHECK(o.bindings.size() == 2);

    // Many Contacts in one request keep only the last ones.
    const auto many =
        ls.apply(register_of("2001",
                             {contact("sip:2001@192.0.2.41"), contact("sip:2001@192.0.2.42"),
                              contact("sip:2001@192.0.2.43")},
                             "d", 1),
                 at(4));
    REQUIRE(many.status == 200);
    CHECK(contacts_of(ls.all(at(4))) == strings{"sip:2001@192.0.2.42", "sip:2001@192.0.2.43"});
}

TEST_CASE("bounds: a new user beyond the maximum is 503", "[bounds]") {
    reg::location_service ls(60, 3600, 10, 2);
    REQUIRE(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 100)}), t0).status == 200);
    REQUIRE(ls.apply(register_of("2002", {contact("sip:2002@192.0.2.20", 3600)}), t0).status ==
            200);

    const auto o = ls.apply(register_of("2003", {contact("sip:2003@192.0.2.30")}), at(1));
    CHECK(o.status == 503);
    CHECK(o.phrase == "Too many registrations");
    CHECK_FALSE(ls.lookup("2003", at(1)));
    CHECK(ls.user_count() == 2);

    // Users already there still refresh and add; queries still answer.
    CHECK(ls.apply(register_of("2002", {contact("sip:2002@192.0.2.21")}, "call-1", 2), at(1))
              .status == 200);
    CHECK(ls.apply(query("2003"), at(1)).status == 200);

    // Once 2001 has expired there is room again, purge or not.
    CHECK(ls.apply(register_of("2003", {contact("sip:2003@192.0.2.30")}), at(101)).status == 200);
    CHECK(ls.user_count() == 2);
    CHECK_FALSE(ls.lookup("2001", at(101)));
}

// ---------------------------------------------------------------- untrusted input

TEST_CASE("input: malformed requests are 400 and change nothing", "[input]") {
    reg::location_service ls;
    CHECK(ls.apply(register_of("", {contact("sip:x@192.0.2.10")}), t0).status == 400);
    for (const char* uri :
         {"", "2001@192.0.2.10", "sip:", "sip:2001@", "sip:2001@host:99999", "sip:2001@host:5o60",
          "sip:@host", "sip:2001@[::1", "sip:2001@[zz]", "sip:2001@host;p=%zz", ":x"}) {
        CAPTURE(uri);
        const auto o =
            ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10"), contact(uri)}), t0);
        CHECK(o.status == 400);
        CHECK(o.phrase == "Invalid Contact");
    }
    for (double q : {-0.1, 1.5, std::nan("")}) {
        CAPTURE(q);
        CHECK(ls.apply(register_of("2001", {contact("sip:2001@192.0.2.10", 60, q)}), t0).status ==
              400);
    }
    CHECK(ls.user_count() == 0);
}

// ---------------------------------------------------------------- URI comparison

TEST_CASE("uri: equivalent Contacts (RFC 3261 19.1.4)", "[uri]") {
    CHECK(reg::uri_equivalent("sip:2001@Host.Example.COM", "SIP:2001@host.example.com"));
    CHECK(reg::uri_equivalent("sip:%61lice@atlanta.com;transport=TCP",
                              "sip:alice@AtLanTa.CoM;Transport=tcp"));
    CHECK(reg::uri_equivalent("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
    CHECK(reg::uri_equivalent(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
    CHECK(reg::uri_equivalent("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                              "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
    CHECK(reg::uri_equivalent("sip:2001@203.0.113.7;transport=udp", "sip:2001@203.0.113.7"));
    CHECK(reg::uri_equivalent("sip:2001@[2001:DB8:0:0::1]:5062", "sip:2001@[2001:db8::1]:5062"));
    CHECK(reg::uri_equivalent("sip:+4930123;phone-context=x@gw.example",
                              "sip:+4930123;phone-context=x@GW.example"));
    CHECK(reg::uri_equivalent("tel:+4930123", "TEL:+4930123"));
}

TEST_CASE("uri: the default port equals an absent one (a departure from 19.1.4)", "[uri]") {
    CHECK(reg::uri_equivalent("sip:2001@host.example", "sip:2001@host.example:5060"));
    CHECK(reg::uri_equivalent("sips:2001@host.example", "sips:2001@host.example:5061"));
    CHECK(reg::uri_equivalent("sip:2001@host.example;transport=tls",
                              "sip:2001@host.example:5061;transport=TLS"));
    CHECK_FALSE(reg::uri_equivalent("sip:2001@host.example;transport=tls",
                                    "sip:2001@host.example:5060;transport=tls"));
    CHECK_FALSE(reg::uri_equivalent("sip:2001@host.example", "sip:2001@host.example:5062"));
}

TEST_CASE("uri: different Contacts", "[uri]") {
    CHECK_FALSE(reg::uri_equivalent("sip:alice@atlanta.com", "sip:ALICE@atlanta.com"));
    CHECK_FALSE(reg::uri_equivalent("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
    CHECK_FALSE(reg::uri_equivalent("sip:alice@atlanta.com", "sip:atlanta.com"));
    CHECK_FALSE(reg::uri_equivalent("sip:alice:secret@atlanta.com", "sip:alice@atlanta.com"));
    CHECK_FALSE(reg::uri_equivalent("sip:bob@biloxi.com;transport=udp",
                                    "sip:bob@biloxi.com:6000;transport=tcp"));
    CHECK_FALSE(reg::uri_equivalent("sip:bob@biloxi.com;transport=udp",
                                    "sip:bob@biloxi.com;transport=tcp"));
    CHECK_FALSE(reg::uri_equivalent("sip:carol@chicago.com",
                                    "sip:carol@chicago.com?Subject=next%20meeting"));
    CHECK_FALSE(reg::uri_equivalent("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
    CHECK_FALSE(reg::uri_equivalent("sip:bob@192.0.2.4", "sip:bob@192.0.2.4;maddr=192.0.2.9"));
    CHECK_FALSE(
        reg::uri_equivalent("sip:+4930123@gw.example;user=phone", "sip:+4930123@gw.example"));
    CHECK_FALSE(reg::uri_equivalent("sip:a%3Bb@host.example", "sip:a;b@host.example"));
    CHECK_FALSE(reg::uri_equivalent("tel:+4930123", "tel:+4930124"));
    CHECK_FALSE(reg::uri_equivalent("sip:", "sip:"));
}

TEST_CASE("uri: an equivalent Contact refreshes instead of adding", "[uri][register]") {
    reg::location_service ls;
    REQUIRE(
        ls.apply(register_of("2001", {contact("sip:2001@PBX.example;transport=udp")}), t0).status ==
        200);
    const auto o = ls.apply(
        register_of("2001", {contact("sip:2001@pbx.example:5060", 600)}, "call-1", 2), at(1));
    REQUIRE(o.status == 200);
    REQUIRE(o.bindings.size() == 1);
    CHECK(o.bindings.front().contact == "sip:2001@pbx.example:5060");  // as last written
    CHECK(o.bindings.front().seconds_left(at(1)) == 600);
    // The user part is case-sensitive: another binding.
    CHECK(ls.apply(register_of("2001", {contact("sip:User@pbx.example")}, "call-1", 3), at(1))
              .bindings.size() == 2);
    CHECK(ls.apply(register_of("2001", {contact("sip:user@pbx.example")}, "call-1", 4), at(1))
              .bindings.size() == 3);
}

// ---------------------------------------------------------------- seconds_left

TEST_CASE("seconds_left: rounds up while live, 0 once expired", "[binding]") {
    reg::binding b{.user = "2001",
                   .contact = "sip:2001@192.0.2.10",
                   .source = endpoint("192.0.2.10", 5060),
                   .transport = transport::udp,
                   .expires_at = at(60),
                   .call_id = "c",
                   .cseq = 1,
                   .q = 1.0};
    CHECK(b.seconds_left(t0) == 60);
    CHECK(b.seconds_left(at(0.001)) == 60);
    CHECK(b.seconds_left(at(59)) == 1);
    CHECK(b.seconds_left(at(59.999)) == 1);
    CHECK(b.seconds_left(at(60)) == 0);
    CHECK(b.seconds_left(at(3600)) == 0);
}

}  // namespace test_location_service
