// Linked instead of nccl_communicator.cpp when the build has no NCCL backend
// (MAMMOSWEEP_NCCL=OFF, or a CPU-only LibTorch).
#include <stdexcept>

#include "cluster/communicator.h"

namespace mammosweep::cluster {

bool nccl_available() { return false; }

std::unique_ptr<Communicator> make_nccl_communicator(const MpiComm& /*group*/, int device,
                                                     const CommunicatorOptions& /*options*/) {
  throw std::runtime_error(
      "make_nccl_communicator(device " + std::to_string(device) +
      "): this mammosweep build has no NCCL backend (configured with MAMMOSWEEP_NCCL=OFF, or "
      "LibTorch without CUDA, or nccl.h/libnccl not found). Rebuild with -DMAMMOSWEEP_NCCL=ON "
      "on a CUDA machine, or train on CPU with the MPI communicator.");
}

}  // namespace mammosweep::cluster
