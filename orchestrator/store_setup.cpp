#include "orchestrator/store_setup.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>

#include "cluster/mpi.h"
#include "cluster/slurm.h"
#include "io/files.h"
#include "orchestrator/cli.h"
#include "orchestrator/sweep_results.h"
#include "sweeps/params.h"
#include "worker/cache.h"

namespace mammosweep::orchestrator {

std::string line_diff(const std::string& a, const std::string& b) {
  auto lines = [](const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
      std::size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  };
  auto la = lines(a), lb = lines(b);
  std::multiset<std::string> sa(la.begin(), la.end()), sb(lb.begin(), lb.end());
  std::string out;
  for (std::size_t i = 0; i < la.size(); ++i) {
    if (!sb.count(la[i])) out += fmt::format("  - {:>4}: {}\n", i + 1, la[i]);
  }
  for (std::size_t i = 0; i < lb.size(); ++i) {
    if (!sa.count(lb[i])) out += fmt::format("  + {:>4}: {}\n", i + 1, lb[i]);
  }
  return out;
}

namespace {
std::vector<results::TrialInit> trial_inits(const std::vector<sweeps::Trial>& trials) {
  std::vector<results::TrialInit> inits;
  for (const auto& t : trials) {
    inits.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
  }
  return inits;
}
}  // namespace

results::SweepStore open_store(const RunOptions& opt, Setup& s,
                               const worker::PreparedData& data,
                               const std::vector<std::string>& hosts) {
  const std::string store_file = results::store_path(opt.out_dir);
  const bool existing = io::file_exists(store_file);
  std::optional<results::SweepStore> store;
  if (existing) {
    results::SweepSnapshot snap = results::read_store(store_file);
    if (snap.info.spec_yaml != s.spec.source_text) {
      if (!opt.allow_spec_change) {
        throw InputError(fmt::format(
            "{}: the spec changed since this sweep started; refusing to resume.\n{}"
            "Use --allow-spec-change to keep the recorded trials and append the new ones.",
            opt.spec_path, line_diff(snap.info.spec_yaml, s.spec.source_text)));
      }
      // Keep the recorded trials; run only the spec's new ones.
      std::set<std::string> known;
      for (const auto& t : snap.trials) known.insert(t.id);
      std::vector<sweeps::Trial> fresh;
      for (const auto& t : s.trials) {
        if (!known.count(t.id)) fresh.push_back(t);
      }
      std::cout << fmt::format("spec changed: keeping {} recorded trial(s), adding {} new\n",
                               known.size(), fresh.size());
      s.trials = fresh;
    }
    store.emplace(results::SweepStore::open_for_append(store_file, trial_inits(s.trials)));
  } else {
    results::SweepInfo info;
    info.tool_version = MAMMOSWEEP_VERSION;
    info.spec_yaml = s.spec.source_text;
    info.spec_overrides = s.spec.overrides;
    info.spec_effective_yaml = s.spec.effective_text;
    info.spec_hash = fmt::format("{:016x}", worker::fnv1a64(s.spec.source_text.data(),
                                                             s.spec.source_text.size()));
    info.libtorch_version = MAMMOSWEEP_TORCH_VERSION;
    info.cuda_version = MAMMOSWEEP_CUDA_VERSION;
    info.nccl_version = MAMMOSWEEP_NCCL_VERSION;
    info.mpi_version = cluster::MpiSession::library_version();
    info.hostnames = std::vector<std::string>(hosts.begin(), hosts.end());
    std::sort(info.hostnames.begin(), info.hostnames.end());
    info.hostnames.erase(std::unique(info.hostnames.begin(), info.hostnames.end()),
                         info.hostnames.end());
    info.data_manifest_hash = data.manifest_hash;
    info.leakage_report_json = data.leakage.to_json();
    store.emplace(results::SweepStore::create(store_file, info, trial_inits(s.trials)));
  }
  // Slurm jobs that ran this sweep: those `submit` recorded, and the one we run in.
  {
    std::vector<std::string> jobs = results::read_store(store_file).info.slurm_job_ids;
    std::vector<std::string> seen_now = cluster::recorded_job_ids(opt.out_dir);
    if (const char* id = std::getenv("SLURM_JOB_ID"); id && *id) seen_now.push_back(id);
    for (const auto& id : seen_now) {
      if (std::find(jobs.begin(), jobs.end(), id) == jobs.end()) {
        store->add_job_id(id);
        jobs.push_back(id);
      }
    }
  }
  return std::move(*store);
}

}  // namespace mammosweep::orchestrator
