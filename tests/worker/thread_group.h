#pragma once
// Threads as ranks: an in-memory worker::GradientGroup for tests. run_ranks(n, body) starts n
// std::threads, each with its own ThreadGroup member of rank 0..n-1; the members' collectives
// meet at a shared barrier, so a test exercises sync_group and a data-parallel train_trial
// under plain ctest, without mpirun.
//
// Every collective is two barrier phases: each member publishes its contribution in its own
// slot, waits for all, computes its result from every slot (in rank order, so all members
// get the same numbers), waits again (nobody reuses a slot before all have read it), then
// writes its result. As with MPI, a member that never enters a collective blocks the others.
#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "worker/trainer.h"

namespace mammosweep::test {

/// What the members of one group share.
class ThreadGroupHub {
 public:
  explicit ThreadGroupHub(int size) : size_(size), bytes_(size), tensors_(size) {}
  int size() const { return size_; }

  /// Blocks until all `size` members have called it (reusable).
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      all_arrived_.notify_all();
    } else {
      all_arrived_.wait(lock, [&] { return generation_ != generation; });
    }
  }

  std::vector<std::string>& bytes() { return bytes_; }
  std::vector<std::vector<torch::Tensor>>& tensors() { return tensors_; }

 private:
  const int size_;
  std::mutex mutex_;
  std::condition_variable all_arrived_;
  int arrived_ = 0;
  std::uint64_t generation_ = 0;
  std::vector<std::string> bytes_;                  // one slot per rank
  std::vector<std::vector<torch::Tensor>> tensors_;  // one slot per rank
};

/// One member's view of the group.
class ThreadGroup : public worker::GradientGroup {
 public:
  ThreadGroup(std::shared_ptr<ThreadGroupHub> hub, int rank) : hub_(std::move(hub)), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return hub_->size(); }

  void allreduce_mean(std::vector<torch::Tensor>& tensors) override {
    torch::NoGradGuard no_grad;
    hub_->tensors()[rank_] = tensors;
    hub_->barrier();
    std::vector<torch::Tensor> mean;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      torch::Tensor sum = hub_->tensors()[0].at(i).clone();
      for (int r = 1; r < size(); ++r) sum += hub_->tensors()[r].at(i);
      mean.push_back(sum / size());
    }
    hub_->barrier();
    for (std::size_t i = 0; i < tensors.size(); ++i) tensors[i].copy_(mean[i]);
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    torch::NoGradGuard no_grad;
    hub_->tensors()[rank_] = {tensor};
    hub_->barrier();
    torch::Tensor from_root = hub_->tensors()[root].at(0).clone();
    hub_->barrier();
    if (rank_ != root) tensor.copy_(from_root);
  }

  std::vector<std::string> allgather_bytes(const std::string& bytes) override {
    hub_->bytes()[rank_] = bytes;
    hub_->barrier();
    std::vector<std::string> all = hub_->bytes();
    hub_->barrier();
    return all;
  }

 private:
  std::shared_ptr<ThreadGroupHub> hub_;
  int rank_;
};

/// Runs body(member) for every rank of a `size`-member group, one thread per rank, and
/// returns what each rank threw (null: returned normally), in rank order.
inline std::vector<std::exception_ptr> run_ranks(
    int size, const std::function<void(worker::GradientGroup&)>& body) {
  auto hub = std::make_shared<ThreadGroupHub>(size);
  std::vector<std::exception_ptr> thrown(size);
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      ThreadGroup member(hub, r);
      try {
        body(member);
      } catch (...) {
        thrown[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  return thrown;
}

}  // namespace mammosweep::test
