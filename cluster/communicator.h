#pragma once
// Collective operations of one data-parallel group, behind one interface with two backends:
//   - MPI  (make_mpi_communicator):  CPU tensors, over an MpiComm;
//   - NCCL (make_nccl_communicator): CUDA tensors, one device per rank, on the current torch
//     CUDA stream; the NCCL unique id is made on group rank 0 and MPI_Bcast over the group.
// Every rank of the group must call the same collectives, in the same order, with tensors of
// the same shapes and dtypes; a mismatch hangs or fails inside MPI/NCCL.
//
// at::Tensor is torch::Tensor (the header stays free of <torch/torch.h>).
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/mpi.h"

namespace mammosweep::cluster {

/// Gradient fusion. allreduce_mean packs many small tensors into few large buffers
/// ("buckets") so a ResNet50's ~160 gradients cost a handful of allreduces instead of 160.
struct BucketOptions {
  /// Capacity of one bucket in bytes. A tensor larger than this gets a bucket of its own.
  std::size_t bucket_bytes = 25u << 20;  // 25 MiB, as in torch DDP
};

struct CommunicatorOptions {
  BucketOptions buckets;
};

/// One bucket of a fusion plan: tensors [first, first + count) of the input list, all of the
/// same dtype and device, `elements` elements in total.
struct Bucket {
  std::size_t first = 0;
  std::size_t count = 0;
  std::int64_t elements = 0;
};

/// Splits `tensors` into consecutive buckets: a bucket closes when the next tensor would push
/// it past options.bucket_bytes or has another dtype or device. Deterministic, so every rank
/// computes the same plan from the same list. Throws std::invalid_argument on an undefined
/// tensor (naming its index).
std::vector<Bucket> plan_buckets(const std::vector<at::Tensor>& tensors,
                                 const BucketOptions& options);

class Communicator {
 public:
  explicit Communicator(const CommunicatorOptions& options) : options_(options) {}
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// "mpi" or "nccl".
  virtual const char* backend() const = 0;

  /// In place: t = sum over ranks of t. `t` must be contiguous, float32/float64/float16/
  /// bfloat16, on the backend's device type. (MPI sums 16-bit types in float32.)
  virtual void allreduce_sum(at::Tensor& t) = 0;

  /// In place: each grads[i] = mean over ranks of grads[i]. Tensors are fused into buckets
  /// (options().buckets): copied into a reused flat buffer, one allreduce_sum per bucket,
  /// divided by size(), copied back. Tensors may be non-contiguous; none may be undefined
  /// (filter out frozen parameters first, identically on every rank).
  void allreduce_mean(std::vector<at::Tensor>& grads);

  /// In place: every rank's `t` becomes root's `t`. Contiguous, any dtype.
  virtual void broadcast(at::Tensor& t, int root) = 0;

  /// Returns when every rank has entered it (for NCCL: after this rank's stream is drained).
  virtual void barrier() = 0;

  /// Every rank's byte string, indexed by rank (for metrics: each rank's labels + scores).
  /// Lengths may differ between ranks.
  virtual std::vector<std::string> allgather(const std::string& bytes) = 0;

  const CommunicatorOptions& options() const { return options_; }

 private:
  CommunicatorOptions options_;
  std::vector<at::Tensor> bucket_buffers_;  // reused flat buffers, one per (dtype, device)
};

/// MPI backend over `comm` (the communicator is moved in and owned). CPU tensors only.
std::unique_ptr<Communicator> make_mpi_communicator(MpiComm comm,
                                                    const CommunicatorOptions& options = {});

/// NCCL backend over the ranks of `group`, each using CUDA device `device` (normally the
/// node-local rank). Collective over `group`. Throws std::runtime_error when the build has no
/// NCCL (see nccl_available()), or naming ncclGetErrorString and the ranks on NCCL failure.
std::unique_ptr<Communicator> make_nccl_communicator(const MpiComm& group, int device,
                                                     const CommunicatorOptions& options = {});

/// True when this build has the NCCL backend (it may still find no GPU at run time).
bool nccl_available();

}  // namespace mammosweep::cluster
