// Allreduce bandwidth of the gradient communicator.
//
//   mpirun -np 2 build/bench/allreduce [--floats 25000000] [--iters 10] [--backend mpi|nccl]
//
// Prints, on rank 0, one JSON line: the median time of one in-place allreduce_sum of a float32 buffer and
// two bandwidths (the nccl-tests conventions):
//   algbw = bytes / time                     (what the caller sees)
//   busbw = algbw * 2 (n - 1) / n            (per-link traffic of a ring; comparable across n)
// 25M floats (100 MB) is about one ResNet50 gradient.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "cluster/communicator.h"
#include "cluster/mpi.h"

namespace {

struct BenchOptions {
  std::int64_t floats = 25'000'000;
  int iters = 10;
  int warmup = 2;
  std::string backend = "mpi";
};

}  // namespace

int main(int argc, char** argv) {
  namespace cl = mammosweep::cluster;
  try {
    cl::MpiSession session(&argc, &argv);
    BenchOptions o;
    CLI::App app{"Allreduce bandwidth of the gradient communicator (run under mpirun)"};
    app.add_option("--floats", o.floats, "float32 elements in the buffer")->capture_default_str();
    app.add_option("--iters", o.iters, "Timed allreduces")
        ->capture_default_str()->check(CLI::PositiveNumber);
    app.add_option("--backend", o.backend, "Communicator backend")
        ->capture_default_str()->check(CLI::IsMember({"mpi", "nccl"}));
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    at::set_num_threads(1);
    std::unique_ptr<cl::Communicator> comm;
    at::TensorOptions where = at::TensorOptions().dtype(at::kFloat);
    if (o.backend == "nccl") {
      comm = cl::make_nccl_communicator(session.world(), session.local_rank());
      where = where.device(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(session.local_rank())));
    } else {
      comm = cl::make_mpi_communicator(session.world().dup());
    }
    at::Tensor buffer = at::ones({o.floats}, where);
    std::vector<double> seconds;
    for (int i = 0; i < o.warmup + o.iters; ++i) {
      comm->barrier();
      const auto t0 = std::chrono::steady_clock::now();
      comm->allreduce_sum(buffer);
      comm->barrier();  // for NCCL: waits for the stream
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      if (i >= o.warmup) seconds.push_back(dt.count());
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    const double bytes = static_cast<double>(o.floats) * sizeof(float);
    const int n = comm->size();
    const double algbw = bytes / median / 1e9;
    const double busbw = algbw * 2.0 * (n - 1) / std::max(n, 1);
    if (comm->rank() == 0) {
      nlohmann::ordered_json j = {{"bench", "allreduce"},     {"backend", comm->backend()},
                                  {"ranks", n},               {"floats", o.floats},
                                  {"bytes", bytes},           {"iters", o.iters},
                                  {"median_s", median},       {"min_s", seconds.front()},
                                  {"algbw_gbs", algbw},       {"busbw_gbs", busbw}};
      std::printf("%s\n", j.dump().c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allreduce bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
