// keep_freed_memory_for_reuse(): a block freed by one "step" serves the next without the
// kernel mapping and zeroing its pages again. The measure is the process's minor page faults
// (getrusage), counted by the kernel, not a time. One test in this file on purpose: the
// setting is process-wide and the test needs the process's state from before it.
#include "worker/malloc_reuse.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace {

constexpr std::size_t kBlock = std::size_t{64} << 20;  // above glibc's largest mmap threshold

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// What a training step does with an activation: allocate it, write every byte, free it.
// Returns the minor page faults that cost.
long faults_of_one_step() {
  const long before = minor_faults();
  void* p = nullptr;
  if (posix_memalign(&p, 64, kBlock) != 0) return -1;  // as c10's CPU allocator allocates
  std::memset(p, 1, kBlock);
  asm volatile("" : : "r"(p) : "memory");  // the compiler may not drop the block
  std::free(p);
  return minor_faults() - before;
}

TEST(MallocReuseTest, AFreedBlockServesTheNextStepsWithoutPageFaults) {
  const long pages = static_cast<long>(kBlock / static_cast<std::size_t>(sysconf(_SC_PAGESIZE)));

  // glibc's defaults: the block gets a mapping of its own, unmapped by free, so every step
  // faults every page in again.
  for (int step = 0; step < 3; ++step) EXPECT_GT(faults_of_one_step(), pages * 9 / 10);

  ASSERT_TRUE(mammosweep::worker::keep_freed_memory_for_reuse());
  // The heap grows to hold the block. posix_memalign asks for a little more than the block
  // and splits off small fragments that glibc's per-thread cache keeps (7 of each size), so
  // a freed block cannot merge back at first and the heap grows once per step until that
  // cache is full: 9 blocks here. With the many sizes of a real step the peak resident set
  // stays within 1-5 % of glibc's defaults (docs/performance.md section 7, "The allocator").
  for (int step = 0; step < 12; ++step) faults_of_one_step();
  for (int step = 0; step < 5; ++step) EXPECT_LT(faults_of_one_step(), pages / 10);
  // The block lives in the heap, with no mapping of its own, and the heap stops growing.
  EXPECT_LT(mallinfo2().hblkhd, kBlock);  // (blocks mapped before the setting stay mapped)
  EXPECT_GE(mallinfo2().fordblks, kBlock);  // freed, and kept
  EXPECT_LE(mallinfo2().arena, 16 * kBlock);
}

}  // namespace
