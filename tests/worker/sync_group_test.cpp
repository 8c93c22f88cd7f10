// The failure consensus of a data-parallel group (worker::sync_group), with threads as ranks
// (tests/worker/thread_group.h): a member that failed rethrows its own error, every other
// member gets GroupAborted naming the failed rank; a stop request stops everyone; otherwise
// all proceed. Also checks the fake group's collectives against direct computations.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/worker/thread_group.h"
#include "worker/trainer.h"

namespace mammosweep::worker {
namespace {

using test::run_ranks;

/// What sync_group did on one rank: "ok", or the kind of exception and its message.
std::string outcome(const std::exception_ptr& e) {
  if (!e) return "ok";
  try {
    std::rethrow_exception(e);
  } catch (const GroupAborted& x) {
    return std::string("GroupAborted: ") + x.what();
  } catch (const Interrupted& x) {
    return std::string("Interrupted: ") + x.what();
  } catch (const TrialFailure& x) {
    return std::string("TrialFailure(") + results::to_string(x.kind()) + "): " + x.what();
  } catch (const std::exception& x) {
    return std::string("exception: ") + x.what();
  } catch (int x) {
    return "int " + std::to_string(x);
  }
}

/// Each rank calls sync_group once with its own pending failure and stop request.
std::vector<std::string> sync_once(const std::vector<std::exception_ptr>& failures,
                                   const std::vector<bool>& stops) {
  const auto thrown = run_ranks(static_cast<int>(failures.size()), [&](GradientGroup& g) {
    sync_group(g, failures[g.rank()], stops[g.rank()]);
  });
  std::vector<std::string> out;
  for (const auto& e : thrown) out.push_back(outcome(e));
  return out;
}

std::exception_ptr error(const std::string& what) {
  return std::make_exception_ptr(std::runtime_error(what));
}

TEST(SyncGroup, NoFailureAndNoStopLetsEveryMemberProceed) {
  EXPECT_EQ(sync_once({nullptr, nullptr, nullptr}, {false, false, false}),
            (std::vector<std::string>{"ok", "ok", "ok"}));
}

TEST(SyncGroup, OneFailedMemberRethrowsItsErrorAndTheOthersAbort) {
  EXPECT_EQ(sync_once({nullptr, error("disk full"), nullptr}, {false, false, false}),
            (std::vector<std::string>{"GroupAborted: group rank 1 failed: disk full",
                                      "exception: disk full",
                                      "GroupAborted: group rank 1 failed: disk full"}));
}

TEST(SyncGroup, TheFailedMemberKeepsTheKindOfItsFailure) {
  const std::exception_ptr mine = std::make_exception_ptr(
      TrialFailure(results::FailureKind::diverged, "training loss became nan at epoch 1, step 3"));
  std::exception_ptr seen;
  run_ranks(2, [&](GradientGroup& g) {
    try {
      sync_group(g, g.rank() == 0 ? mine : nullptr);
    } catch (const TrialFailure&) {
      seen = std::current_exception();
    } catch (const GroupAborted&) {
    }
  });
  ASSERT_TRUE(seen);
  EXPECT_EQ(outcome(seen), "TrialFailure(diverged): training loss became nan at epoch 1, step 3");
}

TEST(SyncGroup, WithSeveralFailuresEachFailedMemberKeepsItsOwnAndOthersNameTheLowestRank) {
  EXPECT_EQ(sync_once({nullptr, error("first"), error("second"), nullptr},
                      {false, false, false, false}),
            (std::vector<std::string>{"GroupAborted: group rank 1 failed: first",
                                      "exception: first", "exception: second",
                                      "GroupAborted: group rank 1 failed: first"}));
}

TEST(SyncGroup, AStopRequestStopsEveryMember) {
  const std::string stopped = "Interrupted: stopped at a step boundary on request";
  EXPECT_EQ(sync_once({nullptr, nullptr, nullptr}, {false, false, true}),
            (std::vector<std::string>{stopped, stopped, stopped}));
}

TEST(SyncGroup, AFailureOutranksAStopRequest) {
  EXPECT_EQ(sync_once({nullptr, nullptr, error("bad image")}, {true, false, false}),
            (std::vector<std::string>{"GroupAborted: group rank 2 failed: bad image",
                                      "GroupAborted: group rank 2 failed: bad image",
                                      "exception: bad image"}));
}

TEST(SyncGroup, AnExceptionOfUnknownTypeIsStillShared) {
  EXPECT_EQ(sync_once({std::make_exception_ptr(42), nullptr}, {false, false}),
            (std::vector<std::string>{
                "int 42", "GroupAborted: group rank 0 failed: an exception of unknown type"}));
}

TEST(SyncGroup, ASingleMemberGroupOnlySeesItsOwnState) {
  EXPECT_EQ(sync_once({nullptr}, {false}), (std::vector<std::string>{"ok"}));
  EXPECT_EQ(sync_once({error("alone")}, {false}), (std::vector<std::string>{"exception: alone"}));
}

// Consecutive consensus points reuse the group: a clean round, then a failing one.
TEST(SyncGroup, RoundsAreIndependent) {
  std::vector<std::string> second(3);
  const auto thrown = run_ranks(3, [&](GradientGroup& g) {
    sync_group(g, nullptr);
    try {
      sync_group(g, g.rank() == 0 ? error("round two") : nullptr);
      second[g.rank()] = "ok";
    } catch (...) {
      second[g.rank()] = outcome(std::current_exception());
    }
  });
  for (const auto& e : thrown) EXPECT_EQ(outcome(e), "ok");
  EXPECT_EQ(second, (std::vector<std::string>{"exception: round two",
                                              "GroupAborted: group rank 0 failed: round two",
                                              "GroupAborted: group rank 0 failed: round two"}));
}

// The fake's collectives against direct computations.
TEST(ThreadGroup, CollectivesMatchDirectComputation) {
  const int n = 3;
  std::vector<std::vector<float>> reduced(n), broadcast(n);
  std::vector<std::vector<std::string>> gathered(n);
  const auto thrown = run_ranks(n, [&](GradientGroup& g) {
    const int r = g.rank();
    EXPECT_EQ(g.size(), n);  // no ASSERT: a member that returns early blocks the others
    // rank r holds {r, 10 r} and {100 + r}: the means are {1, 10} and {101}.
    std::vector<torch::Tensor> ts{torch::tensor({float(r), 10.0f * r}),
                                  torch::tensor({100.0f + r})};
    g.allreduce_mean(ts);
    reduced[r] = {ts[0][0].item<float>(), ts[0][1].item<float>(), ts[1][0].item<float>()};
    torch::Tensor b = torch::full({2}, float(r));
    g.broadcast(b, 2);
    broadcast[r] = {b[0].item<float>(), b[1].item<float>()};
    gathered[r] = g.allgather_bytes(std::string(r + 1, char('a' + r)));
  });
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(outcome(thrown[r]), "ok");
    EXPECT_EQ(reduced[r], (std::vector<float>{1.0f, 10.0f, 101.0f})) << r;
    EXPECT_EQ(broadcast[r], (std::vector<float>{2.0f, 2.0f})) << r;
    EXPECT_EQ(gathered[r], (std::vector<std::string>{"a", "bb", "ccc"})) << r;
  }
}

}  // namespace
}  // namespace mammosweep::worker
