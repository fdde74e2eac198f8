// main() of test_dpdk_worker: the test bed and its EAL come first
// (test_dpdk_worker.cpp), then the Catch2 session.
#include "tests/catch_run.hpp"

int run_with_test_bed(int argc, char** argv, int (*run_tests)(int, char**));

int main(int argc, char** argv) { return run_with_test_bed(argc, argv, sbc::test::run_catch); }
