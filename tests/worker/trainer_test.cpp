// The trainer: exact resume from checkpoints, checkpoint corruption fallback, divergence
// detection, and that it actually learns an easy two-class problem.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "io/files.h"
#include "io/hash.h"
#include "sweeps/trial.h"
#include "tests/temp_dir.h"
#include "tests/worker/recording_options.h"
#include "worker/checkpoint.h"
#include "worker/data.h"
#include "worker/image.h"
#include "worker/optimizer.h"
#include "worker/resnet50.h"
#include "worker/synth.h"
#include "worker/trainer.h"

namespace mammosweep::worker {
namespace {

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(2);
  }

  /// Synthetic mammograms (the tool's generator), prepared as a sweep would.
  PreparedData synthetic(int count, int size) {
    SynthOptions so;
    so.out = dir_.file("data");
    so.count = count;
    so.size = size;
    so.seed = 11;
    write_synthetic_dataset(so);
    return prepare(so.out, size);
  }

  PreparedData prepare(const std::string& root, int size, bool has_test = true) {
    sweeps::DataSpec spec;
    spec.root = root;
    if (!has_test) spec.test_split = "";
    spec.image_size = size;
    PrepareOptions po;
    po.cache_dir = dir_.file("cache");
    po.threads = 2;
    return prepare_data(spec, po);
  }

  static sweeps::Trial small_trial(int epochs) {
    sweeps::Trial t;
    t.params.epochs = epochs;
    t.params.batch_size = 8;
    t.params.dense_units = 16;
    t.params.dropout = 0.3;  // exercises the per-epoch dropout seeding
    t.params.unfrozen_fraction = 0.15;
    t.params.optimizer = "adam";
    t.params.lr = 1e-3;
    t.id = sweeps::trial_id(t.params);
    t.name = "small";
    t.seed = 1234;
    return t;
  }

  TrainerOptions options(const std::string& sub, std::vector<results::EpochRecord>* out) {
    return test::recording_options(dir_.file(sub), 2, out);
  }

  /// Options whose run records each epoch in `out` and is stopped (Interrupted) right after
  /// epoch `last` is reported, which leaves a full (resumable) checkpoint of it.
  TrainerOptions stopped_after(const std::string& sub, std::vector<results::EpochRecord>* out,
                               int last) {
    TrainerOptions o = options(sub, out);
    stop_ = false;
    o.on_epoch = [this, out, last](const results::EpochRecord& r, const results::Predictions&) {
      out->push_back(r);
      stop_ = r.epoch >= last;
      return EpochDecision::proceed;
    };
    o.should_stop = [this] { return stop_; };
    return o;
  }
  bool stop_ = false;

  test::TempDir dir_{"trainer_test"};
};

void expect_same_metrics(const results::SplitMetrics& a, const results::SplitMetrics& b) {
  EXPECT_NEAR(a.loss, b.loss, 1e-6);
  EXPECT_NEAR(a.accuracy, b.accuracy, 1e-6);
  EXPECT_NEAR(a.auc, b.auc, 1e-6);
  EXPECT_EQ(a.cm, b.cm);
}

