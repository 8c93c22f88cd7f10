// NCCL communicator. Without NCCL in the build, the factory must fail with a clear message;
// without a CUDA device the GPU checks are skipped (they run on GPU machines, one device per
// node-local rank).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <string>

#include "cluster/communicator.h"
#include "tests/cluster/mpi_environment.h"

namespace mammosweep::cluster {
namespace {

using testing::session;

TEST(Nccl, FactoryWithoutNcclExplainsWhy) {
  if (nccl_available()) GTEST_SKIP() << "this build has NCCL";
  MpiComm group = session().world().dup();
  try {
    make_nccl_communicator(group, 0);
    ADD_FAILURE() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no NCCL backend"), std::string::npos) << e.what();
  }
}

TEST(Nccl, SumMeanAndBroadcastOnCuda) {
  if (!nccl_available()) GTEST_SKIP() << "this build has no NCCL backend";
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: NCCL tests need a GPU";
  const int devices = static_cast<int>(torch::cuda::device_count());
  if (session().local_size() > devices) {
    GTEST_SKIP() << session().local_size() << " ranks on this node but " << devices
                 << " CUDA devices: NCCL needs one device per rank";
  }
  const int device = session().local_rank();
  auto comm = make_nccl_communicator(session().world(), device);
  const int S = comm->size();
  const int me = comm->rank();
  EXPECT_STREQ(comm->backend(), "nccl");
  const auto cuda = at::TensorOptions().device(at::Device(at::kCUDA, device));

  // Sum: rank r contributes (r + 1) * [1, 2, ..., n]; total = S(S+1)/2 * [1..n].
  at::Tensor t = (at::arange(1, 1001, at::kFloat) * (me + 1)).to(cuda.device());
  comm->allreduce_sum(t);
  const at::Tensor want = at::arange(1, 1001, at::kFloat) * static_cast<float>(S * (S + 1) / 2);
  EXPECT_TRUE(at::equal(t.cpu(), want));

  // Mean over buckets, float32 and bf16 (small integers: exact in bf16).
  CommunicatorOptions options;
  options.buckets.bucket_bytes = 1024;
  auto bucketed = make_nccl_communicator(session().world(), device, options);
  std::vector<at::Tensor> grads = {at::full({700}, static_cast<float>(2 * (me + 1)), cuda),
                                   at::full({9, 9}, static_cast<float>(me + 1), cuda)
                                       .to(at::kBFloat16)};
  bucketed->allreduce_mean(grads);
  EXPECT_TRUE(at::equal(grads[0].cpu(), at::full({700}, static_cast<float>(S + 1))));
  EXPECT_TRUE(at::allclose(grads[1].to(at::kFloat).cpu(),
                           at::full({9, 9}, static_cast<float>(S + 1) / 2.0f), 1.0 / 128, 0));

  at::Tensor b = at::full({5}, static_cast<float>(me), cuda);
  comm->broadcast(b, S - 1);
  EXPECT_TRUE(at::equal(b.cpu(), at::full({5}, static_cast<float>(S - 1))));

  const auto all = comm->allgather(std::to_string(me));
  ASSERT_EQ(static_cast<int>(all.size()), S);
  for (int q = 0; q < S; ++q) EXPECT_EQ(all[static_cast<std::size_t>(q)], std::to_string(q));
  comm->barrier();

  at::Tensor cpu_tensor = at::ones({2});
  EXPECT_THROW(comm->allreduce_sum(cpu_tensor), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::cluster
