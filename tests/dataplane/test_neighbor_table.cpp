// The workers' next-hop table: lookups, replacement, deletion that keeps
// probe chains intact, and a full table refusing inserts.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "dataplane/io/dpdk/neighbor_table.hpp"

using namespace sbc::dataplane;
using namespace sbc::dataplane::dpdk;

namespace {
ip_key v4(unsigned n) {
    auto e =
        ip_endpoint::from_string("10." + std::to_string((n >> 16) & 255) + "." +
                                     std::to_string((n >> 8) & 255) + "." + std::to_string(n & 255),
                                 0);
    REQUIRE(e);
    return ip_key::of(*e);
}
mac_address mac(unsigned n) {
    return {2,
            0,
            static_cast<std::uint8_t>(n >> 24),
            static_cast<std::uint8_t>(n >> 16),
            static_cast<std::uint8_t>(n >> 8),
            static_cast<std::uint8_t>(n)};
}
}  // namespace

TEST_CASE("neighbor table agrees with a map through inserts and erases", "[dpdk][neighbor]") {
    neighbor_table t(512);
    std::map<unsigned, unsigned> model;
    std::mt19937 rng(7);
    for (int step = 0; step < 20000; ++step) {
        unsigned ip = rng() % 700;
        if (rng() % 3 == 0) {
            t.erase(v4(ip));
            model.erase(ip);
        } else if (model.size() < 512 || model.count(ip) != 0) {
            unsigned m = rng();
            REQUIRE(t.set(v4(ip), mac(m)));
            model[ip] = m;
        }
        if (step % 97 == 0) {
            for (unsigned probe = 0; probe < 700; ++probe) {
                const mac_address* found = t.find(v4(probe));
                auto it = model.find(probe);
                REQUIRE((found != nullptr) == (it != model.end()));
                if (found != nullptr) {
                    REQUIRE(*found == mac(it->second));
                }
            }
            REQUIRE(t.size() == model.size());
        }
    }
}

TEST_CASE("IPv4 and IPv6 keys differ; a full table refuses", "[dpdk][neighbor]") {
    neighbor_table t(16);
    auto six = ip_endpoint::from_string("::ffff:10.0.0.1", 0);
    REQUIRE(six);
    CHECK(ip_key::of(*six) == v4(1));  // the mapped form is the same address
    auto other = ip_endpoint::from_string("2001:db8::1", 0);
    REQUIRE(other);
    CHECK_FALSE(ip_key::of(*other) == v4(1));
    unsigned added = 0;
    for (unsigned i = 0; i < 100; ++i) {
        added += t.set(v4(i), mac(i)) ? 1 : 0;
    }
    CHECK(added == 16);
    CHECK(t.set(v4(3), mac(99)));  // replacing still works when full
    CHECK(*t.find(v4(3)) == mac(99));
}