/// Every parameter and buffer of the checkpoints at `a` and `b` is bitwise equal.
void expect_same_weights(const std::string& a, const std::string& b, const sweeps::Trial& trial) {
  ResNet50 ma(model_options(trial.params, trial.seed)), mb(model_options(trial.params, trial.seed));
  ASSERT_EQ(load_checkpoint_weights(a, *ma), load_checkpoint_weights(b, *mb));
  auto pb = mb->named_parameters(), bb = mb->named_buffers();
  for (const auto& p : ma->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  for (const auto& p : ma->named_buffers()) EXPECT_TRUE(torch::equal(p.value(), bb[p.key()])) << p.key();
}

// For each optimizer the trainer builds (their state is restored field by field,
// worker/optimizer_state.h): the same metrics and the same final weights, bit for bit.
TEST_F(TrainerTest, ResumeAfterOneEpochEqualsAnUninterruptedRun) {
  PreparedData data = synthetic(48, 32);
  for (const char* optimizer : {"adam", "adamw", "rmsprop", "sgd"}) {
    SCOPED_TRACE(optimizer);
    sweeps::Trial trial = small_trial(3);
    trial.params.optimizer = optimizer;
    trial.params.momentum = 0.9;  // sgd: a momentum buffer to restore
    const std::string straight_dir = std::string("straight-") + optimizer;
    const std::string resumed_dir = std::string("resumed-") + optimizer;

    std::vector<results::EpochRecord> straight;
    train_trial(trial, data, options(straight_dir, &straight));
    ASSERT_EQ(straight.size(), 3u);

    // Interrupted run: stop requested right after epoch 1 is reported.
    std::vector<results::EpochRecord> first;
    EXPECT_THROW(train_trial(trial, data, stopped_after(resumed_dir, &first, 1)), Interrupted);
    ASSERT_EQ(first.size(), 1u);
    auto ckpts = list_checkpoints(dir_.file(resumed_dir));
    ASSERT_EQ(ckpts.size(), 1u);
    EXPECT_EQ(ckpts[0].first, 1);

    std::vector<results::EpochRecord> rest;
    TrainOutcome outcome = train_trial(trial, data, options(resumed_dir, &rest));
    EXPECT_EQ(outcome.resumed_from, 1);
    ASSERT_EQ(rest.size(), 2u);
    expect_same_metrics(first[0].train, straight[0].train);
    expect_same_metrics(first[0].val, straight[0].val);
    for (int i = 0; i < 2; ++i) {
      SCOPED_TRACE("epoch " + std::to_string(i + 2));
      EXPECT_EQ(rest[i].epoch, i + 2);
      expect_same_metrics(rest[i].train, straight[i + 1].train);
      expect_same_metrics(rest[i].val, straight[i + 1].val);
    }
    expect_same_weights(checkpoint_path(dir_.file(straight_dir), 3),
                        checkpoint_path(dir_.file(resumed_dir), 3), trial);
    // Each optimizer's checkpoints go once compared: the test holds 0.5 GB, not 2 GB.
    io::remove_tree(dir_.file(straight_dir));
    io::remove_tree(dir_.file(resumed_dir));
  }
}

/// A checkpoint as version 1 wrote it (a torch archive behind "MSCKPT01" and FNV-1a), made
/// from a model and optimizer restored from `from`.
void write_v1_checkpoint(const std::string& from, const std::string& to, const sweeps::Trial& trial) {
  ResNet50 model(model_options(trial.params, trial.seed));
  auto optimizer = make_optimizer(model->trainable_parameters(), trial.params);
  std::optional<CheckpointFile> file = read_verified(from);
  ASSERT_TRUE(file.has_value());
  const CheckpointMeta meta = load_checkpoint(*file, *model, *optimizer, torch::kCPU);
  torch::serialize::OutputArchive archive;
  for (const auto& p : model->named_parameters()) archive.write("p." + p.key(), p.value());
  for (const auto& b : model->named_buffers()) archive.write("b." + b.key(), b.value(), true);
  torch::serialize::OutputArchive opt;
  optimizer->save(opt);
  archive.write("optimizer", opt);
  archive.write("epoch", c10::IValue(static_cast<std::int64_t>(meta.epoch)));
  archive.write("best_epoch", c10::IValue(static_cast<std::int64_t>(meta.best_epoch)));
  archive.write("best_metric", c10::IValue(meta.best_metric));
  archive.write("best_val_loss", c10::IValue(meta.best_val_loss));
  std::ostringstream payload;
  archive.save_to(payload);
  const std::string body = payload.str();
  std::string bytes("MSCKPT01", 8);
  const std::uint64_t n = body.size(), sum = io::fnv1a64(body.data(), n);
  bytes.append(reinterpret_cast<const char*>(&n), 8);
  bytes.append(reinterpret_cast<const char*>(&sum), 8);
  io::make_dirs(to.substr(0, to.rfind('/')));
  io::write_file_atomic(to, bytes + body);
}

// Sweeps interrupted before checkpoint format 2 resume from their version-1 files as they
// would have: the same next epoch and weights as resuming from the same state in version 2.
TEST_F(TrainerTest, AVersion1CheckpointResumesAsTheSameStateInVersion2) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(3);
  std::vector<results::EpochRecord> epochs;
  EXPECT_THROW(train_trial(trial, data, stopped_after("v2", &epochs, 2)), Interrupted);
  const std::string v1 = checkpoint_path(dir_.file("v1"), 2);
  write_v1_checkpoint(checkpoint_path(dir_.file("v2"), 2), v1, trial);
  ASSERT_EQ(io::read_file(v1).substr(0, 8), "MSCKPT01");
  expect_same_weights(v1, checkpoint_path(dir_.file("v2"), 2), trial);

  std::vector<results::EpochRecord> from_v1, from_v2;
  EXPECT_EQ(train_trial(trial, data, options("v1", &from_v1)).resumed_from, 2);
  EXPECT_EQ(train_trial(trial, data, options("v2", &from_v2)).resumed_from, 2);
  ASSERT_EQ(from_v1.size(), 1u);
  ASSERT_EQ(from_v2.size(), 1u);
  expect_same_metrics(from_v1[0].train, from_v2[0].train);
  expect_same_metrics(from_v1[0].val, from_v2[0].val);
  expect_same_weights(checkpoint_path(dir_.file("v1"), 3), checkpoint_path(dir_.file("v2"), 3), trial);

  // Retention rewrites a version-1 file as a version-2 weights-only one, same weights.
  write_v1_checkpoint(checkpoint_path(dir_.file("v2"), 2), v1, trial);
  strip_optimizer_state(v1);
  EXPECT_EQ(io::read_file(v1).substr(0, 8), "MSCKPW02");
  expect_same_weights(v1, checkpoint_path(dir_.file("v2"), 2), trial);
}

