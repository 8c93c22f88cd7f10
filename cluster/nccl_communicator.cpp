// NCCL backend of Communicator: the only file that includes nccl.h (and the CUDA parts of
// c10). Compiled only when the build has NCCL; nccl_unavailable.cpp replaces it otherwise.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <fmt/format.h>
#include <nccl.h>

#include <stdexcept>

#include "cluster/communicator.h"

namespace mammosweep::cluster {
namespace {

class NcclError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

ncclDataType_t nccl_type(at::ScalarType t, int rank, int size) {
  switch (t) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    default:
      throw std::invalid_argument(fmt::format(
          "allreduce_sum (NCCL, rank {} of {}): expected a float32, float64, float16 or "
          "bfloat16 tensor, got {}",
          rank, size, c10::toString(t)));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const MpiComm& group, int device, const CommunicatorOptions& options)
      : Communicator(options), host_(make_mpi_communicator(group.dup())), device_(device) {
    rank_ = host_->rank();
    size_ = host_->size();
    // The unique id is made on group rank 0 and broadcast over MPI: the bootstrap NCCL needs.
    ncclUniqueId id{};
    if (rank_ == 0) check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    at::Tensor id_bytes = at::from_blob(&id, {static_cast<std::int64_t>(sizeof(id))}, at::kByte);
    host_->broadcast(id_bytes, 0);
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }

  ~NcclCommunicator() override {
    if (comm_ != nullptr) {
      c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
      ncclCommDestroy(comm_);
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "nccl"; }

  void allreduce_sum(at::Tensor& t) override {
    require_cuda_contiguous(t, "allreduce_sum");
    const ncclDataType_t type = nccl_type(t.scalar_type(), rank_, size_);
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    auto stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_));
    check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<std::size_t>(t.numel()), type,
                        ncclSum, comm_, stream.stream()),
          "ncclAllReduce");
  }

  void broadcast(at::Tensor& t, int root) override {
    require_cuda_contiguous(t, "broadcast");
    if (root < 0 || root >= size_) {
      throw std::invalid_argument(fmt::format(
          "broadcast (NCCL, rank {}): root {} is outside the group (expected 0..{})", rank_, root,
          size_ - 1));
    }
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    auto stream = c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_));
    const auto bytes = static_cast<std::size_t>(t.numel()) * t.element_size();
    check(ncclBroadcast(t.data_ptr(), t.data_ptr(), bytes, ncclUint8, root, comm_,
                        stream.stream()),
          fmt::format("ncclBroadcast from root rank {}", root));
  }

  void barrier() override {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).synchronize();
    host_->barrier();
  }

  std::vector<std::string> allgather(const std::string& bytes) override {
    return host_->allgather(bytes);
  }

 private:
  void require_cuda_contiguous(const at::Tensor& t, const char* op) const {
    if (!t.defined()) {
      throw std::invalid_argument(
          fmt::format("{} (NCCL, rank {} of {}): the tensor is undefined", op, rank_, size_));
    }
    if (!t.is_cuda() || t.get_device() != device_) {
      throw std::invalid_argument(fmt::format(
          "{} (NCCL, rank {} of {}): expected a tensor on cuda:{}, got one on {}", op, rank_,
          size_, device_, t.device().str()));
    }
    if (!t.is_contiguous()) {
      throw std::invalid_argument(fmt::format(
          "{} (NCCL, rank {} of {}): expected a contiguous tensor", op, rank_, size_));
    }
  }

  void check(ncclResult_t rc, const std::string& what) const {
    if (rc == ncclSuccess || rc == ncclInProgress) return;
    const char* detail = comm_ != nullptr ? ncclGetLastError(comm_) : ncclGetLastError(nullptr);
    throw NcclError(fmt::format("{} on rank {} of {} (device cuda:{}) failed: {}{}{}", what, rank_,
                                size_, device_, ncclGetErrorString(rc),
                                detail && *detail ? "; NCCL says: " : "", detail ? detail : ""));
  }

  std::unique_ptr<Communicator> host_;  // MPI over the same group: id bootstrap, barrier, bytes
  ncclComm_t comm_ = nullptr;
  int device_ = 0;
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool nccl_available() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(const MpiComm& group, int device,
                                                     const CommunicatorOptions& options) {
  return std::make_unique<NcclCommunicator>(group, device, options);
}

}  // namespace mammosweep::cluster
