// Tests of the HDF5 sweep store: round trip of every field, the epoch rules, h5dump
// interoperability, a reader running while the writer holds the file, kill -9 of the
// writer at random moments, and resume after the kill.
#include "results/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/temp_dir.h"

namespace mammosweep::results {
namespace {

namespace fs = std::filesystem;

using mammosweep::test::TempDir;

SweepInfo sample_info() {
  SweepInfo info;
  info.tool_version = "0.1.0-test";
  info.spec_yaml = "name: demo\nsweep:\n  lr: [1e-4, 3e-4]\n";
  info.spec_hash = "sha256:abc123";
  info.created = "2024-05-06T07:08:09Z";
  info.libtorch_version = "2.11.0";
  info.cuda_version = "12.8";
  info.nccl_version = "2.26.2";
  info.mpi_version = "Open MPI v4.1.4";
  info.hostnames = {"node01", "node02"};
  info.data_manifest_hash = "sha256:feedbeef";
  info.leakage_report_json = R"({"overlap":0,"checked":["patient_id"]})";
  info.slurm_job_ids = {"4242"};
  info.spec_overrides = {"data.image_size=64", "data.root=\"/d\""};
  info.spec_effective_yaml = "name: demo\ndata: {image_size: 64, root: /d}\n";
  return info;
}

std::vector<TrialInit> sample_trials() {
  return {
      {"t0000", "lr=1e-4 adam",
       R"({"lr":0.0001,"batch_size":32,"optimizer":"adam","augmentation":{"hflip":true,"brightness":0.25},"milestones":[2,4]})",
       17},
      {"t0001", "lr=3e-4 sgd", R"({"lr":0.0003,"batch_size":16,"optimizer":"sgd"})",
       18446744073709551615ull},
  };
}

/// A record whose every field is a distinct function of (epoch, salt).
EpochRecord make_epoch(int epoch, double salt = 0.0) {
  EpochRecord r;
  r.epoch = epoch;
  auto fill = [&](SplitMetrics& m, double base) {
    m.loss = base + 0.01 * epoch + salt;
    m.accuracy = base + 0.02 * epoch;
    m.precision = base + 0.03 * epoch;
    m.recall = base + 0.04 * epoch;
    m.specificity = base + 0.05 * epoch;
    m.f1 = base + 0.06 * epoch;
    m.auc = base + 0.07 * epoch;
    m.cm = {100 + epoch, 200 + epoch, 300 + epoch, 400 + epoch};
  };
  fill(r.train, 1.0);
  fill(r.val, 2.0);
  r.lr = 1e-4 / epoch;
  r.seconds = 60.5 * epoch;
  r.images_per_second = 123.25 + epoch;
  return r;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same_split(const SplitMetrics& a, const SplitMetrics& b, const std::string& what) {
  EXPECT_TRUE(same(a.loss, b.loss)) << what << " loss " << a.loss << " vs " << b.loss;
  EXPECT_TRUE(same(a.accuracy, b.accuracy)) << what << " accuracy";
  EXPECT_TRUE(same(a.precision, b.precision)) << what << " precision";
  EXPECT_TRUE(same(a.recall, b.recall)) << what << " recall";
  EXPECT_TRUE(same(a.specificity, b.specificity)) << what << " specificity";
  EXPECT_TRUE(same(a.f1, b.f1)) << what << " f1";
  EXPECT_TRUE(same(a.auc, b.auc)) << what << " auc";
  EXPECT_EQ(a.cm, b.cm) << what << " confusion matrix";
}

void expect_same_epoch(const EpochRecord& a, const EpochRecord& b) {
  const std::string what = "epoch " + std::to_string(b.epoch);
  EXPECT_EQ(a.epoch, b.epoch);
  expect_same_split(a.train, b.train, what + " train");
  expect_same_split(a.val, b.val, what + " val");
  EXPECT_TRUE(same(a.lr, b.lr)) << what << " lr";
  EXPECT_TRUE(same(a.seconds, b.seconds)) << what << " seconds";
  EXPECT_TRUE(same(a.images_per_second, b.images_per_second)) << what << " images/s";
}

/// Runs a shell command, returns (exit status, stdout).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, out};
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// All numbers inside the DATA { ... } block of h5dump output, in order.
std::vector<double> data_numbers(const std::string& dump) {
  auto pos = dump.find("DATA {");
  EXPECT_NE(pos, std::string::npos) << dump;
  std::string data = dump.substr(pos + 6);
  // Drop "(row):" indices, keep the values.
  data = std::regex_replace(data, std::regex(R"(\(\d+(,\d+)*\):)"), " ");
  std::vector<double> out;
  std::regex number(R"([-+]?(\d+\.?\d*([eE][-+]?\d+)?|nan|inf))");
  for (auto it = std::sregex_iterator(data.begin(), data.end(), number);
       it != std::sregex_iterator(); ++it) {
    out.push_back(std::strtod(it->str().c_str(), nullptr));
  }
  return out;
}

// ---- round trip --------------------------------------------------------------------------

TEST(SweepStore, RoundTripsEveryField) {
  TempDir dir;
  const std::string path = store_path(dir.path());
  EXPECT_EQ(path, dir.path() + "/results.h5");
  auto trials = sample_trials();
  TrialState state;
  state.status = TrialStatus::failed;
  state.attempts = 3;
  state.failure_reason = "CUDA out of memory on rank 2 (batch 64)";
  state.ranks = {2, 3, 5};
  state.start_time = "2024-05-06T08:00:00Z";
  state.end_time = "2024-05-06T09:30:00Z";
  Predictions best;
  best.labels = {0, 1, 1, 0, 1};
  best.scores = {0.1f, 0.9f, 0.65f, 0.35f, 0.5f};
  EpochRecord with_nan = make_epoch(3);
  with_nan.val.precision = kNaN;
  with_nan.train.auc = kNaN;
  {
    SweepStore store = SweepStore::create(path, sample_info(), trials);
    EXPECT_EQ(store.trial_ids(), (std::vector<std::string>{"t0000", "t0001"}));
    store.append_epoch("t0000", make_epoch(1));
    store.append_epoch("t0000", make_epoch(2));
    store.append_epoch("t0000", with_nan);
    store.set_best_predictions("t0000", 2, best);
    store.set_state("t0000", state);
    store.add_job_id("4300_7");
    EXPECT_EQ(store.last_epoch("t0000"), 3);
    EXPECT_EQ(store.last_epoch("t0001"), 0);
    TrialState back = store.state("t0000");
    EXPECT_EQ(back.ranks, state.ranks);
    EXPECT_EQ(back.failure_reason, state.failure_reason);
    store.close();
  }

  SweepSnapshot snap = read_store(path);
  SweepInfo want = sample_info();
  want.slurm_job_ids.push_back("4300_7");
  const SweepInfo& got = snap.info;
  EXPECT_EQ(got.tool_version, want.tool_version);
  EXPECT_EQ(got.spec_yaml, want.spec_yaml);
  EXPECT_EQ(got.spec_hash, want.spec_hash);
  EXPECT_EQ(got.created, want.created);
  EXPECT_EQ(got.libtorch_version, want.libtorch_version);
  EXPECT_EQ(got.cuda_version, want.cuda_version);
  EXPECT_EQ(got.nccl_version, want.nccl_version);
  EXPECT_EQ(got.mpi_version, want.mpi_version);
  EXPECT_EQ(got.hostnames, want.hostnames);
  EXPECT_EQ(got.data_manifest_hash, want.data_manifest_hash);
  EXPECT_EQ(got.leakage_report_json, want.leakage_report_json);
  EXPECT_EQ(got.slurm_job_ids, want.slurm_job_ids);
  EXPECT_EQ(got.spec_overrides, want.spec_overrides);
  EXPECT_EQ(got.spec_effective_yaml, want.spec_effective_yaml);

  ASSERT_EQ(snap.trials.size(), 2u);
  const TrialResult& t0 = snap.trials[0];
  EXPECT_EQ(t0.id, "t0000");
  EXPECT_EQ(t0.name, "lr=1e-4 adam");
  EXPECT_EQ(t0.params_json, trials[0].params_json);
  EXPECT_EQ(t0.seed, 17u);
  std::map<std::string, std::string> want_params = {{"lr", "0.0001"},
                                                    {"batch_size", "32"},
                                                    {"optimizer", "adam"},
                                                    {"augmentation.hflip", "true"},
                                                    {"augmentation.brightness", "0.25"},
                                                    {"milestones", "[2,4]"}};
  EXPECT_EQ(t0.params, want_params);
  EXPECT_EQ(t0.status, TrialStatus::failed);
  EXPECT_EQ(t0.attempts, 3);
  EXPECT_EQ(t0.failure_reason, state.failure_reason);
  EXPECT_EQ(t0.ranks, state.ranks);
  EXPECT_EQ(t0.start_time, state.start_time);
  EXPECT_EQ(t0.end_time, state.end_time);
  ASSERT_EQ(t0.epochs.size(), 3u);
  expect_same_epoch(t0.epochs[0], make_epoch(1));
  expect_same_epoch(t0.epochs[1], make_epoch(2));
  expect_same_epoch(t0.epochs[2], with_nan);
  EXPECT_TRUE(std::isnan(t0.epochs[2].val.precision));
  ASSERT_TRUE(t0.best_epoch.has_value());
  EXPECT_EQ(*t0.best_epoch, 2);
  EXPECT_EQ(t0.best_val_predictions.labels, best.labels);
  EXPECT_EQ(t0.best_val_predictions.scores, best.scores);

  const TrialResult& t1 = snap.trials[1];
  EXPECT_EQ(t1.id, "t0001");
  EXPECT_EQ(t1.seed, 18446744073709551615ull);
  EXPECT_EQ(t1.status, TrialStatus::pending);
  EXPECT_EQ(t1.attempts, 0);
  EXPECT_TRUE(t1.ranks.empty());
  EXPECT_TRUE(t1.epochs.empty());
  EXPECT_FALSE(t1.best_epoch.has_value());
  EXPECT_TRUE(t1.best_val_predictions.labels.empty());
}

// Evaluation rows append in SWMR mode; a file written before /evaluations existed gets the
// dataset when it is next opened for writing, and keeps everything else.
TEST(SweepStore, EvaluationsAppendAndOlderFilesGainTheDataset) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  SweepStore::create(path, sample_info(), sample_trials()).close();
  {  // make it an older file: no /evaluations
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "evaluations", H5P_DEFAULT), 0);
    H5Fclose(f);
  }
  EXPECT_TRUE(read_store(path).evaluations.empty());
  {
    SweepStore store = SweepStore::open_for_append(path);
    store.add_evaluation(R"({"n":1})");
    store.add_evaluation(R"({"n":2})");
    EXPECT_THROW(store.add_evaluation(std::string(kMaxEvaluationBytes + 1, 'x')),
                 std::invalid_argument);
    store.close();
  }
  const SweepSnapshot snap = read_store(path);
  EXPECT_EQ(snap.evaluations, (std::vector<std::string>{R"({"n":1})", R"({"n":2})"}));
  EXPECT_EQ(snap.trials.size(), sample_trials().size());
  EXPECT_EQ(snap.info.slurm_job_ids, sample_info().slurm_job_ids);
}

