// The hearth binary: all behaviour lives in hearth_lib; see lib/cli/main.cpp.
#include "cli/main.hpp"

int main(int argc, char** argv) { return hearth::cli::main(argc, argv); }
