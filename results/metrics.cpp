#include "results/metrics.h"

#include <cstring>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mammosweep::results {
namespace {

double ratio(std::int64_t num, std::int64_t den) {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}

void check_sample(std::int8_t label, float score, std::size_t i, const char* where) {
  if (label != 0 && label != 1) {
    throw std::invalid_argument(std::string(where) + ": label at index " + std::to_string(i) +
                                " is " + std::to_string(int{label}) + ", expected 0 or 1");
  }
  if (std::isnan(score)) {
    throw std::invalid_argument(std::string(where) + ": score at index " + std::to_string(i) +
                                " is NaN, expected a probability");
  }
}

void count(ConfusionMatrix& cm, std::int8_t label, float score, double threshold) {
  const bool predicted = static_cast<double>(score) >= threshold;
  if (label == 1) {
    (predicted ? cm.tp : cm.fn) += 1;
  } else {
    (predicted ? cm.fp : cm.tn) += 1;
  }
}

}  // namespace

void validate_predictions(const Predictions& p, const char* where) {
  if (p.labels.size() != p.scores.size()) {
    throw std::invalid_argument(std::string(where) + ": " + std::to_string(p.labels.size()) +
                                " labels but " + std::to_string(p.scores.size()) +
                                " scores, expected the same count");
  }
  for (std::size_t i = 0; i < p.labels.size(); ++i) check_sample(p.labels[i], p.scores[i], i, where);
}

ConfusionMatrix confusion_matrix(const Predictions& p, double threshold) {
  validate_predictions(p);
  ConfusionMatrix cm;
  for (std::size_t i = 0; i < p.size(); ++i) count(cm, p.labels[i], p.scores[i], threshold);
  return cm;
}

SplitMetrics metrics_from_confusion(const ConfusionMatrix& cm) {
  SplitMetrics m;
  m.cm = cm;
  m.accuracy = ratio(cm.tp + cm.tn, cm.total());
  m.precision = ratio(cm.tp, cm.tp + cm.fp);
  m.recall = ratio(cm.tp, cm.tp + cm.fn);
  m.specificity = ratio(cm.tn, cm.tn + cm.fp);
  if (!std::isnan(m.precision) && !std::isnan(m.recall) && m.precision + m.recall > 0.0) {
    m.f1 = 2.0 * m.precision * m.recall / (m.precision + m.recall);
  }
  return m;
}

double roc_auc(const Predictions& p) {
  validate_predictions(p);
  const std::size_t n = p.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return p.scores[a] < p.scores[b]; });
  // Sum of the mid-ranks (1-based) of the positives.
  double rank_sum_pos = 0.0;
  std::int64_t n_pos = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && p.scores[order[j]] == p.scores[order[i]]) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) {
      if (p.labels[order[k]] == 1) {
        rank_sum_pos += mid_rank;
        ++n_pos;
      }
    }
    i = j;
  }
  const std::int64_t n_neg = static_cast<std::int64_t>(n) - n_pos;
  if (n_pos == 0 || n_neg == 0) return kNaN;
  const double np = static_cast<double>(n_pos);
  return (rank_sum_pos - np * (np + 1.0) / 2.0) / (np * static_cast<double>(n_neg));
}

SplitMetrics compute_metrics(const Predictions& p, double threshold, double loss) {
  SplitMetrics m = metrics_from_confusion(confusion_matrix(p, threshold));
  m.auc = roc_auc(p);
  m.loss = loss;
  return m;
}

std::vector<RocPoint> roc_curve(const Predictions& p) {
  validate_predictions(p);
  const std::size_t n = p.size();
  std::int64_t n_pos = 0;
  for (auto l : p.labels) n_pos += l;
  const std::int64_t n_neg = static_cast<std::int64_t>(n) - n_pos;
  std::vector<RocPoint> curve;
  if (n_pos == 0 || n_neg == 0) return curve;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return p.scores[a] > p.scores[b]; });
  curve.push_back({0.0, 0.0, std::numeric_limits<double>::infinity()});
  std::int64_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && p.scores[order[j]] == p.scores[order[i]]) {
      (p.labels[order[j]] == 1 ? tp : fp) += 1;
      ++j;
    }
    curve.push_back({static_cast<double>(fp) / static_cast<double>(n_neg),
                     static_cast<double>(tp) / static_cast<double>(n_pos),
                     static_cast<double>(p.scores[order[i]])});
    i = j;
  }
  return curve;
}

