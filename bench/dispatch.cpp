// Coordinator dispatch rate: trials per second through the real cluster protocol with a
// no-op trainer, so what is measured is the protocol's own cost (JSON encode/decode of the
// real message types, MPI_Isend, the sleeping recv_message poll), not training.
//
//   mpirun -np 4 --oversubscribe build/bench/dispatch [--trials 3000]
//
// Rank 0 plays the coordinator's dispatch loop (orchestrator/sweep_runner.cpp): on Ready it
// sends Assign{sweeps::to_text(trial), attempt 1, group {worker}} (one-rank groups), on Done
// it counts the trial; when `trials` trials are done it sends Shutdown to every worker. Each
// worker sends Ready, and for every Assign parses the trial (sweeps::trial_from_text), sends
// Done{trial id, epochs} and Ready again, exactly the messages a real worker sends for a
// trial with no epochs. Messages travel on a dup of the world (the control communicator).
// Rank 0 prints one JSON line: trials, seconds (first Assign to last Done), trials_per_s and
// the coordinator's CPU seconds (getrusage) over the same span.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/mpi.h"
#include "cluster/protocol.h"
#include "sweeps/trial.h"

namespace {

namespace cl = mammosweep::cluster;
namespace sw = mammosweep::sweeps;
using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// A few distinct, fully resolved trials (their text is what a real Assign carries).
std::vector<std::string> trial_texts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    sw::Trial t;
    t.params.lr = 1e-4 * (1 + i);
    t.params.dropout = 0.1 + 0.05 * (i % 8);
    t.id = sw::trial_id(t.params);
    t.name = "bench " + std::to_string(i);
    t.index = i;
    t.seed = 1000 + static_cast<std::uint64_t>(i);
    out.push_back(sw::to_text(t));
  }
  return out;
}

void coordinate(const cl::MpiComm& control, int trials) {
  const int workers = control.size() - 1;
  const std::vector<std::string> texts = trial_texts(16);
  int sent = 0, done = 0, shut = 0;
  bool started = false;
  Clock::time_point t0;
  double cpu0 = 0;
  while (shut < workers || done < trials) {
    std::optional<cl::Message> msg = cl::recv_message(control, std::chrono::milliseconds(500));
    if (!msg) continue;
    const int src = msg->source;
    if (std::holds_alternative<cl::Ready>(msg->body)) {
      if (sent < trials) {
        if (!started) {
          started = true;
          t0 = Clock::now();
          cpu0 = cpu_seconds();
        }
        cl::Assign a{texts[static_cast<std::size_t>(sent) % texts.size()], 1, {src}, 0};
        cl::send_message(control, src, a);
        ++sent;
      } else {
        cl::send_message(control, src, cl::Shutdown{});
        ++shut;
      }
    } else if (std::holds_alternative<cl::Done>(msg->body)) {
      ++done;
    } else {
      throw std::runtime_error(std::string("coordinator: unexpected ") +
                               cl::to_string(msg->type()) + " message from rank " +
                               std::to_string(src));
    }
  }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  const nlohmann::ordered_json line = {
      {"bench", "dispatch"}, {"ranks", control.size()}, {"workers", workers},
      {"trials", trials}, {"seconds", s}, {"trials_per_s", trials / s},
      {"coordinator_cpu_s", cpu_seconds() - cpu0}};
  std::printf("%s\n", line.dump().c_str());
}

void work(const cl::MpiSession& session, const cl::MpiComm& control) {
  auto ready = [&] {
    cl::send_message(control, 0, cl::Ready{session.rank(), session.hostname(),
                                            session.local_rank(), -1});
  };
  ready();
  while (true) {
    std::optional<cl::Message> msg = cl::recv_message(control, cl::kWaitForever, 0);
    if (!msg || std::holds_alternative<cl::Shutdown>(msg->body)) break;
    const auto* assign = std::get_if<cl::Assign>(&msg->body);
    if (!assign) continue;
    const sw::Trial trial = sw::trial_from_text(assign->trial_text);  // the no-op trainer
    cl::Done d;
    d.trial_id = trial.id;
    d.epochs_completed = trial.params.epochs;
    d.best_epoch = trial.params.epochs;
    cl::send_message(control, 0, d);
    ready();
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    cl::MpiSession session(&argc, &argv);
    int trials = 3000;
    CLI::App app{"Coordinator dispatch rate with a no-op trainer (run under mpirun)"};
    app.add_option("--trials", trials, "Trials to dispatch")->capture_default_str();
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    if (session.size() < 2) {
      throw std::invalid_argument("needs at least 2 ranks (mpirun -np 4 --oversubscribe ...)");
    }
    cl::MpiComm control = session.world().dup();
    if (session.rank() == 0) {
      coordinate(control, trials);
    } else {
      work(session, control);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dispatch bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
