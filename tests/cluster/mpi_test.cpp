// The MPI adapter: session facts, groups, point-to-point messages and the sleeping wait.
// Runs with any world size; multirank.test.sh runs it under mpirun -np 4.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/communicator.h"
#include "cluster/mpi.h"
#include "tests/cluster/mpi_environment.h"

namespace mammosweep::cluster {
namespace {

using testing::session;
using Clock = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

void sync_all() { check_mpi(MPI_Barrier(session().world().get()), "MPI_Barrier", session().rank()); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(MpiSession, ReportsWorldAndNodeLayout) {
  const MpiSession& s = session();
  // Open MPI's launcher exports the layout; a singleton run has none of these.
  EXPECT_EQ(s.size(), env_int("OMPI_COMM_WORLD_SIZE", 1));
  EXPECT_EQ(s.rank(), env_int("OMPI_COMM_WORLD_RANK", 0));
  EXPECT_EQ(s.local_rank(), env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0));
  EXPECT_EQ(s.local_size(), env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1));
  EXPECT_FALSE(s.hostname().empty());
  EXPECT_GE(s.thread_level(), MPI_THREAD_FUNNELED);
  EXPECT_EQ(s.world().rank(), s.rank());
  EXPECT_EQ(s.world().size(), s.size());
  std::vector<int> identity(static_cast<std::size_t>(s.size()));
  for (int r = 0; r < s.size(); ++r) identity[static_cast<std::size_t>(r)] = r;
  EXPECT_EQ(s.world().world_ranks(), identity);
}

// Sum of (world rank + 1) over the members of a group, reduced on the group only.
float group_sum(const std::vector<int>& members) {
  MpiComm group = create_group(session().world(), members);
  EXPECT_EQ(group.size(), static_cast<int>(members.size()));
  EXPECT_EQ(group.world_ranks(), members);  // group rank order = list order
  auto comm = make_mpi_communicator(std::move(group));
  at::Tensor t = at::full({3}, static_cast<float>(session().rank() + 1));
  comm->allreduce_sum(t);
  return t[0].item<float>();
}

TEST(MpiGroups, FourRanksSplitIntoTwoGroupsAndAnIdleCoordinator) {
  const int me = session().rank();
  if (session().size() >= 4) {
    // Rank 0 (the coordinator) is in no group; {1,2} and {3} reduce separately.
    if (me == 1 || me == 2) {
      EXPECT_EQ(group_sum({1, 2}), 2.0f + 3.0f);
    } else if (me == 3) {
      EXPECT_EQ(group_sum({3}), 4.0f);
    }
  } else {
    EXPECT_EQ(group_sum({me}), static_cast<float>(me + 1));
  }
  sync_all();
}

TEST(MpiGroups, EvenAndOddRanksInDescendingOrder) {
  const int S = session().size();
  const int me = session().rank();
  std::vector<int> mine;
  for (int r = S - 1; r >= 0; --r) {
    if (r % 2 == me % 2) mine.push_back(r);
  }
  float want = 0;
  for (int r : mine) want += static_cast<float>(r + 1);
  EXPECT_EQ(group_sum(mine), want);
  sync_all();
}

TEST(MpiGroups, RejectsBadMemberLists) {
  const MpiComm& world = session().world();
  const int me = session().rank();
  const int S = session().size();
  EXPECT_NE(error_of([&] { create_group(world, {}); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { create_group(world, {me, me}); }).find("appears twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] { create_group(world, {me, S}); }).find("outside"), std::string::npos);
  if (S >= 2) {
    const int other = (me + 1) % S;
    const std::string e = error_of([&] { create_group(world, {other}); });
    EXPECT_NE(e.find("rank " + std::to_string(me) + " is not a member"), std::string::npos) << e;
  }
}

// Polls a wait of `timeout` may make at most: the schedule of `b`, written out here
// independently of Backoff::next. Every sleep lasts at least what it asked for, so once
// the naps add up to the timeout the wait ends; one more nap may be cut short to the time
// left, and the first poll comes before any nap.
std::size_t max_polls(std::chrono::microseconds timeout, const Backoff& b) {
  std::size_t naps = 0;
  long long nap = b.initial.count(), slept = 0;
  while (slept < timeout.count()) {
    slept += nap;
    ++naps;
    nap = std::min<long long>(nap * 2, b.max.count());
  }
  return naps + 2;
}

TEST(Backoff, DoublesFromTheInitialSleepUpToTheCap) {
  const Backoff b;  // 50 us, x2, 5 ms
  std::vector<long long> seen;
  auto s = b.initial;
  for (int i = 0; i < 10; ++i, s = b.next(s)) seen.push_back(s.count());
  EXPECT_EQ(seen, (std::vector<long long>{50, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000}));
  Backoff odd;
  odd.initial = std::chrono::microseconds(300);
  odd.max = std::chrono::microseconds(100);  // a cap below the start: the start wins
  EXPECT_EQ(odd.next(odd.initial).count(), 300);
}

TEST(MpiRecv, TimesOutWithNothingToReceive) {
  MpiComm quiet = session().world().dup();
  PollStats stats;
  RecvOptions options;
  options.stats = &stats;
  const auto start = Clock::now();
  auto msg = recv_any(quiet, std::chrono::milliseconds(100), options);
  EXPECT_FALSE(msg.has_value());
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(100));  // never early
  EXPECT_GE(stats.polls, 2u);
  // A zero timeout polls exactly once and never sleeps.
  EXPECT_FALSE(recv_any(quiet, std::chrono::microseconds(0), options).has_value());
  EXPECT_EQ(stats.polls, 1u);
  EXPECT_EQ(stats.longest_nap.count(), 0);
}

// The idle wait sleeps instead of busy-polling. Counted, not timed: a 1 s wait makes at
// most ~200 polls (the schedule's bound, however loaded the machine is); a busy poll
// would make millions. The CPU share itself is measured in bench/dispatch.
TEST(MpiRecv, IdleWaitSleepsBetweenPolls) {
  MpiComm quiet = session().world().dup();
  PollStats stats;
  RecvOptions options;
  options.stats = &stats;
  const auto timeout = std::chrono::seconds(1);
  const auto start = Clock::now();
  EXPECT_FALSE(recv_any(quiet, timeout, options).has_value());
  EXPECT_GE(Clock::now() - start, timeout);
  RecordProperty("polls", static_cast<int>(stats.polls));
  EXPECT_LE(stats.polls, max_polls(timeout, options.backoff));
  EXPECT_LE(stats.longest_nap, options.backoff.max);
  EXPECT_GE(stats.polls, 2u);
  sync_all();
}

TEST(MpiRecv, RingOfMessagesWithSourceAndTagFilters) {
  MpiComm comm = session().world().dup();
  const int S = comm.size();
  const int me = comm.rank();
  const int next = (me + 1) % S, prev = (me + S - 1) % S;
  send_bytes(comm, next, /*tag=*/7, "from " + std::to_string(me));
  RecvOptions wrong_tag;
  wrong_tag.tag = 8;
  EXPECT_FALSE(recv_any(comm, std::chrono::milliseconds(20), wrong_tag).has_value());
  RecvOptions options;
  options.source = prev;
  options.tag = 7;
  auto msg = recv_any(comm, std::chrono::seconds(20), options);
  ASSERT_TRUE(msg.has_value());
  EXPECT_EQ(msg->source, prev);
  EXPECT_EQ(msg->tag, 7);
  EXPECT_EQ(msg->bytes, "from " + std::to_string(prev));
}

// A message that arrives while the receiver naps is picked up at the next poll, and no
// nap is longer than the cap: so it is at most `max` late. Asserted on the naps asked
// for, not on wall time (which a loaded machine stretches).
TEST(MpiRecv, LateMessageIsPickedUpWithinTheBackoffCap) {
  MpiComm comm = session().world().dup();
  if (comm.size() < 2) GTEST_SKIP() << "needs 2 ranks (run by multirank.test.sh)";
  if (comm.rank() == 0) {
    // Rank 1 is waiting: it said so. Then a 1 MiB (rendezvous) send.
    ASSERT_TRUE(recv_any(comm, std::chrono::seconds(60)).has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string big(1 << 20, 'x');
    send_bytes(comm, 1, 3, big);
  } else if (comm.rank() == 1) {
    PollStats stats;
    RecvOptions options;
    options.stats = &stats;
    options.tag = 3;
    send_bytes(comm, 0, 2, "waiting");
    auto msg = recv_any(comm, std::chrono::seconds(60), options);
    ASSERT_TRUE(msg.has_value());
    EXPECT_EQ(msg->bytes.size(), std::size_t{1} << 20);
    EXPECT_GE(stats.polls, 1u);
    EXPECT_LE(stats.longest_nap, options.backoff.max);
  }
}

TEST(MpiErrors, MessageNamesTheCallAndBothRanks) {
  MpiComm comm = session().world().dup();
  const int bad = comm.size() + 5;
  const std::string e = error_of([&] { send_bytes(comm, bad, 1, "x"); });
  EXPECT_NE(e.find("MPI_Isend to rank " + std::to_string(bad)), std::string::npos) << e;
  EXPECT_NE(e.find("this is rank " + std::to_string(comm.rank())), std::string::npos) << e;
  EXPECT_THROW(MpiComm().rank(), MpiError);
}

}  // namespace
}  // namespace mammosweep::cluster
