#pragma once
// The ask/tell interface of adaptive search (`method: bayes`), in the sampler's own terms:
// a search space of numeric and categorical dimensions, points in it, and finished trials.
// Nothing here knows the spec; sweeps/search_space.h maps spec parameters in and out.
//
// A sampler keeps no state between proposals: `ask` is a pure function of the proposal
// number, the finished trials and the running ones. "Tell" is appending to the history.
// So the same seed and the same history give the same proposal on every platform (only
// splitmix64 draws), and a resumed sweep rebuilds the sampler from results.h5 alone.
#include <cstdint>
#include <string>
#include <vector>

#include "sweeps/splitmix.h"

namespace mammosweep::sweeps {

/// One dimension of a search space. A new kind of spec distribution says how it maps here.
struct Dimension {
  enum class Kind { numeric, categorical };
  std::string name;
  Kind kind = Kind::numeric;
  double low = 0, high = 1;  // numeric: inclusive bounds, in the parameter's own units
  bool log = false;          // numeric: searched in log space (needs low > 0)
  double step = 0;           // numeric: 0 = continuous, else only low + k * step (1 = integers)
  int choices = 0;           // categorical: values are the indices 0 .. choices-1
};
using Space = std::vector<Dimension>;

/// One value per dimension: a number, or a choice index for a categorical dimension.
using Point = std::vector<double>;

/// A finished trial as the sampler sees it.
///
/// `value` is oriented: SMALLER IS BETTER (the caller negates a metric to maximise).
/// A trial stopped early by a scheduler (`stopped`) counts with the value of its last
/// epoch, ranked as Optuna ranks pruned trials: after every trial that ran to the end,
/// and among stopped trials, more `epochs` first, then the smaller value.
struct Observation {
  Point x;
  double value = 0;
  bool stopped = false;
  int epochs = 0;  // epochs reached (used only to rank stopped trials)
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  /// Proposal number `index` (0-based, counting every proposal of the sweep), given the
  /// finished trials in proposal order and the points of trials still running. Pure.
  virtual Point ask(std::uint64_t index, const std::vector<Observation>& history,
                    const std::vector<Point>& pending) const = 0;
};

/// Independent uniform draws (log-uniform on log dimensions), seeded per proposal.
class RandomSampler : public Sampler {
 public:
  RandomSampler(Space space, std::uint64_t seed) : space_(std::move(space)), seed_(seed) {}
  Point ask(std::uint64_t index, const std::vector<Observation>& history,
            const std::vector<Point>& pending) const override;

 private:
  Space space_;
  std::uint64_t seed_;
};

/// The generator of proposal `index` under `seed` (independent streams per proposal).
SplitMix64 proposal_rng(std::uint64_t seed, std::uint64_t index);
/// Uniform double in [0, 1) from 53 random bits.
double unit(SplitMix64& rng);
/// One uniform point of `space` (log-uniform on log dimensions, on the step grid).
Point random_point(const Space& space, SplitMix64& rng);
/// `x` rounded onto dimension d's step grid and clamped into its bounds.
double snap(const Dimension& d, double x);
/// Throws std::invalid_argument naming the dimension when a space is unusable (empty
/// range, log with low <= 0, negative step, categorical without choices).
void check_space(const Space& space);

}  // namespace mammosweep::sweeps
