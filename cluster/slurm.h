#pragma once
// Slurm submission and job polling for `mammosweep submit`. Everything here talks to Slurm
// through its client commands (sbatch, squeue, scontrol), started with fork/exec and their
// output captured; nothing goes through a shell. No torch, no MPI.
//
// The batch script (render_batch_script) runs `mammosweep run SPEC --out DIR --resume` inside
// the allocation and makes the job survive time limits and preemption:
//   1. Slurm sends USR1 to the batch shell `signal_grace` seconds before the time limit
//      (`--signal=B:USR1@grace`) or when the job is preempted; a TERM can come too.
//   2. The script's trap forwards the signal to the launcher (srun forwards it to every rank);
//      `mammosweep run` checkpoints at the next step boundary and exits 3.
//   3. When the run exits 3 after a USR1 and SLURM_RESTART_COUNT < max_requeues, the
//      script runs `scontrol requeue $SLURM_JOB_ID`; the rerun resumes from the checkpoint.
//      A TERM without an earlier USR1 (scancel, or Slurm ending the job) checkpoints too but
//      never requeues: a cancelled job stays cancelled (resume by submitting again).
// Logs go to DIR/logs/slurm-<jobid>.{out,err} in append mode, so reruns add to them.
// docs/slurm.md explains the choices (srun vs mpirun, SIGCONT, requeue hold).
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sweeps/spec.h"

namespace mammosweep::cluster {

/// A Slurm client command failed (could not start, or exited non-zero). The message names the
/// command, its exit status and its stderr.
class SlurmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// How the batch script starts the ranks inside the allocation.
///   srun:   `srun --mpi=pmix` (default): Slurm starts, signals and kills every rank itself.
///   mpirun: Open MPI's `mpirun -np $SLURM_NTASKS --bind-to none` (for clusters whose Slurm
///           has no PMIx plugin matching this Open MPI); adds --allow-run-as-root when root.
enum class Launcher { srun, mpirun };
const char* to_string(Launcher launcher);
/// "srun" or "mpirun"; anything else throws std::invalid_argument.
Launcher parse_launcher(const std::string& text);

struct SubmitOptions {
  // Resources: each becomes one #SBATCH line. Empty partition/account/qos omit the line
  // (the cluster's default applies).
  int nodes = 1;            // >= 1
  int ntasks_per_node = 2;  // >= 1; ranks = nodes * ntasks_per_node
  int gpus_per_node = 0;    // >= 0; 0 omits --gpus-per-node
  int cpus_per_task = 1;    // >= 1; also OMP_NUM_THREADS
  std::string time = "01:00:00";  // HH:MM:SS, MM, MM:SS, D-HH, D-HH:MM or D-HH:MM:SS
  std::string partition, account, qos;
  int signal_grace = 120;   // >= 1: seconds of USR1 warning before the time limit
  int max_requeues = 3;     // >= 0: self-requeues after a checkpoint; 0 never requeues
  int max_relaunches = 3;   // >= 0: relaunches in the job after a process died (supervise)
  std::string job_name = "mammosweep";  // [A-Za-z0-9._-]+ (see job_name_for)

  // What runs. All paths absolute, without whitespace, quotes, '%' or '\' (they end up in
  // #SBATCH lines, which Slurm splits on whitespace and where '%' is a pattern).
  std::string spec_path;          // the sweep spec
  std::string out_dir;            // the sweep's output folder (--out); logs under out_dir/logs
  std::string mammosweep_binary;  // the CLI as the compute nodes see it
  std::string work_dir;           // the job's working directory (--chdir); relative data
                                  // paths in the spec resolve against it
  Launcher launcher = Launcher::srun;
  /// Extra `export NAME=VALUE` lines; NAME must match [A-Za-z_][A-Za-z0-9_]*, VALUE is quoted.
  std::vector<std::pair<std::string, std::string>> env;

