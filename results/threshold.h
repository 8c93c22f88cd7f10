#pragma once
// The operating threshold of a model (a score >= threshold predicts malignant), chosen on the
// validation predictions by a sweeps::ThresholdRule and then applied unchanged to test data.
//
// Candidates are the distinct validation scores t; at t the sensitivity is the share of
// positives with score >= t and the specificity the share of negatives with score < t.
//   fixed          rule.value itself (the predictions are not looked at).
//   youden         the candidate maximising J = sensitivity + specificity - 1. Ties go to the
//                  lowest such threshold (the highest sensitivity: a missed cancer costs more
//                  than a recall).
//   sensitivity@X  the highest candidate whose sensitivity >= X (the most specific threshold
//                  that still finds X of the cancers). Always exists: the lowest score has
//                  sensitivity 1.
//   specificity@X  the lowest candidate whose specificity >= X (the most sensitive threshold
//                  that still clears X of the benign cases). When even the highest score
//                  does not reach X (negatives tied at the top score), it is an error.
#include "results/records.h"
#include "sweeps/spec.h"

namespace mammosweep::results {

/// The threshold `rule` picks on `val`. Throws std::invalid_argument for invalid predictions
/// (validate_predictions), predictions without both classes (youden, sensitivity@X,
/// specificity@X), a target rate outside (0, 1), a fixed value outside [0, 1], and a
/// specificity@X that no score reaches.
double choose_threshold(const Predictions& val, const sweeps::ThresholdRule& rule);

}  // namespace mammosweep::results
