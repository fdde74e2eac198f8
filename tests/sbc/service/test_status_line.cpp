// The STATUS= line sbcd shows in `systemctl status`.
#include "sbc/service/status_line.hpp"

#include <catch2/catch.hpp>

using sbc::service::status_line;
using sbc::service::summary;

TEST_CASE("the status line counts calls and peers up", "[service][status_line]") {
    summary s;
    s.calls = 12;
    s.peers_up = 3;
    s.peers_total = 4;
    CHECK(status_line(s) == "12 calls, 3 of 4 peers up");
    s.calls = 1;
    CHECK(status_line(s) == "1 call, 3 of 4 peers up");
}

TEST_CASE("the status line names the cluster role", "[service][status_line]") {
    summary s;
    s.cluster_active = true;
    CHECK(status_line(s) == "0 calls, 0 of 0 peers up, cluster active");
    s.cluster_active = false;
    CHECK(status_line(s) == "0 calls, 0 of 0 peers up, cluster standby");
}

TEST_CASE("the status line shows a drain and its deadline", "[service][status_line]") {
    summary s;
    s.calls = 2;
    s.peers_up = 1;
    s.peers_total = 1;
    s.draining = true;
    CHECK(status_line(s) == "2 calls, 1 of 1 peers up, draining");
    s.drain_seconds_left = 839.2;
    CHECK(status_line(s) == "2 calls, 1 of 1 peers up, draining (deadline in 840 s)");
}
