// Process deaths: the note a dying rank leaves (in a real child process), the reader, and
// what the coordinator's start does with them (charge, retry, fail).
#include "orchestrator/process_deaths.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <ctime>

#include "io/crash_note.h"
#include "io/files.h"
#include "orchestrator/coordinator.h"
#include "results/store.h"
#include "sweeps/parse.h"
#include "sweeps/trial.h"
#include "tests/temp_dir.h"

namespace mammosweep::orchestrator {
namespace {

void die_in_attempt(const std::string& out, const std::string& trial, int attempt, int rank,
                    int sig) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(sig, SIG_DFL);
    io::install_crash_note_handler();
    AttemptDeathNote note(out, trial, attempt, rank);
    ::raise(sig);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), sig);
}

TEST(ProcessDeaths, ADyingAttemptLeavesANoteTheReaderUnderstands) {
  test::TempDir out("deaths");
  die_in_attempt(out.path(), "t-b", 2, 3, SIGSEGV);
  die_in_attempt(out.path(), "t-b", 1, 1, SIGABRT);
  DeathNotes notes = read_death_notes(out.path());
  EXPECT_TRUE(notes.problems.empty());
  ASSERT_EQ(notes.by_trial.size(), 1u);
  const auto& b = notes.by_trial.at("t-b");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].attempt, 1);  // in attempt order
  EXPECT_EQ(b[0].signal, SIGABRT);
  EXPECT_EQ(b[1].attempt, 2);
  EXPECT_EQ(b[1].rank, 3);
  EXPECT_EQ(b[1].signal, SIGSEGV);
  EXPECT_EQ(deaths_of(b), 2);
  const std::string text = describe(b[1]);
  EXPECT_NE(text.find("rank 3"), std::string::npos) << text;
  EXPECT_NE(text.find(std::string("signal 11 (") + ::strsignal(SIGSEGV) + ")"), std::string::npos)
      << text;
  EXPECT_NE(text.find("attempt 2"), std::string::npos) << text;
}

TEST(ProcessDeaths, NoFolderMeansNoDeathsAndBadNotesAreNamed) {
  test::TempDir out("deaths");
  EXPECT_TRUE(read_death_notes(out.path()).by_trial.empty());
  io::make_dirs(deaths_dir(out.path()));
  io::write_file_atomic(deaths_dir(out.path()) + "/x.attempt-1.rank-1.txt",
                        "trial=x\nattempt=1\nrank=1\nsignal=eleven\n");
  io::write_file_atomic(deaths_dir(out.path()) + "/y.txt", "attempt=one\n");
  io::write_file_atomic(deaths_dir(out.path()) + "/README", "not a note");
  DeathNotes notes = read_death_notes(out.path());
  EXPECT_TRUE(notes.by_trial.empty());
  ASSERT_EQ(notes.problems.size(), 2u);
  EXPECT_NE(notes.problems[0].find("x.attempt-1.rank-1.txt: a signal= line that is not"),
            std::string::npos)
      << notes.problems[0];
  EXPECT_NE(notes.problems[1].find("y.txt: no trial= line"), std::string::npos)
      << notes.problems[1];
}

TEST(ProcessDeaths, ASigkilledAttemptIsADeathWithoutASignal) {
  test::TempDir out("deaths");
  die_in_attempt(out.path(), "t-k", 1, 2, SIGKILL);  // no handler runs, as for the OOM killer
  DeathNotes notes = read_death_notes(out.path());
  EXPECT_TRUE(notes.problems.empty());
  ASSERT_EQ(notes.by_trial.at("t-k").size(), 1u);
  const ProcessDeath& d = notes.by_trial.at("t-k")[0];
  EXPECT_EQ(d.signal, 0);
  EXPECT_EQ(d.attempt, 1);
  const std::string text = describe(d);
  EXPECT_NE(text.find("rank 2"), std::string::npos) << text;
  EXPECT_NE(text.find("ended without seeing a signal (SIGKILL"), std::string::npos) << text;
}

