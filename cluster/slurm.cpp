#include "cluster/slurm.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "io/files.h"
#include "io/process.h"

namespace mammosweep::cluster {

namespace {

/// io::run_process, with Slurm's hint when the program cannot be started.
io::ProcessResult run_process(const std::vector<std::string>& argv) {
  try {
    return io::run_process(argv);
  } catch (const io::ProcessError& e) {
    throw SlurmError(fmt::format("{} (is the Slurm client installed and on PATH?)", e.what()));
  }
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string first_line(const std::string& s) {
  std::string t = trim(s);
  return t.substr(0, t.find('\n'));
}

std::string failure_message(const std::vector<std::string>& argv, const io::ProcessResult& r) {
  std::string err = trim(r.err);
  return fmt::format("'{}' exited with status {}: {}", io::command_text(argv), r.exit_code,
                     err.empty() ? "(no message on stderr)" : err);
}

/// Single-quotes `s` for bash: 'it'\''s'.
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

void require(bool ok, const std::string& field, const std::string& seen,
             const std::string& expected) {
  if (!ok) {
    throw std::invalid_argument(
        fmt::format("submit option {}: expected {}, got '{}'", field, expected, seen));
  }
}

void require_path(const std::string& field, const std::string& path) {
  bool ok = !path.empty() && path.front() == '/' &&
            path.find_first_of(" \t\r\n\"'%\\") == std::string::npos;
  require(ok, field, path,
          "an absolute path without whitespace, quotes, '%' or '\\' (Slurm splits #SBATCH "
          "lines on whitespace and expands '%')");
}

bool is_token(const std::string& s) {  // partition, account, qos: Slurm names, lists allowed
  static const std::regex re("[A-Za-z0-9_.,:+@-]+");
  return std::regex_match(s, re);
}

}  // namespace

// ---- Options ----

const char* to_string(Launcher launcher) {
  return launcher == Launcher::srun ? "srun" : "mpirun";
}

Launcher parse_launcher(const std::string& text) {
  if (text == "srun") return Launcher::srun;
  if (text == "mpirun") return Launcher::mpirun;
  throw std::invalid_argument(
      fmt::format("launcher: expected 'srun' or 'mpirun', got '{}'", text));
}

SubmitOptions options_from_spec(const sweeps::SlurmDefaults& d) {
  SubmitOptions o;
  o.partition = d.partition;
  o.account = d.account;
  o.qos = d.qos;
  o.time = d.time;
  o.nodes = d.nodes;
  o.ntasks_per_node = d.ntasks_per_node;
  o.gpus_per_node = d.gpus_per_node;
  o.cpus_per_task = d.cpus_per_task;
  o.signal_grace = d.signal_grace;
  o.max_requeues = d.max_requeues;
  o.max_relaunches = d.max_relaunches;
  return o;
}

std::string job_name_for(const std::string& spec_name) {
  std::string name = "mammosweep-" + spec_name;
  for (char& c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return name;
}

void validate(const SubmitOptions& o) {
  require(o.nodes >= 1, "nodes", std::to_string(o.nodes), "an integer >= 1");
  require(o.ntasks_per_node >= 1, "ntasks_per_node", std::to_string(o.ntasks_per_node),
          "an integer >= 1");
  require(o.gpus_per_node >= 0, "gpus_per_node", std::to_string(o.gpus_per_node),
          "an integer >= 0");
  require(o.cpus_per_task >= 1, "cpus_per_task", std::to_string(o.cpus_per_task),
          "an integer >= 1");
  require(o.signal_grace >= 1, "signal_grace", std::to_string(o.signal_grace),
          "seconds >= 1");
  require(o.max_requeues >= 0, "max_requeues", std::to_string(o.max_requeues),
          "an integer >= 0");
  require(o.max_relaunches >= 0, "max_relaunches", std::to_string(o.max_relaunches),
          "an integer >= 0");
  static const std::regex time_re("([0-9]+-)?[0-9]+(:[0-9]{2}){0,2}");
  require(std::regex_match(o.time, time_re), "time", o.time,
          "HH:MM:SS, MM, MM:SS or D-HH:MM:SS");
  require(o.partition.empty() || is_token(o.partition), "partition", o.partition,
          "a Slurm name ([A-Za-z0-9_.,:+@-])");
  require(o.account.empty() || is_token(o.account), "account", o.account,
          "a Slurm name ([A-Za-z0-9_.,:+@-])");
  require(o.qos.empty() || is_token(o.qos), "qos", o.qos, "a Slurm name ([A-Za-z0-9_.,:+@-])");
  static const std::regex name_re("[A-Za-z0-9._-]+");
  require(std::regex_match(o.job_name, name_re), "job_name", o.job_name, "[A-Za-z0-9._-]+");
  require_path("spec_path", o.spec_path);
  require_path("out_dir", o.out_dir);
  require_path("mammosweep_binary", o.mammosweep_binary);
  require_path("work_dir", o.work_dir);
  static const std::regex env_re("[A-Za-z_][A-Za-z0-9_]*");
  for (const auto& [name, value] : o.env) {
    require(std::regex_match(name, env_re), "env", name + "=" + value,
            "NAME=VALUE with NAME matching [A-Za-z_][A-Za-z0-9_]*");
    require(value.find('\n') == std::string::npos, "env", name, "a value without newlines");
  }
}

// ---- The batch script ----

std::string render_batch_script(const SubmitOptions& o) {
  validate(o);
  std::string s = "#!/bin/bash\n";
  auto sbatch = [&s](const std::string& option) { s += "#SBATCH " + option + "\n"; };
  sbatch("--job-name=" + o.job_name);
  sbatch(fmt::format("--nodes={}", o.nodes));
  sbatch(fmt::format("--ntasks-per-node={}", o.ntasks_per_node));
  sbatch(fmt::format("--cpus-per-task={}", o.cpus_per_task));
  if (o.gpus_per_node > 0) sbatch(fmt::format("--gpus-per-node={}", o.gpus_per_node));
  sbatch("--time=" + o.time);
  if (!o.partition.empty()) sbatch("--partition=" + o.partition);
  if (!o.account.empty()) sbatch("--account=" + o.account);
  if (!o.qos.empty()) sbatch("--qos=" + o.qos);
  sbatch(fmt::format("--signal=B:USR1@{}", o.signal_grace));
  sbatch("--requeue");
  sbatch("--open-mode=append");
  sbatch("--output=" + o.out_dir + "/logs/slurm-%j.out");
  sbatch("--error=" + o.out_dir + "/logs/slurm-%j.err");
  sbatch("--chdir=" + o.work_dir);

  const bool srun = o.launcher == Launcher::srun;
  // mpirun turns a TERM into "kill the ranks about a second later", so it gets USR1 (which it
  // forwards to every rank) for both; srun forwards whatever it gets to the ranks unchanged.
  const std::string forwarded = srun ? "\"$1\"" : "USR1";
  std::string run_args = fmt::format("{} run {} --out {} --resume", shell_quote(o.mammosweep_binary),
                                     shell_quote(o.spec_path), shell_quote(o.out_dir));
  // The launch runs under `mammosweep supervise`, which relaunches it (resuming) when a rank
  // died, and passes the trap's signals on to it unchanged.
  const std::string supervise = fmt::format("{} supervise --max-relaunches {} --",
                                            shell_quote(o.mammosweep_binary), o.max_relaunches);

  s += fmt::format(R"SH(
# Generated by `mammosweep submit`; change the spec or the flags rather than this file.
# On USR1 (sent {grace} s before the time limit, or on preemption) or TERM, the trap forwards
# the signal to the launcher; `mammosweep run` checkpoints at the next step boundary and exits
# 3. After a USR1, the job then requeues itself (at most {max} times) and the rerun resumes
# (--resume). A TERM alone (scancel, or Slurm ending the job) checkpoints but never requeues:
# a cancelled job stays cancelled.
# SIGCONT is deliberately not trapped: Slurm sends it with the warning signal.
set -u
max_requeues={max}
restarts="${{SLURM_RESTART_COUNT:-0}}"
log() {{ echo "[mammosweep-batch $(date '+%F %T')] job ${{SLURM_JOB_ID:-?}} restart $restarts: $*"; }}

export OMP_NUM_THREADS="${{SLURM_CPUS_PER_TASK:-1}}"
export OMPI_MCA_btl_base_warn_component_unused=0
)SH",
                   fmt::arg("grace", o.signal_grace), fmt::arg("max", o.max_requeues));
  for (const auto& [name, value] : o.env) s += "export " + name + "=" + shell_quote(value) + "\n";

  s += fmt::format(R"SH(
launcher_pid=""
stop_signal=""
warned=""
interrupted=""
on_signal() {{
  stop_signal="$1"
  [ "$1" = USR1 ] && warned=1
  interrupted=1
  log "received SIG$1; asking the sweep to checkpoint (SIG{fwd_text} to launcher ${{launcher_pid:-not started}})"
  [ -n "$launcher_pid" ] && kill -s {fwd} "$launcher_pid" 2>/dev/null
  return 0
}}
trap 'on_signal USR1' USR1
trap 'on_signal TERM' TERM

)SH",
                   fmt::arg("fwd", forwarded),
                   fmt::arg("fwd_text", srun ? "$1" : "USR1"));
  if (srun) {
    s += "launcher=(" + supervise + "\n          srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task=\"${SLURM_CPUS_PER_TASK:-1}\"\n"
         "          " + run_args + ")\n";
  } else {
    s += "launcher=(" + supervise + " mpirun)\n"
         "[ \"$(id -u)\" = 0 ] && launcher+=(--allow-run-as-root)\n"
         "launcher+=(-np \"${SLURM_NTASKS:?}\" --bind-to none\n"
         "          " + run_args + ")\n";
  }
  s += fmt::format(R"SH(log "starting: ${{launcher[*]}}"
# In the background, so that a trapped signal interrupts `wait` at once.
"${{launcher[@]}}" &
launcher_pid=$!
# A signal that came before launcher_pid was set has not been forwarded yet.
[ -n "$stop_signal" ] && kill -s {fwd_late} "$launcher_pid" 2>/dev/null
while :; do
  interrupted=""
  wait "$launcher_pid"
  rc=$?
  [ -n "$interrupted" ] || break  # a trap interrupted wait: the launcher may still run
done
log "launcher exited with status $rc"
# After a forwarded USR1, a launcher ended by a signal (status 128+N) is a stop too: the
# warning reached ranks still starting up (138: SIGUSR1 before they catch it), or the step
# was torn down when the first rank exited 3 (kill-on-bad-exit) and a rank died in that
# teardown. Every reported epoch is in results.h5 either way, so it counts as exit 3.
if [ -n "$warned" ] && [ "$rc" -gt 128 ]; then
  log "the launcher ended by signal $((rc - 128)) after SIGUSR1; every reported epoch is kept"
  rc=3
fi

if [ -n "$stop_signal" ] && [ -z "$warned" ] && [ "$rc" -eq 3 ]; then
  log "checkpointed after SIG$stop_signal (scancel, or Slurm ending the job); not requeueing; resume by submitting again with the same --out"
elif [ -n "$warned" ] && [ "$rc" -eq 3 ]; then
  if [ "$restarts" -lt "$max_requeues" ]; then
    log "checkpointed after SIGUSR1; requeueing (restart $((restarts + 1)) of at most $max_requeues)"
    scontrol requeue "$SLURM_JOB_ID" && exit 0
    log "scontrol requeue failed; resume by submitting again with the same --out"
  else
    log "checkpointed after SIGUSR1; not requeueing: $restarts of $max_requeues requeues used; resume by submitting again with the same --out"
  fi
fi
exit "$rc"
)SH",
                   fmt::arg("fwd_late", srun ? "\"$stop_signal\"" : "USR1"));
  return s;
}