/// Replaces root attribute `name` of the file at `path` (raw HDF5, as another writer would).
void replace_root_attr(const std::string& path, const char* name, hid_t type, const void* value) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  ASSERT_GE(H5Adelete(f, name), 0);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(a, 0);
  ASSERT_GE(H5Awrite(a, type, value), 0);
  H5Aclose(a);
  H5Sclose(space);
  H5Fclose(f);
}

TEST(SweepStore, StringAttributesAreFixedLengthAndOnlyFormat1MayHoldVariableLength) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  SweepStore::create(path, sample_info(), sample_trials()).close();
  // h5dump (an independent reader) sees no variable-length string anywhere in the file.
  auto [rc, header] = run("h5dump -H " + path);
  ASSERT_EQ(rc, 0) << header;
  EXPECT_NE(header.find("STRSIZE"), std::string::npos) << header;
  EXPECT_EQ(header.find("H5T_VARIABLE"), std::string::npos) << header;
  EXPECT_EQ(read_store(path).info.spec_hash, sample_info().spec_hash);

  // A variable-length string (what libhdf5 reads from its global heap unchecked) in a
  // current-format file is refused before it is read, naming the file and the attribute.
  hid_t vlen = H5Tcopy(H5T_C_S1);
  ASSERT_GE(H5Tset_size(vlen, H5T_VARIABLE), 0);
  ASSERT_GE(H5Tset_cset(vlen, H5T_CSET_UTF8), 0);  // as format 1 wrote them
  const char* text = "sha256:from-a-vlen-string";
  replace_root_attr(path, "spec_hash", vlen, &text);
  ReadOptions no_retry;  // a refusal is no racing writer: fail at once
  no_retry.retry_for = std::chrono::milliseconds(0);
  try {
    read_store(path, no_retry);
    ADD_FAILURE() << "a variable-length attribute in a format-2 file was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'spec_hash' is a variable-length string"),
              std::string::npos)
        << e.what();
  }
  // Format 1 wrote every string attribute variable-length: such files still read.
  const std::int64_t v1 = 1;
  replace_root_attr(path, "format_version", H5T_NATIVE_INT64, &v1);
  EXPECT_EQ(read_store(path, no_retry).info.spec_hash, text);
  // A newer format than this build knows is refused with both versions named.
  const std::int64_t v9 = 9;
  replace_root_attr(path, "format_version", H5T_NATIVE_INT64, &v9);
  try {
    read_store(path);
    ADD_FAILURE() << "format_version 9 was read";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("results format version 9 is not one this mammosweep "
                                         "reads (1 to 2)"),
              std::string::npos)
        << e.what();
  }
  H5Tclose(vlen);
}

