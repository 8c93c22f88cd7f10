// Typed protocol messages: every type round-trips through bytes exactly (NaN and inf
// included), malformed bodies are rejected with the field named, and messages travel over
// MPI with the right tag (to self with 1 rank; worker -> coordinator with more).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "cluster/protocol.h"
#include "sweeps/trial.h"
#include "tests/cluster/mpi_environment.h"

namespace mammosweep::cluster {
namespace {

using testing::session;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Equality of doubles where NaN equals NaN (bitwise-exact otherwise).
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same_split(const results::SplitMetrics& a, const results::SplitMetrics& b) {
  EXPECT_TRUE(same(a.loss, b.loss)) << a.loss << " vs " << b.loss;
  EXPECT_TRUE(same(a.accuracy, b.accuracy));
  EXPECT_TRUE(same(a.precision, b.precision));
  EXPECT_TRUE(same(a.recall, b.recall));
  EXPECT_TRUE(same(a.specificity, b.specificity));
  EXPECT_TRUE(same(a.f1, b.f1));
  EXPECT_TRUE(same(a.auc, b.auc));
  EXPECT_EQ(a.cm, b.cm);
}

template <typename T>
T round_trip(const T& m) {
  const std::string bytes = encode(m);
  const MessageBody back = decode(T::type, bytes);
  EXPECT_EQ(type_of(back), T::type);
  return std::get<T>(back);
}

TEST(Protocol, AssignRoundTripCarriesAParsableTrial) {
  sweeps::Trial trial;
  trial.id = "t-0042";
  trial.name = "lr=0.001 \"quoted\"\nnewline";
  trial.index = 3;
  trial.seed = 18446744073709551557ull;  // near 2^64: must survive JSON-in-JSON
  Assign a;
  a.trial_text = sweeps::to_text(trial);
  a.attempt = 2;
  a.group_ranks = {3, 1, 2};
  a.resume_from_epoch = 4;
  const Assign b = round_trip(a);
  EXPECT_EQ(b.trial_text, a.trial_text);
  EXPECT_TRUE(sweeps::trial_from_text(b.trial_text) == trial);
  EXPECT_EQ(b.attempt, 2);
  EXPECT_EQ(b.group_ranks, (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(b.resume_from_epoch, 4);
}

TEST(Protocol, EpochReportRoundTripIsExactIncludingNaNAndInf) {
  EpochReport r;
  r.trial_id = "abc123";
  r.record.epoch = 7;
  r.record.train.loss = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  r.record.train.accuracy = 1.0 / 3.0;
  r.record.train.auc = results::kNaN;
  r.record.train.cm = {5, 6, 7, 8};
  r.record.val.loss = kInf;
  r.record.val.f1 = -kInf;
  r.record.val.precision = 5e-324;  // smallest subnormal
  r.record.val.cm = {1, 0, 0, 2};
  r.record.lr = 3e-4;
  r.record.seconds = 12.5;
  r.record.images_per_second = 1234.5678901234567;
  results::Predictions p;
  p.labels = {0, 1, 1, 0};
  p.scores = {0.1f, 0.9f, 1.0f / 3.0f, std::nextafter(0.5f, 1.0f)};
  r.val_predictions = p;

  const EpochReport b = round_trip(r);
  EXPECT_EQ(b.trial_id, "abc123");
  EXPECT_EQ(b.record.epoch, 7);
  expect_same_split(b.record.train, r.record.train);
  expect_same_split(b.record.val, r.record.val);
  EXPECT_TRUE(std::isnan(b.record.train.auc));
  EXPECT_EQ(b.record.val.loss, kInf);
  EXPECT_EQ(b.record.val.f1, -kInf);
  EXPECT_EQ(b.record.lr, 3e-4);
  EXPECT_EQ(b.record.images_per_second, 1234.5678901234567);
  ASSERT_TRUE(b.val_predictions.has_value());
  EXPECT_EQ(b.val_predictions->labels, p.labels);
  EXPECT_EQ(b.val_predictions->scores, p.scores);  // exact float equality

  r.val_predictions.reset();
  EXPECT_FALSE(round_trip(r).val_predictions.has_value());
}

TEST(Protocol, DoneFailedStopShutdownReadyCheckpointRoundTrip) {
  Done d;
  d.trial_id = "t1";
  d.status = results::TrialStatus::stopped_early;
  d.epochs_completed = 9;
  d.best_epoch = 6;
  d.reason = "no val AUC gain for 3 epochs";
  const Done d2 = round_trip(d);
  EXPECT_EQ(d2.trial_id, "t1");
  EXPECT_EQ(d2.status, results::TrialStatus::stopped_early);
  EXPECT_EQ(d2.epochs_completed, 9);
  EXPECT_EQ(d2.best_epoch, std::optional<int>(6));
  EXPECT_EQ(d2.reason, d.reason);
  d.best_epoch.reset();
  EXPECT_FALSE(round_trip(d).best_epoch.has_value());

  using K = results::FailureKind;
  for (auto kind : {K::exception, K::diverged, K::oom, K::bad_image, K::interrupted}) {
    Failed f;
    f.trial_id = "t2";
    f.reason = "CUDA out of memory: tried to allocate 2.00 GiB";
    f.kind = kind;
    f.rank = 3;
    f.resumable_epoch = 2;
    const Failed f2 = round_trip(f);
    EXPECT_EQ(f2.kind, kind) << to_string(kind);
    EXPECT_EQ(f2.reason, f.reason);
    EXPECT_EQ(f2.rank, 3);
    EXPECT_EQ(f2.resumable_epoch, 2);
  }

  Stop s;
  s.trial_id = "t3";
  s.reason = "median rule";
  s.threads = 3;
  EXPECT_EQ(round_trip(s).trial_id, "t3");
  EXPECT_EQ(round_trip(s).reason, "median rule");
  EXPECT_EQ(round_trip(s).threads, 3);

  EXPECT_EQ(type_of(round_trip(Shutdown{})), MessageType::shutdown);

  Ready ready;
  ready.rank = 5;
  ready.hostname = "node07";
  ready.local_rank = 1;
  ready.device = 1;
  ready.threads = 4;
  const Ready r2 = round_trip(ready);
  EXPECT_EQ(r2.threads, 4);
  EXPECT_EQ(r2.rank, 5);
  EXPECT_EQ(r2.hostname, "node07");
  EXPECT_EQ(r2.local_rank, 1);
  EXPECT_EQ(r2.device, 1);

  CheckpointNow c;
  c.trial_id = "t4";
  EXPECT_EQ(round_trip(c).trial_id, "t4");
}

std::string decode_error(MessageType type, const std::string& bytes) {
  try {
    decode(type, bytes);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(Protocol, MalformedBodiesNameTheMessageAndField) {
  EXPECT_EQ(decode_error(MessageType::stop, R"({"reason":"x"})"),
            "protocol: stop message, field 'trial_id': missing");
  EXPECT_EQ(decode_error(MessageType::ready,
                         R"({"rank":"one","hostname":"h","local_rank":0,"device":0})"),
            "protocol: ready message, field 'rank': expected an integer, got \"one\"");
  EXPECT_EQ(decode_error(MessageType::ready,
                         R"({"rank":1,"hostname":"h","local_rank":0,"device":0,"threads":0})"),
            "protocol: ready message, field 'threads': expected 1 or more, got 0");
  EXPECT_EQ(decode_error(MessageType::stop, R"({"trial_id":"t","reason":"","stop":0,"threads":-1})"),
            "protocol: stop message, field 'threads': expected 0 or more, got -1");
  EXPECT_NE(decode_error(MessageType::done, R"({"trial_id":"t","status":"failed",)"
                                            R"("epochs_completed":1,"reason":""})")
                .find("expected done or stopped_early, got failed"),
            std::string::npos);
  EXPECT_NE(decode_error(MessageType::failed, R"({"trial_id":"t","reason":"r","kind":"meltdown",)"
                                              R"("rank":1,"resumable_epoch":0})")
                .find("unknown failure kind 'meltdown'"),
            std::string::npos);
  EXPECT_NE(decode_error(MessageType::assign, "{not json").find("assign message is not valid JSON"),
            std::string::npos);
  EXPECT_NE(decode_error(MessageType::assign, R"({"trial_text":"t","attempt":1,)"
                                              R"("group_ranks":[],"resume_from_epoch":0})")
                .find("group is empty"),
            std::string::npos);
}

TEST(Protocol, TypeNamesAndTags) {
  EXPECT_STREQ(to_string(MessageType::epoch_report), "epoch_report");
  EXPECT_STREQ(to_string(MessageType::checkpoint_now), "checkpoint_now");
  EXPECT_EQ(results::failure_kind_from_string("bad_image"), results::FailureKind::bad_image);
  EXPECT_THROW(results::failure_kind_from_string("Bad_Image"), std::invalid_argument);
}

TEST(ProtocolOverMpi, ReadyReachesTheCoordinator) {
  MpiComm control = session().world().dup();
  const int S = control.size();
  const int me = control.rank();
  if (S == 1) {
    // Alone: send to self.
    Ready r;
    r.rank = 0;
    r.hostname = session().hostname();
    send_message(control, 0, r);
    auto msg = recv_message(control, std::chrono::seconds(5));
    ASSERT_TRUE(msg.has_value());
    EXPECT_EQ(msg->type(), MessageType::ready);
    EXPECT_EQ(msg->source, 0);
    EXPECT_EQ(std::get<Ready>(msg->body).hostname, session().hostname());
  } else if (me == 0) {
    std::vector<int> seen(static_cast<std::size_t>(S), 0);
    for (int i = 1; i < S; ++i) {
      auto msg = recv_message(control, std::chrono::seconds(20));
      ASSERT_TRUE(msg.has_value());
      ASSERT_EQ(msg->type(), MessageType::ready);
      const auto& ready = std::get<Ready>(msg->body);
      EXPECT_EQ(ready.rank, msg->source);
      seen[static_cast<std::size_t>(msg->source)] += 1;
    }
    for (int r = 1; r < S; ++r) {
      EXPECT_EQ(seen[static_cast<std::size_t>(r)], 1) << "Ready from rank " << r;
      send_message(control, r, Shutdown{});
    }
  } else {
    Ready r;
    r.rank = me;
    r.hostname = session().hostname();
    r.local_rank = session().local_rank();
    send_message(control, 0, r);
    auto msg = recv_message(control, std::chrono::seconds(20), /*source=*/0);
    ASSERT_TRUE(msg.has_value());
    EXPECT_EQ(msg->type(), MessageType::shutdown);
  }
}

TEST(ProtocolOverMpi, ForeignTagIsRejectedNamingTheSender) {
  MpiComm control = session().world().dup();
  const int me = control.rank();
  send_bytes(control, me, /*tag=*/5, "{}");
  try {
    recv_message(control, std::chrono::seconds(5));
    ADD_FAILURE() << "foreign tag accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("received tag 5 from rank " + std::to_string(me)),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mammosweep::cluster
