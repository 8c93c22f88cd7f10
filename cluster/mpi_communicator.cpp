// MPI backend of Communicator: CPU tensors, reductions with MPI_Allreduce in place.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <climits>
#include <numeric>
#include <stdexcept>

#include "cluster/communicator.h"

namespace mammosweep::cluster {
namespace {

// MPI counts are int: large buffers go in chunks of this many elements.
constexpr std::int64_t kMaxChunk = std::int64_t{1} << 30;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MpiComm comm, const CommunicatorOptions& options)
      : Communicator(options), comm_(std::move(comm)) {
    if (comm_.is_null()) throw std::invalid_argument("make_mpi_communicator: null communicator");
    rank_ = comm_.rank();
    size_ = comm_.size();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }

  void allreduce_sum(at::Tensor& t) override {
    require_cpu_contiguous(t, "allreduce_sum");
    switch (t.scalar_type()) {
      case at::kFloat:
        allreduce_raw(t.data_ptr(), t.numel(), MPI_FLOAT, sizeof(float));
        break;
      case at::kDouble:
        allreduce_raw(t.data_ptr(), t.numel(), MPI_DOUBLE, sizeof(double));
        break;
      case at::kHalf:
      case at::kBFloat16: {
        // MPI has no 16-bit float type: reduce a float32 copy, round once at the end.
        at::Tensor wide = t.to(at::kFloat);
        allreduce_raw(wide.data_ptr(), wide.numel(), MPI_FLOAT, sizeof(float));
        t.copy_(wide);
        break;
      }
      default:
        throw std::invalid_argument(fmt::format(
            "allreduce_sum (MPI, rank {} of {}): expected a float32, float64, float16 or "
            "bfloat16 tensor, got {}",
            rank_, size_, c10::toString(t.scalar_type())));
    }
  }

  void broadcast(at::Tensor& t, int root) override {
    require_cpu_contiguous(t, "broadcast");
    check_root(root);
    auto* bytes = static_cast<char*>(t.data_ptr());
    std::int64_t left = t.numel() * static_cast<std::int64_t>(t.element_size());
    while (left > 0) {
      const int n = static_cast<int>(std::min(left, kMaxChunk));
      check_mpi(MPI_Bcast(bytes, n, MPI_BYTE, root, comm_.get()),
                fmt::format("MPI_Bcast from root rank {}", root), rank_);
      bytes += n;
      left -= n;
    }
  }

  void barrier() override { check_mpi(MPI_Barrier(comm_.get()), "MPI_Barrier", rank_); }

  std::vector<std::string> allgather(const std::string& bytes) override {
    if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
      throw std::invalid_argument(fmt::format(
          "allgather (rank {}): {} bytes exceed the MPI count limit", rank_, bytes.size()));
    }
    const int mine = static_cast<int>(bytes.size());
    std::vector<int> counts(static_cast<std::size_t>(size_));
    check_mpi(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_.get()),
              "MPI_Allgather of byte counts", rank_);
    std::vector<int> displs(counts.size(), 0);
    std::int64_t total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      if (total > INT_MAX) {
        throw std::runtime_error(fmt::format(
            "allgather (rank {}): total size exceeds the MPI count limit", rank_));
      }
      displs[r] = static_cast<int>(total);
      total += counts[r];
    }
    std::string all(static_cast<std::size_t>(total), '\0');
    check_mpi(MPI_Allgatherv(bytes.data(), mine, MPI_BYTE, all.data(), counts.data(),
                             displs.data(), MPI_BYTE, comm_.get()),
              "MPI_Allgatherv", rank_);
    std::vector<std::string> out;
    out.reserve(counts.size());
    for (std::size_t r = 0; r < counts.size(); ++r) {
      out.push_back(all.substr(static_cast<std::size_t>(displs[r]),
                               static_cast<std::size_t>(counts[r])));
    }
    return out;
  }

 private:
  void require_cpu_contiguous(const at::Tensor& t, const char* op) const {
    if (!t.defined()) {
      throw std::invalid_argument(
          fmt::format("{} (MPI, rank {} of {}): the tensor is undefined", op, rank_, size_));
    }
    if (!t.device().is_cpu()) {
      throw std::invalid_argument(fmt::format(
          "{} (MPI, rank {} of {}): expected a CPU tensor, got one on {}; use the NCCL "
          "communicator for GPU tensors",
          op, rank_, size_, t.device().str()));
    }
    if (!t.is_contiguous()) {
      throw std::invalid_argument(fmt::format(
          "{} (MPI, rank {} of {}): expected a contiguous tensor, got sizes {} strides {}", op,
          rank_, size_, fmt::join(t.sizes(), "x"), fmt::join(t.strides(), ",")));
    }
  }

  void check_root(int root) const {
    if (root < 0 || root >= size_) {
      throw std::invalid_argument(fmt::format(
          "broadcast (MPI, rank {}): root {} is outside the group (expected 0..{})", rank_, root,
          size_ - 1));
    }
  }

  void allreduce_raw(void* data, std::int64_t count, MPI_Datatype type, std::size_t elem) {
    auto* p = static_cast<char*>(data);
    while (count > 0) {
      const int n = static_cast<int>(std::min(count, kMaxChunk));
      check_mpi(MPI_Allreduce(MPI_IN_PLACE, p, n, type, MPI_SUM, comm_.get()),
                fmt::format("MPI_Allreduce of {} elements over {} ranks", n, size_), rank_);
      p += static_cast<std::size_t>(n) * elem;
      count -= n;
    }
  }

  MpiComm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(MpiComm comm,
                                                    const CommunicatorOptions& options) {
  return std::make_unique<MpiCommunicator>(std::move(comm), options);
}

}  // namespace mammosweep::cluster