TEST(SweepStore, LongFailureReasonIsCutAtUtf8Boundary) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
  TrialState s;
  // 2047 ASCII bytes then a 2-byte character: byte 2048 would split it.
  s.failure_reason = std::string(2047, 'x') + "\xC3\xA9" + "tail";
  store.set_state("t0000", s);
  EXPECT_EQ(store.state("t0000").failure_reason, std::string(2047, 'x'));
  s.ranks.assign(TrialState::kMaxRanks + 1, 0);
  EXPECT_THROW(store.set_state("t0000", s), std::invalid_argument);
}

TEST(SweepStore, BestPredictionsAreReplacedWhenTheBestImproves) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  {
    SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
    for (int e = 1; e <= 3; ++e) store.append_epoch("t0001", make_epoch(e));
    store.set_best_predictions("t0001", 1,
                               {{1, 0, 1, 0, 1, 1}, {0.9f, 0.1f, 0.8f, 0.2f, 0.7f, 0.6f}});
    store.set_best_predictions("t0001", 3, {{0, 1, 1}, {0.25f, 0.5f, 0.75f}});
    EXPECT_THROW(store.set_best_predictions("t0001", 4, {{0}, {0.5f}}), std::invalid_argument);
    EXPECT_THROW(store.set_best_predictions("t0001", 0, {{0}, {0.5f}}), std::invalid_argument);
    EXPECT_THROW(store.set_best_predictions("t0001", 2, {{0, 1}, {0.5f}}), std::invalid_argument);
  }
  SweepSnapshot snap = read_store(path);
  const TrialResult& t = snap.trials[1];
  ASSERT_TRUE(t.best_epoch.has_value());
  EXPECT_EQ(*t.best_epoch, 3);
  EXPECT_EQ(t.best_val_predictions.labels, (std::vector<std::int8_t>{0, 1, 1}));
  EXPECT_EQ(t.best_val_predictions.scores, (std::vector<float>{0.25f, 0.5f, 0.75f}));
}