TEST_F(TrainerTest, CorruptLatestCheckpointFallsBackToThePreviousOne) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(3);
  std::vector<results::EpochRecord> epochs;
  EXPECT_THROW(train_trial(trial, data, stopped_after("run", &epochs, 2)), Interrupted);
  auto ckpts = list_checkpoints(dir_.file("run"));
  ASSERT_EQ(ckpts.size(), 2u);
  ASSERT_EQ(ckpts[0].first, 2);
  {  // Flip one byte in the middle of the newest checkpoint.
    std::fstream f(ckpts[0].second, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    char c = 0;
    f.read(&c, 1);
    f.seekp(200);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  std::vector<results::EpochRecord> more;
  TrainOutcome outcome = train_trial(trial, data, options("run", &more));
  EXPECT_EQ(outcome.resumed_from, 1) << "the corrupt epoch-2 checkpoint must be skipped";
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].epoch, 2);
  // And a truncated checkpoint cannot be loaded for export either.
  ResNet50Options mo;
  mo.dense_units = 16;
  ResNet50Impl model(mo);
  EXPECT_THROW(load_checkpoint_weights(dir_.file("run/missing.ckpt"), model), std::runtime_error);
}

// What retention does to a finished trial's kept checkpoint (worker/checkpoint.h): the same
// weights without Adam's two moments; resuming skips it (it cannot restore the optimizer).
TEST_F(TrainerTest, AWeightsOnlyCheckpointHasTheSameWeightsAndIsNotResumedFrom) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(3);
  std::vector<results::EpochRecord> epochs;
  EXPECT_THROW(train_trial(trial, data, stopped_after("strip", &epochs, 2)), Interrupted);
  const std::string path = checkpoint_path(dir_.file("strip"), 2);
  ASSERT_EQ(checkpoint_kind(path), CheckpointKind::full);
  const std::size_t before = io::read_file(path).size();
  const std::string full = dir_.file("full-epoch-2.ckpt");
  io::copy_file(path, full);

  strip_optimizer_state(path);
  EXPECT_EQ(checkpoint_kind(path), CheckpointKind::weights_only);
  const std::string stripped = io::read_file(path);
  // Adam keeps two float32 tensors per trainable parameter tensor.
  ResNet50 model(model_options(trial.params, trial.seed));
  const auto trainable = model->trainable_summary().trainable_parameters;
  EXPECT_GE(before - stripped.size(), static_cast<std::size_t>(8 * trainable))
      << "before " << before << " after " << stripped.size();
  expect_same_weights(full, path, trial);

  strip_optimizer_state(path);  // already weights only: untouched
  EXPECT_EQ(io::read_file(path), stripped);

  std::vector<results::EpochRecord> more;
  TrainOutcome outcome = train_trial(trial, data, options("strip", &more));
  EXPECT_EQ(outcome.resumed_from, 1) << "a weights-only checkpoint cannot be resumed from";
}

