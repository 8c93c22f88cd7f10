// Data-parallel equivalence: one optimizer step on k ranks with batch b each, gradients
// averaged by the communicator, gives the same weights as one rank taking the step on the
// whole batch of k*b. BatchNorm runs in inference mode (running statistics), so batch
// statistics do not break the equivalence; every layer is trainable.
//
// Run as a singleton by ctest (k = 1: trivially equal) and under mpirun -np 2 by
// tests/orchestrator/mpi_sweep.test.sh.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cluster/communicator.h"
#include "cluster/mpi.h"
#include "worker/resnet50.h"

namespace mammosweep {
namespace {

cluster::MpiSession& session() {
  static cluster::MpiSession s;
  return s;
}

worker::ResNet50 make_model() {
  worker::ResNet50Options o;
  o.dense_units = 16;
  o.dropout = 0.0;
  o.unfrozen_fraction = 1.0;
  o.seed = 42;
  worker::ResNet50 m(o);
  m->eval();  // BN uses running statistics; autograd still flows through every layer
  return m;
}

torch::Tensor loss_on(worker::ResNet50& m, const torch::Tensor& x, const torch::Tensor& y) {
  return torch::nn::functional::cross_entropy(m->forward(x), y);
}

TEST(DataParallel, StepOnKRanksEqualsOneRankWithKTimesTheBatch) {
  torch::set_num_threads(1);
  const int k = session().size(), r = session().rank();
  const int b = 4;
  torch::manual_seed(7);  // the same global batch on every rank
  torch::Tensor x = torch::randn({k * b, 3, 32, 32});
  torch::Tensor y = torch::randint(0, 2, {k * b}, torch::kLong);

  // Reference: one rank, whole batch.
  worker::ResNet50 single = make_model();
  torch::optim::SGD sgd_single(single->parameters(), torch::optim::SGDOptions(0.1));
  loss_on(single, x, y).backward();
  sgd_single.step();

  // Data-parallel: this rank's slice, gradients averaged over the group.
  worker::ResNet50 dp = make_model();
  torch::optim::SGD sgd_dp(dp->parameters(), torch::optim::SGDOptions(0.1));
  loss_on(dp, x.slice(0, r * b, (r + 1) * b), y.slice(0, r * b, (r + 1) * b)).backward();
  std::unique_ptr<cluster::Communicator> comm = cluster::make_mpi_communicator(session().world().dup());
  std::vector<torch::Tensor> grads;
  for (auto& p : dp->parameters()) grads.push_back(p.grad());
  comm->allreduce_mean(grads);
  sgd_dp.step();

  double max_diff = 0, max_change = 0;
  auto ps = single->parameters(), pd = dp->parameters();
  auto p0 = make_model()->parameters();
  ASSERT_EQ(ps.size(), pd.size());
  for (std::size_t i = 0; i < ps.size(); ++i) {
    max_diff = std::max(max_diff, (ps[i] - pd[i]).abs().max().item<double>());
    max_change = std::max(max_change, (ps[i] - p0[i]).abs().max().item<double>());
  }
  EXPECT_LT(max_diff, 1e-5) << "on " << k << " ranks";
  EXPECT_GT(max_change, 1e-4) << "the step must actually move the weights";
}

}  // namespace
}  // namespace mammosweep
