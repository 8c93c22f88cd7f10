// `mammosweep submit SPEC --out DIR`: submit the sweep as a Slurm batch job that checkpoints
// and requeues itself before its time limit (cluster/slurm.h has the script's protocol).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "cluster/slurm.h"
#include "io/files.h"
#include "orchestrator/cli.h"
#include "sweeps/parse.h"

namespace mammosweep::orchestrator {

namespace {

struct SubmitCli {
  std::string spec, out, binary, launcher = "srun";
  int nodes = 0, ntasks_per_node = 0, gpus_per_node = 0, cpus_per_task = 0;
  int signal_grace = 0, max_requeues = 0, max_relaunches = 0;
  std::string time, partition, account, qos;
  std::vector<std::string> env;
  bool dry_run = false, wait = false;
  // Flags given on the command line override the spec's `slurm:` defaults.
  CLI::App* cmd = nullptr;
  bool given(const char* flag) const { return cmd->get_option(flag)->count() > 0; }
};

cluster::SubmitOptions build_options(const SubmitCli& cli, const sweeps::SweepSpec& spec) {
  cluster::SubmitOptions o = cluster::options_from_spec(spec.slurm);
  if (cli.given("--nodes")) o.nodes = cli.nodes;
  if (cli.given("--ntasks-per-node")) o.ntasks_per_node = cli.ntasks_per_node;
  if (cli.given("--gpus-per-node")) o.gpus_per_node = cli.gpus_per_node;
  if (cli.given("--cpus-per-task")) o.cpus_per_task = cli.cpus_per_task;
  if (cli.given("--time")) o.time = cli.time;
  if (cli.given("--partition")) o.partition = cli.partition;
  if (cli.given("--account")) o.account = cli.account;
  if (cli.given("--qos")) o.qos = cli.qos;
  if (cli.given("--signal-grace")) o.signal_grace = cli.signal_grace;
  if (cli.given("--max-requeues")) o.max_requeues = cli.max_requeues;
  if (cli.given("--max-relaunches")) o.max_relaunches = cli.max_relaunches;
  o.job_name = cluster::job_name_for(spec.name);
  o.spec_path = io::absolute_path(cli.spec);
  o.out_dir = io::absolute_path(cli.out);
  o.work_dir = io::current_dir();
  // The program users call (results_main.cpp), next to this one, rather than this one.
  const std::string self = io::read_link("/proc/self/exe");
  const std::string front = io::join_path(io::parent_dir(self), "mammosweep");
  o.mammosweep_binary = !cli.binary.empty()      ? io::absolute_path(cli.binary)
                        : io::file_exists(front) ? front
                                                 : self;
  o.launcher = cluster::parse_launcher(cli.launcher);
  for (const auto& kv : cli.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      throw std::invalid_argument(fmt::format("--env: expected NAME=VALUE, got '{}'", kv));
    }
    o.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  o.dry_run = cli.dry_run;
  return o;
}

std::string describe(const cluster::JobState& st) {
  if (st.status == cluster::JobStatus::unknown) return "unknown to the controller (purged?)";
  std::string text = st.state;
  if (st.exit_code >= 0) text += fmt::format(", exit code {}:{}", st.exit_code, st.exit_signal);
  if (st.restarts >= 0) text += fmt::format(", restarts {}", st.restarts);
  if (!st.reason.empty() && st.reason != "None") text += ", reason " + st.reason;
  return text;
}

/// Polls until the job reaches a terminal state; prints every change. 0 when COMPLETED with
/// exit code 0, 1 otherwise.
int wait_for(const std::string& id) {
  std::string last;
  for (;;) {
    cluster::JobState st = cluster::query_job(id);
    std::string now = describe(st);
    if (now != last) std::cout << fmt::format("job {}: {}", id, now) << std::endl;
    last = now;
    if (st.status == cluster::JobStatus::unknown) return kExitFailure;
    if (st.terminal()) {
      return st.status == cluster::JobStatus::completed && st.exit_code <= 0 ? kExitOk
                                                                              : kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

int submit(const SubmitCli& cli) {
  sweeps::SweepSpec spec = sweeps::load_spec(cli.spec);  // an invalid spec never reaches Slurm
  cluster::SubmitOptions options;
  try {
    options = build_options(cli, spec);
    if (options.dry_run) {
      std::cout << cluster::render_batch_script(options);
      return kExitOk;
    }
    cluster::validate(options);
  } catch (const std::invalid_argument& e) {
    std::cerr << "mammosweep submit: " << e.what() << "\n";
    return kExitUsage;
  }
  std::string id = cluster::submit(options);
  std::cout << fmt::format(
      "submitted job {} ({} node{} x {} task{}, time limit {})\n"
      "script: {}\n"
      "logs:   {}/logs/slurm-{}.out and .err (appended to across requeues)\n"
      "watch:  squeue -j {}   or   mammosweep status {}\n",
      id, options.nodes, options.nodes == 1 ? "" : "s", options.ntasks_per_node,
      options.ntasks_per_node == 1 ? "" : "s", options.time, cluster::batch_script_path(options),
      options.out_dir, id, id, options.out_dir);
  std::cout.flush();
  return cli.wait ? wait_for(id) : kExitOk;
}

}  // namespace

Command add_submit_command(CLI::App& app) {
  auto opt = std::make_shared<SubmitCli>();
  CLI::App* cmd = app.add_subcommand(
      "submit", "Submit the sweep as a Slurm batch job that checkpoints and requeues itself");
  opt->cmd = cmd;
  cmd->add_option("SPEC", opt->spec, "Sweep spec (YAML)")->required();
  cmd->add_option("--out", opt->out, "Output folder of the sweep (logs go to OUT/logs)")
      ->required();
  cmd->add_option("--nodes", opt->nodes, "Nodes (default: spec slurm.nodes)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ntasks-per-node", opt->ntasks_per_node, "MPI ranks per node")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--gpus-per-node", opt->gpus_per_node, "GPUs per node (0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--cpus-per-task", opt->cpus_per_task, "CPUs per rank")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--time", opt->time, "Time limit, HH:MM:SS (or D-HH:MM:SS)");
  cmd->add_option("--partition", opt->partition, "Slurm partition");
  cmd->add_option("--account", opt->account, "Slurm account");
  cmd->add_option("--qos", opt->qos, "Slurm QOS");
  cmd->add_option("--signal-grace", opt->signal_grace,
                  "Seconds of USR1 warning before the time limit")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-requeues", opt->max_requeues,
                  "Self-requeues after a checkpoint (0: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-relaunches", opt->max_relaunches,
                  "Relaunches inside the job after a process of it died (0: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--launcher", opt->launcher, "How ranks start inside the job")
      ->check(CLI::IsMember({"srun", "mpirun"}))
      ->capture_default_str();
  cmd->add_option("--binary", opt->binary,
                  "mammosweep as the compute nodes see it (default: this binary)");
  cmd->add_option("--env", opt->env, "Extra NAME=VALUE exported in the job (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--dry-run", opt->dry_run, "Print the batch script; submit nothing");
  cmd->add_flag("--wait", opt->wait,
                "Wait until the job ends; exit 0 only if it COMPLETED with exit code 0");
  return [opt, cmd]() { return cmd->parsed() ? submit(*opt) : -1; };
}

}  // namespace mammosweep::orchestrator
