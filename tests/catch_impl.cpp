// Catch2's implementation, compiled once for every unit-test program; each
// program's main() is catch_main.cpp's, or its own (test_dpdk_worker).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "catch_run.hpp"

int sbc::test::run_catch(int argc, char** argv) { return Catch::Session().run(argc, argv); }