std::string batch_script_path(const SubmitOptions& o) { return o.out_dir + "/submit.sbatch"; }

std::string parse_sbatch_id(const std::string& sbatch_stdout) {
  std::string line = first_line(sbatch_stdout);
  std::string id = line.substr(0, line.find(';'));
  static const std::regex id_re("[0-9]+(_[0-9]+)?");
  if (!std::regex_match(id, id_re)) {
    throw SlurmError(fmt::format(
        "sbatch --parsable: expected 'JOBID' or 'JOBID;CLUSTER' on stdout, got '{}'", line));
  }
  return id;
}

std::vector<std::string> recorded_job_ids(const std::string& out_dir) {
  std::vector<std::string> ids;
  std::ifstream in(out_dir + "/slurm_jobs.txt");
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find_first_of(" \t\r"));
    if (!line.empty() && std::find(ids.begin(), ids.end(), line) == ids.end()) ids.push_back(line);
  }
  return ids;
}

std::string submit(const SubmitOptions& o) {
  std::string script = render_batch_script(o);
  if (o.dry_run) return "";
  io::make_dirs(io::join_path(o.out_dir, "logs"));
  const std::string path = batch_script_path(o);
  io::write_file_atomic(path, script);
  const std::vector<std::string> argv{"sbatch", "--parsable", path};
  io::ProcessResult r = run_process(argv);
  if (r.exit_code != 0) throw SlurmError(failure_message(argv, r));
  std::string id = parse_sbatch_id(r.out);
  const std::string jobs = o.out_dir + "/slurm_jobs.txt";
  std::ofstream f(jobs, std::ios::app);
  f << id << "\n";
  f.close();
  if (!f) {
    throw std::runtime_error(
        fmt::format("job {} was submitted, but recording it in {} failed", id, jobs));
  }
  return id;
}

