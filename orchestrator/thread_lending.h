#pragma once
// Idle ranks lend their intra-op threads to running trials on the same host (issue 13,
// "no idle ranks"). When no trial is left to start, a rank that waits for work holds cores
// that nobody uses (the tail of every sweep whose trial count is not a multiple of the
// ranks). The coordinator answers each epoch report with the threads the reporting rank
// trains its next epoch with; this file decides that number. A pure function of the rank
// table, tested against hand-built tables (tests/orchestrator/thread_lending_test.cpp).
//
// Only a single-rank CPU trial borrows: its leader is its only process, so one number
// changes it. (A data-parallel group would need every member to change at the same step;
// a GPU trial is not limited by its CPU threads.)
#include <map>
#include <string>

namespace mammosweep::orchestrator {

/// A worker rank as the lending rule sees it.
struct LendingRank {
  std::string host;
  int threads = 1;          ///< its own intra-op threads (Ready)
  bool lends = false;       ///< idle, and no trial is waiting to start
  bool can_borrow = false;  ///< leads a running single-rank CPU trial
};

/// The threads each borrower (can_borrow) trains with next: its own plus an even share of
/// the threads of the lenders on its host; the remainder goes one each to the lowest ranks.
/// Every borrower is in the result (with its own count when its host has no lender); other
/// ranks are not. A rank that both lends and borrows is a caller error: it only borrows.
std::map<int, int> lend_idle_threads(const std::map<int, LendingRank>& ranks);

}  // namespace mammosweep::orchestrator
