#include "orchestrator/cli.h"

int main(int argc, char** argv) { return mammosweep::orchestrator::run_cli(argc, argv); }
