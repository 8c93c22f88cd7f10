#pragma once
// TrainerOptions for the trainer tests (trainer_test, trainer_group_test): checkpoints in
// `checkpoint_dir`, every epoch's record appended to `*epochs`, and the trial always proceeds.
// A test that needs another decision replaces on_epoch.
#include <string>
#include <vector>

#include "results/records.h"
#include "worker/trainer.h"

namespace mammosweep::test {

inline worker::TrainerOptions recording_options(const std::string& checkpoint_dir, int threads,
                                                std::vector<results::EpochRecord>* epochs) {
  worker::TrainerOptions o;
  o.checkpoint_dir = checkpoint_dir;
  o.threads = threads;
  o.prefetch_threads = 1;
  o.on_epoch = [epochs](const results::EpochRecord& r, const results::Predictions&) {
    epochs->push_back(r);
    return worker::EpochDecision::proceed;
  };
  return o;
}

}  // namespace mammosweep::test
