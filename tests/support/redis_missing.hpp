// The skip of a test that needs a real redis-server (tests/support/
// redis_server.hpp) on a machine without one: a warning and a pass, so
// that the unit suite runs where tools/install-deps has not.
#pragma once

#include <catch2/catch.hpp>

#include "tests/support/redis_server.hpp"

namespace sbc::test {

/// True (the test is to return at once) when redis-server is missing.
inline bool redis_missing() {
    if (redis_server::installed()) {
        return false;
    }
    WARN("redis-server is not installed (tools/install-deps): skipped");
    SUCCEED();
    return true;
}

}  // namespace sbc::test