void set_mtime(const std::string& path, std::time_t when) {
  const struct timespec times[2] = {{when, 0}, {when, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

TEST(ProcessDeaths, AWholeLaunchKilledAtOnceChargesNobody) {
  test::TempDir out("deaths");
  EXPECT_EQ(settle_previous_launch(out.path()), "");  // no folder: nothing to do
  // An earlier launch's SIGKILLed attempt (charged then), this launch's coordinator and two
  // attempts, all ended by SIGKILL at once, and one attempt that died of SIGSEGV.
  die_in_attempt(out.path(), "t-old", 1, 1, SIGKILL);
  pid_t pid = ::fork();
  if (pid == 0) {
    LaunchDeathNote launch(out.path());
    ::raise(SIGKILL);
    ::_exit(0);
  }
  ::waitpid(pid, nullptr, 0);
  die_in_attempt(out.path(), "t-a", 2, 1, SIGKILL);
  die_in_attempt(out.path(), "t-b", 1, 2, SIGKILL);
  die_in_attempt(out.path(), "t-c", 1, 3, SIGSEGV);
  const std::string dir = deaths_dir(out.path());
  const std::time_t now = std::time(nullptr);
  set_mtime(dir + "/t-old.attempt-1.rank-1.txt", now - 100);
  set_mtime(dir + "/launch.txt", now - 50);
  ASSERT_EQ(read_death_notes(out.path()).by_trial.size(), 4u);

  const std::string line = settle_previous_launch(out.path());
  EXPECT_NE(line.find("no process seeing a signal"), std::string::npos) << line;
  EXPECT_NE(line.find("2 running attempt(s) not charged"), std::string::npos) << line;
  DeathNotes notes = read_death_notes(out.path());
  EXPECT_TRUE(notes.problems.empty());
  EXPECT_EQ(notes.by_trial.size(), 2u);
  EXPECT_EQ(notes.by_trial.count("t-old"), 1u);  // older than the launch: kept
  EXPECT_EQ(notes.by_trial.count("t-c"), 1u);    // it saw its signal: kept
  EXPECT_FALSE(io::file_exists(dir + "/launch.txt"));
  EXPECT_EQ(settle_previous_launch(out.path()), "");
}

TEST(ProcessDeaths, ALaunchThatEndsRemovesItsNote) {
  test::TempDir out("deaths");
  {
    LaunchDeathNote launch(out.path());
    EXPECT_TRUE(io::file_exists(deaths_dir(out.path()) + "/launch.txt"));
  }
  EXPECT_FALSE(io::file_exists(deaths_dir(out.path()) + "/launch.txt"));
  die_in_attempt(out.path(), "t-a", 1, 1, SIGKILL);
  EXPECT_EQ(settle_previous_launch(out.path()), "");
  EXPECT_EQ(read_death_notes(out.path()).by_trial.size(), 1u);  // charged by the coordinator
}

class CoordinatorDeaths : public ::testing::Test {
 protected:
  void start(int retries) {
    spec_ = sweeps::parse_spec(
        "name: t\nseed: 1\nmethod: variants\ndata: {root: /nonexistent, image_size: 32}\n"
        "training: {epochs: 3}\nretries: " + std::to_string(retries) +
        "\nvariants:\n  - {name: A, lr: 0.001}\n  - {name: B, lr: 0.01}\n");
    trials_ = sweeps::expand(spec_);
    ASSERT_EQ(trials_.size(), 2u);
    for (const auto& t : trials_) {
      inits_.push_back({t.id, t.name, sweeps::params_to_json(t.params), t.seed});
    }
    options_.out_dir = out_.path();
  }
  /// The store as a launch left it when it died: both trials running in `attempt`.
  void died_in(int attempt) {
    auto store = results::SweepStore::create(out_.file("results.h5"), {}, inits_);
    for (const auto& t : trials_) {
      results::TrialState s;
      s.status = results::TrialStatus::running;
      s.attempts = attempt;
      store.set_state(t.id, s);
    }
    store.close();
  }
  std::vector<std::string> queued(SweepCoordinator& c) {
    std::vector<std::string> names;
    while (auto job = c.next_job()) names.push_back(job->trial.name);
    return names;
  }
  test::TempDir out_{"coordinator_deaths"};
  sweeps::SweepSpec spec_;
  std::vector<sweeps::Trial> trials_;
  std::vector<results::TrialInit> inits_;
  RunOptions options_;
};

TEST_F(CoordinatorDeaths, TheDeadTrialIsFailedAfterRetriesPlusOneDeathsAndTheOtherGoesOn) {
  start(/*retries=*/1);
  const std::string b = trials_[1].id;
  die_in_attempt(out_.path(), b, 1, 2, SIGSEGV);
  died_in(1);
  {  // first death: retried (A, killed by the launcher as a bystander, is not charged)
    auto store = results::SweepStore::open_for_append(out_.file("results.h5"), inits_);
    SweepCoordinator c(spec_, trials_, store, options_);
    EXPECT_EQ(queued(c), (std::vector<std::string>{"A", "B"}));
    EXPECT_EQ(c.failures(), 0);
    EXPECT_EQ(store.state(b).status, results::TrialStatus::running);
  }
  io::remove_tree(out_.file("results.h5"));
  die_in_attempt(out_.path(), b, 2, 1, SIGSEGV);
  died_in(2);
  auto store = results::SweepStore::open_for_append(out_.file("results.h5"), inits_);
  SweepCoordinator c(spec_, trials_, store, options_);
  EXPECT_EQ(queued(c), (std::vector<std::string>{"A"}));
  EXPECT_EQ(c.failures(), 1);
  results::TrialState s = store.state(b);
  EXPECT_EQ(s.status, results::TrialStatus::failed);
  EXPECT_EQ(s.failure_reason.rfind("process died: rank 1", 0), 0u) << s.failure_reason;
  EXPECT_NE(s.failure_reason.find("2 attempt(s) died; retries: 1"), std::string::npos)
      << s.failure_reason;
  EXPECT_EQ(store.state(trials_[0].id).status, results::TrialStatus::running);
}

TEST_F(CoordinatorDeaths, ASigkilledRankIsChargedLikeACrash) {
  start(/*retries=*/0);
  const std::string b = trials_[1].id;
  die_in_attempt(out_.path(), b, 1, 2, SIGKILL);
  died_in(1);
  auto store = results::SweepStore::open_for_append(out_.file("results.h5"), inits_);
  SweepCoordinator c(spec_, trials_, store, options_);
  EXPECT_EQ(queued(c), (std::vector<std::string>{"A"}));
  results::TrialState s = store.state(b);
  EXPECT_EQ(s.status, results::TrialStatus::failed);
  EXPECT_EQ(s.failure_reason.rfind("process died: rank 2", 0), 0u) << s.failure_reason;
  EXPECT_NE(s.failure_reason.find("ended without seeing a signal"), std::string::npos)
      << s.failure_reason;
}

TEST_F(CoordinatorDeaths, ADeathOfAnEarlierAttemptIsNotChargedAgain) {
  start(/*retries=*/0);
  die_in_attempt(out_.path(), trials_[1].id, 1, 2, SIGSEGV);
  died_in(2);  // attempt 2 (after a --retry-failed) was interrupted, not killed
  auto store = results::SweepStore::open_for_append(out_.file("results.h5"), inits_);
  SweepCoordinator c(spec_, trials_, store, options_);
  EXPECT_EQ(queued(c), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(c.failures(), 0);
}

}  // namespace
}  // namespace mammosweep::orchestrator
