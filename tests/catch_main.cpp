// One Catch2 main for every unit-test program, compiled once.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