// ---- epoch rules and argument checks -----------------------------------------------------

TEST(SweepStore, EpochsMustBeContiguousAndLastMayBeReplaced) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  {
    SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
    EXPECT_THROW(store.append_epoch("t0000", make_epoch(0)), std::invalid_argument);
    EXPECT_THROW(store.append_epoch("t0000", make_epoch(2)), std::invalid_argument);
    store.append_epoch("t0000", make_epoch(1));
    store.append_epoch("t0000", make_epoch(2));
    EXPECT_THROW(store.append_epoch("t0000", make_epoch(4)), std::invalid_argument);  // gap
    EXPECT_THROW(store.append_epoch("t0000", make_epoch(1)), std::invalid_argument);  // older
    store.append_epoch("t0000", make_epoch(2, /*salt=*/0.5));  // replaces the last row
    EXPECT_EQ(store.last_epoch("t0000"), 2);
    EXPECT_THROW(store.append_epoch("nope", make_epoch(1)), std::out_of_range);
    EXPECT_THROW(store.last_epoch("nope"), std::out_of_range);
  }
  SweepSnapshot snap = read_store(path);
  ASSERT_EQ(snap.trials[0].epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(snap.trials[0].epochs[1].train.loss, 1.0 + 0.02 + 0.5);
}