// ---- Job states ----

const char* to_string(JobStatus s) {
  switch (s) {
    case JobStatus::unknown: return "unknown";
    case JobStatus::pending: return "pending";
    case JobStatus::running: return "running";
    case JobStatus::completing: return "completing";
    case JobStatus::requeued: return "requeued";
    case JobStatus::suspended: return "suspended";
    case JobStatus::preempted: return "preempted";
    case JobStatus::completed: return "completed";
    case JobStatus::failed: return "failed";
    case JobStatus::cancelled: return "cancelled";
    case JobStatus::timeout: return "timeout";
    case JobStatus::node_fail: return "node_fail";
    case JobStatus::out_of_memory: return "out_of_memory";
    case JobStatus::other: return "other";
  }
  return "other";
}

JobStatus parse_job_status(const std::string& text) {
  // "CANCELLED by 0" (squeue, scontrol), "CANCELLED+" (sacct): the word is what counts.
  std::string word = trim(text);
  word = word.substr(0, word.find_first_of(" +"));
  static const std::map<std::string, JobStatus> table{
      {"PENDING", JobStatus::pending},       {"CONFIGURING", JobStatus::pending},
      {"REQUEUE_HOLD", JobStatus::pending},  {"RESV_DEL_HOLD", JobStatus::pending},
      {"SPECIAL_EXIT", JobStatus::pending},  {"RUNNING", JobStatus::running},
      {"SIGNALING", JobStatus::running},     {"STAGE_OUT", JobStatus::running},
      {"RESIZING", JobStatus::running},      {"COMPLETING", JobStatus::completing},
      {"REQUEUED", JobStatus::requeued},     {"REQUEUE_FED", JobStatus::requeued},
      {"SUSPENDED", JobStatus::suspended},   {"STOPPED", JobStatus::suspended},
      {"PREEMPTED", JobStatus::preempted},   {"COMPLETED", JobStatus::completed},
      {"FAILED", JobStatus::failed},         {"BOOT_FAIL", JobStatus::failed},
      {"DEADLINE", JobStatus::failed},       {"CANCELLED", JobStatus::cancelled},
      {"TIMEOUT", JobStatus::timeout},       {"NODE_FAIL", JobStatus::node_fail},
      {"OUT_OF_MEMORY", JobStatus::out_of_memory},
  };
  if (word.empty()) return JobStatus::unknown;
  auto it = table.find(word);
  return it == table.end() ? JobStatus::other : it->second;
}

