// MPI communicator: allreduce_sum / allreduce_mean (with buckets), broadcast, allgather.
// Runs with any world size (1 under plain ctest, 2/3/4 under multirank.test.sh). Every rank
// fills values from its rank; expected results are computed in closed form. Values are small
// integers so every summation order gives the same float, and bucket sizes can be compared
// exactly.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/communicator.h"
#include "tests/cluster/mpi_environment.h"

namespace mammosweep::cluster {
namespace {

using testing::session;

// Value of element j of tensor i on rank r.
float value(int r, int i, std::int64_t j) {
  return static_cast<float>((r + 1) * ((j % 7) + 1) + i);
}
// Sum of value(r, i, j) over ranks 0..S-1: ((j%7)+1) * S(S+1)/2 + i*S.
float expected_sum(int S, int i, std::int64_t j) {
  return static_cast<float>(((j % 7) + 1) * S * (S + 1) / 2 + i * S);
}

at::Tensor filled(int r, int i, at::IntArrayRef shape, at::ScalarType dtype = at::kFloat) {
  at::Tensor t = at::empty(shape, at::kFloat);
  float* p = t.data_ptr<float>();
  for (std::int64_t j = 0; j < t.numel(); ++j) p[j] = value(r, i, j);
  return t.to(dtype);
}

// Mismatching elements of `t` (read in flat row-major order) against expected_sum / divisor.
std::int64_t mismatches(const at::Tensor& t, int S, int i, float divisor) {
  at::Tensor f = t.to(at::kFloat).contiguous();
  const float* p = f.data_ptr<float>();
  std::int64_t bad = 0;
  for (std::int64_t j = 0; j < f.numel(); ++j) {
    float want = expected_sum(S, i, j) / divisor;
    if (t.scalar_type() == at::kBFloat16) want = at::BFloat16(want);  // rounded like the tensor
    if (p[j] != want) ++bad;
  }
  return bad;
}

std::unique_ptr<Communicator> world_comm(std::size_t bucket_bytes = 25u << 20) {
  CommunicatorOptions options;
  options.buckets.bucket_bytes = bucket_bytes;
  return make_mpi_communicator(session().world().dup(), options);
}

TEST(Allreduce, SumFloatDoubleBFloat16) {
  auto comm = world_comm();
  const int S = comm->size();
  EXPECT_EQ(comm->rank(), session().rank());
  EXPECT_EQ(S, session().size());
  EXPECT_STREQ(comm->backend(), "mpi");
  for (auto dtype : {at::kFloat, at::kDouble, at::kBFloat16, at::kHalf}) {
    at::Tensor t = filled(comm->rank(), 3, {10, 101}, dtype);
    comm->allreduce_sum(t);
    EXPECT_EQ(t.scalar_type(), dtype);
    EXPECT_EQ(mismatches(t, S, 3, 1.0f), 0) << "dtype " << dtype;
  }
}

TEST(Allreduce, MeanOfMixedSizesMatchesClosedForm) {
  const std::vector<std::vector<std::int64_t>> shapes = {
      {1}, {7}, {3, 333}, {300000}, {33}, {64, 3, 3, 3}, {5000}, {2}};
  for (std::size_t bucket_bytes : {std::size_t{1024}, std::size_t{25u << 20}}) {
    auto comm = world_comm(bucket_bytes);
    const int S = comm->size();
    std::vector<at::Tensor> grads;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      grads.push_back(filled(comm->rank(), static_cast<int>(i), shapes[i]));
    }
    comm->allreduce_mean(grads);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      EXPECT_EQ(grads[i].sizes(), at::IntArrayRef(shapes[i]));
      EXPECT_EQ(mismatches(grads[i], S, static_cast<int>(i), static_cast<float>(S)), 0)
          << "tensor " << i << ", bucket " << bucket_bytes << " bytes";
    }
  }
}

TEST(Allreduce, BucketSizeDoesNotChangeTheResult) {
  // Same input reduced with 1 KB buckets (many allreduces) and 25 MB buckets (one).
  const std::vector<std::int64_t> sizes = {5, 256, 1000, 77, 40000, 3};
  std::vector<std::vector<at::Tensor>> results;
  for (std::size_t bucket_bytes : {std::size_t{1024}, std::size_t{25u << 20}}) {
    auto comm = world_comm(bucket_bytes);
    std::vector<at::Tensor> grads;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      // Quarter steps: sums stay exact in any reduction order (MPI may pick another
      // algorithm for small and large messages), means are rounded by one division.
      grads.push_back(filled(comm->rank(), static_cast<int>(i), {sizes[i]}) * 0.25f);
    }
    comm->allreduce_mean(grads);
    results.push_back(grads);
  }
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_TRUE(at::equal(results[0][i], results[1][i])) << "tensor " << i;
  }
}

