// Linked instead of nccl_communicator.cpp when the build has no NCCL backend
// (MAMMOSWEEP_NCCL=OFF, or a CPU-only LibTorch).
