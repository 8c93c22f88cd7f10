#pragma once
// One MpiSession per test process, created before the first test and finalised after the
// last (MPI cannot be initialised twice). The cluster tests run either as a singleton
// (world of 1, ctest's plain run) or under mpirun -np N (tests/cluster/multirank.test.sh);
// each test reads the world size at run time and checks what that size allows.
//
// Under mpirun every rank runs every test in the same order, so tests that use collectives
// must call them on all ranks unconditionally: use EXPECT_*, not ASSERT_*, before a
// collective, or a failing rank leaves the others waiting.
#include <gtest/gtest.h>

#include <memory>

#include "cluster/mpi.h"

namespace mammosweep::cluster::testing {

class MpiEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { session_slot() = std::make_unique<MpiSession>(); }
  void TearDown() override { session_slot().reset(); }

  static MpiSession& session() { return *session_slot(); }

 private:
  static std::unique_ptr<MpiSession>& session_slot() {
    static std::unique_ptr<MpiSession> slot;
    return slot;
  }
};

inline ::testing::Environment* const kMpiEnvironment =
    ::testing::AddGlobalTestEnvironment(new MpiEnvironment);

inline MpiSession& session() { return MpiEnvironment::session(); }

}  // namespace mammosweep::cluster::testing
