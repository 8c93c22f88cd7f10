#pragma once
// The results store of a run: created for a new sweep (with its provenance), or reopened to
// resume one (refusing a changed spec unless allowed), and told which Slurm jobs ran it.
#include <string>
#include <vector>

#include "orchestrator/run_setup.h"
#include "results/store.h"
#include "worker/data.h"

namespace mammosweep::orchestrator {

/// Creates OUT/results.h5, or opens it for append when it exists. A spec whose text changed
/// since the store was created is refused (InputError with a line diff) unless
/// opt.allow_spec_change; then the recorded trials are kept and `s.trials` is narrowed to
/// the spec's new ones. `hosts`: every rank's hostname (provenance of a new store).
results::SweepStore open_store(const RunOptions& opt, Setup& s,
                               const worker::PreparedData& data,
                               const std::vector<std::string>& hosts);

/// Lines of `a` missing from `b` ("-") and of `b` missing from `a` ("+"), in order.
std::string line_diff(const std::string& a, const std::string& b);

}  // namespace mammosweep::orchestrator