  bool dry_run = false;  // submit() writes and submits nothing and returns ""
};

/// Options with the spec's `slurm:` defaults (CLI flags then override single fields).
SubmitOptions options_from_spec(const sweeps::SlurmDefaults& defaults);

/// "mammosweep-<spec name>", with every character outside [A-Za-z0-9._-] replaced by '_'.
std::string job_name_for(const std::string& spec_name);

/// Throws std::invalid_argument naming the first field that breaks its rule above, with the
/// value seen and what was expected.
void validate(const SubmitOptions& options);

/// The complete batch script (validates first). Deterministic: same options, same text.
std::string render_batch_script(const SubmitOptions& options);

/// Where submit() writes the script: <out_dir>/submit.sbatch.
std::string batch_script_path(const SubmitOptions& options);

/// Validates, creates out_dir and out_dir/logs, writes the script to batch_script_path(),
/// runs `sbatch --parsable SCRIPT`, appends the job id as one line to
/// <out_dir>/slurm_jobs.txt and returns it. Throws SlurmError (with sbatch's stderr) when sbatch
/// fails, std::runtime_error when a file cannot be written. With dry_run, returns "" and
/// touches nothing.
std::string submit(const SubmitOptions& options);

/// The job ids submit() recorded in <out_dir>/slurm_jobs.txt, oldest first, without
/// repeats; empty when there is no such file. Each line starts with an id; whatever follows a
/// blank, tab or CR is ignored.
std::vector<std::string> recorded_job_ids(const std::string& out_dir);

/// sbatch --parsable prints "id" or "id;cluster"; returns the id. Throws SlurmError when the
/// text does not start with a numeric id (array ids like "12_3" are accepted).
std::string parse_sbatch_id(const std::string& sbatch_stdout);

/// A job's state as Slurm names it, grouped where the difference does not matter to us.
enum class JobStatus {
  unknown,        // not known to the controller (never existed, or purged after MinJobAge)
  pending,        // PENDING, CONFIGURING, REQUEUE_HOLD, RESV_DEL_HOLD, SPECIAL_EXIT
  running,        // RUNNING, SIGNALING, STAGE_OUT, RESIZING
  completing,     // COMPLETING: ended, cleaning up (processes may still be running)
  requeued,       // REQUEUED, REQUEUE_FED: on its way back to PENDING
  suspended,      // SUSPENDED, STOPPED
  preempted,      // PREEMPTED
  completed,      // COMPLETED (exit code 0)
  failed,         // FAILED, BOOT_FAIL, DEADLINE (ended with a non-zero exit code or error)
  cancelled,      // CANCELLED (scancel, or by the admin)
  timeout,        // TIMEOUT
  node_fail,      // NODE_FAIL
  out_of_memory,  // OUT_OF_MEMORY
  other,          // a state this build does not know (the word is kept in JobState::state)
};
const char* to_string(JobStatus status);
/// Maps Slurm's state word (squeue %T, scontrol JobState; e.g. "CANCELLED", also "CANCELLED+"
/// or "CANCELLED by 0") to a JobStatus; unknown words give JobStatus::other.
JobStatus parse_job_status(const std::string& word);
/// True for states a job does not leave by itself: completed, failed, cancelled, timeout,
/// node_fail, out_of_memory and preempted. (A job preempted with PreemptMode=REQUEUE shows as
/// requeued/pending afterwards, not preempted.)
bool is_terminal(JobStatus status);

struct JobState {
  std::string id;
  JobStatus status = JobStatus::unknown;
  std::string state;       // Slurm's word ("FAILED"); empty when the job is unknown
  std::string reason;      // scontrol Reason ("None", "NonZeroExitCode"); empty if not known
  int exit_code = -1;      // scontrol ExitCode=code:signal; -1 when not known
  int exit_signal = -1;
  int restarts = -1;       // scontrol Restarts (requeues so far); -1 when not known
  bool terminal() const { return is_terminal(status); }
};

/// Parses one line of `scontrol -o show job ID` (space-separated Key=Value pairs; values may
/// contain spaces only in the last pair Slurm prints with them, which we do not need). Throws
/// SlurmError when JobId or JobState is missing.
JobState parse_scontrol_job(const std::string& line);

/// Asks the controller: `squeue -h -j ID -t all -o %T` for the state, then
/// `scontrol -o show job ID` for Reason, ExitCode and Restarts (its snapshot wins when both
/// answer). A job the controller does not know (squeue: "Invalid job id") gives
/// status unknown. Throws SlurmError when neither command can answer (controller down).
/// Clients find the cluster as usual (SLURM_CONF or /etc/slurm/slurm.conf).
JobState query_job(const std::string& id);

}  // namespace mammosweep::cluster
