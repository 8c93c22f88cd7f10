// io/crash_note.h in real child processes: the note is written when armed and completed by
// the dying process, the process still dies of its signal, and the handler that was there
// before still runs; SIGKILL leaves the note as armed; disarming and a stop signal remove it.
#include "io/crash_note.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "io/files.h"
#include "tests/temp_dir.h"

namespace mammosweep::io {
namespace {

/// Runs `child` in a forked process (which must not return) and returns its wait status.
template <class F>
int in_child(F child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(CrashNote, ADyingProcessWritesItsNoteAndStillDiesOfTheSignal) {
  test::TempDir dir("crash_note");
  const std::string path = dir.file("note.txt");
  const int status = in_child([&] {
    ::signal(SIGSEGV, SIG_DFL);  // the handler before ours: the default (also under ASan)
    install_crash_note_handler();
    arm_crash_note(path, "trial=B\nattempt=2\n");
    ::raise(SIGSEGV);
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_EQ(read_file(path), "trial=B\nattempt=2\nsignal=" + std::to_string(SIGSEGV) + "\n");
}

TEST(CrashNote, DisarmedOrNeverArmedWritesNothing) {
  test::TempDir dir("crash_note");
  const std::string path = dir.file("note.txt");
  const int status = in_child([&] {
    ::signal(SIGABRT, SIG_DFL);
    install_crash_note_handler();
    {
      CrashNote note(path, "trial=A\n");
    }  // disarmed here
    ::raise(SIGABRT);
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGABRT);
  EXPECT_FALSE(file_exists(path));
}

TEST(CrashNote, TheHandlerThatWasThereBeforeStillRuns) {
  test::TempDir dir("crash_note");
  const std::string path = dir.file("note.txt");
  const int status = in_child([&] {
    ::signal(SIGBUS, +[](int) { ::_exit(42); });  // e.g. Open MPI's backtrace printer
    install_crash_note_handler();
    arm_crash_note(path, "trial=C\n");
    ::raise(SIGBUS);
  });
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 42);
  EXPECT_EQ(read_file(path), "trial=C\nsignal=" + std::to_string(SIGBUS) + "\n");
}

TEST(CrashNote, SigkillLeavesTheNoteAsArmedWithoutASignalLine) {
  test::TempDir dir("crash_note");
  const std::string attempt = dir.file("attempt.txt"), launch = dir.file("launch.txt");
  const int status = in_child([&] {
    install_crash_note_handler();
    arm_launch_note(launch, "launch\n");
    arm_crash_note(attempt, "trial=D\nattempt=1\n");
    ::raise(SIGKILL);  // as the kernel's OOM killer ends a process: no handler runs
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(read_file(attempt), "trial=D\nattempt=1\n");
  EXPECT_EQ(read_file(launch), "launch\n");
}

TEST(CrashNote, AFatalSignalRemovesTheLaunchNote) {
  test::TempDir dir("crash_note");
  const std::string attempt = dir.file("attempt.txt"), launch = dir.file("launch.txt");
  const int status = in_child([&] {
    ::signal(SIGFPE, SIG_DFL);
    install_crash_note_handler();
    arm_launch_note(launch, "launch\n");
    arm_crash_note(attempt, "trial=E\n");
    ::raise(SIGFPE);
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(read_file(attempt), "trial=E\nsignal=" + std::to_string(SIGFPE) + "\n");
  EXPECT_FALSE(file_exists(launch));
}

TEST(CrashNote, AStopSignalRemovesBothNotesAndKeepsLaterOnesFromStaying) {
  test::TempDir dir("crash_note");
  const std::string attempt = dir.file("attempt.txt"), launch = dir.file("launch.txt"),
                    later = dir.file("later.txt");
  const int status = in_child([&] {
    ::signal(SIGTERM, +[](int) { stand_down_notes(); });  // as sweep_runner's stop handler
    install_crash_note_handler();
    arm_launch_note(launch, "launch\n");
    arm_crash_note(attempt, "trial=F\n");
    ::raise(SIGTERM);
    arm_crash_note(later, "trial=G\n");  // armed after the stop signal: removed at once
    ::raise(SIGKILL);  // the launcher's SIGKILL after its SIGTERM
  });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_FALSE(file_exists(attempt));
  EXPECT_FALSE(file_exists(launch));
  EXPECT_FALSE(file_exists(later));
}

TEST(CrashNote, ArmingWritesTheNoteAndDisarmingRemovesIt) {
  test::TempDir dir("crash_note");
  const std::string path = dir.file("note.txt");
  arm_crash_note(path, "trial=H\n");
  EXPECT_EQ(read_file(path), "trial=H\n");
  disarm_crash_note();
  EXPECT_FALSE(file_exists(path));
  EXPECT_THROW(arm_crash_note(dir.file("no-such-folder/note.txt"), "x"), std::runtime_error);
}

TEST(CrashNote, RefusesANoteTooLongForItsBuffer) {
  EXPECT_THROW(arm_crash_note("/tmp/x", std::string(5000, 'a')), std::length_error);
}

}  // namespace
}  // namespace mammosweep::io
