// ";user=phone" on E.164 users (RFC 3261 19.1.1, RFC 3966): which users are
// numbers, and where the parameter goes in a URI and in a header value.
#include <catch2/catch.hpp>

#include "sbc/policy/user_phone.hpp"

using sbc::policy::header_with_user_phone;
using sbc::policy::is_e164;
using sbc::policy::with_user_phone;

namespace test_user_phone {

TEST_CASE("an E.164 user is + and 1 to 15 digits", "[policy][user_phone]") {
    CHECK(is_e164("+4930123456"));
    CHECK(is_e164("+1"));
    CHECK(is_e164("+123456789012345"));
    CHECK_FALSE(is_e164("+1234567890123456"));  // 16 digits
    CHECK_FALSE(is_e164("+"));
    CHECK_FALSE(is_e164(""));
    CHECK_FALSE(is_e164("4930123456"));     // national or no +
    CHECK_FALSE(is_e164("+49-30-123456"));  // visual separators: not normalized
    CHECK_FALSE(is_e164("+4930;isub=12"));  // parameters in the user part
    CHECK_FALSE(is_e164("alice"));
}

TEST_CASE("user=phone goes after the URI's parameters, before its headers",
          "[policy][user_phone]") {
    CHECK(with_user_phone("sip:+4930123@sip.pstnhub.microsoft.com:5061;transport=tls") ==
          "sip:+4930123@sip.pstnhub.microsoft.com:5061;transport=tls;user=phone");
    CHECK(with_user_phone("sip:+4930123@192.0.2.1") == "sip:+4930123@192.0.2.1;user=phone");
    CHECK(with_user_phone("SIPS:+4930123@h") == "SIPS:+4930123@h;user=phone");
    CHECK(with_user_phone("sip:+4930123@h?Subject=x") == "sip:+4930123@h;user=phone?Subject=x");
}

TEST_CASE("URIs that are no SIP URI of a number are left as they are", "[policy][user_phone]") {
    CHECK(with_user_phone("sip:030123@h") == "sip:030123@h");
    CHECK(with_user_phone("sip:alice@h") == "sip:alice@h");
    CHECK(with_user_phone("sip:h.example.test") == "sip:h.example.test");
    CHECK(with_user_phone("tel:+4930123") == "tel:+4930123");
    // A user parameter already there is the sender's word: none added.
    CHECK(with_user_phone("sip:+4930123@h;user=phone") == "sip:+4930123@h;user=phone");
    CHECK(with_user_phone("sip:+4930123@h;USER=ip") == "sip:+4930123@h;USER=ip");
    CHECK(with_user_phone("") == "");
}

TEST_CASE("in a header value each bracketed SIP URI of a number is marked",
          "[policy][user_phone]") {
    CHECK(header_with_user_phone("\"Alice\" <sip:+4930555@sbc.example.test>;tag=1") ==
          "\"Alice\" <sip:+4930555@sbc.example.test;user=phone>;tag=1");
    CHECK(header_with_user_phone("<sip:+4930555@h>, <tel:+4930555>") ==
          "<sip:+4930555@h;user=phone>, <tel:+4930555>");
    CHECK(header_with_user_phone("<sip:2001@h>") == "<sip:2001@h>");
    // A bare addr-spec: put in brackets, so that the parameter is the URI's
    // and not the header's (RFC 3261 20.10).
    CHECK(header_with_user_phone("sip:+4930555@h;tag=1") == "<sip:+4930555@h;user=phone>;tag=1");
    CHECK(header_with_user_phone("sip:2001@h;tag=1") == "sip:2001@h;tag=1");
    // Nothing to go by: unchanged, never a crash.
    CHECK(header_with_user_phone("<sip:+4930555@h") == "<sip:+4930555@h");
    CHECK(header_with_user_phone("") == "");
    CHECK(header_with_user_phone("  ") == "  ");
}

}  // namespace test_user_phone