// The last epoch of the schedule is checkpointed weights only (trainer.h): no epoch trains
// after it. A sweep killed after that checkpoint but before it recorded the trial's end
// resumes from it and trains nothing: the same outcome, no epoch trained again.
TEST_F(TrainerTest, TheLastEpochIsCheckpointedWeightsOnlyAndResumingFromItTrainsNothing) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(2);
  std::vector<results::EpochRecord> epochs;
  const TrainOutcome first = train_trial(trial, data, options("last", &epochs));
  ASSERT_EQ(epochs.size(), 2u);
  const std::string last = checkpoint_path(dir_.file("last"), 2);
  const std::string before_last = checkpoint_path(dir_.file("last"), 1);
  EXPECT_EQ(checkpoint_kind(before_last), CheckpointKind::full);
  EXPECT_EQ(checkpoint_kind(last), CheckpointKind::weights_only);
  ResNet50 model(model_options(trial.params, trial.seed));
  const auto trainable = model->trainable_summary().trainable_parameters;
  EXPECT_GE(io::read_file(before_last).size() - io::read_file(last).size(),
            static_cast<std::size_t>(8 * trainable))
      << "Adam's two moments are not in the last epoch's checkpoint";
  EXPECT_EQ(load_checkpoint_weights(last, *model), 2);

  const std::string bytes = io::read_file(last);
  std::vector<results::EpochRecord> again;
  const TrainOutcome resumed = train_trial(trial, data, options("last", &again));
  EXPECT_TRUE(again.empty()) << "epoch " << again.front().epoch << " was trained again";
  EXPECT_EQ(resumed.resumed_from, 2);
  EXPECT_EQ(resumed.epochs_completed, 2);
  EXPECT_EQ(resumed.best_epoch, first.best_epoch);
  EXPECT_EQ(resumed.best_metric, first.best_metric);
  EXPECT_EQ(io::read_file(last), bytes);
}

// Validation computes the frozen prefix once per trial (TrainerOptions::val_prefix_cache_bytes):
// the same val metrics and predictions, bit for bit, as computing the whole model each epoch,
// with the whole val set kept, with part of it (a cap of about one batch: 8 images of
// 512 x 4 x 4 floats, 256 KiB), and with none (a cap below one batch: split, not kept).
TEST_F(TrainerTest, KeepingTheFrozenPrefixOfValidationChangesNoNumber) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(2);
  trial.params.unfrozen_fraction = 0.5;  // the first 8 units frozen
  struct Run {
    std::vector<results::EpochRecord> epochs;
    std::vector<results::Predictions> predictions;
  };
  auto run = [&](const std::string& sub, std::int64_t cap) {
    Run r;
    TrainerOptions o = options(sub, &r.epochs);
    o.val_prefix_cache_bytes = cap;
    o.on_epoch = [&r](const results::EpochRecord& e, const results::Predictions& p) {
      r.epochs.push_back(e);
      r.predictions.push_back(p);
      return EpochDecision::proceed;
    };
    train_trial(trial, data, o);
    return r;
  };
  const Run off = run("off", 0), all = run("all", std::int64_t{1} << 30),
            part = run("part", 300000), none = run("none", 1);
  for (const Run* r : {&all, &part, &none}) {
    ASSERT_EQ(r->epochs.size(), off.epochs.size());
    for (std::size_t e = 0; e < off.epochs.size(); ++e) {
      SCOPED_TRACE("epoch " + std::to_string(e + 1));
      EXPECT_EQ(r->epochs[e].val.loss, off.epochs[e].val.loss);
      EXPECT_EQ(r->epochs[e].val.auc, off.epochs[e].val.auc);
      EXPECT_EQ(r->epochs[e].train.loss, off.epochs[e].train.loss);
      EXPECT_EQ(r->predictions[e].scores, off.predictions[e].scores);
      EXPECT_EQ(r->predictions[e].labels, off.predictions[e].labels);
    }
  }
}

