#pragma once
// The C library's allocator, set for a process that trains: memory a step frees stays in
// the process for the next step.
//
// Every training step allocates and frees the same large tensors (activations, their
// gradients, autocast copies: 8-100 MB each for ResNet50 at batch 32). glibc's defaults serve
// a block above its mmap threshold (128 KiB, raised at run time to at most 32 MiB) with a
// fresh mmap and unmap it when freed, and return the top of the heap to the kernel once more
// than the trim threshold is free there. So each step the kernel maps, zeroes and unmaps the
// same pages again: the trainer's steps took 11-20 % longer at 224 px and 2-6 % at 64 px on
// the Zen 5 guest (docs/performance.md section 7, "The allocator").
//
// keep_freed_memory_for_reuse() sets M_MMAP_MAX to 0 (no block gets its own mapping; other
// threads' arenas fall back to the main heap for blocks too large for them) and
// M_TRIM_THRESHOLD to -1 (the heap never shrinks). The price: the process keeps its
// peak heap until it exits, about the peak of one step plus what the trial keeps, which a
// training process needs again anyway. Idempotent; process-wide; a no-op under another
// malloc (tcmalloc and jemalloc ignore these settings).
namespace mammosweep::worker {

/// Returns false when the C library refused a setting (not glibc, or a sanitizer's malloc).
bool keep_freed_memory_for_reuse();

}  // namespace mammosweep::worker
