#pragma once
// Option blocks shared by several subcommands, written once so that their names, checks and
// help agree everywhere.
#include <string>

namespace CLI {
class App;
}

namespace mammosweep::orchestrator {

struct RankingChoice;
struct RunOptions;

/// The positional DIR: a sweep output folder (status, leaderboard, plot, export, evaluate).
void add_sweep_dir_option(CLI::App& cmd, std::string& dir);

/// --metric, --goal, --by, --ci-resamples: how trials are ranked (leaderboard, plot, export).
void add_ranking_options(CLI::App& cmd, RankingChoice& choice);

/// --set, --data-root, --cache-dir, --threads, --no-progress, --profile: how a sweep runs
/// (run, train).
void add_run_options(CLI::App& cmd, RunOptions& opt);

}  // namespace mammosweep::orchestrator
