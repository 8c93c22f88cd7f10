// splitmix64 (Sebastiano Vigna): a small, fully specified 64-bit mixer and generator. Every
// seeded choice in mammosweep goes through it (trial seeds, random search, dataset splits,
// data order, augmentation, dropout seeds, synthetic images), so one seed gives the same
// numbers on every platform; std:: distributions are implementation-defined.
#pragma once

#include <cstdint>

namespace mammosweep::sweeps {

inline constexpr std::uint64_t kSplitMixGamma = 0x9e3779b97f4a7c15ULL;

/// The mixer: Vigna's finaliser of x + kSplitMixGamma.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += kSplitMixGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// The generator: next() returns splitmix64(state) and advances the state by the gamma.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}
  constexpr std::uint64_t next() {
    const std::uint64_t s = state_;
    state_ += kSplitMixGamma;
    return splitmix64(s);
  }

 private:
  std::uint64_t state_;
};

}  // namespace mammosweep::sweeps
