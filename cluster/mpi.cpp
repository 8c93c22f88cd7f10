#include "cluster/mpi.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <set>
#include <thread>

namespace mammosweep::cluster {
namespace {

std::string mpi_error_string(int rc) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return fmt::format("MPI error code {}", rc);
  return std::string(text, static_cast<std::size_t>(len));
}

bool mpi_finalized() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  return finalized != 0;
}

int rank_or_unknown(MPI_Comm comm) {
  int rank = -1;
  if (comm == MPI_COMM_NULL || MPI_Comm_rank(comm, &rank) != MPI_SUCCESS) return -1;
  return rank;
}

}  // namespace

void check_mpi(int rc, const std::string& what, int rank) {
  if (rc == MPI_SUCCESS) return;
  if (rank >= 0) {
    throw MpiError(fmt::format("{} (this is rank {}) failed: {}", what, rank, mpi_error_string(rc)));
  }
  throw MpiError(fmt::format("{} failed: {}", what, mpi_error_string(rc)));
}

std::chrono::microseconds Backoff::next(std::chrono::microseconds current) const {
  const auto grown = std::chrono::microseconds(
      static_cast<std::chrono::microseconds::rep>(static_cast<double>(current.count()) * growth));
  return std::clamp(grown, initial, std::max(initial, max));
}

// ---------------------------------------------------------------- MpiComm

MpiComm MpiComm::duplicate(MPI_Comm comm) {
  MPI_Comm copy = MPI_COMM_NULL;
  check_mpi(MPI_Comm_dup(comm, &copy), "MPI_Comm_dup", rank_or_unknown(comm));
  check_mpi(MPI_Comm_set_errhandler(copy, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler",
            rank_or_unknown(copy));
  return MpiComm(copy);
}

MpiComm MpiComm::adopt(MPI_Comm comm) {
  if (comm != MPI_COMM_NULL) {
    check_mpi(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler",
              rank_or_unknown(comm));
  }
  return MpiComm(comm);
}

MpiComm::MpiComm(MpiComm&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = other.comm_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

MpiComm::~MpiComm() { release(); }

void MpiComm::release() noexcept {
  // A communicator that outlives MPI_Finalize cannot be freed any more; MPI reclaimed it.
  if (comm_ != MPI_COMM_NULL && comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_SELF &&
      !mpi_finalized()) {
    MPI_Comm_free(&comm_);
  }
  comm_ = MPI_COMM_NULL;
}

MpiComm MpiComm::dup() const {
  if (is_null()) throw MpiError("MpiComm::dup: the communicator is null");
  return duplicate(comm_);
}

int MpiComm::rank() const {
  if (is_null()) throw MpiError("MpiComm::rank: the communicator is null");
  int r = -1;
  check_mpi(MPI_Comm_rank(comm_, &r), "MPI_Comm_rank", -1);
  return r;
}

int MpiComm::size() const {
  if (is_null()) throw MpiError("MpiComm::size: the communicator is null");
  int s = 0;
  check_mpi(MPI_Comm_size(comm_, &s), "MPI_Comm_size", -1);
  return s;
}

std::vector<int> MpiComm::world_ranks() const {
  const int n = size();
  MPI_Group mine = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
  check_mpi(MPI_Comm_group(comm_, &mine), "MPI_Comm_group", rank());
  check_mpi(MPI_Comm_group(MPI_COMM_WORLD, &world), "MPI_Comm_group(MPI_COMM_WORLD)", rank());
  std::vector<int> local(static_cast<std::size_t>(n)), out(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) local[static_cast<std::size_t>(i)] = i;
  const int rc = MPI_Group_translate_ranks(mine, n, local.data(), world, out.data());
  MPI_Group_free(&mine);
  MPI_Group_free(&world);
  check_mpi(rc, "MPI_Group_translate_ranks", rank());
  return out;
}

// ---------------------------------------------------------------- MpiSession

MpiSession::MpiSession(int* argc, char*** argv) {
  if (mpi_finalized()) {
    throw MpiError("MpiSession: MPI was already finalised in this process; MPI cannot be "
                   "initialised twice (create one MpiSession per process, in main)");
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) {
    MPI_Query_thread(&thread_level_);
  } else {
    const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &thread_level_);
    if (rc != MPI_SUCCESS) throw MpiError(fmt::format("MPI_Init_thread failed (code {})", rc));
    owns_init_ = true;
  }
  if (thread_level_ < MPI_THREAD_FUNNELED) {
    if (owns_init_) MPI_Finalize();
    throw MpiError(fmt::format(
        "MPI_Init_thread: expected thread level MPI_THREAD_FUNNELED ({}) or higher, the MPI "
        "library granted {}",
        static_cast<int>(MPI_THREAD_FUNNELED), thread_level_));
  }
  try {
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    world_ = MpiComm::duplicate(MPI_COMM_WORLD);
    rank_ = world_.rank();
    size_ = world_.size();

    MPI_Comm local = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split_type(world_.get(), MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
              "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)", rank_);
    MpiComm node = MpiComm::adopt(local);
    local_rank_ = node.rank();
    local_size_ = node.size();

    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int len = 0;
    check_mpi(MPI_Get_processor_name(name, &len), "MPI_Get_processor_name", rank_);
    hostname_.assign(name, static_cast<std::size_t>(len));
  } catch (...) {
    world_ = MpiComm();
    if (owns_init_) MPI_Finalize();
    throw;
  }
}

MpiSession::~MpiSession() {
  world_ = MpiComm();
  if (owns_init_ && !mpi_finalized()) MPI_Finalize();
}

std::vector<std::string> MpiSession::all_hostnames() const {
  constexpr int kLen = MPI_MAX_PROCESSOR_NAME;
  std::string mine = hostname_;
  mine.resize(kLen, '\0');
  std::string all(static_cast<std::size_t>(kLen) * static_cast<std::size_t>(size_), '\0');
  check_mpi(MPI_Allgather(mine.data(), kLen, MPI_CHAR, all.data(), kLen, MPI_CHAR, world_.get()),
            "MPI_Allgather(hostnames)", rank_);
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) out.emplace_back(all.c_str() + static_cast<std::size_t>(r) * kLen);
  return out;
}