void MetricsAccumulator::add(const std::vector<std::int8_t>& labels,
                             const std::vector<float>& scores, double loss_sum,
                             std::int64_t loss_count) {
  if (labels.size() != scores.size()) {
    throw std::invalid_argument("MetricsAccumulator::add: " + std::to_string(labels.size()) +
                                " labels but " + std::to_string(scores.size()) +
                                " scores, expected the same count");
  }
  add(labels.data(), scores.data(), labels.size(), loss_sum, loss_count);
}

void MetricsAccumulator::add(const std::int8_t* labels, const float* scores, std::size_t n,
                             double loss_sum, std::int64_t loss_count) {
  if (loss_count < 0) {
    throw std::invalid_argument("MetricsAccumulator::add: loss_count is " +
                                std::to_string(loss_count) + ", expected >= 0");
  }
  for (std::size_t i = 0; i < n; ++i) check_sample(labels[i], scores[i], i, "MetricsAccumulator::add batch");
  for (std::size_t i = 0; i < n; ++i) count(cm_, labels[i], scores[i], threshold_);
  predictions_.labels.insert(predictions_.labels.end(), labels, labels + n);
  predictions_.scores.insert(predictions_.scores.end(), scores, scores + n);
  loss_sum_ += loss_sum;
  loss_count_ += loss_count;
}

std::string MetricsAccumulator::to_bytes() const {
  std::string bytes;
  bytes.append(reinterpret_cast<const char*>(&loss_sum_), sizeof loss_sum_);
  bytes.append(reinterpret_cast<const char*>(&loss_count_), sizeof loss_count_);
  bytes.append(reinterpret_cast<const char*>(predictions_.labels.data()),
               predictions_.labels.size());
  bytes.append(reinterpret_cast<const char*>(predictions_.scores.data()),
               predictions_.scores.size() * sizeof(float));
  return bytes;
}

MetricsAccumulator MetricsAccumulator::from_bytes(const std::string& bytes, double threshold) {
  constexpr std::size_t kHead = sizeof(double) + sizeof(std::int64_t);
  constexpr std::size_t kRow = sizeof(std::int8_t) + sizeof(float);
  if (bytes.size() < kHead || (bytes.size() - kHead) % kRow != 0) {
    throw std::invalid_argument("MetricsAccumulator::from_bytes: " + std::to_string(bytes.size()) +
                                " bytes is not 16 + 5 * n");
  }
  double loss_sum = 0.0;
  std::int64_t count = 0;
  std::memcpy(&loss_sum, bytes.data(), sizeof loss_sum);
  std::memcpy(&count, bytes.data() + sizeof loss_sum, sizeof count);
  const std::size_t n = (bytes.size() - kHead) / kRow;
  std::vector<std::int8_t> labels(n);
  std::vector<float> scores(n);
  if (n > 0) {  // an empty vector's data() may be null, which memcpy must not get (UBSan)
    std::memcpy(labels.data(), bytes.data() + kHead, n);
    std::memcpy(scores.data(), bytes.data() + kHead + n, n * sizeof(float));
  }
  MetricsAccumulator acc(threshold);
  acc.add(labels.data(), scores.data(), n, loss_sum, count);
  return acc;
}

void MetricsAccumulator::merge(const MetricsAccumulator& other) {
  if (other.threshold_ != threshold_) {
    throw std::invalid_argument("MetricsAccumulator::merge: threshold " +
                                std::to_string(other.threshold_) + " differs from this one's " +
                                std::to_string(threshold_));
  }
  cm_.tp += other.cm_.tp;
  cm_.fp += other.cm_.fp;
  cm_.tn += other.cm_.tn;
  cm_.fn += other.cm_.fn;
  predictions_.labels.insert(predictions_.labels.end(), other.predictions_.labels.begin(),
                             other.predictions_.labels.end());
  predictions_.scores.insert(predictions_.scores.end(), other.predictions_.scores.begin(),
                             other.predictions_.scores.end());
  loss_sum_ += other.loss_sum_;
  loss_count_ += other.loss_count_;
}

SplitMetrics MetricsAccumulator::result() const {
  SplitMetrics m = metrics_from_confusion(cm_);
  m.auc = roc_auc(predictions_);
  m.loss = loss_count_ == 0 ? kNaN : loss_sum_ / static_cast<double>(loss_count_);
  return m;
}

void MetricsAccumulator::clear() {
  cm_ = ConfusionMatrix{};
  predictions_ = Predictions{};
  loss_sum_ = 0.0;
  loss_count_ = 0;
}

}  // namespace mammosweep::results
