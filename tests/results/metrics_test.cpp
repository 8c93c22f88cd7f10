#include "results/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

namespace mammosweep::results {
namespace {

Predictions make(std::vector<std::int8_t> labels, std::vector<float> scores) {
  Predictions p;
  p.labels = std::move(labels);
  p.scores = std::move(scores);
  return p;
}

// Brute force: fraction of (positive, negative) pairs ordered correctly, ties count 1/2.
double pairwise_auc(const Predictions& p) {
  double wins = 0.0;
  double pairs = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p.labels[i] != 1) continue;
    for (std::size_t j = 0; j < p.size(); ++j) {
      if (p.labels[j] != 0) continue;
      pairs += 1.0;
      if (p.scores[i] > p.scores[j]) wins += 1.0;
      if (p.scores[i] == p.scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

// labels  1    0    1    0    1    0
// scores  0.9  0.8  0.7  0.4  0.3  0.2
// at 0.5: TP   FP   TP   TN   FN   TN   -> tp 2, fp 1, tn 2, fn 1
// AUC pairs (pos > neg): 0.9 beats 3, 0.7 beats 2 (0.4, 0.2), 0.3 beats 1 (0.2) -> 6/9
TEST(Metrics, SixSamplesByHand) {
  const auto p = make({1, 0, 1, 0, 1, 0}, {0.9f, 0.8f, 0.7f, 0.4f, 0.3f, 0.2f});
  const auto m = compute_metrics(p, 0.5, 0.25);
  EXPECT_EQ(m.cm, (ConfusionMatrix{2, 1, 2, 1}));
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.specificity, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.auc, 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.loss, 0.25);
}

// Threshold 0.75: only 0.9 and 0.8 predict 1 -> tp 1 (0.9), fp 1 (0.8), tn 2, fn 2.
TEST(Metrics, ThresholdMovesConfusionNotAuc) {
  const auto p = make({1, 0, 1, 0, 1, 0}, {0.9f, 0.8f, 0.7f, 0.4f, 0.3f, 0.2f});
  const auto m = compute_metrics(p, 0.75);
  EXPECT_EQ(m.cm, (ConfusionMatrix{1, 1, 2, 2}));
  EXPECT_DOUBLE_EQ(m.recall, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.auc, 6.0 / 9.0);
}

// labels 1    1    0    0
// scores 0.8  0.5  0.5  0.2
// at 0.5 (>= predicts 1): TP TP FP TN -> tp 2, fp 1, tn 1, fn 0
// precision 2/3, recall 1, specificity 1/2, F1 = 2*(2/3)*1/(2/3+1) = 0.8
// AUC pairs: 0.8>0.5, 0.8>0.2, 0.5=0.5 (1/2), 0.5>0.2 -> 3.5/4 = 0.875
TEST(Metrics, TiedScoresCountOneHalf) {
  const auto p = make({1, 1, 0, 0}, {0.8f, 0.5f, 0.5f, 0.2f});
  const auto m = compute_metrics(p);
  EXPECT_EQ(m.cm, (ConfusionMatrix{2, 1, 1, 0}));
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_DOUBLE_EQ(m.specificity, 0.5);
  EXPECT_DOUBLE_EQ(m.f1, 0.8);
  EXPECT_DOUBLE_EQ(m.auc, 0.875);
}

// All scores 0.3 < 0.5: everything predicted 0 -> tp 0, fp 0, tn 3, fn 2.
// precision 0/0 = NaN, recall 0, F1 NaN; every pair is a tie -> AUC 1/2.
TEST(Metrics, AllScoresEqual) {
  const auto p = make({1, 0, 1, 0, 0}, {0.3f, 0.3f, 0.3f, 0.3f, 0.3f});
  const auto m = compute_metrics(p);
  EXPECT_EQ(m.cm, (ConfusionMatrix{0, 0, 3, 2}));
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_TRUE(std::isnan(m.precision));
  EXPECT_DOUBLE_EQ(m.recall, 0.0);
  EXPECT_DOUBLE_EQ(m.specificity, 1.0);
  EXPECT_TRUE(std::isnan(m.f1));
  EXPECT_DOUBLE_EQ(m.auc, 0.5);
}

// Positives only: 0.2 -> FN, 0.6 and 0.9 -> TP. No negative: specificity and AUC NaN.
TEST(Metrics, OneClassOnly) {
  const auto p = make({1, 1, 1}, {0.2f, 0.6f, 0.9f});
  const auto m = compute_metrics(p);
  EXPECT_EQ(m.cm, (ConfusionMatrix{2, 0, 0, 1}));
  EXPECT_DOUBLE_EQ(m.precision, 1.0);
  EXPECT_DOUBLE_EQ(m.recall, 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(m.specificity));
  EXPECT_TRUE(std::isnan(m.auc));
  EXPECT_TRUE(roc_curve(p).empty());
  const auto negatives = compute_metrics(make({0, 0}, {0.1f, 0.7f}));
  EXPECT_TRUE(std::isnan(negatives.recall));
  EXPECT_TRUE(std::isnan(negatives.auc));
  EXPECT_DOUBLE_EQ(negatives.specificity, 0.5);
}

TEST(Metrics, EmptyAndReversed) {
  const auto empty = compute_metrics(Predictions{});
  EXPECT_EQ(empty.cm.total(), 0);
  EXPECT_TRUE(std::isnan(empty.accuracy));
  EXPECT_TRUE(std::isnan(empty.auc));
  // Every positive scores below every negative.
  EXPECT_DOUBLE_EQ(roc_auc(make({1, 0, 1, 0}, {0.1f, 0.9f, 0.2f, 0.8f})), 0.0);
  // All predictions wrong and precision = recall = 0 -> F1 NaN (0/0).
  const auto wrong = compute_metrics(make({1, 0}, {0.1f, 0.9f}));
  EXPECT_DOUBLE_EQ(wrong.precision, 0.0);
  EXPECT_DOUBLE_EQ(wrong.recall, 0.0);
  EXPECT_TRUE(std::isnan(wrong.f1));
}

TEST(Metrics, RankAucMatchesPairCountingWithManyTies) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> level(0, 9);  // only 10 distinct scores: many ties
  std::bernoulli_distribution coin(0.4);
  Predictions p;
  for (int i = 0; i < 300; ++i) {
    const std::int8_t y = coin(rng) ? 1 : 0;
    p.labels.push_back(y);
    p.scores.push_back(static_cast<float>((level(rng) + 2 * y) / 12.0));
  }
  EXPECT_NEAR(roc_auc(p), pairwise_auc(p), 1e-12);
}

// ROC of the tie example, scores descending 0.8(+) | 0.5(+,-) | 0.2(-), 2 pos, 2 neg:
// (0,0) -> (0,0.5) -> (0.5,1) -> (1,1); trapezoid area 0.375 + 0.5 = 0.875 = AUC.
TEST(Metrics, RocCurvePoints) {
  const auto curve = roc_curve(make({1, 1, 0, 0}, {0.8f, 0.5f, 0.5f, 0.2f}));
  ASSERT_EQ(curve.size(), 4u);
  const double expected[4][2] = {{0, 0}, {0, 0.5}, {0.5, 1}, {1, 1}};
  for (int i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(curve[i].fpr, expected[i][0]) << i;
    EXPECT_DOUBLE_EQ(curve[i].tpr, expected[i][1]) << i;
  }
  EXPECT_TRUE(std::isinf(curve[0].threshold));
  EXPECT_FLOAT_EQ(static_cast<float>(curve[2].threshold), 0.5f);
  double area = 0.0;
  for (std::size_t i = 1; i < curve.size(); ++i) {
    area += (curve[i].fpr - curve[i - 1].fpr) * (curve[i].tpr + curve[i - 1].tpr) / 2.0;
  }
  EXPECT_DOUBLE_EQ(area, 0.875);
}

TEST(Metrics, InvalidInputThrows) {
  EXPECT_THROW(roc_auc(make({1, 0}, {0.5f})), std::invalid_argument);
  EXPECT_THROW(roc_auc(make({1, 2}, {0.5f, 0.4f})), std::invalid_argument);
  EXPECT_THROW(confusion_matrix(make({1, 0}, {0.5f, std::nanf("")})), std::invalid_argument);
  try {
    validate_predictions(make({1, 0, 3}, {0.1f, 0.2f, 0.3f}), "val predictions");
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("val predictions: label at index 2 is 3"),
              std::string::npos)
        << e.what();
  }
}

// The six-sample example split over two batches and over two "ranks".
TEST(MetricsAccumulator, BatchesAndMergeEqualOneShot) {
  MetricsAccumulator acc;
  acc.add({1, 0, 1}, {0.9f, 0.8f, 0.7f}, 1.2, 3);
  acc.add({0, 1, 0}, {0.4f, 0.3f, 0.2f}, 0.6, 3);
  const auto m = acc.result();
  EXPECT_EQ(m.cm, (ConfusionMatrix{2, 1, 2, 1}));
  EXPECT_DOUBLE_EQ(m.auc, 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.loss, 0.3);  // (1.2 + 0.6) / 6

  MetricsAccumulator rank0, rank1;
  rank0.add({1, 0}, {0.9f, 0.4f}, 0.5, 2);
  rank1.add({0, 1, 0, 1}, {0.8f, 0.3f, 0.2f, 0.7f}, 1.3, 4);
  rank0.merge(rank1);
  const auto merged = rank0.result();
  EXPECT_EQ(merged.cm, (ConfusionMatrix{2, 1, 2, 1}));
  EXPECT_DOUBLE_EQ(merged.auc, 6.0 / 9.0);  // same multiset of (label, score)
  EXPECT_DOUBLE_EQ(merged.loss, 0.3);
  EXPECT_EQ(rank0.predictions().size(), 6u);

  MetricsAccumulator other_threshold(0.7);
  EXPECT_THROW(rank0.merge(other_threshold), std::invalid_argument);
  EXPECT_THROW(acc.add({1}, {0.5f, 0.5f}, 0.0, 0), std::invalid_argument);

  acc.clear();
  const auto cleared = acc.result();
  EXPECT_EQ(cleared.cm.total(), 0);
  EXPECT_TRUE(std::isnan(cleared.loss));
}

TEST(MetricsAccumulator, ThresholdApplies) {
  MetricsAccumulator acc(0.75);
  acc.add({1, 0, 1, 0, 1, 0}, {0.9f, 0.8f, 0.7f, 0.4f, 0.3f, 0.2f}, 0.0, 0);
  EXPECT_EQ(acc.confusion(), (ConfusionMatrix{1, 1, 2, 2}));
  EXPECT_TRUE(std::isnan(acc.result().loss));
}

TEST(MetricsAccumulatorBytes, RoundTripGivesTheSameAccumulator) {
  MetricsAccumulator a(0.3);
  a.add(std::vector<std::int8_t>{1, 0, 1}, std::vector<float>{0.9f, 0.25f, 0.1f}, 1.5, 3);
  const MetricsAccumulator b = MetricsAccumulator::from_bytes(a.to_bytes(), 0.3);
  EXPECT_EQ(a.to_bytes().size(), 16u + 5u * 3u);
  EXPECT_EQ(b.predictions().labels, a.predictions().labels);
  EXPECT_EQ(b.predictions().scores, a.predictions().scores);
  EXPECT_EQ(b.loss_sum(), 1.5);
  EXPECT_EQ(b.loss_count(), 3);
  // At threshold 0.3: 0.9 -> TP, 0.25 -> TN, 0.1 with label 1 -> FN.
  EXPECT_EQ(b.confusion().tp, 1);
  EXPECT_EQ(b.confusion().tn, 1);
  EXPECT_EQ(b.confusion().fn, 1);
  EXPECT_EQ(b.confusion().fp, 0);
}

TEST(MetricsAccumulatorBytes, MergingRanksSharesEqualsOneAccumulatorOfEverything) {
  MetricsAccumulator rank0, rank1, all;
  rank0.add(std::vector<std::int8_t>{1, 0}, std::vector<float>{0.8f, 0.6f}, 0.5, 2);
  rank1.add(std::vector<std::int8_t>{0}, std::vector<float>{0.1f}, 0.25, 1);
  all.add(std::vector<std::int8_t>{1, 0, 0}, std::vector<float>{0.8f, 0.6f, 0.1f}, 0.75, 3);
  MetricsAccumulator merged;
  for (const auto& b : {rank0.to_bytes(), rank1.to_bytes()}) {
    merged.merge(MetricsAccumulator::from_bytes(b, 0.5));
  }
  EXPECT_EQ(merged.predictions().scores, all.predictions().scores);
  const SplitMetrics m = merged.result(), want = all.result();
  EXPECT_EQ(m.cm.tp, want.cm.tp);
  EXPECT_EQ(m.cm.fp, want.cm.fp);
  EXPECT_DOUBLE_EQ(m.loss, want.loss);
  EXPECT_DOUBLE_EQ(m.auc, want.auc);
}

TEST(MetricsAccumulatorBytes, TruncatedBytesAreRefused) {
  MetricsAccumulator a;
  a.add(std::vector<std::int8_t>{1}, std::vector<float>{0.5f}, 0.0, 0);
  std::string bytes = a.to_bytes();
  EXPECT_THROW(MetricsAccumulator::from_bytes(bytes.substr(0, bytes.size() - 1), 0.5),
               std::invalid_argument);
  EXPECT_THROW(MetricsAccumulator::from_bytes("short", 0.5), std::invalid_argument);
  EXPECT_EQ(MetricsAccumulator::from_bytes(bytes.substr(0, 16), 0.5).predictions().size(), 0u);
}

}  // namespace
}  // namespace mammosweep::results
