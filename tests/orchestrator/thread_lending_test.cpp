// The thread-lending rule (orchestrator/thread_lending.h) against hand-built rank tables.
#include "orchestrator/thread_lending.h"

#include <gtest/gtest.h>

namespace mammosweep::orchestrator {
namespace {

LendingRank idle(const std::string& host, int threads = 1) { return {host, threads, true, false}; }
LendingRank borrower(const std::string& host, int threads = 1) { return {host, threads, false, true}; }
LendingRank busy(const std::string& host, int threads = 1) { return {host, threads, false, false}; }

TEST(ThreadLending, TheLastTrialOnAHostGetsEveryIdleRanksThreads) {
  // The week-7 tail under mpirun -np 3: rank 1 idle, rank 2 runs Model 3.
  EXPECT_EQ(lend_idle_threads({{1, idle("a")}, {2, borrower("a")}}), (std::map<int, int>{{2, 2}}));
  // Three idle ranks of 4 threads each, one borrower of 4.
  EXPECT_EQ(lend_idle_threads({{1, idle("a", 4)}, {2, idle("a", 4)}, {3, idle("a", 4)},
                               {4, borrower("a", 4)}}),
            (std::map<int, int>{{4, 16}}));
}

TEST(ThreadLending, AHostsSpareThreadsAreSplitEvenlyTheRemainderToTheLowestRanks) {
  // 5 spare threads, 3 borrowers of 2: 2 + 2, 2 + 2, 2 + 1.
  EXPECT_EQ(lend_idle_threads({{1, idle("a", 2)}, {2, idle("a", 3)}, {3, borrower("a", 2)},
                               {5, borrower("a", 2)}, {4, borrower("a", 2)}}),
            (std::map<int, int>{{3, 4}, {4, 4}, {5, 3}}));
}

TEST(ThreadLending, ThreadsStayOnTheirHost) {
  // Host b's idle rank lends to b's trial only; a's trial has no lender and keeps its own.
  EXPECT_EQ(lend_idle_threads({{1, borrower("a", 2)}, {2, idle("b", 2)}, {3, borrower("b", 2)}}),
            (std::map<int, int>{{1, 2}, {3, 4}}));
}

TEST(ThreadLending, NobodyLendsWhileWorkWaitsAndNobodyBorrowsWithoutATrial) {
  // An idle rank that is about to get a queued trial does not lend (lends == false).
  EXPECT_EQ(lend_idle_threads({{1, busy("a")}, {2, borrower("a")}}), (std::map<int, int>{{2, 1}}));
  // Members of a data-parallel group and GPU trials do not borrow: nothing to decide.
  EXPECT_TRUE(lend_idle_threads({{1, idle("a")}, {2, busy("a")}, {3, busy("a")}}).empty());
  EXPECT_TRUE(lend_idle_threads({}).empty());
}

}  // namespace
}  // namespace mammosweep::orchestrator
