// worker/cuda_device.h: a rank's own CUDA stream and its memory share of a device shared by
// several ranks (resources.gpus = 1/n). The share check runs everywhere; the CUDA behaviour
// needs a GPU and skips with its reason elsewhere. Only device-generic torch headers are
// used, so this file builds against a LibTorch without CUDA too.
#include "worker/cuda_device.h"

#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace mammosweep::worker {
namespace {

TEST(CudaDevice, SharesOutsideZeroToOneAreRejectedBeforeAnyDeviceWork) {
  for (double bad : {0.0, -0.25, 1.5, std::nan("")}) {
    EXPECT_THROW(enter_cuda_device(0, bad), std::invalid_argument) << bad;
  }
  EXPECT_NO_THROW(check_gpu_share(0.25));
  EXPECT_NO_THROW(check_gpu_share(1.0));
}

TEST(CudaDevice, OwnStreamWhileTheScopeLives) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: CUDA streams need a GPU";
  const c10::impl::VirtualGuardImpl cuda(c10::DeviceType::CUDA);
  const c10::Device d(c10::DeviceType::CUDA, 0);
  const c10::Stream before = cuda.getStream(d);
  {
    auto scope = enter_cuda_device(0, 1.0);
    EXPECT_NE(cuda.getStream(d), cuda.getDefaultStream(d));
    // Work issued in the scope runs on that stream and gives the right answer.
    auto x = torch::arange(1000, torch::TensorOptions().device(d));
    EXPECT_EQ(x.sum().item<long>(), 999L * 1000 / 2);
  }
  EXPECT_EQ(cuda.getStream(d), before);
}

// A 16 GiB tensor: over a 1/64 share of any GPU below 1 TiB, within a whole H200 (141 GB).
TEST(CudaDevice, AShareCapsTheMemoryThisProcessMayHold) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: memory caps need a GPU";
  const auto on_gpu = torch::TensorOptions().device(torch::kCUDA, 0).dtype(torch::kFloat);
  const long sixteen_gib = 4L << 30;  // float elements
  {
    auto scope = enter_cuda_device(0, 1.0 / 64);
    EXPECT_NO_THROW(torch::empty({1L << 20}, on_gpu));  // 4 MiB fits any share
    EXPECT_THROW(torch::empty({sixteen_gib}, on_gpu), c10::OutOfMemoryError);
  }
  // The cap ends with the scope.
  EXPECT_NO_THROW(torch::empty({sixteen_gib}, on_gpu));
}

}  // namespace
}  // namespace mammosweep::worker