TEST(SweepStore, CreateRejectsBadInput) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  auto dup = sample_trials();
  dup[1].id = dup[0].id;
  EXPECT_THROW(SweepStore::create(path, sample_info(), dup), std::invalid_argument);
  auto slash = sample_trials();
  slash[0].id = "a/b";
  EXPECT_THROW(SweepStore::create(path, sample_info(), slash), std::invalid_argument);
  auto notobj = sample_trials();
  notobj[0].params_json = "[1,2]";
  EXPECT_THROW(SweepStore::create(path, sample_info(), notobj), std::invalid_argument);
  EXPECT_FALSE(fs::exists(path));
  SweepStore::create(path, sample_info(), sample_trials()).close();
  EXPECT_THROW(SweepStore::create(path, sample_info(), sample_trials()), std::runtime_error);
  EXPECT_THROW(SweepStore::open_for_append(dir.file("missing.h5")), std::runtime_error);
}

TEST(SweepStore, SecondWriterIsRefused) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
  EXPECT_THROW(SweepStore::open_for_append(path), std::runtime_error);
}

TEST(SweepStore, OpenForAppendAddsNewTrialsAndChecksOldOnes) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  auto trials = sample_trials();
  {
    SweepStore store = SweepStore::create(path, sample_info(), trials);
    store.append_epoch("t0000", make_epoch(1));
  }
  auto more = trials;
  more.push_back({"t0002", "new", R"({"lr":0.001})", 5});
  {
    SweepStore store = SweepStore::open_for_append(path, more);
    EXPECT_EQ(store.trial_ids(), (std::vector<std::string>{"t0000", "t0001", "t0002"}));
    EXPECT_EQ(store.last_epoch("t0000"), 1);
    store.append_epoch("t0000", make_epoch(2));
    store.append_epoch("t0002", make_epoch(1));
  }
  auto changed = more;
  changed[0].params_json = R"({"lr":0.5})";
  EXPECT_THROW(SweepStore::open_for_append(path, changed), std::invalid_argument);
  SweepSnapshot snap = read_store(path);
  ASSERT_EQ(snap.trials.size(), 3u);
  EXPECT_EQ(snap.trials[0].epochs.size(), 2u);
  EXPECT_EQ(snap.trials[2].id, "t0002");
  EXPECT_EQ(snap.trials[2].params.at("lr"), "0.001");
  EXPECT_EQ(snap.trials[2].epochs.size(), 1u);
}

