// main() of every unit-test program but test_dpdk_worker.
#include "catch_run.hpp"

int main(int argc, char** argv) { return sbc::test::run_catch(argc, argv); }
