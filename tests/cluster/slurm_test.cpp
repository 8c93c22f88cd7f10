// Batch-script rendering and Slurm output parsing (cluster/slurm.h). The live cluster path
// (sbatch, squeue, the USR1 trap and requeue) is tested in slurm_submit.test.sh.
#include "cluster/slurm.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/temp_dir.h"

namespace mammosweep::cluster {
namespace {

std::vector<std::string> sbatch_lines(const std::string& script) {
  std::vector<std::string> lines;
  std::istringstream in(script);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#SBATCH ", 0) == 0) lines.push_back(line.substr(8));
  }
  return lines;
}

SubmitOptions example() {
  sweeps::SlurmDefaults d;
  d.partition = "gpu";
  d.account = "radiology";
  d.qos = "normal";
  d.time = "02:30:00";
  d.nodes = 2;
  d.ntasks_per_node = 4;
  d.gpus_per_node = 4;
  d.cpus_per_task = 8;
  d.signal_grace = 300;
  d.max_requeues = 5;
  SubmitOptions o = options_from_spec(d);
  o.job_name = job_name_for("week7");
  o.spec_path = "/home/u/week7.yaml";
  o.out_dir = "/scratch/u/week7";
  o.mammosweep_binary = "/opt/mammosweep/bin/mammosweep";
  o.work_dir = "/home/u";
  return o;
}

// The reader of <out>/slurm_jobs.txt (what submit() appends to): ids in order, without
// repeats, whatever follows a blank, tab or CR dropped; no file, no ids.
TEST(SlurmJobsFile, RecordedJobIdsInOrderWithoutRepeats) {
  const test::TempDir dir("slurm_jobs");
  EXPECT_TRUE(recorded_job_ids(dir.path()).empty());
  std::ofstream(dir.file("slurm_jobs.txt")) << "101\n102 requeued\r\n\n101\n103\tx\n104_7\r\n";
  EXPECT_EQ(recorded_job_ids(dir.path()), (std::vector<std::string>{"101", "102", "103", "104_7"}));
}

TEST(SlurmScript, EveryResourceBecomesOneSbatchLineInOrder) {
  std::string script = render_batch_script(example());
  EXPECT_EQ(script.rfind("#!/bin/bash\n", 0), 0u) << script;
  std::vector<std::string> want{"--job-name=mammosweep-week7",
                                "--nodes=2",
                                "--ntasks-per-node=4",
                                "--cpus-per-task=8",
                                "--gpus-per-node=4",
                                "--time=02:30:00",
                                "--partition=gpu",
                                "--account=radiology",
                                "--qos=normal",
                                "--signal=B:USR1@300",
                                "--requeue",
                                "--open-mode=append",
                                "--output=/scratch/u/week7/logs/slurm-%j.out",
                                "--error=/scratch/u/week7/logs/slurm-%j.err",
                                "--chdir=/home/u"};
  EXPECT_EQ(sbatch_lines(script), want);
}

TEST(SlurmScript, EmptyNamesAndZeroGpusOmitTheirLines) {
  SubmitOptions o = example();
  o.partition = o.account = o.qos = "";
  o.gpus_per_node = 0;
  for (const auto& line : sbatch_lines(render_batch_script(o))) {
    EXPECT_EQ(line.find("--partition"), std::string::npos) << line;
    EXPECT_EQ(line.find("--account"), std::string::npos) << line;
    EXPECT_EQ(line.find("--qos"), std::string::npos) << line;
    EXPECT_EQ(line.find("--gpus"), std::string::npos) << line;
  }
}

TEST(SlurmScript, SpecDefaultsFillTheOptions) {
  sweeps::SlurmDefaults d;  // the documented defaults: 01:00:00, 1 node x 2 tasks, 120 s, 3
  SubmitOptions o = options_from_spec(d);
  EXPECT_EQ(o.time, "01:00:00");
  EXPECT_EQ(o.nodes, 1);
  EXPECT_EQ(o.ntasks_per_node, 2);
  EXPECT_EQ(o.gpus_per_node, 0);
  EXPECT_EQ(o.cpus_per_task, 1);
  EXPECT_EQ(o.signal_grace, 120);
  EXPECT_EQ(o.max_requeues, 3);
  EXPECT_TRUE(o.partition.empty());
}

TEST(SlurmScript, SrunLaunchRunsTheSweepWithResume) {
  std::string script = render_batch_script(example());
  EXPECT_NE(script.find("launcher=('/opt/mammosweep/bin/mammosweep' supervise --max-relaunches "
                        "3 --\n          srun --mpi=pmix --kill-on-bad-exit=1"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("'/opt/mammosweep/bin/mammosweep' run '/home/u/week7.yaml' --out "
                        "'/scratch/u/week7' --resume)"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("max_requeues=5\n"), std::string::npos);
  EXPECT_NE(script.find("trap 'on_signal USR1' USR1\n"), std::string::npos);
  EXPECT_NE(script.find("trap 'on_signal TERM' TERM\n"), std::string::npos);
  std::istringstream in(script);
  int traps = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("trap ", 0) != 0) continue;
    ++traps;
    EXPECT_EQ(line.find("CONT"), std::string::npos) << "SIGCONT must not be trapped: " << line;
  }
  EXPECT_EQ(traps, 2);
  EXPECT_NE(script.find("scontrol requeue \"$SLURM_JOB_ID\""), std::string::npos);
  EXPECT_NE(script.find("${SLURM_RESTART_COUNT:-0}"), std::string::npos);
  EXPECT_NE(script.find("\"${launcher[@]}\" &\n"), std::string::npos);
  EXPECT_EQ(script.find("mpirun"), std::string::npos);
}

TEST(SlurmScript, MpirunLaunchAllowsRootOnlyWhenRoot) {
  SubmitOptions o = example();
  o.launcher = Launcher::mpirun;
  std::string script = render_batch_script(o);
  EXPECT_NE(script.find("[ \"$(id -u)\" = 0 ] && launcher+=(--allow-run-as-root)"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("-np \"${SLURM_NTASKS:?}\""), std::string::npos);
  EXPECT_EQ(script.find("srun"), std::string::npos);
}

TEST(SlurmScript, ExtraEnvironmentIsQuotedForBash) {
  SubmitOptions o = example();
  o.env = {{"NCCL_DEBUG", "INFO"}, {"NOTE", "it's $HOME"}};
  std::string script = render_batch_script(o);
  EXPECT_NE(script.find("export NCCL_DEBUG='INFO'\n"), std::string::npos) << script;
  EXPECT_NE(script.find("export NOTE='it'\\''s $HOME'\n"), std::string::npos) << script;
}

TEST(SlurmScript, SameOptionsSameText) {
  EXPECT_EQ(render_batch_script(example()), render_batch_script(example()));
}

TEST(SlurmScript, InvalidOptionsNameTheFieldAndTheValue) {
  auto expect_invalid = [](SubmitOptions o, const std::string& fragment) {
    try {
      render_batch_script(o);
      ADD_FAILURE() << "accepted options; expected an error mentioning " << fragment;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  SubmitOptions o = example();
  o.time = "90 minutes";
  expect_invalid(o, "time: expected HH:MM:SS");
  o = example();
  o.nodes = 0;
  expect_invalid(o, "nodes: expected an integer >= 1, got '0'");
  o = example();
  o.partition = "gpu\n#SBATCH --x";
  expect_invalid(o, "partition");
  o = example();
  o.out_dir = "/scratch/my sweep";
  expect_invalid(o, "out_dir: expected an absolute path");
  o = example();
  o.out_dir = "relative/dir";
  expect_invalid(o, "got 'relative/dir'");
  o = example();
  o.out_dir = "/scratch/100%";
  expect_invalid(o, "out_dir");
  o = example();
  o.env = {{"1BAD", "x"}};
  expect_invalid(o, "env: expected NAME=VALUE");
  o = example();
  o.max_requeues = -1;
  expect_invalid(o, "max_requeues");
  o = example();
  o.max_relaunches = -1;
  expect_invalid(o, "max_relaunches");
}

TEST(SlurmScript, JobNameKeepsOnlySafeCharacters) {
  EXPECT_EQ(job_name_for("head-grid"), "mammosweep-head-grid");
  EXPECT_EQ(job_name_for("week 7/ab"), "mammosweep-week_7_ab");
}

TEST(SlurmScript, LauncherNames) {
  EXPECT_EQ(parse_launcher("srun"), Launcher::srun);
  EXPECT_EQ(parse_launcher("mpirun"), Launcher::mpirun);
  EXPECT_THROW(parse_launcher("mpiexec"), std::invalid_argument);
}

TEST(SlurmSubmit, DryRunTouchesNothing) {
  SubmitOptions o = example();
  o.out_dir = "/nonexistent-mammosweep-dry-run";
  o.dry_run = true;
  EXPECT_EQ(submit(o), "");
}

TEST(SlurmParse, SbatchParsableId) {
  EXPECT_EQ(parse_sbatch_id("1234\n"), "1234");
  EXPECT_EQ(parse_sbatch_id("77;ci\n"), "77");
  EXPECT_EQ(parse_sbatch_id("12_3\n"), "12_3");
  EXPECT_THROW(parse_sbatch_id("Submitted batch job 5\n"), SlurmError);
  EXPECT_THROW(parse_sbatch_id(""), SlurmError);
}

TEST(SlurmParse, EveryStateWord) {
  struct Case {
    const char* word;
    JobStatus status;
    bool terminal;
  };
  const Case cases[] = {
      {"PENDING", JobStatus::pending, false},
      {"RUNNING", JobStatus::running, false},
      {"REQUEUED", JobStatus::requeued, false},
      {"REQUEUE_HOLD", JobStatus::pending, false},
      {"COMPLETING", JobStatus::completing, false},
      {"SUSPENDED", JobStatus::suspended, false},
      {"PREEMPTED", JobStatus::preempted, true},
      {"TIMEOUT", JobStatus::timeout, true},
      {"CANCELLED", JobStatus::cancelled, true},
      {"CANCELLED by 0", JobStatus::cancelled, true},
      {"CANCELLED+", JobStatus::cancelled, true},
      {"FAILED", JobStatus::failed, true},
      {"COMPLETED", JobStatus::completed, true},
      {"NODE_FAIL", JobStatus::node_fail, true},
      {"OUT_OF_MEMORY", JobStatus::out_of_memory, true},
      {"FROBNICATED", JobStatus::other, false},
      {"", JobStatus::unknown, false},
      {"  RUNNING\n", JobStatus::running, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_job_status(c.word), c.status) << "'" << c.word << "'";
    EXPECT_EQ(is_terminal(parse_job_status(c.word)), c.terminal) << "'" << c.word << "'";
  }
}

// Lines shaped as Slurm 22.05's `scontrol -o show job` prints them (trimmed of fields we
// do not read, but in Slurm's order and spacing).
TEST(SlurmParse, ScontrolFailedJob) {
  JobState st = parse_scontrol_job(
      "JobId=1 JobName=my job UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901759 "
      "Nice=0 Account=(null) QOS=(null) JobState=FAILED Reason=NonZeroExitCode "
      "Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0 "
      "RunTime=00:00:00 TimeLimit=365-00:00:00 TRES=cpu=1,node=1,billing=1 Socks/Node=* "
      "NtasksPerN:B:S:C=0:0:*:* WorkDir=/tmp StdErr=/dev/null Power= \n");
  EXPECT_EQ(st.id, "1");
  EXPECT_EQ(st.state, "FAILED");
  EXPECT_EQ(st.status, JobStatus::failed);
  EXPECT_EQ(st.reason, "NonZeroExitCode");
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.exit_signal, 0);
  EXPECT_EQ(st.restarts, 0);
  EXPECT_TRUE(st.terminal());
}

TEST(SlurmParse, ScontrolRequeuedAndSignalledJobs) {
  JobState st = parse_scontrol_job(
      "JobId=42 JobName=mammosweep-week7 JobState=PENDING Reason=BeginTime Dependency=(null) "
      "Requeue=1 Restarts=2 BatchFlag=1 Reboot=0 ExitCode=0:15");
  EXPECT_EQ(st.status, JobStatus::pending);
  EXPECT_EQ(st.reason, "BeginTime");
  EXPECT_EQ(st.restarts, 2);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(st.exit_signal, 15);
  EXPECT_FALSE(st.terminal());

  st = parse_scontrol_job("JobId=7 JobState=TIMEOUT Reason=TimeLimit Restarts=3 ExitCode=0:1");
  EXPECT_EQ(st.status, JobStatus::timeout);
  EXPECT_EQ(st.reason, "TimeLimit");
  EXPECT_EQ(st.exit_signal, 1);
  EXPECT_TRUE(st.terminal());

  st = parse_scontrol_job("JobId=8 JobState=RUNNING Reason=None Restarts=1");
  EXPECT_EQ(st.status, JobStatus::running);
  EXPECT_EQ(st.exit_code, -1) << "no ExitCode field: unknown";
}

TEST(SlurmParse, ScontrolWithoutJobStateIsAnError) {
  EXPECT_THROW(parse_scontrol_job("JobId=1 JobName=x Reason=None"), SlurmError);
  EXPECT_THROW(parse_scontrol_job(""), SlurmError);
}

}  // namespace
}  // namespace mammosweep::cluster
