// A user's bindings as the document a cluster's store keeps, and bindings
// another node registered taken into a location service (adopt), on fixed
// clocks (no sleeping).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "sbc/registrar/binding_document.hpp"
#include "sbc/registrar/location_service.hpp"

namespace reg = sbc::registrar;

// Its own namespace: test_sbc is a unity build of many such files.
namespace test_binding_document {

namespace {

using namespace std::chrono_literals;

// Two processes' views of one moment: their steady clocks differ, the wall
// clock is shared.
const reg::clock_pair here{reg::clock::time_point{} + 1000h,
                           std::chrono::system_clock::time_point{} + 480000h};
const reg::clock_pair there{reg::clock::time_point{} + 5h, here.wall};

reg::binding phone(const std::string& contact, reg::clock::duration left, std::uint32_t cseq = 7) {
    reg::binding b;
    b.user = "2001";
    b.contact = contact;
    b.source = *sbc::dataplane::ip_endpoint::from_string("203.0.113.7", 5062);
    b.transport = sbc::config::transport::tcp;
    b.expires_at = here.steady + left;
    b.call_id = "reg-1@phone";
    b.cseq = cseq;
    b.q = 0.5;
    return b;
}

}  // namespace

TEST_CASE("a user's bindings written as a document read back equal, expiry on the reader's clock",
          "[registrar][cluster]") {
    const reg::user_bindings_doc d{
        "phones", "2001", {phone("sip:2001@10.0.0.7:5062", 600s), phone("sip:2001@10.0.0.8", 30s)}};
    const auto doc = reg::to_document(d, here);
    CHECK(doc["trunk"] == "phones");
    CHECK(doc["bindings"][0]["source"]["address"] == "203.0.113.7");
    CHECK(doc["bindings"][0]["transport"] == "tcp");

    // Through text, as the store holds it, into another process.
    auto back = reg::from_document(nlohmann::json::parse(doc.dump()), there);
    REQUIRE(back.ok());
    CHECK(back->trunk == "phones");
    CHECK(back->user == "2001");
    REQUIRE(back->bindings.size() == 2);
    const auto& b = back->bindings[0];
    CHECK(b.user == "2001");
    CHECK(b.contact == "sip:2001@10.0.0.7:5062");
    CHECK(b.source.to_string() == "203.0.113.7:5062");
    CHECK(b.transport == sbc::config::transport::tcp);
    CHECK(b.call_id == "reg-1@phone");
    CHECK(b.cseq == 7);
    CHECK(b.q == 0.5);
    CHECK(b.expires_at - there.steady == 600s);
    CHECK(back->bindings[1].expires_at - there.steady == 30s);

    // The store's key lives until the last binding expires.
    CHECK(reg::last_expiry(d.bindings, here) == here.wall + 600s);
}

TEST_CASE("a bindings document that is not one is refused with the field that is wrong",
          "[registrar][cluster]") {
    CHECK(reg::from_document(nlohmann::json::array(), here).error_message() == "not an object");
    CHECK(reg::from_document({{"user", "1"}, {"bindings", nlohmann::json::array()}}, here)
              .error_message() == "no trunk");
    auto doc = reg::to_document({"phones", "2001", {phone("sip:2001@10.0.0.7", 60s)}}, here);
    doc["bindings"][0]["source"]["address"] = "not an address";
    CHECK(reg::from_document(doc, here).error_message() ==
          "user 2001: binding sip:2001@10.0.0.7: no source {address, port}");
    doc["bindings"][0].erase("expires_ms");
    doc["bindings"][0]["source"]["address"] = "203.0.113.7";
    CHECK(reg::from_document(doc, here).error_message() ==
          "user 2001: binding sip:2001@10.0.0.7: no expires_ms");
}

TEST_CASE("bindings adopted from a partner are looked up like registered ones",
          "[registrar][cluster]") {
    reg::location_service ls;
    const auto now = here.steady;
    CHECK(ls.adopt(phone("sip:2001@10.0.0.7:5062", 600s), now));
    const auto found = ls.lookup("2001", now);
    REQUIRE(found);
    CHECK(found->source.to_string() == "203.0.113.7:5062");

    // Expired: not taken. The same contact again: replaces, one binding.
    CHECK_FALSE(ls.adopt(phone("sip:2001@10.0.0.9", -1s), now));
    CHECK(ls.adopt(phone("sip:2001@10.0.0.7:5062", 300s, 8), now));
    REQUIRE(ls.bindings_of("2001", now).size() == 1);
    CHECK(ls.bindings_of("2001", now)[0].cseq == 8);
    // An older copy (same Call-ID, lower CSeq) does not undo a refresh.
    CHECK(ls.adopt(phone("sip:2001@10.0.0.7:5062", 900s, 3), now));
    CHECK(ls.bindings_of("2001", now)[0].cseq == 8);

    // A REGISTER from the phone afterwards refreshes the adopted binding
    // (RFC 3261 10.3 step 7: same Call-ID, higher CSeq).
    reg::register_request r;
    r.user = "2001";
    r.contacts.push_back({"sip:2001@10.0.0.7:5062", 120, std::nullopt});
    r.call_id = "reg-1@phone";
    r.cseq = 9;
    r.source = *sbc::dataplane::ip_endpoint::from_string("203.0.113.7", 5062);
    const auto out = ls.apply(r, now);
    CHECK(out.status == 200);
    CHECK(out.bindings.size() == 1);
}

}  // namespace test_binding_document
