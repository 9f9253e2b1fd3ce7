// The MPI group, internal to src/dist: compiled with MPI (MIXTRAIN_MPI), else a stub that says
// there is none.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace mixtrain::dist {

bool mpi_available();
// Initialises MPI (finalised at exit) and returns its world.
std::unique_ptr<Communicator> make_mpi_world();

}  // namespace mixtrain::dist
