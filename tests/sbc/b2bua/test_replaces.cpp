#include "sbc/b2bua/replaces.hpp"

#include <catch2/catch.hpp>

using sbc::b2bua::replaces_in_uri_headers;

TEST_CASE("a Refer-To without Replaces names no dialog") {
    auto r = replaces_in_uri_headers("");
    REQUIRE(r);
    CHECK_FALSE(r->has_value());
    r = replaces_in_uri_headers("Subject=hello&Priority=urgent");
    REQUIRE(r);
    CHECK_FALSE(r->has_value());
}

TEST_CASE("Replaces is unescaped and its tags read as RFC 3891 writes them") {
    // RFC 3891 7's example: the headers part of a Refer-To URI.
    auto r = replaces_in_uri_headers(
        "Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994");
    REQUIRE(r);
    REQUIRE(r->has_value());
    const auto& ref = **r;
    CHECK(ref.call_id == "12345@192.168.118.3");
    CHECK(ref.to_tag == "12345");
    CHECK(ref.from_tag == "5FFE-3994");
    CHECK_FALSE(ref.early_only);
}

TEST_CASE("Replaces among other headers, in any case, with early-only") {
    auto r = replaces_in_uri_headers(
        "Accept-Contact=x&replaces=a%2F%2F%2Fb%3BFROM-TAG%3Df1%3Bto-tag%3Dt1%3Bearly-only");
    REQUIRE(r);
    REQUIRE(r->has_value());
    CHECK((*r)->call_id == "a///b");
    CHECK((*r)->from_tag == "f1");
    CHECK((*r)->to_tag == "t1");
    CHECK((*r)->early_only);
}

TEST_CASE("a malformed Replaces is an error, not a dialog") {
    CHECK_FALSE(replaces_in_uri_headers("Replaces=abc%3Bto-tag%3Dt"));                // no from-tag
    CHECK_FALSE(replaces_in_uri_headers("Replaces=%3Bto-tag%3Dt%3Bfrom-tag%3Df"));    // no Call-ID
    CHECK_FALSE(replaces_in_uri_headers("Replaces=abc%3Bto-tag%3D%3Bfrom-tag%3Df"));  // empty tag
    CHECK_FALSE(replaces_in_uri_headers("Replaces=abc%3"));                           // cut escape
    CHECK_FALSE(replaces_in_uri_headers("Replaces=abc%zz"));
}