TEST(SweepStore, AddTrialsWhileOpenKeepsEverythingAndTheLock) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
  store.append_epoch("t0000", make_epoch(1));
  TrialState s;
  s.status = TrialStatus::running;
  s.attempts = 1;
  store.set_state("t0000", s);
  const TrialInit added{"t0002", "proposed", R"({"lr":0.003})", 9};
  store.add_trials({added});
  EXPECT_EQ(store.trial_ids(), (std::vector<std::string>{"t0000", "t0001", "t0002"}));
  EXPECT_THROW(SweepStore::open_for_append(path), std::runtime_error);  // still locked
  EXPECT_THROW(store.add_trials({added}), std::invalid_argument);       // already there
  // Writing goes on after the reopen, in the old trials and the new one.
  store.append_epoch("t0000", make_epoch(2));
  store.append_epoch("t0002", make_epoch(1));
  SweepSnapshot snap = read_store(path);  // a SWMR reader while the writer is open
  ASSERT_EQ(snap.trials.size(), 3u);
  EXPECT_EQ(snap.trials[0].epochs.size(), 2u);
  EXPECT_EQ(snap.trials[0].status, TrialStatus::running);
  EXPECT_EQ(snap.info.spec_yaml, sample_info().spec_yaml);
  // pending_result is what the reader returns for a trial just added (before its epoch).
  const TrialResult fresh = pending_result(added);
  EXPECT_EQ(snap.trials[2].id, fresh.id);
  EXPECT_EQ(snap.trials[2].name, fresh.name);
  EXPECT_EQ(snap.trials[2].params, fresh.params);
  EXPECT_EQ(snap.trials[2].params.at("lr"), "0.003");
  EXPECT_EQ(snap.trials[2].seed, 9u);
  EXPECT_EQ(snap.trials[2].epochs.size(), 1u);
}

// ---- h5dump ------------------------------------------------------------------------------

TEST(SweepStore, H5dumpReadsTheValues) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  {
    SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
    store.append_epoch("t0000", make_epoch(1));
    store.append_epoch("t0000", make_epoch(2));
    store.set_best_predictions("t0000", 2, {{0, 1, 1}, {0.25f, 0.5f, 0.75f}});
    TrialState s;
    s.status = TrialStatus::stopped_early;
    s.attempts = 2;
    store.set_state("t0000", s);
  }
  // Values printed by h5dump (an independent reader), checked against hand-computed ones.
  auto [rc, scores] = run("h5dump -d /trials/t0000/best_val_scores " + path);
  ASSERT_EQ(rc, 0) << scores;
  EXPECT_EQ(data_numbers(scores), (std::vector<double>{0.25, 0.5, 0.75}));

  auto [rc2, epochs] = run("h5dump -m %.17g -d /trials/t0000/epochs " + path);
  ASSERT_EQ(rc2, 0) << epochs;
  std::vector<double> v = data_numbers(epochs);
  // 1 + 14 metrics + 8 counts + 3 = 26 columns per row, 2 rows.
  ASSERT_EQ(v.size(), 52u) << epochs;
  EXPECT_EQ(v[0], 1);                     // epoch
  EXPECT_EQ(v[1], 1.0 + 0.01);            // train_loss of epoch 1
  EXPECT_EQ(v[26], 2);                    // epoch of row 2
  EXPECT_EQ(v[26 + 14], 2.0 + 0.07 * 2);  // val_auc of epoch 2
  EXPECT_EQ(v[26 + 15], 102);             // train_tp of epoch 2
  EXPECT_EQ(v[26 + 22], 402);             // val_fn of epoch 2
  EXPECT_NE(epochs.find("\"val_auc\""), std::string::npos);

  auto [rc3, attr] = run("h5dump -a /trials/t0000/params/lr " + path);
  ASSERT_EQ(rc3, 0) << attr;
  EXPECT_EQ(data_numbers(attr), (std::vector<double>{0.0001}));
  auto [rc4, state] = run("h5dump -d /trials/t0000/state " + path);
  ASSERT_EQ(rc4, 0) << state;
  EXPECT_NE(state.find("stopped_early"), std::string::npos) << state;
}

