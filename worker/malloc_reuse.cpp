#include "worker/malloc_reuse.h"

#include <malloc.h>

namespace mammosweep::worker {

bool keep_freed_memory_for_reuse() {
  // mallopt returns 1 on success; M_TRIM_THRESHOLD -1 "disables trimming completely"
  // (mallopt(3)).
  const bool no_mmap = mallopt(M_MMAP_MAX, 0) == 1;
  const bool no_trim = mallopt(M_TRIM_THRESHOLD, -1) == 1;
  return no_mmap && no_trim;
}

}  // namespace mammosweep::worker
