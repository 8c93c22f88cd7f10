// mammosweep-dicom: the DICOM decoding helper (worker/dicom_helper.h). Started by
// decode_dicom_isolated() as `mammosweep-dicom --serve-fd 3`; not meant to be run by hand.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "worker/dicom_helper.h"

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "--serve-fd") != 0) {
    std::fprintf(stderr,
                 "usage: mammosweep-dicom --serve-fd FD\n"
                 "The DICOM decoding helper of mammosweep, which starts it (worker/dicom_helper.h).\n");
    return 2;
  }
  // The stop signals (a terminal's Ctrl-C reaches the whole process group; Slurm and mpirun
  // send SIGTERM and SIGUSR1) are for the program that started this one: it finishes or
  // checkpoints, and this helper exits when its socket closes. Dying of one mid-file would
  // turn a good image into a "crashed" bad one, which the image cache would then remember.
  for (const int sig : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) ::signal(sig, SIG_IGN);
  // Every file allocates buffers of the image's size (the file, GDCM's decode, the answer).
  // Kept in the heap between files instead of mapped and unmapped each time, they are not
  // faulted in afresh per file (about a third of the helper's time on uncompressed images).
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return mammosweep::worker::serve_dicom_requests(std::atoi(argv[2]));
}
