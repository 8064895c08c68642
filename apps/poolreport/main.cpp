// poolreport: what a poolrun output file holds. Everything is in poolreport_lib.
#include "poolreport.hpp"

int main(int argc, char** argv) {
  return poolreport::main(argc, argv);
}