TEST_F(TrainerTest, DivergenceIsATrialFailure) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(1);
  trial.params.optimizer = "sgd";
  trial.params.lr = 1e12;
  trial.params.unfrozen_fraction = 1.0;
  std::vector<results::EpochRecord> epochs;
  try {
    train_trial(trial, data, options("diverge", &epochs));
    FAIL() << "expected divergence";
  } catch (const TrialFailure& e) {
    EXPECT_EQ(e.kind(), results::FailureKind::diverged);
    EXPECT_NE(std::string(e.what()).find("training loss became"), std::string::npos) << e.what();
  }
}

// Checkpoints are written in the background; a failed write still fails the trial, before
// the next epoch is reported (so at most the last reported epoch lacks a checkpoint).
TEST_F(TrainerTest, AFailedCheckpointWriteFailsTheTrialBeforeTheNextReport) {
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(3);
  // A non-empty folder where epoch 1's checkpoint goes: the rename onto it fails.
  io::make_dirs(dir_.file("ckfail/epoch-0001.ckpt/x"));
  std::vector<results::EpochRecord> epochs;
  try {
    train_trial(trial, data, options("ckfail", &epochs));
    FAIL() << "expected the checkpoint write to fail";
  } catch (const TrialFailure& e) {
    EXPECT_NE(std::string(e.what()).find("epoch-0001.ckpt"), std::string::npos) << e.what();
  }
  ASSERT_EQ(epochs.size(), 1u) << "epoch 2 was reported without epoch 1's checkpoint";
}

TEST_F(TrainerTest, LearnsAnEasyTwoClassProblem) {
  // Easy set: class 1 has a bright square at a random place, class 0 only noise.
  const int size = 32;
  std::mt19937 rng(5);
  for (const char* split : {"train", "valid"}) {
    int n = std::string(split) == "train" ? 96 : 40;
    for (int label = 0; label < 2; ++label) {
      std::string folder = dir_.file(std::string("easy/") + split + "/" + std::to_string(label));
      io::make_dirs(folder);
      for (int i = 0; i < n / 2; ++i) {
        std::vector<std::uint8_t> px(size * size);
        for (auto& p : px) p = static_cast<std::uint8_t>(rng() % 60);
        if (label == 1) {
          int x0 = static_cast<int>(rng() % (size - 10)), y0 = static_cast<int>(rng() % (size - 10));
          for (int y = y0; y < y0 + 10; ++y)
            for (int x = x0; x < x0 + 10; ++x) px[y * size + x] = 230;
        }
        write_png(folder + "/" + std::to_string(i) + ".png", size, size, 1, 8, px.data());
      }
    }
  }
  PreparedData data = prepare(dir_.file("easy"), size, /*has_test=*/false);
  sweeps::Trial trial = small_trial(4);
  trial.params.unfrozen_fraction = 1.0;
  trial.params.batch_size = 16;
  trial.params.augmentation = sweeps::Augmentation{};
  std::vector<results::EpochRecord> epochs;
  train_trial(trial, data, options("easy", &epochs));
  ASSERT_EQ(epochs.size(), 4u);
  EXPECT_GE(epochs.back().val.accuracy, 0.9) << "val accuracy per epoch: " << epochs[0].val.accuracy
                                             << " " << epochs[1].val.accuracy << " "
                                             << epochs[2].val.accuracy;
  EXPECT_GT(epochs.back().val.auc, 0.95);
}

