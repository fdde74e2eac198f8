// next_hops: which MAC the dpdk workers must use for each media peer, for
// peers on the link (their own, from the kernel's neighbour table) and for
// peers behind a gateway (the gateway's), as either changes.
#include <catch2/catch.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "dataplane/io/dpdk/next_hops.hpp"

using namespace sbc::dataplane;
using namespace sbc::dataplane::dpdk;

namespace {

ip_key key(const char* ip) { return ip_key::of(*ip_endpoint::from_string(ip, 0)); }

const mac_address gw_mac{0x02, 0, 0, 0, 0, 0x01};
const mac_address gw_mac2{0x02, 0, 0, 0, 0, 0x02};
const mac_address peer_mac{0x02, 0, 0, 0, 0, 0x03};

// What the workers were told, in order: (address, MAC or nothing).
struct recorder {
    std::vector<std::pair<ip_key, std::optional<mac_address>>> told;
    next_hops::post_fn fn() {
        return [this](const ip_key& ip, const mac_address* mac) {
            told.emplace_back(ip, mac ? std::optional(*mac) : std::nullopt);
        };
    }
    bool has(const char* ip, std::optional<mac_address> mac) const {
        for (const auto& [k, m] : told) {
            if (k == key(ip) && m == mac) {
                return true;
            }
        }
        return false;
    }
};

}  // namespace

TEST_CASE("next_hops: an on-link peer needs only the kernel's neighbour entry") {
    next_hops hops;
    recorder r;
    hops.use(key("203.0.113.2"), std::nullopt, r.fn());
    CHECK(r.told.empty());
    CHECK(hops.routed_peers() == 0);
    hops.neighbor(key("203.0.113.2"), &peer_mac, r.fn());
    CHECK(r.has("203.0.113.2", peer_mac));
    hops.release(key("203.0.113.2"), r.fn());
    CHECK(r.told.size() == 1);
}

TEST_CASE("next_hops: a peer behind a gateway takes the gateway's MAC, and follows it") {
    next_hops hops;
    recorder r;
    // The gateway is known before the peer is used: told at once.
    hops.neighbor(key("203.0.113.254"), &gw_mac, r.fn());
    hops.use(key("198.18.0.10"), key("203.0.113.254"), r.fn());
    CHECK(r.has("198.18.0.10", gw_mac));
    // Used before the gateway is resolved: told when it is.
    hops.use(key("198.18.0.20"), key("203.0.113.253"), r.fn());
    CHECK(r.has("198.18.0.20", std::nullopt));
    hops.neighbor(key("203.0.113.253"), &gw_mac2, r.fn());
    CHECK(r.has("198.18.0.20", gw_mac2));
    CHECK(hops.routed_peers() == 2);

    // The gateway's MAC changes, then it goes: its peers follow.
    r.told.clear();
    hops.neighbor(key("203.0.113.254"), &gw_mac2, r.fn());
    CHECK(r.has("198.18.0.10", gw_mac2));
    hops.neighbor(key("203.0.113.254"), nullptr, r.fn());
    CHECK(r.has("203.0.113.254", std::nullopt));
    CHECK(r.has("198.18.0.10", std::nullopt));
    CHECK_FALSE(r.has("198.18.0.20", std::nullopt));  // another gateway's
}

TEST_CASE("next_hops: a routed peer is forgotten with its last user, and re-routed") {
    next_hops hops;
    recorder r;
    hops.neighbor(key("203.0.113.254"), &gw_mac, r.fn());
    hops.neighbor(key("203.0.113.253"), &gw_mac2, r.fn());
    hops.use(key("2001:db8:1::10"), key("2001:db8::1"), r.fn());  // IPv6 too
    hops.use(key("198.18.0.10"), key("203.0.113.254"), r.fn());
    hops.use(key("198.18.0.10"), key("203.0.113.254"), r.fn());  // a second call
    r.told.clear();
    hops.release(key("198.18.0.10"), r.fn());
    CHECK(r.told.empty());  // still in use
    // The route changed for the next call: the peer moves to the new gateway.
    hops.use(key("198.18.0.10"), key("203.0.113.253"), r.fn());
    CHECK(r.has("198.18.0.10", gw_mac2));
    hops.release(key("198.18.0.10"), r.fn());
    hops.release(key("198.18.0.10"), r.fn());
    CHECK(r.has("198.18.0.10", std::nullopt));
    CHECK(hops.routed_peers() == 1);
    hops.release(key("198.18.0.99"), r.fn());  // never used: nothing
    CHECK(hops.routed_peers() == 1);
}
