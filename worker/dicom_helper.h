// DICOM decoding in helper processes, so that a file that crashes GDCM costs that file only.
//
// Debian's GDCM aborts on its assertions and a few corrupt streams make it read out of bounds;
// fuzzing found more such sites than a pre-check can rule out (docs/reliability.md, "DICOM").
// So the product never runs GDCM in its own process: decode_dicom_isolated() hands the file's
// bytes to a helper program, mammosweep-dicom, over a socket and gets the Image (or the
// ImageError) back. When the helper dies, the caller gets an ImageError naming the file, the
// signal and GDCM's last words (the failed assertion), so `on_bad_image: skip` skips it and
// `error` names it; the next call starts a new helper.
//
// Helpers are pooled: a call takes an idle one or starts one (posix_spawn: safe in a process
// with threads, MPI or CUDA, since the child execs at once), so the cache build's decoding
// threads each get their own. A helper exits when its socket closes: with this process,
// or at pool teardown. It ignores the stop signals (SIGINT, SIGTERM, SIGUSR1, SIGHUP), which
// are for this process: a helper killed by Ctrl-C mid-file would make a good image "bad".
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "worker/image.h"

namespace mammosweep::worker {

/// The helper program cannot be started or answers nonsense: an installation problem, not a
/// bad file, so callers that skip bad images must not skip this one.
class DicomHelperError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// decode_dicom_memory() (worker/dicom.h) run in a helper process. Throws ImageError for a bad
/// file, including one that crashes or kills the helper, and DicomHelperError when no helper
/// can be started. Safe to call from several threads at once.
Image decode_dicom_isolated(const std::uint8_t* data, std::size_t size, const std::string& name);

/// Ends the idle helpers; the next call starts new ones. The image cache calls it when a
/// build is done (a helper keeps up to 1 GiB of heap for the next file, not worth holding
/// through training); also for a process about to fork (the child would share their
/// sockets) and for tests that change MAMMOSWEEP_DICOM_HELPER.
void stop_idle_dicom_helpers();

/// The helper program's path: $MAMMOSWEEP_DICOM_HELPER, else mammosweep-dicom next to this
/// executable, else the one this build made.
std::string dicom_helper_path();

/// The helper's side: answers requests on the socket `fd` until it closes. Returns 0 then, or
/// 1 when the socket breaks mid-message.
int serve_dicom_requests(int fd);

}  // namespace mammosweep::worker