TEST(Allreduce, MeanHandlesNonContiguousAndMixedDtypes) {
  auto comm = world_comm(4096);
  const int S = comm->size();
  at::Tensor base = filled(comm->rank(), 0, {40, 30});
  std::vector<at::Tensor> grads = {base.t(),  // non-contiguous view: written back in place
                                   filled(comm->rank(), 1, {100}, at::kBFloat16),
                                   filled(comm->rank(), 2, {9})};
  comm->allreduce_mean(grads);
  EXPECT_EQ(mismatches(base, S, 0, static_cast<float>(S)), 0);  // through the view
  EXPECT_EQ(grads[1].scalar_type(), at::kBFloat16);
  // bf16 mean: sum is exact, division rounded to bf16 once; allow one bf16 ulp.
  at::Tensor want = at::empty({100}, at::kFloat);
  float* w = want.data_ptr<float>();
  for (std::int64_t j = 0; j < 100; ++j) w[j] = expected_sum(S, 1, j) / static_cast<float>(S);
  EXPECT_TRUE(at::allclose(grads[1].to(at::kFloat), want, /*rtol=*/1.0 / 128, /*atol=*/0));
  EXPECT_EQ(mismatches(grads[2], S, 2, static_cast<float>(S)), 0);
}

TEST(Allreduce, PlanBucketsByHand) {
  // float32: 100 elements = 400 bytes. Cap 800 bytes.
  const auto f = [](std::int64_t n) { return at::zeros({n}, at::kFloat); };
  std::vector<at::Tensor> ts = {f(100), f(100), f(300), f(50), f(10).to(at::kDouble), f(10)};
  BucketOptions options;
  options.bucket_bytes = 800;
  const auto plan = plan_buckets(ts, options);
  // {0,1}: 800 bytes fits exactly; {2}: 1200 bytes alone; {3}: next is a double;
  // {4}: double; {5}: float again.
  ASSERT_EQ(plan.size(), 5u);
  EXPECT_EQ(plan[0].first, 0u);
  EXPECT_EQ(plan[0].count, 2u);
  EXPECT_EQ(plan[0].elements, 200);
  EXPECT_EQ(plan[1].first, 2u);
  EXPECT_EQ(plan[1].count, 1u);
  EXPECT_EQ(plan[2].first, 3u);
  EXPECT_EQ(plan[2].elements, 50);
  EXPECT_EQ(plan[3].first, 4u);
  EXPECT_EQ(plan[4].first, 5u);

  options.bucket_bytes = 25u << 20;
  EXPECT_EQ(plan_buckets({f(100), f(300000), f(5)}, options).size(), 1u);

  std::vector<at::Tensor> with_hole = {f(3), at::Tensor(), f(3)};
  try {
    plan_buckets(with_hole, options);
    ADD_FAILURE() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 1 of 3 is undefined"), std::string::npos)
        << e.what();
  }
}

TEST(Allreduce, BroadcastFromLastRank) {
  auto comm = world_comm();
  const int root = comm->size() - 1;
  at::Tensor t = filled(comm->rank(), 5, {17, 3});
  comm->broadcast(t, root);
  EXPECT_TRUE(at::equal(t, filled(root, 5, {17, 3})));

  at::Tensor ids = at::arange(10, at::kLong) * (comm->rank() + 1);
  comm->broadcast(ids, 0);
  EXPECT_TRUE(at::equal(ids, at::arange(10, at::kLong)));
}

TEST(Allreduce, AllgatherBytesOfDifferentLengths) {
  auto comm = world_comm();
  // Rank r contributes r copies of 'a'+r (rank 0 contributes nothing).
  const std::string mine(static_cast<std::size_t>(comm->rank()), static_cast<char>('a' + comm->rank()));
  const auto all = comm->allgather(mine);
  ASSERT_EQ(static_cast<int>(all.size()), comm->size());
  for (int q = 0; q < comm->size(); ++q) {
    EXPECT_EQ(all[static_cast<std::size_t>(q)],
              std::string(static_cast<std::size_t>(q), static_cast<char>('a' + q)));
  }
  comm->barrier();
}

TEST(Allreduce, RejectsBadTensorsWithClearMessages) {
  auto comm = world_comm();
  at::Tensor ints = at::ones({4}, at::kInt);
  try {
    comm->allreduce_sum(ints);
    ADD_FAILURE() << "int tensor accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("got Int"), std::string::npos) << e.what();
  }
  at::Tensor strided = at::ones({4, 4}).t();
  try {
    comm->allreduce_sum(strided);
    ADD_FAILURE() << "non-contiguous tensor accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("contiguous"), std::string::npos) << e.what();
  }
  at::Tensor t = at::ones({2});
  EXPECT_THROW(comm->broadcast(t, comm->size()), std::invalid_argument);
}

}  // namespace
}  // namespace mammosweep::cluster
