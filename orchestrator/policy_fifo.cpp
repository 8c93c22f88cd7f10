// FIFO: every trial runs all its epochs. It still checks the epoch order, so that switching
// policies never changes which reports are accepted.
#include <map>

#include "orchestrator/policy.h"

namespace mammosweep::orchestrator {
namespace {

class FifoPolicy final : public SchedulingPolicy {
 public:
  Decision on_epoch(const std::string& trial_id, int epoch, double /*metric_value*/) override {
    int& last = last_epoch_[trial_id];
    detail::check_epoch("fifo", trial_id, last, epoch);
    last = epoch;
    return Decision::proceed;
  }
  std::string name() const override { return "fifo"; }

 private:
  std::map<std::string, int> last_epoch_;  // trial id -> last reported epoch
};

}  // namespace

std::unique_ptr<SchedulingPolicy> make_fifo_policy() { return std::make_unique<FifoPolicy>(); }

}  // namespace mammosweep::orchestrator