// ---- concurrent reader -------------------------------------------------------------------

/// One byte over a pipe, in either direction.
void send_byte(int fd) {
  char c = 1;
  ASSERT_EQ(::write(fd, &c, 1), 1);
}
bool recv_byte(int fd) {
  char c;
  return ::read(fd, &c, 1) == 1;
}

TEST(SweepStore, ReaderWorksWhileTheWriterHasTheFileOpen) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 0;
    try {
      SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
      for (int e = 1; e <= 3; ++e) store.append_epoch("t0000", make_epoch(e));
      char c = 1;
      if (::write(to_parent[1], &c, 1) != 1 || ::read(to_child[0], &c, 1) != 1) rc = 2;
      store.append_epoch("t0000", make_epoch(4));
      store.set_state("t0000",
                      TrialState{TrialStatus::running, 1, "", {0, 1}, "2024-01-01T00:00:00Z", ""});
      if (::write(to_parent[1], &c, 1) != 1 || ::read(to_child[0], &c, 1) != 1) rc = 2;
      store.close();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "writer: %s\n", e.what());
      rc = 1;
    }
    ::_exit(rc);
  }
  ASSERT_TRUE(recv_byte(to_parent[0]));
  SweepSnapshot a = read_store(path);  // writer is live, in SWMR mode
  ASSERT_EQ(a.trials.size(), 2u);
  EXPECT_EQ(a.trials[0].epochs.size(), 3u);
  EXPECT_EQ(a.trials[0].status, TrialStatus::pending);
  // A plain (non-SWMR) tool is refused while the writer runs: that is why we read SWMR.
  EXPECT_NE(run("h5dump -H " + path + " >/dev/null 2>&1").first, 0);
  send_byte(to_child[1]);
  ASSERT_TRUE(recv_byte(to_parent[0]));
  SweepSnapshot b = read_store(path);
  EXPECT_EQ(b.trials[0].epochs.size(), 4u);
  expect_same_epoch(b.trials[0].epochs[3], make_epoch(4));
  EXPECT_EQ(b.trials[0].status, TrialStatus::running);
  EXPECT_EQ(b.trials[0].ranks, (std::vector<int>{0, 1}));
  send_byte(to_child[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Closed cleanly: plain tools open it without h5clear.
  EXPECT_EQ(run("h5dump -H " + path + " >/dev/null 2>&1").first, 0);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
}

// ---- kill -9 -----------------------------------------------------------------------------

/// Child: creates the store and appends epochs to t0000 forever, writing each epoch number
/// to `report_fd` after append_epoch returned. Also rewrites state and best predictions so
/// kills land inside every kind of write.
[[noreturn]] void crash_writer(const std::string& path, int report_fd) {
  try {
    SweepStore store = SweepStore::create(path, sample_info(), sample_trials());
    for (int e = 1;; ++e) {
      store.append_epoch("t0000", make_epoch(e));
      if (::write(report_fd, &e, sizeof e) != static_cast<ssize_t>(sizeof e)) ::_exit(3);
      if (e % 3 == 0)
        store.set_best_predictions("t0000", e,
                                   {{0, 1, static_cast<std::int8_t>(e % 2)}, {0.1f, 0.2f, 0.3f}});
      if (e % 5 == 0)
        store.set_state("t0000", TrialState{TrialStatus::running, e, "", {0}, "", ""});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash writer: %s\n", e.what());
    ::_exit(1);
  }
}

TEST(SweepStore, SurvivesKill9AtRandomMomentsAndResumes) {
  std::mt19937 rng(12345);
  // Delays in microseconds: some inside create(), most inside the append loop.
  std::vector<int> delays = {0, 500, 2000, 5000};
  std::uniform_int_distribution<int> pick(5000, 80000);
  // MAMMOSWEEP_STORE_KILL_ROUNDS=500 turns this into a soak test.
  const char* rounds_env = std::getenv("MAMMOSWEEP_STORE_KILL_ROUNDS");
  const std::size_t rounds = rounds_env ? std::strtoul(rounds_env, nullptr, 10) : 14;
  while (delays.size() < rounds) delays.push_back(pick(rng));
  const bool have_h5clear = run("command -v h5clear >/dev/null").first == 0;

  for (std::size_t round = 0; round < delays.size(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", kill after " +
                 std::to_string(delays[round]) + " us");
    TempDir dir;
    const std::string path = dir.file("results.h5");
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      crash_writer(path, fds[1]);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(delays[round]));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited by itself with " << WEXITSTATUS(status);
    int reported = 0, e;
    while (::read(fds[0], &e, sizeof e) == static_cast<ssize_t>(sizeof e)) {
      ASSERT_EQ(e, reported + 1);
      reported = e;
    }
    ::close(fds[0]);

    if (!fs::exists(path)) {
      EXPECT_EQ(reported, 0) << "epochs were reported but the file is missing";
      continue;
    }
    // Our reader needs no h5clear.
    SweepSnapshot snap = read_store(path);
    ASSERT_EQ(snap.trials.size(), 2u);
    const auto& epochs = snap.trials[0].epochs;
    ASSERT_GE(static_cast<int>(epochs.size()), reported);
    for (std::size_t i = 0; i < epochs.size(); ++i)
      expect_same_epoch(epochs[i], make_epoch(static_cast<int>(i) + 1));
    if (snap.trials[0].best_epoch) {
      EXPECT_EQ(*snap.trials[0].best_epoch % 3, 0);
      EXPECT_EQ(snap.trials[0].best_val_predictions.labels.size(), 3u);
    }
    const int k = static_cast<int>(epochs.size());

    // Plain tools: h5dump opens it after `h5clear -s` (on a copy: the original stays as is).
    if (have_h5clear) {
      const std::string copy = dir.file("copy.h5");
      fs::copy_file(path, copy);
      EXPECT_EQ(run("h5clear -s " + copy + " 2>&1").first, 0);
      auto [rc, out] = run("h5dump -d /trials/t0000/epochs " + copy + " 2>&1");
      EXPECT_EQ(rc, 0) << out;
    }

    // Resume: continue without gaps or duplicates, adding a trial on the way.
    auto trials = sample_trials();
    trials.push_back({"t0002", "added on resume", R"({"lr":0.01})", 3});
    {
      SweepStore store = SweepStore::open_for_append(path, trials);
      ASSERT_EQ(store.last_epoch("t0000"), k);
      EXPECT_THROW(store.append_epoch("t0000", make_epoch(k + 2)), std::invalid_argument);
      store.append_epoch("t0000", make_epoch(k + 1));
      store.append_epoch("t0000", make_epoch(k + 2));
      store.append_epoch("t0002", make_epoch(1));
      store.close();
    }
    SweepSnapshot after = read_store(path);
    ASSERT_EQ(after.trials.size(), 3u);
    ASSERT_EQ(static_cast<int>(after.trials[0].epochs.size()), k + 2);
    for (int i = 0; i < k + 2; ++i) EXPECT_EQ(after.trials[0].epochs[i].epoch, i + 1);
    EXPECT_EQ(after.trials[2].epochs.size(), 1u);
    EXPECT_EQ(run("h5dump -H " + path + " >/dev/null 2>&1").first, 0);  // closed cleanly
  }
}

}  // namespace
}  // namespace mammosweep::results