// "Easy enough that ResNet50 learns it in a few epochs at 64-128 px": the synth generator's
// output at 64 px, trained from random weights (no ImageNet weights here).
TEST_F(TrainerTest, LearnsTheSyntheticMammogramsInAFewEpochs) {
  PreparedData data = synthetic(400, 64);
  sweeps::Trial trial = small_trial(5);
  trial.params.unfrozen_fraction = 1.0;
  trial.params.batch_size = 16;
  trial.params.dense_units = 64;
  trial.params.dropout = 0.2;
  std::vector<results::EpochRecord> epochs;
  train_trial(trial, data, options("synth", &epochs));
  ASSERT_EQ(epochs.size(), 5u);
  std::string aucs;
  double best = 0;
  for (const auto& e : epochs) {
    aucs += " " + std::to_string(e.val.auc);
    best = std::max(best, e.val.auc);
  }
  std::cout << "val AUC per epoch:" << aucs << "\n";
  EXPECT_GE(best, 0.85) << "val AUC per epoch:" << aucs;
}

// --- CUDA (GPU only: each test skips with its reason on a machine without CUDA) -----------

/// |a - b| <= abs + rel * |b|, printed with both values.
void expect_close(double a, double b, double abs, double rel, const char* what) {
  EXPECT_LE(std::fabs(a - b), abs + rel * std::fabs(b)) << what << ": " << a << " vs " << b;
}

// Two epochs of the same trial (same seed, same batches) on CUDA and on the CPU: the
// val metrics agree within the stated tolerance (kernels differ, so not bit for bit: loss
// within 0.02 + 2%, AUC and accuracy within 0.1 on this ~10-image val split, where one
// swapped pair moves AUC by ~0.04).
TEST_F(TrainerTest, CudaMatchesCpuWithinTolerance) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: the CUDA trainer needs a GPU";
  PreparedData data = synthetic(48, 32);
  const sweeps::Trial trial = small_trial(2);
  std::vector<results::EpochRecord> cpu, cuda;
  train_trial(trial, data, options("cpu", &cpu));
  TrainerOptions o = options("cuda", &cuda);
  o.use_cuda = true;
  train_trial(trial, data, o);
  ASSERT_EQ(cpu.size(), 2u);
  ASSERT_EQ(cuda.size(), 2u);
  for (int e = 0; e < 2; ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    expect_close(cuda[e].val.loss, cpu[e].val.loss, 0.02, 0.02, "val loss");
    expect_close(cuda[e].val.auc, cpu[e].val.auc, 0.1, 0, "val AUC");
    expect_close(cuda[e].val.accuracy, cpu[e].val.accuracy, 0.1, 0, "val accuracy");
  }
}

// bf16 AMP and channels_last on a quarter of the device (resources.gpus 0.25: own stream,
// memory capped): finite losses, and an interrupted run resumes from its checkpoint.
TEST_F(TrainerTest, CudaBf16OnAGpuShareTrainsAndResumes) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device: the CUDA trainer needs a GPU";
  PreparedData data = synthetic(48, 32);
  sweeps::Trial trial = small_trial(2);
  trial.params.precision = "bf16";
  trial.params.channels_last = true;
  std::vector<results::EpochRecord> first, rest;
  TrainerOptions o = stopped_after("share", &first, 1);
  o.use_cuda = true;
  o.gpu_share = 0.25;
  EXPECT_THROW(train_trial(trial, data, o), Interrupted);
  ASSERT_EQ(first.size(), 1u);
  TrainerOptions again = options("share", &rest);
  again.use_cuda = true;
  again.gpu_share = 0.25;
  EXPECT_EQ(train_trial(trial, data, again).resumed_from, 1);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].epoch, 2);
  for (const auto* r : {&first[0], &rest[0]}) {
    EXPECT_TRUE(std::isfinite(r->train.loss)) << r->epoch;
    EXPECT_TRUE(std::isfinite(r->val.loss)) << r->epoch;
  }
}

}  // namespace
}  // namespace mammosweep::worker
