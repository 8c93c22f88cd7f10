// The optimizer state of a checkpoint (worker/optimizer_state.h): for each optimizer the
// trainer builds, a run restored from the named tensors after k steps takes the next steps
// exactly as the uninterrupted run does; malformed state is refused naming the tensor.
#include "worker/optimizer_state.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>

#include "worker/optimizer.h"

namespace mammosweep::worker {
namespace {

// Two parameters (one 4-d, stored channels_last as the trainer stores convolutions) and
// the same gradient sequence for every run.
struct Model {
  torch::Tensor conv = torch::randn({3, 2, 2, 2}).contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_();
  torch::Tensor bias = torch::randn({3}).requires_grad_();
  ParameterNames names() const {
    return {{conv.unsafeGetTensorImpl(), "conv.weight"}, {bias.unsafeGetTensorImpl(), "bias"}};
  }
};

void step(torch::optim::Optimizer& opt, Model& m, int k) {
  opt.zero_grad();
  torch::manual_seed(100 + k);
  const torch::Tensor x = torch::randn({3});
  ((m.conv.sum({1, 2, 3}) * x).pow(2).sum() + (m.bias * x).sum()).backward();
  opt.step();
}

sweeps::TrainingParams params(const std::string& name) {
  sweeps::TrainingParams p;
  p.optimizer = name;
  p.lr = 0.01;
  p.weight_decay = 1e-3;
  p.momentum = 0.9;  // sgd keeps a momentum buffer
  p.nesterov = true;
  return p;
}

std::map<std::string, torch::Tensor> cloned(const NamedTensors& tensors) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : tensors) out.emplace(name, t.clone());
  return out;
}

TEST(OptimizerState, ARestoredOptimizerTakesTheSameStepsAsTheUninterruptedOne) {
  const std::map<std::string, std::vector<std::string>> fields = {
      {"adam", {"step", "exp_avg", "exp_avg_sq"}},
      {"adamw", {"step", "exp_avg", "exp_avg_sq"}},
      {"rmsprop", {"step", "square_avg"}},
      {"sgd", {"momentum_buffer"}}};
  for (const auto& [name, expected_fields] : fields) {
    SCOPED_TRACE(name);
    torch::manual_seed(7);
    Model straight;
    Model resumed;
    {
      torch::NoGradGuard no_grad;
      resumed.conv.copy_(straight.conv);
      resumed.bias.copy_(straight.bias);
    }
    auto a = make_optimizer({straight.conv, straight.bias}, params(name));
    for (int k = 0; k < 3; ++k) step(*a, straight, k);
    // What a checkpoint stores after three steps.
    const NamedTensors state = optimizer_state_tensors(*a, straight.names());
    std::vector<std::string> names;
    for (const auto& [n, t] : state) names.push_back(n);
    std::vector<std::string> want;
    for (const char* param : {"conv.weight", "bias"}) {
      for (const auto& f : expected_fields) want.push_back(std::string(param) + "." + f);
    }
    EXPECT_EQ(names, want);
    for (const auto& [n, t] : state) {
      if (n.size() > 5 && n.compare(n.size() - 5, 5, ".step") == 0) {
        EXPECT_EQ(t.item<std::int64_t>(), 3) << n;  // three steps taken
      }
    }
    // The resumed run: the parameters as they were after three steps, a fresh optimizer.
    {
      torch::NoGradGuard no_grad;
      resumed.conv.copy_(straight.conv);
      resumed.bias.copy_(straight.bias);
    }
    auto b = make_optimizer({resumed.conv, resumed.bias}, params(name));
    load_optimizer_state(*b, resumed.names(), cloned(state));
    for (int k = 3; k < 6; ++k) {
      step(*a, straight, k);
      step(*b, resumed, k);
    }
    EXPECT_TRUE(torch::equal(straight.conv, resumed.conv));
    EXPECT_TRUE(torch::equal(straight.bias, resumed.bias));
    // Without the state the same steps end elsewhere: the comparison above can fail.
    Model fresh;
    {
      torch::NoGradGuard no_grad;
      fresh.conv.copy_(resumed.conv);
      fresh.bias.copy_(resumed.bias);
    }
    auto c = make_optimizer({fresh.conv, fresh.bias}, params(name));
    auto d = make_optimizer({resumed.conv, resumed.bias}, params(name));
    load_optimizer_state(*d, resumed.names(), cloned(optimizer_state_tensors(*b, resumed.names())));
    step(*c, fresh, 9);
    step(*d, resumed, 9);
    EXPECT_FALSE(torch::equal(fresh.conv, resumed.conv));
  }
}

TEST(OptimizerState, NoStepTakenMeansNoTensors) {
  Model m;
  auto opt = make_optimizer({m.conv, m.bias}, params("adam"));
  EXPECT_TRUE(optimizer_state_tensors(*opt, m.names()).empty());
  load_optimizer_state(*opt, m.names(), {});  // and loading nothing leaves no state
  EXPECT_TRUE(opt->state().empty());
}

TEST(OptimizerState, MalformedStateIsRefusedNamingTheTensor) {
  Model m;
  auto opt = make_optimizer({m.conv, m.bias}, params("adam"));
  step(*opt, m, 0);
  const std::map<std::string, torch::Tensor> good = cloned(optimizer_state_tensors(*opt, m.names()));
  auto expect_error = [&](std::map<std::string, torch::Tensor> state, const std::string& needle) {
    auto fresh = make_optimizer({m.conv, m.bias}, params("adam"));
    try {
      load_optimizer_state(*fresh, m.names(), state);
      ADD_FAILURE() << "accepted; expected an error with " << needle;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_TRUE(fresh->state().empty()) << "a refused state must leave the optimizer as it was";
  };
  auto wrong_shape = good;
  wrong_shape["bias.exp_avg"] = torch::zeros({4});
  expect_error(wrong_shape, "'bias.exp_avg' is Float [4], its parameter is Float [3]");
  auto wrong_dtype = good;
  wrong_dtype["bias.exp_avg_sq"] = torch::zeros({3}, torch::kFloat64);
  expect_error(wrong_dtype, "'bias.exp_avg_sq' is Double [3]");
  auto stranger = good;
  stranger["head.weight.exp_avg"] = torch::zeros({3});
  expect_error(stranger, "'head.weight.exp_avg' is no state");
  auto missing = good;
  missing.erase("conv.weight.exp_avg_sq");
  expect_error(missing, "'conv.weight' has no exp_avg_sq");
  auto no_step = good;
  no_step.erase("bias.step");
  expect_error(no_step, "'bias' has no step");
  auto bad_step = good;
  bad_step["bias.step"] = torch::zeros({2}, torch::kInt64);
  expect_error(bad_step, "'bias.step' must be one int64");
}

}  // namespace
}  // namespace mammosweep::worker
