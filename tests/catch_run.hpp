// A Catch2 session over the command line, for the unit-test programs' main()
// functions: Catch2 v2 declares its Session only where its implementation
// is compiled (catch_impl.cpp), which is once for all of them.
#pragma once

namespace sbc::test {

int run_catch(int argc, char** argv);

}  // namespace sbc::test
