// The distributed layer in a build without OpenMPI: there is no group to join.
#include "base/error.h"
#include "dist/process_group.h"

namespace frugal::dist {

bool ProcessGroup::available() { return false; }

ProcessGroup& ProcessGroup::join(double) {
  fail("this frugal was built without OpenMPI: install libopenmpi-dev and openmpi-bin (scripts/bootstrap does) and "
       "rebuild to run under mpirun (--expert-parallel, --data-parallel)");
}

}  // namespace frugal::dist
