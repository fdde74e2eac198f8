// When the REGISTER client refreshes a registration (RFC 3261 10.2.4:
// before it expires): half the granted time, at least 5 s before the end.
#include <catch2/catch.hpp>

#include "sbc/b2bua/registration.hpp"

using namespace std::chrono_literals;

TEST_CASE("registration: refresh at half the grant, 5 s before it ends at the latest",
          "[registration]") {
    using sbc::b2bua::refresh_delay;
    CHECK(refresh_delay(3600s) == 1800s);
    CHECK(refresh_delay(8s) == 3s);
    CHECK(refresh_delay(6s) == 1s);
    CHECK(refresh_delay(4s) == 2s);
    CHECK(refresh_delay(0s) == 500ms);
}
