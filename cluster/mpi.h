#pragma once
// The one MPI adapter: process lifetime, communicator handles, groups, and point-to-point
// byte messages with a non-busy wait. Every MPI call in the project goes through this file
// or through a communicator built on it; MPI return codes become MpiError exceptions whose
// message names the call and both ranks ("MPI_Recv from rank 3 (this is rank 0) failed: ...").
//
// Threading: the session asks for MPI_THREAD_SERIALIZED (any thread may call MPI, one at a
// time) and accepts MPI_THREAD_FUNNELED. Callers keep all MPI calls on one thread.
#include <mpi.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mammosweep::cluster {

/// An MPI call failed. what() names the call, the ranks involved and MPI's error string.
class MpiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Owning RAII handle of an MPI communicator (MPI_Comm_free on destruction). Move-only.
/// A default-constructed MpiComm is null (MPI_COMM_NULL): rank()/size() throw on it.
/// Invariant: a non-null MpiComm uses MPI_ERRORS_RETURN, so failures surface as MpiError.
class MpiComm {
 public:
  MpiComm() = default;
  /// Duplicates `comm` (MPI_Comm_dup): the copy has its own message context, so traffic on
  /// it never matches traffic on `comm`.
  static MpiComm duplicate(MPI_Comm comm);
  /// Takes ownership of an already created communicator (may be MPI_COMM_NULL).
  static MpiComm adopt(MPI_Comm comm);

  MpiComm(MpiComm&& other) noexcept;
  MpiComm& operator=(MpiComm&& other) noexcept;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;
  ~MpiComm();

  /// A new communicator over the same processes (MPI_Comm_dup); collective over this one.
  MpiComm dup() const;
  MPI_Comm get() const { return comm_; }
  bool is_null() const { return comm_ == MPI_COMM_NULL; }
  int rank() const;
  int size() const;
  /// World ranks of this communicator's members, in this communicator's rank order.
  std::vector<int> world_ranks() const;

 private:
  explicit MpiComm(MPI_Comm comm) : comm_(comm) {}
  void release() noexcept;
  MPI_Comm comm_ = MPI_COMM_NULL;
};

/// RAII lifetime of MPI in this process: MPI_Init_thread in the constructor, MPI_Finalize in
/// the destructor. Works without mpirun (a singleton world of size 1). If MPI was already
/// initialised by someone else the session neither initialises nor finalises it.
/// Create exactly one per process, in main, and destroy it after every MpiComm.
class MpiSession {
 public:
  /// argc/argv may be null. Throws MpiError if MPI is already finalised or the thread level
  /// granted is below MPI_THREAD_FUNNELED.
  explicit MpiSession(int* argc = nullptr, char*** argv = nullptr);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  /// A duplicate of MPI_COMM_WORLD owned by the session.
  const MpiComm& world() const { return world_; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  /// Rank and size among the processes on this node (MPI_COMM_TYPE_SHARED). The local rank
  /// picks the GPU: one device per local rank.
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  const std::string& hostname() const { return hostname_; }
  /// Every rank's hostname, in world rank order. Collective over the world.
  std::vector<std::string> all_hostnames() const;
  /// The MPI library's name and version, first line ("Open MPI v4.1.4").
  static std::string library_version();
  /// MPI_THREAD_FUNNELED or MPI_THREAD_SERIALIZED (or higher), as granted.
  int thread_level() const { return thread_level_; }

 private:
  bool owns_init_ = false;
  int thread_level_ = 0;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string hostname_;
  MpiComm world_;
};

/// Communicator over the world ranks `ranks` of `world`, in that order (ranks[0] becomes
/// rank 0 of the group: the group leader). Uses MPI_Comm_create_group, so ONLY the members
/// call it (collective over the members only); the tag is derived from `ranks`, so disjoint
/// groups can be created at the same time. Throws std::invalid_argument if `ranks` is empty,
/// has duplicates or out-of-range entries, or does not contain the calling rank.
MpiComm create_group(const MpiComm& world, const std::vector<int>& ranks);

/// Sleep schedule of a polling wait: after each empty poll sleep `initial`, then
/// `growth` times longer, capped at `max`. Trade-off: the first message after an idle
/// period is picked up at most `max` late (5 ms by default, negligible next to a training
/// epoch), and an idle waiter wakes about 1/max times a second (~200/s: well under 1% of
/// a core). A short `initial` keeps replies to quick request/answer exchanges fast.
struct Backoff {
  std::chrono::microseconds initial{50};
  std::chrono::microseconds max{5000};
  double growth = 2.0;

  /// The sleep after `current` in this schedule: current * growth, within [initial, max].
  std::chrono::microseconds next(std::chrono::microseconds current) const;
};

/// What one polling wait did, for tests and benchmarks: how often it polled and how long
/// it asked to sleep. Counting polls shows a sleeping wait without timing anything.
struct PollStats {
  std::size_t polls = 0;
  std::chrono::microseconds longest_nap{0};
};

inline constexpr std::chrono::microseconds kWaitForever = std::chrono::microseconds::max();

/// One received point-to-point message.
struct RawMessage {
  int source = -1;  // rank in the communicator it came from
  int tag = -1;
  std::string bytes;
};

struct RecvOptions {
  int source = MPI_ANY_SOURCE;
  int tag = MPI_ANY_TAG;
  Backoff backoff;
  PollStats* stats = nullptr;  // if set, filled in by recv_any
};

/// Receives the next message matching `options` (any source, any tag by default), waiting
/// at most `timeout` (kWaitForever: no limit). Polls with MPI_Improbe and sleeps between
/// polls (see Backoff) instead of MPI's busy-polling blocking receive; returns nullopt on
/// timeout. A zero timeout polls once.
std::optional<RawMessage> recv_any(const MpiComm& comm, std::chrono::microseconds timeout,
                                   const RecvOptions& options = {});

/// Sends `bytes` to rank `dest` with `tag` (0..32767). Non-blocking send completed by
/// wait(), so a large message to a busy receiver does not spin this process.
void send_bytes(const MpiComm& comm, int dest, int tag, std::string_view bytes,
                const Backoff& backoff = {});

/// Completes `request` with an MPI_Test loop and the sleep schedule of `backoff`.
/// `what` names the operation in the error message (for example "MPI_Isend to rank 2").
void wait(MPI_Request& request, const MpiComm& comm, const std::string& what,
          const Backoff& backoff = {});

/// Throws MpiError if rc != MPI_SUCCESS: "<what> (this is rank <rank>) failed: <MPI error>".
/// `rank` is the caller's rank in the communicator concerned (-1: unknown).
void check_mpi(int rc, const std::string& what, int rank);

}  // namespace mammosweep::cluster
