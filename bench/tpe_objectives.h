#pragma once
// The analytic objectives of bench/tpe_bench.cpp; bench/tpe_bench.py defines the same three
// in Python for Optuna. Smaller is better; each has a known minimum.
#include <cmath>
#include <string>
#include <vector>

#include "sweeps/sampler.h"

namespace mammosweep::bench {

struct Objective {
  std::string name;
  sweeps::Space space;
  double minimum;
  double (*f)(const sweeps::Point&);
};

inline sweeps::Dimension numeric(const char* name, double lo, double hi, bool log = false) {
  sweeps::Dimension d;
  d.name = name;
  d.low = lo;
  d.high = hi;
  d.log = log;
  return d;
}
inline sweeps::Dimension choice(const char* name, int n) {
  sweeps::Dimension d;
  d.name = name;
  d.kind = sweeps::Dimension::Kind::categorical;
  d.choices = n;
  return d;
}

/// Branin on [-5, 10] x [0, 15]; minimum 0.397887357729738 (three minimisers).
inline double branin(const sweeps::Point& x) {
  const double pi = 3.14159265358979323846;
  const double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
  const double u = x[1] - b * x[0] * x[0] + c * x[0] - 6;
  return u * u + 10 * (1 - t) * std::cos(x[0]) + 10;
}

/// Hartmann-6 on [0, 1]^6; minimum -3.32236801141551.
inline double hartmann6(const sweeps::Point& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                 {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650},
                                 {4047, 8828, 8732, 5743, 1091, 381}};
  double f = 0;
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j) s += A[i][j] * std::pow(x[j] - 1e-4 * P[i][j], 2);
    f -= alpha[i] * std::exp(-s);
  }
  return f;
}

/// Shaped like the week-7 sweep: lr log-uniform [1e-5, 1e-1]; optimizer adam | adamw |
/// rmsprop | sgd; dense units 256 | 512 | 1024 | 2048; dropout [0, 0.7]; unfrozen fraction
/// [0, 1]. Each optimizer has its own best lr; minimum 0 at adam, lr 10^-3.5, 1024 units,
/// dropout 0.3, unfrozen fraction 0.6.
inline double week7(const sweeps::Point& x) {
  static const double best_log_lr[4] = {-3.5, -3.3, -4.0, -2.0};
  static const double optimizer_penalty[4] = {0, 0.05, 0.3, 0.5};
  static const double units_penalty[4] = {0.3, 0.1, 0, 0.15};
  const auto o = static_cast<int>(x[1]), u = static_cast<int>(x[2]);
  return std::pow(std::log10(x[0]) - best_log_lr[o], 2) + optimizer_penalty[o] +
         units_penalty[u] + 4 * std::pow(x[3] - 0.3, 2) + 3 * std::pow(x[4] - 0.6, 2);
}

inline std::vector<Objective> objectives() {
  return {
      {"branin", {numeric("x1", -5, 10), numeric("x2", 0, 15)}, 0.397887357729738, branin},
      {"hartmann6",
       {numeric("x1", 0, 1), numeric("x2", 0, 1), numeric("x3", 0, 1), numeric("x4", 0, 1),
        numeric("x5", 0, 1), numeric("x6", 0, 1)},
       -3.32236801141551,
       hartmann6},
      {"week7",
       {numeric("lr", 1e-5, 1e-1, true), choice("optimizer", 4), choice("dense_units", 4),
        numeric("dropout", 0, 0.7), numeric("unfrozen_fraction", 0, 1)},
       0.0,
       week7},
  };
}

}  // namespace mammosweep::bench