std::string MpiSession::library_version() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(buf, &len);
  std::string v(buf, static_cast<std::size_t>(len));
  if (auto nl = v.find_first_of(",\n"); nl != std::string::npos) v = v.substr(0, nl);
  return v;
}

// ---------------------------------------------------------------- groups

MpiComm create_group(const MpiComm& world, const std::vector<int>& ranks) {
  const int me = world.rank();
  const int n = world.size();
  if (ranks.empty()) throw std::invalid_argument("create_group: the rank list is empty");
  std::set<int> seen;
  for (int r : ranks) {
    if (r < 0 || r >= n) {
      throw std::invalid_argument(fmt::format(
          "create_group: rank {} is outside the communicator (expected 0..{}), list {}", r, n - 1,
          fmt::join(ranks, ",")));
    }
    if (!seen.insert(r).second) {
      throw std::invalid_argument(
          fmt::format("create_group: rank {} appears twice in {}", r, fmt::join(ranks, ",")));
    }
  }
  if (!seen.count(me)) {
    throw std::invalid_argument(fmt::format(
        "create_group: rank {} is not a member of group {{{}}}; only members may call it", me,
        fmt::join(ranks, ",")));
  }
  // Tag from the member list (FNV-1a), so concurrent creations of different groups by
  // different processes never share a tag by construction of the list itself.
  std::uint32_t h = 2166136261u;
  for (int r : ranks) h = (h ^ static_cast<std::uint32_t>(r)) * 16777619u;
  const int tag = static_cast<int>(h % 30000u);

  MPI_Group parent = MPI_GROUP_NULL, members = MPI_GROUP_NULL;
  check_mpi(MPI_Comm_group(world.get(), &parent), "MPI_Comm_group", me);
  int rc = MPI_Group_incl(parent, static_cast<int>(ranks.size()), ranks.data(), &members);
  MPI_Group_free(&parent);
  check_mpi(rc, "MPI_Group_incl", me);
  MPI_Comm out = MPI_COMM_NULL;
  rc = MPI_Comm_create_group(world.get(), members, tag, &out);
  MPI_Group_free(&members);
  check_mpi(rc, fmt::format("MPI_Comm_create_group for ranks {{{}}}", fmt::join(ranks, ",")), me);
  return MpiComm::adopt(out);
}

// ---------------------------------------------------------------- point to point

std::optional<RawMessage> recv_any(const MpiComm& comm, std::chrono::microseconds timeout,
                                   const RecvOptions& options) {
  const int me = comm.rank();
  const auto start = std::chrono::steady_clock::now();
  const bool forever = timeout == kWaitForever;
  auto sleep = options.backoff.initial;
  PollStats ignored;
  PollStats& stats = options.stats ? *options.stats : ignored;
  stats = PollStats{};
  for (;;) {
    ++stats.polls;
    int flag = 0;
    MPI_Message handle = MPI_MESSAGE_NULL;
    MPI_Status status;
    check_mpi(MPI_Improbe(options.source, options.tag, comm.get(), &flag, &handle, &status),
              "MPI_Improbe", me);
    if (flag) {
      int count = 0;
      check_mpi(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count", me);
      RawMessage msg;
      msg.source = status.MPI_SOURCE;
      msg.tag = status.MPI_TAG;
      msg.bytes.resize(static_cast<std::size_t>(count));
      check_mpi(MPI_Mrecv(msg.bytes.data(), count, MPI_BYTE, &handle, MPI_STATUS_IGNORE),
                fmt::format("MPI_Mrecv from rank {} (tag {})", msg.source, msg.tag), me);
      return msg;
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!forever && elapsed >= timeout) return std::nullopt;
    auto nap = sleep;
    if (!forever) {
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(timeout - elapsed);
      nap = std::min(nap, std::max(left, std::chrono::microseconds(1)));
    }
    stats.longest_nap = std::max(stats.longest_nap, nap);
    std::this_thread::sleep_for(nap);
    sleep = options.backoff.next(sleep);
  }
}

void wait(MPI_Request& request, const MpiComm& comm, const std::string& what,
          const Backoff& backoff) {
  const int me = comm.rank();
  auto sleep = backoff.initial;
  for (;;) {
    int done = 0;
    check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what, me);
    if (done) return;
    std::this_thread::sleep_for(sleep);
    sleep = backoff.next(sleep);
  }
}

void send_bytes(const MpiComm& comm, int dest, int tag, std::string_view bytes,
                const Backoff& backoff) {
  const int me = comm.rank();
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::invalid_argument(fmt::format(
        "send_bytes to rank {} (this is rank {}): {} bytes exceed the MPI count limit {}", dest,
        me, bytes.size(), INT_MAX));
  }
  const std::string what = fmt::format("MPI_Isend to rank {} (tag {})", dest, tag);
  MPI_Request request = MPI_REQUEST_NULL;
  check_mpi(MPI_Isend(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag,
                      comm.get(), &request),
            what, me);
  wait(request, comm, what, backoff);
}

}  // namespace mammosweep::cluster
