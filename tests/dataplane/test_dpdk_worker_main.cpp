// main() of test_dpdk_worker, with Catch2's implementation: the test bed and
// its EAL come first (test_dpdk_worker.cpp), then the Catch2 session. Apart
// from the tests so that a sanitized build compiles Catch2 uninstrumented
// (tests/meson.build).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

int run_with_test_bed(int argc, char** argv, int (*run_tests)(int, char**));

int main(int argc, char** argv) {
    return run_with_test_bed(argc, argv,
                             [](int c, char** v) { return Catch::Session().run(c, v); });
}