bool is_terminal(JobStatus s) {
  switch (s) {
    case JobStatus::completed:
    case JobStatus::failed:
    case JobStatus::cancelled:
    case JobStatus::timeout:
    case JobStatus::node_fail:
    case JobStatus::out_of_memory:
    case JobStatus::preempted:
      return true;
    default:
      return false;
  }
}

JobState parse_scontrol_job(const std::string& line) {
  // Key=Value pairs separated by spaces. A token without '=' (or whose would-be key is not a
  // plain word) continues the previous value, so a value with spaces (JobName, Comment) stays
  // whole; values with '=' inside (TRES=cpu=2,mem=1G) split at the first '='.
  std::map<std::string, std::string> kv;
  std::string last;
  std::istringstream in(trim(line));
  std::string token;
  static const std::regex key_re("[A-Za-z][A-Za-z0-9_:/]*");
  while (in >> token) {
    size_t eq = token.find('=');
    if (eq != std::string::npos && eq > 0 && std::regex_match(token.substr(0, eq), key_re)) {
      last = token.substr(0, eq);
      kv[last] = token.substr(eq + 1);
    } else if (!last.empty()) {
      kv[last] += " " + token;
    }
  }
  auto need = [&](const char* key) -> const std::string& {
    auto it = kv.find(key);
    if (it == kv.end()) {
      throw SlurmError(fmt::format("scontrol -o show job: expected a {}= field in '{}'", key,
                                   first_line(line)));
    }
    return it->second;
  };
  JobState st;
  st.id = need("JobId");
  st.state = need("JobState");
  st.status = parse_job_status(st.state);
  if (auto it = kv.find("Reason"); it != kv.end()) st.reason = it->second;
  if (auto it = kv.find("Restarts"); it != kv.end()) {
    try {
      st.restarts = std::stoi(it->second);
    } catch (const std::exception&) {
      st.restarts = -1;
    }
  }
  if (auto it = kv.find("ExitCode"); it != kv.end()) {
    static const std::regex ec_re("([0-9]+):([0-9]+)");
    std::smatch m;
    if (std::regex_match(it->second, m, ec_re)) {
      st.exit_code = std::stoi(m[1]);
      st.exit_signal = std::stoi(m[2]);
    }
  }
  return st;
}

JobState query_job(const std::string& id) {
  JobState st;
  st.id = id;
  const std::vector<std::string> squeue{"squeue", "-h", "-j", id, "-t", "all", "-o", "%T"};
  io::ProcessResult q = run_process(squeue);
  if (q.exit_code == 0) {
    st.state = first_line(q.out);
    st.status = parse_job_status(st.state);
    if (st.status == JobStatus::unknown) return st;  // empty output: not in the queue
  } else if (q.err.find("Invalid job id") != std::string::npos) {
    return st;  // purged (or never existed)
  }
  const std::vector<std::string> scontrol{"scontrol", "-o", "show", "job", id};
  io::ProcessResult c = run_process(scontrol);
  if (c.exit_code == 0 && !trim(c.out).empty()) {
    JobState detail = parse_scontrol_job(first_line(c.out));
    detail.id = id;  // an array task prints its own JobId; keep the id asked for
    return detail;
  }
  if (q.exit_code == 0) return st;  // squeue's word without the details
  if (c.err.find("Invalid job id") != std::string::npos) return st;
  throw SlurmError(fmt::format("cannot query job {}: {}; and {}", id,
                               failure_message(squeue, q), failure_message(scontrol, c)));
}

}  // namespace mammosweep::cluster
