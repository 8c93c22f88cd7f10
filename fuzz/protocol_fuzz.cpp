// The rank protocol's messages (cluster::decode): the first byte picks the message type (as
// the MPI tag does), the rest is the body. An Assign's trial text is parsed too
// (sweeps::trial_from_text), as the worker does. Any outcome but a message that re-encodes
// to the same bytes, or std::invalid_argument, is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <variant>

#include "cluster/protocol.h"
#include "sweeps/trial.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mammosweep;
  if (size == 0) return 0;
  const auto type = static_cast<cluster::MessageType>(data[0] % 8);
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  cluster::MessageBody body;
  try {
    body = cluster::decode(type, bytes);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  const std::string once = cluster::encode(body);
  if (cluster::encode(cluster::decode(type, once)) != once) {
    std::fprintf(stderr, "message does not round-trip: %s\n", once.c_str());
    std::abort();
  }
  if (const auto* assign = std::get_if<cluster::Assign>(&body)) {
    try {
      sweeps::trial_from_text(assign->trial_text);
    } catch (const std::invalid_argument&) {
    }
  }
  return 0;
}
